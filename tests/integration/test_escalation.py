"""Escalation end to end in-process: real database, real `twilio` client, local stand-in."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
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


def standin_notifier(standin):
    return TwilioNotifier(
        standin.account_sid, standin.auth_token, "+3197010203040", base_url=standin.base_url
    )


def timeline_of(sessions, alarm_id):
    with sessions() as s:
        _, entries = alarm_services.get(s, alarm_id)
        return [(e.action, e.detail) for e in entries]


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
        notifier = notifier or standin_notifier(standin)
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
        return timeline_of(sessions, alarm_id)

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


# --- durable escalation: due work in the database, claimed by whichever process looks ----------

VICTIM_PHONE = "+31611122233"
SOS_PHONE = "+31600000001"
FLOOD_PHONE = "+31600000009"


@pytest.fixture
def durable(fresh_db_url):
    """Escalators as separate "processes" on one database (each with its own threads)."""
    from sqlalchemy import select as _select

    from aware.alarms.models import Alarm
    from aware.alarms.services import insert_alarm, next_seq
    from aware.risk import services as risk
    from aware.risk.models import Case
    from aware.risk.schemas import CaseCreate

    engine = make_engine(fresh_db_url)
    sessions = make_sessionmaker(engine)
    standin = TwilioStandIn().start()
    made: list[Escalator] = []
    inner = RecordingPublisher()

    def escalator(notifier=None, **kw):
        notifier = notifier or standin_notifier(standin)
        chain = esc.default_chain(600, [PHONE])
        e = Escalator(sessions, notifier, inner, chain, utcnow, retry_delays_s=(0.1,), **kw)
        made.append(e)
        return e

    def device(kind="victim_alarm"):
        with sessions() as s:
            d, _ = device_services.register(
                s, f"D-{len(made)}-{time.monotonic_ns()}", kind, utcnow()
            )
            return d.id

    def case(opt_in=True, phone=VICTIM_PHONE):
        body = {
            "reference": f"R-{time.monotonic_ns()}",
            "municipality": "0344",
            "victim": {"name": "Anouk"},
        }
        if phone:
            body["victim"]["phone"] = phone
        with sessions() as s:
            c = risk.create_case(s, CaseCreate.model_validate(body), utcnow())
            c.victim_sms = opt_in
            s.commit()
            return c.id

    def alarm(
        type_="sos",
        chain=None,
        after_s=1.0,
        to=PHONE,
        received_at=None,
        device_id=None,
        case_id=None,
        priority=None,
        repeats=0,
    ):
        now = received_at or utcnow()
        chain = chain or esc.chain_to_data(
            esc.default_chain(after_s, [to], repeat_every_s=10, max_repeats=repeats)
        )
        with sessions() as s:
            conn = s.connection()
            a = insert_alarm(
                conn,
                chain,
                seq=next_seq(conn),
                type=type_,
                priority=priority or {"sos": 1, "zone_violation": 1}.get(type_, 2),
                device_id=device_id,
                case_id=case_id,
                occurred_at=now,
                received_at=now,
            )
            s.commit()
            return a.id

    def row(alarm_id):
        with sessions() as s:
            return s.execute(_select(Alarm).where(Alarm.id == alarm_id)).scalar_one()

    def timeline(alarm_id):
        return timeline_of(sessions, alarm_id)

    def sent(to=None, kind="sms"):
        return [r for r in standin.requests if r["kind"] == kind and (to is None or r["To"] == to)]

    yield type(
        "Durable",
        (),
        {
            "escalator": staticmethod(escalator),
            "device": staticmethod(device),
            "case": staticmethod(case),
            "alarm": staticmethod(alarm),
            "row": staticmethod(row),
            "timeline": staticmethod(timeline),
            "sent": staticmethod(sent),
            "standin": standin,
            "sessions": sessions,
            "Case": Case,
        },
    )
    for e in made:
        e.stop()
    standin.stop()
    engine.dispose()


def handle_together(escalators, ids):
    """Each escalator works on every alarm at the same moment (threads released together)."""
    gate = threading.Barrier(len(escalators))

    def run(e):
        gate.wait()
        for alarm_id in ids:
            e.handle(alarm_id)

    threads = [threading.Thread(target=run, args=(e,)) for e in escalators]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)


def test_due_time_is_kept_in_the_database_planned_moved_on_and_cleared(durable):
    raised = utcnow()
    alarm_id = durable.alarm(after_s=1.5, received_at=raised, repeats=2)
    # A new alarm is due "now" (received_at): whoever looks first plans it.
    assert durable.row(alarm_id).escalation_next_at == raised
    e = durable.escalator(lead_s=0.5)  # plans first: the firing is more than 0.5 s away
    e.rearm()
    assert wait_until(lambda: durable.row(alarm_id).escalation_next_at != raised)
    assert durable.row(alarm_id).escalation_next_at == raised + dt.timedelta(seconds=1.5)
    assert wait_until(lambda: durable.row(alarm_id).escalations_fired == 1)
    # Sent and recorded: the next firing (the first repeat, 10 s later) is what falls due.
    following = raised + dt.timedelta(seconds=11.5)
    assert wait_until(lambda: durable.row(alarm_id).escalation_next_at == following)
    assert durable.row(alarm_id).escalation_sending is None
    with durable.sessions() as s:
        alarm_services.acknowledge(
            s, alarm_id, alarm_services.Actor("user", "1", "anna"), utcnow(), RecordingPublisher()
        )
    assert durable.row(alarm_id).escalation_next_at is None


@pytest.mark.parametrize("after_s", [1.5])
def test_an_alarm_its_raiser_never_armed_escalates_on_time_from_a_polling_process(durable, after_s):
    # The raising process died right after the commit: no timer anywhere. A process that was
    # not polling sends nothing (the control), one that polls sends on time.
    idle = durable.escalator()
    started = utcnow()
    alarm_id = durable.alarm(after_s=after_s, received_at=started)
    time.sleep(after_s + 0.5)
    assert durable.sent() == []  # nobody polling: nothing goes out
    idle.stop()
    late_id = durable.alarm(after_s=after_s)
    raised = time.time()
    durable.escalator().start()
    # The overdue one goes out at the first poll; the fresh one on time.
    assert wait_until(lambda: durable.sent(PHONE), timeout=3)
    assert wait_until(lambda: "escalated" in [a for a, _ in durable.timeline(alarm_id)])
    assert wait_until(lambda: "escalated" in [a for a, _ in durable.timeline(late_id)], 6)
    bodies = [r for r in durable.sent(PHONE) if f"alarm {late_id} " in r["Body"]]
    assert len(bodies) == 1
    delay = bodies[0]["at"] - raised
    assert after_s - 0.05 <= delay <= after_s + 1.0, delay


def test_missed_repeats_are_sent_once_not_all_at_once(durable):
    # Raised 42 s ago, nobody escalating since: step 0 (1 s, on call) is overdue, and so are
    # step 1 (5 s, the supervisor) and three of its repeats (every 10 s). Each step goes out
    # once; the supervisor's missed repeats as one text, not four at once.
    chain = {
        "steps": [
            {"after_s": 1, "channels": ["sms"], "to": [PHONE]},
            {"after_s": 5, "channels": ["sms"], "to": [SOS_PHONE]},
        ],
        "repeat_every_s": 10,
        "max_repeats": 5,
    }
    alarm_id = durable.alarm(chain=chain, received_at=utcnow() - dt.timedelta(seconds=42))
    durable.escalator().start()
    assert wait_until(lambda: durable.row(alarm_id).escalations_fired == 5)
    assert wait_until(
        lambda: len([a for a, _ in durable.timeline(alarm_id) if a == "escalated"]) == 2
    )
    time.sleep(0.6)
    assert len(durable.sent(PHONE)) == 1 and len(durable.sent(SOS_PHONE)) == 1
    escalated = [d for a, d in durable.timeline(alarm_id) if a == "escalated"]
    assert sorted((d["to"], d["firing"], d.get("skipped", 0)) for d in escalated) == [
        (SOS_PHONE, 4, 3),
        (PHONE, 0, 0),
    ]
    # The next repeat (firing 5, at 45 s) is planned, not sent early.
    assert durable.row(alarm_id).escalation_next_at > utcnow() - dt.timedelta(seconds=1)


class Died(BaseException):
    """The sending process is gone (nothing after the claim runs)."""


class DiesWhileSending:
    """A notifier whose process dies in the middle of a send (once `gone` is set)."""

    configured = True

    def __init__(self) -> None:
        self.gone = threading.Event()

    def send_sms(self, to: str, body: str) -> str:
        self.gone.wait(20)
        raise Died

    def call(self, to: str, twiml: str, status_callback: str | None = None) -> str:
        self.gone.wait(20)
        raise Died


def test_a_firing_whose_sender_died_mid_send_is_sent_by_another_process(durable):
    alarm_id = durable.alarm(after_s=0, received_at=utcnow() - dt.timedelta(seconds=1))
    notifier = DiesWhileSending()
    dying = durable.escalator(notifier=notifier, send_lease_s=1.5)

    def run() -> None:
        # The process is gone: nothing it would do after the send happens.
        with contextlib.suppress(Died):
            dying.handle(alarm_id)

    sender = threading.Thread(target=run)
    sender.start()
    assert wait_until(lambda: durable.row(alarm_id).escalation_sending == 0)  # claimed
    claimed = time.time()
    durable.escalator(send_lease_s=1.5).start()
    # While the claim's lease runs, the other process leaves it alone (control); after it,
    # it sends the firing itself, once.
    assert wait_until(lambda: durable.sent(PHONE), timeout=5)
    waited = durable.sent(PHONE)[0]["at"] - claimed
    assert 1.4 <= waited <= 1.5 + 1.5, waited
    notifier.gone.set()
    sender.join(10)
    assert wait_until(lambda: durable.row(alarm_id).escalation_sending is None)
    escalated = [d for a, d in durable.timeline(alarm_id) if a == "escalated"]
    assert sorted((d["channel"], d["firing"], d["resent"]) for d in escalated) == [
        ("sms", 0, True),
        ("voice", 0, True),
    ]
    assert len(durable.sent(PHONE)) == 1
    assert durable.row(alarm_id).escalations_fired == 1


def test_two_processes_handling_the_same_alarms_at_once_send_each_firing_once(durable):
    ids = [
        durable.alarm(after_s=0, received_at=utcnow() - dt.timedelta(seconds=1)) for _ in range(6)
    ]
    a, b = durable.escalator(), durable.escalator()
    handle_together((a, b), ids)
    assert sorted(int(r["Body"].split()[2]) for r in durable.sent(PHONE)) == sorted(ids)
    for alarm_id in ids:
        assert [x for x, _ in durable.timeline(alarm_id)].count("escalated") == 2


def test_the_victim_sms_is_claimed_once_across_processes(durable):
    perp = durable.device("perpetrator_tracker")
    case_id = durable.case()
    ids = [
        durable.alarm("proximity_warning", after_s=600, device_id=perp, case_id=case_id)
        for _ in range(5)
    ]
    a, b = durable.escalator(), durable.escalator()
    handle_together((a, b), ids)
    assert len(durable.sent(VICTIM_PHONE)) == 5  # one per alarm
    for alarm_id in ids:
        victim = [x for x, _ in durable.timeline(alarm_id) if x.startswith("victim_")]
        assert victim == ["victim_notified"]
        assert durable.row(alarm_id).victim_sms_claimed_at is not None
    # Later looks (a restart, the poller) send nothing more.
    a.rearm()
    b.rearm()
    time.sleep(0.5)
    assert len(durable.sent(VICTIM_PHONE)) == 5


def test_a_victim_sms_the_raiser_never_sent_goes_from_a_polling_process(durable):
    perp = durable.device("perpetrator_tracker")
    fresh = durable.alarm(
        "proximity_violation", after_s=600, device_id=perp, case_id=durable.case()
    )
    stale = durable.alarm(
        "proximity_violation",
        after_s=600,
        device_id=perp,
        case_id=durable.case(phone="+31611100000"),
        received_at=utcnow() - dt.timedelta(minutes=11),
    )
    opted_out = durable.alarm(
        "proximity_violation",
        after_s=600,
        device_id=perp,
        case_id=durable.case(opt_in=False, phone="+31611100001"),
    )
    started = time.time()
    durable.escalator().start()
    assert wait_until(lambda: durable.sent(VICTIM_PHONE), timeout=3)
    assert durable.sent(VICTIM_PHONE)[0]["at"] - started < 1.5
    assert wait_until(lambda: durable.row(fresh).escalation_next_at > utcnow())
    time.sleep(0.6)
    # An old warning would only frighten her; an opted-out case is never texted.
    assert durable.sent("+31611100000") == [] and durable.sent("+31611100001") == []
    assert [a for a, _ in durable.timeline(stale) if a.startswith("victim_")] == []
    assert [a for a, _ in durable.timeline(opted_out) if a.startswith("victim_")] == []
    assert len(durable.sent(VICTIM_PHONE)) == 1


@pytest.mark.parametrize("cap", [2, 8])
def test_a_flood_from_one_device_does_not_hold_up_another_devices_sos(durable, cap):
    # 16 older P1 alarms of one tracker, all due, each send to its number taking 0.5 s (a
    # congested provider); then another device's SOS falls due. With the per-device cap (2 of 8
    # workers) the SOS goes out at once; without it (cap 8: the FIFO of old) it waits for two
    # rounds of the flood (the control). The same tracker's approach alarm texts the victim at
    # once too: her text never waits behind the tracker's own flood.
    durable.standin.slow[FLOOD_PHONE] = 0.5
    tracker, button = durable.device("perpetrator_tracker"), durable.device()
    past = utcnow() - dt.timedelta(seconds=5)
    flood = [
        durable.alarm(
            "zone_violation",
            after_s=0,
            to=FLOOD_PHONE,
            device_id=tracker,
            received_at=past + dt.timedelta(milliseconds=i),
        )
        for i in range(16)
    ]
    approach = durable.alarm(
        "proximity_violation",
        after_s=600,
        device_id=tracker,
        case_id=durable.case(),
        received_at=utcnow(),
    )
    sos = durable.alarm("sos", after_s=0, to=SOS_PHONE, device_id=button, received_at=utcnow())
    e = durable.escalator(workers=8, device_cap=cap)
    started = time.time()
    e.rearm()
    assert wait_until(lambda: durable.sent(SOS_PHONE) and durable.sent(VICTIM_PHONE), timeout=10)
    delays = [durable.sent(to)[0]["at"] - started for to in (SOS_PHONE, VICTIM_PHONE)]
    if cap == 2:
        assert max(delays) < 1.0, delays
    else:
        assert min(delays) > 1.5, delays
    assert wait_until(
        lambda: (
            [a for a, _ in durable.timeline(approach) if a.startswith("victim_")]
            == ["victim_notified"]
        )
    )
    assert wait_until(lambda: len(durable.sent(FLOOD_PHONE)) == len(flood), timeout=30)
    assert wait_until(lambda: "escalated" in [a for a, _ in durable.timeline(sos)])


def test_a_firing_claimed_ahead_is_sent_on_the_dot_and_not_after_an_acknowledgement(durable):
    # Firings are claimed LEAD early (database waits happen before the due time) and sent on
    # the dot. One acknowledged between its claim and its due time sends nothing.
    raised = utcnow()
    sent_id = durable.alarm(after_s=1.5, received_at=raised)
    acked_id = durable.alarm(after_s=1.5, received_at=raised)
    durable.escalator(lead_s=1.0).start()
    assert wait_until(lambda: durable.row(acked_id).escalation_sending == 0, timeout=3)
    assert utcnow() < raised + dt.timedelta(seconds=1.5)  # claimed before it was due
    with durable.sessions() as s:
        alarm_services.acknowledge(
            s, acked_id, alarm_services.Actor("user", "1", "anna"), utcnow(), RecordingPublisher()
        )
    assert wait_until(lambda: durable.sent(PHONE), timeout=4)
    time.sleep(0.8)
    (sms,) = durable.sent(PHONE)
    assert f"alarm {sent_id} " in sms["Body"]
    assert sms["at"] >= raised.timestamp() + 1.5 - 0.01  # never before it was due
    assert "escalated" not in [a for a, _ in durable.timeline(acked_id)]
    assert durable.row(acked_id).escalation_sending is None


def test_the_poll_takes_every_devices_most_urgent_work_first_whatever_one_device_floods(durable):
    from aware.alarms.escalator import POLL_PER_DEVICE, due_alarms_query

    tracker, button = durable.device("perpetrator_tracker"), durable.device()
    past = utcnow() - dt.timedelta(minutes=5)
    flood = [
        durable.alarm(
            "zone_violation",
            device_id=tracker,
            received_at=past + dt.timedelta(seconds=i),
        )
        for i in range(POLL_PER_DEVICE + 24)
    ]
    # Newer than the whole flood and of a lower priority than it: still in the poll.
    tamper = durable.alarm("tamper", device_id=button, priority=2)
    approach = durable.alarm(
        "proximity_warning", device_id=tracker, case_id=durable.case(), priority=2
    )
    later = durable.alarm("sos", device_id=button, received_at=utcnow() + dt.timedelta(hours=1))
    with durable.sessions() as s:
        rows = s.execute(due_alarms_query(utcnow())).all()
    ids = [r[0] for r in rows]
    # At most POLL_PER_DEVICE of the tracker's flood, the oldest; every other device's work;
    # the approach alarm whose victim text is pending in a lane of its own; nothing not due.
    assert ids[:POLL_PER_DEVICE] == flood[:POLL_PER_DEVICE]
    assert set(ids[POLL_PER_DEVICE:]) == {tamper, approach}
    assert later not in ids
    assert [bool(r[4]) for r in rows if r[0] == approach] == [True]
