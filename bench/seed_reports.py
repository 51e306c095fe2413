"""Seed a database for the municipality report bench: a region of 10 municipalities, 5,000
cases, 100,000 alarms over 24 months (SQLite file or PostgreSQL).

    AWARE_DATABASE_URL=sqlite:////tmp/reports.db .venv/bin/python bench/seed_reports.py
    .venv/bin/python bench/seed_reports.py --database-url postgresql+psycopg://...  [--seed 7]

The database is migrated first (`aware db upgrade`) and must hold no cases yet. Everything is
written with Core inserts of lists (executemany), table by table, in one transaction.

What is seeded (deterministic for a given --seed):
- 10 real municipalities of the province of Utrecht (CBS codes from aware/data), made one
  region with Utrecht (0344) as its centrumgemeente, cases spread by rough population weights;
- per municipality a police unit, Veilig Thuis, a shelter and a wijkteam, plus the region's OM
  and reclassering, each with a contact person;
- 5,000 cases created over 24 months (status referred/waiting/active/ended) with 1-3 screenings
  each (concern mix 35% high, 35% moderate, 25% low, 5% not screened);
- applications for 85% of high and 10% of moderate cases, in every state (applied,
  waiting_list, refused, granted, active, ended with and without a completed handover), their
  decisions (waiting list first for some), reviews and a few extensions;
- devices: a victim alarm per connected allocation (linked while active, unlinked at the end),
  a tracker for half of the active ones, 15 spares per municipality; stock status of devices not
  linked: 75% in stock, 15% defective, 10% lost;
- location and contact bans on 40% of the connected cases;
- 100,000 alarms on the connected cases, within their allocation's time, with a type mix, an
  outcome per type and acceptance times (log-normal, median about 6 s, a tail past 40 s); the
  last few days hold open and acknowledged ones.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, func, select, update

from aware import migrate
from aware.alarms import rules
from aware.alarms.services import SEQ
from aware.db import Base, make_engine

UTC = dt.UTC
# The report's "now" in the bench: fixed, so figures repeat run after run.
NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
MONTHS = 24
START = NOW - dt.timedelta(days=round(MONTHS * 30.44))
CENTRE = "0344"
# Utrecht region (CBS codes), with rough population weights.
REGION = {
    "0344": 36,
    "0307": 16,
    "0355": 6.5,
    "0356": 6.5,
    "0345": 6.7,
    "0321": 5,
    "0310": 4.4,
    "0353": 3.5,
    "0340": 2,
    "0351": 1.4,
}
CASES = 5000
ALARMS = 100_000
SPARES_PER_MUNICIPALITY = 15

ALARM_TYPES = {  # share of all alarms
    "test": 0.28,
    "battery_low": 0.15,
    "device_offline": 0.12,
    "sos": 0.15,
    "tamper": 0.03,
    "zone_violation": 0.10,
    "proximity_violation": 0.05,
    "proximity_warning": 0.12,
}
OUTCOMES = {  # outcome mix per type, once resolved
    "test": {"test": 1.0},
    "battery_low": {"technical": 0.9, "false_alarm": 0.1},
    "device_offline": {"technical": 1.0},
    "sos": {"genuine": 0.3, "false_alarm": 0.6, "test": 0.1},
    "tamper": {"genuine": 0.2, "technical": 0.6, "false_alarm": 0.2},
    "zone_violation": {"genuine": 0.5, "false_alarm": 0.4, "technical": 0.1},
    "proximity_violation": {"genuine": 0.55, "false_alarm": 0.35, "technical": 0.1},
    "proximity_warning": {"genuine": 0.3, "false_alarm": 0.6, "technical": 0.1},
}
REFUSAL_REASONS = [
    "Risico onvoldoende onderbouwd",
    "Slachtoffer wil geen alarm",
    "Andere maatregel passender",
    "Geen ondersteuningstraject beschikbaar",
]
END_REASONS = ["risk_reduced", "perpetrator_detained", "moved", "victim_declined", "other"]


def table(name: str) -> Table:
    import aware.models  # noqa: F401  (every table in the metadata)

    return Base.metadata.tables[name]


def pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def between(rng: random.Random, a: dt.datetime, b: dt.datetime) -> dt.datetime:
    if b <= a:
        return a
    return a + dt.timedelta(seconds=rng.uniform(0, (b - a).total_seconds()))


@dataclass
class Rows:
    """Every row to insert, per table, in insertion order."""

    by_table: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, name: str, row: dict[str, Any]) -> int:
        rows = self.by_table.setdefault(name, [])
        rows.append(row)
        row.setdefault("id", len(rows))
        return int(row["id"])


def _organisations(rows: Rows) -> dict[str, dict[str, int]]:
    orgs: dict[str, dict[str, int]] = {}
    for code in REGION:
        orgs[code] = {}
        for kind, name in (
            ("police", "Politie basisteam"),
            ("veilig_thuis", "Veilig Thuis"),
            ("vrouwenopvang", "Vrouwenopvang"),
            ("wijkteam", "Wijkteam"),
        ):
            oid = rows.add(
                "organisations",
                {
                    "name": f"{name} {code}",
                    "type": kind,
                    "municipality_code": code,
                    "active": True,
                    "created_at": START,
                },
            )
            orgs[code][kind] = oid
    for kind, name in (
        ("om", "OM arrondissement Midden-Nederland"),
        ("reclassering", "Reclassering"),
    ):
        oid = rows.add(
            "organisations",
            {
                "name": name,
                "type": kind,
                "municipality_code": CENTRE,
                "active": True,
                "created_at": START,
            },
        )
        for code in REGION:
            orgs[code][kind] = oid
    contacts = {}
    for org in rows.by_table["organisations"]:
        contacts[org["id"]] = rows.add(
            "contact_persons",
            {"organisation_id": org["id"], "name": f"Contact {org['id']}", "active": True},
        )
    for code in REGION:
        orgs[code]["support_contact"] = contacts[orgs[code]["vrouwenopvang"]]
    return orgs


def build(seed: int) -> Rows:
    """All rows of the data set, in memory (a few seconds)."""
    rng = random.Random(seed)
    rows = Rows()
    orgs = _organisations(rows)
    serial = 0

    def device(code: str, kind: str, created: dt.datetime, status: str = "in_stock") -> int:
        nonlocal serial
        serial += 1
        sn = f"BENCH-{'V' if kind == 'victim_alarm' else 'T'}-{serial:06d}"
        return rows.add(
            "devices",
            {
                "serial": sn,
                "kind": kind,
                "token_hash": hashlib.sha256(sn.encode()).hexdigest(),
                "active": True,
                "created_at": created,
                "status": status,
                "municipality_code": code,
            },
        )

    def stock_status() -> str:
        return pick(rng, {"in_stock": 0.75, "defective": 0.15, "lost": 0.10})

    connected: list[dict[str, Any]] = []  # allocations with a device: alarms go there
    for i in range(CASES):
        code = pick(rng, REGION)
        concern = pick(rng, {"high": 0.35, "moderate": 0.35, "low": 0.25, "none": 0.05})
        created = between(rng, START, NOW - dt.timedelta(days=2))
        alloc_status: str | None = None
        if (concern == "high" and rng.random() < 0.85) or (
            concern == "moderate" and rng.random() < 0.10
        ):
            alloc_status = pick(
                rng,
                {
                    "applied": 0.06,
                    "waiting_list": 0.09,
                    "refused": 0.12,
                    "granted": 0.05,
                    "active": 0.36,
                    "ended": 0.32,
                },
            )
        # Times of the chain; a chain that would reach past NOW is moved back in time as a whole.
        applied = created + dt.timedelta(days=rng.uniform(0.5, 20))
        decided = applied + dt.timedelta(days=rng.lognormvariate(math.log(8), 0.6))
        connected_at = decided + dt.timedelta(days=rng.lognormvariate(math.log(5), 0.7))
        ended = connected_at + dt.timedelta(days=rng.uniform(90, 330))
        last = {
            None: created,
            "applied": applied,
            "waiting_list": decided,
            "refused": decided,
            "granted": decided,
            "active": connected_at,
            "ended": ended,
        }[alloc_status]
        if last > NOW - dt.timedelta(hours=1):
            shift = last - (NOW - dt.timedelta(hours=rng.uniform(1, 24 * 20)))
            created, applied, decided, connected_at, ended = (
                t - shift for t in (created, applied, decided, connected_at, ended)
            )
        case_status = {
            None: pick(rng, {"referred": 0.5, "waiting": 0.2, "ended": 0.3}),
            "applied": "waiting",
            "waiting_list": "waiting",
            "refused": pick(rng, {"ended": 0.6, "referred": 0.4}),
            "granted": "active",
            "active": "active",
            "ended": "ended",
        }[alloc_status]
        updated = ended if alloc_status == "ended" else between(rng, created, NOW)
        case_id = rows.add(
            "cases",
            {
                "reference": f"BENCH-{i:05d}",
                "municipality_code": code,
                "status": case_status,
                "referral_source": pick(
                    rng, {"police": 0.5, "veilig_thuis": 0.3, "vrouwenopvang": 0.15, "other": 0.05}
                ),
                "ex_partner": rng.random() < 0.8,
                "victim_name": f"Bench Slachtoffer {i}",
                "victim_phone": f"+3161{i:07d}",
                "victim_address": f"Benchstraat {i}, {code}",
                "victim_sms": False,
                "perpetrator_name": f"Bench Pleger {i}",
                "concern": None if concern == "none" else concern,
                "reassess_due": None,
                "eligible_aware": concern == "high",
                "created_at": created,
                "updated_at": max(updated, created),
            },
        )
        if concern != "none":
            screenings = rng.randint(1, 3)
            for k in range(screenings):
                at = created + dt.timedelta(days=k * rng.uniform(7, 60))
                level = (
                    concern
                    if k == screenings - 1
                    else pick(rng, {"high": 0.4, "moderate": 0.4, "low": 0.2})
                )
                rows.add(
                    "assessments",
                    {
                        "case_id": case_id,
                        "instrument_id": "s-dash-2009",
                        "instrument_version": "2009",
                        "answers": {
                            str(n): rng.choice(("yes", "no", "unknown")) for n in range(1, 12)
                        },
                        "concern": level,
                        "assessor_name": "bench",
                        "organisation": "police",
                        "assessed_at": min(at, NOW),
                        "reassess_due": min(at, NOW)
                        + dt.timedelta(days=7 if level == "high" else 30),
                        "created_at": min(at, NOW),
                    },
                )
        if alloc_status is None:
            continue
        referrer = orgs[code][pick(rng, {"police": 0.5, "veilig_thuis": 0.3, "vrouwenopvang": 0.2})]
        alloc: dict[str, Any] = {
            "case_id": case_id,
            "status": alloc_status,
            "referring_organisation_id": referrer,
            "reason": "Hoog risico volgens screening",
            "concern": "high" if concern == "high" else "moderate",
            "applied_at": applied,
            "applied_by": "bench",
            "updated_at": applied,
        }
        alloc_id = rows.add("allocations", alloc)
        decisions: list[tuple[str, dt.datetime, str | None]] = []
        if alloc_status == "waiting_list":
            decisions.append(("waiting_list", decided, "Wachtlijst: geen toestel beschikbaar"))
        elif alloc_status != "applied":
            if rng.random() < 0.2:  # waited first
                wl = applied + (decided - applied) / 2
                decisions.append(("waiting_list", wl, "Wachtlijst: geen toestel beschikbaar"))
            outcome = "refused" if alloc_status == "refused" else "granted"
            decisions.append(
                (outcome, decided, rng.choice(REFUSAL_REASONS) if outcome == "refused" else None)
            )
        for outcome, at, reasons in decisions:
            rows.add(
                "allocation_decisions",
                {
                    "allocation_id": alloc_id,
                    "outcome": outcome,
                    "reasons": reasons,
                    "members": [{"organisation_id": orgs[code]["police"], "name": None}],
                    "decided_at": at,
                    "recorded_by": "bench",
                    "recorded_at": at,
                },
            )
        if decisions:
            alloc.update(
                decision=decisions[-1][0], decided_at=decisions[-1][1], updated_at=decisions[-1][1]
            )
        if alloc_status in ("granted", "active", "ended"):
            alloc.update(
                support_organisation_id=orgs[code]["vrouwenopvang"],
                support_contact_person_id=orgs[code]["support_contact"],
                support_set_at=decided,
            )
        if alloc_status not in ("active", "ended"):
            continue
        term_ends = connected_at + dt.timedelta(days=182)
        victim_dev = device(code, "victim_alarm", connected_at - dt.timedelta(days=30))
        alloc.update(
            device_id=victim_dev,
            connected_at=connected_at,
            term_ends_at=term_ends,
            updated_at=connected_at,
        )
        for n in (1, 2, 3, 4):
            due = connected_at + dt.timedelta(days=91 * n)
            if due >= term_ends + dt.timedelta(days=91):
                break
            rows.add(
                "allocation_reviews",
                {
                    "allocation_id": alloc_id,
                    "due_at": due,
                    "done_at": due + dt.timedelta(days=2)
                    if due + dt.timedelta(days=2) < NOW
                    else None,
                    "done_by": "bench" if due + dt.timedelta(days=2) < NOW else None,
                },
            )
        end_at = ended if alloc_status == "ended" else None
        if end_at is not None and end_at > term_ends:
            rows.add(
                "allocation_extensions",
                {
                    "allocation_id": alloc_id,
                    "previous_ends_at": term_ends,
                    "new_ends_at": end_at,
                    "reason": "Dreiging houdt aan",
                    "extended_at": term_ends - dt.timedelta(days=20),
                    "extended_by": "bench",
                },
            )
            alloc["term_ends_at"] = end_at
        rows.add(
            "case_devices",
            {
                "case_id": case_id,
                "device_id": victim_dev,
                "role": "victim",
                "linked_at": connected_at,
                "unlinked_at": end_at,
            },
        )
        tracker = None
        if rng.random() < 0.5:
            tracker = device(code, "perpetrator_tracker", connected_at - dt.timedelta(days=30))
            rows.add(
                "case_devices",
                {
                    "case_id": case_id,
                    "device_id": tracker,
                    "role": "perpetrator",
                    "linked_at": connected_at,
                    "unlinked_at": end_at,
                },
            )
        if end_at is not None:
            # Returned devices go back to stock, some broken or never returned.
            rows.by_table["devices"][victim_dev - 1]["status"] = stock_status()
            if tracker is not None:
                rows.by_table["devices"][tracker - 1]["status"] = stock_status()
            handed_over = rng.random() < 0.7 and end_at + dt.timedelta(days=14) < NOW
            alloc.update(
                ended_at=end_at,
                end_reason=rng.choice(END_REASONS),
                ended_by="bench",
                handover_organisation_id=orgs[code]["wijkteam"],
                handover_planned_on=(end_at + dt.timedelta(days=7)).date(),
                handover_completed_at=end_at + dt.timedelta(days=rng.uniform(3, 14))
                if handed_over
                else None,
                handover_completed_by="bench" if handed_over else None,
                updated_at=end_at,
            )
        bans: list[int] = []
        if rng.random() < 0.4:
            for _ in range(rng.randint(1, 2)):
                kind = rng.choice(("location", "contact"))
                bans.append(
                    rows.add(
                        "bans",
                        {
                            "case_id": case_id,
                            "kind": kind,
                            "zones": [
                                {"type": "Point", "coordinates": [5.12, 52.09], "radius_m": 500}
                            ]
                            if kind == "location"
                            else None,
                            "distance_m": 500.0 if kind == "contact" else None,
                            "warning_margin_m": 500.0 if kind == "contact" else None,
                            "valid_from": connected_at,
                            "valid_until": connected_at + dt.timedelta(days=365),
                            "legal_basis": "509hh Sv",
                            "created_at": connected_at,
                            "ended_at": end_at,
                        },
                    )
                )
        connected.append(
            {
                "case_id": case_id,
                "victim": victim_dev,
                "tracker": tracker,
                "bans": bans,
                "from": connected_at,
                "to": end_at or NOW,
            }
        )
    for code in REGION:
        for _ in range(SPARES_PER_MUNICIPALITY):
            device(code, "victim_alarm", START, stock_status())
    _alarms(rng, rows, connected)
    return rows


def _ack_seconds(rng: random.Random) -> float:
    # Log-normal around 6 s; about 3% past 40 s.
    return min(rng.lognormvariate(math.log(6), 0.8), 3600.0)


def _alarms(rng: random.Random, rows: Rows, connected: list[dict[str, Any]]) -> None:
    # Alarms per allocation in proportion to its connected time.
    weights = [(c["to"] - c["from"]).total_seconds() for c in connected]
    targets = rng.choices(connected, weights=weights, k=ALARMS)
    alarms = []
    for target in targets:
        kind = pick(rng, ALARM_TYPES)
        received = between(rng, target["from"], target["to"])
        violation = kind in ("zone_violation", "proximity_violation", "proximity_warning")
        dev = target["tracker"] if violation and target["tracker"] else target["victim"]
        row: dict[str, Any] = {
            "type": kind,
            "priority": rules.priority_for(kind),
            "device_id": dev,
            "case_id": target["case_id"],
            "ban_id": rng.choice(target["bans"]) if violation and target["bans"] else None,
            "occurred_at": received - dt.timedelta(seconds=rng.uniform(0.2, 3)),
            "received_at": received,
            "delivered_at": received + dt.timedelta(seconds=0.3),
        }
        age = (NOW - received).total_seconds()
        ack = _ack_seconds(rng)
        if age < 3 * 86400 and rng.random() < 0.05:
            row["status"] = "open"
        else:
            row.update(
                status="acknowledged" if age < 3 * 86400 and rng.random() < 0.1 else "resolved",
                acknowledged_at=received + dt.timedelta(seconds=ack),
                acknowledged_by="bench-dispatcher",
            )
            if row["status"] == "resolved":
                row.update(
                    resolved_at=received + dt.timedelta(seconds=ack + rng.uniform(30, 1800)),
                    resolved_by="bench-dispatcher",
                    outcome=pick(rng, OUTCOMES[kind]),
                )
        alarms.append(row)
    # seq follows the order of receipt, as on the alarm path.
    alarms.sort(key=lambda r: r["received_at"])
    for seq, row in enumerate(alarms, start=1):
        row["seq"] = seq
        rows.add("alarms", row)


ORDER = [
    "organisations",
    "contact_persons",
    "cases",
    "assessments",
    "devices",
    "allocations",
    "allocation_decisions",
    "allocation_reviews",
    "allocation_extensions",
    "case_devices",
    "bans",
    "alarms",
]


def _fill(rows: list[dict[str, Any]], columns: list[str]) -> list[dict[str, Any]]:
    # executemany needs the same keys in every row.
    return [{c: r.get(c) for c in columns} for r in rows]


def insert(conn: Connection, rows: Rows, batch: int = 5000) -> dict[str, int]:
    """Insert every table with Core executemany; ids are the seeded ones."""
    counts = {}
    for name in ORDER:
        tbl = table(name)
        data = rows.by_table.get(name, [])
        keys = sorted({k for r in data for k in r})
        cols = [c.key for c in tbl.columns if c.key in keys]
        data = _fill(data, cols)
        for i in range(0, len(data), batch):
            conn.execute(tbl.insert(), data[i : i + batch])
        counts[name] = len(data)
    # Region: Utrecht is the centrumgemeente of all ten (bench database only).
    conn.execute(
        update(table("municipalities"))
        .where(table("municipalities").c.code.in_(list(REGION)))
        .values(centrumgemeente_code=CENTRE)
    )
    counters = table("counters")
    conn.execute(counters.delete().where(counters.c.name == SEQ))
    conn.execute(counters.insert().values(name=SEQ, value=counts["alarms"]))
    if conn.dialect.name == "postgresql":
        # Explicit ids: move each sequence past them so the app can insert afterwards.
        for name in ORDER:
            tbl = table(name)
            top = select(func.coalesce(func.max(tbl.c.id), 1)).scalar_subquery()
            conn.execute(select(func.setval(func.pg_get_serial_sequence(name, "id"), top)))
    # Fresh statistics, as autovacuum would have them on a live database.
    conn.exec_driver_sql("ANALYZE")
    return counts


def seed(url: str, seed_value: int = 7) -> dict[str, Any]:
    """Migrate and seed the database at `url`; returns row counts and timings in seconds."""
    migrate.upgrade(url)
    t0 = time.perf_counter()
    rows = build(seed_value)
    t_build = time.perf_counter() - t0
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            if conn.scalar(select(func.count()).select_from(table("cases"))):
                raise SystemExit("the database already holds cases: seed a fresh one")
            t1 = time.perf_counter()
            counts = insert(conn, rows)
        t_insert = time.perf_counter() - t1
    finally:
        engine.dispose()
    return {"counts": counts, "build_s": t_build, "insert_s": t_insert}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("AWARE_DATABASE_URL"))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("give --database-url or set AWARE_DATABASE_URL")
    result = seed(args.database_url, args.seed)
    for name, n in result["counts"].items():
        print(f"{name:24} {n:>8,}")
    print(f"built in {result['build_s']:.1f} s, inserted in {result['insert_s']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
