"""The admin page of the audit log: /admin/audit with the API's filters and a CSV link.

Its texts live here (Dutch and English) rather than in the shared catalog.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request, url_for
from flask_babel import get_locale

from aware.audit import services
from aware.audit.views import FilterInvalid, csv_response, parse_args
from aware.auth.access import page_user
from aware.state import db, now

audit_web = Blueprint("audit_web", __name__, url_prefix="/admin")
FILTERS = ("user", "case", "action", "from", "to", "limit")

TEXTS = {
    "nl": {
        "title": "Auditlog",
        "intro": "Wie heeft wanneer welke persoonsgegevens ingezien of gewijzigd, en waarvoor. "
        "Het inzien van dit log wordt zelf ook vastgelegd.",
        "user": "Gebruiker",
        "case": "Casus",
        "action": "Handeling",
        "from": "Van",
        "to": "Tot en met",
        "limit": "Maximaal",
        "filter": "Filteren",
        "csv": "Exporteren (CSV)",
        "at": "Tijdstip",
        "role": "Rol",
        "object": "Object",
        "purpose": "Doel",
        "detail": "Details",
        "none": "Geen regels voor dit filter.",
        "truncated": "Er zijn meer regels: verfijn het filter of verhoog het maximum.",
        "invalid": "Filter ongeldig",
    },
    "en": {
        "title": "Audit log",
        "intro": "Who read or changed which personal data, when, and for what purpose. "
        "Reading this log is recorded too.",
        "user": "User",
        "case": "Case",
        "action": "Action",
        "from": "From",
        "to": "To (inclusive)",
        "limit": "At most",
        "filter": "Filter",
        "csv": "Export (CSV)",
        "at": "Time",
        "role": "Role",
        "object": "Object",
        "purpose": "Purpose",
        "detail": "Details",
        "none": "No entries for this filter.",
        "truncated": "More entries match: narrow the filter or raise the limit.",
        "invalid": "Invalid filter",
    },
}


def _texts() -> dict[str, str]:
    return TEXTS.get(str(get_locale()), TEXTS["nl"])


@audit_web.get("/audit")
def audit_page():  # type: ignore[no-untyped-def]
    user = page_user("admin")
    values = {k: request.args.get(k, "") for k in FILTERS}
    args: dict[str, Any] = {k: v for k, v in values.items() if v}
    entries: list[dict[str, Any]] = []
    truncated = False
    errors: dict[str, str] = {}
    try:
        f, _fmt = parse_args(args)
        page = services.read_log(db(), user, f, "html", at=now())
        entries, truncated = page.entries, page.truncated
    except FilterInvalid as exc:
        db().rollback()
        errors = exc.fields
    html = render_template(
        "admin_audit.html",
        user=user,
        t=_texts(),
        values=values,
        entries=entries,
        truncated=truncated,
        errors=errors,
        csv_url=url_for("audit_web.audit_csv", **args),
    )
    return html, 422 if errors else 200


@audit_web.get("/audit.csv")
def audit_csv():  # type: ignore[no-untyped-def]
    user = page_user("admin")
    try:
        f, _fmt = parse_args({k: v for k in FILTERS if (v := request.args.get(k, ""))})
    except FilterInvalid as exc:
        return {"error": {"code": "invalid_field", "message": str(exc), "fields": exc.fields}}, 422
    page = services.read_log(db(), user, f, "csv", at=now())
    return csv_response(page.entries)
