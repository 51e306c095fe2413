"""Risk decisions as plain functions: re-assessment dates and eligibility."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

# Practice (configurable): re-assess high concern within a week, moderate within a month,
# low within a quarter (cf. VioGén's 7/30/60 days for high/medium/low).
DEFAULT_REASSESS_DAYS: Mapping[str, int] = {"high": 7, "moderate": 30, "low": 90}
# Art. 509hh Sv: a behavioural order runs at most 90 days (extension possible).
BEHAVIOURAL_ORDER_MAX_DAYS = 90


def reassess_due(
    concern: str, assessed_at: dt.datetime, days: Mapping[str, int] = DEFAULT_REASSESS_DAYS
) -> dt.datetime:
    """When the next screening is due after one with this concern level."""
    return assessed_at + dt.timedelta(days=days[concern])


def eligible_for_aware(concern: str) -> bool:
    """High concern makes a case eligible for an AWARE alarm."""
    return concern == "high"


def ban_warnings(legal_basis: str, valid_from: dt.datetime, valid_until: dt.datetime) -> list[str]:
    """Warnings (not errors) about a ban's terms."""
    warnings = []
    days = (valid_until - valid_from).total_seconds() / 86400
    if "509hh" in legal_basis.replace(" ", "").lower() and days > BEHAVIOURAL_ORDER_MAX_DAYS:
        warnings.append(
            f"a behavioural order (509hh Sv) runs at most {BEHAVIOURAL_ORDER_MAX_DAYS} days; "
            f"this one runs {days:.0f} days"
        )
    return warnings
