"""Escalation end to end in-process: real database, real `twilio` client, local stand-in."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from aware.adapters.notify import NotConfigured, TwilioNotifier
from aware.adapters.realtime import RecordingPublisher
from aware.alarms import escalation as esc
from aware.alarms import services as alarm_services
from aware.alarms.escalator import EscalatingPublisher, Escalator
from aware.db import make_engine, make_sessionmaker
from aware.devices import services as device_services
from aware.devices.schemas import EventIn
from tests.standins.twilio_api import TwilioStandIn

PHONE = "+31612345678"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.fixture
def world(fresh_db_url):
    engine = make_engine(fresh_db_url)
    sessions = make_sessionmaker(engine)
    standin = TwilioStandIn().start()
    with sessions() as s:
        device, _ = device_services.register(s, "AW-ESC", "victim_alarm", utcnow())
    inner = RecordingPublisher()
    current = {"chain": None}

    def make(after_s=0.5, phones=(PHONE,), notifier=None, repeats=0):
        notifier = notifier or TwilioNotifier(
            standin.account_sid, standin.auth_token, "+3197010203040", base_url=standin.base_url
        )
        chain = esc.default_chain(after_s, list(phones), repeat_every_s=10, max_repeats=repeats)
        current["chain"] = esc.chain_to_data(chain)  # what the app copies onto new alarms
        escalator = Escalator(sessions, notifier, inner, chain, utcnow, retry_delays_s=(0.1,))
        return escalator, EscalatingPublisher(inner, escalator)

    def raise_sos(publisher, event_id="sos-1"):
        with sessions() as s:
            result = device_services.ingest(
                s,
                device.id,
                [EventIn(event_id=event_id, type="sos", occurred_at=utcnow())],
                utcnow(),
                publisher,
                default_escalation=current["chain"],
            )
        return result.alarm_ids[0]

    def timeline(alarm_id):
        with sessions() as s:
            _, entries = alarm_services.get(s, alarm_id)
            return [(e.action, e.detail) for e in entries]

    yield {
        "make": make,
        "raise": raise_sos,
        "timeline": timeline,
        "standin": standin,
        "sessions": sessions,
        "inner": inner,
    }
    standin.stop()
    engine.dispose()


def wait_until(predicate, timeout=8.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_unacknowledged_alarm_is_texted_and_called_after_the_delay(world):
    escalator, publisher = world["make"](after_s=0.5)
    started = time.monotonic()
    alarm_id = world["raise"](publisher)
    assert wait_until(lambda: len(world["standin"].requests) >= 2)
    delay = time.monotonic() - started
    assert 0.4 <= delay < 3.0  # configured 0.5 s
    kinds = sorted(r["kind"] for r in world["standin"].requests)
    assert kinds == ["sms", "voice"]
    assert all(r["To"] == PHONE for r in world["standin"].requests)
    assert wait_until(lambda: [a for a, _ in world["timeline"](alarm_id)].count("escalated") == 2)
    updated = [p for n, p in world["inner"].events if n == "alarm.updated"]
    assert updated and updated[-1]["id"] == alarm_id


def test_acknowledged_in_time_sends_nothing(world):
    escalator, publisher = world["make"](after_s=0.8)
    alarm_id = world["raise"](publisher)
    with world["sessions"]() as s:
        alarm_services.acknowledge(
            s, alarm_id, alarm_services.Actor("user", "1", "anna"), utcnow(), RecordingPublisher()
        )
    time.sleep(1.5)
    assert world["standin"].requests == []
    assert "escalated" not in [a for a, _ in world["timeline"](alarm_id)]


def test_twilio_500_is_retried_and_recorded(world):
    world["standin"].fail_next = 1
    escalator, publisher = world["make"](after_s=0.2)
    alarm_id = world["raise"](publisher)
    assert wait_until(lambda: [a for a, _ in world["timeline"](alarm_id)].count("escalated") == 2)
    sent = [d for a, d in world["timeline"](alarm_id) if a == "escalated"]
    assert sorted(d["attempts"] for d in sent) == [1, 2]  # one went through on the retry


def test_without_twilio_settings_the_timeline_says_not_sent(world):
    escalator, publisher = world["make"](after_s=0.2, notifier=NotConfigured())
    alarm_id = world["raise"](publisher)
    assert wait_until(lambda: any(a == "escalation_failed" for a, _ in world["timeline"](alarm_id)))
    failed = [d for a, d in world["timeline"](alarm_id) if a == "escalation_failed"]
    assert any("not configured" in e for d in failed for e in d["errors"])


def test_restart_rearms_open_alarms(world):
    # The first process armed nothing (it "died"); a new escalator finds the alarm and fires.
    _, quiet = world["make"](after_s=0.3)
    alarm_id = world["raise"](quiet.inner)  # published without arming
    escalator, _ = world["make"](after_s=0.3)
    assert escalator.rearm() >= 1
    assert wait_until(lambda: "escalated" in [a for a, _ in world["timeline"](alarm_id)])


def test_two_processes_armed_for_one_alarm_send_once(world):
    # After restarts, a web process and the scheduler (or two web processes) may both hold a
    # timer for the same firing: the firing is claimed in the database, so one SMS goes out.
    _, quiet = world["make"](after_s=0.3)
    alarm_id = world["raise"](quiet.inner)
    first, _ = world["make"](after_s=0.3)
    second, _ = world["make"](after_s=0.3)
    first.rearm()
    second.rearm()
    assert wait_until(lambda: "escalated" in [a for a, _ in world["timeline"](alarm_id)])
    time.sleep(0.8)
    sms = [r for r in world["standin"].requests if r["kind"] == "sms"]
    assert len(sms) == 1
    assert [a for a, _ in world["timeline"](alarm_id)].count("escalated") == 2  # SMS + call
