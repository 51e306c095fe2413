"""The scheduler jobs of coordination: meeting reminders through the notifier, urgent meeting
proposals and allocation reviews, run the way `aware scheduler` runs them (run_job)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from aware.adapters.notify import RecordingNotifier
from aware.adapters.realtime import RecordingPublisher
from aware.config import Settings
from aware.coordination.meeting_models import Meeting
from aware.coordination.reference_models import ContactPerson, Organisation
from aware.risk.models import Assessment
from aware.scheduler import jobs
from aware.scheduler.jobs import JobContext, run_job, set_context
from tests.integration.test_meetings_api import (  # noqa: F401
    T0,
    clock,
    coordinator,
    make_case,
    municipality,
    region,
    series_body,
)


def _context(sessions, tmp_path, now, notifier=None) -> JobContext:
    return JobContext(
        sessions=sessions,
        settings=Settings(instance_path=tmp_path),
        publisher=RecordingPublisher(),
        clock=lambda: now,
        jobs=list(jobs.JOBS),
        notifier=notifier,
    )


def _contacts(session, code: str) -> None:
    now = T0
    for name, type_, phone in (
        ("Politie Centrumstad", "police", "+31611110001"),
        ("Vrouwenopvang Centrumstad", "vrouwenopvang", "+31611110002"),
        ("Reclassering", "reclassering", "+31611110003"),  # not a participant
    ):
        org = Organisation(name=name, type=type_, municipality_code=code, created_at=now)
        session.add(org)
        session.flush()
        session.add(ContactPerson(organisation_id=org.id, name=f"Contact {type_}", phone=phone))
    session.commit()


def test_meeting_reminders_text_participants_once(
    client,
    coordinator,  # noqa: F811
    region,  # noqa: F811
    clock,  # noqa: F811
    session,
    sessions,
    tmp_path,
):
    _contacts(session, "9901")
    r = client.post("/api/v1/meeting-series", json=series_body(), headers=coordinator)
    assert r.status_code == 201, r.get_json()
    first = session.scalars(
        select(Meeting).where(Meeting.series_id == r.get_json()["id"]).order_by(Meeting.starts_at)
    ).first()
    notifier = RecordingNotifier()
    too_early = first.starts_at - dt.timedelta(hours=30)
    set_context(_context(sessions, tmp_path, too_early, notifier))
    assert run_job("meeting_reminders") == 0
    day_before = first.starts_at - dt.timedelta(hours=20)
    set_context(_context(sessions, tmp_path, day_before, notifier))
    assert run_job("meeting_reminders") == 2
    assert sorted(to for _, to, _ in notifier.sent) == ["+31611110001", "+31611110002"]
    text = notifier.sent[0][2]
    assert "Casusoverleg AWARE" in text and "15-03-2027 om 14:00" in text
    assert run_job("meeting_reminders") == 0  # once per meeting
    set_context(None)


def test_urgent_meetings_and_allocation_reviews_run_as_jobs(
    region,  # noqa: F811
    session,
    sessions,
    tmp_path,
):
    case = make_case(session, "9902", concern="high")
    session.add(
        Assessment(
            case_id=case.id,
            instrument_id="s-dash-2009",
            instrument_version="2009",
            answers={},
            concern="high",
            assessor_name="x",
            assessed_at=T0 - dt.timedelta(hours=1),
            reassess_due=T0 + dt.timedelta(days=7),
            created_at=T0 - dt.timedelta(hours=1),
        )
    )
    session.commit()
    set_context(_context(sessions, tmp_path, T0))
    assert run_job("urgent_meetings") >= 1
    urgent = session.scalars(select(Meeting).where(Meeting.urgent.is_(True))).all()
    assert len(urgent) == 1 and urgent[0].status == "proposed"
    assert urgent[0].starts_at - T0 <= dt.timedelta(hours=48)
    assert run_job("urgent_meetings") == 0  # idempotent
    assert run_job("allocation_reviews") == 0  # nothing due: no allocations
    set_context(None)


def test_every_job_has_a_fixed_unique_id():
    ids = [j.id for j in jobs.JOBS]
    assert len(ids) == len(set(ids))
    assert {"device_supervision", "meeting_reminders", "urgent_meetings", "allocation_reviews"} <= (
        set(ids)
    )
