"""Meeting use cases: series, occurrences, urgent proposals, agendas and minutes.

Each public function is one use case and commits at most once. Times are UTC in the database
and Europe/Amsterdam on the wall (see `recurrence`).

Occurrences are rows: a new series gets its meetings from the start (or from yesterday, for a
series whose first meeting has passed) up to a year ahead, and a later range is added when it
is asked for (`list_meetings`), under a lock on the series row so two requests never make an
occurrence twice (the unique (series_id, slot_at) would refuse it anyway).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aware.alarms.models import Alarm
from aware.coordination import allocation, recurrence
from aware.coordination.meeting_models import (
    Meeting,
    MeetingAction,
    MeetingCase,
    MeetingCursor,
    MeetingMinutes,
    MeetingSeries,
    MeetingTrigger,
)
from aware.coordination.meeting_schemas import MinutesIn, SeriesCreate
from aware.coordination.reference_models import (
    ORGANISATION_TYPES,
    ContactPerson,
    Municipality,
    Organisation,
)
from aware.risk.models import Assessment, Case, CaseAction
from aware.scheduler.casework import REASSESSMENT_DUE

log = logging.getLogger(__name__)

HORIZON = dt.timedelta(days=366)
# The furthest ahead a range may reach (a lazily extended daily series stays bounded).
MAX_AHEAD = dt.timedelta(days=5 * 366)
MAX_RANGE = dt.timedelta(days=400)
URGENT_WITHIN = dt.timedelta(hours=48)
URGENT_DURATION = dt.timedelta(minutes=60)
URGENT_TITLE = "Spoedoverleg AWARE"
URGENT_ORGANISATIONS = ["police", "vrouwenopvang", "veilig_thuis"]
# Overlap between two scans: a trigger committed late with an earlier timestamp is still seen.
SCAN_OVERLAP = dt.timedelta(minutes=15)
FIRST_SCAN_BACK = dt.timedelta(hours=48)
MAX_SCAN_BACK = dt.timedelta(days=14)
NEW_CASE_WINDOW = dt.timedelta(days=28)
VIOLATIONS = ("zone_violation", "proximity_violation")
LIVE = ("scheduled", "proposed", "confirmed")
MEETING_ACTION_KIND = "meeting_action"

GROUPS = {
    "confidentiality": 0,
    "open_action": 1,
    "urgent": 2,
    "new_high_risk": 2,
    "application": 2,
    "reassessment": 3,
    "review": 3,
    "extension": 3,
    "ending": 4,
    "handover": 4,
}
# Reminder actions that the agenda already shows as items of their own (reviews, term ends,
# handovers, re-assessments): listed once, in their own section, not again as open actions.
SHOWN_AS_ITEMS = (
    allocation.REVIEW_ACTION,
    allocation.TERM_END_ACTION,
    allocation.HANDOVER_ACTION,
    REASSESSMENT_DUE,
)
# Never on an agenda, whatever a source hands over.
_PERSONAL = ("name", "phone", "address", "email", "home", "lat", "lon")


class MeetingError(Exception):
    """A use case refused; `field` names the offending input, `status` the HTTP answer."""

    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        fields: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = dict(fields or {})
        if field:
            self.fields.setdefault(field, message)


# --- series and occurrences ---------------------------------------------------------------


def check_municipality(session: Session, code: str, field: str = "municipality") -> Municipality:
    """The municipality of a CBS code; 422 naming `field` when unknown or merged away."""
    muni = session.get(Municipality, code)
    if muni is None:
        raise MeetingError(422, f"unknown CBS municipality code {code}", field)
    if not muni.active:
        raise MeetingError(422, f"municipality {code} no longer exists (merged)", field)
    return muni


def region_members(session: Session, code: str) -> list[str]:
    """The municipality and every municipality whose centrumgemeente it is."""
    others = session.scalars(
        select(Municipality.code).where(Municipality.centrumgemeente_code == code)
    )
    return sorted({code, *others})


def series_rule(series: MeetingSeries) -> recurrence.Rule:
    start = dt.datetime.fromisoformat(series.start_local)
    return recurrence.parse_rule(series.rrule, start)


def create_series(
    session: Session, body: SeriesCreate, now: dt.datetime, actor: str
) -> tuple[MeetingSeries, int]:
    """Register a recurring meeting and create its occurrences for the coming year."""
    try:
        start = recurrence.parse_local(body.start_local)
        rule = recurrence.parse_rule(body.rrule, start)
        recurrence.check_no_overlap(rule, dt.timedelta(minutes=body.duration_min))
    except recurrence.RecurrenceError as exc:
        raise MeetingError(422, exc.message, exc.field) from None
    check_municipality(session, body.municipality)
    if body.region and region_members(session, body.municipality) == [body.municipality]:
        raise MeetingError(
            422, f"{body.municipality} is not the centrumgemeente of a region", "region"
        )
    first = recurrence.to_utc(start)
    until = max(now, first) + HORIZON
    series = MeetingSeries(
        municipality_code=body.municipality,
        region=body.region,
        title=body.title,
        rrule=rule.text,
        start_local=start.isoformat(),
        duration_min=body.duration_min,
        organisations=list(body.organisations),
        materialized_until=until,
        created_at=now,
        created_by=actor,
    )
    session.add(series)
    session.flush()
    made = _materialize(session, series, rule, max(first, now - dt.timedelta(days=1)), until, now)
    session.commit()
    return series, made


def _materialize(
    session: Session,
    series: MeetingSeries,
    rule: recurrence.Rule,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
) -> int:
    length = dt.timedelta(minutes=series.duration_min)
    made = 0
    for _local, at in recurrence.occurrences(rule, start, end):
        session.add(
            Meeting(
                series_id=series.id,
                municipality_code=series.municipality_code,
                region=series.region,
                title=series.title,
                slot_at=at,
                starts_at=at,
                ends_at=at + length,
                urgent=False,
                status="scheduled",
                organisations=list(series.organisations),
                sequence=0,
                created_at=now,
                updated_at=now,
            )
        )
        made += 1
    return made


def _extend(
    session: Session, series_ids: Sequence[int], until: dt.datetime, now: dt.datetime
) -> int:
    """Create the occurrences of these series up to `until` (locking each series row)."""
    made = 0
    for sid in series_ids:
        series = session.scalars(
            select(MeetingSeries).where(MeetingSeries.id == sid).with_for_update()
        ).one()
        if series.materialized_until >= until:
            continue
        made += _materialize(
            session, series, series_rule(series), series.materialized_until, until, now
        )
        series.materialized_until = until
    return made


def covering(session: Session, code: str) -> Any:
    """SQL condition: meetings of this municipality or of its region."""
    muni = session.get(Municipality, code)
    centre = muni.centrumgemeente_code if muni is not None else None
    cond = Meeting.municipality_code == code
    if centre and centre != code:
        cond = or_(cond, and_(Meeting.municipality_code == centre, Meeting.region.is_(True)))
    return cond


def local_day_start(day: dt.date) -> dt.datetime:
    return recurrence.to_utc(dt.datetime(day.year, day.month, day.day))


def list_meetings(
    session: Session,
    municipality: str | None,
    first_day: dt.date | None,
    last_day: dt.date | None,
    urgent: bool | None,
    now: dt.datetime,
) -> list[Meeting]:
    """Meetings starting on the local days first_day..last_day (inclusive), extending series
    that have not been materialized that far yet."""
    today = recurrence.to_local(now).date()
    first_day = first_day or today
    last_day = last_day or (first_day + dt.timedelta(days=27))
    if last_day < first_day:
        raise MeetingError(422, "to is before from", "to")
    start = local_day_start(first_day)
    end = local_day_start(last_day + dt.timedelta(days=1))
    if end - start > MAX_RANGE:
        raise MeetingError(422, "at most 400 days at a time", "to")
    if end > now + MAX_AHEAD:
        raise MeetingError(422, "at most five years ahead", "to")
    if municipality is not None:
        check_municipality(session, municipality)
    stale = select(MeetingSeries.id).where(MeetingSeries.materialized_until < end)
    if municipality is not None:
        muni = session.get(Municipality, municipality)
        codes = {municipality}
        if muni is not None and muni.centrumgemeente_code:
            codes.add(muni.centrumgemeente_code)
        stale = stale.where(MeetingSeries.municipality_code.in_(codes))
    to_extend = list(session.scalars(stale.order_by(MeetingSeries.id)))
    if to_extend:
        _extend(session, to_extend, end, now)
        session.commit()
    query = select(Meeting).where(Meeting.starts_at >= start, Meeting.starts_at < end)
    if municipality is not None:
        query = query.where(covering(session, municipality))
    if urgent is not None:
        query = query.where(Meeting.urgent.is_(urgent))
    return list(session.scalars(query.order_by(Meeting.starts_at, Meeting.id)))


def get_meeting(session: Session, meeting_id: int) -> Meeting:
    meeting = session.get(Meeting, meeting_id)
    if meeting is None:
        raise MeetingError(404, f"no meeting {meeting_id}")
    return meeting


def get_series(session: Session, series_id: int) -> MeetingSeries:
    series = session.get(MeetingSeries, series_id)
    if series is None:
        raise MeetingError(404, f"no meeting series {series_id}")
    return series


def series_meetings(session: Session, series_id: int) -> list[Meeting]:
    return list(
        session.scalars(
            select(Meeting).where(Meeting.series_id == series_id).order_by(Meeting.slot_at)
        )
    )


def has_minutes(session: Session, meeting_ids: Sequence[int]) -> set[int]:
    if not meeting_ids:
        return set()
    return set(
        session.scalars(
            select(MeetingMinutes.meeting_id).where(
                MeetingMinutes.meeting_id.in_(list(meeting_ids))
            )
        )
    )


def _changeable(session: Session, meeting: Meeting) -> None:
    if meeting.status == "cancelled":
        raise MeetingError(409, "the meeting is cancelled")
    if session.get(MeetingMinutes, meeting.id) is not None:
        raise MeetingError(409, "the meeting has minutes; it took place")


def move_meeting(
    session: Session,
    meeting_id: int,
    start_local: str,
    duration_min: int | None,
    now: dt.datetime,
) -> Meeting:
    """Move one meeting (an occurrence keeps its place in the series as its RECURRENCE-ID)."""
    meeting = get_meeting(session, meeting_id)
    try:
        start = recurrence.to_utc(recurrence.parse_local(start_local))
    except recurrence.RecurrenceError as exc:
        raise MeetingError(422, exc.message, exc.field) from None
    if start < now:
        raise MeetingError(422, "a meeting cannot be moved into the past", "start_local")
    _changeable(session, meeting)
    length = (
        dt.timedelta(minutes=duration_min)
        if duration_min is not None
        else meeting.ends_at - meeting.starts_at
    )
    meeting.starts_at, meeting.ends_at = start, start + length
    meeting.sequence += 1
    meeting.updated_at = now
    session.commit()
    return meeting


def cancel_meeting(
    session: Session, meeting_id: int, reason: str, actor: str, now: dt.datetime
) -> Meeting:
    """Cancel one meeting (the rest of its series stays)."""
    meeting = get_meeting(session, meeting_id)
    _changeable(session, meeting)
    meeting.status = "cancelled"
    meeting.cancelled_at, meeting.cancelled_by, meeting.cancel_reason = now, actor, reason
    meeting.sequence += 1
    meeting.updated_at = now
    session.commit()
    return meeting


def confirm_meeting(session: Session, meeting_id: int, actor: str, now: dt.datetime) -> Meeting:
    """A coordinator confirms a proposed urgent meeting."""
    meeting = get_meeting(session, meeting_id)
    if meeting.status != "proposed":
        raise MeetingError(
            409, f"only a proposed meeting can be confirmed; this one is {meeting.status}"
        )
    meeting.status = "confirmed"
    meeting.confirmed_at, meeting.confirmed_by = now, actor
    meeting.sequence += 1
    meeting.updated_at = now
    session.commit()
    return meeting


# --- urgent meetings ------------------------------------------------------------------------


def _triggers(session: Session, since: dt.datetime) -> list[tuple[str, int, str, dt.datetime]]:
    """(key, case_id, reason, occurred_at) of every trigger since `since`, oldest first."""
    found: list[tuple[str, int, str, dt.datetime]] = []
    highs = session.execute(
        select(Assessment.id, Assessment.case_id, Assessment.assessed_at, Assessment.created_at)
        .where(Assessment.concern == "high", Assessment.created_at >= since)
        .order_by(Assessment.id)
    ).all()
    for aid, case_id, assessed_at, created_at in highs:
        # "Gets high concern": the screening before this one was not high already.
        before = session.scalar(
            select(Assessment.concern)
            .where(
                Assessment.case_id == case_id,
                Assessment.id != aid,
                or_(
                    Assessment.assessed_at < assessed_at,
                    and_(Assessment.assessed_at == assessed_at, Assessment.id < aid),
                ),
            )
            .order_by(Assessment.assessed_at.desc(), Assessment.id.desc())
            .limit(1)
        )
        if before != "high":
            found.append((f"assessment:{aid}", case_id, "high_concern", created_at))
    violations = session.execute(
        select(Alarm.id, Alarm.case_id, Alarm.received_at).where(
            Alarm.type.in_(VIOLATIONS), Alarm.case_id.is_not(None), Alarm.received_at >= since
        )
    ).all()
    for alarm_id, v_case, v_at in violations:
        if v_case is not None:
            found.append((f"violation:{alarm_id}", v_case, "violation_alarm", v_at))
    genuine = session.execute(
        select(Alarm.id, Alarm.case_id, Alarm.resolved_at).where(
            Alarm.outcome == "genuine",
            Alarm.case_id.is_not(None),
            Alarm.resolved_at.is_not(None),
            Alarm.resolved_at >= since,
        )
    ).all()
    for alarm_id, g_case, g_at in genuine:
        if g_case is not None and g_at is not None:
            found.append((f"genuine:{alarm_id}", g_case, "genuine_alarm", g_at))
    found.sort(key=lambda t: (t[3], t[0]))
    return found


def propose_urgent_meetings(session: Session, now: dt.datetime) -> int:
    """Scheduler job (every minute): for each new trigger since the last run (a case getting
    high concern, a zone/proximity violation alarm, an alarm resolved as genuine), put the case
    on a meeting of its municipality (or region) within 48 hours, or propose an urgent meeting
    within 48 hours (status "proposed" until a coordinator confirms it).

    Idempotent: each trigger is handled once (unique key), so reruns and overlapping scans
    change nothing. Commits once; returns how many triggers were handled.
    """
    cursor = session.get(MeetingCursor, "urgent_triggers")
    if cursor is None:
        since = now - FIRST_SCAN_BACK
    else:
        since = max(cursor.at - SCAN_OVERLAP, now - MAX_SCAN_BACK)
    triggers = _triggers(session, since)
    keys = [t[0] for t in triggers]
    done: set[str] = set()
    for chunk in range(0, len(keys), 500):
        done |= set(
            session.scalars(
                select(MeetingTrigger.key).where(MeetingTrigger.key.in_(keys[chunk : chunk + 500]))
            )
        )
    handled = 0
    for key, case_id, reason, occurred_at in triggers:
        if key in done:
            continue
        case = session.get(Case, case_id)
        if case is None:
            continue
        muni = session.get(Municipality, case.municipality_code)
        if muni is None:
            # No meeting can be chaired by an unknown municipality; retried on the next run
            # while the trigger is within the scan window.
            log.warning("urgent trigger %s: case %s has an unknown municipality", key, case_id)
            continue
        meeting = _meeting_within(session, case.municipality_code, now)
        outcome = "added"
        if meeting is None:
            starts = recurrence.urgent_slot(now)
            meeting = Meeting(
                series_id=None,
                municipality_code=case.municipality_code,
                region=False,
                title=URGENT_TITLE,
                slot_at=None,
                starts_at=starts,
                ends_at=starts + URGENT_DURATION,
                urgent=True,
                status="proposed",
                organisations=list(URGENT_ORGANISATIONS),
                sequence=0,
                created_at=now,
                updated_at=now,
            )
            session.add(meeting)
            session.flush()
            outcome = "proposed"
        exists = session.scalar(
            select(MeetingCase.id).where(
                MeetingCase.meeting_id == meeting.id, MeetingCase.case_id == case_id
            )
        )
        if exists is None:
            session.add(
                MeetingCase(meeting_id=meeting.id, case_id=case_id, reason=reason, added_at=now)
            )
        session.add(
            MeetingTrigger(
                key=key,
                case_id=case_id,
                meeting_id=meeting.id,
                outcome=outcome,
                occurred_at=occurred_at,
                handled_at=now,
            )
        )
        session.flush()
        done.add(key)
        handled += 1
    if cursor is None:
        session.add(MeetingCursor(name="urgent_triggers", at=now))
    else:
        cursor.at = max(cursor.at, now)
    try:
        session.commit()
    except IntegrityError:
        # Another proposer handled the same trigger first: nothing is lost, it is done.
        session.rollback()
        return 0
    return handled


def _meeting_within(session: Session, code: str, now: dt.datetime) -> Meeting | None:
    """The first live meeting of the municipality (or its region) in the next 48 hours."""
    return session.scalars(
        select(Meeting)
        .where(
            covering(session, code),
            Meeting.status.in_(LIVE),
            Meeting.starts_at >= now,
            Meeting.starts_at <= now + URGENT_WITHIN,
        )
        .order_by(Meeting.urgent, Meeting.starts_at, Meeting.id)
        .limit(1)
    ).first()


# --- agenda ---------------------------------------------------------------------------------


def meeting_municipalities(session: Session, meeting: Meeting) -> list[str]:
    if meeting.region:
        return region_members(session, meeting.municipality_code)
    return [meeting.municipality_code]


def _previous_start(session: Session, meeting: Meeting) -> dt.datetime:
    """Where "new since the last meeting" starts: the series' previous meeting, else 28 days."""
    if meeting.series_id is not None:
        prev = session.scalar(
            select(func.max(Meeting.starts_at)).where(
                Meeting.series_id == meeting.series_id,
                Meeting.starts_at < meeting.starts_at,
                Meeting.status != "cancelled",
            )
        )
        if prev is not None:
            return prev
    return meeting.starts_at - NEW_CASE_WINDOW


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def build_agenda(session: Session, meeting: Meeting) -> tuple[list[str], list[dict[str, Any]]]:
    """The agenda in MARAC order: (municipalities, items).

    0 confidentiality statement; 1 open actions; 2 urgent cases, new high-risk cases (since
    the series' previous meeting) and applications; 3 re-assessments, reviews and extensions
    due; 4 endings and handovers. An urgent meeting covers only the cases put on it. Items
    carry the case id, reference and concern, never the victim's name or contact details.
    Reminder actions for reviews, term ends, handovers and re-assessments are not listed again
    as open actions: they stand in their own sections.
    """
    codes = meeting_municipalities(session, meeting)
    since = _previous_start(session, meeting)
    pinned = session.execute(
        select(MeetingCase.case_id, MeetingCase.reason, MeetingCase.added_at)
        .where(MeetingCase.meeting_id == meeting.id)
        .order_by(MeetingCase.added_at, MeetingCase.id)
    ).all()
    pinned_ids = [p[0] for p in pinned]
    in_scope: Any = (
        Case.id.in_(pinned_ids)
        if meeting.urgent
        else and_(Case.municipality_code.in_(codes), Case.status != "ended")
    )
    cases: dict[int, tuple[str | None, str | None]] = {
        cid: (ref, concern)
        for cid, ref, concern in session.execute(
            select(Case.id, Case.reference, Case.concern).where(
                or_(in_scope, Case.id.in_(pinned_ids)) if pinned_ids else in_scope
            )
        ).all()
    }

    items: list[dict[str, Any]] = [
        {
            "group": 0,
            "section": "confidentiality",
            "case_id": None,
            "detail": {
                "title": "Vertrouwelijkheid: wat hier besproken wordt, blijft binnen dit overleg"
            },
        }
    ]

    def item(section: str, case_id: int, **detail: Any) -> dict[str, Any]:
        ref, concern = cases.get(case_id, (None, None))
        clean = {k: v for k, v in detail.items() if not any(p in k for p in _PERSONAL)}
        return {
            "group": GROUPS[section],
            "section": section,
            "case_id": case_id,
            "reference": ref,
            "concern": concern,
            "detail": clean,
        }

    actions = session.execute(
        select(
            CaseAction.id,
            CaseAction.case_id,
            CaseAction.kind,
            CaseAction.title,
            CaseAction.opened_at,
            MeetingAction.deadline,
            MeetingAction.owner_type,
        )
        .join(Case, Case.id == CaseAction.case_id)
        .outerjoin(MeetingAction, MeetingAction.case_action_id == CaseAction.id)
        .where(
            in_scope,
            CaseAction.done_at.is_(None),
            CaseAction.opened_at < meeting.starts_at,
            CaseAction.kind.not_in(SHOWN_AS_ITEMS),
        )
        .order_by(CaseAction.opened_at, CaseAction.id)
    ).all()
    for aid, cid, kind, title, opened_at, deadline, owner_type in actions:
        items.append(
            item(
                "open_action",
                cid,
                action_id=aid,
                kind=kind,
                title=title,
                opened_at=_iso(opened_at),
                deadline=deadline.isoformat() if deadline else None,
                owner=owner_type,
            )
        )

    for cid, reason, added_at in pinned:
        items.append(item("urgent", cid, reason=reason, added_at=_iso(added_at)))
    if not meeting.urgent:
        newest = (
            select(Assessment.case_id, func.max(Assessment.assessed_at).label("at"))
            .group_by(Assessment.case_id)
            .subquery()
        )
        highs = session.execute(
            select(Case.id, newest.c.at)
            .join(newest, newest.c.case_id == Case.id)
            .where(
                in_scope,
                Case.concern == "high",
                newest.c.at >= since,
                newest.c.at < meeting.starts_at,
            )
            .order_by(newest.c.at, Case.id)
        ).all()
        for cid, at in highs:
            if cid not in pinned_ids:
                items.append(item("new_high_risk", cid, assessed_at=_iso(at)))
    by_section: dict[str, list[dict[str, Any]]] = {s: [] for s in allocation.SECTIONS}
    raw_items = (
        []
        if meeting.urgent
        else allocation.agenda_items(session, codes, meeting.starts_at, meeting.ends_at)
    )
    missing = {raw["case_id"] for raw in raw_items} - set(cases)
    if missing:  # ended cases (endings, handovers) are outside the scope query
        for cid, ref, concern in session.execute(
            select(Case.id, Case.reference, Case.concern).where(Case.id.in_(missing))
        ):
            cases[cid] = (ref, concern)
    for raw in raw_items:
        detail = {k: v for k, v in raw.items() if k not in ("section", "case_id")}
        by_section[raw["section"]].append(item(raw["section"], raw["case_id"], **detail))
    items.extend(by_section["application"])

    if not meeting.urgent:
        due = session.execute(
            select(Case.id, Case.reassess_due)
            .where(in_scope, Case.reassess_due.is_not(None), Case.reassess_due <= meeting.ends_at)
            .order_by(Case.reassess_due, Case.id)
        ).all()
        for cid, at in due:
            items.append(
                item("reassessment", cid, due=_iso(at), overdue=bool(at and at < meeting.starts_at))
            )
    items.extend(by_section["review"])
    items.extend(by_section["extension"])
    items.extend(by_section["ending"])
    items.extend(by_section["handover"])
    return codes, items


# --- minutes --------------------------------------------------------------------------------


def _open_agenda_actions(session: Session, meeting: Meeting) -> list[int]:
    _codes, items = build_agenda(session, meeting)
    return [int(it["detail"]["action_id"]) for it in items if it["section"] == "open_action"]


def record_minutes(
    session: Session,
    meeting_id: int,
    body: MinutesIn,
    actor: str,
    now: dt.datetime,
    *,
    correction: bool,
) -> MeetingMinutes:
    """Record (POST) or correct (PUT) a meeting's minutes.

    Every open action on the agenda needs a review: done (recorded as done on the case), or a
    reason why not (422 naming the action). New actions become CaseActions on their case, with
    owner and deadline. A correction keeps actions already made (matched by case and title);
    actions left out of the correction are closed with a note, never deleted.
    """
    meeting = get_meeting(session, meeting_id)
    existing = session.get(MeetingMinutes, meeting_id)
    if correction and existing is None:
        raise MeetingError(409, "there are no minutes to correct yet; POST them first")
    if not correction and existing is not None:
        raise MeetingError(
            409, f"minutes were recorded by {existing.recorded_by}; use PUT to correct them"
        )
    if meeting.status in ("cancelled", "proposed"):
        raise MeetingError(409, f"the meeting is {meeting.status}; it has no minutes")
    if meeting.starts_at > now:
        raise MeetingError(409, "the meeting has not started yet")

    problems: dict[str, str] = {}
    attendance: list[dict[str, Any]] = []
    seen: set[str] = set()
    for n, a in enumerate(body.attendance):
        key = str(a.organisation)
        if key in seen:
            problems[f"attendance.{n}.organisation"] = "listed twice"
        seen.add(key)
        entry: dict[str, Any] = {"present": a.present}
        if isinstance(a.organisation, int):
            org = session.get(Organisation, a.organisation)
            if org is None:
                problems[f"attendance.{n}.organisation"] = f"unknown organisation {a.organisation}"
                continue
            entry.update(organisation_id=org.id, type=org.type, name=org.name)
        else:
            entry["type"] = a.organisation
        attendance.append(entry)

    case_ids = {d.case_id for d in body.decisions} | {a.case_id for a in body.actions}
    known = (
        set(session.scalars(select(Case.id).where(Case.id.in_(case_ids)))) if case_ids else set()
    )
    for n, d in enumerate(body.decisions):
        if d.case_id not in known:
            problems[f"decisions.{n}.case_id"] = f"unknown case {d.case_id}"
    owners: list[dict[str, Any]] = []
    for n, act in enumerate(body.actions):
        if act.case_id not in known:
            problems[f"actions.{n}.case_id"] = f"unknown case {act.case_id}"
        owner: dict[str, Any] = {}
        if act.owner.contact_id is not None:
            contact = session.get(ContactPerson, act.owner.contact_id)
            if contact is None:
                problems[f"actions.{n}.owner.contact_id"] = (
                    f"unknown contact {act.owner.contact_id}"
                )
            else:
                org = session.get(Organisation, contact.organisation_id)
                owner = {
                    "contact_id": contact.id,
                    "organisation_id": contact.organisation_id,
                    "type": org.type if org else None,
                }
        elif isinstance(act.owner.organisation, int):
            org = session.get(Organisation, act.owner.organisation)
            if org is None:
                problems[f"actions.{n}.owner.organisation"] = (
                    f"unknown organisation {act.owner.organisation}"
                )
            else:
                owner = {"organisation_id": org.id, "type": org.type}
        else:
            owner = {"type": act.owner.organisation}
        deadline = dt.date.fromisoformat(act.deadline)
        if deadline < recurrence.to_local(meeting.starts_at).date():
            problems[f"actions.{n}.deadline"] = "the deadline is before the meeting"
        owners.append(owner)

    agenda_actions = _open_agenda_actions(session, meeting) if existing is None else []
    previous_reviews = {
        int(r["action_id"]): r for r in (existing.action_reviews if existing else [])
    }
    reviews = {r.action_id: r for r in body.open_actions}
    required = agenda_actions or list(previous_reviews)
    for aid in required:
        review = reviews.get(aid)
        if review is None or (not review.done and not (review.reason or "").strip()):
            problems[f"open_actions.{aid}"] = (
                f"action {aid} was on the agenda: record it as done or give a reason why not"
            )
    for aid in reviews:
        if aid not in required:
            problems[f"open_actions.{aid}"] = f"action {aid} was not an open action on the agenda"
    if problems:
        raise MeetingError(422, "the minutes are incomplete or invalid", fields=problems)

    review_data = [
        {"action_id": aid, "done": reviews[aid].done, "reason": reviews[aid].reason}
        for aid in required
    ]
    for aid in required:
        action = session.get(CaseAction, aid)
        if action is None:
            continue
        if reviews[aid].done and action.done_at is None:
            action.done_at, action.done_by = now, actor
            action.note = f"afgerond volgens notulen van overleg {meeting.id}"
    _apply_actions(session, meeting, body, owners, actor, now)
    decisions = [d.model_dump() for d in body.decisions]
    if existing is None:
        minutes = MeetingMinutes(
            meeting_id=meeting.id,
            attendance=attendance,
            decisions=decisions,
            action_reviews=review_data,
            notes=body.notes,
            version=1,
            recorded_at=now,
            recorded_by=actor,
            updated_at=now,
            updated_by=actor,
        )
        session.add(minutes)
    else:
        minutes = existing
        minutes.attendance, minutes.decisions = attendance, decisions
        minutes.action_reviews, minutes.notes = review_data, body.notes
        minutes.version += 1
        minutes.updated_at, minutes.updated_by = now, actor
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise MeetingError(
            409, "minutes were recorded at the same moment by someone else"
        ) from None
    return minutes


def _end_of_local_day(day: dt.date) -> dt.datetime:
    return local_day_start(day + dt.timedelta(days=1)) - dt.timedelta(seconds=1)


def _apply_actions(
    session: Session,
    meeting: Meeting,
    body: MinutesIn,
    owners: list[dict[str, Any]],
    actor: str,
    now: dt.datetime,
) -> None:
    current = session.execute(
        select(MeetingAction, CaseAction)
        .join(CaseAction, CaseAction.id == MeetingAction.case_action_id)
        .where(MeetingAction.meeting_id == meeting.id)
    ).all()
    by_key = {(ma.case_id, ca.title): (ma, ca) for ma, ca in current}
    kept: set[int] = set()
    for act, owner in zip(body.actions, owners, strict=True):
        deadline = dt.date.fromisoformat(act.deadline)
        found = by_key.get((act.case_id, act.title))
        if found is None:
            ca = CaseAction(
                case_id=act.case_id,
                kind=MEETING_ACTION_KIND,
                title=act.title,
                opened_at=now,
                due_at=_end_of_local_day(deadline),  # the scheduler's deadline job reads this
            )
            session.add(ca)
            session.flush()
            ma = MeetingAction(
                meeting_id=meeting.id,
                case_action_id=ca.id,
                case_id=act.case_id,
                deadline=deadline,
                created_at=now,
            )
            session.add(ma)
        else:
            ma, ca = found
            ma.deadline = deadline
            ca.due_at = _end_of_local_day(deadline)
        ma.owner_type = owner.get("type")
        ma.owner_organisation_id = owner.get("organisation_id")
        ma.owner_contact_id = owner.get("contact_id")
        session.flush()
        kept.add(ma.id)
    for ma, ca in current:
        if ma.id not in kept and ca.done_at is None:
            ca.done_at, ca.done_by = now, actor
            ca.note = f"vervallen: niet meer in de gecorrigeerde notulen van overleg {meeting.id}"


def minutes_actions(session: Session, meeting_id: int) -> list[tuple[MeetingAction, CaseAction]]:
    return [
        (ma, ca)
        for ma, ca in session.execute(
            select(MeetingAction, CaseAction)
            .join(CaseAction, CaseAction.id == MeetingAction.case_action_id)
            .where(MeetingAction.meeting_id == meeting_id)
            .order_by(MeetingAction.id)
        ).all()
    ]


def organisation_type_known(value: str) -> bool:
    return value in ORGANISATION_TYPES


REMINDER_AHEAD = dt.timedelta(hours=24)


def reminder_text(meeting: Meeting) -> str:
    """No case references or names: the invitation list is wider than the need to know."""
    local = meeting.starts_at.astimezone(recurrence.AMSTERDAM)
    kind = "spoedoverleg" if meeting.urgent else "casusoverleg"
    return (
        f"AWARE: herinnering {kind} '{meeting.title}' op {local:%d-%m-%Y} om {local:%H:%M}. "
        "De agenda staat in AWARE."
    )


def meetings_to_remind(session: Session, now: dt.datetime) -> list[tuple[Meeting, list[str]]]:
    """Meetings starting within 24 hours that were not reminded yet, with the phone numbers
    of the active contact persons of the participating organisations in their municipality
    (or region)."""
    due = session.scalars(
        select(Meeting)
        .where(
            Meeting.status.in_(("scheduled", "confirmed")),
            Meeting.starts_at > now,
            Meeting.starts_at <= now + REMINDER_AHEAD,
            Meeting.reminded_at.is_(None),
        )
        .order_by(Meeting.starts_at)
    ).all()
    out = []
    for meeting in due:
        codes = meeting_municipalities(session, meeting)
        phones = session.scalars(
            select(ContactPerson.phone)
            .join(Organisation, Organisation.id == ContactPerson.organisation_id)
            .where(
                ContactPerson.active.is_(True),
                ContactPerson.phone.is_not(None),
                Organisation.active.is_(True),
                Organisation.type.in_(meeting.organisations or []),
                Organisation.municipality_code.in_(codes),
            )
        ).all()
        out.append((meeting, sorted({p for p in phones if p})))
    return out


def send_meeting_reminders(session: Session, now: dt.datetime, notifier: Any) -> int:
    """Text each participant's contact persons once per meeting (idempotent: reminded_at)."""
    sent = 0
    for meeting, phones in meetings_to_remind(session, now):
        text = reminder_text(meeting)
        failures = 0
        for phone in phones:
            try:
                notifier.send_sms(phone, text)
                sent += 1
            except Exception as exc:  # NotSent, or anything the provider throws
                failures += 1
                log.warning("meeting %s reminder not sent: %s", meeting.id, type(exc).__name__)
        meeting.reminded_at = now
        log.info(
            "meeting %s: reminder to %d contact(s), %d failed", meeting.id, len(phones), failures
        )
    session.commit()
    return sent
