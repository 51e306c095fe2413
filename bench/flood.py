"""SOS to console and first escalation, with and without a tracker flooding the intake (issue 11).

One `aware serve` (SQLite by default, or --database-url), a real Socket.IO console and the local
Twilio stand-in driven by the real twilio client inside the server. Phase 1, quiet: a victim's
alarm presses SOS every 2 s. Phase 2, the same with `--loops` parallel loops posting
`--batch`-fix requests from one perpetrator tracker, alternating in and out of a forbidden zone
around the victim's home. Each phase uses a victim device of its own. Prints, per phase, the SOS
POST -> console latency (own alarm.new, or the storm alarm.updated it was folded into) p50/p99/
max, the first escalation SMS's delay after its schedule, and what the flood left open.

    .venv/bin/python bench/flood.py [--seconds 30] [--loops 4] [--batch 1000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.conftest import Console, Server, setup_people  # noqa: E402
from tests.e2e.flood import (  # noqa: E402
    escalation_delays,
    make_tracker_case,
    new_victim_device,
    pct,
    run_phase,
    twilio_env,
)
from tests.standins.twilio_api import TwilioStandIn  # noqa: E402

AFTER_S = 3.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--loops", type=int, default=4)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()

    twilio = TwilioStandIn().start()
    extra = twilio_env(twilio, AFTER_S)
    if args.database_url:
        extra["AWARE_DATABASE_URL"] = args.database_url
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp), extra)
        if args.database_url:
            server.cli("db", "upgrade")
        setup_people(server)
        server.start()
        try:
            coord, disp = server.token("coord-e2e"), server.token("disp-e2e")
            tracker = make_tracker_case(server, coord)
            console = Console(server.url, disp).connect()
            console.wait_for(lambda c: c.snapshots)
            print(f"load average before: {os.getloadavg()[0]:.2f}")
            rows = []
            for name, flood in (("quiet", None), ("flood", tracker)):
                token, victim_id = new_victim_device(server, coord)
                run = run_phase(
                    server,
                    console,
                    twilio,
                    token,
                    victim_id,
                    args.seconds,
                    flood,
                    loops=args.loops,
                    batch=args.batch,
                    settle_s=AFTER_S + 5,
                )
                alarms = server.get("/api/v1/alarms?status=open", disp).json()["alarms"]
                mine = {a["id"] for a in alarms if a["device_id"] == victim_id}
                delays = sorted(escalation_delays(run, twilio, mine).values())
                lat = run.latencies_ms()
                rows.append(
                    (
                        name,
                        len(run.sos_sent),
                        len(run.sos_seen),
                        pct(lat, 50),
                        pct(lat, 99),
                        max(lat) if lat else float("nan"),
                        len(mine),
                        len(delays),
                        pct([d * 1000 for d in delays], 50),
                        max(delays) * 1000 if delays else float("nan"),
                        run.flood_requests,
                        len(run.flood_errors),
                    )
                )
            left = [
                a["type"]
                for a in server.get("/api/v1/alarms?status=open", disp).json()["alarms"]
                if a["device_id"] == tracker.tracker_id
            ]
            print(f"load average after: {os.getloadavg()[0]:.2f}")
            print(
                "phase  SOS sent/seen  console p50/p99/max ms  her open alarms  "
                "escalated  1st SMS after schedule p50/max ms  flood requests (errors)"
            )
            for r in rows:
                print(
                    f"{r[0]:<6} {r[1]:>4}/{r[2]:<4}      {r[3]:7.1f} {r[4]:7.1f} {r[5]:7.1f}"
                    f"   {r[6]:>10}      {r[7]:>5}      {r[8]:8.1f} {r[9]:8.1f}"
                    f"              {r[10]:>5} ({r[11]})"
                )
            print(f"flood alarms left open on the tracker: {len(left)} {sorted(left)}")
            console.close()
        finally:
            server.stop()
            twilio.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
