"""Scheduler jobs on a real database (SQLite and PostgreSQL): device supervision, case
deadlines, and APScheduler's once-after-downtime behaviour with our job store and defaults."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import select, update

from aware.adapters.realtime import RecordingPublisher
from aware.alarms.models import Alarm
from aware.config import Settings
from aware.db import make_engine, make_sessionmaker
from aware.devices.models import Device
from aware.risk.models import Ban, Case, CaseAction, CaseDevice
from aware.scheduler import casework, supervision
from aware.scheduler.jobs import JobContext, JobSpec, run_job, set_context, supervision_tick_s
from aware.scheduler.models import SchedulerRun
from aware.scheduler.process import build_scheduler, schedule_jobs
from tests.conftest import bearer, event

T0 = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
INTERVALS = {"victim_alarm": 300.0, "perpetrator_tracker": 120.0}


def interval_for(kind: str) -> float:
    return INTERVALS[kind]


def register(client: Any, coordinator: dict[str, str], kind: str = "perpetrator_tracker") -> Any:
    r = client.post(
        "/api/v1/devices",
        json={"serial": f"AW-{uuid.uuid4().hex[:8]}", "kind": kind},
        headers=coordinator,
    )
    assert r.status_code == 201
    return r.get_json()


def silent_since(session: Any, device_id: int, at: dt.datetime) -> None:
    session.execute(
        update(Device).where(Device.id == device_id).values(created_at=at, last_seen_at=at)
    )
    session.commit()


def make_case(session: Any, ref: str) -> Case:
    case = Case(
        reference=ref,
        municipality_code="0344",
        victim_name="V",
        created_at=T0,
        updated_at=T0,
    )
    session.add(case)
    session.commit()
    return case


def test_silent_tracker_raises_one_alarm_on_its_case_and_a_heartbeat_clears_it(
    client, coordinator, dispatcher, session, sessions
):
    tracker = register(client, coordinator)
    case = make_case(session, "SUP-1")
    session.add(
        CaseDevice(case_id=case.id, device_id=tracker["id"], role="perpetrator", linked_at=T0)
    )
    session.commit()
    # Ticks are dated a little in the past, so the heartbeat below (server clock) is later.
    now = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=15)
    silent_since(session, tracker["id"], now - dt.timedelta(seconds=115))
    pub = RecordingPublisher()
    assert supervision.supervise(sessions, now, interval_for, pub).raised == []  # not yet

    later = now + dt.timedelta(seconds=10)
    first = supervision.supervise(sessions, later, interval_for, pub)
    (alarm_id,) = first.raised
    # Every later tick during the same outage raises nothing more.
    for k in range(3):
        tick = supervision.supervise(sessions, later + dt.timedelta(seconds=k), interval_for, pub)
        assert tick.raised == [] and tick.cleared == []
    alarm = client.get(f"/api/v1/alarms/{alarm_id}", headers=dispatcher).get_json()
    assert alarm["type"] == "device_offline" and alarm["status"] == "open"
    assert alarm["case_id"] == case.id and alarm["priority"] == 3
    assert [name for name, _ in pub.events] == ["alarm.new"]
    assert pub.events[0][1]["id"] == alarm_id

    # The tracker reports again (through the public intake): the next tick clears the alarm.
    hb = client.post(
        "/api/v1/ingest",
        json=event("hb-1", "heartbeat", occurred_at=later.isoformat()),
        headers=bearer(tracker["token"]),
    )
    assert hb.status_code == 202
    seen = session.scalar(select(Device.last_seen_at).where(Device.id == tracker["id"]))
    tick = supervision.supervise(sessions, seen + dt.timedelta(seconds=1), interval_for, pub)
    assert tick.cleared == [alarm_id] and tick.raised == []
    detail = client.get(f"/api/v1/alarms/{alarm_id}", headers=dispatcher).get_json()
    assert detail["status"] == "resolved" and detail["outcome"] == "technical"
    notes = [e for e in detail["timeline"] if e["action"] == "resolved"]
    assert notes and notes[0]["detail"]["note"].startswith("device reported again at ")
    assert pub.events[-1][0] == "alarm.updated" and pub.events[-1][1]["status"] == "resolved"

    # A new silence is a new outage: one new alarm.
    again = seen + dt.timedelta(seconds=121)
    assert len(supervision.supervise(sessions, again, interval_for, pub).raised) == 1


def test_never_seen_device_counts_from_registration_and_kinds_have_their_own_interval(
    client, coordinator, session, sessions
):
    alarm_dev = register(client, coordinator, "victim_alarm")
    tracker = register(client, coordinator, "perpetrator_tracker")
    base = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=200)
    for dev in (alarm_dev, tracker):
        session.execute(
            update(Device).where(Device.id == dev["id"]).values(created_at=base, last_seen_at=None)
        )
    session.commit()
    pub = RecordingPublisher()
    tick = supervision.supervise(sessions, base + dt.timedelta(seconds=200), interval_for, pub)
    raised = session.scalars(select(Alarm.device_id).where(Alarm.id.in_(tick.raised))).all()
    assert tracker["id"] in raised  # 200 s > 120 s for trackers
    assert alarm_dev["id"] not in raised  # 200 s < 300 s for victim alarms


def test_overlapping_ticks_raise_once_and_a_dispatcher_resolve_is_not_reopened(
    client, coordinator, dispatcher, session, sessions
):
    tracker = register(client, coordinator)
    now = dt.datetime.now(dt.UTC)
    silent_since(session, tracker["id"], now - dt.timedelta(seconds=500))
    pub = RecordingPublisher()
    first = supervision.raise_offline(sessions, tracker["id"], now, interval_for, pub)
    second = supervision.raise_offline(sessions, tracker["id"], now, interval_for, pub)
    assert first is not None and second is None
    # The dispatcher closes it while the device is still silent: same outage, no new alarm.
    r = client.post(
        f"/api/v1/alarms/{first}/resolve", json={"outcome": "technical"}, headers=dispatcher
    )
    assert r.status_code == 200
    tick = supervision.supervise(sessions, now + dt.timedelta(seconds=30), interval_for, pub)
    assert tick.raised == [] and tick.cleared == []


def test_reassessment_due_and_ban_ending_open_one_action_each(session):
    now = dt.datetime.now(dt.UTC)
    case = make_case(session, "DUE-1")
    case.reassess_due = now - dt.timedelta(hours=1)
    ended = make_case(session, "DUE-2")
    ended.reassess_due, ended.status = now - dt.timedelta(hours=1), "ended"
    session.add(
        Ban(
            case_id=case.id,
            kind="contact",
            distance_m=500,
            valid_from=now - dt.timedelta(days=80),
            valid_until=now + dt.timedelta(days=3),
            legal_basis="509hh Sv",
            created_at=now,
        )
    )
    session.add(
        Ban(
            case_id=case.id,
            kind="contact",
            distance_m=500,
            valid_from=now,
            valid_until=now + dt.timedelta(days=60),
            legal_basis="509hh Sv",
            created_at=now,
        )
    )
    session.commit()
    assert casework.reassessments_due(session, now) == 1
    assert casework.reassessments_due(session, now) == 0  # a second run opens nothing
    assert casework.bans_ending(session, now) == 1
    assert casework.bans_ending(session, now) == 0
    actions = session.scalars(select(CaseAction).where(CaseAction.case_id == case.id)).all()
    kinds = sorted(a.kind for a in actions)
    assert kinds == ["ban_ending", "reassessment_due"]
    assert not session.scalars(select(CaseAction).where(CaseAction.case_id == ended.id)).all()
    # A newer screening moves the date: a new action only when that date passes.
    case.reassess_due = now + dt.timedelta(days=7)
    session.commit()
    assert casework.reassessments_due(session, now) == 0
    assert casework.reassessments_due(session, now + dt.timedelta(days=8)) == 1


def test_action_past_its_deadline_is_reminded_once(session, caplog):
    now = dt.datetime.now(dt.UTC)
    case = make_case(session, "DL-1")
    late = CaseAction(
        case_id=case.id,
        kind="handover",
        title="x",
        opened_at=now,
        due_at=now - dt.timedelta(hours=1),
    )
    done = CaseAction(
        case_id=case.id,
        kind="handover",
        title="y",
        opened_at=now,
        due_at=now - dt.timedelta(hours=1),
        done_at=now,
    )
    future = CaseAction(
        case_id=case.id,
        kind="handover",
        title="z",
        opened_at=now,
        due_at=now + dt.timedelta(days=1),
    )
    session.add_all([late, done, future])
    session.commit()
    with caplog.at_level("WARNING", logger="aware.scheduler.casework"):
        assert casework.action_deadlines(session, now) == [late.id]
    assert casework.action_deadlines(session, now) == []
    assert f"action {late.id} (handover) on case {case.id} is past its deadline" in caplog.text
    assert "DL-1" not in caplog.text  # no case references in logs


def test_supervision_tick_follows_the_shortest_interval():
    assert supervision_tick_s(Settings(supervision_interval_s=300)) == 10
    s = Settings(supervision_interval_s=300, supervision_intervals={"perpetrator_tracker": 15})
    assert supervision_tick_s(s) == 5


# --- APScheduler with our job store and defaults (real commits: a database of its own) ---

RUNS: list[dt.datetime] = []
_RUNS_LOCK = threading.Lock()


def _record(ctx: JobContext) -> int:
    with _RUNS_LOCK:
        RUNS.append(dt.datetime.now(dt.UTC))
    return 1


def _wait(predicate: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_run_missed_during_downtime_happens_once_after_restart(fresh_db_url, tmp_path):
    from apscheduler.triggers.interval import IntervalTrigger

    from aware.scheduler.models import apscheduler_jobs

    engine = make_engine(fresh_db_url)
    settings = Settings(database_url=fresh_db_url, instance_path=tmp_path)
    spec = JobSpec("test_every_minute", _record, lambda s: IntervalTrigger(minutes=1))
    ctx = JobContext(
        sessions=make_sessionmaker(engine),
        settings=settings,
        publisher=RecordingPublisher(),
        holder="it",
        jobs=[spec],
    )
    set_context(ctx)
    RUNS.clear()
    try:
        first = build_scheduler(engine)
        schedule_jobs(first, engine, [spec], settings)
        first.start()
        first.shutdown()
        assert RUNS == []  # next run a minute away
        # "Downtime": the stored next run lies 10 minutes (10 runs) in the past.
        with engine.begin() as conn:
            conn.execute(update(apscheduler_jobs).values(next_run_time=time.time() - 600))
        second = build_scheduler(engine)
        schedule_jobs(second, engine, [spec], settings)
        second.start()
        try:
            _wait(lambda: len(RUNS) >= 1)
            time.sleep(1.5)  # room for any further catch-up runs (there must be none)
        finally:
            second.shutdown()
        assert len(RUNS) == 1
        # ... and the job kept its fixed id: one row in the store, its next run in the future.
        with engine.connect() as conn:
            rows = conn.execute(
                select(apscheduler_jobs.c.id, apscheduler_jobs.c.next_run_time)
            ).all()
        assert [r.id for r in rows] == ["test_every_minute"]
        assert rows[0].next_run_time > time.time()
        with make_sessionmaker(engine)() as s:
            runs = s.scalars(
                select(SchedulerRun).where(SchedulerRun.job_id == "test_every_minute")
            ).all()
        assert [(r.holder, r.result, r.changed) for r in runs] == [("it", "ok", 1)]
    finally:
        set_context(None)
        engine.dispose()


def test_a_job_is_skipped_when_the_lease_is_lost(fresh_db_url, tmp_path):
    engine = make_engine(fresh_db_url)
    spec = JobSpec("test_fenced", _record, lambda s: None)  # type: ignore[arg-type,return-value]
    ctx = JobContext(
        sessions=make_sessionmaker(engine),
        settings=Settings(database_url=fresh_db_url, instance_path=tmp_path),
        publisher=RecordingPublisher(),
        may_run=lambda: False,
        jobs=[spec],
    )
    set_context(ctx)
    RUNS.clear()
    try:
        assert run_job("test_fenced") == 0 and RUNS == []
    finally:
        set_context(None)
        engine.dispose()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("tracker=120", "KIND=SECONDS"),
        ("perpetrator_tracker=0", "positive number"),
        ("perpetrator_tracker=120,perpetrator_tracker=60", "given twice"),
    ],
)
def test_bad_supervision_intervals_are_refused_naming_the_variable(value, message):
    from aware.config import ConfigError, load_settings

    with pytest.raises(ConfigError) as err:
        load_settings({"AWARE_SUPERVISION_INTERVALS": value})
    assert "AWARE_SUPERVISION_INTERVALS" in str(err.value) and message in str(err.value)
    good = load_settings(
        {"AWARE_SUPERVISION_INTERVALS": "perpetrator_tracker=120,victim_alarm=3600"}
    )
    assert good.supervision_interval_for("perpetrator_tracker") == 120
    assert good.supervision_interval_for("victim_alarm") == 3600
