"""Device supervision: a device silent for longer than its class's interval is an alarm.

One `device_offline` alarm per outage (an outage is the silence since the device's last
report; a never-seen device counts from its registration). The alarm carries the device's case,
so a silent perpetrator tracker is an alarm on the case, and the device's last known position.
When the device reports again the next tick resolves the alarm as `technical`, with a timeline
note saying when it came back. Each raise and each clear is its own transaction; the device row
is locked first (the same lock order as intake: device, then the seq counter), so two ticks
that overlap, or a tick racing a heartbeat, never raise twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, and_, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from aware import metrics
from aware.adapters.realtime import Publisher
from aware.alarms import rules
from aware.alarms import services as alarms
from aware.alarms.models import Alarm
from aware.alarms.schemas import iso
from aware.devices.models import DEVICE_KINDS, Device
from aware.risk.models import CaseDevice

log = logging.getLogger(__name__)

OFFLINE = "device_offline"
SUPERVISOR = alarms.Actor("system", None, "supervisie")
_DEVICES = cast(Table, Device.__table__)
_ALARMS = cast(Table, Alarm.__table__)
_LINKS = cast(Table, CaseDevice.__table__)


@dataclass(frozen=True)
class TickResult:
    raised: list[int]
    cleared: list[int]


def supervise(
    sessions: sessionmaker[Session],
    now: dt.datetime,
    interval_for: Callable[[str], float],
    publisher: Publisher,
    default_escalation: dict[str, Any] | None = None,
) -> TickResult:
    """One supervision tick: raise alarms for devices overdue now, clear those back online."""
    raised = [
        alarm_id
        for device_id in overdue_devices(sessions, now, interval_for)
        if (
            alarm_id := raise_offline(
                sessions, device_id, now, interval_for, publisher, default_escalation
            )
        )
        is not None
    ]
    cleared = [
        alarm_id
        for alarm_id in recovered_alarms(sessions)
        if clear_offline(sessions, alarm_id, now, publisher)
    ]
    return TickResult(raised, cleared)


def _silent_since() -> Any:
    return func.coalesce(_DEVICES.c.last_seen_at, _DEVICES.c.created_at)


def _outage_alarm(device_id: Any, since: Any) -> Any:
    """SQL: a device_offline alarm already raised during this silence (open or not)."""
    return (
        select(_ALARMS.c.id)
        .where(
            _ALARMS.c.device_id == device_id,
            _ALARMS.c.type == OFFLINE,
            _ALARMS.c.received_at >= since,
        )
        .exists()
    )


def overdue_devices(
    sessions: sessionmaker[Session], now: dt.datetime, interval_for: Callable[[str], float]
) -> list[int]:
    """Active devices silent for longer than their kind's interval, not yet alarmed."""
    overdue = or_(
        *(
            and_(
                _DEVICES.c.kind == kind,
                _silent_since() < now - dt.timedelta(seconds=interval_for(kind)),
            )
            for kind in DEVICE_KINDS
        )
    )
    with sessions() as session:
        ids = session.scalars(
            select(_DEVICES.c.id)
            .where(
                _DEVICES.c.active.is_(True),
                overdue,
                ~_outage_alarm(_DEVICES.c.id, _silent_since()),
            )
            .order_by(_DEVICES.c.id)
        ).all()
        session.rollback()
    return list(ids)


def raise_offline(
    sessions: sessionmaker[Session],
    device_id: int,
    now: dt.datetime,
    interval_for: Callable[[str], float],
    publisher: Publisher,
    default_escalation: dict[str, Any] | None = None,
) -> int | None:
    """Raise the device's offline alarm if it is (still) overdue and not yet alarmed for this
    outage; commits and publishes. Returns the new alarm's id, or None."""
    with sessions() as session:
        conn = session.connection()
        device = conn.execute(
            select(_DEVICES).where(_DEVICES.c.id == device_id).with_for_update()
        ).one_or_none()
        if device is None or not device.active:
            session.rollback()
            return None
        since = device.last_seen_at or device.created_at
        overdue_at = since + dt.timedelta(seconds=interval_for(device.kind))
        already = conn.scalar(select(_outage_alarm(device_id, since)))
        if overdue_at > now or already:
            session.rollback()  # it reported meanwhile, or another tick got here first
            return None
        case_id = conn.scalar(
            select(_LINKS.c.case_id).where(
                _LINKS.c.device_id == device_id, _LINKS.c.unlinked_at.is_(None)
            )
        )
        values: dict[str, Any] = {
            "seq": alarms.next_seq(conn),
            "type": OFFLINE,
            "priority": rules.priority_for(OFFLINE),
            "device_id": device_id,
            "case_id": case_id,
            "occurred_at": overdue_at,
            "received_at": now,
            "detail": {
                "last_seen_at": iso(device.last_seen_at),
                "interval_s": interval_for(device.kind),
            },
        }
        if device.last_lat is not None and device.last_lon is not None:
            # Where it went silent: the last known fix, with its age.
            values.update(
                lat=device.last_lat,
                lon=device.last_lon,
                accuracy_m=device.last_accuracy_m,
                position_at=device.last_position_at,
                position_source="last_known",
            )
        alarm = alarms.insert_alarm(conn, default_escalation, **values)
        (published,) = alarms.alarm_dicts(conn, [alarm], now)
        session.commit()
    log.warning(
        "device %s (%s) silent since %s: device_offline alarm %s (case %s)",
        device_id,
        device.kind,
        iso(since),
        alarm.id,
        case_id,
    )
    metrics.count_device_offline()
    publisher.alarm_new(published)
    return int(alarm.id)


def recovered_alarms(sessions: sessionmaker[Session]) -> list[int]:
    """Unresolved device_offline alarms whose device has reported since they were raised."""
    with sessions() as session:
        ids = session.scalars(
            select(_ALARMS.c.id)
            .join(_DEVICES, _DEVICES.c.id == _ALARMS.c.device_id)
            .where(
                _ALARMS.c.type == OFFLINE,
                _ALARMS.c.status != rules.Status.RESOLVED.value,
                _DEVICES.c.last_seen_at > _ALARMS.c.received_at,
            )
            .order_by(_ALARMS.c.id)
        ).all()
        session.rollback()
    return list(ids)


def clear_offline(
    sessions: sessionmaker[Session], alarm_id: int, now: dt.datetime, publisher: Publisher
) -> bool:
    """Resolve a device_offline alarm as technical because the device reported again."""
    with sessions() as session:
        conn = session.connection()
        row = conn.execute(
            select(_DEVICES.c.last_seen_at)
            .join(_ALARMS, _ALARMS.c.device_id == _DEVICES.c.id)
            .where(_ALARMS.c.id == alarm_id)
        ).one_or_none()
        if row is None or row.last_seen_at is None:
            session.rollback()
            return False
        try:
            alarm = alarms.resolve(
                session,
                alarm_id,
                SUPERVISOR,
                now,
                rules.Outcome.TECHNICAL.value,
                f"device reported again at {iso(row.last_seen_at)}",
                publisher,
            )
        except rules.TransitionRefused:
            session.rollback()  # a dispatcher resolved it meanwhile
            return False
    log.info("device_offline alarm %s cleared: device reported again", alarm_id)
    return alarm.status == rules.Status.RESOLVED.value
