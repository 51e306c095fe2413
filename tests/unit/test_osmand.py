"""The OsmAnd / Traccar Client protocol mapping (pure parsing; the clock is passed in)."""

import datetime as dt
import json
import math

import pytest

from aware.api import ApiError
from aware.devices import osmand

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
STAMP = int(NOW.timestamp())  # 1795867200


def query(**params):
    return osmand.from_pairs([(k, str(v)) for k, v in params.items()])


def events_of(req, now=NOW):
    return osmand.to_events(req, now)


def one(req, now=NOW):
    (event,), extras = osmand.to_events(req, now)
    return event, extras.get(event.event_id, {})


def refused(req, now=NOW):
    with pytest.raises(ApiError) as exc:
        osmand.to_events(req, now)
    assert exc.value.status == 422
    return exc.value.fields


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1795867200", NOW),
        ("1795867200000", NOW),
        (1795867200, NOW),
        ("2026-11-28T13:00:00+01:00", NOW),
        ("2026-11-28T12:00:00Z", NOW),
        ("2026-11-28T12:00:00.000Z", NOW),
        ("2026-11-28 12:00:00", NOW),  # Traccar's yyyy-MM-dd HH:mm:ss (UTC here)
        (None, NOW),
        ("", NOW),
        ("0001-01-01T00:30:00+01:00", None),  # outside what a datetime holds in UTC
        ("9999-12-31T23:59:59-01:00", None),
        ("1" + "0" * 30, None),
    ],
)
def test_timestamps_in_seconds_milliseconds_or_iso(raw, expected):
    assert osmand.parse_timestamp(raw, NOW) == expected


def test_seconds_and_milliseconds_split_where_traccar_splits_them():
    # Traccar: below 2^31 - 1 seconds, else milliseconds.
    assert osmand.parse_timestamp("2147483646", NOW).year == 2038
    assert osmand.parse_timestamp("2147483648", NOW).year == 1970


def test_query_position_with_sos_is_one_sos_event_with_the_fix():
    event, extra = one(
        query(id="tok", lat=52.1, lon=5.1, timestamp=STAMP, alarm="sos", speed=3.5, batt=81)
    )
    assert event.type == "sos" and event.position.lat == 52.1 and event.battery_pct == 81
    assert event.occurred_at == NOW
    assert extra == {"speed_kn": 3.5, "speed_kmh": 6.48, "alarm": "sos"}


def test_deviceid_and_id_carry_the_token():
    assert osmand.device_token(query(deviceid="tok", lat=1, lon=2)) == "tok"
    assert osmand.device_token(query(id="tok")) == "tok"
    assert osmand.device_token(osmand.from_json({"device_id": "tok", "location": {}})) == "tok"
    assert osmand.device_token(osmand.from_json({"id": 12345})) == "12345"


def test_location_parameter_is_a_position():
    event, _ = one(query(id="t", location="60.0,30.0", timestamp=STAMP))
    assert event.type == "position"
    assert (event.position.lat, event.position.lon) == (60.0, 30.0)


def test_minus_one_and_empty_mean_unknown():
    req = query(id="t", lat=52, lon=5, timestamp=STAMP, speed=-1, bearing=-1, accuracy=-1, batt=-1)
    req.values["altitude"] = ""
    event, extra = one(req)
    assert event.type == "position" and event.position.accuracy_m is None
    assert event.battery_pct is None and extra == {}


def test_same_fix_sent_twice_gets_the_same_event_id():
    a, _ = events_of(query(id="t", lat=52, lon=5, timestamp=STAMP))
    b, _ = events_of(query(id="t", lat=52, lon=5, timestamp=STAMP))
    assert a[0].event_id == b[0].event_id and a[0].type == "position"


def test_a_second_sos_press_with_the_same_cached_fix_time_is_a_new_event():
    first, _ = events_of(query(id="t", lat=52, lon=5, timestamp=STAMP, alarm="sos"))
    retry, _ = events_of(query(id="t", lat=52, lon=5, timestamp=STAMP, alarm="sos"))
    later, _ = events_of(
        query(id="t", lat=52, lon=5, timestamp=STAMP, alarm="sos"), NOW + dt.timedelta(minutes=5)
    )
    assert first[0].event_id == retry[0].event_id  # a quick re-send is stored once
    assert later[0].event_id != first[0].event_id


def test_no_fix_is_a_heartbeat():
    event, _ = one(query(id="t", batt=50))
    assert event.type == "heartbeat" and event.position is None and event.battery_pct == 50


@pytest.mark.parametrize(
    ("alarm", "types"),
    [
        ("sos", ["sos"]),
        ("SOS", ["sos"]),
        ("tampering", ["tamper"]),
        ("removing", ["tamper"]),
        ("lowBattery", ["battery_low"]),
        ("lowBattery,sos", ["sos", "battery_low"]),
        ("general", ["position"]),
        ("alert message", ["position"]),
        ("", ["position"]),
    ],
)
def test_traccar_alarm_keys_map_to_event_types(alarm, types):
    events, extras = events_of(query(id="t", lat=52, lon=5, timestamp=STAMP, alarm=alarm))
    assert [e.type for e in events] == types
    if alarm:
        assert all(extras[e.event_id]["alarm"] == alarm for e in events)
    assert all(e.position is not None for e in events)


def test_repeated_alarm_parameters_are_all_read():
    req = osmand.from_pairs([("id", "t"), ("alarm", "sos"), ("alarm", "general")])
    events, extras = events_of(req)
    assert [e.type for e in events] == ["sos"]
    assert extras[events[0].event_id]["alarm"] == "sos,general"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"id": "t", "lat": "95", "lon": "5"}, "lat"),
        ({"id": "t", "lat": "52"}, "lon"),
        ({"id": "t", "lat": "52", "lon": "x"}, "lon"),
        ({"id": "t", "lat": "nan", "lon": "5"}, "lat"),
        ({"id": "t", "batt": "150"}, "batt"),
        ({"id": "t", "lat": "52", "lon": "5", "accuracy": "2000000"}, "accuracy"),
        ({"id": "t", "lat": "52", "lon": "5", "accuracy": "nan"}, "accuracy"),
        ({"id": "t", "location": "91,5"}, "location"),
        ({"id": "t", "location": "52"}, "location"),
        ({"id": "t", "timestamp": "last tuesday"}, "timestamp"),
        ({"id": "t", "lat": "5", "lon": "5", "timestamp": "0001-01-01T00:30+01:00"}, "timestamp"),
        ({"id": "t", "lat": "52", "lon": "5", "timestamp": "946684799"}, "timestamp"),
    ],
)
def test_a_request_whose_only_content_is_bad_is_refused_naming_the_field(params, field):
    assert field in refused(osmand.from_pairs(list(params.items())))


def test_a_bad_extra_field_next_to_a_good_fix_is_dropped_not_refused():
    event, extra = one(query(id="t", lat=52, lon=5, timestamp=STAMP, altitude="nan", speed="inf"))
    assert event.type == "position" and event.position.lat == 52
    assert extra["dropped"] == {"altitude": "not a finite number", "speed": "not a finite number"}
    assert "altitude" not in extra and "speed_kn" not in extra


@pytest.mark.parametrize(
    ("bad", "dropped", "keeps_fix"),
    [
        ({"altitude": "nan"}, "altitude", True),
        ({"speed": "inf"}, "speed", True),
        ({"bearing": "-inf"}, "bearing", True),
        ({"accuracy": "2000000"}, "accuracy", False),
        ({"lat": "91"}, "lat", False),
        ({"lon": "Infinity"}, "lon", False),
        ({"batt": "1e999"}, "batt", True),
        ({"timestamp": "0001-01-01T00:30:00+01:00"}, "timestamp", True),
        ({"timestamp": "9999-12-31T23:59:59-01:00"}, "timestamp", True),
        ({"timestamp": "-62135596800"}, "timestamp", True),
        ({"timestamp": "not a time"}, "timestamp", True),
        ({"valid": "maybe"}, "valid", True),
    ],
)
def test_an_sos_is_never_refused_for_a_bad_field(bad, dropped, keeps_fix):
    params = {"id": "t", "lat": "52.1", "lon": "5.1", "timestamp": str(STAMP), "alarm": "sos"}
    params.update(bad)
    event, extra = one(osmand.from_pairs(list(params.items())))
    assert event.type == "sos"
    assert dropped in extra["dropped"]
    assert (event.position is not None) is keeps_fix
    if dropped == "timestamp":
        assert event.occurred_at == NOW and extra["clock_suspect"] is True
        assert extra["device_time"] == bad["timestamp"]
    json.dumps(extra, allow_nan=False)  # never NaN or Infinity


def test_a_clock_before_2000_or_a_day_ahead_is_replaced_and_the_fix_not_used():
    ahead = str(STAMP + 25 * 3600)
    event, extra = one(query(id="t", lat=52, lon=5, timestamp=ahead, batt=40))
    assert event.type == "heartbeat" and event.position is None and event.battery_pct == 40
    assert event.occurred_at == NOW and extra["clock_suspect"] is True
    assert extra["unused_fix"] == [52.0, 5.0]
    assert extra["dropped"]["timestamp"] == "more than 24 h ahead of the server clock"
    # Within a day ahead (a device clock a bit fast) is believed.
    event, extra = one(query(id="t", lat=52, lon=5, timestamp=str(STAMP + 23 * 3600)))
    assert event.type == "position" and "clock_suspect" not in extra


def test_a_clock_suspect_sos_gets_a_receive_time_event_id():
    (a,), _ = events_of(query(id="t", timestamp="0", alarm="sos"))
    (b,), _ = events_of(query(id="t", timestamp="0", alarm="sos"), NOW + dt.timedelta(minutes=2))
    assert a.event_id != b.event_id  # a stuck clock never turns a new press into a re-send


def test_nul_bytes_are_refused_unless_next_to_an_alarm():
    fields = refused(osmand.from_pairs([("id", "t"), ("lat", "52"), ("lon", "5"), ("x", "a\x00")]))
    assert fields == {"x": "contains a NUL byte"}
    assert "alarm" in refused(osmand.from_pairs([("id", "t"), ("alarm", "sos\x00")]))
    req = osmand.from_pairs([("id", "t"), ("lat", "52"), ("lon", "5"), ("des\x00c", "x")])
    req.alarms.append(("alarm", "sos"))
    event, extra = one(req)
    assert event.type == "sos" and extra["dropped"] == {"des\\0c": "contains a NUL byte"}
    with pytest.raises(ApiError) as exc:
        osmand.device_token(osmand.from_pairs([("id", "t\x00")]))
    assert exc.value.status == 422 and "id" in exc.value.fields


def test_unmodelled_parameters_are_kept_as_traccar_keeps_them_and_bounded():
    pairs = [("id", "t"), ("lat", "52"), ("lon", "5"), ("timestamp", str(STAMP))]
    pairs += [("ignition", "true"), ("rpm", "933"), ("fuel", "24.5"), ("cell", "257,02,16,2224")]
    pairs += [("cell", "257,02,16,2223,-90"), ("notificationToken", "secret-push-token")]
    pairs += [("long", "x" * 1000), ("nan", "NaN")]
    pairs += [(f"k{i}", "1") for i in range(40)]
    event, extra = one(osmand.from_pairs(pairs))
    attrs = extra["attributes"]
    assert attrs["ignition"] is True and attrs["rpm"] == 933 and attrs["fuel"] == 24.5
    assert attrs["cell"] == ["257,02,16,2224", "257,02,16,2223,-90"]
    assert "long" not in attrs and "nan" not in attrs and len(attrs) == osmand.MAX_ATTRIBUTES
    assert "notificationToken" not in json.dumps(extra) and "secret" not in json.dumps(extra)
    assert extra["dropped"]["long"].startswith("longer than")
    assert len(extra["dropped"]) <= osmand.MAX_DROPPED
    json.dumps(extra, allow_nan=False)


def test_speed_in_knots_is_kept_and_converted_to_kmh():
    (event,), extras = events_of(query(id="tok", lat=52.1, lon=5.1, speed=10, bearing=90))
    assert extras[event.event_id] == {"speed_kn": 10.0, "speed_kmh": 18.52, "bearing": 90.0}


def flutter_body(**location):
    loc = {
        "timestamp": "2026-11-28T12:00:00.000Z",
        "coords": {
            "latitude": 52.1,
            "longitude": 5.1,
            "accuracy": 12,
            "speed": 18.67,
            "heading": 90,
            "altitude": 3,
        },
        "is_moving": True,
        "odometer": 1200,
        "event": "motionchange",
        "battery": {"level": 0.5, "is_charging": True},
        "activity": {"type": "on_foot"},
        "extras": {},
    }
    loc.update(location)
    return {"location": loc, "device_id": "tok"}


def test_flutter_json_body_speed_in_metres_per_second_is_converted_like_traccar():
    req = osmand.from_json(flutter_body())
    assert osmand.device_token(req) == "tok"
    event, extra = one(req)
    assert event.type == "position" and event.occurred_at == NOW
    assert (event.position.lat, event.position.lon, event.position.accuracy_m) == (52.1, 5.1, 12)
    assert event.battery_pct == 50
    # Traccar: knots = m/s * 1.94384; km/h from the knots.
    assert extra["speed_mps"] == 18.67 and extra["speed_kn"] == 36.29
    assert extra["speed_kmh"] == round(18.67 * 1.94384 * 1.852, 2)
    assert extra["bearing"] == 90 and extra["altitude"] == 3 and extra["charge"] is True
    assert extra["attributes"] == {
        "motion": True,
        "odometer": 1200,
        "event": "motionchange",
        "activity": "on_foot",
    }


@pytest.mark.parametrize(
    "location",
    [
        {"extras": {"alarm": "sos"}},
        {"alarm": "sos"},
        {"alarm": "general", "extras": {"alarm": "sos"}},
        {"extras": {"sos": True}},  # the first Flutter builds
    ],
)
def test_flutter_sos_in_location_alarm_or_extras_alarm(location):
    event, extra = one(osmand.from_json(flutter_body(**location)))
    assert event.type == "sos" and event.position is not None and "sos" in extra["alarm"]


def test_flutter_unknowns_are_ignored():
    body = flutter_body(battery={"level": -1, "is_charging": False})
    body["location"]["coords"].update(speed=-1, heading=-1, accuracy=-1)
    event, extra = one(osmand.from_json(body))
    assert event.battery_pct is None and event.position.accuracy_m is None
    assert "speed_kn" not in extra and "bearing" not in extra and "dropped" not in extra


def test_flutter_uuid_is_the_event_id():
    event, _ = one(osmand.from_json(flutter_body(uuid="2FB04C65-99CF-42AB-8DD3-EBCB4B108BF8")))
    assert event.event_id == "osmand:2FB04C65-99CF-42AB-8DD3-EBCB4B108BF8:position"
    event, _ = one(osmand.from_json(flutter_body(uuid="x" * 200)))
    assert event.event_id == f"osmand:{STAMP * 1000}:position"


def test_json_nan_next_to_an_sos_is_dropped():
    raw = json.dumps(flutter_body(extras={"alarm": "sos"}))
    raw = raw.replace('"altitude": 3', '"altitude": NaN')
    event, extra = one(osmand.from_json(osmand.loads(raw.encode())))
    assert event.type == "sos" and event.position is not None
    assert extra["dropped"] == {"location.coords.altitude": "not a finite number"}
    json.dumps(extra, allow_nan=False)


def test_json_shape_errors_name_the_json_field():
    body = flutter_body()
    body["location"]["coords"]["latitude"] = 123
    # The battery reading is still worth storing: a heartbeat, the fix named as dropped.
    event, extra = one(osmand.from_json(body))
    assert event.type == "heartbeat" and event.battery_pct == 50
    assert extra["dropped"] == {"location.coords.latitude": "out of range (-90 to 90)"}
    del body["location"]["battery"]
    assert "location.coords.latitude" in refused(osmand.from_json(body))
    assert "location" in refused(osmand.from_json({"device_id": "t", "location": [1, 2]}))


def test_json_strings_a_database_cannot_store_are_replaced():
    body = flutter_body(extras={"alarm": "sos", "note": "\ud800"})
    event, extra = one(osmand.from_json(body))
    assert event.type == "sos" and extra["attributes"]["note"] == "\\ud800"
    with pytest.raises(ApiError) as exc:
        osmand.device_token(osmand.from_json({"device_id": "\ud800", "location": {}}))
    assert exc.value.status == 422


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 200_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b'{"location": ' + b"[" * 40 + b"]" * 40 + b"}",
        b"[1, 2]",
        b"{not json",
        b'{"location": 1e99999}',
    ],
)
def test_malformed_or_deep_json_is_400(raw):
    if raw == b'{"location": 1e99999}':
        # Valid JSON with an infinite number: not 400, the field is judged like any other.
        assert "location" in refused(osmand.from_json(osmand.loads(raw)))
        return
    with pytest.raises(ApiError) as exc:
        osmand.loads(raw)
    assert exc.value.status == 400


def test_float_parsing_never_yields_nan():
    for text in ("nan", "NaN", "-nan", "inf", "-Infinity", "1e400"):
        with pytest.raises(osmand._Bad):
            osmand._number(text, osmand.LAT)
    assert math.isfinite(osmand._number("1e-5", osmand.LAT))


def test_an_alarm_next_to_location_is_not_lost():
    body = flutter_body()
    body["alarm"] = "sos"
    event, _ = one(osmand.from_json(body))
    assert event.type == "sos"


def test_a_url_encoded_body_is_read_whatever_its_length():
    pairs = osmand.body_pairs(b"id=t&batt=50&" + b"&".join(b"k%d=1" % i for i in range(20_000)))
    event, extra = one(osmand.from_pairs(pairs))
    assert event.battery_pct == 50 and len(extra["attributes"]) == osmand.MAX_ATTRIBUTES
    assert extra["dropped"]["attributes"].startswith("19968 more not kept")


def test_a_json_list_is_not_a_number():
    body = flutter_body()
    body["location"]["coords"]["latitude"] = [52.1, 5.1]
    event, extra = one(osmand.from_json(body))
    assert event.position is None
    assert extra["dropped"] == {"location.coords.latitude": "not a number"}
