"""Escalation survives any process: real `aware serve` / `aware scheduler` / `aware demo`
processes, the real `twilio` client against the local Twilio stand-in.

- two `aware serve` on PostgreSQL and Redis: the one that raised an SOS is SIGKILLed and not
  restarted; the other sends the escalation on time (control: an SOS raised on the survivor
  escalates within the same bounds; an SOS acknowledged in time sends nothing);
- the same with `aware scheduler` as the only other process;
- alarms written by `aware demo` while `aware serve` runs (embedded SQLite) escalate at once,
  without a restart, one text each;
- the victim's text about an approach goes once with two processes.

"On time": the first SMS arrives no earlier than the configured delay after the request and
within delay + 3 s of its answer.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from aware import migrate
from tests.conftest import PgSchemas, pg_or_skip
from tests.e2e.conftest import Server, setup_people
from tests.e2e.test_scheduler_processes import Scheduler, _redis_or_skip
from tests.e2e.test_two_processes_redis import REDIS_URL
from tests.standins.twilio_api import TwilioStandIn

DELAY_S = 4.0
SLACK_S = 3.0
ON_CALL = "+31612345678"
VICTIM_PHONE = "+31611122233"
CENTRE = (52.0907, 5.1214)
M_LON = 1 / 68_500


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


@pytest.fixture
def twilio() -> Any:
    standin = TwilioStandIn().start()
    yield standin
    standin.stop()


def escalation_env(twilio: TwilioStandIn) -> dict[str, str]:
    return {
        "AWARE_ESCALATION_AFTER_S": str(DELAY_S),
        "AWARE_ESCALATION_PHONES": ON_CALL,
        "TWILIO_ACCOUNT_SID": twilio.account_sid,
        "TWILIO_AUTH_TOKEN": twilio.auth_token,
        "TWILIO_FROM_NUMBER": "+3197010203040",
        "AWARE_TWILIO_BASE_URL": twilio.base_url,
        # No device_offline alarms from silent test devices while we watch the stand-in.
        "AWARE_SUPERVISION_INTERVAL_S": "3600",
    }


@pytest.fixture
def pg_redis_env(twilio: TwilioStandIn, pg_schemas: PgSchemas) -> dict[str, str]:
    pg_or_skip()
    _redis_or_skip()
    url = pg_schemas.new_url()
    migrate.upgrade(url)
    return {
        **escalation_env(twilio),
        "AWARE_DATABASE_URL": url,
        "AWARE_REDIS_URL": REDIS_URL,
        "AWARE_REDIS_CHANNEL": f"aware-esc-{uuid.uuid4().hex}",
    }


@pytest.fixture
def servers() -> Any:
    made: list[Server] = []

    def make(instance: Path, env: dict[str, str]) -> Server:
        made.append(Server(instance, env))
        return made[-1]

    yield make
    for s in made:
        s.stop()


def two_servers(make: Any, instance: Path, env: dict[str, str]) -> tuple[Server, Server]:
    """Two `aware serve` processes on one database, with the e2e people."""
    a = make(instance, env)
    setup_people(a)
    b = make(instance, env)
    a.start()
    b.start()
    return a, b


@pytest.fixture
def schedulers() -> Any:
    made: list[Scheduler] = []

    def make(instance: Path, env: dict[str, str]) -> Scheduler:
        made.append(Scheduler(instance, env, "esc"))
        return made[-1].start()

    yield make
    for s in made:
        s.kill()


def sms_about(twilio: TwilioStandIn, alarm_id: int, to: str = ON_CALL) -> list[dict[str, Any]]:
    return [
        r
        for r in list(twilio.requests)
        if r["kind"] == "sms" and r["To"] == to and f"alarm {alarm_id} " in r.get("Body", "")
    ]


def wait_for(predicate: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    return None


def new_device(server: Server, coord: str, kind: str = "victim_alarm") -> dict[str, Any]:
    r = server.post(
        "/api/v1/devices", coord, json={"serial": f"E-{uuid.uuid4().hex[:8]}", "kind": kind}
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def press_sos(server: Server, device: dict[str, Any]) -> tuple[int, float, float]:
    """An SOS through the server's intake: (alarm id, time before the request, after it)."""
    before = time.time()
    r = requests.post(
        server.url + "/api/v1/ingest",
        headers={"Authorization": f"Bearer {device['token']}"},
        json={"event_id": uuid.uuid4().hex, "type": "sos", "occurred_at": now_iso()},
        timeout=10,
    )
    after = time.time()
    assert r.status_code == 202, r.text
    (alarm_id,) = r.json()["alarm_ids"]
    return int(alarm_id), before, after


def assert_on_time(twilio: TwilioStandIn, alarm_id: int, before: float, after: float) -> None:
    found = wait_for(lambda: sms_about(twilio, alarm_id), DELAY_S + SLACK_S + 5)
    assert found, f"no escalation SMS for alarm {alarm_id}"
    arrived = found[0]["at"]
    assert before + DELAY_S - 0.05 <= arrived <= after + DELAY_S + SLACK_S, (
        arrived - before,
        arrived - after,
    )


def test_the_escalation_of_a_killed_web_process_goes_out_on_time_from_the_other(
    tmp_path, twilio, pg_redis_env, servers
):
    a, b = two_servers(servers, tmp_path, pg_redis_env)
    coord, disp = a.token("coord-e2e"), a.token("disp-e2e")
    device = new_device(a, coord)

    # Control first: an SOS raised on B (alive) escalates within the same bounds.
    control_id, c_before, c_after = press_sos(b, device)
    # An SOS raised on A and acknowledged in time sends nothing.
    acked_id, _, _ = press_sos(a, device)
    assert b.post(f"/api/v1/alarms/{acked_id}/ack", disp).status_code == 200
    # The SOS under test: raised on A, which dies at once and stays dead.
    alarm_id, before, after = press_sos(a, device)
    a.kill()

    assert_on_time(twilio, control_id, c_before, c_after)
    assert_on_time(twilio, alarm_id, before, after)
    time.sleep(1.5)
    assert len(sms_about(twilio, alarm_id)) == 1  # sent once
    assert sms_about(twilio, acked_id) == []
    detail = b.get(f"/api/v1/alarms/{alarm_id}", disp).json()
    assert [e["detail"]["channel"] for e in detail["timeline"] if e["action"] == "escalated"] in (
        ["sms", "voice"],
        ["voice", "sms"],
    )
    assert detail["escalation_status"] == "sent"
    # The default chain repeats: the next firing is planned, not overdue.
    due = dt.datetime.fromisoformat(detail["escalation_due_at"].replace("Z", "+00:00"))
    assert due > dt.datetime.now(dt.UTC)


def test_the_scheduler_alone_escalates_what_a_killed_web_process_raised(
    tmp_path, twilio, pg_redis_env, servers, schedulers
):
    web = servers(tmp_path, pg_redis_env)
    setup_people(web)
    web.start()
    sched = schedulers(tmp_path, pg_redis_env)
    sched.wait_log("escalating: polling")
    device = new_device(web, web.token("coord-e2e"))
    alarm_id, before, after = press_sos(web, device)
    web.kill()
    assert_on_time(twilio, alarm_id, before, after)
    time.sleep(1.0)
    assert len(sms_about(twilio, alarm_id)) == 1


def test_alarms_written_by_aware_demo_escalate_without_a_restart(tmp_path, twilio, servers):
    # The embedded SQLite default: `aware demo` writes into the database `aware serve` uses.
    server = servers(tmp_path, escalation_env(twilio))
    setup_people(server)
    server.start()
    disp = server.token("disp-e2e")
    server.cli("demo")
    loaded = time.time()
    alarms = server.get("/api/v1/alarms?status=open", disp).json()["alarms"]
    assert alarms, "the demo raised no alarms"
    # Minutes old, long past the delay: each goes out at the next poll, once (its missed
    # repeats as one text, not one each).
    for alarm in alarms:
        found = wait_for(lambda a=alarm: sms_about(twilio, a["id"]), SLACK_S + 2)
        assert found, f"demo alarm {alarm['id']} ({alarm['type']}) did not escalate"
        assert found[0]["at"] <= loaded + SLACK_S
    time.sleep(1.0)
    for alarm in alarms:
        assert len(sms_about(twilio, alarm["id"])) == 1
        detail = server.get(f"/api/v1/alarms/{alarm['id']}", disp).json()
        assert detail["escalation_status"] == "sent"
        due = detail["escalation_due_at"]
        assert due is None or dt.datetime.fromisoformat(due.replace("Z", "+00:00")) > (
            dt.datetime.now(dt.UTC)
        )


def _fix(east_m: float) -> dict[str, float]:
    return {"lat": CENTRE[0], "lon": CENTRE[1] + east_m * M_LON, "accuracy_m": 5.0}


def _event(server: Server, device: dict[str, Any], type_: str, **extra: Any) -> None:
    r = requests.post(
        server.url + "/api/v1/ingest",
        headers={"Authorization": f"Bearer {device['token']}"},
        json={"event_id": uuid.uuid4().hex, "type": type_, "occurred_at": now_iso(), **extra},
        timeout=10,
    )
    assert r.status_code == 202, r.text


def test_the_victim_is_texted_once_with_two_processes(tmp_path, twilio, pg_redis_env, servers):
    a, b = two_servers(servers, tmp_path, pg_redis_env)
    coord, disp = a.token("coord-e2e"), a.token("disp-e2e")
    case = a.post(
        "/api/v1/cases",
        coord,
        json={
            "reference": f"V-{uuid.uuid4().hex[:6]}",
            "municipality": "0344",
            "victim": {"name": "Anouk", "phone": VICTIM_PHONE},
        },
    ).json()
    devices = {}
    for kind, role in (("victim_alarm", "victim"), ("perpetrator_tracker", "perpetrator")):
        devices[role] = new_device(a, coord, kind)
        r = a.post(
            f"/api/v1/cases/{case['id']}/devices",
            coord,
            json={"device_id": devices[role]["id"], "role": role},
        )
        assert r.status_code == 201, r.text
    today = dt.datetime.now(dt.UTC)
    r = a.post(
        f"/api/v1/cases/{case['id']}/bans",
        coord,
        json={
            "kind": "contact",
            "distance_m": 500,
            "valid_from": (today - dt.timedelta(days=1)).isoformat(),
            "valid_until": (today + dt.timedelta(days=30)).isoformat(),
            "legal_basis": "509hh Sv",
        },
    )
    assert r.status_code == 201, r.text
    r = requests.put(
        a.url + f"/api/v1/cases/{case['id']}/victim-notification",
        headers={"Authorization": f"Bearer {coord}"},
        json={"sms": True},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    _event(a, devices["victim"], "position", position=_fix(0))
    _event(b, devices["perpetrator"], "position", position=_fix(800))

    def approach() -> list[dict[str, Any]]:
        listed = a.get("/api/v1/alarms?status=open", disp).json()["alarms"]
        return [x for x in listed if x["device_id"] == devices["perpetrator"]["id"]]

    (alarm,) = wait_for(approach, 5)
    assert alarm["type"] in ("proximity_warning", "proximity_violation")
    texts = wait_for(lambda: [r for r in twilio.requests if r["To"] == VICTIM_PHONE], 5)
    assert texts, "the victim was not texted"
    time.sleep(1.5)  # both processes polled several times meanwhile
    assert len([r for r in twilio.requests if r["To"] == VICTIM_PHONE]) == 1
    detail = b.get(f"/api/v1/alarms/{alarm['id']}", disp).json()
    assert [e["action"] for e in detail["timeline"] if e["action"].startswith("victim_")] == [
        "victim_notified"
    ]
