"""The allocation side of the meeting agenda and the scheduler's review reminders, on a seeded
set of cases (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from aware.coordination import allocation as svc
from aware.coordination.allocation_models import Allocation, AllocationReview
from aware.coordination.reference_models import ContactPerson, Organisation
from aware.devices.models import Device
from aware.risk.models import Case, CaseAction

START = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)  # the meeting: 14:00-16:00 Amsterdam
END = dt.datetime(2026, 6, 1, 14, 0, tzinfo=dt.UTC)


def t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


@pytest.fixture
def world(session) -> dict[str, int]:
    created = t("2025-01-01T00:00:00Z")
    ids: dict[str, int] = {}
    for key, type_ in (("police", "police"), ("vo", "vrouwenopvang"), ("wijk", "wijkteam")):
        org = Organisation(name=f"Org {key}", type=type_, created_at=created)
        session.add(org)
        session.flush()
        ids[key] = org.id
    person = ContactPerson(organisation_id=ids["vo"], name="Ineke Bakker")
    session.add(person)
    session.flush()
    ids["person"] = person.id
    session.commit()
    return ids


def make_case(session, code: str = "0344") -> int:
    now = t("2025-01-01T00:00:00Z")
    case = Case(
        reference=f"R-{uuid.uuid4().hex[:8]}",
        municipality_code=code,
        victim_name="Slachtoffer",
        created_at=now,
        updated_at=now,
    )
    device = Device(
        serial=f"AW-{uuid.uuid4().hex[:8]}",
        kind="victim_alarm",
        token_hash=uuid.uuid4().hex,
        created_at=now,
    )
    session.add_all([case, device])
    session.commit()
    return case.id


def run(session, world, stage: str, applied: str, *, code: str = "0344", **steps: Any) -> Any:
    """Take a fresh case through the chain up to `stage`."""
    cid = make_case(session, code)
    applied_at = t(applied)
    alloc = svc.apply(
        session,
        cid,
        organisation_id=world["police"],
        reason="hoog risico",
        concern="high",
        applied_at=applied_at,
        who="coord",
        now=applied_at,
    )
    if stage == "applied":
        return alloc
    decided = applied_at + dt.timedelta(days=1)
    members = [svc.Member(world["police"]), svc.Member(world["vo"], "casemanager")]
    outcome = {"waiting_list": "waiting_list", "refused": "refused"}.get(stage, "granted")
    svc.decide(
        session,
        alloc.id,
        outcome=outcome,
        reasons="reden",
        members=members,
        decided_at=decided,
        who="coord",
        now=decided,
    )
    if stage in ("waiting_list", "refused"):
        return alloc
    svc.set_support(
        session,
        alloc.id,
        organisation_id=world["vo"],
        contact_person_id=world["person"],
        now=decided,
    )
    device_id = session.scalar(
        select(Device.id).where(Device.kind == "victim_alarm").order_by(Device.id.desc())
    )
    connected = decided + dt.timedelta(days=1)
    svc.connect_device(
        session, alloc.id, device_id=device_id, connected_at=connected, now=connected
    )
    if "extend_to" in steps:
        svc.extend(
            session, alloc.id, until=steps["extend_to"], reason="nodig", who="coord", now=connected
        )
    for review_day in steps.get("reviews_done", ()):
        review = next(r for r in _reviews(session, alloc.id) if r.due_at.date() < review_day)
        svc.review_done(session, alloc.id, review.id, note=None, who="coord", now=connected)
    if stage == "ended":
        ended = t(steps["ended"])
        svc.end(
            session,
            alloc.id,
            reason="risk_reduced",
            note=None,
            handover_organisation_id=world["wijk"],
            handover_planned_on=steps["handover_on"],
            ended_at=ended,
            who="coord",
            now=ended,
        )
        if steps.get("handover_done"):
            svc.handover_done(session, alloc.id, note=None, who="coord", now=ended)
    return alloc


def _reviews(session, allocation_id: int) -> list[Any]:
    return list(
        session.scalars(
            select(AllocationReview)
            .where(
                AllocationReview.allocation_id == allocation_id, AllocationReview.done_at.is_(None)
            )
            .order_by(AllocationReview.due_at)
        )
    )


@pytest.fixture
def seeded(session, world) -> dict[str, Any]:
    s = {
        "applied": run(session, world, "applied", "2026-05-25T10:00:00+02:00"),
        "waiting": run(session, world, "waiting_list", "2026-04-01T10:00:00+02:00"),
        "refused": run(session, world, "refused", "2026-05-01T10:00:00+02:00"),
        "elsewhere": run(session, world, "applied", "2026-05-25T10:00:00+02:00", code="0363"),
        # Connected 2026-02-20: review 2026-05-20 overdue, term to 2026-08-20 (not yet).
        "review_due": run(session, world, "active", "2026-02-18T10:00:00+01:00"),
        # Connected 2025-12-15: review held; term ends 2026-06-15 (within the meeting + 30 d).
        "term_ends": run(
            session,
            world,
            "active",
            "2025-12-13T10:00:00+01:00",
            reviews_done=[dt.date(2026, 4, 1)],
        ),
        # Connected 2025-11-01: term passed on 2026-05-01, review of 2026-02-01 never held.
        "term_passed": run(session, world, "active", "2025-10-30T10:00:00+01:00"),
        # Connected 2025-10-01 and extended to the end of 2026: no item.
        "extended": run(
            session,
            world,
            "active",
            "2025-09-29T10:00:00+02:00",
            reviews_done=[dt.date(2026, 1, 2), dt.date(2026, 4, 2)],
            extend_to=dt.date(2026, 12, 31),
        ),
        # Ended 12 days before the meeting, handover open.
        "ended": run(
            session,
            world,
            "ended",
            "2025-11-01T10:00:00+01:00",
            ended="2026-05-20T10:00:00+02:00",
            handover_on=dt.date(2026, 5, 28),
        ),
        # Ended two months ago, handover done: no item.
        "ended_long_ago": run(
            session,
            world,
            "ended",
            "2025-11-01T10:00:00+01:00",
            ended="2026-04-01T10:00:00+02:00",
            handover_on=dt.date(2026, 4, 10),
            handover_done=True,
        ),
    }
    return s


def test_agenda_items_per_section(session, seeded):
    items = svc.agenda_items(session, ["0344", "0355"], START, END)
    got = [(i["section"], i["allocation_id"], i["due"]) for i in items]
    s = seeded
    assert got == [
        ("application", s["applied"].id, None),
        ("application", s["waiting"].id, None),
        ("review", s["term_passed"].id, "2026-01-31T23:00:00Z"),  # 1 Feb Amsterdam
        ("review", s["review_due"].id, "2026-05-19T22:00:00Z"),
        ("extension", s["term_passed"].id, "2026-05-01T22:00:00Z"),
        ("extension", s["term_ends"].id, "2026-06-15T22:00:00Z"),
        ("ending", s["ended"].id, None),
        ("handover", s["ended"].id, "2026-05-27T22:00:00Z"),
    ]
    by_id = {(i["section"], i["allocation_id"]): i for i in items}
    case_of = {a.id: a.case_id for a in s.values()}
    assert all(i["case_id"] == case_of[i["allocation_id"]] for i in items)
    assert "wachtlijst" in by_id[("application", s["waiting"].id)]["title"]
    assert "achterstallig" in by_id[("review", s["term_passed"].id)]["title"]
    assert "verstreken" in by_id[("extension", s["term_passed"].id)]["title"]
    assert "2026-06-15" in by_id[("extension", s["term_ends"].id)]["title"]
    assert "risico verminderd" in by_id[("ending", s["ended"].id)]["title"]
    # Titles carry no personal names.
    assert not any("Slachtoffer" in i["title"] or "Ineke" in i["title"] for i in items)
    # Another municipality's meeting sees its own application only; none for no municipality.
    other = svc.agenda_items(session, ["0363"], START, END)
    assert [(i["section"], i["allocation_id"]) for i in other] == [
        ("application", s["elsewhere"].id)
    ]
    assert svc.agenda_items(session, [], START, END) == []


def test_agenda_window_moves_items_in_and_out(session, seeded):
    s = seeded
    # A month later the ended allocation is past its 30 days, the handover still open.
    later = svc.agenda_items(
        session, ["0344"], START + dt.timedelta(days=40), END + dt.timedelta(days=40)
    )
    sections = {(i["section"], i["allocation_id"]) for i in later}
    assert ("ending", s["ended"].id) not in sections
    assert ("handover", s["ended"].id) in sections
    # The not-yet-due review and term of review_due appear when the window reaches them.
    assert ("extension", s["review_due"].id) not in sections
    assert ("review", s["extended"].id) in sections  # its review of 1 July
    much_later = svc.agenda_items(
        session, ["0344"], t("2026-08-01T12:00:00Z"), t("2026-08-01T14:00:00Z")
    )
    assert ("extension", s["review_due"].id) in {
        (i["section"], i["allocation_id"]) for i in much_later
    }


def test_review_due_job_is_idempotent(session, seeded):
    s = seeded
    made = svc.review_due_job(session, START)
    # Reviews due: term_passed (1 Feb), review_due (20 May). Terms within 30 days: term_passed,
    # term_ends.
    assert made == 4
    assert svc.review_due_job(session, START) == 0
    assert svc.review_due_job(session, START + dt.timedelta(hours=1)) == 0

    def open_kinds(alloc: Any) -> list[tuple[str, Any]]:
        rows = session.execute(
            select(CaseAction.kind, CaseAction.due_at)
            .where(CaseAction.case_id == alloc.case_id, CaseAction.done_at.is_(None))
            .order_by(CaseAction.id)
        ).all()
        return [(k, d) for k, d in rows]

    assert open_kinds(s["term_passed"]) == [
        ("allocation_review", t("2026-01-31T23:00:00Z")),
        ("allocation_term_end", t("2026-05-01T22:00:00Z")),
    ]
    assert open_kinds(s["term_ends"]) == [("allocation_term_end", t("2026-06-15T22:00:00Z"))]
    assert open_kinds(s["review_due"]) == [("allocation_review", t("2026-05-19T22:00:00Z"))]
    assert open_kinds(s["extended"]) == [] and open_kinds(s["applied"]) == []

    # Extending settles the term reminder; the new end gets its own reminder when it nears.
    svc.extend(
        session,
        s["term_ends"].id,
        until=dt.date(2026, 9, 15),
        reason="nodig",
        who="coord",
        now=START,
    )
    assert open_kinds(s["term_ends"]) == []
    assert svc.review_due_job(session, START) == 0
    # The extension added a review on 15 June (every 3 months from the connection).
    assert svc.review_due_job(session, t("2026-06-15T00:00:00Z")) == 1
    # extended's review of 1 July; the new end of term_ends and the end of review_due.
    assert svc.review_due_job(session, t("2026-08-20T00:00:00Z")) == 3
    assert svc.review_due_job(session, t("2026-08-20T00:00:00Z")) == 0


def test_the_database_refuses_a_second_open_application(session, world):
    """The guard behind the 409 holds for writers that race past the service's own check."""
    cid = make_case(session)
    now = t("2026-05-01T10:00:00Z")

    def row(status: str) -> Allocation:
        return Allocation(
            case_id=cid,
            status=status,
            referring_organisation_id=world["police"],
            reason="x",
            concern="high",
            applied_at=now,
            applied_by="coord",
            updated_at=now,
        )

    session.add_all([row("refused"), row("ended"), row("applied")])
    session.commit()
    session.add(row("waiting_list"))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()
