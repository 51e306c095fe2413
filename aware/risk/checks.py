"""Position checks on the intake path: a perpetrator's fixes against the case's bans.

Runs inside the intake transaction (so a violation alarm is committed with the position that
caused it) and uses the pure rules in `aware.risk.geometry`. Each (ban, zone) or contact ban
has a watch row: armed, or fired with the open alarm that later positions are added to.

Floods cannot bury an SOS: while a ban's alarm is open (or acknowledged), every further fix,
exit and re-entry is counted on that alarm (`detail.fixes`, `detail.exits`,
`detail.reentries`, `detail.implausible`, `detail.last_fix`) and only resolving it re-arms the
ban; a fix implying more than 250 km/h is stored and marked (`device_events.extra`,
the alarm timeline) but never raises. Alarms raised here are never folded into the device's
storm alarm (alarms.services.StormGate.raise_unfolded): one open alarm per ban bounds them.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
from sqlalchemy import Connection, Table, and_, bindparam, func, insert, select, update

from aware.alarms import rules as alarm_rules
from aware.alarms.models import Alarm, AlarmLogEntry
from aware.alarms.services import IntakeContext, LastFix, StormGate, next_seq
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
# Timeline entries one request may add to one alarm for its fixes: exits, re-entries and
# implausible fixes first, then the newest fix; the rest are counted (detail.fixes) and stay in
# device_events. A 1,000-fix batch adds at most this many rows to an alarm's timeline.
TIMELINE_PER_REQUEST = 20
# Notable rows already written per alarm by earlier transactions of the same device request (a
# bulk upload is stored in chunks, devices.views): the bound holds for the whole request.
_WRITTEN: contextvars.ContextVar[dict[int, int] | None] = contextvars.ContextVar(
    "aware_timeline_written", default=None
)


@contextlib.contextmanager
def one_request() -> Iterator[None]:
    """The transactions begun inside share one TIMELINE_PER_REQUEST budget per alarm."""
    token = _WRITTEN.set({})
    try:
        yield
    finally:
        _WRITTEN.reset(token)


@dataclass
class CheckSettings:
    victim_max_age_s: float = 300.0
    hysteresis_m: float = 25.0
    device_alarm_rate: int = alarm_rules.DEFAULT_DEVICE_ALARM_RATE


@dataclass
class CheckResult:
    new_alarms: list[SimpleNamespace] = field(default_factory=list)
    updated_alarm_ids: set[int] = field(default_factory=set)
    # Fixes marked implausible (event id -> implied speed in km/h).
    implausible: dict[str, float] = field(default_factory=dict)


def ban_checks_for(cache: BanCache, settings: CheckSettings) -> Any:
    """The `ban_checks` callable that intake takes (see devices.services.ingest)."""

    def run(
        conn: Connection,
        case_id: int,
        device_id: int,
        events: list[EventIn],
        now: dt.datetime,
        default_escalation: dict[str, Any] | None = None,
        context: IntakeContext | None = None,
    ) -> tuple[list[SimpleNamespace], set[int]]:
        result = check_positions(
            conn, cache, case_id, device_id, events, now, settings, default_escalation, context
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
    context: IntakeContext | None = None,
) -> CheckResult:
    """Judge a perpetrator tracker's new fixes (oldest first) against the bans valid then.

    Alarms raised get the chain in force for their type (`default_escalation` unless an admin
    set one; see alarms.services.insert_alarm). `context` is what intake read first: the
    device's newest stored fix before this request (the first fix's speed is measured from it)
    and its storm gate, which the request's own alarms went through already."""
    result = CheckResult()
    fixes = _fixes(events)
    if not fixes:
        return result
    # The whole batch at once: one projection call and one tree query (up to 1000 fixes).
    points, accuracies = _project(fixes)
    if context is not None and context.implausible is not None:
        known = context.implausible  # judged before the events were stored, and marked
        speeds = [known.get(e.event_id) for e in fixes]
    else:  # called on its own: judged here, not marked (marking is intake's, before storing)
        speeds = _speeds(context.last_fix if context else None, fixes, points, accuracies)
    result.implausible = {
        e.event_id: speed for e, speed in zip(fixes, speeds, strict=True) if speed is not None
    }
    version = ban_version(conn, case_id)
    if version[0] == 0:
        return result
    index, bans = cache.get(case_id, version, lambda: build_index(ban_rows(conn, case_id)))
    watches = {
        (w.ban_id, w.key): geometry.ArmState.load(w.state, w.open_alarm_id)
        for w in conn.execute(select(_WATCHES).where(_WATCHES.c.ban_id.in_([b.id for b in bans])))
    }
    before = dict(watches)
    gate = (
        context.gate
        if context is not None
        else StormGate(conn, device_id, now, settings.device_alarm_rate, default_escalation)
    )
    book = _Book(conn, gate)
    _forget_resolved(book, watches)
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
    for ev, point, accuracy, verdicts, speed in zip(
        fixes, points, accuracies, zone_verdicts, speeds, strict=True
    ):
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
            None if speed is None else round(speed),
        )
        judged = {j.key for j in verdicts}
        # Zones with an open alarm need a distance even when this fix is far away (exits).
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
                book,
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
                book,
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
    result.updated_alarm_ids |= book.flush()
    result.updated_alarm_ids -= {a.id for a in result.new_alarms}
    _save_watches(conn, before, watches, now)
    return result


def judge_plausibility(
    context: IntakeContext, events: list[EventIn], extras: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Before intake stores a request: find its fixes that imply more than 250 km/h (from the
    device's last stored fix, then fix to fix) and mark them in their `extra`, so they are
    stored marked; the ban checks read the verdict from `context` and never raise on them.
    Returns the extras (a new dict when something was marked)."""
    fixes = _fixes(events)
    if not fixes:
        context.implausible = {}
        return extras
    speeds = (
        _speeds(context.last_fix, fixes, *_project(fixes))
        if len(fixes) > 1
        else _speed_of_one(context.last_fix, fixes[0])
    )
    context.implausible = {
        e.event_id: s for e, s in zip(fixes, speeds, strict=True) if s is not None
    }
    if not context.implausible:
        return extras
    marked = dict(extras)
    for event_id, speed in context.implausible.items():
        marked[event_id] = {
            **(marked.get(event_id) or {}),
            "implausible": True,
            "implied_speed_kmh": round(speed),
        }
    return marked


def _fixes(events: list[EventIn]) -> list[EventIn]:
    """The events with a position, oldest first."""
    return sorted((e for e in events if e.position is not None), key=lambda e: e.occurred_at)


def _project(fixes: list[EventIn]) -> tuple[list[geometry.RDPoint], list[float]]:
    """RD New points and accuracies of fixes (one projection call for the batch)."""
    points = geometry.to_rd_many(
        [e.position.lon for e in fixes if e.position], [e.position.lat for e in fixes if e.position]
    )
    return points, [(e.position.accuracy_m or 0.0) if e.position else 0.0 for e in fixes]


def _speeds(
    last_fix: LastFix | None,
    fixes: list[EventIn],
    points: list[geometry.RDPoint],
    accuracies: list[float],
) -> list[float | None]:
    epoch = fixes[0].occurred_at
    return geometry.implausible_speeds(
        _timed(last_fix),
        np.fromiter((p[0] for p in points), float, len(points)),
        np.fromiter((p[1] for p in points), float, len(points)),
        np.array(accuracies, dtype=float),
        np.fromiter(((e.occurred_at - epoch).total_seconds() for e in fixes), float, len(fixes)),
        epoch,
    )


def _speed_of_one(last_fix: LastFix | None, fix: EventIn) -> list[float | None]:
    """`_speeds` for a request with one fix (a plain SOS): only the step from the last stored
    fix can be implausible, so no arrays are built (they cost about 0.1 ms on the alarm path)."""
    previous = _timed(last_fix)
    if previous is None or fix.position is None:
        return [None]
    ((point,), (accuracy,)) = _project([fix])
    speed = geometry.implied_speed_kmh(
        previous, geometry.TimedFix(point, accuracy, fix.occurred_at.astimezone(dt.UTC))
    )
    return [speed if speed > geometry.MAX_PLAUSIBLE_KMH else None]


def _timed(fix: LastFix | None) -> geometry.TimedFix | None:
    if fix is None:
        return None
    return geometry.TimedFix(
        geometry.to_rd(fix.lon, fix.lat), fix.accuracy_m or 0.0, fix.at.astimezone(dt.UTC)
    )


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
    # The speed (km/h) this fix implied when it is implausible, else None.
    implausible_kmh: int | None = None


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
    book: _Book,
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
    if fix.implausible_kmh is not None:
        # Never raises, never moves the watch: shown on the open alarm, if there is one.
        if previous.alarm_id is not None:
            book.add(previous.alarm_id, fix, {**detail, "level": level}, "implausible")
        return
    if math.isinf(outside_by_m):
        outside_by_m = 1e9
    state, action = geometry.next_armed_state(
        previous, level, outside_by_m, settings.hysteresis_m, accuracy_m=fix.accuracy
    )
    if action in (geometry.Action.RAISE, geometry.Action.RAISE_WARNING):
        kind = violation_type if action is geometry.Action.RAISE else warning_type
        assert kind is not None
        superseded = previous.alarm_id if previous.status is geometry.ArmStatus.WARNED else None
        alarm = _raise(book, kind, ban, fix, detail, superseded)
        result.new_alarms.append(alarm)
        if superseded is not None:
            book.supersede(superseded, alarm.id, fix)
        state = state.with_alarm(alarm.id)
    elif action is geometry.Action.APPEND and previous.alarm_id is not None:
        if geometry.is_reentry(previous, state):
            what = "reentry"
        elif state.away and not previous.away:
            what = "exit"
        else:
            what = "fix"
        book.add(previous.alarm_id, fix, {**detail, "level": level}, what)
    watches[key] = state


def _raise(
    book: _Book,
    kind: str,
    ban: Any,
    fix: _Fix,
    detail: dict[str, Any],
    superseded: int | None,
) -> SimpleNamespace:
    assert fix.ev.position is not None
    first = {"fixes": 1, "exits": 0, "reentries": 0, "implausible": 0}
    if superseded is not None:
        first["supersedes"] = superseded
    alarm = book.gate.raise_unfolded(
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
        detail={**detail, **first},
    )
    book.fresh[alarm.id] = alarm  # raised by this request
    return alarm


_COUNT_OF = {"fix": None, "exit": "exits", "reentry": "reentries", "implausible": "implausible"}


# A fix on an open alarm as noted during the request; its timeline row is built only if it is
# written (most of a flood's fixes are only counted).
_Noted = tuple["_Fix", dict[str, Any], str]


@dataclass
class _Pending:
    """What one request adds to one open alarm."""

    counts: dict[str, int] = field(default_factory=dict)
    entries: list[_Noted] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)  # other timeline rows
    notable: int = 0
    not_listed: int = 0
    last: _Noted | None = None
    last_logged: bool = False


class _Book:
    """Fixes landing on open alarms during one request, written at the end: one timeline insert,
    one detail and seq update per alarm, whatever the batch size."""

    def __init__(self, conn: Connection, gate: StormGate):
        self.conn = conn
        self.gate = gate
        self.fresh: dict[int, SimpleNamespace] = {}  # alarms raised by this request
        self.pending: dict[int, _Pending] = {}

    def add(self, alarm_id: int, fix: _Fix, detail: dict[str, Any], what: str) -> None:
        """One more fix on an open alarm: counted; on the timeline if notable or the newest."""
        p = self.pending.get(alarm_id)
        if p is None:
            p = self.pending[alarm_id] = _Pending()
        p.counts["fixes"] = p.counts.get("fixes", 0) + 1
        if (counter := _COUNT_OF[what]) is not None:
            p.counts[counter] = p.counts.get(counter, 0) + 1
        if p.last is not None and not p.last_logged:
            p.not_listed += 1  # an ordinary fix followed by a newer one: counted only
        p.last, p.last_logged = (fix, detail, what), False
        written = (_WRITTEN.get() or {}).get(alarm_id, 0)
        if what != "fix" and p.notable < TIMELINE_PER_REQUEST - written:
            p.notable += 1
            p.entries.append(p.last)
            p.last_logged = True

    def supersede(self, warning_id: int, violation_id: int, fix: _Fix) -> None:
        """The open warning alarm that this violation alarm took over from says so."""
        p = self.pending.setdefault(warning_id, _Pending())
        p.rows.append(
            {
                **_log_row(warning_id, fix, {"superseded_by": violation_id}),
                "action": "superseded",
            }
        )
        p.counts.setdefault("fixes", 0)
        p.counts["superseded_by"] = violation_id

    def flush(self) -> set[int]:
        """Write everything; returns the ids of alarms changed that this request did not raise
        (to publish as alarm.updated)."""
        changed = self.gate.flush()
        if not self.pending:
            return changed
        rows: list[dict[str, Any]] = []
        for alarm_id, p in self.pending.items():
            rows.extend(p.rows)
            rows.extend(_position_row(alarm_id, *noted) for noted in p.entries)
            if p.last is not None and not p.last_logged:
                rows.append(_position_row(alarm_id, *p.last, not_listed=p.not_listed))
        rows.sort(key=lambda r: (r["alarm_id"], r["detail"].get("occurred_at") or ""))
        if rows:
            self.conn.execute(insert(_LOG), rows)
        written = _WRITTEN.get()
        if written is not None:
            for alarm_id, p in self.pending.items():
                written[alarm_id] = written.get(alarm_id, 0) + p.notable
        ids = sorted(self.pending)
        stored = {
            r.id: r
            for r in self.conn.execute(
                select(_ALARMS.c.id, _ALARMS.c.detail, _ALARMS.c.seq).where(_ALARMS.c.id.in_(ids))
            )
        }
        seq = next_seq(self.conn, len(ids)) - len(ids) + 1
        updates = []
        for n, alarm_id in enumerate(ids):
            if alarm_id not in stored:
                continue
            p = self.pending[alarm_id]
            fresh = self.fresh.get(alarm_id)
            detail = _merge_counts(stored[alarm_id].detail, p)
            if fresh is not None:
                fresh.detail = detail
                fresh.seq = seq + n
            else:
                changed.add(alarm_id)
            updates.append({"pk": alarm_id, "detail": detail, "seq": seq + n})
        self.conn.execute(
            update(_ALARMS)
            .where(_ALARMS.c.id == bindparam("pk"))
            .values(detail=bindparam("detail"), seq=bindparam("seq")),
            updates,
        )
        return changed


def _merge_counts(detail: dict[str, Any] | None, p: _Pending) -> dict[str, Any]:
    out = dict(detail or {})
    for key, n in p.counts.items():
        if key == "superseded_by":
            out[key] = n
        else:
            out[key] = int(out.get(key) or 0) + n
    if p.last is not None:
        last = _position_row(0, *p.last)["detail"]
        out["last_fix"] = {
            k: last.get(k)
            for k in ("event_id", "occurred_at", "lat", "lon", "accuracy_m", "level", "implausible")
            if last.get(k) is not None
        }
    return out


def _position_row(
    alarm_id: int, fix: _Fix, detail: dict[str, Any], what: str, **more: Any
) -> dict[str, Any]:
    """The timeline row of a fix on an open alarm (action "position")."""
    assert fix.ev.position is not None
    entry = {
        **detail,
        "event_id": fix.ev.event_id,
        "occurred_at": fix.at.isoformat(),
        "lat": fix.ev.position.lat,
        "lon": fix.ev.position.lon,
        "accuracy_m": fix.ev.position.accuracy_m,
        "late": fix.late,
        **more,
    }
    if what == "exit":
        entry["exit"] = True
    elif what == "reentry":
        entry["reentry"] = True
    elif what == "implausible":
        entry.update(implausible=True, implied_speed_kmh=fix.implausible_kmh)
    return _log_row(alarm_id, fix, entry)


def _log_row(alarm_id: int, fix: _Fix, detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "alarm_id": alarm_id,
        "at": fix.now,
        "action": "position",
        "actor_type": "device",
        "actor_id": str(fix.device_id),
        "actor_name": None,
        "detail": detail,
    }


def _forget_resolved(book: _Book, watches: dict[tuple[int, str], geometry.ArmState]) -> None:
    """A watch whose alarm was resolved some other way than alarms.services.resolve (or whose
    alarm is gone) is armed again: only a live alarm may hold back new ones."""
    held = {s.alarm_id for s in watches.values() if s.alarm_id is not None}
    if not held:
        return
    live = set(
        book.conn.scalars(
            select(_ALARMS.c.id).where(
                _ALARMS.c.id.in_(sorted(held)), _ALARMS.c.status != alarm_rules.Status.RESOLVED
            )
        )
    )
    for key, state in list(watches.items()):
        if state.alarm_id is not None and state.alarm_id not in live:
            watches[key] = geometry.ARMED


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
        values = {"state": state.stored, "open_alarm_id": state.alarm_id, "updated_at": now}
        if old is None:
            conn.execute(insert(_WATCHES).values(ban_id=ban_id, key=key, **values))
        else:
            conn.execute(
                update(_WATCHES)
                .where(_WATCHES.c.ban_id == ban_id, _WATCHES.c.key == key)
                .values(**values)
            )
