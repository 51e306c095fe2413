"""Idempotency under concurrent duplicates, one commit per use case, publish after commit,
and migrations from empty (SQLite and PostgreSQL, on databases of their own)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import event as sa_event
from sqlalchemy import func, inspect, select

from aware import migrate
from aware.adapters.realtime import RecordingPublisher
from aware.alarms import services as alarm_services
from aware.alarms.models import Alarm, AlarmLogEntry
from aware.db import make_engine, make_sessionmaker
from aware.devices import services as device_services
from aware.devices.models import DeviceEvent
from aware.devices.schemas import EventIn
from aware.models import Base

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)


def sos(event_id: str = "press-1") -> EventIn:
    return EventIn(event_id=event_id, type="sos", occurred_at=NOW)


# These tests are about concurrency: one device's many alarms at one instant would otherwise
# be folded into a storm alarm past AWARE_DEVICE_ALARM_RATE (tests/integration/test_floods.py).
NO_STORM = {"device_alarm_rate": 1000}


@pytest.fixture
def fresh(fresh_db_url):
    engine = make_engine(fresh_db_url)
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        device, _ = device_services.register(s, "AW-C1", "victim_alarm", NOW)
        device_id = device.id
    yield engine, sessions, device_id
    engine.dispose()


@pytest.mark.parametrize("rounds", [8])
def test_concurrent_duplicates_store_one_row_and_one_alarm(fresh, rounds):
    engine, sessions, device_id = fresh
    for r in range(rounds):
        barrier = threading.Barrier(2)
        results, errors = [], []

        def send(event_id=f"dup-{r}", barrier=barrier, results=results, errors=errors):
            try:
                with sessions() as s:
                    barrier.wait(timeout=10)
                    results.append(
                        device_services.ingest(
                            s, device_id, [sos(event_id)], NOW, RecordingPublisher(), **NO_STORM
                        )
                    )
            except Exception as exc:  # collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=send) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert errors == []
        assert sorted(x.accepted for x in results) == [0, 1]
        assert sorted(x.duplicates for x in results) == [0, 1]
        # Both answers name the same single alarm.
        assert results[0].alarm_ids == results[1].alarm_ids and len(results[0].alarm_ids) == 1
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(DeviceEvent)) == rounds
        assert s.scalar(select(func.count()).select_from(Alarm)) == rounds
        # Each alarm was raised once and nothing else happened to it.
        assert s.scalar(select(func.count()).select_from(AlarmLogEntry)) == 0
        for alarm_id in s.scalars(select(Alarm.id)):
            _, timeline = alarm_services.get(s, alarm_id)
            assert [e.action for e in timeline] == ["raised"]


def test_concurrent_batches_in_opposite_order_do_not_deadlock(fresh):
    engine, sessions, device_id = fresh
    ids = [f"b{i:03d}" for i in range(50)]
    batches = [[sos(i) for i in ids], [sos(i) for i in reversed(ids)]]
    barrier = threading.Barrier(2)
    results, errors = [], []

    def send(batch):
        try:
            with sessions() as s:
                barrier.wait(timeout=10)
                results.append(
                    device_services.ingest(
                        s, device_id, batch, NOW, RecordingPublisher(), **NO_STORM
                    )
                )
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sum(r.accepted for r in results) == 50
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Alarm)) == 50
        seqs = list(s.scalars(select(Alarm.seq)))
        assert len(set(seqs)) == 50


class CheckingPublisher(RecordingPublisher):
    """Looks the alarm up on another connection when told: it must already be committed."""

    def __init__(self, sessions):
        super().__init__()
        self.sessions = sessions
        self.seen_committed: list[bool] = []

    def _check(self, alarm):
        with self.sessions() as other:
            row = other.get(Alarm, alarm["id"])
            self.seen_committed.append(row is not None and row.seq == alarm["seq"])

    def alarm_new(self, alarm):
        self._check(alarm)
        super().alarm_new(alarm)

    def alarm_updated(self, alarm):
        self._check(alarm)
        super().alarm_updated(alarm)


def test_each_use_case_commits_once_and_publishes_after_commit(fresh):
    engine, sessions, device_id = fresh
    commits = []
    sa_event.listen(sessions, "after_commit", lambda s: commits.append(1))
    pub = CheckingPublisher(make_sessionmaker(engine))
    actor = alarm_services.Actor("user", "1", "disp-anna")

    def count_commits(fn):
        commits.clear()
        with sessions() as s:
            result = fn(s)
        return len(commits), result

    n, result = count_commits(
        lambda s: device_services.ingest(
            s,
            device_id,
            [
                sos("a"),
                sos("b"),
                EventIn(
                    event_id="p",
                    type="position",
                    occurred_at=NOW,
                    position={"lat": 52.1, "lon": 5.1},
                ),
            ],
            NOW,
            pub,
        )
    )
    assert n == 1 and len(result.alarm_ids) == 2
    alarm_id = result.alarm_ids[0]
    assert count_commits(lambda s: alarm_services.acknowledge(s, alarm_id, actor, NOW, pub))[0] == 1
    assert (
        count_commits(lambda s: alarm_services.add_note(s, alarm_id, actor, NOW, "x", pub))[0] == 1
    )
    assert (
        count_commits(
            lambda s: alarm_services.resolve(s, alarm_id, actor, NOW, "genuine", None, pub)
        )[0]
        == 1
    )
    assert [name for name, _ in pub.events] == [
        "alarm.new",
        "alarm.new",
        "alarm.updated",
        "alarm.updated",
        "alarm.updated",
    ]
    assert pub.seen_committed == [True] * 5


def test_seq_grows_with_every_change_of_any_alarm(fresh):
    engine, sessions, device_id = fresh
    pub = RecordingPublisher()
    actor = alarm_services.Actor("user", "1", "anna")
    with sessions() as s:
        device_services.ingest(s, device_id, [sos("x"), sos("y")], NOW, pub)
    x_id = pub.events[0][1]["id"]
    with sessions() as s:
        alarm_services.acknowledge(s, x_id, actor, NOW, pub)
    with sessions() as s:
        device_services.ingest(s, device_id, [sos("z")], NOW, pub)
    with sessions() as s:
        alarm_services.resolve(s, x_id, actor, NOW, "test", None, pub)
    seqs = [p["seq"] for _, p in pub.events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_migrations_from_empty_match_the_models(fresh_db_url):
    engine = make_engine(fresh_db_url)
    try:
        assert migrate.is_current(engine, fresh_db_url)
        names = set(inspect(engine).get_table_names())
        assert {
            "users",
            "api_tokens",
            "devices",
            "device_events",
            "alarms",
            "alarm_log",
            "counters",
            "alembic_version",
        } <= names
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
        # Upgrading again is a no-op.
        migrate.upgrade(fresh_db_url)
        assert migrate.is_current(engine, fresh_db_url)
    finally:
        engine.dispose()
