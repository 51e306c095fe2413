"""Device use cases: registration, token check, and event intake.

Intake stores every event once per (device, event_id) with INSERT ... ON CONFLICT DO NOTHING,
so two concurrent requests carrying the same event produce one row and at most one alarm: the
database's unique index decides, not a read-then-write race. Everything a request accepted is
committed before the caller answers 2xx; consoles are told only after that commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aware.adapters.realtime import Publisher
from aware.alarms import rules
from aware.alarms.models import Alarm
from aware.alarms.schemas import alarm_to_dict
from aware.alarms.services import Actor, log_entry, next_seq
from aware.devices.models import Device, DeviceEvent
from aware.devices.schemas import EventIn
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


@dataclass
class IngestResult:
    accepted: int
    duplicates: int
    alarm_ids: list[int]
    new_alarms: list[Alarm] = field(default_factory=list)


def _insert(session: Session) -> Any:
    name = session.get_bind().dialect.name
    return (postgresql if name == "postgresql" else sqlite).insert(DeviceEvent)


def ingest(
    session: Session,
    device_id: int,
    events: list[EventIn],
    now: dt.datetime,
    publisher: Publisher,
    source: str = "ingest",
    extras: dict[str, dict[str, Any]] | None = None,
) -> IngestResult:
    """Store a device's events once each, raise their alarms, update the device's state."""
    device = session.get(Device, device_id)
    if device is None or not device.active:
        session.rollback()
        raise DeviceNotFound(device_id)
    # First occurrence of an event_id in the request wins; sorting gives every transaction the
    # same lock order on the unique index, so concurrent batches cannot deadlock.
    unique: dict[str, EventIn] = {}
    for ev in events:
        unique.setdefault(ev.event_id, ev)
    ordered = sorted(unique.values(), key=lambda e: e.event_id)
    rows = [
        {
            "device_id": device.id,
            "event_id": ev.event_id,
            "type": ev.type,
            "occurred_at": ev.occurred_at.astimezone(dt.UTC),
            "received_at": now,
            "lat": ev.position.lat if ev.position else None,
            "lon": ev.position.lon if ev.position else None,
            "accuracy_m": ev.position.accuracy_m if ev.position else None,
            "battery_pct": ev.battery_pct,
            "source": source,
            "extra": (extras or {}).get(ev.event_id),
        }
        for ev in ordered
    ]
    stmt = (
        _insert(session)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["device_id", "event_id"])
        .returning(DeviceEvent.id, DeviceEvent.event_id)
    )
    inserted = {event_id: pk for pk, event_id in session.execute(stmt)}
    new_events = [ev for ev in ordered if ev.event_id in inserted]

    new_alarms = _raise_alarms(session, device, new_events, inserted, now)
    _update_device_state(session, device, new_events, now)

    duplicate_ids = [e for e in unique if e not in inserted]
    alarm_ids = [a.id for a in new_alarms]
    if duplicate_ids:
        alarm_ids += list(
            session.scalars(
                select(Alarm.id)
                .join(DeviceEvent, DeviceEvent.id == Alarm.event_pk)
                .where(DeviceEvent.device_id == device.id, DeviceEvent.event_id.in_(duplicate_ids))
            )
        )
    session.commit()
    for alarm in new_alarms:
        publisher.alarm_new(alarm_to_dict(alarm))
    return IngestResult(
        accepted=len(new_events),
        duplicates=len(events) - len(new_events),
        alarm_ids=sorted(alarm_ids),
        new_alarms=new_alarms,
    )


def _raise_alarms(
    session: Session,
    device: Device,
    events: list[EventIn],
    pks: dict[str, int],
    now: dt.datetime,
) -> list[Alarm]:
    alarm_events = [ev for ev in events if ev.type in rules.EVENT_ALARM_TYPES]
    if not alarm_events:
        return []
    # Oldest press first, so seq follows what happened on the device.
    alarm_events.sort(key=lambda e: e.occurred_at)
    last = next_seq(session, len(alarm_events))
    first = last - len(alarm_events) + 1
    actor = Actor("device", str(device.id), device.serial)
    alarms = []
    for i, ev in enumerate(alarm_events):
        alarm = Alarm(
            seq=first + i,
            type=ev.type,
            priority=rules.priority_for(ev.type),
            status=rules.Status.OPEN.value,
            device_id=device.id,
            event_pk=pks[ev.event_id],
            event_id=ev.event_id,
            occurred_at=ev.occurred_at.astimezone(dt.UTC),
            received_at=now,
        )
        if ev.position is not None:
            alarm.lat, alarm.lon = ev.position.lat, ev.position.lon
            alarm.accuracy_m = ev.position.accuracy_m
            alarm.position_at = ev.occurred_at.astimezone(dt.UTC)
            alarm.position_source = "event"
        elif device.last_lat is not None and device.last_lon is not None:
            # No fix with the press (indoors): show the last known one, with its age.
            alarm.lat, alarm.lon = device.last_lat, device.last_lon
            alarm.accuracy_m = device.last_accuracy_m
            alarm.position_at = device.last_position_at
            alarm.position_source = "last_known"
        alarms.append(alarm)
    session.add_all(alarms)
    session.flush()
    for alarm in alarms:
        log_entry(session, alarm.id, "raised", actor, now, {"event_id": alarm.event_id})
    return alarms


def _update_device_state(
    session: Session, device: Device, events: list[EventIn], now: dt.datetime
) -> None:
    # Every accepted request is contact with the device (link supervision).
    session.execute(
        update(Device)
        .where(
            Device.id == device.id, or_(Device.last_seen_at.is_(None), Device.last_seen_at < now)
        )
        .values(last_seen_at=now)
    )
    with_fix = [ev for ev in events if ev.position is not None]
    if with_fix:
        # A device clock ahead of ours must not pin the last position: order by the earlier
        # of device and server time. A late (buffered) fix never replaces a newer one.
        newest = max(with_fix, key=lambda e: min(e.occurred_at, now))
        at = min(newest.occurred_at.astimezone(dt.UTC), now)
        assert newest.position is not None
        session.execute(
            update(Device)
            .where(
                Device.id == device.id,
                or_(Device.last_position_at.is_(None), Device.last_position_at < at),
            )
            .values(
                last_position_at=at,
                last_lat=newest.position.lat,
                last_lon=newest.position.lon,
                last_accuracy_m=newest.position.accuracy_m,
            )
        )
    with_battery = [ev for ev in events if ev.battery_pct is not None]
    if with_battery:
        newest = max(with_battery, key=lambda e: min(e.occurred_at, now))
        at = min(newest.occurred_at.astimezone(dt.UTC), now)
        session.execute(
            update(Device)
            .where(Device.id == device.id, or_(Device.battery_at.is_(None), Device.battery_at < at))
            .values(battery_at=at, battery_pct=newest.battery_pct)
        )
