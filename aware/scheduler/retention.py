"""Retention: personal data is kept no longer than needed.

- Ended cases (status "ended", last changed more than AWARE_RETENTION_CASE_DAYS ago) are
  anonymised: victim and perpetrator names become "[geanonimiseerd]", phone, address, home
  point, perpetrator description and vehicle and the notes of the case's actions are emptied,
  the victim SMS is switched off. The case row, its reference, municipality, status, concern,
  screenings, allocations and alarms stay, so the municipality figures still count it.
  `case_anonymisations` records each case once: a second run changes nothing.
- Positions received more than AWARE_RETENTION_POSITION_DAYS ago are removed: device events
  keep their row (it is the evidence that the event happened, and the (device, event_id) key
  that keeps a re-sent event from raising a second alarm) with lat, lon, accuracy and the
  protocol extras set to NULL; resolved alarms lose lat, lon, accuracy and position time, and
  the positions on their timeline; a device's last fix that old is emptied too. Open and
  acknowledged alarms, and the events behind them, are never touched.

Every run writes one audit entry as the system, with its counts. Positions are cleared in
batches, each its own short transaction, so alarm intake (which needs the write lock on
SQLite) never waits behind a long retention transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import exists, null, select, update
from sqlalchemy.orm import Session, sessionmaker

from aware.alarms.models import Alarm, AlarmLogEntry
from aware.audit import services as audit
from aware.audit.models import CaseAnonymisation
from aware.devices.models import Device, DeviceEvent
from aware.risk.models import Case, CaseAction

ANONYMISED = "[geanonimiseerd]"
BATCH = 2000
OPEN_STATUSES = ("open", "acknowledged")
POSITION_KEYS = ("lat", "lon", "accuracy_m")


def anonymise_ended_cases(
    sessions: sessionmaker[Session], now: dt.datetime, days: int, batch: int = BATCH
) -> int:
    """Anonymise ended cases older than `days`; returns how many were anonymised this run."""
    cutoff = now - dt.timedelta(days=days)
    done = 0
    while True:
        with sessions() as session:
            rows = session.execute(
                select(Case.id, Case.updated_at)
                .where(
                    Case.status == "ended",
                    Case.updated_at < cutoff,
                    ~exists().where(CaseAnonymisation.case_id == Case.id),
                )
                .order_by(Case.id)
                .limit(batch)
            ).all()
            if not rows:
                break
            ids = [r[0] for r in rows]
            # Through the ORM's column types, so encrypted columns get encrypted placeholders.
            session.execute(
                update(Case)
                .where(Case.id.in_(ids))
                .values(
                    victim_name=ANONYMISED,
                    victim_phone=None,
                    victim_address=None,
                    victim_home_lat=None,
                    victim_home_lon=None,
                    victim_sms=False,
                    perpetrator_name=ANONYMISED,
                    perpetrator_description=None,
                    perpetrator_vehicle=None,
                )
                .execution_options(synchronize_session=False)
            )
            session.execute(
                update(CaseAction)
                .where(CaseAction.case_id.in_(ids), CaseAction.note.is_not(None))
                .values(note=None)
                .execution_options(synchronize_session=False)
            )
            session.add_all(
                CaseAnonymisation(case_id=case_id, anonymised_at=now, ended_at=ended)
                for case_id, ended in rows
            )
            session.commit()
            done += len(ids)
    with sessions() as session:
        audit.record(
            session,
            None,
            audit.RETENTION,
            "cases",
            None,
            audit.purpose_of(None),
            {"job": "retention_cases", "days": days, "cutoff": cutoff.isoformat(), "cases": done},
            at=now,
        )
        session.commit()
    return done


def _clear_event_positions(session: Session, cutoff: dt.datetime, batch: int) -> int:
    behind_open_alarm = exists().where(
        Alarm.event_pk == DeviceEvent.id, Alarm.status.in_(OPEN_STATUSES)
    )
    ids = list(
        session.scalars(
            select(DeviceEvent.id)
            .where(
                DeviceEvent.received_at < cutoff,
                (DeviceEvent.lat.is_not(None))
                | DeviceEvent.lon.is_not(None)
                | DeviceEvent.accuracy_m.is_not(None),
                ~behind_open_alarm,
            )
            .order_by(DeviceEvent.id)
            .limit(batch)
        )
    )
    if ids:
        session.execute(
            update(DeviceEvent)
            .where(DeviceEvent.id.in_(ids))
            # SQL NULL for the JSON extras (speed, bearing, altitude), not JSON null.
            .values(lat=None, lon=None, accuracy_m=None, extra=null())
            .execution_options(synchronize_session=False)
        )
    return len(ids)


def _clear_alarm_positions(session: Session, cutoff: dt.datetime, batch: int) -> int:
    ids = list(
        session.scalars(
            select(Alarm.id)
            .where(
                Alarm.status == "resolved",
                Alarm.received_at < cutoff,
                (Alarm.lat.is_not(None)) | Alarm.lon.is_not(None) | Alarm.accuracy_m.is_not(None),
            )
            .order_by(Alarm.id)
            .limit(batch)
        )
    )
    if ids:
        session.execute(
            update(Alarm)
            .where(Alarm.id.in_(ids), Alarm.status == "resolved")
            .values(lat=None, lon=None, accuracy_m=None, position_at=None)
            .execution_options(synchronize_session=False)
        )
    return len(ids)


def _clear_timeline_positions(
    session: Session, cutoff: dt.datetime, after_id: int
) -> tuple[int, int]:
    """Positions on the timelines of old resolved alarms ("position" entries of a violation
    episode). Returns (last entry id looked at, 0 when done; entries cleared)."""
    rows = session.execute(
        select(AlarmLogEntry.id, AlarmLogEntry.detail)
        .join(Alarm, Alarm.id == AlarmLogEntry.alarm_id)
        .where(
            AlarmLogEntry.id > after_id,
            AlarmLogEntry.action == "position",
            AlarmLogEntry.at < cutoff,
            Alarm.status == "resolved",
        )
        .order_by(AlarmLogEntry.id)
        .limit(BATCH)
    ).all()
    cleared = 0
    for entry_id, detail in rows:
        if isinstance(detail, dict) and any(detail.get(k) is not None for k in POSITION_KEYS):
            cleaned: dict[str, Any] = {**detail, **dict.fromkeys(POSITION_KEYS)}
            session.execute(
                update(AlarmLogEntry).where(AlarmLogEntry.id == entry_id).values(detail=cleaned)
            )
            cleared += 1
    return (int(rows[-1][0]) if rows else 0), cleared


def delete_old_positions(
    sessions: sessionmaker[Session], now: dt.datetime, days: int, batch: int = BATCH
) -> dict[str, int]:
    """Remove positions received more than `days` ago; returns counts per kind of row."""
    cutoff = now - dt.timedelta(days=days)
    counts = {"device_events": 0, "alarms": 0, "alarm_log": 0, "devices": 0}
    for key, step in (
        ("device_events", _clear_event_positions),
        ("alarms", _clear_alarm_positions),
    ):
        while True:
            with sessions() as session:
                n = step(session, cutoff, batch)
                session.commit()
            counts[key] += n
            if n < batch:
                break
    after = 0
    while True:
        with sessions() as session:
            after, cleared = _clear_timeline_positions(session, cutoff, after)
            session.commit()
        counts["alarm_log"] += cleared
        if after == 0:
            break
    with sessions() as session:
        result = session.execute(
            update(Device)
            .where(
                Device.last_position_at < cutoff,
                Device.last_lat.is_not(None) | Device.last_lon.is_not(None),
            )
            .values(last_lat=None, last_lon=None, last_accuracy_m=None)
            .execution_options(synchronize_session=False)
        )
        counts["devices"] = int(getattr(result, "rowcount", 0) or 0)
        audit.record(
            session,
            None,
            audit.RETENTION,
            "positions",
            None,
            audit.purpose_of(None),
            {
                "job": "retention_positions",
                "days": days,
                "cutoff": cutoff.isoformat(),
                **counts,
            },
            at=now,
        )
        session.commit()
    return counts
