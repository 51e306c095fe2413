"""Time to build a meeting agenda for a region with 500 active cases (SQLite and PostgreSQL).

Seeds a fresh, migrated database: a centrumgemeente with four member municipalities, 500
active cases spread over them, each with a screening, a third with an open action and a tenth
with high concern since the last meeting; a weekly region series. Then builds the agenda of
one meeting N times and prints p50 and max.

    .venv/bin/python bench/agenda.py [--runs 20] [--postgres URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, select, text

from aware import migrate
from aware.coordination import meetings
from aware.coordination.meeting_models import Meeting
from aware.coordination.meeting_schemas import SeriesCreate
from aware.coordination.reference_models import Municipality
from aware.db import make_engine, make_sessionmaker
from aware.risk.models import Assessment, Case, CaseAction

UTC = dt.UTC
NOW = dt.datetime(2027, 3, 1, 9, tzinfo=UTC)
REGION = ["9901", "9902", "9903", "9904", "9905"]


def seed(url: str, cases: int) -> int:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        for code in REGION:
            if s.get(Municipality, code) is None:
                s.add(Municipality(code=code, name=f"Bench {code}"))
        s.flush()
        for code in REGION:
            s.get(Municipality, code).centrumgemeente_code = REGION[0]  # type: ignore[union-attr]
        for n in range(cases):
            case = Case(
                reference=f"B-{n:04d}",
                municipality_code=REGION[n % len(REGION)],
                status="active",
                victim_name="Bench",
                concern="high" if n % 10 == 0 else "moderate",
                reassess_due=NOW + dt.timedelta(days=n % 40),
                created_at=NOW - dt.timedelta(days=60),
                updated_at=NOW,
            )
            s.add(case)
            s.flush()
            at = NOW - dt.timedelta(days=3 if n % 10 == 0 else 50)
            s.add(
                Assessment(
                    case_id=case.id,
                    instrument_id="s-dash-2009",
                    instrument_version="1",
                    answers={},
                    concern=case.concern or "moderate",
                    assessor_name="bench",
                    assessed_at=at,
                    reassess_due=at + dt.timedelta(days=7),
                    created_at=at,
                )
            )
            if n % 3 == 0:
                s.add(CaseAction(case_id=case.id, kind="x", title="open", opened_at=at))
        s.commit()
        body = SeriesCreate.model_validate(
            {
                "municipality": REGION[0],
                "title": "Regio-overleg",
                "rrule": "FREQ=WEEKLY;BYDAY=MO",
                "start_local": "2027-03-08T14:00",
                "duration_min": 120,
                "organisations": ["police", "vrouwenopvang", "veilig_thuis"],
                "region": True,
            }
        )
        series, _ = meetings.create_series(s, body, NOW, "bench")
        mid = s.scalars(
            select(Meeting.id).where(Meeting.series_id == series.id).order_by(Meeting.starts_at)
        ).first()
        assert mid is not None
    engine.dispose()
    return mid


def measure(url: str, runs: int, cases: int) -> None:
    migrate.upgrade(url)
    mid = seed(url, cases)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    times: list[float] = []
    size = 0
    for _ in range(runs):
        with sessions() as s:
            t = time.perf_counter()
            meeting = s.get(Meeting, mid)
            assert meeting is not None
            _codes, items, pending = meetings.build_agenda(s, meeting)
            times.append((time.perf_counter() - t) * 1000)
            size = len(items)
    engine.dispose()
    kind = url.split(":", 1)[0]
    print(
        f"{kind:22s} cases={cases} items={size} runs={runs} "
        f"p50={statistics.median(times):.1f} ms max={max(times):.1f} ms"
        + (f" (pending: {','.join(pending)})" if pending else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        measure(f"sqlite:///{Path(tmp) / 'agenda.db'}", args.runs, args.cases)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = create_engine(args.postgres, connect_args={"connect_timeout": 3})
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001 - a missing server only skips that half
        print(f"postgresql: skipped ({exc.__class__.__name__})")
        return
    try:
        sep = "&" if "?" in args.postgres else "?"
        measure(f"{args.postgres}{sep}options=-csearch_path%3D{schema}", args.runs, args.cases)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
