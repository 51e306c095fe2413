"""The audit log for admins: GET /api/v1/audit (JSON, or CSV with format=csv).

Reading the log is itself written to the log ("audit.read", or "export" for CSV), in the same
commit as nothing else: a refused request (401, 403, 422) reads and writes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, g
from pydantic import BaseModel, Field, ValidationError

from aware.api import ApiError, parse_query, registry, validation_fields
from aware.audit import services
from aware.auth.access import roles_required
from aware.state import db, now

api = Blueprint("audit_api", __name__, url_prefix="/api/v1")
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
ADMIN = ("admin",)
MAX_LIMIT = 10000


class AuditQuery(BaseModel):
    user: str | None = Field(
        default=None, min_length=1, max_length=64, description="username, or a user id"
    )
    case: int | None = Field(
        default=None,
        ge=1,
        description="case id: entries about this case, including lists and console snapshots "
        "that showed it",
    )
    action: str | None = Field(
        default=None,
        pattern=r"^[a-z_.]{1,63}\*?$",
        description="e.g. case.read, alarm.read, console.snapshot, report.view, export; a "
        'trailing * matches a prefix ("case.*")',
    )
    from_: str | None = Field(
        default=None,
        alias="from",
        description="RFC 3339 time with offset, or a local date (Europe/Amsterdam, from its start)",
    )
    to: str | None = Field(
        default=None,
        description="RFC 3339 time with offset (exclusive), or a local date (inclusive)",
    )
    limit: int = Field(default=100, ge=1, le=MAX_LIMIT, description="newest first")
    format: Literal["json", "csv"] = Field(default="json", description="csv: text/csv")


class AuditEntryOut(BaseModel):
    id: int
    at: dt.datetime
    user_id: int | None = Field(description="None for the service itself (retention)")
    username: str
    role: str
    action: str
    object_type: str
    object_id: str | None
    case_id: int | None
    case_ids: list[int] = Field(description="the cases of a multi-case read (lists, snapshots)")
    purpose: str
    detail: dict[str, Any] | None = Field(description="ids, counts and filters; no personal data")


class AuditListOut(BaseModel):
    entries: list[AuditEntryOut]
    truncated: bool = Field(description="more entries match than `limit`")


class FilterInvalid(ValueError):
    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


def _moment(raw: str, field: str, end: bool) -> dt.datetime:
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        pass
    else:
        if end:
            day += dt.timedelta(days=1)
        return dt.datetime.combine(day, dt.time(), AMSTERDAM).astimezone(dt.UTC)
    try:
        at = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise FilterInvalid({field: "expected a date (YYYY-MM-DD) or an RFC 3339 time"}) from None
    if at.tzinfo is None:
        raise FilterInvalid({field: "an RFC 3339 time needs its offset (e.g. +01:00 or Z)"})
    return at.astimezone(dt.UTC)


def to_filter(q: AuditQuery) -> services.AuditFilter:
    """The checked query as a filter; FilterInvalid naming the parameter."""
    start = _moment(q.from_, "from", end=False) if q.from_ else None
    end = _moment(q.to, "to", end=True) if q.to else None
    if start is not None and end is not None and end <= start:
        raise FilterInvalid({"to": "must be after from"})
    return services.AuditFilter(
        user=q.user, case_id=q.case, action=q.action, start=start, end=end, limit=q.limit
    )


def parse_args(args: Mapping[str, str]) -> tuple[services.AuditFilter, str]:
    """Filter and format from query arguments (the page's form); FilterInvalid naming fields."""
    cleaned = {k: v for k, v in args.items() if v != ""}
    try:
        q = AuditQuery.model_validate(cleaned)
    except ValidationError as exc:
        raise FilterInvalid(validation_fields(exc)) from None
    return to_filter(q), q.format


def csv_response(entries: list[dict[str, Any]]) -> Response:
    stamp = now().strftime("%Y%m%dT%H%M%SZ")
    return Response(
        services.to_csv(entries),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="aware-audit-{stamp}.csv"'},
    )


@registry.route(
    api,
    "/audit",
    "GET",
    summary="The audit log of personal-data reads and changes (admins; reading it is audited "
    "too); ?format=csv gives text/csv",
    tag="audit",
    roles=ADMIN,
    query=AuditQuery,
    responses={200: ("entries, newest first (text/csv with format=csv)", AuditListOut)},
)
@roles_required(*ADMIN)
def audit_log():  # type: ignore[no-untyped-def]
    q = parse_query(AuditQuery)
    try:
        f = to_filter(q)
    except FilterInvalid as exc:
        raise ApiError(
            422, "invalid_field", "one or more parameters are invalid", exc.fields
        ) from None
    page = services.read_log(db(), g.user, f, q.format, at=now())
    if q.format == "csv":
        return csv_response(page.entries)
    return {"entries": page.entries, "truncated": page.truncated}
