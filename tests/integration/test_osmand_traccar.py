"""Traccar conformance of /osmand, on SQLite and PostgreSQL.

Every request line and JSON body of Traccar's own OsmAnd decoder test, and what Traccar Client
(Android, iOS, the Flutter app before and after its own SDK) sends, replayed through /osmand;
then what was stored is read back: the device_events row, the device's last position and
battery, the alarms raised. The copies and their sources (repository, path, commit) are in
tests/data/traccar/corpus.py. The device identifiers in them are replaced by the registered
device's token (the identifier is the credential here); nothing else is changed.

Device clocks in rendered requests are relative to now; the corpus' own dates are fixed and in
the past, so no test here depends on today's date.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from sqlalchemy import select, text

from aware.alarms.models import Alarm
from aware.devices.models import Device, DeviceEvent
from tests.data.traccar import corpus


def utc(text_: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text_.replace("Z", "+00:00"))


def with_token(target: str, token: str) -> str:
    """The query of a request line or URL, its `id`/`deviceid` value replaced by the token."""
    query = urlsplit(target).query
    return re.sub(r"(^|&)(id|deviceid)=[^&]*", lambda m: f"{m[1]}{m[2]}={token}", query)


def at_receive_time(occurred: dt.datetime, received: dt.datetime) -> bool:
    """The event took the server's clock (one reading for the parsing and the storing)."""
    return occurred == received


def read_back(session: Any, device_id: int) -> tuple[list[DeviceEvent], Device, list[Alarm]]:
    session.expire_all()
    events = list(
        session.scalars(
            select(DeviceEvent).where(DeviceEvent.device_id == device_id).order_by(DeviceEvent.id)
        )
    )
    alarms = list(session.scalars(select(Alarm).where(Alarm.device_id == device_id)))
    return events, session.get(Device, device_id), alarms


def only_event(session: Any, device_id: int) -> tuple[DeviceEvent, Device, list[Alarm]]:
    events, device, alarms = read_back(session, device_id)
    assert len(events) == 1, [(e.type, e.extra) for e in events]
    return events[0], device, alarms


def stored_extras_are_json(session: Any) -> None:
    """As a strict reader (PostgreSQL, a browser) sees the column: no NaN, no Infinity."""

    def refuse(word: str) -> Any:
        raise AssertionError(f"{word} reached the database")

    for (raw,) in session.execute(text("SELECT CAST(extra AS TEXT) FROM device_events")):
        if raw is not None:
            json.loads(raw, parse_constant=refuse)


# --- Traccar's decoder test, query lines -----------------------------------------------------

RECEIVE_TIME = "receive time"
# Per line of DECODER_QUERY_LINES: (event type, lat, lon, occurred_at, battery, extra subset).
DECODER_QUERY_EXPECTED: list[tuple[Any, ...] | None] = [
    (
        "heartbeat",
        None,
        None,
        "2013-08-22T13:14:27Z",
        None,
        {
            "attributes": {
                "cell": ["257,02,16,2224", "257,02,16,2223,-90"],
                "wifi": ["00-14-22-01-23-45,-80", "00-1C-B3-09-85-15,-70"],
            }
        },
    ),
    None,  # no id: Traccar answers 400, we 401
    (
        "position",
        42.06288,
        -88.23412,
        "2016-01-27T18:55:47Z",
        None,
        {"hdop": 6.0, "altitude": 224.0, "speed_kn": 0.0, "speed_kmh": 0.0},
    ),
    (
        "position",
        42.06288,
        -88.23412,
        "2015-09-12T14:38:06.579Z",
        None,
        {"hdop": 6.0, "altitude": 224.0, "speed_kn": 0.0},
    ),
    ("position", 49.60688, 6.15788, "2014-06-04T09:10:11Z", None, {"altitude": 384.7}),
    (
        "position",
        60.0,
        30.0,
        "2013-08-22T13:14:27Z",
        None,
        {"bearing": 0.0, "altitude": 0.0, "hdop": 0.0, "speed_kn": 0.0},
    ),
    ("position", 60.0, 30.0, "2013-08-22T13:14:27Z", None, {}),
    (
        "position",
        60.0,
        30.0,
        RECEIVE_TIME,
        None,
        {"bearing": 0.0, "attributes": {"vacc": 0, "hacc": 0}},
    ),
    ("position", 41.666667, -0.883333, RECEIVE_TIME, 87.0, {"altitude": 350.059479}),
    ("position", 60.0, 30.0, "2013-08-22T13:14:27Z", None, {}),  # location=60.0,30.0
    (
        "position",
        40.7232948571,
        -74.0061408571,
        "2017-09-07T05:56:50Z",
        None,
        {
            "speed_kn": 40.0,
            "speed_kmh": 74.08,
            "bearing": 7.19889788244,
            "attributes": {"ignition": True, "rpm": 933, "fuel": 24},
        },
    ),
]


@pytest.mark.parametrize(
    ("line", "expected"),
    list(zip(corpus.DECODER_QUERY_LINES, DECODER_QUERY_EXPECTED, strict=True)),
    ids=[f"query-{i}" for i in range(len(corpus.DECODER_QUERY_LINES))],
)
def test_traccar_decoder_query_lines(client, device, session, line, expected):
    resp = client.get(f"/osmand?{with_token(line, device['token'])}")
    if expected is None:
        assert resp.status_code == 401
        assert read_back(session, device["id"])[0] == []
        return
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["accepted"] == 1 and resp.get_json()["alarm_ids"] == []
    kind, lat, lon, at, battery, extra = expected
    event, dev, alarms = only_event(session, device["id"])
    assert (event.type, event.lat, event.lon, event.battery_pct) == (kind, lat, lon, battery)
    assert event.source == "osmand" and alarms == []
    if at == RECEIVE_TIME:
        assert at_receive_time(event.occurred_at, event.received_at)
    else:
        assert event.occurred_at == utc(at)
    assert (event.extra or {}) | extra == (event.extra or {}), event.extra
    assert "clock_suspect" not in (event.extra or {}) and "dropped" not in (event.extra or {})
    if lat is not None:
        assert (dev.last_lat, dev.last_lon) == (lat, lon)
        assert dev.last_position_at == event.occurred_at
    if battery is not None:
        assert dev.battery_pct == battery
    # The token never lands in what is stored with the event.
    assert device["token"] not in json.dumps(event.extra)
    stored_extras_are_json(session)


# --- Traccar's decoder test, JSON bodies ------------------------------------------------------

# Per body: (lat, lon, accuracy, occurred_at, battery, extra subset, event_id or None).
DECODER_JSON_EXPECTED = [
    (
        37.4219983,
        -122.084,
        5.0,
        "2025-06-15T13:45:12.862Z",
        100.0,
        {
            "speed_kn": 0.0,
            "altitude": 5,
            "charge": False,
            "attributes": {
                "motion": False,
                "odometer": 0,
                "event": "motionchange",
                "activity": "still",
            },
        },
        None,
    ),
    (
        37.4219983,
        -122.084,
        5.0,
        "2025-06-15T13:45:12.862Z",
        100.0,
        {
            "attributes": {
                "motion": False,
                "odometer": 0,
                "event": "motionchange",
                "activity": "still",
                "device_string_test": "long_device_id",
                "device_bool_test": True,
                "device_bool_false_test": False,
                "device_integer_test": 1,
                "device_integer_twelve_test": 12,
                "device_double_test": 1.345,
                "device_very_long_double_test": 1763636.3442,
            }
        },
        None,
    ),
    (
        37.785834,
        -122.406417,
        5.0,
        "2025-05-09T04:11:30.579Z",
        None,  # level -1: unknown
        {
            "altitude": 0,
            "attributes": {
                "mock": True,
                "motion": False,
                "odometer": 0,
                "event": "motionchange",
                "activity": "unknown",
            },
        },
        "osmand:2FB04C65-99CF-42AB-8DD3-EBCB4B108BF8:position",
    ),
    (
        -6.1148096,
        106.6837015,
        3.8,
        "2021-07-21T08:06:34.444Z",
        79.0,
        # 18.67 m/s as Traccar converts it (x 1.94384) = 36.29 kn = 67.21 km/h
        {"speed_mps": 18.67, "speed_kn": 36.29, "speed_kmh": 67.21, "bearing": 63},
        "osmand:0e9a2473-a9a7-4c00-997b-fb97d2154e75:position",
    ),
]


@pytest.mark.parametrize(
    ("body", "expected"),
    list(zip(corpus.DECODER_JSON_BODIES, DECODER_JSON_EXPECTED, strict=True)),
    ids=[f"json-{i}" for i in range(len(corpus.DECODER_JSON_BODIES))],
)
def test_traccar_decoder_json_bodies(client, device, session, body, expected):
    sent_id = json.loads(body)["device_id"]
    raw = body.replace(f'"device_id":"{sent_id}"', f'"device_id":"{device["token"]}"')
    resp = client.post("/osmand", data=raw, content_type="application/json")
    assert resp.status_code == 200, resp.get_json()
    lat, lon, accuracy, at, battery, extra, event_id = expected
    event, dev, alarms = only_event(session, device["id"])
    assert (event.type, event.lat, event.lon, event.accuracy_m) == ("position", lat, lon, accuracy)
    assert event.occurred_at == utc(at) and event.battery_pct == battery and alarms == []
    assert event.extra | extra == event.extra, event.extra
    # heading -1 and speed -1 are Traccar's "unknown": ignored, never refused.
    if json.loads(body)["location"]["coords"]["heading"] == -1:
        assert "bearing" not in event.extra
    if json.loads(body)["location"]["coords"]["speed"] == -1:
        assert "speed_kn" not in event.extra
    assert "dropped" not in event.extra and "_" not in event.extra.get("attributes", {})
    if event_id:
        assert event.event_id == event_id
    assert (dev.last_lat, dev.last_lon, dev.last_accuracy_m) == (lat, lon, accuracy)
    assert dev.battery_pct == battery
    stored_extras_are_json(session)


# --- The clients' own formatter tests ---------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    corpus.ANDROID_FORMATTER_URLS + corpus.IOS_FORMATTER_URLS,
    ids=["android", "android-path-port", "android-alarm", "ios"],
)
def test_client_formatter_urls(client, device, session, url):
    """Their clock is 1989 (Android's test location with the week-rollover offset) or 1970
    (iOS): the receive time is used and marked, the fix at an unknown time is kept aside and
    not used, the battery reading (0) is stored. `alert message` is no alarm key of Traccar's:
    stored with the event, not raised."""
    resp = client.post(f"/osmand?{with_token(url, device['token'])}")
    assert resp.status_code == 200, resp.get_json()
    event, dev, alarms = only_event(session, device["id"])
    assert (event.type, event.lat, event.battery_pct, alarms) == ("heartbeat", None, 0.0, [])
    assert at_receive_time(event.occurred_at, event.received_at)
    assert event.extra["clock_suspect"] is True
    assert event.extra["unused_fix"] == [0.0, 0.0]
    assert event.extra["dropped"] == {"timestamp": "before 2000-01-01"}
    assert dev.last_lat is None and dev.battery_pct == 0.0
    if "alarm=" in url:
        assert event.extra["alarm"] == "alert message"


# --- What the clients send today, rendered with a clock relative to now ------------------------


@pytest.fixture
def pinned_clock(app: Any) -> dt.datetime:
    """The server clock held at one instant (30 s into the current minute): an alarm's event
    id holds the minute it was received, so a re-send must arrive within the same one."""
    now = dt.datetime.now(dt.UTC)
    pinned = now.replace(second=30, microsecond=0)
    app.extensions["aware"].clock = lambda: pinned
    return pinned


def fresh(seconds_ago: int = 5) -> dt.datetime:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds_ago)).replace(microsecond=0)


def flutter_body(token: str, at: dt.datetime, extras: str = "{}", alarm: str | None = None) -> str:
    """The flutter_background_geolocation body: the client's locationTemplate rendered for one
    fix, as {"location": ..., "device_id": ...} (the extras of the call in "extras")."""
    values = {
        "timestamp": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "latitude": "52.0907",
        "longitude": "5.1214",
        "accuracy": "8.5",
        "speed": "1.5",  # m/s
        "heading": "-1",
        "altitude": "3.2",
        "is_moving": "true",
        "odometer": "1234",
        "event": "motionchange",
        "battery.level": "0.42",
        "battery.is_charging": "false",
        "activity.type": "on_foot",
    }
    rendered = "".join(line.lstrip() for line in corpus.FLUTTER_LOCATION_TEMPLATE.split("\n"))
    rendered = re.sub(r"<%= ([a-z_.]+) %>", lambda m: values[m[1]], rendered)
    rendered = rendered.replace("${instance.getString(id)}", token)
    rendered = rendered.replace('"extras": {}', f'"extras": {extras}')
    if alarm is not None:
        rendered = rendered[:-1] + f', "alarm": "{alarm}"}}'
    return f'{{"location": {rendered}, "device_id": "{token}"}}'


@pytest.mark.parametrize(
    ("extras", "alarm"),
    [('{"alarm": "sos"}', None), ("{}", "sos"), ('{"alarm": "sos"}', "sos")],
    ids=["extras.alarm", "location.alarm", "both"],
)
def test_flutter_client_json_sos_raises_an_sos(
    client, device, session, publisher, pinned_clock, extras, alarm
):
    at = pinned_clock - dt.timedelta(seconds=5)
    raw = flutter_body(device["token"], at, extras, alarm)
    json.loads(raw)  # the rendering is JSON
    resp = client.post("/osmand", data=raw, content_type="application/json")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["accepted"] == 1 and len(body["alarm_ids"]) == 1
    event, dev, alarms = only_event(session, device["id"])
    (alarm_row,) = alarms
    assert alarm_row.id == body["alarm_ids"][0]
    assert (alarm_row.type, alarm_row.priority, alarm_row.status) == ("sos", 1, "open")
    assert (alarm_row.lat, alarm_row.lon, alarm_row.accuracy_m) == (52.0907, 5.1214, 8.5)
    assert (event.type, event.occurred_at, event.battery_pct) == ("sos", at, 42.0)
    assert event.extra["alarm"] == "sos" and "bearing" not in event.extra  # heading -1
    assert event.extra["speed_kn"] == round(1.5 * 1.94384, 2)
    assert (dev.last_lat, dev.battery_pct) == (52.0907, 42.0)
    assert [name for name, _ in publisher.events] == ["alarm.new"]
    # The client re-syncs the same record (no 200 seen): stored once, the same alarm.
    again = client.post("/osmand", data=raw, content_type="application/json").get_json()
    assert again["duplicates"] == 1 and again["alarm_ids"] == body["alarm_ids"]
    assert len(read_back(session, device["id"])[2]) == 1


def test_flutter_client_heartbeat_and_motion_are_positions(client, device, session):
    at = fresh(60)
    raw = flutter_body(device["token"], at, '{"heartbeat": true}')
    assert client.post("/osmand", data=raw, content_type="application/json").status_code == 200
    event, dev, alarms = only_event(session, device["id"])
    assert (event.type, event.lat, event.occurred_at, alarms) == ("position", 52.0907, at, [])
    assert event.extra["attributes"]["heartbeat"] is True
    assert event.extra["attributes"]["event"] == "motionchange"
    assert event.extra["attributes"]["motion"] is True and event.extra["charge"] is False
    assert dev.last_position_at == at


def sdk_form(token: str, at: dt.datetime, alarm: str | None = None) -> dict[str, str]:
    """The current client's form (traccar_client_sdk HttpUploader: speed in knots)."""
    values = {
        "id": token,
        "lat": "52.0907",
        "lon": "5.1214",
        "timestamp": str(int(at.timestamp())),
        "accuracy": "12.0",
        "altitude": "3.5",
        "speed": str(round(2.0 * 1.94384 * 100) / 100),
        "bearing": "181.5",
        "batt": "81",
        "charge": "true",
        "alarm": alarm,
    }
    assert tuple(values) == corpus.SDK_FORM_FIELDS
    return {k: v for k, v in values.items() if v is not None}


def test_current_flutter_client_form_position_and_sos(client, device, session):
    at = fresh()
    resp = client.post("/osmand", data=sdk_form(device["token"], at))
    assert resp.status_code == 200 and resp.get_json()["alarm_ids"] == []
    resp = client.post("/osmand", data=sdk_form(device["token"], at, alarm="sos"))
    assert resp.status_code == 200 and len(resp.get_json()["alarm_ids"]) == 1
    events, dev, alarms = read_back(session, device["id"])
    assert [e.type for e in events] == ["position", "sos"]
    for e in events:
        assert (e.lat, e.lon, e.accuracy_m, e.battery_pct, e.occurred_at) == (
            52.0907,
            5.1214,
            12.0,
            81.0,
            at,
        )
        assert e.extra["speed_kn"] == 3.89 and e.extra["bearing"] == 181.5
        assert e.extra["altitude"] == 3.5 and e.extra["charge"] is True
    assert [(a.type, a.lat) for a in alarms] == [("sos", 52.0907)]


def test_push_token_upload_is_a_heartbeat_and_the_token_is_not_kept(client, device, session):
    # lib/push_service.dart: id=...&notificationToken=... as a form.
    body = f"id={quote(device['token'])}&notificationToken={quote('fcm:secret-push-token')}"
    resp = client.post("/osmand", data=body, content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 200
    event, dev, _ = only_event(session, device["id"])
    assert event.type == "heartbeat" and event.lat is None and dev.last_seen_at is not None
    assert "secret-push-token" not in json.dumps(event.extra)


@pytest.mark.parametrize("platform", ["android", "ios"])
def test_android_and_ios_sos_requests(client, device, session, platform):
    at = fresh()
    if platform == "android":  # ProtocolFormatter.formatRequest(url, position, "sos")
        query = (
            f"id={device['token']}&timestamp={int(at.timestamp())}&lat=52.0907&lon=5.1214"
            "&speed=0.0&bearing=0.0&altitude=0.0&accuracy=0.0&batt=64.0&alarm=sos"
        )
    else:  # ProtocolFormatter.formatPostion(position, url, alarm: "sos"); accuracy -1: invalid
        query = (
            f"id={device['token']}&timestamp={int(at.timestamp())}&lat=52.090700&lon=5.121400"
            "&speed=0&bearing=0&altitude=0&accuracy=-1&batt=64&alarm=sos"
        )
    resp = client.post(f"/osmand?{query}")
    assert resp.status_code == 200 and len(resp.get_json()["alarm_ids"]) == 1
    event, dev, (alarm,) = only_event(session, device["id"])
    assert (event.type, event.lat, event.lon, event.battery_pct) == ("sos", 52.0907, 5.1214, 64)
    assert event.accuracy_m == (0.0 if platform == "android" else None)
    assert (alarm.type, alarm.lat, alarm.position_source) == ("sos", 52.0907, "event")


# --- Traccar alarm keys -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alarm", "types"),
    [
        ("tampering", ["tamper"]),
        ("removing", ["tamper"]),
        ("lowBattery", ["battery_low"]),
        ("sos,lowBattery", ["sos", "battery_low"]),
        ("fallDown", []),
        ("geofenceEnter", []),
    ],
)
def test_traccar_alarm_keys(client, device, session, alarm, types):
    at = fresh()
    query = f"id={device['token']}&lat=52.1&lon=5.1&timestamp={int(at.timestamp())}&alarm={alarm}"
    resp = client.get(f"/osmand?{query}")
    assert resp.status_code == 200
    events, _, alarms = read_back(session, device["id"])
    assert sorted(a.type for a in alarms) == sorted(types)
    assert sorted(resp.get_json()["alarm_ids"]) == sorted(a.id for a in alarms)
    assert sorted(e.type for e in events) == sorted(types or ["position"])
    assert all(e.extra["alarm"] == alarm and e.lat == 52.1 for e in events)


# --- Hostile neighbours of an SOS, and the same without one ------------------------------------

# (name, parameters next to lat/lon/alarm=sos, field marked dropped, the SOS keeps its fix)
HOSTILE = [
    ("year 1", "timestamp=0001-01-01T00:30:00%2B01:00", "timestamp", True),
    ("year 9999", "timestamp=9999-12-31T23:59:59-01:00", "timestamp", True),
    ("NaN altitude", "altitude=nan", "altitude", True),
    ("infinite speed", "speed=inf", "speed", True),
    ("huge accuracy", "accuracy=2000000", "accuracy", False),
    ("latitude 91", "lat=91", "lat", False),
    ("NUL in a neighbour", "desc=home%00base", "desc", True),
]


@pytest.mark.parametrize(
    ("params", "field", "keeps_fix"),
    [h[1:] for h in HOSTILE],
    ids=[h[0] for h in HOSTILE],
)
def test_sos_is_never_refused_for_a_bad_field_next_to_it(
    client, device, session, params, field, keeps_fix
):
    token = device["token"]
    # The device's last known position, from a minute ago.
    before = fresh(60)
    client.get(f"/osmand?id={token}&lat=52.2&lon=5.2&timestamp={int(before.timestamp())}")
    at = fresh()
    query = f"id={token}&lat=52.1&lon=5.1&timestamp={int(at.timestamp())}&{params}&alarm=sos"
    resp = client.get(f"/osmand?{query}")
    assert resp.status_code == 200, resp.get_json()
    assert len(resp.get_json()["alarm_ids"]) == 1
    events, dev, (alarm,) = read_back(session, device["id"])
    sos = events[-1]
    assert sos.type == "sos" and alarm.type == "sos" and alarm.status == "open"
    assert field in sos.extra["dropped"]
    if field == "timestamp":
        assert sos.extra["clock_suspect"] is True
        assert sos.occurred_at == alarm.occurred_at
        assert at_receive_time(sos.occurred_at, sos.received_at)
    else:
        assert sos.occurred_at == at
    if keeps_fix:
        assert (sos.lat, alarm.lat, alarm.position_source) == (52.1, 52.1, "event")
        assert (dev.last_lat, dev.last_lon) == (52.1, 5.1)
    else:  # the bad fix is dropped: the alarm shows the last known position, with its age
        assert sos.lat is None and sos.accuracy_m is None
        assert (alarm.lat, alarm.position_source, alarm.position_at) == (52.2, "last_known", before)
        assert (dev.last_lat, dev.last_lon) == (52.2, 5.2)
    stored_extras_are_json(session)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ("lat=52.1&lon=5.1&timestamp=0001-01-01T00:30:00%2B01:00", "timestamp"),
        ("lat=52.1&lon=5.1&timestamp=9999-12-31T23:59:59-01:00", "timestamp"),
        ("lat=52.1&lon=5.1&accuracy=2000000", "accuracy"),
        ("lat=91&lon=5.1", "lat"),
        ("lat=nan&lon=5.1", "lat"),
        ("lat=52.1&lon=5.1&desc=home%00base", "desc"),
        ("location=52.1", "location"),
    ],
)
def test_a_request_whose_only_content_is_bad_is_422_naming_the_field(
    client, device, session, params, field
):
    resp = client.get(f"/osmand?id={device['token']}&{params}")
    assert resp.status_code == 422, resp.get_json()
    assert field in resp.get_json()["error"]["fields"]
    events, dev, _ = read_back(session, device["id"])
    assert events == [] and dev.last_seen_at is None


def test_a_bad_field_next_to_a_good_fix_is_dropped_and_marked(client, device, session):
    at = fresh()
    query = f"id={device['token']}&lat=52.1&lon=5.1&timestamp={int(at.timestamp())}"
    resp = client.get(f"/osmand?{query}&altitude=nan&speed=inf&bearing=-1&batt=")
    assert resp.status_code == 200
    event, dev, _ = only_event(session, device["id"])
    assert (event.type, event.lat, event.occurred_at) == ("position", 52.1, at)
    assert event.extra == {
        "dropped": {"altitude": "not a finite number", "speed": "not a finite number"}
    }
    assert dev.last_lat == 52.1
    stored_extras_are_json(session)


def test_json_nan_and_infinity_next_to_a_flutter_sos(client, device, session):
    raw = flutter_body(device["token"], fresh(), '{"alarm": "sos", "level": Infinity}')
    raw = raw.replace('"altitude": 3.2', '"altitude": NaN')
    resp = client.post("/osmand", data=raw, content_type="application/json")
    assert resp.status_code == 200 and len(resp.get_json()["alarm_ids"]) == 1
    event, _, (alarm,) = only_event(session, device["id"])
    assert event.type == "sos" and alarm.lat == 52.0907
    assert event.extra["dropped"] == {
        "location.coords.altitude": "not a finite number",
        "level": "not a finite number",
    }
    stored_extras_are_json(session)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"[" * 200_000, 400),
        (b'{"device_id": "x", "location": ' + b"[" * 50 + b"]" * 50 + b"}", 400),
        (b'{"device_id": "x", "location": {"coords": ', 400),
        (b"[1, 2, 3]", 400),
        ('{"device_id": "\u0000", "location": {}}'.encode(), 400),  # a raw NUL: no JSON
        (b'{"device_id": "\\u0000", "location": {}}', 422),
        (b'{"device_id": "\\ud800", "location": {}}', 422),
    ],
    ids=["200k [", "nested 50", "truncated", "array", "raw NUL", "escaped NUL", "surrogate"],
)
def test_malformed_json_is_4xx_never_5xx(client, device, session, raw, status):
    resp = client.post("/osmand", data=raw, content_type="application/json")
    assert resp.status_code == status, resp.get_data(as_text=True)[:200]
    assert read_back(session, device["id"])[0] == []


def test_json_with_a_lone_surrogate_next_to_an_sos_is_stored(client, device, session):
    raw = flutter_body(device["token"], fresh(), '{"alarm": "sos", "note": "\\ud800x"}')
    resp = client.post("/osmand", data=raw, content_type="application/json")
    assert resp.status_code == 200 and len(resp.get_json()["alarm_ids"]) == 1
    event, _, _ = only_event(session, device["id"])
    assert event.extra["attributes"]["note"] == "\\ud800x"


def test_a_url_encoded_body_of_any_type_is_read_like_traccar(client, device, session):
    at = fresh()
    body = f"id={device['token']}&lat=52.1&lon=5.1&timestamp={int(at.timestamp())}&alarm=sos"
    resp = client.post("/osmand", data=body, content_type="text/plain")
    assert resp.status_code == 200 and len(resp.get_json()["alarm_ids"]) == 1
    # A JSON body sent as a form (curl -d) is JSON.
    raw = flutter_body(device["token"], fresh(30))
    resp = client.post("/osmand", data=raw, content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 200
    assert [e.type for e in read_back(session, device["id"])[0]] == ["sos", "position"]


def test_openapi_documents_the_new_parameters(client):
    spec = client.get("/api/openapi.json").get_json()
    for method in ("get", "post"):
        params = {p["name"]: p for p in spec["paths"]["/osmand"][method]["parameters"]}
        assert {"id", "deviceid", "location", "heading", "hdop", "charge", "valid"} <= set(params)
        assert {"lat", "lon", "timestamp", "speed", "bearing", "altitude", "accuracy", "batt"} <= (
            set(params)
        )
        assert not params["id"]["required"]  # deviceid (or device_id in JSON) will do
        assert "tampering" in params["alarm"]["schema"]["description"]
        assert "unknown" in params["speed"]["schema"]["description"]
