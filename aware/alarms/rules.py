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
    "battery_low": 4,
    "test": 5,
}
ALARM_TYPES = tuple(PRIORITY)
# Device event types that raise an alarm by themselves.
EVENT_ALARM_TYPES = frozenset({"sos", "tamper", "battery_low", "test"})


def priority_for(alarm_type: str) -> int:
    """The priority of an alarm type; unknown types are treated as urgent, never dropped."""
    return PRIORITY.get(alarm_type, 1)


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
