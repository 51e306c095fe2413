"""`aware scheduler` as real processes: one active on the lease, take-over after SIGKILL (on
PostgreSQL and SQLite), device supervision reaching a real console through the relay and
through Redis, a stale schema and bad settings refused."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, select

from aware import migrate
from aware.scheduler.models import SchedulerRun
from tests.conftest import PgSchemas, pg_or_skip
from tests.e2e.conftest import AWARE, Server, setup_people
from tests.e2e.test_two_processes_redis import REDIS_URL

FAST = {
    "AWARE_SUPERVISION_INTERVAL_S": "3",  # supervision ticks every second
    "AWARE_SCHEDULER_LEASE_S": "3",
    "AWARE_LOG_LEVEL": "INFO",
}


class Scheduler:
    """One `aware scheduler` process."""

    def __init__(self, instance: Path, env: dict[str, str], name: str):
        self.env = {**os.environ, "AWARE_INSTANCE_PATH": str(instance), **FAST, **env}
        self.log = instance / f"scheduler-{name}-{uuid.uuid4().hex[:4]}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Scheduler:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [AWARE, "scheduler"], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        return self

    def text(self) -> str:
        return self.log.read_text()

    def wait_log(self, needle: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            assert self.proc is not None and self.proc.poll() is None, self.text()[-3000:]
            assert time.monotonic() < deadline, f"no {needle!r} in: {self.text()[-3000:]}"
            time.sleep(0.05)

    def holder(self) -> str:
        self.wait_log(" starting")
        line = next(x for x in self.text().splitlines() if "scheduler " in x and " starting" in x)
        return line.split("scheduler ", 1)[1].split(" ", 1)[0]

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        return int(self.proc.returncode)


@pytest.fixture
def procs() -> Any:
    made: list[Scheduler] = []

    def make(instance: Path, env: dict[str, str], name: str) -> Scheduler:
        s = Scheduler(instance, env, name)
        made.append(s)
        return s.start()

    yield make
    for s in made:
        s.kill()


def runs(url: str, job_id: str = "device_supervision") -> list[SchedulerRun]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(SchedulerRun.holder, SchedulerRun.started_at)
                .where(SchedulerRun.job_id == job_id)
                .order_by(SchedulerRun.id)
            ).all()
    finally:
        engine.dispose()
    return rows  # type: ignore[return-value]


def wait_runs_by(url: str, holder: str, timeout: float) -> float:
    """Seconds until a run by `holder` appears."""
    t0 = time.monotonic()
    while not any(r.holder == holder for r in runs(url)):
        assert time.monotonic() - t0 < timeout, f"no run by {holder}"
        time.sleep(0.05)
    return time.monotonic() - t0


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request: pytest.FixtureRequest, tmp_path: Path, pg_schemas: PgSchemas) -> str:
    if request.param == "postgresql":
        pg_or_skip()
        url = pg_schemas.new_url()
    else:
        url = f"sqlite:///{tmp_path / 'aware.db'}"
    migrate.upgrade(url)
    return url


def test_one_scheduler_runs_jobs_and_the_other_takes_over_after_sigkill(database, tmp_path, procs):
    env = {"AWARE_DATABASE_URL": database}
    a = procs(tmp_path, env, "a")
    a.wait_log("holds the lease")
    b = procs(tmp_path, env, "b")
    holder_a, holder_b = a.holder(), b.holder()
    b.wait_log(f"waiting: the scheduler lease is held by {holder_a}")
    wait_runs_by(database, holder_a, 10)
    time.sleep(4)
    seen = runs(database)
    # Only the holder runs jobs, once per due time (every second), never twice.
    assert {r.holder for r in seen} == {holder_a}
    starts = [r.started_at for r in seen]
    gaps = [(y - x).total_seconds() for x, y in zip(starts, starts[1:], strict=False)]
    assert len(seen) >= 3 and min(gaps) > 0.7, gaps

    a.kill()
    # PostgreSQL frees the advisory lock with the dead connection (B polls every 0.5 s);
    # SQLite waits for the 3 s lease row to expire.
    took = wait_runs_by(database, holder_b, 10)
    assert took < (3 if database.startswith("postgresql") else 7), took
    b.wait_log(f"scheduler {holder_b} holds the lease")
    time.sleep(2)
    later = [r for r in runs(database) if r.holder == holder_b]
    assert len(later) >= 2
    # SIGTERM stops cleanly and gives the lease up.
    assert b.stop() == 0
    assert "lease released" in b.text()


def _console_sees_offline_then_cleared(server: Server, consoles: Any) -> None:
    disp, coord = server.token("disp-e2e"), server.token("coord-e2e")
    console = consoles(server.url, disp).connect()
    console.wait_for(lambda c: c.snapshots)
    r = server.post(
        "/api/v1/devices",
        coord,
        json={"serial": f"AW-{uuid.uuid4().hex[:8]}", "kind": "perpetrator_tracker"},
    )
    device_id, token = r.json()["id"], r.json()["token"]

    def offline(c: Any, status: str) -> list[dict[str, Any]]:
        return [
            d
            for _, d in c.events
            if d["device_id"] == device_id
            and d["type"] == "device_offline"
            and d["status"] == status
        ]

    # Never seen: silent since registration; 3 s interval, ticks every second.
    (new,) = console.wait_for(lambda c: offline(c, "open"), timeout=15)
    assert new["priority"] == 3
    assert [n for n, d in console.events if d["id"] == new["id"]] == ["alarm.new"]
    hb = requests.post(
        server.url + "/api/v1/ingest",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "event_id": "hb-1",
            "type": "heartbeat",
            "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
        },
        timeout=10,
    )
    assert hb.status_code == 202
    (done,) = console.wait_for(lambda c: offline(c, "resolved"), timeout=10)
    assert done["id"] == new["id"] and done["outcome"] == "technical" and done["seq"] > new["seq"]
    detail = server.get(f"/api/v1/alarms/{new['id']}", disp).json()
    resolved = [e for e in detail["timeline"] if e["action"] == "resolved"]
    assert resolved[0]["detail"]["note"].startswith("device reported again at ")


def _redis_or_skip() -> None:
    import redis as redis_lib

    try:
        redis_lib.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis_lib.RedisError:
        if os.environ.get("AWARE_TEST_REQUIRE_REDIS") == "1":
            pytest.fail(f"Redis required (AWARE_TEST_REQUIRE_REDIS=1) but {REDIS_URL} is down")
        pytest.skip("Redis is not reachable")


@pytest.mark.parametrize("path", ["relay", "redis"])
def test_device_offline_reaches_the_console_and_clears_after_a_heartbeat(
    path, tmp_path, procs, consoles
):
    env = dict(FAST)
    if path == "redis":
        _redis_or_skip()
        env.update(AWARE_REDIS_URL=REDIS_URL, AWARE_REDIS_CHANNEL=f"aware-t-{uuid.uuid4().hex}")
    server = Server(tmp_path, env)
    setup_people(server)
    server.start()
    try:
        sched = procs(tmp_path, env, path)
        sched.wait_log("holds the lease")
        _console_sees_offline_then_cleared(server, consoles)
        assert ("alarm relay polling" in server.log.read_text()) == (path == "relay")
    finally:
        server.stop()


def test_stale_postgresql_schema_is_refused(tmp_path, pg_schemas):
    pg_or_skip()
    url = pg_schemas.new_url()
    migrate.upgrade(url, "0005")
    out = subprocess.run(
        [AWARE, "scheduler"],
        env={**os.environ, "AWARE_DATABASE_URL": url, "AWARE_INSTANCE_PATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "run `aware db upgrade`" in out.stderr


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("AWARE_SUPERVISION_INTERVALS", "tracker=120"),
        ("AWARE_SUPERVISION_INTERVAL_S", "-5"),
        ("AWARE_SCHEDULER_LEASE_S", "0.1"),
    ],
)
def test_bad_settings_stop_the_scheduler_naming_the_variable(var, value, tmp_path):
    out = subprocess.run(
        [AWARE, "scheduler"],
        env={**os.environ, "AWARE_INSTANCE_PATH": str(tmp_path), var: value},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and var in out.stderr
    assert not (tmp_path / "aware.db").exists()  # refused before touching anything
