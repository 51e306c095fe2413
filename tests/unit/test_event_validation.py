"""Every validation rule of ingested events (pydantic models, JSON mode as in the API)."""

import json

import pytest
from pydantic import ValidationError

from aware.devices.schemas import EventBatchIn, EventIn


def ev(**over):
    base = {"event_id": "e1", "type": "sos", "occurred_at": "2026-11-28T10:00:00+01:00"}
    base.update(over)
    return {k: v for k, v in base.items() if v is not ...}


def fields_of(model, body):
    with pytest.raises(ValidationError) as exc:
        model.model_validate_json(json.dumps(body))
    return {".".join(str(p) for p in e["loc"]) for e in exc.value.errors()}


def test_minimal_event_is_valid_and_keeps_the_offset():
    e = EventIn.model_validate_json(json.dumps(ev()))
    assert e.occurred_at.utcoffset().total_seconds() == 3600


@pytest.mark.parametrize("t", ["sos", "heartbeat", "battery_low", "tamper", "test"])
def test_each_type_without_position_is_valid(t):
    assert EventIn.model_validate_json(json.dumps(ev(type=t))).type == t


def test_position_event_needs_a_position():
    with pytest.raises(ValidationError):
        EventIn.model_validate_json(json.dumps(ev(type="position")))


@pytest.mark.parametrize("bad", ["panic", "", "SOS", 1, None])
def test_unknown_type_is_rejected(bad):
    assert "type" in fields_of(EventIn, ev(type=bad))


@pytest.mark.parametrize("bad", ["", "x" * 65, 12, None])
def test_event_id_is_1_to_64_chars(bad):
    assert "event_id" in fields_of(EventIn, ev(event_id=bad))


def test_event_id_of_64_chars_is_fine():
    assert EventIn.model_validate_json(json.dumps(ev(event_id="x" * 64)))


@pytest.mark.parametrize(
    "bad",
    ["2026-11-28T10:00:00", "2026-11-28", "yesterday", 1764320400, "", "2026-13-28T10:00:00Z"],
)
def test_occurred_at_must_be_rfc3339_with_offset(bad):
    assert "occurred_at" in fields_of(EventIn, ev(occurred_at=bad))


@pytest.mark.parametrize("ok", ["2026-11-28T10:00:00Z", "2026-11-28T10:00:00.123+02:00"])
def test_occurred_at_accepts_z_and_fractions(ok):
    assert EventIn.model_validate_json(json.dumps(ev(occurred_at=ok)))


def test_occurred_at_is_required():
    assert "occurred_at" in fields_of(EventIn, ev(occurred_at=...))


@pytest.mark.parametrize(
    ("pos", "field"),
    [
        ({"lat": 90.0001, "lon": 5}, "position.lat"),
        ({"lat": -91, "lon": 5}, "position.lat"),
        ({"lat": 52, "lon": 180.5}, "position.lon"),
        ({"lat": 52, "lon": -181}, "position.lon"),
        ({"lat": "52.1", "lon": 5}, "position.lat"),
        ({"lon": 5}, "position.lat"),
        ({"lat": 52, "lon": 5, "accuracy_m": -1}, "position.accuracy_m"),
        ({"lat": 52, "lon": True}, "position.lon"),
    ],
)
def test_position_ranges_and_types(pos, field):
    assert field in fields_of(EventIn, ev(type="position", position=pos))


def test_position_at_the_edges_is_valid():
    e = EventIn.model_validate_json(
        json.dumps(ev(type="position", position={"lat": -90, "lon": 180, "accuracy_m": 0}))
    )
    assert (e.position.lat, e.position.lon) == (-90, 180)


@pytest.mark.parametrize("bad", [-1, 100.5, "50"])
def test_battery_pct_is_0_to_100(bad):
    assert "battery_pct" in fields_of(EventIn, ev(type="battery_low", battery_pct=bad))


def test_batch_of_1000_is_valid_and_1001_is_not():
    ok = {"events": [ev(event_id=f"e{i}") for i in range(1000)]}
    assert len(EventBatchIn.model_validate_json(json.dumps(ok)).events) == 1000
    too_many = {"events": [ev(event_id=f"e{i}") for i in range(1001)]}
    assert "events" in fields_of(EventBatchIn, too_many)


def test_empty_batch_is_rejected():
    assert "events" in fields_of(EventBatchIn, {"events": []})


def test_batch_names_the_bad_event():
    body = {"events": [ev(event_id="a"), ev(event_id="b", type="bogus")]}
    assert "events.1.type" in fields_of(EventBatchIn, body)
