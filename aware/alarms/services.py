"""Alarm use cases: raise, acknowledge, resolve, annotate, record delivery, list.

Each public use case commits once and publishes only after that commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Connection,
    Integer,
    Table,
    bindparam,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Session

from aware.adapters.realtime import Publisher
from aware.alarms import rules
from aware.alarms.models import Alarm, AlarmLogEntry, Counter, EscalationChain
from aware.alarms.schemas import alarm_to_dict
from aware.db import Prepared, UTCDateTime
from aware.devices.models import Device
from aware.risk.models import BanWatch
from aware.risk.summary import case_summaries
from aware.security import new_token

SEQ = "alarm_seq"


@dataclass(frozen=True)
class Actor:
    """Who did something: a person, a device, a console or the system."""

    type: str  # "user", "device", "console", "system", "phone"
    id: str | None
    name: str | None


class AlarmNotFound(Exception):
    """No alarm with that id."""


_COUNTERS = cast(Table, Counter.__table__)
_NEXT_SEQ = (
    update(_COUNTERS)
    .where(_COUNTERS.c.name == bindparam("counter"))
    .values(value=_COUNTERS.c.value + bindparam("n"))
    .returning(_COUNTERS.c.value)
)

# On the alarm path: run on the DBAPI cursor (see aware.db.Prepared).
_PREPARED_NEXT_SEQ = Prepared(_NEXT_SEQ, returning=(_COUNTERS.c.value,))
_ALARMS = cast(Table, Alarm.__table__)
_CHAINS = cast(Table, EscalationChain.__table__)
_ALARM_COLUMNS = [c.key for c in _ALARMS.columns if c.key != "id"]
# The chain in force for the alarm's type is copied onto the row by the insert itself (no extra
# round trip): the admin-set chain if there is one, else the default chain from the settings.
_CHAIN_IN_FORCE = func.coalesce(
    select(_CHAINS.c.chain)
    .where(_CHAINS.c.alarm_type == bindparam("chain_type"))
    .scalar_subquery(),
    bindparam("default_escalation", type_=JSON(none_as_null=True)),
)
_PREPARED_ALARM = Prepared(
    insert(_ALARMS)
    .values(escalation=_CHAIN_IN_FORCE)
    .returning(_ALARMS.c.id, _ALARMS.c.escalation),
    returning=(_ALARMS.c.id, _ALARMS.c.escalation),
    column_keys=[k for k in _ALARM_COLUMNS if k != "escalation"],
)


def alarm_dicts(conn: Connection, alarms: list[Any], now: dt.datetime) -> list[dict[str, Any]]:
    """Alarm objects with their case cards (for dispatch roles only)."""
    cards = case_summaries(conn, (a.case_id for a in alarms), now)
    return [alarm_to_dict(a, cards.get(a.case_id) if a.case_id else None) for a in alarms]


def insert_alarm(
    conn: Connection, default_escalation: dict[str, Any] | None = None, **values: Any
) -> SimpleNamespace:
    """Insert one alarm row (values must include seq, type, priority, times); returns it as a
    plain record ready for `alarm_to_dict`. The row is the record of the alarm's raising.

    Its `escalation` is the chain in force for its type: the admin-set one, else
    `default_escalation` (the settings' chain as `escalation.chain_to_data`; None leaves it
    empty, and the escalator then falls back to its own default)."""
    row: dict[str, Any] = dict.fromkeys(_ALARM_COLUMNS)
    # Every alarm starts with escalation armed: the token is what its timers must carry.
    row.update(
        status=rules.Status.OPEN.value,
        late=False,
        escalations_fired=0,
        escalation_token=new_token(),
    )
    row.update(values)
    # Due escalation work is found in the database by any live process: a new alarm is due
    # "now" (a lower bound), and the first process to look plans its exact time.
    row["escalation_next_at"] = row["escalation_next_at"] or row["received_at"]
    params = {**row, "chain_type": row["type"], "default_escalation": default_escalation}
    ((alarm_id, escalation),) = _PREPARED_ALARM.execute(conn, params)
    row["escalation"] = escalation
    return SimpleNamespace(id=alarm_id, **row)


def next_seq(conn: Connection, n: int = 1) -> int:
    """Reserve n seq values in this transaction; returns the last one.

    The counter row stays locked until commit, so seq order is commit order.
    """
    ((value,),) = _PREPARED_NEXT_SEQ.execute(conn, {"counter": SEQ, "n": n})
    return int(value)


def log_entry(
    session: Session,
    alarm_id: int,
    action: str,
    actor: Actor,
    at: dt.datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one line to an alarm's timeline."""
    session.add(
        AlarmLogEntry(
            alarm_id=alarm_id,
            at=at,
            action=action,
            actor_type=actor.type,
            actor_id=actor.id,
            actor_name=actor.name,
            detail=detail,
        )
    )


def _state(alarm: Alarm) -> rules.AlarmState:
    return rules.AlarmState(
        status=rules.Status(alarm.status),
        acknowledged_by=alarm.acknowledged_by,
        acknowledged_at=alarm.acknowledged_at,
        resolved_by=alarm.resolved_by,
        resolved_at=alarm.resolved_at,
        outcome=rules.Outcome(alarm.outcome) if alarm.outcome else None,
    )


def _apply(alarm: Alarm, state: rules.AlarmState) -> None:
    alarm.status = state.status.value
    alarm.acknowledged_by = state.acknowledged_by
    alarm.acknowledged_at = state.acknowledged_at
    alarm.resolved_by = state.resolved_by
    alarm.resolved_at = state.resolved_at
    alarm.outcome = state.outcome.value if state.outcome else None
    if state.status is not rules.Status.OPEN:
        alarm.escalation_token = None  # accepted: pending escalation timers now do nothing
        alarm.escalation_next_at = None


def _locked(session: Session, alarm_id: int) -> Alarm:
    alarm = session.execute(
        select(Alarm).where(Alarm.id == alarm_id).with_for_update()
    ).scalar_one_or_none()
    if alarm is None:
        raise AlarmNotFound(alarm_id)
    return alarm


def _actor_label(actor: Actor) -> str:
    return actor.name or actor.id or actor.type


def acknowledge(
    session: Session, alarm_id: int, actor: Actor, now: dt.datetime, publisher: Publisher
) -> Alarm:
    """Accept an alarm; raises rules.TransitionRefused if someone else got there first."""
    alarm = _locked(session, alarm_id)
    transition = rules.acknowledge(_state(alarm), _actor_label(actor), now)
    return _finish(session, alarm, transition, actor, now, publisher, None)


def resolve(
    session: Session,
    alarm_id: int,
    actor: Actor,
    now: dt.datetime,
    outcome: str,
    note: str | None,
    publisher: Publisher,
) -> Alarm:
    """Close an alarm with its outcome (and an optional note)."""
    alarm = _locked(session, alarm_id)
    transition = rules.resolve(_state(alarm), _actor_label(actor), now, rules.Outcome(outcome))
    detail = {"outcome": outcome, **({"note": note} if note else {})}
    if transition.changed and (alarm.ban_id is not None or alarm.type == rules.STORM):
        # A resolved violation (or the storm a violation was folded into) re-arms its ban
        # watch: a breach still going on raises anew.
        watches = cast(Table, BanWatch.__table__)
        session.connection().execute(
            update(watches)
            .where(watches.c.open_alarm_id == alarm.id)
            .values(state="armed", open_alarm_id=None, updated_at=now)
        )
    return _finish(session, alarm, transition, actor, now, publisher, detail)


def _finish(
    session: Session,
    alarm: Alarm,
    transition: rules.Transition,
    actor: Actor,
    now: dt.datetime,
    publisher: Publisher,
    detail: dict[str, Any] | None,
) -> Alarm:
    if not transition.changed:
        session.rollback()
        return alarm
    _apply(alarm, transition.state)
    alarm.seq = next_seq(session.connection())
    for action in transition.actions:
        log_entry(session, alarm.id, action, actor, now, detail if action == "resolved" else None)
    (published,) = alarm_dicts(session.connection(), [alarm], now)
    session.commit()
    publisher.alarm_updated(published)
    return alarm


def add_note(
    session: Session, alarm_id: int, actor: Actor, now: dt.datetime, text: str, publisher: Publisher
) -> Alarm:
    """Append a dispatcher's note to the timeline."""
    alarm = _locked(session, alarm_id)
    alarm.seq = next_seq(session.connection())
    log_entry(session, alarm.id, "note", actor, now, {"text": text})
    (published,) = alarm_dicts(session.connection(), [alarm], now)
    session.commit()
    publisher.alarm_updated(published)
    return alarm


def add_event(
    session: Session,
    alarm_id: int,
    action: str,
    actor: Actor,
    now: dt.datetime,
    detail: dict[str, Any] | None,
) -> None:
    """A system fact on an alarm's timeline that is not a state change (e.g. a call status)."""
    if session.get(Alarm, alarm_id) is None:
        raise AlarmNotFound(alarm_id)
    log_entry(session, alarm_id, action, actor, now, detail)
    session.commit()


def record_deliveries(session: Session, deliveries: list[tuple[int, Actor, dt.datetime]]) -> int:
    """Record when alarms first reached a console; later deliveries change nothing.

    Three statements whatever the batch size: it runs beside intake and must hold the write
    lock as briefly as possible.
    """
    first: dict[int, tuple[Actor, dt.datetime]] = {}
    for alarm_id, console, at in sorted(deliveries, key=lambda d: d[2]):
        first.setdefault(alarm_id, (console, at))
    alarms, log = cast(Table, Alarm.__table__), cast(Table, AlarmLogEntry.__table__)
    conn = session.connection()
    pending = set(
        conn.scalars(
            select(alarms.c.id)
            .where(alarms.c.id.in_(list(first)), alarms.c.delivered_at.is_(None))
            .with_for_update()
        )
    )
    if pending:
        conn.execute(
            update(alarms)
            .where(alarms.c.id == bindparam("alarm_id"))
            .values(delivered_at=bindparam("at")),
            [{"alarm_id": a, "at": first[a][1]} for a in pending],
        )
        conn.execute(
            insert(log),
            [
                {
                    "alarm_id": a,
                    "at": at,
                    "action": "delivered",
                    "actor_type": console.type,
                    "actor_id": console.id,
                    "actor_name": console.name,
                    "detail": None,
                }
                for a in pending
                for console, at in [first[a]]
            ],
        )
    session.commit()
    return len(pending)


def get(session: Session, alarm_id: int) -> tuple[Alarm, list[Any]]:
    """An alarm with its timeline, oldest first.

    The first entry, "raised", is read from the alarm row itself (written once, in the intake
    transaction, never updated); every later step is a row of the append-only alarm_log.
    """
    alarm = session.get(Alarm, alarm_id)
    if alarm is None:
        raise AlarmNotFound(alarm_id)
    raiser = None
    if alarm.device_id is not None:
        raiser = session.scalar(select(Device.serial).where(Device.id == alarm.device_id))
    raised = SimpleNamespace(
        at=alarm.received_at,
        action="raised",
        actor_type="device" if alarm.device_id is not None else "system",
        actor_id=str(alarm.device_id) if alarm.device_id is not None else None,
        actor_name=raiser,
        detail={"event_id": alarm.event_id} if alarm.event_id else None,
    )
    later = session.scalars(
        select(AlarmLogEntry)
        .where(AlarmLogEntry.alarm_id == alarm_id)
        .order_by(AlarmLogEntry.at, AlarmLogEntry.id)
    )
    return alarm, [raised, *later]


def list_alarms(session: Session, statuses: tuple[str, ...], limit: int = 500) -> list[Alarm]:
    """Alarms in the given states, highest priority first, then oldest first."""
    query = select(Alarm).where(Alarm.status.in_(statuses))
    if statuses == ("resolved",):
        # History: newest first is what people look for.
        query = query.order_by(Alarm.resolved_at.desc(), Alarm.id.desc())
    else:
        query = query.order_by(Alarm.priority, Alarm.received_at, Alarm.id)
    return list(session.scalars(query.limit(limit)))


def active_alarms(session: Session) -> list[Alarm]:
    """Every open or acknowledged alarm: what a console must show (no limit: none may hide)."""
    return list(
        session.scalars(
            select(Alarm)
            .where(Alarm.status.in_(("open", "acknowledged")))
            .order_by(Alarm.priority, Alarm.received_at, Alarm.id)
        )
    )


# --------------------------------------------------------------------------------------------
# Storms: a device raising more than its rate of alarms gets one storm alarm that counts them
# --------------------------------------------------------------------------------------------

_LOG = cast(Table, AlarmLogEntry.__table__)
_DEVICES = cast(Table, Device.__table__)
# Every status and priority an alarm can have: spelled out so the count below can use the
# (status, priority, received_at) index (alarms have no device index; see StormGate).
_STATUSES = tuple(s.value for s in rules.Status)
_PRIORITIES = tuple(sorted(set(rules.PRIORITY.values()) | {1}))


def _intake_read() -> Any:
    """The intake transaction's first statement: lock the device row and read its last stored
    fix, how many alarms it raised in the storm window (bounded by the rate: the count uses
    the status/priority/received_at index), and its open storm alarm, in one round trip."""
    a, d = _ALARMS.c, _DEVICES.c
    device = bindparam("device_id", type_=BigInteger())
    recent = (
        select(literal(1))
        .where(
            a.status.in_(_STATUSES),
            a.priority.in_(_PRIORITIES),
            a.received_at > bindparam("since", type_=UTCDateTime()),
            a.device_id == device,
            a.type != rules.STORM,
            # A ban's alarms are bounded by the ban (one open each) and never folded: they do
            # not count towards the device's own alarm rate either.
            a.ban_id.is_(None),
        )
        .limit(bindparam("rate", type_=Integer()))
        .subquery()
    )
    count = select(func.count()).select_from(recent).scalar_subquery()
    storm = (
        select(a.id)
        .where(
            a.status == rules.Status.OPEN.value,
            # A storm is never less urgent than a storm: a narrower range of the index.
            a.priority <= rules.priority_for(rules.STORM),
            a.device_id == device,
            a.type == rules.STORM,
        )
        .order_by(a.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(d.last_lat, d.last_lon, d.last_accuracy_m, d.last_position_at, count, storm)
        .where(d.id == device)
        .with_for_update(of=_DEVICES)
    )


# Built once (its compiled form is cached): on the alarm path, building it cost more than
# running it.
_INTAKE_READ = _intake_read()


def _run_intake_read(conn: Connection, device_id: int, now: dt.datetime, rate: int) -> Any:
    """`_INTAKE_READ` for a device at `now`: its row, or None for no such device."""
    since = now - dt.timedelta(seconds=rules.STORM_WINDOW_S)
    params = {"device_id": device_id, "since": since, "rate": rate}
    return conn.execute(_INTAKE_READ, params).one_or_none()


@dataclass(frozen=True)
class LastFix:
    """A device's newest stored fix (devices.last_*)."""

    lat: float
    lon: float
    accuracy_m: float | None
    at: dt.datetime


@dataclass
class IntakeContext:
    """What an intake transaction reads before it writes: the device's last stored fix before
    this request (what the first new fix's speed is measured from) and its storm gate."""

    last_fix: LastFix | None
    gate: StormGate
    # Event id -> implied speed (km/h) of the request's fixes found implausible, once judged
    # (risk.checks.judge_plausibility); None before.
    implausible: dict[str, float] | None = None


def intake_context(
    conn: Connection,
    device_id: int,
    now: dt.datetime,
    rate: int = rules.DEFAULT_DEVICE_ALARM_RATE,
    default_escalation: dict[str, Any] | None = None,
    *,
    read: bool = True,
) -> IntakeContext:
    """Lock the device row and read what intake decides on, in one statement (`read`: the
    request holds a position or an alarm event; without, nothing is read)."""
    gate = StormGate(conn, device_id, now, rate, default_escalation)
    if not read:
        return IntakeContext(None, gate)
    row = _run_intake_read(conn, device_id, now, gate.rate)
    if row is None:
        return IntakeContext(None, gate)  # no such device: intake refuses it next
    lat, lon, accuracy_m, at, recent, storm_id = row
    gate.preload(int(recent), storm_id)
    last = LastFix(lat, lon, accuracy_m, at) if None not in (lat, lon, at) else None
    return IntakeContext(last, gate)


class StormGate:
    """Raises a device's alarms, or folds them into the device's storm alarm (one per device).

    One per device and transaction (the intake transaction holds the device's row lock, so two
    requests of one device never decide at once). Once the device has raised `rate` alarms
    within a minute, its further alarms are folded into its open storm alarm, which counts them
    by type, names the latest, takes the position of the newest and the priority of the most
    urgent (alarms.rules.should_fold / storm_priority / fold_detail). Call `flush` before
    commit: it writes what was folded into a storm alarm that already existed, and returns
    those alarms' ids (to publish as `alarm.updated`).

    Cheap on the intake path: what it decides on comes with the intake transaction's first
    statement (`intake_context`); the storm row is read only when the device has one open.
    """

    def __init__(
        self,
        conn: Connection,
        device_id: int,
        now: dt.datetime,
        rate: int = rules.DEFAULT_DEVICE_ALARM_RATE,
        default_escalation: dict[str, Any] | None = None,
    ):
        self.conn = conn
        self.device_id = device_id
        self.now = now
        self.rate = max(1, int(rate))
        self.default_escalation = default_escalation
        self._loaded = False
        self._recent = 0
        self._storm: SimpleNamespace | None = None
        self._storm_is_new = False
        self._storm_changed = False
        self._restart_escalation = False
        self._log: list[dict[str, Any]] = []

    def _load(self) -> None:
        row = _run_intake_read(self.conn, self.device_id, self.now, self.rate)
        self.preload(int(row[4]) if row else 0, row[5] if row else None)

    def preload(self, recent: int, storm_id: int | None) -> None:
        """Take what `intake_context` read: alarms in the window and the open storm's id."""
        self._recent = recent
        if storm_id is not None:
            row = self.conn.execute(select(_ALARMS).where(_ALARMS.c.id == storm_id)).one()
            self._storm = SimpleNamespace(**row._mapping)
        self._loaded = True

    def _last_fold_at(self) -> dt.datetime | None:
        if self._storm is None:
            return None
        last = (self._storm.detail or {}).get("last_at")
        try:
            return dt.datetime.fromisoformat(last) if last else self._storm.received_at
        except (TypeError, ValueError):
            return self._storm.received_at  # type: ignore[no-any-return]

    def raise_or_fold(self, **values: Any) -> tuple[SimpleNamespace, bool]:
        """Insert this alarm (`insert_alarm` values; `seq` taken here if not given), or fold it
        into the storm alarm. Returns the alarm the dispatcher will see and whether it is new
        (a new alarm, or the storm alarm this fold opened) or an existing storm alarm updated."""
        if not self._loaded:
            self._load()
        if not rules.should_fold(self._recent, self.rate, self._last_fold_at(), self.now):
            values.setdefault("seq", next_seq(self.conn))
            alarm = insert_alarm(self.conn, self.default_escalation, **values)
            self._recent += 1
            return alarm, True
        values.pop("seq", None)
        return self._fold(values)

    def raise_unfolded(self, **values: Any) -> SimpleNamespace:
        """Insert an alarm that is never folded and does not count towards the rate: a ban's
        violation or warning. One open alarm per ban bounds those already, and folding them
        would hide a violation in a storm the tracker's own events can cause at will (no
        victim text, no ban of its own to resolve)."""
        values.setdefault("seq", next_seq(self.conn))
        return insert_alarm(self.conn, self.default_escalation, **values)

    def _fold(self, values: dict[str, Any]) -> tuple[SimpleNamespace, bool]:
        kind = str(values["type"])
        at = values.get("occurred_at") or self.now
        entry = {
            "type": kind,
            "priority": values.get("priority", rules.priority_for(kind)),
            "event_id": values.get("event_id"),
            "occurred_at": at.astimezone(dt.UTC).isoformat(),
            **({"ban_id": values["ban_id"]} if values.get("ban_id") is not None else {}),
            **({"late": True} if values.get("late") else {}),
        }
        if values.get("lat") is not None:
            entry.update(lat=values["lat"], lon=values["lon"], accuracy_m=values.get("accuracy_m"))
        position = {
            k: values.get(k) for k in ("lat", "lon", "accuracy_m", "position_at", "position_source")
        }
        storm = self._storm
        is_new = storm is None
        if storm is None:
            detail = rules.fold_detail(None, kind, values.get("event_id"), at)
            detail["rate_per_min"] = self.rate
            storm = insert_alarm(
                self.conn,
                self.default_escalation,
                seq=next_seq(self.conn),
                type=rules.STORM,
                priority=rules.storm_priority(None, kind),
                device_id=self.device_id,
                case_id=values.get("case_id"),
                event_id=values.get("event_id"),
                occurred_at=at,
                received_at=self.now,
                detail=detail,
                **position,
            )
            self._storm, self._storm_is_new = storm, True
        else:
            storm.detail = rules.fold_detail(storm.detail, kind, values.get("event_id"), at)
            storm.priority = rules.storm_priority(storm.priority, kind)
            if (
                rules.priority_for(kind) == 1
                and storm.escalation_token is not None
                and storm.escalation_next_at is None
                and getattr(storm, "escalation_sending", None) is None
            ):
                # Her press lands on a storm nobody accepted whose chain has run out: escalate
                # again at once (the escalator sends the latest step it finds due, once).
                self._restart_escalation = True
            if storm.case_id is None:
                storm.case_id = values.get("case_id")
            if position["lat"] is not None:
                for key, value in position.items():
                    setattr(storm, key, value)
            self._storm_changed = True
        self._log.append(
            {
                "alarm_id": storm.id,
                "at": self.now,
                "action": "folded",
                "actor_type": "device",
                "actor_id": str(self.device_id),
                "actor_name": None,
                "detail": entry,
            }
        )
        return storm, is_new

    def flush(self) -> set[int]:
        """Write the folds; returns the ids of storm alarms that existed before and changed."""
        storm = self._storm
        if storm is None or not self._log:
            return set()
        if self._storm_changed:
            storm.seq = next_seq(self.conn)
            self.conn.execute(
                update(_ALARMS)
                .where(_ALARMS.c.id == storm.id)
                .values(
                    seq=storm.seq,
                    priority=storm.priority,
                    detail=storm.detail,
                    case_id=storm.case_id,
                    lat=storm.lat,
                    lon=storm.lon,
                    accuracy_m=storm.accuracy_m,
                    position_at=storm.position_at,
                    position_source=storm.position_source,
                )
            )
            if self._restart_escalation:
                # Guarded in the statement itself: an escalator may have touched the row since
                # it was read (PostgreSQL: no lock on it here).
                a = _ALARMS.c
                self.conn.execute(
                    update(_ALARMS)
                    .where(
                        a.id == storm.id,
                        a.status == rules.Status.OPEN.value,
                        a.escalation_token.is_not(None),
                        a.escalation_next_at.is_(None),
                        a.escalation_sending.is_(None),
                    )
                    .values(escalations_fired=0, escalation_next_at=self.now)
                )
                self._restart_escalation = False
        self.conn.execute(insert(_LOG), self._log)
        self._log = []
        self._storm_changed = False
        return set() if self._storm_is_new else {storm.id}
