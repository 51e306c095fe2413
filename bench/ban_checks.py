"""Ban checks: what judging a perpetrator's positions against location bans costs.

Two parts, one run:

1. In-process (no server, no database): the zones are parsed with `geometry.parse_zone` and
   indexed in a `BanIndex`, then each fix goes through `to_rd` + `judge_zone`, as on the intake
   path. Two fix sets: random fixes in the zones' box (inside some zones too) and the fixes of
   part 2 (outside every zone). Prints build time and positions per second.
2. Through the server: `aware serve` (SQLite, temp instance folder) as a subprocess. Per
   scenario a case with a fresh perpetrator tracker and victim alarm, plus its location ban(s).
   Batches of `position` events (outside every zone: no alarm storm) and of `heartbeat` events
   (no position, so no checks) are posted to /api/v1/ingest, interleaved over the scenarios,
   and compared with the positions of a tracker whose case has no bans.

Scenarios: 1, 100 and 10,000 circles (random around Utrecht, radius 50-500 m), one
2,000-vertex polygon, and that polygon plus 200 circles.

Targets: with the 2,000-vertex polygon + 200 circles the checks add at most 50 % to ingest time
(median batch time of positions vs positions of the case without bans); the per-position cost
of the checks grows sub-linearly with the number of zones (1 -> 100 -> 10,000, in-process).

    .venv/bin/python bench/ban_checks.py [--batches 10] [--batch-size 500] [--fixes 20000]

Exit status: 0 targets met, 1 a target missed, 2 the bench could not run, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import requests
import shapely
from harness import PASSWORD, BenchError, Server, aware_command, clean_env, run_checked

from aware.risk import geometry

HTTP_TIMEOUT_S = 120.0
TARGET_OVERHEAD = 0.50

UTRECHT = (5.1214, 52.0907)  # lon, lat
ZONE_BOX = (5.0, 52.0, 5.3, 52.2)  # lon min, lat min, lon max, lat max: where circles go
FIX_BOX = (4.95, 51.97, 5.35, 52.23)  # the zone box plus 2-3 km on every side
RADIUS_M = (50.0, 500.0)
POLYGON_VERTICES = 2000
POLYGON_RADIUS_M = 3000.0
POLYGON_WOBBLE_M = 700.0  # r(t) = 3000 + 700 sin(20 t): a flower with 20 petals
POLYGON_PETALS = 20
ACCURACY_M = (5.0, 25.0)
CLEARANCE_M = 60.0  # server fixes are this far from every zone: > accuracy + hysteresis (25 m)
MAX_ZONES_PER_BAN = 10_000  # BanCreate.zones max_length
MAX_BAN_BODY = 900_000  # bytes; the server refuses bodies over 1 MiB
SAMPLE_CHUNK = 20_000
SAMPLE_ROUNDS = 50

_TO_RD = pyproj.Transformer.from_crs(4326, 28992, always_xy=True)
_TO_WGS84 = pyproj.Transformer.from_crs(28992, 4326, always_xy=True)


# --------------------------------------------------------------------------------------------
# Scenarios and fixes
# --------------------------------------------------------------------------------------------


@dataclass
class Scenario:
    key: str
    label: str
    zones: list[dict[str, Any]]
    circles: int = 0
    polygons: int = 0
    # filled by the in-process part
    index: geometry.BanIndex[Any] | None = None
    vertices: int = 0
    parse_ms: float = 0.0
    index_ms: float = 0.0
    us_box: float = math.nan
    hits_box: float = math.nan
    us_out: float = math.nan
    hits_out: float = math.nan
    outside: list[tuple[float, float, float]] = field(default_factory=list)


def circle_zones(rng: random.Random, n: int) -> list[dict[str, Any]]:
    lon0, lat0, lon1, lat1 = ZONE_BOX
    return [
        {
            "type": "Point",
            "coordinates": [round(rng.uniform(lon0, lon1), 6), round(rng.uniform(lat0, lat1), 6)],
            "radius_m": round(rng.uniform(*RADIUS_M), 1),
        }
        for _ in range(n)
    ]


def flower_polygon() -> dict[str, Any]:
    """A simple (star-shaped, so not self-intersecting) polygon of 2,000 vertices, ~3 km."""
    cx, cy = _TO_RD.transform(*UTRECHT)
    t = np.arange(POLYGON_VERTICES) * (2 * math.pi / POLYGON_VERTICES)
    r = POLYGON_RADIUS_M + POLYGON_WOBBLE_M * np.sin(POLYGON_PETALS * t)
    lon, lat = _TO_WGS84.transform(cx + r * np.cos(t), cy + r * np.sin(t))
    ring = [[round(float(a), 7), round(float(b), 7)] for a, b in zip(lon, lat, strict=True)]
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def make_scenarios(rng: random.Random) -> list[Scenario]:
    polygon = flower_polygon()
    return [
        Scenario("c1", "1 circle", circle_zones(rng, 1), circles=1),
        Scenario("c100", "100 circles", circle_zones(rng, 100), circles=100),
        Scenario("c10000", "10,000 circles", circle_zones(rng, 10_000), circles=10_000),
        Scenario("poly", "2,000-vertex polygon", [polygon], polygons=1),
        Scenario(
            "poly200",
            "polygon + 200 circles",
            [polygon, *circle_zones(rng, 200)],
            circles=200,
            polygons=1,
        ),
    ]


def random_fixes(rng: random.Random, n: int, box: tuple[float, ...]) -> list[tuple[float, ...]]:
    lon0, lat0, lon1, lat1 = box
    return [
        (rng.uniform(lon0, lon1), rng.uniform(lat0, lat1), rng.uniform(*ACCURACY_M))
        for _ in range(n)
    ]


def polygon_box() -> tuple[float, float, float, float]:
    """lon/lat box around the polygon's disc (radius + wobble)."""
    cx, cy = _TO_RD.transform(*UTRECHT)
    r = POLYGON_RADIUS_M + POLYGON_WOBBLE_M
    lon0, lat0 = _TO_WGS84.transform(cx - r, cy - r)
    lon1, lat1 = _TO_WGS84.transform(cx + r, cy + r)
    return (lon0, lat0, lon1, lat1)


def outside_fixes(
    rng: random.Random, scenario: Scenario, n: int
) -> list[tuple[float, float, float]]:
    """n fixes at least CLEARANCE_M from every zone: half drawn in the city centre (the
    polygon's box), half in the wider region; rejection sampling, bounded. When too few are
    found (10,000 circles cover the zone box several times over) the ones found are reused."""
    assert scenario.index is not None
    geoms = np.array([scenario.index.zone(k).geometry_rd for k in _keys(scenario)], dtype=object)
    tree = shapely.STRtree(geoms)
    found: list[tuple[float, float, float]] = []
    boxes = (polygon_box(), FIX_BOX)
    for round_no in range(SAMPLE_ROUNDS):
        cand = random_fixes(rng, SAMPLE_CHUNK, boxes[round_no % 2])
        lon = np.array([c[0] for c in cand])
        lat = np.array([c[1] for c in cand])
        x, y = _TO_RD.transform(lon, lat)
        points = shapely.points(x, y)
        hit = tree.query(points, predicate="dwithin", distance=CLEARANCE_M)[0]
        bad = np.zeros(len(cand), dtype=bool)
        bad[hit] = True
        found.extend(c for c, b in zip(cand, bad, strict=True) if not b)
        if len(found) >= n and round_no >= 1:
            break
    if not found:
        raise BenchError(f"{scenario.label}: no fix outside every zone found")
    rng.shuffle(found)
    return [found[i % len(found)] for i in range(n)]


def _keys(scenario: Scenario) -> list[tuple[int, int]]:
    return [(0, i) for i in range(len(scenario.zones))]


# --------------------------------------------------------------------------------------------
# Part 1: in-process
# --------------------------------------------------------------------------------------------


def check_rate(
    index: geometry.BanIndex[Any], fixes: list[tuple[float, ...]]
) -> tuple[float, float]:
    """(microseconds per fix for to_rd + judge_zone, mean zones judged per fix)."""
    judged = 0
    t0 = time.perf_counter()
    for lon, lat, acc in fixes:
        judged += len(geometry.judge_zone(geometry.to_rd(lon, lat), acc, index))
    elapsed = time.perf_counter() - t0
    return elapsed / len(fixes) * 1e6, judged / len(fixes)


def in_process(scenarios: list[Scenario], box_fixes: list[tuple[float, ...]]) -> None:
    for s in scenarios:
        t0 = time.perf_counter()
        parsed = [((0, i), geometry.parse_zone(z, f"zones.{i}")) for i, z in enumerate(s.zones)]
        t1 = time.perf_counter()
        s.index = geometry.BanIndex(parsed)
        t2 = time.perf_counter()
        s.parse_ms, s.index_ms = (t1 - t0) * 1000, (t2 - t1) * 1000
        s.vertices = sum(int(shapely.get_num_coordinates(z.geometry_rd)) for _, z in parsed)
        s.us_box, s.hits_box = check_rate(s.index, box_fixes)


def in_process_outside(scenarios: list[Scenario], n: int) -> None:
    for s in scenarios:
        assert s.index is not None
        s.us_out, s.hits_out = check_rate(s.index, s.outside[:n])


def growth(scenarios: list[Scenario]) -> tuple[float, float, float, bool]:
    """Per-position cost ratios 1->100, 100->10,000, 1->10,000 zones and the verdict."""
    by = {s.key: s.us_box for s in scenarios}
    r1 = by["c100"] / by["c1"]
    r2 = by["c10000"] / by["c100"]
    total = by["c10000"] / by["c1"]
    return r1, r2, total, r1 < 100 and r2 < 100


# --------------------------------------------------------------------------------------------
# Part 2: through the server
# --------------------------------------------------------------------------------------------


def iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Api:
    """The few calls the bench makes, as a coordinator (setup) or a device (ingest)."""

    def __init__(self, server: Server):
        self.server = server
        self.http = requests.Session()
        self.coordinator: dict[str, str] = {}
        self.dispatcher: dict[str, str] = {}

    def call(self, method: str, path: str, expect: int, **kw: Any) -> Any:
        try:
            resp = self.http.request(
                method, f"{self.server.base_url}{path}", timeout=HTTP_TIMEOUT_S, **kw
            )
        except requests.RequestException as exc:
            raise BenchError(f"{method} {path}: {exc}\n{self.server.log_tail()}") from None
        if resp.status_code != expect:
            raise BenchError(f"{method} {path}: HTTP {resp.status_code} {resp.text[:300]}")
        return resp.json()

    def login(self) -> None:
        for attr, name in (("coordinator", "bench-coord"), ("dispatcher", "bench-disp")):
            body = {"username": name, "password": PASSWORD}
            token = self.call("POST", "/api/v1/auth/token", 200, json=body)["token"]
            setattr(self, attr, {"Authorization": f"Bearer {token}"})


@dataclass
class Target:
    """One case on the server: its tracker, its bans, and what its batches took."""

    key: str
    label: str
    zones: int
    fixes: list[tuple[float, float, float]]
    token: str = ""
    case_id: int = 0
    bans: int = 0
    ban_post_ms: float = 0.0
    bodies: dict[str, list[bytes]] = field(default_factory=dict)
    cold_ms: dict[str, float] = field(default_factory=dict)
    ms: dict[str, list[float]] = field(default_factory=lambda: {"position": [], "heartbeat": []})
    alarms: int = 0

    def median_ms(self, kind: str) -> float:
        return statistics.median(self.ms[kind])


def ban_chunks(zones: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Zones split over as few bans as the limits allow (10,000 zones, body under 1 MiB)."""
    chunks: list[list[dict[str, Any]]] = [[]]
    size = 0
    for zone in zones:
        n = len(json.dumps(zone)) + 2
        if chunks[-1] and (len(chunks[-1]) >= MAX_ZONES_PER_BAN or size + n > MAX_BAN_BODY):
            chunks.append([])
            size = 0
        chunks[-1].append(zone)
        size += n
    return chunks


def set_up_target(api: Api, target: Target, zones: list[dict[str, Any]], tag: str) -> None:
    case = api.call(
        "POST",
        "/api/v1/cases",
        201,
        headers=api.coordinator,
        json={
            "reference": f"BENCH-{tag}-{target.key}",
            "municipality": "0344",
            "victim": {"name": "Bench victim", "address": "Nachtegaalstraat 1"},
            "perpetrator": {"description": "bench"},
        },
    )
    target.case_id = case["id"]
    for role, kind in (("victim", "victim_alarm"), ("perpetrator", "perpetrator_tracker")):
        dev = api.call(
            "POST",
            "/api/v1/devices",
            201,
            headers=api.coordinator,
            json={"serial": f"bench-{tag}-{target.key}-{role}", "kind": kind},
        )
        api.call(
            "POST",
            f"/api/v1/cases/{target.case_id}/devices",
            201,
            headers=api.coordinator,
            json={"device_id": dev["id"], "role": role},
        )
        if role == "perpetrator":
            target.token = dev["token"]
    now = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    for chunk in ban_chunks(zones) if zones else []:
        body = {
            "kind": "location",
            "zones": chunk,
            "valid_from": iso(now - dt.timedelta(days=1)),
            "valid_until": iso(now + dt.timedelta(days=30)),
            "legal_basis": "509hh Sv",
        }
        data = json.dumps(body).encode()
        if len(data) >= 1024 * 1024:
            raise BenchError(f"{target.label}: ban body of {len(data)} bytes is over 1 MiB")
        api.call(
            "POST",
            f"/api/v1/cases/{target.case_id}/bans",
            201,
            headers={**api.coordinator, "Content-Type": "application/json"},
            data=data,
        )
        target.bans += 1
    target.ban_post_ms = (time.perf_counter() - t0) * 1000


def build_bodies(target: Target, batches: int, size: int) -> None:
    """Warm-up + measured batches of positions and of heartbeats, JSON-encoded beforehand so
    only the POST is timed. Unique event_ids; the fixes cycle if there are fewer."""
    base = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=60)
    for kind in ("position", "heartbeat"):
        bodies = []
        for b in range(batches + 1):
            events = []
            for i in range(size):
                n = b * size + i
                ev: dict[str, Any] = {
                    "event_id": f"{target.key}-{kind[0]}-{n}",
                    "type": kind,
                    "occurred_at": iso(base + dt.timedelta(milliseconds=n)),
                }
                if kind == "position":
                    lon, lat, acc = target.fixes[n % len(target.fixes)]
                    ev["position"] = {
                        "lat": round(lat, 7),
                        "lon": round(lon, 7),
                        "accuracy_m": round(acc, 1),
                    }
                events.append(ev)
            bodies.append(json.dumps({"events": events}).encode())
        target.bodies[kind] = bodies


def post_batch(api: Api, target: Target, kind: str, batch: int, size: int) -> float:
    headers = {"Authorization": f"Bearer {target.token}", "Content-Type": "application/json"}
    body = target.bodies[kind][batch]
    t0 = time.perf_counter()
    out = api.call("POST", "/api/v1/ingest", 202, headers=headers, data=body)
    elapsed = (time.perf_counter() - t0) * 1000
    if out.get("accepted") != size:
        raise BenchError(f"{target.label}: {kind} batch {batch}: accepted {out.get('accepted')}")
    target.alarms += len(out.get("alarm_ids") or [])
    if not api.server.alive():
        raise BenchError(f"aware serve died:\n{api.server.log_tail()}")
    return elapsed


def through_server(
    scenarios: list[Scenario],
    baseline_fixes: list[tuple[float, float, float]],
    args: argparse.Namespace,
) -> tuple[list[Target], str]:
    tag = f"{random.getrandbits(32):08x}"
    targets = [Target("noban", "no ban (baseline)", 0, baseline_fixes)]
    targets += [Target(s.key, s.label, len(s.zones), s.outside) for s in scenarios]
    zones = {s.key: s.zones for s in scenarios}
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="aware-bench-bans-")))
        env = clean_env(tmp / "instance")
        for name, role in (("bench-coord", "coordinator"), ("bench-disp", "dispatcher")):
            run_checked(
                [*aware_command(), "user", "create", name, "--role", role, "--password", PASSWORD],
                env,
                f"aware user create {name}",
            )
        server = stack.enter_context(Server.aware("aware serve", env, tmp / "aware.log").running())
        api = Api(server)
        stack.callback(api.http.close)
        api.login()
        for target in targets:
            set_up_target(api, target, zones.get(target.key, []), tag)
            build_bodies(target, args.batches, args.batch_size)
        # Warm-up: the first position batch of a case builds its zone index (cache miss).
        for target in targets:
            for kind in ("position", "heartbeat"):
                target.cold_ms[kind] = post_batch(api, target, kind, 0, args.batch_size)
        # Measured rounds, interleaved: every round posts one batch of each kind per target,
        # in a rotating order, so machine noise (and the growing database) hits all alike.
        for r in range(args.batches):
            order = targets[r % len(targets) :] + targets[: r % len(targets)]
            for target in order:
                kinds = ("position", "heartbeat") if r % 2 == 0 else ("heartbeat", "position")
                for kind in kinds:
                    ms = post_batch(api, target, kind, r + 1, args.batch_size)
                    target.ms[kind].append(ms)
        journal = sqlite_journal(tmp / "instance" / "aware.db")
    return targets, journal


def sqlite_journal(path: Path) -> str:
    try:
        with contextlib.closing(sqlite3.connect(path)) as conn:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        return f"SQLite {mode.upper()}"
    except sqlite3.Error:
        return "SQLite"


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def rate(us: float) -> str:
    return f"{1e6 / us:,.0f}" if us > 0 else "-"


def report_in_process(scenarios: list[Scenario], n_box: int, n_out: int) -> None:
    print("Part 1: in-process (parse_zone + BanIndex, then to_rd + judge_zone per fix)")
    print(
        f"  'in box': {n_box:,} random fixes in the zone box (lon {ZONE_BOX[0]}-{ZONE_BOX[2]}, "
        f"lat {ZONE_BOX[1]}-{ZONE_BOX[3]}), inside zones too"
    )
    print(
        f"  'outside': the first {n_out:,} fixes of part 2, each >= {CLEARANCE_M:.0f} m from "
        "every zone"
    )
    print()
    head = (
        f"{'scenario':<22} {'zones':>6} {'vertices':>9} {'parse ms':>9} {'index ms':>9} "
        f"{'us/fix box':>11} {'judged/fix':>10} {'pos/s box':>10} "
        f"{'us/fix out':>11} {'pos/s out':>10}"
    )
    print(head)
    print("-" * len(head))
    for s in scenarios:
        print(
            f"{s.label:<22} {len(s.zones):>6,} {s.vertices:>9,} {s.parse_ms:>9.1f} "
            f"{s.index_ms:>9.1f} {s.us_box:>11.1f} {s.hits_box:>10.2f} {rate(s.us_box):>10} "
            f"{s.us_out:>11.1f} {rate(s.us_out):>10}"
        )
    print()


def report_server(targets: list[Target], args: argparse.Namespace, journal: str) -> None:
    print(
        f"Part 2: through `aware serve` ({journal}), POST /api/v1/ingest, batches of "
        f"{args.batch_size} events"
    )
    print(
        f"  medians of {args.batches} batches per kind and scenario (+1 warm-up batch, which "
        "builds the case's zone index)"
    )
    print("  pos: position events (outside every zone); hb: heartbeat events (no position)")
    print("  check us/pos: (pos ms - pos ms of the no-ban case) / events per batch")
    print()
    base = targets[0].median_ms("position")
    head = (
        f"{'scenario':<22} {'zones':>6} {'bans':>4} {'ban POST ms':>11} {'1st pos ms':>10} "
        f"{'pos ms':>8} {'pos/s':>7} {'hb ms':>8} {'hb/s':>7} "
        f"{'pos/no-ban':>10} {'pos/hb':>7} {'check us/pos':>12} {'alarms':>6}"
    )
    print(head)
    print("-" * len(head))
    for t in targets:
        pos, hb = t.median_ms("position"), t.median_ms("heartbeat")
        check_us = (pos - base) / args.batch_size * 1000
        print(
            f"{t.label:<22} {t.zones:>6,} {t.bans:>4} "
            f"{t.ban_post_ms if t.bans else 0:>11.0f} {t.cold_ms['position']:>10.1f} "
            f"{pos:>8.1f} {args.batch_size / pos * 1000:>7,.0f} "
            f"{hb:>8.1f} {args.batch_size / hb * 1000:>7,.0f} "
            f"{pos / base:>10.2f} {pos / hb:>7.2f} {check_us:>12.1f} {t.alarms:>6}"
        )
    print()


def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    scenarios = make_scenarios(rng)
    box_fixes = random_fixes(rng, args.fixes, ZONE_BOX)
    print("Ban checks: positions per second, in-process and through /api/v1/ingest")
    print(
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"shapely {shapely.__version__} (GEOS {shapely.geos_version_string}), "
        f"pyproj {pyproj.__version__}; seed {args.seed}"
    )
    print()
    in_process(scenarios, box_fixes)
    needed = (args.batches + 1) * args.batch_size
    for s in scenarios:
        s.outside = outside_fixes(rng, s, needed)
    in_process_outside(scenarios, min(needed, args.fixes))
    report_in_process(scenarios, len(box_fixes), min(needed, args.fixes))

    baseline = scenarios[-1].outside
    targets, journal = through_server(scenarios, baseline, args)
    report_server(targets, args, journal)

    by_key = {t.key: t for t in targets}
    overhead = by_key["poly200"].median_ms("position") / by_key["noban"].median_ms("position") - 1
    r1, r2, total, sublinear = growth(scenarios)
    ok_overhead = overhead <= TARGET_OVERHEAD
    print(
        f"checks add {overhead * 100:.0f}% to ingest time with a 2,000-vertex zone + 200 circles "
        f"(target <= {TARGET_OVERHEAD * 100:.0f}%): {'met' if ok_overhead else 'NOT met'}"
    )
    exponent = math.log(total) / math.log(10_000) if total > 0 else math.nan
    print(
        f"growth 1 -> 10,000 zones: per-position cost x {total:.2f} "
        f"(sub-linear: {'yes' if sublinear else 'no'}; 1 -> 100: x {r1:.2f}, "
        f"100 -> 10,000: x {r2:.2f}; cost ~ zones^{exponent:.2f}; in-process, fixes in box)"
    )
    stray = sum(t.alarms for t in targets)
    if stray:
        print(f"note: {stray} alarm(s) raised by the measured batches (fixes should be outside)")
    return 0 if ok_overhead and sublinear else 1


def main() -> None:
    parser = argparse.ArgumentParser(description="Cost of ban checks on position intake.")
    parser.add_argument("--batches", type=int, default=10, help="measured batches (default 10)")
    parser.add_argument(
        "--batch-size", type=int, default=500, help="events per batch, at most 1000 (default 500)"
    )
    parser.add_argument(
        "--fixes", type=int, default=20_000, help="in-process fixes per scenario (default 20000)"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    args = parser.parse_args()
    if not 1 <= args.batches <= 1000 or not 1 <= args.batch_size <= 1000:
        parser.error("--batches must be 1..1000 and --batch-size 1..1000")
    if not 1 <= args.fixes <= 1_000_000:
        parser.error("--fixes must be 1..1000000")
    try:
        sys.exit(run(args))
    except (BenchError, subprocess.TimeoutExpired, OSError, geometry.GeometryInvalid) as exc:
        print(f"ban_checks: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("ban_checks: interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
