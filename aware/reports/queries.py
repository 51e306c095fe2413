"""The SQL behind the municipality report: a fixed handful of aggregate queries.

Each function runs one statement (GROUP BY, COUNT, SUM(CASE ...), window functions) and returns
its few result rows; none reads case or alarm rows into Python, and none runs once per
municipality. Portable between SQLite (>= 3.25, window functions) and PostgreSQL: the only
dialect-specific piece is the difference of two timestamps (`_days`). Definitions are in
`aware.reports.service`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    String,
    and_,
    case,
    exists,
    extract,
    func,
    literal,
    not_,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from aware.alarms.figures import LIMITS_S, NOT_CALLS
from aware.alarms.models import Alarm
from aware.coordination.allocation_models import Allocation, AllocationDecision
from aware.coordination.reference_models import Municipality, Organisation
from aware.risk.models import Ban, Case

VIOLATIONS = ("zone_violation", "proximity_violation")
# Comparisons of seconds allow 1 ms for SQLite's julianday arithmetic (double precision days).
EPSILON_S = 0.001
# Free-text refusal reasons are shown only when at least this many decisions used the very
# same text (a standard phrase); rarer texts may describe a person and are grouped as other.
REASON_MIN_USES = 5
OTHER_REASON = "(other reason; free text not shown)"
NO_REASON = "(no reason recorded)"


@dataclass(frozen=True)
class Window:
    """The report's scope: municipalities and the period as UTC instants."""

    municipalities: tuple[str, ...]
    start: dt.datetime  # first instant of the first local day
    end: dt.datetime  # first instant after the last local day (exclusive)
    as_of: dt.datetime  # state "at the end of the period": min(end, now)
    now: dt.datetime


def _days(later: Any, earlier: Any, dialect: str) -> ColumnElement[float]:
    """`later - earlier` in days, as a float, in SQL."""
    if dialect == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)).cast(Float)
    return (extract("epoch", later - earlier) / 86400.0).cast(Float)


def _in_scope(w: Window) -> ColumnElement[bool]:
    return Case.municipality_code.in_(w.municipalities)


def _high_concern(w: Window) -> ColumnElement[bool]:
    """Current concern high, and the case existed and was not ended at some point in the period
    (an ended case's last change is its ending or later)."""
    return and_(
        _in_scope(w),
        Case.concern == "high",
        Case.created_at < w.end,
        or_(Case.status != "ended", Case.updated_at >= w.start),
    )


def _device_active_in_period(w: Window) -> ColumnElement[bool]:
    return exists().where(
        Allocation.case_id == Case.id,
        Allocation.connected_at.is_not(None),
        Allocation.connected_at < w.end,
        or_(Allocation.ended_at.is_(None), Allocation.ended_at >= w.start),
    )


def _waiting_at_end(w: Window) -> ColumnElement[bool]:
    later = AllocationDecision.__table__.alias("later")
    return exists().where(
        Allocation.case_id == Case.id,
        AllocationDecision.allocation_id == Allocation.id,
        AllocationDecision.outcome == "waiting_list",
        AllocationDecision.decided_at < w.as_of,
        not_(
            exists().where(
                later.c.allocation_id == Allocation.id,
                later.c.outcome.in_(("granted", "refused")),
                later.c.decided_at < w.as_of,
            )
        ),
    )


def _refused_in_period(w: Window) -> ColumnElement[bool]:
    return exists().where(
        Allocation.case_id == Case.id,
        AllocationDecision.allocation_id == Allocation.id,
        AllocationDecision.outcome == "refused",
        AllocationDecision.decided_at >= w.start,
        AllocationDecision.decided_at < w.end,
    )


def _applied_before_end(w: Window) -> ColumnElement[bool]:
    return exists().where(Allocation.case_id == Case.id, Allocation.applied_at < w.end)


def _flag(cond: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def victims_by_municipality(s: Session, w: Window) -> dict[str, dict[str, int]]:
    """High-concern victims per municipality and what happened to them."""
    stmt = (
        select(
            Case.municipality_code,
            func.count().label("high_concern"),
            _flag(_device_active_in_period(w)).label("with_active_device"),
            _flag(_waiting_at_end(w)).label("waiting"),
            _flag(_refused_in_period(w)).label("refused"),
            _flag(not_(_applied_before_end(w))).label("never_applied"),
        )
        .where(_high_concern(w))
        .group_by(Case.municipality_code)
    )
    return {
        row[0]: {
            "high_concern": int(row[1]),
            "with_active_device": int(row[2]),
            "waiting": int(row[3]),
            "refused": int(row[4]),
            "never_applied": int(row[5]),
        }
        for row in s.execute(stmt)
    }


def refused_by_reason(s: Session, w: Window) -> dict[str, int]:
    """Refusals in the period of high-concern victims, by the reason text when it is a
    standard phrase (used at least REASON_MIN_USES times), otherwise grouped as other."""
    reason = func.trim(AllocationDecision.reasons)
    per_text = (
        select(reason.label("reason"), func.count().label("n"))
        .select_from(AllocationDecision)
        .join(Allocation, Allocation.id == AllocationDecision.allocation_id)
        .join(Case, Case.id == Allocation.case_id)
        .where(
            _high_concern(w),
            AllocationDecision.outcome == "refused",
            AllocationDecision.decided_at >= w.start,
            AllocationDecision.decided_at < w.end,
        )
        .group_by(reason)
        .subquery()
    )
    label = case(
        (or_(per_text.c.reason.is_(None), per_text.c.reason == ""), literal(NO_REASON)),
        (per_text.c.n >= REASON_MIN_USES, per_text.c.reason),
        else_=literal(OTHER_REASON),
    )
    stmt = select(label, func.sum(per_text.c.n)).group_by(label).order_by(label)
    return {str(row[0]): int(row[1]) for row in s.execute(stmt)}


def lead_times(s: Session, w: Window, dialect: str) -> dict[str, dict[str, Any]]:
    """n, median and p90 (linear interpolation, like PostgreSQL's percentile_cont) in days,
    for applications made in the period, with window functions."""
    applied = and_(
        _in_scope(w),
        Allocation.applied_at >= w.start,
        Allocation.applied_at < w.end,
    )
    parts = [
        select(
            literal("application_to_decision", String).label("metric"),
            _days(Allocation.decided_at, Allocation.applied_at, dialect).label("v"),
        )
        .join(Case, Case.id == Allocation.case_id)
        .where(applied, Allocation.decided_at.is_not(None)),
        select(
            literal("application_to_connection", String).label("metric"),
            _days(Allocation.connected_at, Allocation.applied_at, dialect).label("v"),
        )
        .join(Case, Case.id == Allocation.case_id)
        .where(applied, Allocation.connected_at.is_not(None)),
    ]
    values = union_all(*parts).subquery()
    ranked = select(
        values.c.metric,
        values.c.v,
        (func.row_number().over(partition_by=values.c.metric, order_by=values.c.v) - 1).label("rn"),
        func.count().over(partition_by=values.c.metric).label("n"),
    ).subquery()

    def percentile(k: int, d: int) -> ColumnElement[float]:
        # Position p*(n-1) = k*(n-1)/d split into its integer part (integer division on both
        # databases) and fraction; the value interpolates between ranks lo and lo + 1.
        lo = (k * (ranked.c.n - 1)) // d
        frac = ((k * (ranked.c.n - 1) - d * lo) * 1.0) / d
        return func.sum(
            case(
                (ranked.c.rn == lo, ranked.c.v * (1.0 - frac)),
                (ranked.c.rn == lo + 1, ranked.c.v * frac),
                else_=0.0,
            )
        )

    stmt = select(
        ranked.c.metric,
        func.max(ranked.c.n),
        percentile(1, 2),
        percentile(9, 10),
    ).group_by(ranked.c.metric)
    out: dict[str, dict[str, Any]] = {
        name: {"n": 0, "median": None, "p90": None}
        for name in ("application_to_decision", "application_to_connection")
    }
    for metric, n, median, p90 in s.execute(stmt):
        out[metric] = {"n": int(n), "median": round(float(median), 2), "p90": round(float(p90), 2)}
    return out


def allocations(s: Session, w: Window) -> dict[str, Any]:
    """Allocations started (device connected), ended and handed over in the period, and the
    endings by reason (a fixed list of reasons, no free text)."""

    def within(col: Any) -> ColumnElement[bool]:
        return and_(col.is_not(None), col >= w.start, col < w.end)

    base = select().select_from(Allocation).join(Case, Case.id == Allocation.case_id)
    totals = s.execute(
        base.add_columns(
            _flag(within(Allocation.connected_at)),
            _flag(within(Allocation.ended_at)),
            _flag(within(Allocation.handover_completed_at)),
        ).where(_in_scope(w))
    ).one()
    reason = func.coalesce(Allocation.end_reason, literal("other"))
    by_reason = s.execute(
        base.add_columns(reason, func.count())
        .where(_in_scope(w), within(Allocation.ended_at))
        .group_by(reason)
        .order_by(reason)
    ).all()
    return {
        "started": int(totals[0]),
        "ended": int(totals[1]),
        "handed_over": int(totals[2]),
        "ended_by_reason": {str(r): int(n) for r, n in by_reason},
    }


def _month_of(col: Any, months: list[tuple[str, dt.datetime]]) -> ColumnElement[str]:
    """The Europe/Amsterdam calendar month of a UTC instant, from precomputed month starts
    (portable: SQLite has no time zones). `months` holds (label, first instant) in order."""
    whens = [(col < months[i + 1][1], literal(months[i][0])) for i in range(len(months) - 1)]
    last = literal(months[-1][0])
    return case(*whens, else_=last) if whens else last


def alarms_by_month(
    s: Session, w: Window, months: list[tuple[str, dt.datetime]]
) -> list[tuple[str, str, str, str | None, int]]:
    """(municipality, month, type, outcome or None while unresolved, count) for alarms received
    in the period on cases of the municipalities."""
    month = _month_of(Alarm.received_at, months)
    outcome = case((Alarm.status == "resolved", Alarm.outcome), else_=None)
    stmt = (
        select(Case.municipality_code, month, Alarm.type, outcome, func.count())
        .select_from(Alarm)
        .join(Case, Case.id == Alarm.case_id)
        .where(_in_scope(w), Alarm.received_at >= w.start, Alarm.received_at < w.end)
        .group_by(Case.municipality_code, month, Alarm.type, outcome)
    )
    return [(str(m), str(mo), str(t), o, int(n)) for m, mo, t, o, n in s.execute(stmt)]


def acceptance(s: Session, w: Window, dialect: str) -> dict[str, int]:
    """Alarms received in the period that count (not test, not device_offline), and how many of
    them were accepted within 10 s and 40 s; one still open beyond a limit counts as late."""
    waited = _days(Alarm.acknowledged_at, Alarm.received_at, dialect) * 86400.0
    short, long = LIMITS_S

    def counted(limit: float) -> ColumnElement[bool]:
        late_open = and_(
            Alarm.acknowledged_at.is_(None),
            Alarm.received_at < w.now - dt.timedelta(seconds=limit),
        )
        return or_(Alarm.acknowledged_at.is_not(None), late_open)

    def within(limit: float) -> ColumnElement[bool]:
        return and_(Alarm.acknowledged_at.is_not(None), waited <= limit + EPSILON_S)

    row = s.execute(
        select(
            _flag(counted(short)),
            _flag(counted(long)),
            _flag(within(short)),
            _flag(within(long)),
        )
        .select_from(Alarm)
        .join(Case, Case.id == Alarm.case_id)
        .where(
            _in_scope(w),
            Alarm.received_at >= w.start,
            Alarm.received_at < w.end,
            Alarm.type.not_in(NOT_CALLS),
        )
    ).one()
    return {
        "counted_10s": int(row[0]),
        "counted_40s": int(row[1]),
        "within_10s": int(row[2]),
        "within_40s": int(row[3]),
    }


def applications_by_referrer(s: Session, w: Window) -> list[tuple[str, str, str, int]]:
    """(municipality, organisation type, organisation name, count) of applications made in the
    period."""
    stmt = (
        select(Case.municipality_code, Organisation.type, Organisation.name, func.count())
        .select_from(Allocation)
        .join(Case, Case.id == Allocation.case_id)
        .join(Organisation, Organisation.id == Allocation.referring_organisation_id)
        .where(_in_scope(w), Allocation.applied_at >= w.start, Allocation.applied_at < w.end)
        .group_by(Case.municipality_code, Organisation.type, Organisation.name)
    )
    return [(str(m), str(t), str(name), int(n)) for m, t, name, n in s.execute(stmt)]


def bans(s: Session, w: Window) -> dict[str, int]:
    """Bans in force at some point in the period, by kind."""
    row = s.execute(
        select(
            func.count(),
            _flag(Ban.kind == "location"),
            _flag(Ban.kind == "contact"),
        )
        .select_from(Ban)
        .join(Case, Case.id == Ban.case_id)
        .where(
            _in_scope(w),
            Ban.valid_from < w.end,
            Ban.valid_until >= w.start,
            or_(Ban.ended_at.is_(None), Ban.ended_at >= w.start),
        )
    ).one()
    return {"active": int(row[0]), "location": int(row[1]), "contact": int(row[2])}


def municipality_names(s: Session, codes: list[str]) -> dict[str, str]:
    """Names of the given municipalities (public reference data)."""
    stmt = select(Municipality.code, Municipality.name).where(Municipality.code.in_(codes))
    return {str(c): str(n) for c, n in s.execute(stmt)}


def region_members(s: Session, centrumgemeente: str) -> list[str]:
    """Codes of the municipalities in a centrumgemeente's region (itself included)."""
    stmt = (
        select(Municipality.code)
        .where(
            or_(
                Municipality.centrumgemeente_code == centrumgemeente,
                Municipality.code == centrumgemeente,
            )
        )
        .order_by(Municipality.code)
    )
    return [str(c) for c in s.scalars(stmt)]
