"""Time the municipality report (aware.reports.service.allocation_report) on SQLite and
PostgreSQL, over the data set of bench/seed_reports.py (10 municipalities, 5,000 cases,
100,000 alarms over 24 months).

    .venv/bin/python bench/reports.py                    # SQLite, and PostgreSQL if it answers
    .venv/bin/python bench/reports.py --runs 20 --postgres postgresql+psycopg://USER@HOST/DB
    .venv/bin/python bench/reports.py --no-postgres --explain

Each database is fresh: SQLite in a temp folder, PostgreSQL in a schema of its own
(`bench_reports_<random>`), both removed at the end whatever happens. For one municipality
(Utrecht) and for the region of 10, over the last 12 months and over all 24, the report runs
once to warm up and then --runs times, each in a new session; p50 and max are printed.
Target: max under 1 s. Exit status 0 when met, 1 when missed, 2 when the bench could not run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import seed_reports  # bench/ is on sys.path when this script runs
from sqlalchemy import create_engine, event, text

from aware.db import make_engine, make_sessionmaker

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGET_S = 1.0
AMSTERDAM_TODAY = seed_reports.NOW.date()


@contextmanager
def sqlite_database() -> Iterator[str]:
    folder = Path(tempfile.mkdtemp(prefix="aware-bench-reports-"))
    try:
        yield f"sqlite:///{folder / 'reports.db'}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def postgres_database(base: str) -> Iterator[str]:
    name = f"bench_reports_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        admin.dispose()


def postgres_answers(url: str) -> bool:
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def report_function() -> Callable[..., dict[str, Any]] | None:
    try:
        from aware.reports.service import allocation_report
    except ImportError:
        return None
    return allocation_report


def scenarios() -> list[tuple[str, list[str], dt.date, dt.date]]:
    region = list(seed_reports.REGION)
    last = AMSTERDAM_TODAY
    year = last - dt.timedelta(days=364)
    two = seed_reports.START.date()
    return [
        ("1 municipality, 12 months", [seed_reports.CENTRE], year, last),
        ("1 municipality, 24 months", [seed_reports.CENTRE], two, last),
        ("region of 10, 12 months", region, year, last),
        ("region of 10, 24 months", region, two, last),
    ]


def explain(url: str, report: Callable[..., dict[str, Any]]) -> None:
    """Print the time and plan of every statement of one region report over 24 months."""
    engine = make_engine(url)
    statements: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _keep(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append((statement, params))

    sessions = make_sessionmaker(engine)
    _, codes, start, end = scenarios()[-1]
    with sessions() as s:
        report(s, codes, start, end, seed_reports.NOW)
    event.remove(engine, "before_cursor_execute", _keep)
    prefix = "EXPLAIN QUERY PLAN " if url.startswith("sqlite") else "EXPLAIN ANALYZE "
    with engine.connect() as conn:
        for statement, params in statements:
            t0 = time.perf_counter()
            conn.exec_driver_sql(statement, params).fetchall()
            took = (time.perf_counter() - t0) * 1000
            rows = conn.exec_driver_sql(prefix + statement, params).fetchall()
            print(f"\n--- {took:.0f} ms: {' '.join(statement.split())[:160]}")
            for row in rows:
                print("   ", " | ".join(str(c) for c in row))
    engine.dispose()


def time_report(url: str, report: Callable[..., dict[str, Any]], runs: int) -> list[dict[str, Any]]:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    results = []
    try:
        for name, codes, start, end in scenarios():
            with sessions() as s:
                figures = report(s, codes, start, end, seed_reports.NOW)  # warm-up
            times = []
            for _ in range(runs):
                with sessions() as s:
                    t0 = time.perf_counter()
                    report(s, codes, start, end, seed_reports.NOW)
                    times.append(time.perf_counter() - t0)
            results.append(
                {
                    "name": name,
                    "p50": statistics.median(times),
                    "max": max(times),
                    "figures": figures,
                }
            )
    finally:
        engine.dispose()
    return results


def summary(figures: dict[str, Any]) -> str:
    """A few figures, to show the report saw the data (keys as the report names them)."""
    victims = figures.get("victims") or {}
    alarms = figures.get("alarms") or {}
    parts = []
    if "high_concern" in victims:
        parts.append(f"high concern {victims['high_concern']}")
    if isinstance(alarms, dict) and "total" in alarms:
        parts.append(f"alarms {alarms['total']}")
    return ", ".join(parts)


def bench(label: str, url: str, runs: int, seed: int, show_plans: bool) -> bool:
    t0 = time.perf_counter()
    seeded = seed_reports.seed(url, seed)
    took = time.perf_counter() - t0
    counts = seeded["counts"]
    print(
        f"\n{label}: seeded {counts['cases']:,} cases, {counts['alarms']:,} alarms, "
        f"{counts['allocations']:,} allocations, {counts['devices']:,} devices "
        f"in {took:.1f} s (migrate + build {seeded['build_s']:.1f} s + insert "
        f"{seeded['insert_s']:.1f} s)"
    )
    report = report_function()
    if report is None:
        print("  aware.reports.service.allocation_report is not there yet: seeding only")
        return True
    if show_plans:
        explain(url, report)
    ok = True
    for r in time_report(url, report, runs):
        met = r["max"] < TARGET_S
        ok = ok and met
        print(
            f"  {r['name']:28} p50 {r['p50'] * 1000:7.0f} ms   max {r['max'] * 1000:7.0f} ms"
            f"   {'ok' if met else 'OVER 1 s'}   {summary(r['figures'])}"
        )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres", default=PG_DEFAULT, help="server to make a schema on")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--explain", action="store_true", help="print every query plan")
    args = parser.parse_args(argv)
    ok = True
    try:
        if not args.no_sqlite:
            with sqlite_database() as url:
                ok = bench("SQLite", url, args.runs, args.seed, args.explain) and ok
        if not args.no_postgres:
            if not postgres_answers(args.postgres):
                print(f"\nPostgreSQL at {args.postgres} does not answer: skipped")
            else:
                with postgres_database(args.postgres) as url:
                    ok = bench("PostgreSQL", url, args.runs, args.seed, args.explain) and ok
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the bench could not run
        print(f"bench failed: {exc!r}", file=sys.stderr)
        return 2
    print(f"\ntarget: every report under {TARGET_S:.0f} s -> {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
