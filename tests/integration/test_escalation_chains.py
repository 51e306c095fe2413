"""Escalation chains per alarm type and the victim's opt-in SMS, end to end in-process.

A real app on a database of its own (SQLite and PostgreSQL), its own escalation thread, the real
`twilio` client against the local stand-in of Twilio's REST API.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
import uuid
from typing import Any

import pytest

from aware.adapters.notify import NotConfigured, TwilioNotifier
from aware.adapters.realtime import RecordingPublisher
from aware.alarms import escalation as esc
from aware.alarms.escalator import VICTIM_TEXT, EscalatingPublisher, Escalator, outcome_status
from aware.app import create_app
from aware.auth.services import create_user, issue_token
from tests.conftest import PASSWORD, bearer, settings_for
from tests.standins.twilio_api import TwilioStandIn

ON_CALL = "+31612345678"
SOS_PHONE = "+31600000001"
TAMPER_PHONE = "+31600000002"
VICTIM_PHONE = "+31611122233"
CENTRE = (52.0907, 5.1214)
M_LON = 1 / 68_500


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def wait_until(predicate: Any, timeout: float = 8.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def chain(after_s: float, to: str, channels: tuple[str, ...] = ("sms",)) -> dict[str, Any]:
    return {"steps": [{"after_s": after_s, "channels": list(channels), "to": [to]}]}


class Live:
    """An app with real sessions and a running escalator; people and devices made over HTTP."""

    def __init__(self, url: str, tmp_path: Any, default_after_s: float, notifier: Any = None):
        self.standin = TwilioStandIn().start()
        settings = dataclasses.replace(
            settings_for(tmp_path, url),
            escalation_after_s=default_after_s,
            escalation_phones=(ON_CALL,),
        )
        self.app = create_app(settings)
        self.st = self.app.extensions["aware"]
        self.inner = RecordingPublisher()
        self.notifier = notifier or TwilioNotifier(
            self.standin.account_sid,
            self.standin.auth_token,
            "+3197010203040",
            base_url=self.standin.base_url,
        )
        self.escalator = Escalator(
            self.st.sessions,
            self.notifier,
            self.inner,
            esc.parse_chain(self.st.default_escalation),
            utcnow,
            retry_delays_s=(0.05,),
        )
        self.st.escalator = self.escalator
        self.st.publisher = EscalatingPublisher(self.inner, self.escalator)
        self.client = self.app.test_client()
        self.headers = {role: self._person(role) for role in ("admin", "coordinator", "dispatcher")}

    def _person(self, role: str) -> dict[str, str]:
        with self.st.sessions() as s:
            user = create_user(s, f"{role}-{uuid.uuid4().hex[:6]}", role, PASSWORD, utcnow())
            token, _ = issue_token(s, user, utcnow(), 3600)
        return bearer(token)

    def device(self, kind: str = "victim_alarm") -> dict[str, Any]:
        r = self.client.post(
            "/api/v1/devices",
            headers=self.headers["coordinator"],
            json={"serial": f"S-{uuid.uuid4().hex[:8]}", "kind": kind},
        )
        assert r.status_code == 201, r.get_json()
        data: dict[str, Any] = r.get_json()
        data["headers"] = bearer(data["token"])
        return data

    def post_event(self, device: dict[str, Any], type_: str, **extra: Any) -> list[int]:
        body = {"event_id": uuid.uuid4().hex, "type": type_, "occurred_at": iso(utcnow())}
        body.update(extra)
        r = self.client.post("/api/v1/ingest", headers=device["headers"], json=body)
        assert r.status_code == 202, r.get_json()
        ids: list[int] = r.get_json()["alarm_ids"]
        return ids

    def open_alarm_ids(self, device: dict[str, Any]) -> set[int]:
        """Ids of the device's open or acknowledged alarms, as dispatch sees them."""
        r = self.client.get("/api/v1/alarms", headers=self.headers["dispatcher"])
        assert r.status_code == 200
        return {a["id"] for a in r.get_json()["alarms"] if a["device_id"] == device["id"]}

    def post_fix(self, tracker: dict[str, Any], east_m: float, ago_s: float = 0.0) -> list[int]:
        """Post a tracker's fix taken `ago_s` ago; the ids of the alarms it raised, read from
        `GET /alarms`.

        The tracker itself is told no alarm ids at all (its answer must not say whether it is
        near the victim), so the answer is checked for that, not used."""
        before = self.open_alarm_ids(tracker)
        at = iso(utcnow() - dt.timedelta(seconds=ago_s))
        assert self.post_event(tracker, "position", position=fix(east_m), occurred_at=at) == []
        return sorted(self.open_alarm_ids(tracker) - before)

    def alarm(self, alarm_id: int) -> dict[str, Any]:
        r = self.client.get(f"/api/v1/alarms/{alarm_id}", headers=self.headers["dispatcher"])
        assert r.status_code == 200
        data: dict[str, Any] = r.get_json()
        return data

    def actions(self, alarm_id: int) -> list[str]:
        return [e["action"] for e in self.alarm(alarm_id)["timeline"]]

    def sent_to(self, phone: str) -> list[dict[str, Any]]:
        return [r for r in self.standin.requests if r.get("To") == phone]

    def put_chain(self, alarm_type: str, data: dict[str, Any]) -> Any:
        return self.client.put(
            f"/api/v1/escalation-chains/{alarm_type}", headers=self.headers["admin"], json=data
        )

    def close(self) -> None:
        self.standin.stop()
        self.st.engine.dispose()


@pytest.fixture
def live(fresh_db_url, tmp_path):
    made: list[Live] = []

    def make(default_after_s: float = 600.0, notifier: Any = None) -> Live:
        made.append(Live(fresh_db_url, tmp_path, default_after_s, notifier))
        return made[-1]

    yield make
    for world in made:
        world.close()


# --- chains copied onto alarms ---------------------------------------------------------------


def test_each_type_escalates_with_its_own_chain_copied_at_raising(live):
    w = live()
    assert w.put_chain("sos", chain(1, SOS_PHONE)).status_code == 200
    assert w.put_chain("tamper", chain(3, TAMPER_PHONE)).status_code == 200
    dev = w.device()
    started = time.monotonic()
    (sos_id,) = w.post_event(dev, "sos")
    (tamper_id,) = w.post_event(dev, "tamper")
    sos, tamper = w.alarm(sos_id), w.alarm(tamper_id)
    for alarm, after in ((sos, 1), (tamper, 3)):
        due = parse(alarm["escalation_due_at"]) - parse(alarm["received_at"])
        assert due == dt.timedelta(seconds=after)
        assert alarm["escalation_status"] is None
    assert wait_until(lambda: w.sent_to(SOS_PHONE))
    sos_at = time.monotonic() - started
    assert 0.8 <= sos_at < 2.5 and not w.sent_to(TAMPER_PHONE)
    assert wait_until(lambda: w.sent_to(TAMPER_PHONE))
    assert time.monotonic() - started >= 2.8
    assert not w.sent_to(ON_CALL)  # neither used the default chain
    assert wait_until(lambda: w.alarm(tamper_id)["escalation_status"] == "sent")
    sos = w.alarm(sos_id)
    assert sos["escalation_status"] == "sent" and sos["escalation_due_at"] is None  # no more
    # The published update carries both fields too.
    updated = [p for n, p in w.inner.events if n == "alarm.updated" and p["id"] == sos_id]
    assert updated[-1]["escalation_status"] == "sent"


def test_types_without_a_chain_of_their_own_copy_the_default(live):
    w = live(default_after_s=0.5)
    (alarm_id,) = w.post_event(w.device(), "battery_low")
    alarm = w.alarm(alarm_id)
    due = parse(alarm["escalation_due_at"]) - parse(alarm["received_at"])
    assert due == dt.timedelta(seconds=0.5)
    assert wait_until(lambda: len(w.sent_to(ON_CALL)) == 2)  # SMS and call
    assert wait_until(lambda: w.alarm(alarm_id)["escalation_status"] == "sent")
    # The default chain repeats: the next firing is planned.
    assert w.alarm(alarm_id)["escalation_due_at"] is not None


def test_editing_a_chain_never_changes_an_alarm_already_raised(live):
    w = live()
    assert w.put_chain("sos", chain(1.5, SOS_PHONE)).status_code == 200
    dev = w.device()
    started = time.monotonic()
    (alarm_id,) = w.post_event(dev, "sos")
    due = w.alarm(alarm_id)["escalation_due_at"]
    assert w.put_chain("sos", chain(60, TAMPER_PHONE)).status_code == 200
    assert w.alarm(alarm_id)["escalation_due_at"] == due
    assert w.client.delete("/api/v1/escalation-chains/sos", headers=w.headers["admin"]).status_code
    assert w.alarm(alarm_id)["escalation_due_at"] == due
    assert wait_until(lambda: w.sent_to(SOS_PHONE))
    assert time.monotonic() - started >= 1.3
    assert not w.sent_to(TAMPER_PHONE) and not w.sent_to(ON_CALL)
    # A new alarm takes the chain in force now (the default again).
    (later,) = w.post_event(dev, "sos")
    alarm = w.alarm(later)
    assert parse(alarm["escalation_due_at"]) - parse(alarm["received_at"]) == dt.timedelta(
        seconds=600
    )


def test_a_chain_without_steps_never_escalates(live):
    w = live(default_after_s=0.3)
    assert w.put_chain("test", {"steps": []}).status_code == 200
    (alarm_id,) = w.post_event(w.device(), "test")
    alarm = w.alarm(alarm_id)
    assert alarm["escalation_due_at"] is None and alarm["escalation_status"] is None
    time.sleep(1.2)  # the default (0.3 s) would have fired by now
    assert w.standin.requests == []
    assert not any(a.startswith("escalat") for a in w.actions(alarm_id))


def test_acknowledging_clears_the_due_time(live):
    w = live()
    (alarm_id,) = w.post_event(w.device(), "sos")
    assert w.alarm(alarm_id)["escalation_due_at"] is not None
    r = w.client.post(f"/api/v1/alarms/{alarm_id}/ack", headers=w.headers["dispatcher"])
    assert r.status_code == 200 and r.get_json()["escalation_due_at"] is None


def test_status_not_sent_without_twilio_and_failed_when_twilio_fails(live):
    w = live(default_after_s=0.2, notifier=NotConfigured())
    (alarm_id,) = w.post_event(w.device(), "sos")
    assert wait_until(lambda: w.alarm(alarm_id)["escalation_status"] == "not_sent")
    w2 = live()
    w2.standin.fail_next = 100
    assert w2.put_chain("sos", chain(0.2, SOS_PHONE)).status_code == 200
    (failing,) = w2.post_event(w2.device(), "sos")
    assert wait_until(lambda: w2.alarm(failing)["escalation_status"] == "failed")


def test_outcome_status_words():
    ok = ("escalated", {"sid": "SM1"})
    failed = ("escalation_failed", {"errors": ["SMS to +31... failed: HTTP 500"]})
    unconfigured = ("escalation_failed", {"errors": ["not sent: SMS not configured"]})
    no_numbers = ("escalation_not_sent", {"reason": "no escalation numbers configured"})
    assert outcome_status([ok, ok]) == "sent"
    assert outcome_status([ok, failed]) == "failed"
    assert outcome_status([unconfigured, unconfigured]) == "not_sent"
    assert outcome_status([no_numbers]) == "not_sent"


# --- the victim's opt-in SMS -------------------------------------------------------------------


def approach_case(w: Live, phone: str | None = VICTIM_PHONE, opt_in: bool = True) -> dict[str, Any]:
    coord = w.headers["coordinator"]
    victim: dict[str, Any] = {"name": "Anouk"}
    if phone:
        victim["phone"] = phone
    case = w.client.post(
        "/api/v1/cases",
        headers=coord,
        json={"reference": f"V-{uuid.uuid4().hex[:6]}", "municipality": "0344", "victim": victim},
    ).get_json()
    devices = {}
    for kind, role in (("victim_alarm", "victim"), ("perpetrator_tracker", "perpetrator")):
        devices[role] = w.device(kind)
        r = w.client.post(
            f"/api/v1/cases/{case['id']}/devices",
            headers=coord,
            json={"device_id": devices[role]["id"], "role": role},
        )
        assert r.status_code == 201
    now = utcnow()
    r = w.client.post(
        f"/api/v1/cases/{case['id']}/bans",
        headers=coord,
        json={
            "kind": "contact",
            "distance_m": 500,
            "valid_from": iso(now - dt.timedelta(days=1)),
            "valid_until": iso(now + dt.timedelta(days=30)),
            "legal_basis": "509hh Sv",
        },
    )
    assert r.status_code == 201
    if opt_in:
        r = w.client.put(
            f"/api/v1/cases/{case['id']}/victim-notification", headers=coord, json={"sms": True}
        )
        assert r.status_code == 200 and r.get_json()["victim_sms"] is True
    w.post_event(devices["victim"], "position", position=fix(0))
    return {"case": case, **devices}


def fix(east_m: float) -> dict[str, float]:
    return {"lat": CENTRE[0], "lon": CENTRE[1] + east_m * M_LON, "accuracy_m": 5.0}


def victim_entries(w: Live, alarm_id: int) -> list[dict[str, Any]]:
    return [e for e in w.alarm(alarm_id)["timeline"] if e["action"].startswith("victim_")]


def test_approach_texts_the_victim_once_with_opt_in(live):
    w = live()
    c = approach_case(w)
    (warning_id,) = w.post_fix(c["perpetrator"], 800, ago_s=30)
    assert w.alarm(warning_id)["type"] == "proximity_warning"
    assert wait_until(lambda: victim_entries(w, warning_id))
    (sms,) = w.sent_to(VICTIM_PHONE)
    assert sms["kind"] == "sms" and sms["Body"] == VICTIM_TEXT
    for word in ("Anouk", "500", "800", "meter"):
        assert word not in sms["Body"]
    (entry,) = victim_entries(w, warning_id)
    assert entry["action"] == "victim_notified" and entry["detail"]["sid"].startswith("SM")
    # Later positions of the same episode text nobody again.
    assert w.post_fix(c["perpetrator"], 790) == []
    assert w.alarm(warning_id)["detail"]["fixes"] == 2  # counted on the open warning
    time.sleep(0.5)
    assert len(w.sent_to(VICTIM_PHONE)) == 1
    timeline = json.dumps(w.alarm(warning_id)["timeline"])
    assert VICTIM_PHONE not in timeline and VICTIM_PHONE[3:] not in timeline


def test_without_opt_in_nothing_is_sent_or_recorded(live):
    w = live()
    c = approach_case(w, opt_in=False)
    # 500 m closer a minute later: plausible (a fix implying over 250 km/h never raises).
    (warning_id,) = w.post_fix(c["perpetrator"], 800, ago_s=60)
    (violation_id,) = w.post_fix(c["perpetrator"], 300)
    assert w.alarm(violation_id)["type"] == "proximity_violation"
    time.sleep(0.8)
    assert w.sent_to(VICTIM_PHONE) == []
    assert victim_entries(w, warning_id) == [] and victim_entries(w, violation_id) == []


def test_the_victim_is_not_texted_about_her_own_sos(live):
    w = live()
    c = approach_case(w)
    (sos_id,) = w.post_event(c["victim"], "sos")
    time.sleep(0.8)
    assert w.sent_to(VICTIM_PHONE) == [] and victim_entries(w, sos_id) == []


def test_a_failed_victim_sms_is_recorded_without_her_number(live):
    w = live()
    c = approach_case(w)
    w.standin.fail_next = 100
    (warning_id,) = w.post_fix(c["perpetrator"], 800)
    assert wait_until(lambda: victim_entries(w, warning_id))
    (entry,) = victim_entries(w, warning_id)
    assert entry["action"] == "victim_notification_failed"
    assert entry["detail"]["attempts"] == 2
    assert VICTIM_PHONE not in json.dumps(entry) and VICTIM_PHONE[3:] not in json.dumps(entry)


def test_victim_sms_without_twilio_is_recorded_as_not_sent(live):
    w = live(notifier=NotConfigured())
    c = approach_case(w)
    (warning_id,) = w.post_fix(c["perpetrator"], 800)
    assert wait_until(lambda: victim_entries(w, warning_id))
    (entry,) = victim_entries(w, warning_id)
    assert entry["action"] == "victim_notification_not_sent"
    assert VICTIM_PHONE not in json.dumps(entry)


def test_intake_does_not_wait_for_the_victim_sms(live):
    w = live()
    c = approach_case(w)
    w.standin.fail_next = 100  # every attempt fails: the sends take a while on their thread
    w.escalator.retry_delays_s = (1.0, 1.0)
    before = w.open_alarm_ids(c["perpetrator"])
    started = time.monotonic()
    w.post_event(c["perpetrator"], "position", position=fix(800))
    assert time.monotonic() - started < 1.0
    (warning_id,) = w.open_alarm_ids(c["perpetrator"]) - before
    assert victim_entries(w, warning_id) == []
    assert wait_until(lambda: victim_entries(w, warning_id))


def test_a_victim_sms_interrupted_by_a_crash_is_sent_after_the_restart(live):
    w = live()
    c = approach_case(w)
    # The process "dies" between committing the warning and texting her: nothing armed.
    w.st.publisher = w.inner
    (warning_id,) = w.post_fix(c["perpetrator"], 800)
    time.sleep(0.3)
    assert w.sent_to(VICTIM_PHONE) == []
    w.escalator.rearm()  # what `aware serve` does on start
    assert wait_until(lambda: victim_entries(w, warning_id))
    assert len(w.sent_to(VICTIM_PHONE)) == 1
    # A second restart sends nothing more: once per alarm.
    w.escalator.rearm()
    time.sleep(0.5)
    assert len(w.sent_to(VICTIM_PHONE)) == 1


def test_a_stale_warning_does_not_text_her_after_a_restart(live):
    w = live()
    c = approach_case(w)
    w.st.publisher = w.inner
    (warning_id,) = w.post_fix(c["perpetrator"], 800)
    later = utcnow() + dt.timedelta(minutes=11)
    w.escalator.clock = lambda: later
    w.escalator.rearm()
    time.sleep(0.5)
    assert w.sent_to(VICTIM_PHONE) == [] and victim_entries(w, warning_id) == []


def test_a_failing_send_does_not_hold_up_another_alarms_escalation(live):
    w = live()
    assert w.put_chain("tamper", chain(0.2, TAMPER_PHONE)).status_code == 200
    assert w.put_chain("sos", chain(0.6, SOS_PHONE)).status_code == 200
    w.escalator.retry_delays_s = (3.0, 3.0)  # the tamper SMS will take 6 s of retries
    w.standin.fail_next = 1
    device = w.device()
    (tamper_id,) = w.post_event(device, "tamper")
    time.sleep(0.4)  # the tamper firing is now retrying
    (sos_id,) = w.post_event(device, "sos")
    started = time.monotonic()
    assert wait_until(lambda: w.sent_to(SOS_PHONE), timeout=3.0)
    assert time.monotonic() - started < 2.0
    assert wait_until(lambda: "escalated" in w.actions(sos_id), timeout=2.0)
    assert "escalated" not in w.actions(tamper_id)  # still retrying
    assert wait_until(lambda: "escalated" in w.actions(tamper_id), timeout=10.0)
