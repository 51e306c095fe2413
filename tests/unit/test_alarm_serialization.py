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
