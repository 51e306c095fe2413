"""POST /api/v1/ingest on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from aware.alarms.models import Alarm, AlarmLogEntry
from aware.devices.models import Device, DeviceEvent
from tests.conftest import bearer, event


def counts(session):
    return (
        session.scalar(select(func.count()).select_from(DeviceEvent)),
        session.scalar(select(func.count()).select_from(Alarm)),
        session.scalar(select(func.count()).select_from(AlarmLogEntry)),
    )


def device_state(session, device_id):
    session.expire_all()
    d = session.get(Device, device_id)
    return (d.last_seen_at, d.last_position_at, d.last_lat, d.last_lon, d.battery_pct)


def test_sos_is_stored_raises_one_alarm_and_is_published(client, device, session, publisher):
    resp = client.post(
        "/api/v1/ingest",
        headers=device["headers"],
        json=event(position={"lat": 52.0907, "lon": 5.1214, "accuracy_m": 9}),
    )
    assert resp.status_code == 202
    body = resp.get_json()
    assert body["accepted"] == 1 and body["duplicates"] == 0 and len(body["alarm_ids"]) == 1
    alarm = session.get(Alarm, body["alarm_ids"][0])
    assert (alarm.type, alarm.priority, alarm.status) == ("sos", 1, "open")
    assert alarm.occurred_at.isoformat() == "2026-11-28T09:00:00+00:00"
    assert alarm.received_at > alarm.occurred_at
    stored = session.scalars(select(DeviceEvent)).one()
    assert stored.received_at == alarm.received_at and stored.lat == 52.0907
    ((name, published),) = publisher.events
    assert name == "alarm.new" and published["id"] == alarm.id
    assert published["position"] == {
        "lat": 52.0907,
        "lon": 5.1214,
        "accuracy_m": 9.0,
        "at": "2026-11-28T09:00:00Z",
        "source": "event",
    }


def test_resending_an_event_is_harmless(client, device, session, publisher):
    first = client.post("/api/v1/ingest", headers=device["headers"], json=event()).get_json()
    again = client.post("/api/v1/ingest", headers=device["headers"], json=event())
    assert again.status_code == 202
    assert again.get_json() == {
        "accepted": 0,
        "duplicates": 1,
        "rejected": [],
        "alarm_ids": first["alarm_ids"],
    }
    assert counts(session)[:2] == (1, 1)
    assert [n for n, _ in publisher.events] == ["alarm.new"]


def test_batch_with_duplicates_inside_and_across_requests(client, device, session):
    batch = {
        "events": [
            event("a", "heartbeat"),
            event("b", "test"),
            event("a", "heartbeat"),
            event("c", "position", position={"lat": 52.1, "lon": 5.1}),
        ]
    }
    body = client.post("/api/v1/ingest", headers=device["headers"], json=batch).get_json()
    assert (body["accepted"], body["duplicates"], len(body["alarm_ids"])) == (3, 1, 1)
    batch["events"].append(event("d", "tamper"))
    body = client.post("/api/v1/ingest", headers=device["headers"], json=batch).get_json()
    assert (body["accepted"], body["duplicates"], len(body["alarm_ids"])) == (1, 4, 2)
    assert counts(session)[:2] == (4, 2)


@pytest.mark.parametrize(
    ("type_", "priority"),
    [("sos", 1), ("tamper", 2), ("battery_low", 4), ("test", 5)],
)
def test_alarm_types_get_their_priority(client, device, session, type_, priority):
    body = client.post("/api/v1/ingest", headers=device["headers"], json=event(type_=type_))
    alarm = session.get(Alarm, body.get_json()["alarm_ids"][0])
    assert (alarm.type, alarm.priority) == (type_, priority)


def test_test_alarm_is_marked_as_test(client, device, dispatcher):
    client.post("/api/v1/ingest", headers=device["headers"], json=event(type_="test"))
    (alarm,) = client.get("/api/v1/alarms", headers=dispatcher).get_json()["alarms"]
    assert alarm["is_test"] is True and alarm["priority"] == 5


@pytest.mark.parametrize("type_", ["position", "heartbeat"])
def test_position_and_heartbeat_raise_no_alarm(client, device, session, type_):
    extra = {"position": {"lat": 52.1, "lon": 5.1}} if type_ == "position" else {}
    body = client.post(
        "/api/v1/ingest", headers=device["headers"], json=event(type_=type_, **extra)
    ).get_json()
    assert body["alarm_ids"] == [] and counts(session)[:2] == (1, 0)


def test_positions_update_the_device_and_a_late_one_never_overwrites(client, device, session):
    h = device["headers"]
    client.post(
        "/api/v1/ingest",
        headers=h,
        json=event(
            "new",
            "position",
            occurred_at="2026-11-28T10:05:00+01:00",
            position={"lat": 52.2, "lon": 5.2},
        ),
    )
    client.post(
        "/api/v1/ingest",
        headers=h,
        json=event(
            "late",
            "position",
            occurred_at="2026-11-28T10:01:00+01:00",
            position={"lat": 52.0, "lon": 5.0},
        ),
    )
    seen, at, lat, lon, _ = device_state(session, device["id"])
    assert (lat, lon) == (52.2, 5.2)
    assert at.isoformat() == "2026-11-28T09:05:00+00:00"
    assert seen is not None
    # The late event is still stored: every position is evidence.
    assert counts(session)[0] == 2


def test_heartbeat_updates_last_seen_and_battery(client, device, session):
    client.post(
        "/api/v1/ingest", headers=device["headers"], json=event("hb", "heartbeat", battery_pct=64)
    )
    seen, at, _, _, battery = device_state(session, device["id"])
    assert seen is not None and at is None and battery == 64


def test_sos_without_fix_shows_the_last_known_position(client, device, dispatcher):
    h = device["headers"]
    client.post(
        "/api/v1/ingest",
        headers=h,
        json=event(
            "p",
            "position",
            occurred_at="2026-11-28T09:58:00+01:00",
            position={"lat": 52.08, "lon": 5.11, "accuracy_m": 20},
        ),
    )
    client.post("/api/v1/ingest", headers=h, json=event("s", "sos"))
    (alarm,) = client.get("/api/v1/alarms", headers=dispatcher).get_json()["alarms"]
    assert alarm["position"]["source"] == "last_known"
    assert alarm["position"]["at"] == "2026-11-28T08:58:00Z"


def _hb(**extra):
    return json.dumps(event(type_="heartbeat", **extra)).encode()


def _pos(position):
    return json.dumps(event(type_="position", position=position)).encode()


# Bad non-alarm events (an alarm event is stored without its bad field: see
# test_intake_hostile.py); a request with nothing usable in it is 422 and changes nothing.
BAD_BODIES = [
    (b'{"event_id": "x", ', 400, None),
    (b"", 400, None),
    (b"[1, 2]", 400, None),
    (b"[" * 100 + b"]" * 100, 400, None),
    (json.dumps(event(type_="panic")).encode(), 422, "type"),
    (_hb(occurred_at="2026-11-28T10:00:00"), 422, "occurred_at"),
    (_hb(event_id="x" * 65), 422, "event_id"),
    (_hb(event_id=""), 422, "event_id"),
    (_hb(event_id="a\u0000b"), 422, "event_id"),
    (_pos({"lat": 91, "lon": 5}), 422, "position.lat"),
    (_pos({"lat": 52, "lon": -200}), 422, "position.lon"),
    (_pos({"lat": "52", "lon": 5}), 422, "position.lat"),
    (
        json.dumps({"events": [event("bad", "nope"), event("bad2", "nope")]}).encode(),
        422,
        "events.1.type",
    ),
    (json.dumps({"events": [event(f"e{i}") for i in range(1001)]}).encode(), 422, "events"),
    (json.dumps({"events": []}).encode(), 422, "events"),
    (json.dumps({"events": {"a": 1}}).encode(), 422, "events"),
]


@pytest.mark.parametrize(("raw", "status", "field"), BAD_BODIES)
def test_bad_input_gets_its_code_and_changes_nothing(client, device, session, raw, status, field):
    before = counts(session), device_state(session, device["id"])
    resp = client.post(
        "/api/v1/ingest", headers=device["headers"], data=raw, content_type="application/json"
    )
    assert resp.status_code == status
    err = resp.get_json()["error"]
    assert set(err) >= {"code", "message", "fields"}
    if field:
        assert field in err["fields"]
    assert (counts(session), device_state(session, device["id"])) == before


def test_body_over_1_mib_gets_413_and_changes_nothing(client, device, session):
    big = json.dumps({"events": [event(f"e{i}", padding="x" * 2000) for i in range(600)]})
    assert len(big) > 1024 * 1024
    resp = client.post(
        "/api/v1/ingest", headers=device["headers"], data=big, content_type="application/json"
    )
    assert resp.status_code == 413
    assert resp.get_json()["error"]["code"] == "too_large"
    assert counts(session) == (0, 0, 0)


@pytest.mark.parametrize(
    "headers", [{}, bearer("not-a-device-token"), {"Authorization": "Basic abc"}]
)
def test_unknown_device_gets_401_and_nothing_is_stored(client, session, headers):
    resp = client.post("/api/v1/ingest", headers=headers, json=event())
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "unauthorized"
    assert counts(session) == (0, 0, 0)


def test_person_token_is_not_a_device_token(client, device, dispatcher, session):
    assert client.post("/api/v1/ingest", headers=dispatcher, json=event()).status_code == 401
    assert counts(session) == (0, 0, 0)


def test_deactivated_device_gets_401_and_nothing_is_stored(client, device, coordinator, session):
    resp = client.post(f"/api/v1/devices/{device['id']}/deactivate", headers=coordinator)
    assert resp.status_code == 200 and resp.get_json()["active"] is False
    resp = client.post("/api/v1/ingest", headers=device["headers"], json=event())
    assert resp.status_code == 401
    assert counts(session) == (0, 0, 0)


def test_osmand_get_and_post_store_like_ingest(client, device, session, dispatcher):
    token = device["token"]
    r = client.get(f"/osmand?id={token}&lat=52.09&lon=5.12&timestamp=1795867200&batt=77")
    assert r.status_code == 200 and r.get_json()["accepted"] == 1
    r = client.post(
        "/osmand",
        data={
            "id": token,
            "lat": "52.09",
            "lon": "5.12",
            "timestamp": "1795867260",
            "alarm": "sos",
        },
    )
    assert r.status_code == 200 and len(r.get_json()["alarm_ids"]) == 1
    # Traccar Client re-sends its buffer: stored once.
    r = client.get(f"/osmand?id={token}&lat=52.09&lon=5.12&timestamp=1795867200&batt=77")
    assert r.get_json()["duplicates"] == 1
    r = client.post(
        "/osmand",
        json={
            "device_id": token,
            "location": {
                "timestamp": "2026-11-28T12:02:00Z",
                "coords": {"latitude": 52.1, "longitude": 5.1},
            },
        },
    )
    assert r.status_code == 200 and r.get_json()["accepted"] == 1
    assert counts(session)[:2] == (3, 1)
    assert client.get("/osmand?id=wrong&lat=52&lon=5").status_code == 401
    bad = client.get(f"/osmand?id={token}&lat=95&lon=5")
    assert bad.status_code == 422 and "lat" in bad.get_json()["error"]["fields"]
    assert counts(session)[:2] == (3, 1)
