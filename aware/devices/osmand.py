"""The OsmAnd protocol as Traccar's own server accepts it, mapped onto ingestion events.

Every shape Traccar's OsmAnd decoder (org.traccar.protocol.OsmAndProtocolDecoder) reads from
Traccar Client (Android, iOS, the Flutter app and its SDK) and OsmAnd is accepted:

- query string, form body, or a url-encoded body of another type: `id` or `deviceid`,
  `lat`/`lon` or `location=lat,lon`, `timestamp` (seconds, milliseconds, ISO 8601 or
  `yyyy-MM-dd HH:mm:ss` in UTC), `speed` (knots), `bearing` or `heading`, `altitude`,
  `accuracy`, `hdop`, `batt`, `charge`, `valid`, `alarm`; any other parameter is kept as an
  attribute, as Traccar keeps it;
- the JSON body of the Flutter client (`device_id`, `location.timestamp`, `location.coords.*`
  with `speed` in m/s, `location.battery.level` 0-1 and `is_charging`, `location.is_moving`,
  `location.event`, `location.odometer`, `location.activity.type`, `location.mock`,
  `location.alarm`, `location.extras`), and a flat JSON object of the query parameters.

`-1` (for speed, bearing, accuracy and battery) and empty values mean unknown and are ignored.
`alarm` may hold several of Traccar's alarm keys separated by commas: `sos` raises an SOS,
`tampering`/`removing` a tamper alarm, `lowBattery` a battery_low alarm; any other key is
stored with the event, not raised.

A device that is broken, hacked or in an attacker's hands gets no 5xx and never costs an
alarm: a bad field (NaN, infinity, out of range, not a number, a NUL byte) is dropped and
named in the event's `extra.dropped`; a bad position drops the position. A timestamp before
2000 or more than 24 h ahead of the server clock is replaced by the receive time and marked
`clock_suspect`; a fix at such a time is kept aside and not used unless it came with an alarm
(pressed now). A request that raises no alarm is refused (422, naming the fields) only when
nothing usable is left (no position and no battery reading), or when it carries a NUL byte.

OsmAnd has no event id, so one is derived from the fix time and the kind of event: a client
that re-sends a buffered fix sends the same time and is stored once. An alarm's id also holds
the minute it was received, so a second press with the same (cached) fix time is never taken
for a re-send of the first one; the Flutter client's record `uuid` is used when it sends one.
"""

from __future__ import annotations

import codecs
import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from pydantic import BaseModel, Field, ValidationError

from aware.api import ApiError, loads_json
from aware.devices.intake import clock_problem as clock_problem_of
from aware.devices.schemas import EventIn, EventType, PositionIn

KMH_PER_KNOT = 1.852
KNOTS_PER_MPS = 1.94384  # Traccar's UnitsConverter.knotsFromMps

# Ranges (the OpenAPI description below uses the same numbers).
LAT = (-90.0, 90.0)
LON = (-180.0, 180.0)
ACCURACY_M = (0.0, 1_000_000.0)
SPEED_KN = (0.0, 2_000.0)
BEARING = (0.0, 360.0)
ALTITUDE_M = (-100_000.0, 100_000.0)
BATTERY_PCT = (0.0, 100.0)
HDOP = (0.0, 1_000.0)


# Traccar's Position.ALARM_* keys that are alarms here; every other key is stored, not raised.
ALARM_TYPES: dict[str, EventType] = {
    "sos": "sos",
    "tampering": "tamper",
    "removing": "tamper",
    "lowbattery": "battery_low",
}
_ALARM_ORDER: tuple[EventType, ...] = ("sos", "tamper", "battery_low")

# Bounds of what is kept from a request beyond the modelled fields.
MAX_ATTRIBUTES = 32
MAX_NAME = 64
MAX_TEXT = 256
MAX_LIST = 8
MAX_DROPPED = 16

# Never stored: the device token (under any of its names), Traccar's push-notification token,
# and the Flutter client's compatibility string (it repeats the token).
_SECRET = frozenset({"id", "deviceid", "device_id", "notificationtoken", "token", "_"})
# Query parameters the decoder models (Traccar's names, and the key each maps to).
_QUERY_KEYS = {
    "timestamp": "timestamp",
    "lat": "lat",
    "lon": "lon",
    "location": "location",
    "speed": "speed",
    "bearing": "bearing",
    "heading": "bearing",
    "altitude": "altitude",
    "accuracy": "accuracy",
    "hdop": "hdop",
    "batt": "batt",
    "charge": "charge",
    "valid": "valid",
}
_UUID = re.compile(r"^[A-Za-z0-9-]{1,40}$")


class OsmAndQuery(BaseModel):
    """Parameters of the OsmAnd protocol (query string, form body or flat JSON object).

    POST also takes Traccar Client's JSON body: {"device_id", "location": {"timestamp",
    "coords": {"latitude", "longitude", "accuracy", "speed" (m/s), "heading", "altitude"},
    "battery": {"level" (0-1), "is_charging"}, "is_moving", "event", "alarm", "extras": {...}}}.
    """

    id: str | None = Field(
        default=None,
        description="the device token (Traccar Client's 'device identifier'); "
        "`deviceid` (or `device_id` in JSON) is the same",
    )
    deviceid: str | None = Field(default=None, description="the device token, as `id`")
    lat: float | None = Field(default=None, ge=LAT[0], le=LAT[1])
    lon: float | None = Field(default=None, ge=LON[0], le=LON[1])
    location: str | None = Field(
        default=None, pattern=r"^-?[0-9.]+,-?[0-9.]+", description="'lat,lon' instead of lat/lon"
    )
    timestamp: str | None = Field(
        default=None,
        description="seconds or milliseconds since 1970, ISO 8601, or 'yyyy-MM-dd HH:mm:ss' "
        "(UTC); before 2000 or over 24 h ahead: the receive time is used (clock_suspect)",
    )
    speed: float | None = Field(
        default=None, le=SPEED_KN[1], description="knots (m/s in the JSON body); negative = unknown"
    )
    bearing: float | None = Field(
        default=None, le=BEARING[1], description="degrees; negative = unknown"
    )
    heading: float | None = Field(default=None, le=BEARING[1], description="same as bearing")
    altitude: float | None = Field(default=None, ge=ALTITUDE_M[0], le=ALTITUDE_M[1])
    accuracy: float | None = Field(
        default=None, le=ACCURACY_M[1], description="metres; negative = unknown"
    )
    hdop: float | None = Field(default=None, ge=HDOP[0], le=HDOP[1])
    batt: float | None = Field(
        default=None, le=BATTERY_PCT[1], description="battery percentage; negative = unknown"
    )
    charge: bool | None = Field(default=None, description="charging")
    valid: bool | None = Field(
        default=None, description="false: the fix is not current (kept, not used as a position)"
    )
    alarm: str | None = Field(
        default=None,
        description="Traccar alarm keys, comma-separated: 'sos' raises an SOS, 'tampering' or "
        "'removing' a tamper alarm, 'lowBattery' a battery_low alarm; others are stored",
    )


@dataclass
class OsmAndRequest:
    """One request's fields, as sent, under the decoder's names (not yet judged)."""

    token: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    # The name the client used for each value (e.g. "location.coords.latitude"), for errors.
    names: dict[str, str] = field(default_factory=dict)
    alarms: list[tuple[str, Any]] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    bad: dict[str, str] = field(default_factory=dict)
    nul: list[str] = field(default_factory=list)
    uuid: str | None = None

    def put(self, key: str, value: Any, name: str | None = None) -> None:
        self.values[key] = value
        self.names[key] = name or key

    def update(self, other: OsmAndRequest) -> None:
        """Fields of `other` (a body) over these (the query string)."""
        self.token = other.token or self.token
        self.values.update(other.values)
        self.names.update(other.names)
        self.alarms += other.alarms
        self.attributes.update(other.attributes)
        self.bad.update(other.bad)
        self.nul += other.nul
        self.uuid = other.uuid or self.uuid


def _invalid(fields: dict[str, str]) -> ApiError:
    return ApiError(422, "invalid_field", "one or more parameters are invalid", _clean(fields))


def _printable_name(name: str) -> str:
    return name.replace("\x00", "\\0")[:MAX_NAME]


def from_pairs(pairs: list[tuple[str, str]]) -> OsmAndRequest:
    """Query string or form parameters, in order (a repeated modelled key: the last wins, as
    in Traccar; a repeated `alarm` is read in full)."""
    req = OsmAndRequest()
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        if "\x00" in key or "\x00" in value:
            req.nul.append(_printable_name(key))
            continue
        lower = key.lower()
        if lower in ("id", "deviceid"):
            if value.strip():
                req.token = value.strip()
        elif key == "alarm":
            req.alarms.append((key, value))
        elif key in _QUERY_KEYS:
            req.put(_QUERY_KEYS[key], value, key)
        elif lower in _SECRET:
            continue
        else:
            multi.setdefault(key, []).append(value)
    for key, values in multi.items():
        req.attributes[key] = values[0] if len(values) == 1 else values
    return req


def body_pairs(raw: bytes) -> list[tuple[str, str]]:
    """A url-encoded body of any content type (Traccar reads one when the query is empty)."""
    text = raw.decode("utf-8", errors="replace")
    return parse_qsl(text, keep_blank_values=True)


def loads(raw: bytes) -> dict[str, Any]:
    """The JSON body as an object: 400 when it is not JSON, not an object or nested too deep
    (aware.api.loads_json, as every JSON endpoint)."""
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    body = loads_json(raw)
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", "the JSON body must be an object")
    return body


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in str(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _token_of(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text or None


def from_json(body: dict[str, Any]) -> OsmAndRequest:
    """Traccar Client's JSON body ({device_id, location: {...}}) or a flat JSON object."""
    req = OsmAndRequest()
    for name in ("device_id", "id", "deviceid"):
        if name in body and _has_nul(body[name]):
            req.nul.append(name)
        elif req.token is None:
            req.token = _token_of(body.get(name))
    if "location" not in body:
        # A flat object of the query parameters (typed values).
        for key, value in body.items():
            if key.lower() in _SECRET:
                continue
            if _has_nul(key) or _has_nul(value):
                req.nul.append(_printable_name(key))
            elif key == "alarm":
                req.alarms.append((key, value))
            elif key in _QUERY_KEYS:
                req.put(_QUERY_KEYS[key], value, key)
            else:
                req.attributes[key] = value
        return req
    if "alarm" in body:  # next to "location": not where Traccar looks, but never lost
        if _has_nul(body["alarm"]):
            req.nul.append("alarm")
        else:
            req.alarms.append(("alarm", body["alarm"]))
    loc = body["location"]
    if not isinstance(loc, dict):
        req.bad["location"] = "expected an object"
        return req
    _json_location(req, loc)
    return req


def _json_location(req: OsmAndRequest, loc: dict[str, Any]) -> None:
    def part(name: str) -> dict[str, Any]:
        value = loc.get(name)
        if value is None:
            return {}
        if isinstance(value, dict):
            return value
        req.bad[f"location.{name}"] = "expected an object"
        return {}

    def take(src: dict[str, Any], key: str, dst: str, name: str) -> None:
        if key not in src:
            return
        if _has_nul(src[key]):
            req.nul.append(name)
        else:
            req.put(dst, src[key], name)

    take(loc, "timestamp", "timestamp", "location.timestamp")
    coords = part("coords")
    for key, dst in (
        ("latitude", "lat"),
        ("longitude", "lon"),
        ("accuracy", "accuracy"),
        ("speed", "speed_mps"),
        ("heading", "bearing"),
        ("altitude", "altitude"),
    ):
        take(coords, key, dst, f"location.coords.{key}")
    battery = part("battery")
    take(battery, "level", "battery_level", "location.battery.level")
    take(battery, "is_charging", "charge", "location.battery.is_charging")
    # Fields Traccar keeps as attributes (under Traccar's names).
    for key, attr in (("is_moving", "motion"), ("event", "event"), ("odometer", "odometer")):
        if key in loc:
            if _has_nul(loc[key]):
                req.nul.append(f"location.{key}")
            else:
                req.attributes[attr] = loc[key]
    if "mock" in loc:
        req.attributes["mock"] = loc["mock"]
    activity = part("activity")
    if "type" in activity:
        if _has_nul(activity["type"]):
            req.nul.append("location.activity.type")
        else:
            req.attributes["activity"] = activity["type"]
    uuid = loc.get("uuid")
    if isinstance(uuid, str) and _UUID.match(uuid):
        req.uuid = uuid
    # Alarms: location.alarm and location.extras.alarm (both read: an SOS in either counts);
    # the first Flutter builds sent extras {"sos": true}; an event named "sos" is one too.
    if "alarm" in loc:
        if _has_nul(loc["alarm"]):
            req.nul.append("location.alarm")
        else:
            req.alarms.append(("location.alarm", loc["alarm"]))
    if loc.get("event") == "sos":
        req.alarms.append(("location.event", "sos"))
    extras = part("extras")
    for key, value in extras.items():
        name = f"location.extras.{_printable_name(key)}"
        if _has_nul(key) or _has_nul(value):
            req.nul.append(name)
        elif key == "alarm":
            req.alarms.append((name, value))
        elif key == "sos" and value is True:
            req.alarms.append((name, "sos"))
        elif key.lower() not in _SECRET:
            req.attributes.setdefault(key, value)


class _Bad(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _number(value: Any, bounds: tuple[float, float], unknown_below: float | None = None) -> Any:
    """A finite number within bounds; None when absent, empty or (below `unknown_below`)
    Traccar's "unknown"; _Bad otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Bad("not a number")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (ValueError, OverflowError):
        raise _Bad("not a number") from None
    if not math.isfinite(number):
        raise _Bad("not a finite number")
    if unknown_below is not None and number < unknown_below:
        return None
    low, high = bounds
    if not low <= number <= high:
        raise _Bad(f"out of range ({low:g} to {high:g})")
    return number


def _boolean(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    if not text:
        return None
    raise _Bad("expected true or false")


def parse_timestamp(raw: Any, now: dt.datetime) -> dt.datetime | None:
    """Seconds or milliseconds since the epoch (Traccar: below 2^31 seconds, else
    milliseconds), ISO 8601, or 'yyyy-MM-dd HH:mm:ss' (UTC assumed without an offset).

    Absent: `now`. Not a time at all: _Bad. A time outside what datetime can hold (year 1 with
    a positive offset, year 9999 with a negative one, 10^20 seconds) is returned as None."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return now
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise _Bad("seconds, milliseconds or ISO 8601")
    text = raw.strip() if isinstance(raw, str) else raw
    try:
        number = float(text)
    except (ValueError, OverflowError):
        number = None
    if number is not None:
        if not math.isfinite(number):
            raise _Bad("not a finite number")
        seconds = number if abs(number) < 2**31 - 1 else number / 1000
        try:
            return dt.datetime.fromtimestamp(seconds, dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        parsed = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise _Bad("seconds, milliseconds or ISO 8601") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    try:
        return parsed.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        return None


def _alarm_types(req: OsmAndRequest, bad: dict[str, str]) -> tuple[list[EventType], list[str]]:
    """The alarm event types the request raises, and the alarm keys as sent."""
    kinds: set[EventType] = set()
    keys: list[str] = []
    for name, value in req.alarms:
        if not isinstance(value, str):
            if value is not None:
                bad[name] = "expected Traccar alarm keys (text)"
            continue
        for key in value.split(","):
            key = key.strip()
            if not key:
                continue
            if key[:MAX_TEXT] not in keys:
                keys.append(key[:MAX_TEXT])
            kind = ALARM_TYPES.get(key.lower())
            if kind is not None:
                kinds.add(kind)
    return [k for k in _ALARM_ORDER if k in kinds], keys


def _attribute(value: Any) -> Any:
    """An attribute value as Traccar keeps it (number, boolean or text); _Bad when absurd."""
    if isinstance(value, list):
        if len(value) > MAX_LIST:
            raise _Bad("too many values")
        return [_attribute(v) for v in value]
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise _Bad("not a finite number")
        if isinstance(value, int) and abs(value) > 2**53:
            raise _Bad("out of range")
        return value
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise _Bad(f"longer than {MAX_TEXT} characters")
        text = value.strip()
        if text in ("true", "false"):
            return text == "true"
        try:
            number = float(text)
        except ValueError:
            return value
        if not math.isfinite(number):
            raise _Bad("not a finite number")
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    raise _Bad("not a number, boolean or text")


def _attributes(req: OsmAndRequest, bad: dict[str, str]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    skipped = 0
    for key, value in req.attributes.items():
        if len(key) > MAX_NAME or len(kept) >= MAX_ATTRIBUTES:
            skipped += 1
            continue
        try:
            kept[key] = _attribute(value)
        except _Bad as exc:
            bad[key] = exc.reason
    if skipped:
        bad["attributes"] = (
            f"{skipped} more not kept (at most {MAX_ATTRIBUTES}, names up to {MAX_NAME})"
        )
    return kept


def device_token(req: OsmAndRequest) -> str:
    """The device token (`id`, `deviceid` or `device_id`): 422 when it carried a NUL byte or
    is not text (a lone surrogate from a JSON escape)."""
    if any(name in ("id", "deviceid", "device_id") for name in req.nul) and not req.token:
        raise _invalid({"id": "contains a NUL byte"})
    if req.token is not None and not _encodable(req.token):
        raise _invalid({"id": "not valid UTF-8 text"})
    return req.token or ""


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _clean(value: Any) -> Any:
    """Text the database can store: a lone surrogate (JSON "\\ud800") is written out."""
    if isinstance(value, str):
        if _encodable(value):
            return value
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


@dataclass
class _Reading:
    """What is left of a request after judging each field."""

    at: dt.datetime
    clock_problem: str | None  # the device's time was replaced by the receive time
    position: PositionIn | None
    battery_pct: float | None
    extra: dict[str, Any]


def _judge(req: OsmAndRequest, now: dt.datetime, bad: dict[str, str]) -> _Reading:
    v, names = req.values, req.names
    extra: dict[str, Any] = {}

    def num(key: str, bounds: tuple[float, float], unknown_below: float | None = None) -> Any:
        try:
            return _number(v.get(key), bounds, unknown_below)
        except _Bad as exc:
            bad[names.get(key, key)] = exc.reason
            return None

    # Time: a clock outside [2000, now + 24 h] (or unreadable) is replaced by the receive time.
    clock_problem = None
    try:
        at = parse_timestamp(v.get("timestamp"), now)
    except _Bad as exc:
        clock_problem, at = exc.reason, None
    if clock_problem is None:
        clock_problem = "outside the range of dates" if at is None else clock_problem_of(at, now)
    if clock_problem is not None or at is None:
        extra["device_time"] = str(v.get("timestamp"))[:64]
        at = now

    # Position: lat/lon (or location=lat,lon) with the accuracy; anything bad drops it.
    lat, lon = num("lat", LAT), num("lon", LON)
    had_lat, had_lon = _present(v.get("lat")), _present(v.get("lon"))
    if not had_lat and not had_lon and _present(v.get("location")):
        lat, lon, had_lat, had_lon = _location(v.get("location"), names, bad)
    accuracy = num("accuracy", ACCURACY_M, unknown_below=0)
    position = None
    if had_lat != had_lon:
        missing = "lon" if had_lat else "lat"
        bad.setdefault(missing, "lat and lon come together")
    elif lat is not None and lon is not None:
        if names.get("accuracy", "accuracy") in bad:
            pass  # a fix with an absurd accuracy is no fix
        else:
            try:
                valid = _boolean(v.get("valid"))
            except _Bad as exc:
                bad[names.get("valid", "valid")] = exc.reason
                valid = None
            if valid is False:
                extra.update(valid=False, invalid_fix=[lat, lon])
            else:
                position = PositionIn(lat=lat, lon=lon, accuracy_m=accuracy)

    # Battery: batt (percent) or the JSON level (0-1); negative is unknown.
    battery_pct = num("batt", BATTERY_PCT, unknown_below=0)
    if "battery_level" in v:
        level = num("battery_level", (0.0, 1.0), unknown_below=0)
        if level is not None:
            battery_pct = round(level * 100, 2)

    # Protocol extras: speed in knots (JSON: m/s, converted like Traccar), bearing, altitude.
    if "speed_mps" in v:
        mps = num("speed_mps", (SPEED_KN[0] / KNOTS_PER_MPS, SPEED_KN[1] / KNOTS_PER_MPS), 0)
        if mps is not None:
            extra["speed_mps"] = mps
            knots = mps * KNOTS_PER_MPS
            extra.update(speed_kn=round(knots, 2), speed_kmh=round(knots * KMH_PER_KNOT, 2))
    else:
        knots = num("speed", SPEED_KN, unknown_below=0)
        if knots is not None:
            extra.update(speed_kn=knots, speed_kmh=round(knots * KMH_PER_KNOT, 2))
    for key, value in (
        ("bearing", num("bearing", BEARING, unknown_below=0)),
        ("altitude", num("altitude", ALTITUDE_M)),
        ("hdop", num("hdop", HDOP, unknown_below=0)),
    ):
        if value is not None:
            extra[key] = value
    try:
        charge = _boolean(v.get("charge"))
    except _Bad as exc:
        bad[names.get("charge", "charge")] = exc.reason
        charge = None
    if charge is not None:
        extra["charge"] = charge
    return _Reading(at, clock_problem, position, battery_pct, extra)


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _location(
    value: Any, names: dict[str, str], bad: dict[str, str]
) -> tuple[float | None, float | None, bool, bool]:
    name = names.get("location", "location")
    parts = str(value).split(",")
    if len(parts) < 2:
        bad[name] = "expected 'lat,lon'"
        return None, None, False, False
    try:
        lat = _number(parts[0], LAT)
        lon = _number(parts[1], LON)
    except _Bad as exc:
        bad[name] = exc.reason
        return None, None, False, False
    return lat, lon, lat is not None, lon is not None


def to_events(
    req: OsmAndRequest, now: dt.datetime
) -> tuple[list[EventIn], dict[str, dict[str, Any]]]:
    """Judge an OsmAnd request and turn it into events (and their protocol extras).

    Raises 422 naming the fields when the request raises no alarm and either carried a NUL
    byte or has nothing usable left (no position, no battery reading) after a bad field."""
    bad: dict[str, str] = dict(req.bad)
    kinds, alarm_keys = _alarm_types(req, bad)
    if req.nul and not kinds:
        raise _invalid({name: "contains a NUL byte" for name in req.nul[:MAX_DROPPED]})
    for name in req.nul:
        bad[name] = "contains a NUL byte"
    reading = _judge(req, now, bad)
    extra = reading.extra
    if reading.clock_problem is not None:
        extra["clock_suspect"] = True
        bad[req.names.get("timestamp", "timestamp")] = reading.clock_problem
        if not kinds and reading.position is not None:
            # A fix at an unknown time is no evidence: judged "now" against a contact ban it
            # could place him near her when he was not. Kept aside, never used. (An alarm is
            # pressed now: it keeps the fix it came with.)
            extra["unused_fix"] = [reading.position.lat, reading.position.lon]
            reading.position = None
    attributes = _attributes(req, bad)
    if bad and not kinds and reading.position is None and reading.battery_pct is None:
        raise _invalid(dict(list(bad.items())[:MAX_DROPPED]))

    if alarm_keys:
        extra["alarm"] = ",".join(alarm_keys)[:MAX_TEXT]
    if attributes:
        extra["attributes"] = attributes
    if bad:
        extra["dropped"] = dict(list(bad.items())[:MAX_DROPPED])
    extra = _clean(extra)

    received_ms = int(now.timestamp() * 1000)
    stamp = int(reading.at.timestamp() * 1000)
    base = f"osmand:{req.uuid}" if req.uuid else f"osmand:{stamp}"
    events: list[EventIn] = []
    for kind in kinds or ["position" if reading.position else "heartbeat"]:
        event_id = f"{base}:{kind}"
        if kind in ALARM_TYPES.values() and not req.uuid:
            # A second press with the same cached fix time is a new alarm, not a re-send.
            event_id += f":{received_ms // 60_000}"
        events.append(_event(event_id, kind, reading))
    return events, {e.event_id: dict(extra) for e in events} if extra else {}


def _event(event_id: str, kind: EventType, reading: _Reading) -> EventIn:
    try:
        return EventIn(
            event_id=event_id,
            type=kind,
            occurred_at=reading.at,
            position=reading.position,
            battery_pct=reading.battery_pct,
        )
    except ValidationError:  # pragma: no cover - every field was judged above
        if kind == "position":
            raise _invalid({"lat": "not a usable position"}) from None
        return EventIn(event_id=event_id, type=kind, occurred_at=reading.at)
