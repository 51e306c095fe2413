"""Device use cases: registration, token check, and event intake.

Intake stores every event once per (device, event_id) with INSERT ... ON CONFLICT DO NOTHING,
so two concurrent requests carrying the same event produce one row and at most one alarm: the
database's unique index decides, not a read-then-write race. Everything a request accepted is
committed before the caller answers 2xx; consoles are told only after that commit.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, NamedTuple, cast

from sqlalchemy import Connection, Table, and_, bindparam, case, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aware.adapters.realtime import Publisher
from aware.alarms import rules
from aware.alarms.models import Alarm, AlarmLogEntry
from aware.alarms.services import IntakeContext, StormGate, alarm_dicts, intake_context
from aware.db import Prepared, UTCDateTime
from aware.devices import intake
from aware.devices.models import Device, DeviceEvent
from aware.devices.schemas import EventIn
from aware.risk.checks import judge_plausibility
from aware.risk.models import CaseDevice
from aware.security import hash_token, new_token


class DeviceExists(Exception):
    """A device with that serial is already registered."""


class DeviceNotFound(Exception):
    """No device with that id."""


def register(session: Session, serial: str, kind: str, now: dt.datetime) -> tuple[Device, str]:
    """Register a device; returns it with its token, which is never retrievable again."""
    token = new_token()
    device = Device(serial=serial, kind=kind, token_hash=hash_token(token), created_at=now)
    session.add(device)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise DeviceExists(serial) from None
    return device, token


def list_devices(session: Session) -> list[Device]:
    """All devices, newest first."""
    return list(session.scalars(select(Device).order_by(Device.id.desc())))


def deactivate(session: Session, device_id: int, now: dt.datetime) -> Device:
    """Stop accepting events from a device (lost, returned, compromised)."""
    device = session.get(Device, device_id)
    if device is None:
        raise DeviceNotFound(device_id)
    if device.active:
        device.active = False
        device.deactivated_at = now
        session.commit()
    return device


def authenticate(session: Session, token: str) -> Device | None:
    """The active device holding this token, or None."""
    if not token:
        return None
    return session.execute(
        select(Device).where(Device.token_hash == hash_token(token), Device.active.is_(True))
    ).scalar_one_or_none()


# (conn, case_id, device_id, new events, now, default escalation chain data, what intake read
# first: alarms.services.IntakeContext, the device's last fix before the request and its storm
# gate)
#   -> (new alarms, ids of alarms updated)
BanChecks = Callable[
    [Connection, int, int, list[EventIn], dt.datetime, dict[str, Any] | None, IntakeContext],
    tuple[list[Any], set[int]],
]


class TokenCache:
    """Recently seen device tokens (hash -> device id), so intake needs one transaction, not two.

    Positive answers only, for a short time; the intake transaction itself re-checks that the
    device is still active, so a deactivation takes effect at once.
    """

    def __init__(self, ttl_s: float = 60.0, max_entries: int = 100_000):
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[int, float]] = {}

    def device_id(self, session: Callable[[], Session], token: str) -> int | None:
        """The id of the active device holding this token, or None (asks the database, through
        the given session factory, only on a miss)."""
        if not token:
            return None
        key = hash_token(token)
        hit = self._entries.get(key)
        now = time.monotonic()
        if hit is not None and hit[1] > now:
            return hit[0]
        device = authenticate(session(), token)
        if device is None:
            return None
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (device.id, now + self.ttl_s)
        return device.id


@dataclass
class IngestResult:
    accepted: int
    duplicates: int
    # Alarms of the request's own alarm events only (never of ban checks: the device's
    # answer must not depend on anyone else's data).
    alarm_ids: list[int]
    new_alarms: list[dict[str, Any]] = field(default_factory=list)
    # Events not stored, by their index in the `events` given.
    rejected: list[intake.Rejected] = field(default_factory=list)
    # A perpetrator's tracker in a case: its positions were judged against the case's bans.
    judged_against_bans: bool = False


_EVENTS = cast(Table, DeviceEvent.__table__)
_DEVICES = cast(Table, Device.__table__)
_ALARMS = cast(Table, Alarm.__table__)


# The intake statements are built once: Core statements with bound parameters, compiled once
# and cached whatever the batch size (executemany goes through insertmanyvalues with RETURNING).
_INSERT_EVENTS = {
    name: dialect.insert(_EVENTS)
    .on_conflict_do_nothing(index_elements=["device_id", "event_id"])
    .returning(_EVENTS.c.id, _EVENTS.c.event_id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def _newer(column: Any, param: str) -> Any:
    """SQL: the parameter is given and newer than the column (or the column is empty)."""
    value = bindparam(param, type_=UTCDateTime())
    return and_(value.is_not(None), or_(column.is_(None), column < value))


def _take_if(cond: Any, param: str, column: Any) -> Any:
    return case((cond, bindparam(param, type_=column.type)), else_=column)


_d = _DEVICES.c
_FIX_IS_NEWER = _newer(_d.last_position_at, "fix_at")
# What the touch returns (see _Device).
_TOUCHED = (
    _d.id,
    _d.serial,
    _d.last_lat,
    _d.last_lon,
    _d.last_accuracy_m,
    _d.last_position_at,
    _d.kind,
)
_BATTERY_IS_NEWER = _newer(_d.battery_at, "battery_at")
# One statement both locks the device row (first lock of every intake transaction: device, then
# events, then the seq counter) and applies the request's newest fix and battery reading. A late
# (buffered) value never replaces a newer one; `last_seen_at` is the server's clock.
_TOUCH_DEVICE = (
    update(_DEVICES)
    .where(_d.id == bindparam("device_id"), _d.active.is_(True))
    .values(
        last_seen_at=_take_if(_newer(_d.last_seen_at, "now"), "now", _d.last_seen_at),
        last_position_at=_take_if(_FIX_IS_NEWER, "fix_at", _d.last_position_at),
        last_lat=_take_if(_FIX_IS_NEWER, "lat", _d.last_lat),
        last_lon=_take_if(_FIX_IS_NEWER, "lon", _d.last_lon),
        last_accuracy_m=_take_if(_FIX_IS_NEWER, "accuracy_m", _d.last_accuracy_m),
        battery_at=_take_if(_BATTERY_IS_NEWER, "battery_at", _d.battery_at),
        battery_pct=_take_if(_BATTERY_IS_NEWER, "battery_pct", _d.battery_pct),
    )
    .returning(*_TOUCHED)
)
_EVENT_COLUMNS = [c.key for c in _EVENTS.columns if c.key != "id"]

# The statements of one alarm, run on the DBAPI cursor (see aware.db.Prepared); batches of
# events go through Core's executemany above.
_PREPARED_TOUCH = Prepared(_TOUCH_DEVICE, returning=_TOUCHED)
_PREPARED_EVENT = {
    name: Prepared(stmt, returning=(_EVENTS.c.id, _EVENTS.c.event_id), column_keys=_EVENT_COLUMNS)
    for name, stmt in _INSERT_EVENTS.items()
}
_LINKS = cast(Table, CaseDevice.__table__)
_PREPARED_LINK = Prepared(
    select(_LINKS.c.case_id, _LINKS.c.role).where(
        _LINKS.c.device_id == bindparam("device_id"), _LINKS.c.unlinked_at.is_(None)
    ),
    returning=(_LINKS.c.case_id, _LINKS.c.role),
)


class _Device(NamedTuple):
    """The device as the intake transaction locked and updated it."""

    id: int
    serial: str
    last_lat: float | None
    last_lon: float | None
    last_accuracy_m: float | None
    last_position_at: dt.datetime | None
    kind: str


def ingest(
    session: Session,
    device_id: int,
    events: list[EventIn],
    now: dt.datetime,
    publisher: Publisher,
    source: str = "ingest",
    extras: dict[str, dict[str, Any]] | None = None,
    ban_checks: BanChecks | None = None,
    default_escalation: dict[str, Any] | None = None,
    device_alarm_rate: int = rules.DEFAULT_DEVICE_ALARM_RATE,
    defer_updates: Callable[[list[int]], None] | None = None,
) -> IngestResult:
    """Store a device's events once each, raise their alarms, update the device's state.

    Each event is judged on its own first (`intake.screen`): one with a clock nobody can
    believe or an id no column can hold is refused (listed in `rejected`), unless it is an
    alarm, which is stored repaired and marked. Nothing is written when nothing is storable.
    With `ban_checks`, a perpetrator tracker's new positions are judged against the case's
    bans in the same transaction (violations are committed with the position behind them).
    `default_escalation` is the settings' chain, copied onto alarms whose type has no chain of
    its own (see alarms.services.insert_alarm). `defer_updates` takes the ids of alarms the ban
    checks changed, to publish after the answer (devices.deferred); without it they are
    published here, after the commit.
    """
    judged = intake.screen(events, extras, now)
    events, extras = judged.events, judged.extras
    if not events:
        return IngestResult(0, 0, [], rejected=judged.rejected)
    conn = session.connection()
    context = intake_context(  # the first lock; the last fix before this request's own
        conn, device_id, now, device_alarm_rate, default_escalation, read=_decides(events)
    )
    extras = judge_plausibility(context, events, extras)  # stored marked, never raising
    touched = _PREPARED_TOUCH.execute(conn, _device_params(device_id, events, now))
    if not touched:
        session.rollback()
        raise DeviceNotFound(device_id)
    device = _Device(*touched[0])
    # First occurrence of an event_id in the request wins; sorting gives every transaction the
    # same lock order on the unique index, so concurrent batches cannot deadlock.
    unique: dict[str, EventIn] = {}
    for ev in events:
        unique.setdefault(ev.event_id, ev)
    ordered = sorted(unique.values(), key=lambda e: e.event_id)
    rows = [
        {
            "device_id": device_id,
            "event_id": ev.event_id,
            "type": ev.type,
            "occurred_at": ev.occurred_at.astimezone(dt.UTC),  # sane: intake.screen
            "received_at": now,
            "lat": ev.position.lat if ev.position else None,
            "lon": ev.position.lon if ev.position else None,
            "accuracy_m": ev.position.accuracy_m if ev.position else None,
            "battery_pct": ev.battery_pct,
            "source": source,
            "extra": extras.get(ev.event_id),
        }
        for ev in ordered
    ]
    if len(rows) == 1:
        result = _PREPARED_EVENT[conn.dialect.name].execute(conn, rows[0])
    else:
        result = list(conn.execute(_INSERT_EVENTS[conn.dialect.name], rows))
    inserted = {event_id: pk for pk, event_id in result}
    new_events = [ev for ev in ordered if ev.event_id in inserted]

    link = _PREPARED_LINK.execute(conn, {"device_id": device_id})
    case_id, role = link[0] if link else (None, None)
    own = _raise_alarms(conn, device, case_id, new_events, inserted, now, context.gate)
    _mark_repairs(conn, own, extras, now)
    new_alarms = [a for a in own if a.is_new]
    updated: set[int] = {a.id for a in own if not a.is_new}  # storm alarms folded into
    if ban_checks is not None and role == "perpetrator" and case_id is not None and new_events:
        raised, changed_by_bans = ban_checks(
            conn, case_id, device_id, new_events, now, default_escalation, context
        )
        new_alarms += raised
        updated |= changed_by_bans

    duplicate_ids = [e for e in unique if e not in inserted]
    # The device hears of its own alarm events only: what its positions raised against a ban
    # (or did not) would tell a perpetrator holding the tracker where the victim is.
    alarm_ids = [a.id for a in own]
    if duplicate_ids:
        alarm_ids += list(
            conn.scalars(
                select(_ALARMS.c.id)
                .join(_EVENTS, _EVENTS.c.id == _ALARMS.c.event_pk)
                .where(
                    _EVENTS.c.device_id == device_id,
                    _EVENTS.c.event_id.in_(duplicate_ids),
                    _EVENTS.c.type.in_(sorted(rules.EVENT_ALARM_TYPES)),
                    _ALARMS.c.ban_id.is_(None),
                )
            )
        )
    # Updates of alarms the ban checks changed (a fix appended to an open violation) reach the
    # consoles after the answer when `defer_updates` is given (see devices.deferred): building
    # them here made a fix near the victim slower to answer than one far from her.
    later = sorted(updated - {a.id for a in own}) if defer_updates is not None else []
    now_ids = sorted(updated.difference(later))
    changed = (
        list(conn.execute(select(_ALARMS).where(_ALARMS.c.id.in_(now_ids)))) if now_ids else []
    )
    published = alarm_dicts(conn, new_alarms, now) if new_alarms else []
    updates = alarm_dicts(conn, changed, now) if changed else []
    session.commit()
    for alarm in published:
        publisher.alarm_new(alarm)
    for alarm in updates:
        publisher.alarm_updated(alarm)
    if later and defer_updates is not None:
        defer_updates(later)
    return IngestResult(
        accepted=len(new_events),
        duplicates=len(events) - len(new_events),
        # Alarm ids are global: the gaps between a tracker's own would tell it how many alarms
        # were raised meanwhile (its violations among them). A tracker is told none.
        alarm_ids=[] if device.kind == "perpetrator_tracker" else sorted(alarm_ids),
        new_alarms=published,
        rejected=judged.rejected,
        judged_against_bans=role == "perpetrator" and case_id is not None,
    )


_ALARM_LOG = cast(Table, AlarmLogEntry.__table__)
# What intake repaired, as it appears on the alarm (detail) and its timeline.
REPAIR_MARKS = ("clock_suspect", "dropped", "event_id_derived")


def _mark_repairs(
    conn: Connection,
    alarms: list[SimpleNamespace],
    extras: dict[str, dict[str, Any]],
    now: dt.datetime,
) -> None:
    """Put what intake dropped or replaced on the alarm itself (detail) and its timeline, so
    dispatch sees why an SOS has no position or a time that is the receive time."""
    for alarm in alarms:
        extra = extras.get(getattr(alarm, "event_id", None) or "")
        marks = {k: extra[k] for k in REPAIR_MARKS if extra and k in extra}
        if not marks:
            continue
        detail = {**(getattr(alarm, "detail", None) or {}), **marks}
        conn.execute(update(_ALARMS).where(_ALARMS.c.id == alarm.id).values(detail=detail))
        conn.execute(
            _ALARM_LOG.insert().values(
                alarm_id=alarm.id,
                at=now,
                action="input_repaired",
                actor_type="system",
                actor_id=None,
                actor_name="intake",
                detail=marks,
            )
        )
        alarm.detail = detail


def _decides(events: list[EventIn]) -> bool:
    """Whether intake must read the device's last fix and alarm rate first (a position to judge
    or an alarm to raise; not for heartbeats)."""
    return any(ev.position is not None or ev.type in rules.EVENT_ALARM_TYPES for ev in events)


def _raise_alarms(
    conn: Connection,
    device: _Device,
    case_id: int | None,
    events: list[EventIn],
    pks: dict[str, int],
    now: dt.datetime,
    gate: StormGate,
) -> list[SimpleNamespace]:
    """Insert the alarms of new alarm events; returns them as plain records (no ORM state: this
    is the alarm path). The alarm row is the record of its raising (see alarms.services.get).

    Past the device's alarm rate, alarms are folded into its storm alarm (`gate`): the storm
    alarm is returned once, `is_new` False when it existed before this request (publish it as
    alarm.updated). Every returned record has `is_new`."""
    alarm_events = [ev for ev in events if ev.type in rules.EVENT_ALARM_TYPES]
    if not alarm_events:
        return []
    # Oldest press first, so seq follows what happened on the device.
    alarm_events.sort(key=lambda e: e.occurred_at)
    alarms: dict[int, SimpleNamespace] = {}
    for ev in alarm_events:
        occurred = ev.occurred_at.astimezone(dt.UTC)
        values: dict[str, Any] = {
            "type": ev.type,
            "priority": rules.priority_for(ev.type),
            "device_id": device.id,
            "case_id": case_id,
            "event_pk": pks[ev.event_id],
            "event_id": ev.event_id,
            "occurred_at": occurred,
            "received_at": now,
        }
        if ev.position is not None:
            values.update(
                lat=ev.position.lat,
                lon=ev.position.lon,
                accuracy_m=ev.position.accuracy_m,
                position_at=occurred,
                position_source="event",
            )
        elif device.last_lat is not None and device.last_lon is not None:
            # No fix with the press (indoors): show the last known one, with its age.
            values.update(
                lat=device.last_lat,
                lon=device.last_lon,
                accuracy_m=device.last_accuracy_m,
                position_at=device.last_position_at,
                position_source="last_known",
            )
        alarm, is_new = gate.raise_or_fold(**values)
        if alarm.id not in alarms:
            alarm.is_new = is_new
            alarms[alarm.id] = alarm
    gate.flush()
    return list(alarms.values())


def _newest(events: list[EventIn], now: dt.datetime) -> tuple[EventIn, dt.datetime] | None:
    """The newest event and its ordering time: a device clock ahead of ours must not pin the
    state, so events are ordered by the earlier of device and server time."""
    if not events:
        return None
    newest = max(events, key=lambda e: min(e.occurred_at, now))
    return newest, min(newest.occurred_at.astimezone(dt.UTC), now)


def _device_params(device_id: int, events: list[EventIn], now: dt.datetime) -> dict[str, Any]:
    """Parameters of _TOUCH_DEVICE: the request's newest fix and battery reading, if any.

    Duplicates count too: applying a value already applied changes nothing.
    """
    params: dict[str, Any] = {
        "device_id": device_id,
        "now": now,
        "fix_at": None,
        "lat": None,
        "lon": None,
        "accuracy_m": None,
        "battery_at": None,
        "battery_pct": None,
    }
    fix = _newest([ev for ev in events if ev.position is not None], now)
    if fix is not None:
        ev, at = fix
        position = ev.position
        if position is not None:
            params.update(
                fix_at=at, lat=position.lat, lon=position.lon, accuracy_m=position.accuracy_m
            )
    battery = _newest([ev for ev in events if ev.battery_pct is not None], now)
    if battery is not None:
        params.update(battery_at=battery[1], battery_pct=battery[0].battery_pct)
    return params
