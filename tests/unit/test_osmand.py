"""The OsmAnd / Traccar Client protocol mapping."""

import datetime as dt

import pytest

from aware.api import ApiError
from aware.devices import osmand

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1795867200", dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)),
        ("1795867200000", dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)),
        ("2026-11-28T13:00:00+01:00", dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)),
        ("2026-11-28T12:00:00Z", dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)),
        (None, NOW),
    ],
)
def test_timestamps_in_seconds_milliseconds_or_iso(raw, expected):
    assert osmand.parse_timestamp(raw, NOW) == expected


def test_bad_timestamp_names_the_field():
    with pytest.raises(ApiError) as exc:
        osmand.parse_timestamp("last tuesday", NOW)
    assert exc.value.status == 422 and "timestamp" in exc.value.fields


def test_position_with_sos_becomes_one_sos_event_with_the_fix():
    events, extras = osmand.to_events(
        {
            "id": "tok",
            "lat": "52.1",
            "lon": "5.1",
            "timestamp": "1795867200",
            "alarm": "sos",
            "speed": "3.5",
            "batt": "81",
        },
        NOW,
    )
    (e,) = events
    assert e.type == "sos" and e.position.lat == 52.1 and e.battery_pct == 81
    assert extras[e.event_id] == {"speed_kn": 3.5, "speed_kmh": 6.48}


def test_same_fix_sent_twice_gets_the_same_event_id():
    a, _ = osmand.to_events({"id": "t", "lat": "52", "lon": "5", "timestamp": "1795867200"}, NOW)
    b, _ = osmand.to_events({"id": "t", "lat": "52", "lon": "5", "timestamp": "1795867200"}, NOW)
    assert a[0].event_id == b[0].event_id and a[0].type == "position"


def test_no_fix_is_a_heartbeat():
    events, _ = osmand.to_events({"id": "t", "batt": "50"}, NOW)
    assert events[0].type == "heartbeat" and events[0].position is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"id": "t", "lat": "95", "lon": "5"}, "lat"),
        ({"id": "t", "lat": "52"}, "lon"),
        ({"id": "t", "lat": "52", "lon": "x"}, "lon"),
        ({"id": "t", "batt": "150"}, "batt"),
    ],
)
def test_bad_parameters_are_named(params, field):
    with pytest.raises(ApiError) as exc:
        osmand.to_events(params, NOW)
    assert exc.value.status == 422 and field in exc.value.fields


def test_traccar_client_json_body_is_flattened():
    body = {
        "device_id": "tok",
        "location": {
            "timestamp": "2026-11-28T12:00:00Z",
            "coords": {"latitude": 52.1, "longitude": 5.1, "accuracy": 12, "heading": 90},
            "battery": {"level": 0.5},
        },
    }
    flat = osmand.flatten_json(body)
    assert flat == {
        "id": "tok",
        "lat": 52.1,
        "lon": 5.1,
        "accuracy": 12,
        "bearing": 90,
        "timestamp": "2026-11-28T12:00:00Z",
        "batt": 50.0,
    }


def test_speed_in_knots_is_kept_and_converted_to_kmh():
    import datetime as dt

    from aware.devices.osmand import to_events

    now = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    params = {"id": "tok", "lat": "52.1", "lon": "5.1", "speed": "10", "bearing": "90"}
    (event,), extras = to_events(params, now)
    assert extras[event.event_id] == {"speed_kn": 10.0, "speed_kmh": 18.52, "bearing": 90.0}
