"""Per-event intake against broken and hostile input (SQLite and PostgreSQL).

An SOS is never refused for a bad field next to it or in it; other bad events are refused one
by one and listed; nothing that is not JSON reaches the database; no input gets a 5xx.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import select, text

from aware.alarms.models import Alarm, AlarmLogEntry
from aware.devices.models import DeviceEvent
from tests.conftest import PASSWORD

NOW = dt.datetime.now(dt.UTC)


def iso(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def ev(event_id: str, type_: str = "heartbeat", **extra: object) -> str:
    """One event as raw JSON text (so that NaN can be sent as the bare word NaN)."""
    body = {"event_id": event_id, "type": type_, "occurred_at": iso(NOW - dt.timedelta(minutes=1))}
    body.update(extra)
    return json.dumps(body)


def batch_of(*raw_events: str) -> str:
    return '{"events": [' + ", ".join(raw_events) + "]}"


def post_raw(client, headers, raw: str | bytes, path: str = "/api/v1/ingest"):
    return client.post(path, headers=headers, data=raw, content_type="application/json")


def stored(session) -> list[DeviceEvent]:
    session.expire_all()
    return list(session.scalars(select(DeviceEvent).order_by(DeviceEvent.id)))


def alarms(session) -> list[Alarm]:
    session.expire_all()
    return list(session.scalars(select(Alarm).order_by(Alarm.id)))


def strict_json(raw: str | None) -> object:
    """Parse stored JSON as a strict reader would: NaN/Infinity are not JSON."""

    def refuse(word: str) -> object:
        raise ValueError(f"{word} is not JSON")

    return None if raw is None else json.loads(raw, parse_constant=refuse)


def json_columns_are_json(session) -> None:
    """Every stored extra/detail is JSON any reader (PostgreSQL, browsers) can take."""
    for table, column in (
        ("device_events", "extra"),
        ("alarms", "detail"),
        ("alarm_log", "detail"),
    ):
        query = text(f"SELECT CAST({column} AS TEXT) FROM {table}")  # noqa: S608
        for (raw,) in session.execute(query):
            value = strict_json(raw)
            assert "\x00" not in json.dumps(value, ensure_ascii=False)


SOS = ev("sos-1", "sos")
# (name, raw event, the field named in `rejected`, its event_id as listed)
BROKEN_NEIGHBOURS = [
    ("year 1", ev("hb-1", occurred_at="0001-01-01T00:30:00+01:00"), "occurred_at", "hb-1"),
    ("year 9999", ev("hb-2", occurred_at="9999-12-31T23:59:59-01:00"), "occurred_at", "hb-2"),
    (
        "NaN position",
        ev("pos-1", "position", position={"lat": 52.1, "lon": 5.1}).replace("52.1", "NaN"),
        "position.lat",
        "pos-1",
    ),
    (
        "huge accuracy",
        ev("pos-2", "position", position={"lat": 52.1, "lon": 5.1, "accuracy_m": 2_000_000}),
        "position.accuracy_m",
        "pos-2",
    ),
    ("NUL in event_id", ev("hb\u00003"), "event_id", None),
]


@pytest.mark.parametrize(
    ("raw", "field", "listed_id"),
    [b[1:] for b in BROKEN_NEIGHBOURS],
    ids=[b[0] for b in BROKEN_NEIGHBOURS],
)
def test_sos_is_stored_and_its_broken_neighbour_listed(
    client, device, session, publisher, raw, field, listed_id
):
    for attempt in range(2):  # and a device re-sending its buffer gets the same answer
        resp = post_raw(client, device["headers"], batch_of(SOS, raw))
        assert resp.status_code == 202, resp.get_json()
        body = resp.get_json()
        assert (body["accepted"], body["duplicates"]) == ((1, 0) if attempt == 0 else (0, 1))
        ((rejected),) = body["rejected"]
        assert rejected["index"] == 1 and rejected["event_id"] == listed_id
        assert list(rejected["fields"]) == [field]
        assert len(body["alarm_ids"]) == 1
    (only,) = stored(session)
    assert only.event_id == "sos-1"
    (alarm,) = alarms(session)
    assert alarm.type == "sos" and body["alarm_ids"] == [alarm.id]
    assert [n for n, _ in publisher.events] == ["alarm.new"]
    json_columns_are_json(session)


BROKEN_POSITIONS = {
    "NaN": '{"lat": NaN, "lon": 5.1}',
    "Infinity": '{"lat": 52.1, "lon": Infinity}',
    "-Infinity accuracy": '{"lat": 52.1, "lon": 5.1, "accuracy_m": -Infinity}',
    "1e400": '{"lat": 1e400, "lon": 5.1}',
    "latitude 95": '{"lat": 95, "lon": 5.1}',
    "accuracy 2,000,000 m": '{"lat": 52.1, "lon": 5.1, "accuracy_m": 2000000}',
}


@pytest.mark.parametrize("position", BROKEN_POSITIONS.values(), ids=list(BROKEN_POSITIONS))
def test_sos_with_a_broken_position_is_stored_without_it_and_marked(
    client, device, session, dispatcher, position
):
    raw = ev("sos-p", "sos", battery_pct=250).replace("}", f', "position": {position}}}')
    resp = post_raw(client, device["headers"], raw)
    assert resp.status_code == 202, resp.get_json()
    body = resp.get_json()
    assert body["accepted"] == 1 and body["rejected"] == []
    (event,) = stored(session)
    assert (event.lat, event.lon, event.accuracy_m, event.battery_pct) == (None,) * 4
    assert set(event.extra["dropped"]) == {"position", "battery_pct"}
    alarm = client.get(f"/api/v1/alarms/{body['alarm_ids'][0]}", headers=dispatcher).get_json()
    assert alarm["type"] == "sos" and alarm["position"] is None
    assert "position" in alarm["detail"]["dropped"]
    # Dispatch reads why on the timeline.
    repaired = session.scalars(
        select(AlarmLogEntry).where(AlarmLogEntry.action == "input_repaired")
    ).one()
    assert repaired.alarm_id == alarm["id"] and "position" in repaired.detail["dropped"]
    json_columns_are_json(session)


SUSPECT_CLOCKS = {
    "year 1 at +01:00": "0001-01-01T00:30:00+01:00",
    "year 9999 at -01:00": "9999-12-31T23:59:59-01:00",
    "1999": "1999-12-31T23:59:59Z",
    "two days ahead": iso(NOW + dt.timedelta(days=2)),
}


@pytest.mark.parametrize("reported", SUSPECT_CLOCKS.values(), ids=list(SUSPECT_CLOCKS))
def test_sos_with_a_suspect_clock_takes_the_receive_time_and_is_marked(
    client, device, session, dispatcher, reported
):
    resp = post_raw(client, device["headers"], ev("sos-c", "sos", occurred_at=reported))
    assert resp.status_code == 202, resp.get_json()
    (alarm,) = alarms(session)
    assert alarm.occurred_at == alarm.received_at
    assert alarm.detail["clock_suspect"]["reported"] == reported
    (event,) = stored(session)
    assert event.occurred_at == event.received_at
    assert event.extra["clock_suspect"]["replaced_by"] == "received_at"
    timeline = client.get(f"/api/v1/alarms/{alarm.id}", headers=dispatcher).get_json()
    assert "input_repaired" in json.dumps(timeline)


def test_a_clock_within_bounds_is_kept(client, device, session):
    at = iso(NOW + dt.timedelta(hours=23))
    assert (
        post_raw(client, device["headers"], ev("sos-ok", "sos", occurred_at=at)).status_code == 202
    )
    (alarm,) = alarms(session)
    assert alarm.detail is None and iso(alarm.occurred_at) == at


def test_sos_with_a_nul_in_its_event_id_is_stored_once_under_a_derived_id(
    client, device, session, publisher
):
    raw = ev("press\u00007", "sos")
    first = post_raw(client, device["headers"], raw).get_json()
    again = post_raw(client, device["headers"], raw).get_json()
    assert (first["accepted"], again["duplicates"]) == (1, 1)
    assert first["alarm_ids"] == again["alarm_ids"] and len(first["alarm_ids"]) == 1
    (event,) = stored(session)
    assert event.event_id.startswith("derived-") and "\x00" not in event.event_id
    assert event.extra["event_id_derived"]["reported"] == "press\\u00007"
    # Another broken id is another press.
    other = post_raw(client, device["headers"], ev("press\u00008", "sos")).get_json()
    assert other["accepted"] == 1 and other["alarm_ids"] != first["alarm_ids"]
    json_columns_are_json(session)


def test_other_events_with_bad_fields_are_refused_and_nothing_usable_is_422(
    client, device, session
):
    batch = batch_of(
        ev("hb-old", occurred_at="1970-01-01T00:00:00Z"),
        ev("pos-nan", "position", position={"lat": 1, "lon": 2}).replace('"lat": 1', '"lat": NaN'),
        '"not an event"',
    )
    resp = post_raw(client, device["headers"], batch)
    assert resp.status_code == 422
    err = resp.get_json()["error"]
    assert set(err["fields"]) == {
        "events.0.occurred_at",
        "events.1.position.lat",
        "events.2.event",
    }
    assert [r["index"] for r in err["rejected"]] == [0, 1, 2]
    assert stored(session) == [] and alarms(session) == []


def test_all_duplicates_is_202(client, device):
    batch = batch_of(ev("a"), ev("b"))
    assert post_raw(client, device["headers"], batch).get_json()["accepted"] == 2
    again = post_raw(client, device["headers"], batch)
    assert again.status_code == 202 and again.get_json()["duplicates"] == 2


DEEP = [b"[" * 200_000, b'{"a":' * 100_000, b"[" * 40 + b"]" * 40]


@pytest.mark.parametrize("raw", DEEP, ids=["200k [", "100k {", "40 levels"])
def test_deep_json_is_400_everywhere(client, device, session, raw):
    for path, headers in (
        ("/api/v1/ingest", device["headers"]),
        ("/osmand", {}),
        ("/api/v1/auth/token", {}),
    ):
        resp = post_raw(client, headers, raw, path)
        assert resp.status_code == 400, (path, resp.status_code)
        assert resp.get_json()["error"]["code"] == "malformed_json"
    assert stored(session) == []


def test_nul_bytes_are_4xx_everywhere(client, device, session, make_user):
    make_user("dispatcher", "nul-tester")
    # A NUL in JSON text is an escape; a raw NUL byte makes it no JSON at all.
    assert post_raw(client, device["headers"], ev("hb\u0000")).status_code == 422
    raw_nul = ev("hb").replace("hb", "h\x00b")
    assert post_raw(client, device["headers"], raw_nul).status_code == 400
    for body in (
        {"username": "nul-tester\u0000", "password": PASSWORD},
        {"username": "nul-tester", "password": PASSWORD + "\u0000"},
    ):
        resp = client.post("/api/v1/auth/token", json=body)
        assert resp.status_code == 422 and resp.get_json()["error"]["fields"]
    ok = {"username": "nul-tester", "password": PASSWORD}
    assert client.post("/api/v1/auth/token", json=ok).status_code == 200
    token = device["token"]
    for query in (
        f"id={token}%00&lat=52.1&lon=5.1",
        "deviceid=%00&lat=52.1&lon=5.1",
        f"id={token}&lat=52.1%00&lon=5.1",
        f"id={token}&lat=52.1&lon=5.1&timestamp=%00",
    ):
        resp = client.get(f"/osmand?{query}")
        assert 400 <= resp.status_code < 500, (query, resp.status_code)
    coords = {"latitude": 52, "longitude": 5}
    resp = client.post(
        "/osmand", json={"device_id": token + "\u0000", "location": {"coords": coords}}
    )
    assert 400 <= resp.status_code < 500
    # Whatever else a client puts next to a fix, a NUL in it never reaches the database.
    resp = client.get(f"/osmand?id={token}&lat=52.1&lon=5.1&alarm=sos%00&desc=a%00b")
    assert resp.status_code < 500
    json_columns_are_json(session)


OTHER_BROKEN_SOS = {
    "naive time": ({"occurred_at": "2026-11-28T10:00:00"}, "clock_suspect"),
    "time not a string": ({"occurred_at": 12}, "clock_suspect"),
    "no time": ({"occurred_at": None}, "clock_suspect"),
    "id too long": ({"event_id": "x" * 65}, "event_id_derived"),
    "id empty": ({"event_id": ""}, "event_id_derived"),
    "id a number": ({"event_id": 7}, "event_id_derived"),
    "battery NaN": ({"battery_pct": "NaN"}, "dropped"),
}


@pytest.mark.parametrize(("change", "mark"), OTHER_BROKEN_SOS.values(), ids=list(OTHER_BROKEN_SOS))
def test_sos_with_any_repairable_field_broken_is_stored_and_marked(
    client, device, session, change, mark
):
    body = json.loads(ev("sos-x", "sos"))
    body.update(change)
    if body.get("occurred_at") is None:
        del body["occurred_at"]
    raw = json.dumps(body).replace('"NaN"', "NaN")
    for _ in range(2):  # a re-sent broken SOS is still one alarm
        resp = post_raw(client, device["headers"], raw)
        assert resp.status_code == 202, resp.get_json()
    (event,) = stored(session)
    (alarm,) = alarms(session)
    assert mark in event.extra and mark in alarm.detail and alarm.type == "sos"
    json_columns_are_json(session)


def test_a_broken_type_is_no_alarm_and_refused(client, device, session):
    resp = post_raw(client, device["headers"], batch_of(ev("a", "SOS!"), ev("b")))
    assert resp.status_code == 202
    (rejected,) = resp.get_json()["rejected"]
    assert (rejected["index"], rejected["event_id"], list(rejected["fields"])) == (0, "a", ["type"])
    assert [e.event_id for e in stored(session)] == ["b"] and alarms(session) == []


def test_osmand_sos_with_nan_and_infinite_values_is_stored_and_json_clean(client, device, session):
    token = device["token"]
    resp = client.get(
        f"/osmand?id={token}&lat=52.1&lon=5.1&alarm=sos&altitude=nan&speed=inf&bearing=-inf"
    )
    assert resp.status_code == 200, resp.get_json()
    assert len(resp.get_json()["alarm_ids"]) == 1
    (alarm,) = alarms(session)
    assert alarm.type == "sos"
    json_columns_are_json(session)


def _values() -> Any:
    from hypothesis import strategies as st

    weird_text = st.sampled_from(
        ["", "x" * 65, "a\x00b", "\ud800", "2026-13-45T99:99:99Z", "NaN", "\u202e", "0" * 70]
    )
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=70),
        weird_text,
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    )


def _events() -> Any:
    from hypothesis import strategies as st

    times = st.one_of(
        st.sampled_from(
            [
                "0001-01-01T00:30:00+01:00",
                "9999-12-31T23:59:59-01:00",
                "2026-11-28T10:00:00",
                iso(NOW - dt.timedelta(minutes=3)),
                iso(NOW + dt.timedelta(days=3)),
            ]
        ),
        _values(),
    )
    position = st.one_of(
        _values(),
        st.fixed_dictionaries(
            {"lat": _values(), "lon": _values()}, optional={"accuracy_m": _values()}
        ),
        st.fixed_dictionaries(
            {
                "lat": st.floats(allow_nan=True, allow_infinity=True),
                "lon": st.floats(allow_nan=True, allow_infinity=True),
            },
            optional={"accuracy_m": st.floats(allow_nan=True, allow_infinity=True)},
        ),
    )
    return st.fixed_dictionaries(
        {},
        optional={
            "event_id": st.one_of(st.text(min_size=1, max_size=10), _values()),
            "type": st.one_of(
                st.sampled_from(["sos", "position", "heartbeat", "battery_low", "tamper", "test"]),
                _values(),
            ),
            "occurred_at": times,
            "position": position,
            "battery_pct": _values(),
        },
    )


def test_no_event_whatever_its_fields_gets_a_5xx_and_every_alarm_is_kept(client, device, session):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from aware.alarms.rules import EVENT_ALARM_TYPES

    @given(st.lists(_events(), min_size=1, max_size=4))
    @settings(
        max_examples=80,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(events: list[dict[str, Any]]) -> None:
        raw = json.dumps({"events": events}, allow_nan=True)
        resp = post_raw(client, device["headers"], raw)
        assert resp.status_code in (202, 422), (resp.status_code, raw)
        if any(isinstance(e.get("type"), str) and e["type"] in EVENT_ALARM_TYPES for e in events):
            assert resp.status_code == 202 and resp.get_json()["alarm_ids"], raw

    run()
    json_columns_are_json(session)
