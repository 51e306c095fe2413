"""Scheduler take-over time after SIGKILL, on PostgreSQL and SQLite.

Two `aware scheduler` processes share one database; the holder is killed with SIGKILL and the
take-over time is measured from the kill to the first job run by the other process (read from
`scheduler_runs`; supervision ticks every second here). Several runs per database, p50 / max.

    .venv/bin/python bench/scheduler_takeover.py --runs 5
    .venv/bin/python bench/scheduler_takeover.py --runs 5 --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, select, text

from aware import migrate
from aware.scheduler.models import SchedulerRun

AWARE = str(Path(sys.executable).parent / "aware")


def _runs_by(engine: object, holder: str) -> int:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return len(conn.execute(select(SchedulerRun.id).where(SchedulerRun.holder == holder)).all())


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen([AWARE, "scheduler"], env=env, stdout=out, stderr=subprocess.STDOUT)


def _holder(log: Path, needle: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if needle in line:
                return line.split("scheduler ", 1)[1].split(" ", 1)[0]
        time.sleep(0.02)
    raise RuntimeError(f"{needle!r} not in {log}")


def one_run(url: str, lease_s: float, folder: Path) -> float:
    env = {
        **os.environ,
        "AWARE_DATABASE_URL": url,
        "AWARE_INSTANCE_PATH": str(folder),
        "AWARE_SUPERVISION_INTERVAL_S": "3",
        "AWARE_SCHEDULER_LEASE_S": str(lease_s),
        "AWARE_LOG_LEVEL": "INFO",
    }
    tag = uuid.uuid4().hex[:6]
    log_a, log_b = folder / f"a-{tag}.log", folder / f"b-{tag}.log"
    a = _start(env, log_a)
    _holder(log_a, "holds the lease")
    b = _start(env, log_b)
    holder_b = _holder(log_b, " starting")
    _holder(log_b, "waiting: the scheduler lease is held by")
    engine = create_engine(url)
    try:
        time.sleep(lease_s / 3 + 0.5)  # at least one renewal by A
        a.send_signal(signal.SIGKILL)
        t0 = time.monotonic()
        a.wait()
        while _runs_by(engine, holder_b) == 0:
            if time.monotonic() - t0 > 60:
                raise RuntimeError("no take-over within 60 s")
            time.sleep(0.01)
        took = time.monotonic() - t0
    finally:
        engine.dispose()
        b.terminate()
        b.wait(timeout=20)
        if a.poll() is None:
            a.kill()
    return took


def _pg_schema_url(pg_url: str) -> tuple[str, str]:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    engine.dispose()
    sep = "&" if "?" in pg_url else "?"
    return f"{pg_url}{sep}options=-csearch_path%3D{name}", name


def report(name: str, times: list[float]) -> None:
    ms = sorted(t * 1000 for t in times)
    print(
        f"{name:<34} runs={len(ms)}  p50={statistics.median(ms):7.0f} ms  "
        f"max={ms[-1]:7.0f} ms  all={[round(x) for x in ms]}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sqlite-lease-s", type=float, default=15.0)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "AWARE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--skip-pg", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if not args.skip_pg:
            url, schema = _pg_schema_url(args.pg_url)
            try:
                migrate.upgrade(url)
                times = [one_run(url, 15.0, folder) for _ in range(args.runs)]
                report("PostgreSQL (advisory lock)", times)
            finally:
                engine = create_engine(args.pg_url)
                with engine.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                engine.dispose()
        url = f"sqlite:///{folder / 'aware.db'}"
        migrate.upgrade(url)
        times = [one_run(url, args.sqlite_lease_s, folder) for _ in range(args.runs)]
        report(f"SQLite (lease row, {args.sqlite_lease_s:g} s)", times)


if __name__ == "__main__":
    main()
