"""Position checks on the intake path: a perpetrator's fixes against the case's bans.

Runs inside the intake transaction (so a violation alarm is committed with the position that
caused it) and uses the pure rules in `aware.risk.geometry`. Each (ban, zone) or contact ban
has a watch row: armed, or fired with the open alarm that later positions are added to.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, func, insert, select, update

from aware.alarms import rules as alarm_rules
from aware.alarms.models import Alarm, AlarmLogEntry
from aware.alarms.services import insert_alarm, next_seq
from aware.crypto import DataKeyError
from aware.devices.models import Device
from aware.devices.schemas import EventIn
from aware.risk import geometry
from aware.risk.cache import BanCache
from aware.risk.models import Ban, BanWatch, Case, CaseDevice

_BANS = cast(Table, Ban.__table__)
_WATCHES = cast(Table, BanWatch.__table__)
_ALARMS = cast(Table, Alarm.__table__)
_LOG = cast(Table, AlarmLogEntry.__table__)
_LINKS = cast(Table, CaseDevice.__table__)
_DEVICES = cast(Table, Device.__table__)
log = logging.getLogger(__name__)
_CASES = cast(Table, Case.__table__)

# A position that reaches us this long after it was taken is "late" (buffered).
LATE_AFTER_S = 120.0


@dataclass
class CheckSettings:
    victim_max_age_s: float = 300.0
    hysteresis_m: float = 25.0


@dataclass
class CheckResult:
    new_alarms: list[SimpleNamespace] = field(default_factory=list)
    updated_alarm_ids: set[int] = field(default_factory=set)


def ban_checks_for(cache: BanCache, settings: CheckSettings) -> Any:
    """The `ban_checks` callable that intake takes (see devices.services.ingest)."""

    def run(
        conn: Connection,
        case_id: int,
        device_id: int,
        events: list[EventIn],
        now: dt.datetime,
        default_escalation: dict[str, Any] | None = None,
    ) -> tuple[list[SimpleNamespace], set[int]]:
        result = check_positions(
            conn, cache, case_id, device_id, events, now, settings, default_escalation
        )
        return result.new_alarms, result.updated_alarm_ids

    return run


def ban_version(conn: Connection, case_id: int) -> tuple[int, int | None]:
    """What the zone-index cache is keyed on: the number and newest id of the case's bans."""
    count, newest = conn.execute(
        select(func.count(), func.max(_BANS.c.id)).where(
            _BANS.c.case_id == case_id, _BANS.c.ended_at.is_(None)
        )
    ).one()
    return int(count), newest


def ban_rows(conn: Connection, case_id: int) -> list[Any]:
    """The case's current bans."""
    return list(
        conn.execute(select(_BANS).where(_BANS.c.case_id == case_id, _BANS.c.ended_at.is_(None)))
    )


def build_index(bans: list[Any]) -> tuple[geometry.BanIndex[Any], list[Any]]:
    """Parse and index the zones of these ban rows (milliseconds to a second: no lock held)."""
    zones = []
    for ban in bans:
        if ban.kind == "location":
            for i, zone in enumerate(ban.zones or []):
                zones.append(((ban.id, i), geometry.parse_zone(zone, f"zones.{i}")))
    return geometry.BanIndex(zones), bans


def check_positions(
    conn: Connection,
    cache: BanCache,
    case_id: int,
    device_id: int,
    events: list[EventIn],
    now: dt.datetime,
    settings: CheckSettings,
    default_escalation: dict[str, Any] | None = None,
) -> CheckResult:
    """Judge a perpetrator tracker's new fixes (oldest first) against the bans valid then.

    Alarms raised get the chain in force for their type (`default_escalation` unless an admin
    set one; see alarms.services.insert_alarm)."""
    result = CheckResult()
    fixes = sorted((e for e in events if e.position is not None), key=lambda e: e.occurred_at)
    if not fixes:
        return result
    version = ban_version(conn, case_id)
    if version[0] == 0:
        return result
    index, bans = cache.get(case_id, version, lambda: build_index(ban_rows(conn, case_id)))
    watches = {
        (w.ban_id, w.key): geometry.ArmState.load(w.state, w.open_alarm_id)
        for w in conn.execute(select(_WATCHES).where(_WATCHES.c.ban_id.in_([b.id for b in bans])))
    }
    before = dict(watches)
    # The whole batch at once: one projection call and one tree query (up to 1000 fixes).
    points = geometry.to_rd_many(
        [e.position.lon for e in fixes if e.position], [e.position.lat for e in fixes if e.position]
    )
    accuracies = [(e.position.accuracy_m or 0.0) if e.position else 0.0 for e in fixes]
    zone_verdicts = geometry.judge_zones_batch(points, accuracies, index)
    contact = [b for b in bans if b.kind == "contact"]
    victim = _victim(conn, case_id) if contact else None

    def fired_zones() -> list[tuple[int, int]]:
        return [
            (ban_id, int(key.split(":")[1]))
            for (ban_id, key), state in watches.items()
            if key.startswith("zone:") and state.status is not geometry.ArmStatus.ARMED
        ]

    fired = fired_zones()
    for ev, point, accuracy, verdicts in zip(fixes, points, accuracies, zone_verdicts, strict=True):
        if not verdicts and not contact and not fired:
            continue  # the common case: far from every zone, nothing open, no contact ban
        at = ev.occurred_at.astimezone(dt.UTC)
        valid = {b.id: b for b in bans if b.valid_from <= at < b.valid_until}
        if not valid:
            continue
        ctx = _Fix(
            ev,
            at,
            (now - at).total_seconds() > LATE_AFTER_S,
            point,
            accuracy,
            device_id,
            case_id,
            now,
            default_escalation,
        )
        judged = {j.key for j in verdicts}
        # Zones with an open alarm need a distance even when this fix is far away (re-arming).
        for zkey in fired:
            if zkey not in judged and zkey in index:
                outside = index.signed_distance(zkey, point)
                verdicts.append(
                    geometry.ZoneJudgement(
                        zkey,
                        outside <= 0,
                        abs(outside) <= accuracy,
                        max(outside, 0.0),
                        abs(outside),
                    )
                )
        for j in verdicts:
            ban_id, zone_no = j.key
            if ban_id not in valid:
                continue
            # A fix outside whose accuracy circle touches the zone is not a breach (a low-
            # accuracy jump is not a violation); it is recorded if an alarm is open.
            level = "violation" if j.inside else "clear"
            detail = {
                "zone": zone_no,
                "inside": j.inside,
                "uncertain": j.uncertain,
                "distance_to_border_m": round(j.border_distance_m, 1),
            }
            _step(
                conn,
                watches,
                (ban_id, f"zone:{zone_no}"),
                level,
                j.outside_by_m,
                "zone_violation",
                None,
                valid[ban_id],
                ctx,
                detail,
                settings,
                result,
            )
        for ban in contact:
            if ban.id not in valid or victim is None:
                continue
            ref = geometry.victim_reference(victim.fix, victim.home, at, settings.victim_max_age_s)
            if ref is None:
                continue  # no victim position and no home point: nothing to measure from
            p = geometry.judge_proximity(
                point,
                accuracy,
                ref.point_rd,
                ref.accuracy_m,
                float(ban.distance_m),
                float(ban.warning_margin_m or ban.distance_m),
            )
            detail = {
                "distance_m": round(p.distance_m, 1),
                "uncertain": p.uncertain,
                "ban_distance_m": p.ban_distance_m,
                "warning_distance_m": p.warning_distance_m,
                "victim_position": ref.source,
                "victim_position_age_s": None if ref.age_s is None else round(ref.age_s),
                "victim_device_silent_s": None
                if ref.device_fix_age_s is None
                else round(ref.device_fix_age_s),
            }
            _step(
                conn,
                watches,
                (ban.id, "proximity"),
                p.level,
                p.outside_by_m,
                "proximity_violation",
                "proximity_warning",
                ban,
                ctx,
                detail,
                settings,
                result,
            )
        fired = fired_zones()
    _save_watches(conn, before, watches, now)
    return result


@dataclass
class _Fix:
    ev: EventIn
    at: dt.datetime
    late: bool
    point: geometry.RDPoint
    accuracy: float
    device_id: int
    case_id: int
    now: dt.datetime
    default_escalation: dict[str, Any] | None = None


@dataclass
class _Victim:
    fix: geometry.VictimFix | None
    home: geometry.RDPoint | None


def _victim(conn: Connection, case_id: int) -> _Victim:
    row = conn.execute(
        select(
            _DEVICES.c.last_lat,
            _DEVICES.c.last_lon,
            _DEVICES.c.last_accuracy_m,
            _DEVICES.c.last_position_at,
        )
        .join(_LINKS, and_(_LINKS.c.device_id == _DEVICES.c.id, _LINKS.c.unlinked_at.is_(None)))
        .where(_LINKS.c.case_id == case_id, _LINKS.c.role == "victim")
    ).one_or_none()
    fix = None
    if row is not None and row.last_lat is not None and row.last_position_at is not None:
        fix = geometry.VictimFix(
            geometry.to_rd(row.last_lon, row.last_lat),
            row.last_accuracy_m or 0.0,
            row.last_position_at,
        )
    home = None
    try:
        case = conn.execute(
            select(_CASES.c.victim_home_lat, _CASES.c.victim_home_lon).where(_CASES.c.id == case_id)
        ).one()
    except DataKeyError:
        # A key missing from AWARE_DATA_KEYS must never cost an alarm: judge without the
        # home point (the victim device's fix still counts) and say so loudly.
        log.error("case %s: home point unreadable (data key missing); judged without it", case_id)
        return _Victim(fix, None)
    if case.victim_home_lat is not None and case.victim_home_lon is not None:
        home = geometry.to_rd(case.victim_home_lon, case.victim_home_lat)
    return _Victim(fix, home)


def _step(
    conn: Connection,
    watches: dict[tuple[int, str], geometry.ArmState],
    key: tuple[int, str],
    level: str,
    outside_by_m: float,
    violation_type: str,
    warning_type: str | None,
    ban: Any,
    fix: _Fix,
    detail: dict[str, Any],
    settings: CheckSettings,
    result: CheckResult,
) -> None:
    previous = watches.get(key, geometry.ARMED)
    if warning_type is None and level == "warning":
        level = "clear"
    if math.isinf(outside_by_m):
        outside_by_m = 1e9
    state, action = geometry.next_armed_state(
        previous, level, outside_by_m, settings.hysteresis_m, accuracy_m=fix.accuracy
    )
    if action in (geometry.Action.RAISE, geometry.Action.RAISE_WARNING):
        kind = violation_type if action is geometry.Action.RAISE else warning_type
        assert kind is not None
        alarm = _raise(conn, kind, ban, fix, detail)
        result.new_alarms.append(alarm)
        state = state.with_alarm(alarm.id)
    elif action is geometry.Action.APPEND and previous.alarm_id is not None:
        _append(
            conn,
            previous.alarm_id,
            fix,
            {**detail, "level": level, "rearmed": state.status is geometry.ArmStatus.ARMED},
        )
        result.updated_alarm_ids.add(previous.alarm_id)
    watches[key] = state


def _raise(
    conn: Connection, kind: str, ban: Any, fix: _Fix, detail: dict[str, Any]
) -> SimpleNamespace:
    assert fix.ev.position is not None
    return insert_alarm(
        conn,
        fix.default_escalation,
        seq=next_seq(conn),
        type=kind,
        priority=alarm_rules.priority_for(kind),
        device_id=fix.device_id,
        case_id=fix.case_id,
        ban_id=ban.id,
        event_id=fix.ev.event_id,
        occurred_at=fix.at,
        received_at=fix.now,
        lat=fix.ev.position.lat,
        lon=fix.ev.position.lon,
        accuracy_m=fix.ev.position.accuracy_m,
        position_at=fix.at,
        position_source="event",
        late=fix.late,
        detail=detail,
    )


def _append(conn: Connection, alarm_id: int, fix: _Fix, detail: dict[str, Any]) -> None:
    """A later position of the same episode goes on the open alarm's timeline."""
    assert fix.ev.position is not None
    conn.execute(update(_ALARMS).where(_ALARMS.c.id == alarm_id).values(seq=next_seq(conn)))
    conn.execute(
        insert(_LOG).values(
            alarm_id=alarm_id,
            at=fix.now,
            action="position",
            actor_type="device",
            actor_id=str(fix.device_id),
            actor_name=None,
            detail={
                **detail,
                "event_id": fix.ev.event_id,
                "occurred_at": fix.at.isoformat(),
                "lat": fix.ev.position.lat,
                "lon": fix.ev.position.lon,
                "accuracy_m": fix.ev.position.accuracy_m,
                "late": fix.late,
            },
        )
    )


def _save_watches(
    conn: Connection,
    before: dict[tuple[int, str], geometry.ArmState],
    after: dict[tuple[int, str], geometry.ArmState],
    now: dt.datetime,
) -> None:
    for (ban_id, key), state in after.items():
        old = before.get((ban_id, key))
        if old == state or (old is None and state == geometry.ARMED):
            continue
        values = {"state": state.status.value, "open_alarm_id": state.alarm_id, "updated_at": now}
        if old is None:
            conn.execute(insert(_WATCHES).values(ban_id=ban_id, key=key, **values))
        else:
            conn.execute(
                update(_WATCHES)
                .where(_WATCHES.c.ban_id == ban_id, _WATCHES.c.key == key)
                .values(**values)
            )
