"""The hand-built alarm object matches the documented AlarmOut schema exactly."""

import datetime as dt

from aware.alarms.models import Alarm
from aware.alarms.schemas import AlarmOut, alarm_to_dict

T = dt.datetime(2026, 11, 28, 9, 0, 0, 123456, tzinfo=dt.UTC)


def alarm(**over):
    base = dict(
        id=7,
        seq=42,
        type="sos",
        priority=1,
        status="open",
        device_id=3,
        case_id=None,
        event_id="e1",
        occurred_at=T,
        received_at=T + dt.timedelta(seconds=1),
        lat=52.09,
        lon=5.12,
        accuracy_m=8.0,
        position_at=T,
        position_source="event",
        delivered_at=None,
        acknowledged_at=None,
        acknowledged_by=None,
        resolved_at=None,
        resolved_by=None,
        outcome=None,
    )
    base.update(over)
    return Alarm(**base)


def test_alarm_dict_round_trips_through_the_schema():
    for a in (
        alarm(),
        alarm(
            lat=None,
            lon=None,
            status="resolved",
            outcome="genuine",
            acknowledged_at=T,
            acknowledged_by="anna",
            resolved_at=T,
            resolved_by="anna",
            type="test",
            priority=5,
        ),
    ):
        data = alarm_to_dict(a)
        assert AlarmOut.model_validate(data).model_dump(mode="json") == data
        assert set(data) == set(AlarmOut.model_fields)


def test_times_are_utc_with_z():
    data = alarm_to_dict(alarm(occurred_at=T.astimezone(dt.timezone(dt.timedelta(hours=1)))))
    assert data["occurred_at"] == "2026-11-28T09:00:00.123456Z"
    assert data["position"]["at"] == "2026-11-28T09:00:00.123456Z"
    assert data["is_test"] is False and alarm_to_dict(alarm(type="test"))["is_test"] is True


def test_escalation_due_at_follows_the_alarms_own_chain_while_open_and_armed():
    chain = {"steps": [{"after_s": 30, "channels": ["sms"], "to": []}], "max_repeats": 0}
    raised = T + dt.timedelta(seconds=1)
    armed = dict(escalation=chain, escalation_token="tok", escalations_fired=0)
    data = alarm_to_dict(alarm(**armed))
    assert data["escalation_due_at"] == "2026-11-28T09:00:31.123456Z"
    assert AlarmOut.model_validate(data).escalation_due_at == raised + dt.timedelta(seconds=30)
    # Fired already (no more firings), accepted, never-escalating or not copied: null.
    assert alarm_to_dict(alarm(**{**armed, "escalations_fired": 1}))["escalation_due_at"] is None
    assert alarm_to_dict(alarm(**{**armed, "escalation_token": None}))["escalation_due_at"] is None
    assert alarm_to_dict(alarm(**{**armed, "status": "acknowledged"}))["escalation_due_at"] is None
    never = {**armed, "escalation": {"steps": []}}
    assert alarm_to_dict(alarm(**never))["escalation_due_at"] is None
    assert alarm_to_dict(alarm(**{**armed, "escalation": None}))["escalation_due_at"] is None
    failed = alarm_to_dict(alarm(escalation_status="failed"))
    assert failed["escalation_status"] == "failed"
    assert AlarmOut.model_validate(failed).model_dump(mode="json") == failed
