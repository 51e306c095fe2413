"""Who may see which report: the one place the API and the dashboard pages ask.

- admin: any municipality, and any centrumgemeente's region;
- municipality reviewer: their own municipality only; a reviewer of a centrumgemeente
  (Municipality.centrumgemeente_code == own code) also its whole region;
- every other role: nothing (the views already refuse them).
Unknown municipality, or a region asked of a municipality that is no centrumgemeente: 422.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from aware.auth.models import User
from aware.coordination.reference_models import Municipality
from aware.reports import queries, service
from aware.reports.service import ReportRefused

__all__ = ["ReportRefused", "may_view_region", "scope", "view_report"]
REVIEW_ROLES = ("municipality", "admin")


def _is_centre(muni: Municipality | None) -> bool:
    return muni is not None and muni.centrumgemeente_code == muni.code


def may_view_region(session: Session, user: User, code: str) -> bool:
    """Whether `user` may ask for the region of `code` (a centrumgemeente)."""
    if not _is_centre(session.get(Municipality, code)):
        return False
    return user.role == "admin" or (user.role == "municipality" and user.municipality_code == code)


def scope(session: Session, user: User, code: str, region: bool) -> list[str]:
    """The municipalities of the report: [code], or the region's members; 422 or 403."""
    field = "region" if region else "municipality"
    muni = session.get(Municipality, code)
    if muni is None:
        raise ReportRefused(422, f"unknown CBS municipality code {code!r}", field)
    if user.role not in REVIEW_ROLES:
        raise ReportRefused(403, f"role {user.role} may not see reports")
    if not region:
        if user.role != "admin" and user.municipality_code != code:
            raise ReportRefused(403, "a reviewer sees their own municipality only")
        return [code]
    if not _is_centre(muni):
        raise ReportRefused(422, f"{code} is not a centrumgemeente", field)
    if not may_view_region(session, user, code):
        raise ReportRefused(403, "only a reviewer of the centrumgemeente sees its region")
    return queries.region_members(session, code)


def view_report(
    session: Session,
    user: User,
    code: str,
    region: bool,
    start: dt.date,
    end: dt.date,
    now: dt.datetime,
    fmt: str = "json",
) -> Any:
    """Checked, suppressed and audited report: a dict, or CSV text for fmt "csv"."""
    service.check_period(start, end)
    codes = scope(session, user, code, region)
    report = service.view_report(
        session, user, codes, start, end, now, fmt=fmt, region=code if region else None
    )
    return service.to_csv(report) if fmt == "csv" else report
