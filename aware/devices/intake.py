"""Judging device events one at a time: what is stored, what is repaired, what is refused.

Pure code (no Flask, no session). The rules, in the order a control room needs them:

- An alarm event (`sos`, `tamper`, `battery_low`, `test`) is never refused for a bad field in
  it or next to it. A position with a NaN, infinite or out-of-range value is dropped, a battery
  value likewise; a clock before 2000 or more than 24 h ahead of the server (or one that cannot
  even be converted to UTC, such as year 1 at +01:00) is replaced by the receive time and
  marked `clock_suspect`; an unusable `event_id` (a NUL byte, a lone surrogate, empty, too long,
  missing) is replaced by one derived from it (see `derived_event_id`). What was repaired is
  kept on the event's `extra` and put on the alarm's timeline.
- Any other event with a bad field, including a bad clock, is refused and listed by its index:
  a position at an unknown time is no evidence, and judging it "now" against a contact ban
  could place a man near a woman when he was not.
- Nothing that is not JSON (NaN, Infinity, NUL, lone surrogates) is ever stored, also not in
  the protocol extras.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from aware.alarms.rules import EVENT_ALARM_TYPES
from aware.api import text_problem, text_problems, validation_fields
from aware.devices.schemas import EventIn

EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
MAX_AHEAD = dt.timedelta(hours=24)
# The fields of an event; anything else in an event object is ignored (and never stored).
FIELDS = tuple(EventIn.model_fields)
# What an alarm event can lose or have replaced and still be an alarm.
REPAIRABLE = frozenset({"position", "battery_pct", "occurred_at", "event_id"})
DERIVED_PREFIX = "derived-"


@dataclass(frozen=True)
class Rejected:
    """One event of a request that is not stored."""

    index: int
    event_id: str | None
    fields: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "event_id": self.event_id, "fields": self.fields}


@dataclass
class Judged:
    """The storable events (in request order), their extras, and the refused ones.

    `origin[i]` is the index in the request of `events[i]`.
    """

    events: list[EventIn] = field(default_factory=list)
    extras: dict[str, dict[str, Any]] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)
    origin: list[int] = field(default_factory=list)


def utc(value: dt.datetime) -> dt.datetime | None:
    """The instant in UTC, or None when it lies outside what a datetime can hold (year 1 at
    +01:00 is 31 December of year 0)."""
    try:
        return value.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        return None


def clock_problem(at: dt.datetime, now: dt.datetime) -> str | None:
    """Why a device's timestamp cannot be believed, or None."""
    instant = utc(at)
    if instant is None:  # beyond year 1 or 9999 once in UTC
        return "before 2000-01-01" if at.year < 2000 else "more than 24 h ahead of the server clock"
    if instant < EARLIEST:
        return "before 2000-01-01"
    if instant > now + MAX_AHEAD:
        return "more than 24 h ahead of the server clock"
    return None


def is_alarm(kind: Any) -> bool:
    return isinstance(kind, str) and kind in EVENT_ALARM_TYPES


def derived_event_id(raw: Any, item: dict[str, Any]) -> str:
    """A stable event_id for an alarm event whose own cannot be stored.

    The same broken id (or, without a string id, the same type and time as sent) always gives
    the same derived id, so a re-sent alarm is still stored once; the prefix and the hash keep
    it apart from ids the device chose itself.
    """
    if isinstance(raw, str):
        basis = "id:" + raw
    else:
        basis = "at:" + repr((item.get("type"), item.get("occurred_at"), raw))
    digest = hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()
    return DERIVED_PREFIX + digest[:40]


def printable(raw: Any, limit: int = 80) -> str | None:
    """A storable rendering of a reported value, for the record (None for non-strings)."""
    if not isinstance(raw, str):
        return None
    text = raw.replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode("utf-8")
    return text[:limit]


def json_safe(value: Any, path: str, dropped: dict[str, str], depth: int = 0) -> Any:
    """`value` with everything JSON cannot hold or a database cannot store left out (recorded in
    `dropped` by path): non-finite numbers, NUL bytes, lone surrogates, odd types."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        dropped[path] = "not a finite number"
        return _DROP
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            dropped[path] = problem
            return _DROP
        return value
    if depth > 8:
        dropped[path] = "nested too deeply"
        return _DROP
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = f"{path}.{key}"
            if not isinstance(key, str) or text_problem(key):
                dropped[path] = "a key is not storable text"
                continue
            clean = json_safe(item, name, dropped, depth + 1)
            if clean is not _DROP:
                out[key] = clean
        return out
    if isinstance(value, list | tuple):
        items = [json_safe(v, f"{path}.{i}", dropped, depth + 1) for i, v in enumerate(value)]
        return [v for v in items if v is not _DROP]
    dropped[path] = "not a JSON value"
    return _DROP


_DROP = object()


def clean_extra(extra: dict[str, Any] | None) -> dict[str, Any] | None:
    """An event's extra as it may be stored: non-JSON values left out and listed under
    `dropped` (path -> why)."""
    if not extra:
        return extra
    dropped: dict[str, str] = {}
    clean = json_safe(extra, "extra", dropped)
    if not isinstance(clean, dict):
        return None
    if dropped:
        listed = clean.setdefault("dropped", {})
        if isinstance(listed, dict):
            listed.update({k.removeprefix("extra."): v for k, v in dropped.items()})
    return clean


def _merge_marks(extras: dict[str, dict[str, Any]], event_id: str, marks: dict[str, Any]) -> None:
    if not marks:
        return
    extra = extras.setdefault(event_id, {})
    for key, value in marks.items():
        if isinstance(value, dict) and isinstance(extra.get(key), dict):
            extra[key].update(value)
        else:
            extra[key] = value


def _repair_clock(
    ev: EventIn, now: dt.datetime, reason: str, reported: str | None = None
) -> tuple[EventIn, dict[str, Any]]:
    mark = {
        "reason": reason,
        "reported": reported or ev.occurred_at.isoformat(),
        "replaced_by": "received_at",
    }
    return ev.model_copy(update={"occurred_at": now}), {"clock_suspect": mark}


def screen(
    events: list[EventIn], extras: dict[str, dict[str, Any]] | None, now: dt.datetime
) -> Judged:
    """Judge events already shaped as `EventIn` (any intake): clock, event_id text, extras."""
    out = Judged()
    given = extras or {}
    for index, ev in enumerate(events):
        marks: dict[str, Any] = {}
        extra = given.get(ev.event_id)
        id_problem = text_problem(ev.event_id)
        if id_problem:
            if not is_alarm(ev.type):
                out.rejected.append(Rejected(index, None, {"event_id": id_problem}))
                continue
            new_id = derived_event_id(ev.event_id, {"type": ev.type})
            marks["event_id_derived"] = {
                "reason": id_problem,
                "reported": printable(ev.event_id),
            }
            ev = ev.model_copy(update={"event_id": new_id})
        problem = clock_problem(ev.occurred_at, now)
        if problem:
            if not is_alarm(ev.type):
                out.rejected.append(Rejected(index, ev.event_id, {"occurred_at": problem}))
                continue
            ev, clock_marks = _repair_clock(ev, now, problem)
            marks.update(clock_marks)
        if extra:
            cleaned = clean_extra(extra)
            if cleaned:
                out.extras[ev.event_id] = cleaned
        _merge_marks(out.extras, ev.event_id, marks)
        out.events.append(ev)
        out.origin.append(index)
    return out


def _validate(known: dict[str, Any]) -> tuple[EventIn | None, dict[str, str]]:
    """Validate one event object in JSON mode (the same strictness as a whole request)."""
    try:
        return EventIn.model_validate_json(json.dumps(known)), {}
    except ValidationError as exc:
        return None, validation_fields(exc)
    except (ValueError, TypeError) as exc:  # pragma: no cover - json.dumps of parsed JSON
        return None, {"event": str(exc)}


def _root(path: str) -> str:
    return path.split(".", 1)[0]


def judge_item(index: int, item: Any, now: dt.datetime) -> tuple[EventIn | None, Any]:
    """One event object of a request: (event, marks) when storable, else (None, Rejected)."""
    if not isinstance(item, dict):
        return None, Rejected(index, None, {"event": "expected an event object"})
    known = {k: item[k] for k in FIELDS if k in item}
    raw_id = known.get("event_id")
    # Strings no column can hold are named first (pydantic would take a NUL as text and call a
    # lone surrogate invalid JSON without naming the field).
    fields = text_problems(known)
    for path in fields:
        known.pop(_root(path), None)
    ev, errors = _validate(known)
    for path, message in errors.items():
        if _root(path) not in {_root(p) for p in fields}:
            fields.setdefault(path, message)
    marks: dict[str, Any] = {}
    if fields:
        roots = {_root(p) for p in fields}
        if not is_alarm(known.get("type")) or not roots <= REPAIRABLE:
            usable_id = raw_id if isinstance(raw_id, str) and "event_id" not in roots else None
            return None, Rejected(index, usable_id, fields)
        # An alarm: keep it, without what is broken.
        for root in sorted(roots):
            reasons = "; ".join(
                f"{p.partition('.')[2] or p}: {m}" for p, m in fields.items() if _root(p) == root
            )
            known.pop(root, None)
            if root in ("position", "battery_pct"):
                marks.setdefault("dropped", {})[root] = reasons
            elif root == "occurred_at":
                known["occurred_at"] = now.isoformat()
                marks["clock_suspect"] = {
                    "reason": reasons,
                    "reported": printable(item.get("occurred_at")),
                    "replaced_by": "received_at",
                }
            elif root == "event_id":
                known["event_id"] = derived_event_id(raw_id, item)
                marks["event_id_derived"] = {"reason": reasons, "reported": printable(raw_id)}
        ev, errors = _validate(known)
        if ev is None:  # pragma: no cover - only repairable fields were wrong
            return None, Rejected(index, None, {**fields, **errors})
    assert ev is not None
    problem = clock_problem(ev.occurred_at, now)
    if problem:
        if not is_alarm(ev.type):
            return None, Rejected(index, ev.event_id, {"occurred_at": problem})
        ev, clock_marks = _repair_clock(ev, now, problem, printable(item.get("occurred_at")))
        marks.update(clock_marks)
    return ev, marks


def judge_items(items: list[Any], now: dt.datetime) -> Judged:
    """Judge each event object of a request on its own."""
    out = Judged()
    for index, item in enumerate(items):
        ev, verdict = judge_item(index, item, now)
        if ev is None:
            out.rejected.append(verdict)
            continue
        _merge_marks(out.extras, ev.event_id, verdict)
        out.events.append(ev)
        out.origin.append(index)
    return out


def all_sound(events: list[EventIn], now: dt.datetime) -> bool:
    """Whether events validated as a whole need no judging one by one (the common case)."""
    latest = now + MAX_AHEAD
    for ev in events:
        if not ev.event_id.isascii() or "\x00" in ev.event_id:
            return False
        instant = utc(ev.occurred_at)
        if instant is None or instant < EARLIEST or instant > latest:
            return False
    return True
