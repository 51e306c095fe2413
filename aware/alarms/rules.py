"""The alarm state machine and alarm priorities: pure code, no Flask, no database.

open -> acknowledged -> resolved. Resolving an open alarm acknowledges it in the same step (a
dispatcher who closes a test alarm has accepted it). Repeating one's own last step is a no-op,
so a double click or a client retry is harmless; someone else's step on a finished stage is
refused with who got there first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Outcome(StrEnum):
    GENUINE = "genuine"
    FALSE_ALARM = "false_alarm"
    TEST = "test"
    TECHNICAL = "technical"


# Priority 1 is the highest (as the police PRIO-1); a panic press tops every queue.
PRIORITY: dict[str, int] = {
    "sos": 1,
    "proximity_violation": 1,
    "zone_violation": 1,
    "tamper": 2,
    "proximity_warning": 2,
    "device_offline": 3,
    # One device raising too many alarms: a technical problem at least (a broken or hacked
    # device), and as urgent as the most urgent alarm it folded (see storm_priority).
    "storm": 3,
    "battery_low": 4,
    "test": 5,
}
ALARM_TYPES = tuple(PRIORITY)
# Device event types that raise an alarm by themselves.
EVENT_ALARM_TYPES = frozenset({"sos", "tamper", "battery_low", "test"})


def priority_for(alarm_type: str) -> int:
    """The priority of an alarm type; unknown types are treated as urgent, never dropped."""
    return PRIORITY.get(alarm_type, 1)


# --------------------------------------------------------------------------------------------
# Storms: one device raising more alarms than dispatch can take in
# --------------------------------------------------------------------------------------------

STORM = "storm"
STORM_WINDOW_S = 60.0
DEFAULT_DEVICE_ALARM_RATE = 6
# How many of the latest folded alarms a storm alarm lists by name (its counts cover all).
STORM_RECENT = 20


def should_fold(
    raised_in_window: int,
    rate: int,
    storm_last_fold_at: dt.datetime | None,
    now: dt.datetime,
    window_s: float = STORM_WINDOW_S,
) -> bool:
    """Whether a device's next alarm is folded into its storm alarm instead of raised.

    `raised_in_window` counts the device's alarms (storms excluded) received in the last
    `window_s`; `storm_last_fold_at` is when the device's open (unacknowledged) storm alarm last
    took an alarm, None without one. Folding starts once the device has raised `rate` alarms
    within the window, and goes on while its storm keeps taking alarms (a gap of a whole window
    ends it): a steady flood stays one alarm, a device quiet for a minute raises normally again.
    """
    if rate < 1:
        raise ValueError("rate must be at least 1")
    if raised_in_window >= rate:
        return True
    if storm_last_fold_at is None:
        return False
    return (now - storm_last_fold_at).total_seconds() < window_s


def storm_priority(current: int | None, folded_type: str) -> int:
    """A storm alarm is as urgent as the most urgent alarm it folded, and at least as urgent as
    a storm (so a victim pressing SOS again and again stays on top, once)."""
    candidates = [priority_for(STORM), priority_for(folded_type)]
    if current is not None:
        candidates.append(current)
    return min(candidates)


def fold_detail(
    detail: dict[str, Any] | None,
    folded_type: str,
    event_id: str | None,
    at: dt.datetime,
    recent: int = STORM_RECENT,
) -> dict[str, Any]:
    """A storm alarm's detail after folding one more alarm: counts by type, the total, first and
    last time, and the latest `recent` folded alarms by event id (returns a new dict)."""
    old = dict(detail or {})
    by_type = dict(old.get("folded") or {})
    by_type[folded_type] = int(by_type.get(folded_type, 0)) + 1
    latest = [*(old.get("recent") or []), {"type": folded_type, "event_id": event_id}]
    stamp = at.astimezone(dt.UTC).isoformat()
    return {
        **old,
        "folded": by_type,
        "count": int(old.get("count", 0)) + 1,
        "first_at": old.get("first_at") or stamp,
        "last_at": stamp,
        "recent": latest[-recent:],
    }


@dataclass(frozen=True)
class AlarmState:
    """The part of an alarm the state machine decides on."""

    status: Status
    acknowledged_by: str | None = None
    acknowledged_at: dt.datetime | None = None
    resolved_by: str | None = None
    resolved_at: dt.datetime | None = None
    outcome: Outcome | None = None


@dataclass(frozen=True)
class Transition:
    """The outcome of a step: the new state and the timeline actions it produced."""

    state: AlarmState
    actions: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return bool(self.actions)


class TransitionRefused(Exception):
    """A step that the alarm's state does not allow; says who got there first."""

    def __init__(self, message: str, *, status: Status, by: str | None, at: dt.datetime | None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.by = by
        self.at = at


def acknowledge(state: AlarmState, actor: str, now: dt.datetime) -> Transition:
    """Accept an alarm: open -> acknowledged."""
    if state.status is Status.OPEN:
        new = replace(state, status=Status.ACKNOWLEDGED, acknowledged_by=actor, acknowledged_at=now)
        return Transition(new, ("acknowledged",))
    if state.status is Status.ACKNOWLEDGED:
        if state.acknowledged_by == actor:
            return Transition(state, ())
        raise TransitionRefused(
            f"already acknowledged by {state.acknowledged_by}",
            status=state.status,
            by=state.acknowledged_by,
            at=state.acknowledged_at,
        )
    raise TransitionRefused(
        f"already resolved by {state.resolved_by}",
        status=state.status,
        by=state.resolved_by,
        at=state.resolved_at,
    )


def resolve(state: AlarmState, actor: str, now: dt.datetime, outcome: Outcome) -> Transition:
    """Close an alarm with its outcome; an open alarm is acknowledged on the way."""
    if state.status is Status.RESOLVED:
        if state.resolved_by == actor and state.outcome is outcome:
            return Transition(state, ())
        raise TransitionRefused(
            f"already resolved by {state.resolved_by}",
            status=state.status,
            by=state.resolved_by,
            at=state.resolved_at,
        )
    actions: tuple[str, ...] = ("resolved",)
    if state.status is Status.OPEN:
        state = replace(state, acknowledged_by=actor, acknowledged_at=now)
        actions = ("acknowledged", "resolved")
    new = replace(
        state, status=Status.RESOLVED, resolved_by=actor, resolved_at=now, outcome=outcome
    )
    return Transition(new, actions)
