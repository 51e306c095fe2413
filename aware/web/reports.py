"""The municipality dashboard: the allocation report as charts and tables, CSV export, print.

Figures only (the report never carries names, addresses, phone numbers or case references,
and counts from 1 to 4 are "<5"); a municipality user sees their own municipality, a
centrumgemeente also its region; every view is written to the audit log by the report service.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_babel import gettext as _

from aware.alarms.figures import AMSTERDAM
from aware.auth.access import page_user
from aware.state import db, now
from aware.web import strings

reports_web = Blueprint("reports_web", __name__)
ROLES = ("municipality", "admin")


def _period() -> tuple[dt.date, dt.date]:
    today = now().astimezone(AMSTERDAM).date()  # the reviewer's calendar, not UTC's
    try:
        end = dt.date.fromisoformat(request.args.get("to") or today.isoformat())
        start = dt.date.fromisoformat(
            request.args.get("from") or (end - dt.timedelta(days=364)).isoformat()
        )
    except ValueError:
        abort(400)
    return start, end


def _rows(report: dict[str, Any]) -> dict[str, list[list[Any]]]:
    types = strings.alarm_type_names()
    outcomes = strings.outcome_names()
    return {
        "alarms": [
            [
                r["month"],
                types.get(r["type"], r["type"]),
                outcomes.get(r["outcome"], r["outcome"]) if r["outcome"] else _("not resolved"),
                r["count"],
            ]
            for r in report.get("alarms_by_month", [])
        ],
        "referrers": [
            [r["organisation_type"], r["organisation"], r["count"]]
            for r in report.get("applications_by_referrer", [])
        ],
        "comparison": [
            [
                r.get("name") or r["municipality"],
                r["high_concern"],
                r["with_active_device"],
                r["waiting"],
                r["applications"],
                r["alarms"],
            ]
            for r in report.get("comparison", [])
        ],
    }


def chart_strings() -> dict[str, Any]:
    return {
        "types": strings.alarm_type_names(),
        "victims": _("Victims"),
        "high_concern": _("high concern"),
        "with_active_device": _("with an active device"),
        "waiting": _("waiting list"),
        "refused": _("refused"),
        "never_applied": _("never applied"),
        "within10": _("within 10 s"),
        "within40": _("within 40 s"),
        "share": _("accepted (%)"),
        "target": _("BS 8484 target (%)"),
    }


@reports_web.get("/reports")
def dashboard():  # type: ignore[no-untyped-def]
    from aware.reports import access

    user = page_user(*ROLES)
    start, end = _period()
    code = request.args.get("municipality") or user.municipality_code or None
    region = request.args.get("region") == "1"
    filters = {"municipality": code, "region": region, "from": start, "to": end}
    report = None
    error = None
    names: list[str] = []
    if code:
        try:
            report = access.view_report(db(), user, code, region, start, end, now(), "html")
        except access.ReportRefused as exc:
            db().rollback()
            if exc.status == 403:
                abort(403)
            error = exc.message
        if report is not None:
            names = [f"{r.get('name') or r['municipality']}" for r in report.get("comparison", [])]
    page = render_template(
        "reports.html",
        user=user,
        report=report,
        rows=_rows(report) if report else {},
        names=names or [code or ""],
        error=error,
        filters=filters,
        may_region=access.may_view_region(db(), user, code) if code else False,
        chart_strings=chart_strings(),
        csv_url=_csv_url(code, region, start, end),
    )
    return page


def _csv_url(code: str | None, region: bool, start: dt.date, end: dt.date) -> str:
    args: dict[str, Any] = {"municipality": code, "from": start.isoformat(), "to": end.isoformat()}
    if region:
        args["region"] = "1"
    return url_for("reports_web.export", **args)


@reports_web.get("/reports/export.csv")
def export():  # type: ignore[no-untyped-def]
    from aware.reports import access

    user = page_user(*ROLES)
    start, end = _period()
    code = request.args.get("municipality") or user.municipality_code
    if not code:
        abort(400)
    region = request.args.get("region") == "1"
    try:
        text = access.view_report(db(), user, code, region, start, end, now(), "csv")
    except access.ReportRefused as exc:
        db().rollback()
        abort(exc.status)
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="aware-{code}-{start}-{end}.csv"'},
    )
