"""Retention: old ended cases anonymised, old positions removed; nothing else, and idempotent."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from aware.adapters.realtime import RecordingPublisher
from aware.alarms.models import Alarm, AlarmLogEntry
from aware.audit.models import AuditEntry
from aware.config import Settings
from aware.devices.models import Device, DeviceEvent
from aware.risk.models import Case, CaseAction
from aware.scheduler import jobs, retention

NOW = dt.datetime(2027, 6, 1, 3, 30, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def _case(session, reference, status, updated_days_ago, **extra):
    case = Case(
        reference=reference,
        municipality_code="0344",
        status=status,
        victim_name="Mirjam Bos",
        victim_phone="+31612121212",
        victim_address="Kade 9, Utrecht",
        victim_home_lat=52.09,
        victim_home_lon=5.12,
        victim_sms=True,
        perpetrator_name="Kees Bos",
        perpetrator_description="grijze auto",
        perpetrator_vehicle="12-ABC-3",
        concern="high",
        eligible_aware=True,
        created_at=NOW - (updated_days_ago + 100) * DAY,
        updated_at=NOW - updated_days_ago * DAY,
        **extra,
    )
    session.add(case)
    session.flush()
    return case


def _device(session):
    device = Device(
        serial=f"RT-{uuid.uuid4().hex[:8]}",
        kind="perpetrator_tracker",
        token_hash=uuid.uuid4().hex,
        created_at=NOW - 400 * DAY,
        last_position_at=NOW - 200 * DAY,
        last_lat=52.1,
        last_lon=5.1,
        last_accuracy_m=8.0,
    )
    session.add(device)
    session.flush()
    return device


def _event(session, device, days_ago, event_id):
    ev = DeviceEvent(
        device_id=device.id,
        event_id=event_id,
        type="position",
        occurred_at=NOW - days_ago * DAY,
        received_at=NOW - days_ago * DAY,
        lat=52.1,
        lon=5.1,
        accuracy_m=9.0,
        extra={"speed_kmh": 30},
    )
    session.add(ev)
    session.flush()
    return ev


def _alarm(session, device, status, days_ago, event=None):
    at = NOW - days_ago * DAY
    alarm = Alarm(
        seq=int(uuid.uuid4().int % 10**9),
        type="zone_violation",
        priority=1,
        status=status,
        device_id=device.id,
        event_pk=event.id if event else None,
        occurred_at=at,
        received_at=at,
        lat=52.1,
        lon=5.1,
        accuracy_m=9.0,
        position_at=at,
        position_source="event",
        resolved_at=at + dt.timedelta(minutes=5) if status == "resolved" else None,
        outcome="genuine" if status == "resolved" else None,
    )
    session.add(alarm)
    session.flush()
    session.add(
        AlarmLogEntry(
            alarm_id=alarm.id,
            at=at,
            action="position",
            actor_type="device",
            detail={"lat": 52.1, "lon": 5.1, "accuracy_m": 9.0, "distance_m": 40.0},
        )
    )
    session.flush()
    return alarm


def _retention_audits(session, object_type):
    return session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action == "retention.run", AuditEntry.object_type == object_type)
        .order_by(AuditEntry.id)
    ).all()


def test_only_old_ended_cases_are_anonymised_and_a_second_run_changes_nothing(sessions):
    session = sessions()
    old_ended = _case(session, "RET-OLD", "ended", 731)
    session.add(CaseAction(case_id=old_ended.id, kind="om", title="OM", opened_at=NOW, note="x"))
    young_ended = _case(session, "RET-YOUNG", "ended", 700)
    old_active = _case(session, "RET-ACTIVE", "active", 900)
    session.commit()

    assert retention.anonymise_ended_cases(sessions, NOW, 730) == 1
    check = sessions()
    old = check.get(Case, old_ended.id)
    assert old.victim_name == retention.ANONYMISED and old.perpetrator_name == retention.ANONYMISED
    assert (old.victim_phone, old.victim_address, old.victim_home_lat, old.victim_home_lon) == (
        None,
        None,
        None,
        None,
    )
    assert (old.perpetrator_description, old.perpetrator_vehicle, old.victim_sms) == (
        None,
        None,
        False,
    )
    # What the figures count stays: reference, municipality, status, concern, eligibility.
    assert (old.reference, old.municipality_code, old.status, old.concern, old.eligible_aware) == (
        "RET-OLD",
        "0344",
        "ended",
        "high",
        True,
    )
    assert check.scalars(select(CaseAction.note).where(CaseAction.case_id == old.id)).all() == [
        None
    ]
    for untouched in (young_ended.id, old_active.id):
        case = check.get(Case, untouched)
        assert case.victim_name == "Mirjam Bos" and case.victim_phone == "+31612121212"
        assert case.victim_home_lat == 52.09 and case.perpetrator_vehicle == "12-ABC-3"

    # Idempotent: the second run finds nothing, and each run left one audit entry as system.
    assert retention.anonymise_ended_cases(sessions, NOW + DAY, 730) == 0
    audits = _retention_audits(sessions(), "cases")
    assert [(a.username, a.role, a.user_id) for a in audits] == [("system", "system", None)] * 2
    assert [a.detail["cases"] for a in audits] == [1, 0]
    assert "Mirjam" not in str(audits[0].detail)


def test_only_old_positions_are_removed_never_from_open_alarms(sessions):
    session = sessions()
    device = _device(session)
    old_event = _event(session, device, 91, "old")
    young_event = _event(session, device, 89, "young")
    open_event = _event(session, device, 120, "open-alarm")
    resolved_old = _alarm(session, device, "resolved", 100)
    resolved_young = _alarm(session, device, "resolved", 10)
    open_old = _alarm(session, device, "open", 120, event=open_event)
    acked_old = _alarm(session, device, "acknowledged", 95)
    fresh = _device(session)
    fresh.last_position_at = NOW - DAY
    session.commit()

    counts = retention.delete_old_positions(sessions, NOW, 90, batch=1)
    assert counts == {"device_events": 1, "alarms": 1, "alarm_log": 1, "devices": 1}
    check = sessions()
    ev = check.get(DeviceEvent, old_event.id)
    # The event row stays (evidence, idempotency key), its position is gone.
    assert ev is not None and ev.event_id == "old" and ev.type == "position"
    assert (ev.lat, ev.lon, ev.accuracy_m, ev.extra) == (None, None, None, None)
    for kept in (young_event.id, open_event.id):
        assert check.get(DeviceEvent, kept).lat == 52.1
    gone = check.get(Alarm, resolved_old.id)
    assert (gone.lat, gone.lon, gone.accuracy_m, gone.position_at) == (None, None, None, None)
    assert gone.outcome == "genuine" and gone.type == "zone_violation"
    for kept in (resolved_young.id, open_old.id, acked_old.id):
        assert check.get(Alarm, kept).lat == 52.1
    timeline = {e.alarm_id: e.detail for e in check.scalars(select(AlarmLogEntry)).all()}
    assert timeline[resolved_old.id] == {
        "lat": None,
        "lon": None,
        "accuracy_m": None,
        "distance_m": 40.0,
    }
    assert timeline[open_old.id]["lat"] == 52.1 and timeline[resolved_young.id]["lat"] == 52.1
    dev = check.get(Device, device.id)
    assert (dev.last_lat, dev.last_lon) == (None, None)
    assert dev.last_position_at is not None  # still orders late fixes
    assert check.get(Device, fresh.id).last_lat == 52.1

    # Idempotent: nothing left to remove; one audit entry per run with its counts.
    again = retention.delete_old_positions(sessions, NOW, 90)
    assert again == {"device_events": 0, "alarms": 0, "alarm_log": 0, "devices": 0}
    audits = _retention_audits(sessions(), "positions")
    assert [a.detail["device_events"] for a in audits] == [1, 0]
    assert all(a.username == "system" and a.purpose == "bewaartermijn" for a in audits)


def test_the_scheduler_runs_both_jobs_by_fixed_id_with_the_configured_periods(sessions):
    session = sessions()
    old = _case(session, "RET-JOB", "ended", 40)
    device = _device(session)
    ev = _event(session, device, 8, "job")
    session.commit()
    ids = [j.id for j in jobs.JOBS]
    assert "retention_cases" in ids and "retention_positions" in ids
    settings = Settings(env="testing", retention_case_days=30, retention_position_days=7)
    ctx = jobs.JobContext(
        sessions=sessions,
        settings=settings,
        publisher=RecordingPublisher(),
        clock=lambda: NOW,
        jobs=list(jobs.JOBS),
    )
    jobs.set_context(ctx)
    try:
        assert jobs.run_job("retention_cases") == 1
        assert jobs.run_job("retention_positions") >= 1
    finally:
        jobs.set_context(None)
    check = sessions()
    assert check.get(Case, old.id).victim_name == retention.ANONYMISED
    assert check.get(DeviceEvent, ev.id).lat is None


@pytest.mark.parametrize(
    ("var", "value"), [("AWARE_RETENTION_CASE_DAYS", "0"), ("AWARE_RETENTION_POSITION_DAYS", "x")]
)
def test_a_bad_retention_period_stops_start_up_naming_the_variable(var, value):
    from aware.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match=var):
        load_settings({var: value})
