"""A tracker flooding the intake cannot bury a victim's SOS (issue 11).

Four parallel loops post 1,000-fix batches from one perpetrator tracker, alternating in and out
of a forbidden zone next to the victim's home, for 30 s, while a victim's alarm presses SOS every
2 s. Every SOS must reach a real console, every escalating alarm of hers must have its first
SMS (Twilio stand-in, real twilio client in `aware serve`) within 1 s of its schedule, and the
flood must leave at most one open alarm per ban plus one storm alarm.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.e2e.conftest import Server, setup_people
from tests.e2e.flood import (
    escalation_delays,
    make_tracker_case,
    new_victim_device,
    run_phase,
    twilio_env,
)
from tests.standins.twilio_api import TwilioStandIn

AFTER_S = 3.0
FLOOD_S = 30.0


@pytest.fixture(scope="module")
def flood_server(tmp_path_factory):
    twilio = TwilioStandIn().start()
    srv = Server(tmp_path_factory.mktemp("flood"), twilio_env(twilio, AFTER_S))
    setup_people(srv)
    srv.start()
    yield srv, twilio
    srv.stop()
    twilio.stop()


def test_a_flooding_tracker_does_not_bury_an_sos(flood_server, consoles):
    server, twilio = flood_server
    coord, disp = server.token("coord-e2e"), server.token("disp-e2e")
    tracker = make_tracker_case(server, coord)
    victim_token, victim_id = new_victim_device(server, coord)
    console = consoles(server.url, disp).connect()
    console.wait_for(lambda c: c.snapshots)

    run = run_phase(server, console, twilio, victim_token, victim_id, FLOOD_S, tracker)

    assert run.flood_requests >= 8, "the flood hardly ran: the test proves nothing"
    assert not [e for e in run.flood_errors if not e.startswith("503")], run.flood_errors[:5]
    assert run.sos_answers and set(run.sos_answers.values()) == {202}, run.sos_answers
    missing = sorted(set(run.sos_sent) - set(run.sos_seen))
    assert not missing, f"{len(missing)} of {len(run.sos_sent)} SOS never reached the console"

    # Her alarms (each SOS alarm, and the storm alarm her repeated presses folded into).
    victim_alarms = server.get(f"/api/v1/alarms?status=open&device_id={victim_id}", disp).json()[
        "alarms"
    ]
    mine = {a["id"] for a in victim_alarms if a["device_id"] == victim_id}
    assert mine, "no open alarm of the victim's device"
    deadline = time.monotonic() + AFTER_S + 10
    while time.monotonic() < deadline:
        delays = escalation_delays(run, twilio, mine)
        if len(delays) == len([a for a in mine if a in run.due_at]):
            break
        time.sleep(0.1)
    delays = escalation_delays(run, twilio, mine)
    expected = {a for a in mine if a in run.due_at}
    assert expected and set(delays) == expected, (sorted(expected), delays)
    late = {a: round(d, 2) for a, d in delays.items() if not -0.05 <= d <= 1.0}
    assert not late, f"first escalation not within 1 s of schedule: {late}"

    open_alarms = server.get("/api/v1/alarms?status=open", disp).json()["alarms"]
    open_alarms += server.get("/api/v1/alarms?status=acknowledged", disp).json()["alarms"]
    from_flood = [a for a in open_alarms if a["device_id"] == tracker.tracker_id]
    storms = [a for a in from_flood if a["type"] == "storm"]
    assert len(storms) <= 1
    assert 1 <= len(from_flood) <= tracker.bans + 1, [(a["type"], a["id"]) for a in from_flood]

    # What a console starting its shift now is sent stays small: her alarms, one per ban and at
    # most a storm, not thousands of rows (the flood posted tens of thousands of fixes).
    fresh = consoles(server.url, disp).connect()
    (snapshot,) = fresh.wait_for(lambda c: c.snapshots)
    assert len(snapshot) == len(open_alarms) <= len(mine) + tracker.bans + 1
    assert len(json.dumps(snapshot)) < 200_000
