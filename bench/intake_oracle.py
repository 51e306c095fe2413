"""Intake answer time near the victim vs far from her: is the time a timing oracle?

A perpetrator tracker's token is readable in Traccar Client on his phone, so he can post fixes
of his own choosing and time the answers. The answers' bodies are the same near and far (see
tests/integration/test_intake_oracle.py); this bench measures their time.

In-process (Flask test client, no HTTP), on SQLite in a temp folder, with the app as `aware
serve` builds it (development environment: real Socket.IO publisher and escalator). One case
with a victim alarm and a perpetrator tracker, and a contact ban of 500 m. The victim's device
reports a fix at the centre (again every 200 requests, so it stays current). Trackers then
post N fixes 100 m from her ("near", inside the ban) and N fixes 5 km away ("far"),
interleaved one by one so that noise on the machine hits both alike, after a warm-up of 50
each. Each fix is a new event (new event_id, the current time).

Two patterns (both run by default):
- `stay`: two cases; one tracker stays near its victim, another stays far from his. Their fixes
  alternate. The first near fix raises the violation, later ones go on its timeline.
- `enter`: one tracker goes back and forth (near, far, near ...), so every near fix is a
  re-entry: a new violation, or one folded into the open one, as the flood rules decide.

Two modes (both by default): `floor`, the app as served, where a perpetrator tracker's answer
is held until 40 ms after the request came in (views.TRACKER_ANSWER_FLOOR_S), and `raw`, with
that floor off, to show what the floor hides. In `raw` mode, after each fix the same tracker at
once sends a heartbeat ("next"): work a near fix leaves behind after its answer (console
updates published after the answer) must not slow the next answer either.

Prints per pattern the median and p90 answer time of near and far fixes and of the heartbeat
after each, the differences of the medians, and what the near fixes left for dispatch (alarms,
timeline rows). Target: every median difference under 1 ms.

    .venv/bin/python bench/intake_oracle.py [--n 1000] [--pattern stay|enter|both]
                                            [--mode floor|raw|both]

The target applies to the `floor` mode (what a tracker sees); `raw` figures are printed for
the record. Exit status: 0 target met, 1 missed, 2 the bench could not run, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from aware import crypto, migrate  # noqa: E402
from aware.alarms.models import Alarm, AlarmLogEntry  # noqa: E402
from aware.app import create_app  # noqa: E402
from aware.auth.services import create_user, issue_token  # noqa: E402
from aware.config import Settings  # noqa: E402

TARGET_MS = 1.0
WARMUP = 50
CENTRE = (52.0907, 5.1214)
M_LON = 1 / 68_500  # degrees longitude per metre at 52 N


def east(metres: float) -> tuple[float, float]:
    return CENTRE[0], CENTRE[1] + metres * M_LON


def iso(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


class Bench:
    """The app, its case and the two devices."""

    def __init__(self, folder: Path):
        url = f"sqlite:///{folder / 'bench.db'}"
        migrate.upgrade(url)
        settings = Settings(
            env="development",
            instance_path=folder,
            database_url=url,
            secret_key="b" * 32,
            data_keys=(crypto.new_key(),),
            log_level="WARNING",
        )
        self.app = create_app(settings)
        logging.getLogger("aware").setLevel(logging.WARNING)
        self.client = self.app.test_client()
        st = self.app.extensions["aware"]
        with self.app.app_context(), st.sessions() as s:
            now = dt.datetime.now(dt.UTC)
            user = create_user(s, "bench-coordinator", "coordinator", "bench-password-123", now)
            token, _ = issue_token(s, user, now, 3600)
        self.coordinator = {"Authorization": f"Bearer {token}"}
        self.n = 0

    def post(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
        r = self.client.post(path, json=body, headers=headers)
        if r.status_code >= 300:
            raise SystemExit(f"setup: {path} answered {r.status_code}: {r.get_data(as_text=True)}")
        return r.get_json()

    def case(self, reference: str) -> tuple[dict[str, str], dict[str, str]]:
        """A case with a victim alarm, a tracker and a contact ban: (victim, tracker) headers."""
        case = self.post(
            "/api/v1/cases",
            {"reference": reference, "municipality": "0344", "victim": {"name": "Bench"}},
            self.coordinator,
        )
        headers = []
        for kind, role in (("victim_alarm", "victim"), ("perpetrator_tracker", "perpetrator")):
            dev = self.post(
                "/api/v1/devices", {"serial": f"{reference}-{role}", "kind": kind}, self.coordinator
            )
            self.post(
                f"/api/v1/cases/{case['id']}/devices",
                {"device_id": dev["id"], "role": role},
                self.coordinator,
            )
            headers.append({"Authorization": f"Bearer {dev['token']}"})
        now = dt.datetime.now(dt.UTC)
        self.post(
            f"/api/v1/cases/{case['id']}/bans",
            {
                "kind": "contact",
                "distance_m": 500,
                "valid_from": iso(now - dt.timedelta(days=1)),
                "valid_until": iso(now + dt.timedelta(days=30)),
                "legal_basis": "509hh Sv",
            },
            self.coordinator,
        )
        return headers[0], headers[1]

    def fix(self, headers: dict[str, str], latlon: tuple[float, float] | None) -> tuple[float, Any]:
        """Post one position (a heartbeat without `latlon`); returns (seconds, answer body)."""
        self.n += 1
        body: dict[str, Any] = {
            "event_id": f"f{self.n}",
            "type": "position" if latlon else "heartbeat",
            "occurred_at": iso(dt.datetime.now(dt.UTC)),
        }
        if latlon:
            body["position"] = {"lat": latlon[0], "lon": latlon[1], "accuracy_m": 5}
        t0 = time.perf_counter()
        r = self.client.post("/api/v1/ingest", json=body, headers=headers)
        elapsed = time.perf_counter() - t0
        if r.status_code != 202:
            raise SystemExit(f"fix answered {r.status_code}: {r.get_data(as_text=True)}")
        return elapsed, r.get_json()

    def dispatch_rows(self, kind_prefix: str = "proximity") -> tuple[int, int]:
        st = self.app.extensions["aware"]
        with st.sessions() as s:
            alarms = s.scalar(
                select(func.count()).select_from(Alarm).where(Alarm.type.like(f"{kind_prefix}%"))
            )
            log = s.scalar(select(func.count()).select_from(AlarmLogEntry))
        return int(alarms or 0), int(log or 0)


def run(bench: Bench, name: str, pattern: str, n: int, follow: bool) -> dict[str, Any]:
    """`stay`: two cases, one tracker staying near its victim, one staying far from its own.
    `enter`: one tracker going back and forth, so every near fix is a re-entry."""
    victim, tracker = bench.case(f"ORACLE-{name}")
    victims, trackers = [victim], {"near": tracker, "far": tracker}
    if pattern == "stay":
        other_victim, trackers["far"] = bench.case(f"ORACLE-{name}-far")
        victims.append(other_victim)
    spots = {"near": east(100), "far": east(5000)}
    times: dict[str, list[float]] = {"near": [], "far": [], "near+1": [], "far+1": []}
    bodies: dict[str, set[str]] = {"near": set(), "far": set()}
    before = bench.dispatch_rows()
    for i in range(n + WARMUP):
        if i % 200 == 0:
            for v in victims:
                bench.fix(v, CENTRE)  # the victims' positions stay current
        for where in ("near", "far") if i % 2 == 0 else ("far", "near"):
            elapsed, body = bench.fix(trackers[where], spots[where])
            # At once the same tracker's next request (a heartbeat): is it slowed by work the
            # fix left behind (deferred console updates)?
            after, _ = bench.fix(trackers[where], None) if follow else (0.0, None)
            if i >= WARMUP:
                times[where].append(elapsed * 1000)
                times[where + "+1"].append(after * 1000)
                bodies[where].add(repr(sorted(body.items())))
    after = bench.dispatch_rows()
    return {
        "times": times,
        "bodies_same": bodies["near"] == bodies["far"],
        "alarms": after[0] - before[0],
        "log_rows": after[1] - before[1],
    }


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="fixes near and far (each)")
    parser.add_argument("--pattern", choices=("stay", "enter", "both"), default="both")
    parser.add_argument(
        "--mode",
        choices=("floor", "raw", "both"),
        default="both",
        help="floor: trackers' answers held to the app's floor (as served); raw: floor off",
    )
    args = parser.parse_args()
    print(
        f"intake_oracle: {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}; n={args.n} each, SQLite, "
        "in-process"
    )
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="aware-oracle-") as tmp:
        bench = Bench(Path(tmp))
        patterns = ("stay", "enter") if args.pattern == "both" else (args.pattern,)
        modes = ("raw", "floor") if args.mode == "both" else (args.mode,)
        for mode, pattern in ((m, p) for m in modes for p in patterns):
            # raw: the answer as fast as it comes, and the tracker's next request at once
            # (work left behind by a near fix must not slow it); floor: as served.
            bench.app.config["AWARE_TRACKER_ANSWER_FLOOR_S"] = 0 if mode == "raw" else None
            out = run(bench, f"{mode}-{pattern}", pattern, args.n, follow=mode == "raw")
            print(f"  [{mode}]")
            for label, suffix in (("fix", ""), ("next", "+1")) if mode == "raw" else (("fix", ""),):
                near, far = out["times"]["near" + suffix], out["times"]["far" + suffix]
                m_near, m_far = statistics.median(near), statistics.median(far)
                diff = m_near - m_far
                if mode == "floor":
                    worst = max(worst, abs(diff))
                print(
                    f"  {pattern:5} {label:4}  near median {m_near:6.3f} ms "
                    f"(mean {statistics.fmean(near):6.3f}, p90 {pct(near, 90):6.3f})   "
                    f"far median {m_far:6.3f} ms (mean {statistics.fmean(far):6.3f}, "
                    f"p90 {pct(far, 90):6.3f})   difference of medians {diff:+.3f} ms"
                )
            print(
                f"  {pattern:5}       answers identical: {out['bodies_same']}; near fixes left "
                f"{out['alarms']} proximity alarm(s), {out['log_rows']} timeline row(s)"
            )
            if not out["bodies_same"]:
                worst = float("inf")
    ok = worst < TARGET_MS
    print(
        f"target: |difference of medians| < {TARGET_MS} ms as served (floor): "
        f"{'met' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
