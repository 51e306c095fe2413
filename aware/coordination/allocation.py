"""The AWARE allocation workflow's use cases; each commits once.

Also the two interfaces other parts call: `agenda_items` (the meeting agenda) and
`review_due_job` (the scheduler's reminders). The state machine is `allocation_rules`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aware.coordination import allocation_rules as rules
from aware.coordination.allocation_models import (
    Allocation,
    AllocationDecision,
    AllocationExtension,
    AllocationReview,
)
from aware.coordination.reference_models import ContactPerson, Organisation
from aware.devices.models import Device
from aware.risk.models import Assessment, Case, CaseAction, CaseDevice

REVIEW_ACTION = "allocation_review"
TERM_END_ACTION = "allocation_term_end"
HANDOVER_ACTION = "allocation_handover"
SECTIONS = ("application", "review", "extension", "ending", "handover")
END_REASON_NL = {
    "risk_reduced": "risico verminderd",
    "perpetrator_detained": "pleger gedetineerd",
    "moved": "verhuisd",
    "victim_declined": "slachtoffer ziet af",
    "device_misuse": "oneigenlijk gebruik",
    "other": "andere reden",
}


class AllocationError(Exception):
    """A use case refused; `field` names the offending input, `status` the HTTP answer."""

    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Member:
    organisation_id: int
    name: str | None = None


def get(session: Session, allocation_id: int, *, lock: bool = False) -> Allocation:
    """The allocation (application) with this id; 404 otherwise. `lock` serialises writers
    on PostgreSQL (SQLite's writers are already serialised by BEGIN IMMEDIATE)."""
    found = session.get(Allocation, allocation_id, with_for_update=lock or None)
    if found is None:
        raise AllocationError(404, f"no application {allocation_id}")
    return found


def for_case(session: Session, case_id: int) -> list[Allocation]:
    """Every application of a case, newest first."""
    return list(
        session.scalars(
            select(Allocation).where(Allocation.case_id == case_id).order_by(Allocation.id.desc())
        )
    )


def _status(alloc: Allocation) -> rules.Status:
    return rules.Status(alloc.status)


def _refuse(session: Session, exc: rules.Refused) -> AllocationError:
    session.rollback()
    return AllocationError(409, exc.message)


def _bad(session: Session, field: str, message: str) -> AllocationError:
    session.rollback()
    return AllocationError(422, message, field)


def _not_future(session: Session, at: dt.datetime, now: dt.datetime, field: str) -> dt.datetime:
    at = at.astimezone(dt.UTC)
    if at > now + dt.timedelta(minutes=1):
        raise _bad(session, field, "cannot be in the future")
    return at


def _organisation(
    session: Session, org_id: int, field: str, of_type: str | None = None
) -> Organisation:
    org = session.get(Organisation, org_id)
    if org is None:
        raise _bad(session, field, f"no organisation {org_id}")
    if not org.active:
        raise _bad(session, field, f"organisation {org_id} is inactive")
    if of_type is not None and org.type != of_type:
        raise _bad(session, field, f"must be an organisation of type {of_type}, not {org.type}")
    return org


def _action(
    session: Session,
    case_id: int,
    kind: str,
    title: str,
    now: dt.datetime,
    *,
    due_at: dt.datetime | None = None,
    source_key: str | None = None,
) -> tuple[CaseAction, bool]:
    """Open an action on the case; with `source_key` at most one per case and key (the
    existing one is returned, with False)."""
    if source_key is not None:
        found = session.scalar(
            select(CaseAction).where(
                CaseAction.case_id == case_id, CaseAction.source_key == source_key
            )
        )
        if found is not None:
            return found, False
    action = CaseAction(
        case_id=case_id,
        kind=kind,
        title=title[:200],
        opened_at=now,
        due_at=due_at,
        source_key=source_key,
    )
    session.add(action)
    session.flush()
    return action, True


def _close_action(
    session: Session, action_id: int | None, who: str, note: str, now: dt.datetime
) -> None:
    if action_id is None:
        return
    action = session.get(CaseAction, action_id)
    if action is not None and action.done_at is None:
        action.done_at, action.done_by, action.note = now, who, note


def apply(
    session: Session,
    case_id: int,
    *,
    organisation_id: int,
    reason: str,
    concern: str | None,
    applied_at: dt.datetime | None,
    who: str,
    now: dt.datetime,
) -> Allocation:
    """Apply for AWARE on a case; one open application (or running allocation) per case."""
    case = session.get(Case, case_id)
    if case is None:
        raise AllocationError(404, f"no case {case_id}")
    _organisation(session, organisation_id, "organisation_id")
    when = _not_future(session, applied_at or now, now, "applied_at")
    if concern is None:
        concern = session.scalar(
            select(Assessment.concern)
            .where(Assessment.case_id == case_id)
            .order_by(Assessment.assessed_at.desc(), Assessment.id.desc())
            .limit(1)
        )
        if concern is None:
            raise _bad(session, "concern", "the case has no screening: give the concern level")
    open_one = session.scalar(
        select(Allocation.id).where(
            Allocation.case_id == case_id, Allocation.status.in_([s.value for s in rules.OPEN])
        )
    )
    if open_one is not None:
        raise AllocationError(409, f"the case already has an open application ({open_one})")
    alloc = Allocation(
        case_id=case_id,
        status=rules.Status.APPLIED.value,
        referring_organisation_id=organisation_id,
        reason=reason,
        concern=concern,
        applied_at=when,
        applied_by=who,
        updated_at=now,
    )
    session.add(alloc)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise AllocationError(409, "the case got an open application at the same moment") from None
    return alloc


def decide(
    session: Session,
    allocation_id: int,
    *,
    outcome: str,
    reasons: str | None,
    members: Sequence[Member],
    decided_at: dt.datetime | None,
    who: str,
    now: dt.datetime,
) -> Allocation:
    """Record the indicatiecommissie's decision (granted, refused, waiting_list)."""
    alloc = get(session, allocation_id, lock=True)
    result = rules.Outcome(outcome)
    try:
        new = rules.decide(_status(alloc), result)
    except rules.Refused as exc:
        raise _refuse(session, exc) from None
    if rules.reasons_required(result) and not (reasons and reasons.strip()):
        raise _bad(session, "reasons", f"a {outcome} decision needs its reasons")
    for i, m in enumerate(members):
        _organisation(session, m.organisation_id, f"members.{i}.organisation_id")
    when = _not_future(session, decided_at or now, now, "decided_at")
    earliest = alloc.decided_at or alloc.applied_at
    if when < earliest:
        raise _bad(session, "decided_at", f"cannot be before {earliest.isoformat()}")
    session.add(
        AllocationDecision(
            allocation_id=alloc.id,
            outcome=result.value,
            reasons=reasons,
            members=[{"organisation_id": m.organisation_id, "name": m.name} for m in members],
            decided_at=when,
            recorded_by=who,
            recorded_at=now,
        )
    )
    alloc.status, alloc.decision, alloc.decided_at, alloc.updated_at = new, result, when, now
    case = session.get(Case, alloc.case_id)
    if case is not None and new is rules.Status.WAITING_LIST:
        case.status, case.updated_at = "waiting", now
    session.commit()
    return alloc


def set_support(
    session: Session,
    allocation_id: int,
    *,
    organisation_id: int,
    contact_person_id: int,
    now: dt.datetime,
) -> Allocation:
    """Record the support trajectory: organisation and one of its contact persons."""
    alloc = get(session, allocation_id, lock=True)
    try:
        rules.set_support(_status(alloc))
    except rules.Refused as exc:
        raise _refuse(session, exc) from None
    _organisation(session, organisation_id, "organisation_id")
    person = session.get(ContactPerson, contact_person_id)
    if person is None:
        raise _bad(session, "contact_person_id", f"no contact person {contact_person_id}")
    if person.organisation_id != organisation_id:
        raise _bad(
            session, "contact_person_id", f"does not belong to organisation {organisation_id}"
        )
    if not person.active:
        raise _bad(session, "contact_person_id", "this contact person is inactive")
    alloc.support_organisation_id = organisation_id
    alloc.support_contact_person_id = contact_person_id
    alloc.support_set_at = alloc.updated_at = now
    session.commit()
    return alloc


def connect_device(
    session: Session,
    allocation_id: int,
    *,
    device_id: int,
    connected_at: dt.datetime | None,
    now: dt.datetime,
) -> Allocation:
    """Connect the victim's device: links it to the case as the victim alarm, starts the term
    (default 6 months) with its review dates. An active allocation may get a replacement."""
    alloc = get(session, allocation_id, lock=True)
    status = _status(alloc)
    try:
        rules.connect_device(status, alloc.support_contact_person_id is not None)
    except rules.Refused as exc:
        raise _refuse(session, exc) from None
    device = session.get(Device, device_id)
    if device is None:
        raise _bad(session, "device_id", f"no device {device_id}")
    if device.kind != "victim_alarm":
        raise _bad(session, "device_id", f"must be a victim_alarm, not a {device.kind}")
    if not device.active:
        raise _bad(session, "device_id", "this device is deactivated")
    when = _not_future(session, connected_at or now, now, "connected_at")
    if alloc.decided_at is not None and when < alloc.decided_at:
        raise _bad(session, "connected_at", "cannot be before the decision")
    other = session.scalar(
        select(Allocation.id).where(
            Allocation.device_id == device_id,
            Allocation.status == rules.Status.ACTIVE.value,
            Allocation.id != alloc.id,
        )
    )
    if other is not None:
        session.rollback()
        raise AllocationError(
            409, f"device {device_id} is in use by allocation {other}", "device_id"
        )
    link = session.scalar(
        select(CaseDevice).where(
            CaseDevice.device_id == device_id, CaseDevice.unlinked_at.is_(None)
        )
    )
    if link is not None and not (link.case_id == alloc.case_id and link.role == "victim"):
        session.rollback()
        raise AllocationError(
            409, f"device {device_id} is linked to case {link.case_id}", "device_id"
        )
    if link is None:
        for old in session.scalars(
            select(CaseDevice).where(
                CaseDevice.case_id == alloc.case_id,
                CaseDevice.role == "victim",
                CaseDevice.unlinked_at.is_(None),
            )
        ):
            old.unlinked_at = now
        session.flush()
        session.add(
            CaseDevice(case_id=alloc.case_id, device_id=device_id, role="victim", linked_at=when)
        )
    alloc.device_id = device_id
    if status is rules.Status.GRANTED:
        alloc.status = rules.Status.ACTIVE
        alloc.connected_at = when
        last = rules.default_term_end(when)
        alloc.term_ends_at = rules.end_of_day(last)
        for day in rules.review_dates(when, last):
            session.add(AllocationReview(allocation_id=alloc.id, due_at=rules.start_of_day(day)))
        case = session.get(Case, alloc.case_id)
        if case is not None:
            case.status, case.updated_at = "active", now
    alloc.updated_at = now
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise AllocationError(409, "the device was taken at the same moment", "device_id") from None
    return alloc


def extend(
    session: Session, allocation_id: int, *, until: dt.date, reason: str, who: str, now: dt.datetime
) -> Allocation:
    """Extend the term to `until` (its new last day), with the reviews that fall in it."""
    alloc = get(session, allocation_id, lock=True)
    current = rules.last_day(alloc.term_ends_at) if alloc.term_ends_at else None
    try:
        rules.extend(_status(alloc), current, until)
    except rules.Refused as exc:
        raise _refuse(session, exc) from None
    except ValueError as exc:
        raise _bad(session, "until", str(exc)) from None
    assert alloc.term_ends_at is not None and alloc.connected_at is not None
    new_end = rules.end_of_day(until)
    session.add(
        AllocationExtension(
            allocation_id=alloc.id,
            previous_ends_at=alloc.term_ends_at,
            new_ends_at=new_end,
            reason=reason,
            extended_at=now,
            extended_by=who,
        )
    )
    planned = set(
        session.scalars(
            select(AllocationReview.due_at).where(AllocationReview.allocation_id == alloc.id)
        )
    )
    for day in rules.review_dates(alloc.connected_at, until):
        due = rules.start_of_day(day)
        if due not in planned:
            session.add(AllocationReview(allocation_id=alloc.id, due_at=due))
    # The term-end reminder for the old end is settled by the extension.
    _close_action(session, alloc.term_reminder_action_id, who, f"verlengd tot {until}", now)
    alloc.term_ends_at, alloc.updated_at = new_end, now
    session.commit()
    return alloc


def review_done(
    session: Session,
    allocation_id: int,
    review_id: int,
    *,
    note: str | None,
    who: str,
    now: dt.datetime,
) -> Allocation:
    """Record a review as held (its reminder action is closed with it)."""
    alloc = get(session, allocation_id, lock=True)
    review = session.get(AllocationReview, review_id)
    if review is None or review.allocation_id != alloc.id:
        raise AllocationError(404, f"no review {review_id} of allocation {allocation_id}")
    if review.done_at is not None:
        raise AllocationError(409, f"the review was already recorded by {review.done_by}")
    if alloc.status != rules.Status.ACTIVE:
        raise AllocationError(409, f"the allocation is {alloc.status}")
    review.done_at, review.done_by, review.note = now, who, note
    _close_action(session, review.reminder_action_id, who, note or "evaluatie gehouden", now)
    alloc.updated_at = now
    session.commit()
    return alloc


def end(
    session: Session,
    allocation_id: int,
    *,
    reason: str,
    note: str | None,
    handover_organisation_id: int,
    handover_planned_on: dt.date,
    ended_at: dt.datetime | None,
    who: str,
    now: dt.datetime,
) -> Allocation:
    """End the allocation with its reason and plan the handover to the local wijkteam (an open
    action on the case until it is recorded as done). The device is unlinked from the case."""
    alloc = get(session, allocation_id, lock=True)
    try:
        new = rules.end(_status(alloc))
    except rules.Refused as exc:
        raise _refuse(session, exc) from None
    when = _not_future(session, ended_at or now, now, "ended_at")
    earliest = alloc.connected_at or alloc.decided_at or alloc.applied_at
    if when < earliest:
        raise _bad(session, "ended_at", f"cannot be before {earliest.isoformat()}")
    org = _organisation(session, handover_organisation_id, "handover.organisation_id", "wijkteam")
    if handover_planned_on < rules.local_date(when):
        raise _bad(session, "handover.planned_on", "cannot be before the ending")
    for link in session.scalars(
        select(CaseDevice).where(
            CaseDevice.case_id == alloc.case_id,
            CaseDevice.device_id == alloc.device_id,
            CaseDevice.unlinked_at.is_(None),
        )
    ):
        link.unlinked_at = max(when, link.linked_at)
    action, _ = _action(
        session,
        alloc.case_id,
        HANDOVER_ACTION,
        f"Overdracht AWARE aan wijkteam {org.name} (gepland {handover_planned_on.isoformat()})",
        now,
        due_at=rules.start_of_day(handover_planned_on),
        source_key=f"alloc_handover:{alloc.id}",
    )
    settled = f"AWARE beëindigd: {END_REASON_NL[reason]}"
    _close_action(session, alloc.term_reminder_action_id, who, settled, now)
    for review in session.scalars(
        select(AllocationReview).where(
            AllocationReview.allocation_id == alloc.id, AllocationReview.done_at.is_(None)
        )
    ):
        _close_action(session, review.reminder_action_id, who, settled, now)
    alloc.status = new
    alloc.ended_at, alloc.end_reason, alloc.end_note, alloc.ended_by = when, reason, note, who
    alloc.handover_organisation_id = org.id
    alloc.handover_planned_on = handover_planned_on
    alloc.handover_action_id = action.id
    alloc.updated_at = now
    case = session.get(Case, alloc.case_id)
    if case is not None:
        case.status, case.updated_at = "ended", now
    session.commit()
    return alloc


def handover_done(
    session: Session, allocation_id: int, *, note: str | None, who: str, now: dt.datetime
) -> Allocation:
    """Record the handover to the wijkteam as completed (closes its action)."""
    alloc = get(session, allocation_id, lock=True)
    try:
        rules.complete_handover(_status(alloc), alloc.handover_completed_at is not None)
    except rules.Refused as exc:
        raise _refuse(session, exc) from None
    alloc.handover_completed_at, alloc.handover_completed_by = now, who
    _close_action(session, alloc.handover_action_id, who, note or "overdracht afgerond", now)
    alloc.updated_at = now
    session.commit()
    return alloc


def _iso(at: dt.datetime | None) -> str | None:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if at is not None else None


def agenda_items(
    session: Session, municipalities: Sequence[str], start: dt.datetime, end: dt.datetime
) -> list[dict[str, Any]]:
    """Allocation items for a meeting of these municipalities held from `start` to `end`.

    Sections: "application" (open applications and the waiting list), "review" (due by the
    meeting's end, so overdue ones too), "extension" (term ends by `end` + 30 days, or already
    passed, and not extended beyond that), "ending" (ended in the 30 days before the meeting),
    "handover" (not completed). Titles are short Dutch texts without personal names.
    Ordered by section, then due date, then case.
    """
    codes = list(municipalities)
    if not codes:
        return []
    items: list[dict[str, Any]] = []
    in_area = Case.municipality_code.in_(codes)

    applications = session.execute(
        select(Allocation.id, Allocation.case_id, Allocation.status, Allocation.applied_at)
        .join(Case, Case.id == Allocation.case_id)
        .where(
            in_area,
            Allocation.status.in_([rules.Status.APPLIED.value, rules.Status.WAITING_LIST.value]),
        )
    )
    for aid, case_id, status, applied_at in applications:
        day = rules.local_date(applied_at).isoformat()
        title = (
            f"AWARE-aanvraag van {day}: besluit indicatiecommissie"
            if status == rules.Status.APPLIED
            else f"AWARE-aanvraag van {day} op de wachtlijst: opnieuw besluiten"
        )
        items.append(_item("application", case_id, aid, title, None))

    reviews = session.execute(
        select(AllocationReview.due_at, Allocation.id, Allocation.case_id, Allocation.connected_at)
        .join(Allocation, Allocation.id == AllocationReview.allocation_id)
        .join(Case, Case.id == Allocation.case_id)
        .where(
            in_area,
            Allocation.status == rules.Status.ACTIVE.value,
            AllocationReview.done_at.is_(None),
            AllocationReview.due_at < end,
        )
    )
    for due_at, aid, case_id, _connected in reviews:
        day = rules.local_date(due_at).isoformat()
        late = " (achterstallig)" if due_at < start else ""
        items.append(_item("review", case_id, aid, f"Evaluatie AWARE op {day}{late}", due_at))

    horizon = end + rules.RECENT_ENDING
    terms = session.execute(
        select(Allocation.id, Allocation.case_id, Allocation.term_ends_at)
        .join(Case, Case.id == Allocation.case_id)
        .where(
            in_area,
            Allocation.status == rules.Status.ACTIVE.value,
            Allocation.term_ends_at.is_not(None),
            Allocation.term_ends_at <= horizon,
        )
    )
    for aid, case_id, ends_at in terms:
        if ends_at is None:
            continue
        day = rules.last_day(ends_at).isoformat()
        title = (
            f"Termijn AWARE verstreken op {day}: verlengen of beëindigen"
            if ends_at <= start
            else f"Termijn AWARE eindigt {day}: verlengen of beëindigen"
        )
        items.append(_item("extension", case_id, aid, title, ends_at))

    endings = session.execute(
        select(Allocation.id, Allocation.case_id, Allocation.ended_at, Allocation.end_reason)
        .join(Case, Case.id == Allocation.case_id)
        .where(
            in_area,
            Allocation.status == rules.Status.ENDED.value,
            Allocation.ended_at >= start - rules.RECENT_ENDING,
            Allocation.ended_at < end,
        )
    )
    for aid, case_id, ended_at, reason in endings:
        if ended_at is None:
            continue
        day = rules.local_date(ended_at).isoformat()
        why = END_REASON_NL.get(reason or "", reason or "")
        items.append(_item("ending", case_id, aid, f"AWARE beëindigd op {day} ({why})", None))

    handovers = session.execute(
        select(Allocation.id, Allocation.case_id, Allocation.handover_planned_on, Organisation.name)
        .join(Case, Case.id == Allocation.case_id)
        .join(Organisation, Organisation.id == Allocation.handover_organisation_id)
        .where(
            in_area,
            Allocation.status == rules.Status.ENDED.value,
            Allocation.handover_completed_at.is_(None),
        )
    )
    for aid, case_id, planned_on, org_name in handovers:
        due = rules.start_of_day(planned_on) if planned_on is not None else None
        late = " (achterstallig)" if due is not None and due < start else ""
        title = f"Overdracht aan {org_name} gepland {planned_on}{late}: nog niet afgerond"
        items.append(_item("handover", case_id, aid, title, due))

    order = {s: i for i, s in enumerate(SECTIONS)}
    items.sort(key=lambda it: (order[it["section"]], it["due"] or "", it["case_id"]))
    return items


def _item(
    section: str, case_id: int, allocation_id: int, title: str, due: dt.datetime | None
) -> dict[str, Any]:
    return {
        "section": section,
        "case_id": case_id,
        "allocation_id": allocation_id,
        "title": title[:200],
        "due": _iso(due),
    }


def review_due_job(session: Session, now: dt.datetime) -> int:
    """Scheduler job: one reminder action on the case per due review (on its day) and per term
    about to end (30 days ahead); idempotent, so a rerun or a missed run makes no duplicates.
    Commits once; returns how many reminders it made."""
    made = 0
    reviews = session.execute(
        select(AllocationReview, Allocation.case_id)
        .join(Allocation, Allocation.id == AllocationReview.allocation_id)
        .where(
            Allocation.status == rules.Status.ACTIVE.value,
            AllocationReview.done_at.is_(None),
            AllocationReview.reminder_action_id.is_(None),
            AllocationReview.due_at <= now,
        )
        .order_by(AllocationReview.id)
        .with_for_update(of=AllocationReview)
    ).all()
    for review, case_id in reviews:
        day = rules.local_date(review.due_at).isoformat()
        action, new = _action(
            session,
            case_id,
            REVIEW_ACTION,
            f"Evaluatie AWARE (gepland {day}) houden",
            now,
            due_at=review.due_at,
            source_key=f"alloc_review:{review.id}",
        )
        review.reminder_action_id = action.id
        made += new
    allocations = session.scalars(
        select(Allocation)
        .where(
            Allocation.status == rules.Status.ACTIVE.value,
            Allocation.term_ends_at.is_not(None),
            Allocation.term_ends_at <= now + rules.TERM_END_NOTICE,
        )
        .order_by(Allocation.id)
        .with_for_update()
    ).all()
    for alloc in allocations:
        assert alloc.term_ends_at is not None
        if alloc.term_reminder_for == alloc.term_ends_at:
            continue
        day = rules.last_day(alloc.term_ends_at).isoformat()
        action, new = _action(
            session,
            alloc.case_id,
            TERM_END_ACTION,
            f"Termijn AWARE eindigt {day}: verlengen of beëindigen",
            now,
            due_at=alloc.term_ends_at,
            source_key=f"alloc_term:{alloc.id}:{day}",
        )
        alloc.term_reminder_for, alloc.term_reminder_action_id = alloc.term_ends_at, action.id
        made += new
    session.commit()
    return made
