"""The OsmAnd protocol as Traccar Client speaks it, mapped onto ingestion events.

OsmAnd has no event id, so one is derived from the fix time and the kind of event: a client
that re-sends a buffered fix sends the same time and is stored once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from aware.api import ApiError, validation_fields
from aware.devices.schemas import EventIn, EventType, PositionIn


class OsmAndQuery(BaseModel):
    """Parameters of the OsmAnd protocol (query string, form or JSON body)."""

    id: str = Field(description="the device token (Traccar Client's 'device identifier')")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    timestamp: str | None = Field(default=None, description="seconds, milliseconds or ISO 8601")
    speed: float | None = Field(default=None, ge=0, description="knots")
    bearing: float | None = Field(default=None, ge=0, le=360)
    altitude: float | None = None
    accuracy: float | None = Field(default=None, ge=0)
    batt: float | None = Field(default=None, ge=0, le=100)
    alarm: str | None = Field(default=None, description="'sos' raises an SOS alarm")


def flatten_json(body: dict[str, Any]) -> dict[str, Any]:
    """Traccar Client's JSON body ({device_id, location: {coords, battery, ...}}) to flat params."""
    loc = body.get("location")
    if not isinstance(loc, dict):
        return body
    raw_coords, raw_battery = loc.get("coords"), loc.get("battery")
    coords: dict[str, Any] = raw_coords if isinstance(raw_coords, dict) else {}
    battery: dict[str, Any] = raw_battery if isinstance(raw_battery, dict) else {}
    flat: dict[str, Any] = {"id": body.get("device_id", body.get("id"))}
    for src, dst in (
        ("latitude", "lat"),
        ("longitude", "lon"),
        ("accuracy", "accuracy"),
        ("speed", "speed"),
        ("heading", "bearing"),
        ("altitude", "altitude"),
    ):
        if coords.get(src) is not None:
            flat[dst] = coords[src]
    if loc.get("timestamp") is not None:
        flat["timestamp"] = loc["timestamp"]
    level = battery.get("level")
    if isinstance(level, int | float) and 0 <= level <= 1:
        flat["batt"] = level * 100
    if loc.get("event") == "sos" or body.get("alarm") == "sos":
        flat["alarm"] = "sos"
    return flat


KMH_PER_KNOT = 1.852


def parse_timestamp(raw: str | None, now: dt.datetime) -> dt.datetime:
    """Seconds or milliseconds since the epoch, or ISO 8601 (UTC assumed without an offset)."""
    if raw is None or str(raw).strip() == "":
        return now
    text = str(raw).strip()
    try:
        number = float(text)
    except ValueError:
        try:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ApiError(
                422,
                "invalid_field",
                "one or more parameters are invalid",
                {"timestamp": "seconds, milliseconds or ISO 8601"},
            ) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    if number > 1e11:  # milliseconds
        number /= 1000
    try:
        return dt.datetime.fromtimestamp(number, dt.UTC)
    except (OverflowError, OSError, ValueError):
        raise ApiError(
            422,
            "invalid_field",
            "one or more parameters are invalid",
            {"timestamp": "out of range"},
        ) from None


def to_events(
    params: dict[str, Any], now: dt.datetime
) -> tuple[list[EventIn], dict[str, dict[str, Any]]]:
    """Validate OsmAnd parameters and turn them into events (and their protocol extras)."""
    try:
        q = OsmAndQuery.model_validate({k: v for k, v in params.items() if v not in ("", None)})
    except ValidationError as exc:
        raise ApiError(
            422, "invalid_field", "one or more parameters are invalid", validation_fields(exc)
        ) from None
    if (q.lat is None) != (q.lon is None):
        missing = "lat" if q.lat is None else "lon"
        raise ApiError(
            422,
            "invalid_field",
            "one or more parameters are invalid",
            {missing: "lat and lon come together"},
        )
    at = parse_timestamp(q.timestamp, now)
    position = (
        PositionIn(lat=q.lat, lon=q.lon, accuracy_m=q.accuracy)
        if q.lat is not None and q.lon is not None
        else None
    )
    stamp = int(at.timestamp() * 1000)
    is_sos = (q.alarm or "").lower() == "sos"
    kind: EventType = "sos" if is_sos else ("position" if position else "heartbeat")
    event = EventIn(
        event_id=f"osmand:{stamp}:{kind}",
        type=kind,
        occurred_at=at,
        position=position,
        battery_pct=q.batt,
    )
    # OsmAnd/Traccar send speed in knots: kept as sent, and converted for people (km/h).
    speed_kmh = round(q.speed * KMH_PER_KNOT, 2) if q.speed is not None else None
    extra = {
        k: v
        for k, v in (
            ("speed_kn", q.speed),
            ("speed_kmh", speed_kmh),
            ("bearing", q.bearing),
            ("altitude", q.altitude),
        )
        if v is not None
    }
    return [event], ({event.event_id: extra} if extra else {})
