"""Report endpoints for municipality reviewers and admins (aggregates only, audited)."""

from __future__ import annotations

from flask import Blueprint, Response, g

from aware.api import ApiError, parse_query, registry
from aware.auth.access import roles_required
from aware.reports import access
from aware.reports.schemas import AllocationReportOut, ReportQuery
from aware.state import db, now

api = Blueprint("reports_api", __name__, url_prefix="/api/v1")


@api.errorhandler(access.ReportRefused)
def _refused(exc: access.ReportRefused):  # type: ignore[no-untyped-def]
    db().rollback()  # nothing of a refused request is kept (no audit entry either)
    codes = {403: "forbidden", 422: "invalid_field"}
    fields = {exc.field: exc.message} if exc.field else {}
    return ApiError(exc.status, codes.get(exc.status, "error"), exc.message, fields).response()


@registry.route(
    api,
    "/reports/allocation",
    "GET",
    summary=(
        "Municipality review: AWARE allocation figures for a municipality (or a "
        "centrumgemeente's region) and a period of local dates; aggregates only, counts 1-4 "
        'shown as "<5", every view written to the audit log; ?format=csv gives text/csv'
    ),
    tag="reports",
    roles=access.REVIEW_ROLES,
    query=ReportQuery,
    responses={
        200: ("figures (JSON; text/csv with format=csv)", AllocationReportOut),
        403: ("another municipality, or a region not the reviewer's own", None),
    },
)
@roles_required(*access.REVIEW_ROLES)
def allocation_report():  # type: ignore[no-untyped-def]
    q = parse_query(ReportQuery)
    if (q.municipality is None) == (q.region is None):
        raise access.ReportRefused(422, "give either municipality or region", "municipality")
    code = q.municipality or q.region or ""
    out = access.view_report(
        db(), g.user, code, q.region is not None, q.from_, q.to, now(), q.format
    )
    if q.format == "csv":
        name = f"aware-report-{code}-{q.from_}-{q.to}.csv"
        return Response(
            out,
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return out
