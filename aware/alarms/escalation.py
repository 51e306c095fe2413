"""Escalation chains as data, and the pure decisions around them (issue 4, first part).

A chain is copied onto an alarm when it is raised, so a later edit of the configured chain never
changes what an open alarm does. Firings are numbered 0, 1, 2, ...: each configured step once,
then the last step again every `repeat_every_s` up to `max_repeats` times. A chain with no steps
(`"steps": []`) never escalates: alarms of that type are only shown to dispatch. A timer carries the
alarm's escalation token; when it fires, `should_fire` compares that token with the alarm's
current one, so a timer that fires after an acknowledgement (which clears the token) does
nothing. `due_firing` decides what a process that finds an alarm due sends now; the timers, the
database poll and the claims are in `aware.alarms.escalator`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CHANNELS = ("sms", "voice")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MAX_STEPS = 10
MAX_REPEATS = 20


class ChainInvalid(ValueError):
    """A chain that cannot be used; `field` names the offending part."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Step:
    """Send on these channels to these numbers `after_s` seconds after the alarm was raised."""

    after_s: float
    channels: tuple[str, ...]
    to: tuple[str, ...]


@dataclass(frozen=True)
class Chain:
    steps: tuple[Step, ...]
    repeat_every_s: float | None = None
    max_repeats: int = 0


@dataclass(frozen=True)
class Firing:
    """One planned escalation: which firing, when, how and to whom."""

    number: int
    step: int
    repeat: int
    at: dt.datetime
    channels: tuple[str, ...]
    to: tuple[str, ...]


def default_chain(
    after_s: float, phones: Sequence[str], repeat_every_s: float = 120.0, max_repeats: int = 5
) -> Chain:
    """The chain from AWARE_ESCALATION_AFTER_S and AWARE_ESCALATION_PHONES: SMS and a call to
    every number, repeated while nobody acknowledges. Without numbers the chain still fires, so
    the alarm's timeline records that nothing could be sent."""
    return parse_chain(
        {
            "steps": [{"after_s": after_s, "channels": list(CHANNELS), "to": list(phones)}],
            "repeat_every_s": repeat_every_s,
            "max_repeats": max_repeats,
        }
    )


def parse_chain(data: Mapping[str, Any]) -> Chain:
    """Validate chain data (as stored on an alarm or edited by an admin)."""
    steps_data = data.get("steps")
    # An explicit empty list means "never escalates"; a missing list is a mistake, not that.
    if not isinstance(steps_data, list) or len(steps_data) > MAX_STEPS:
        raise ChainInvalid("steps", f"a list of 0 to {MAX_STEPS} steps ([] never escalates)")
    steps = []
    previous = -1.0
    for i, raw in enumerate(steps_data):
        if not isinstance(raw, Mapping):
            raise ChainInvalid(f"steps.{i}", "an object")
        after = raw.get("after_s")
        if isinstance(after, bool) or not isinstance(after, int | float) or not 0 <= after <= 86400:
            raise ChainInvalid(f"steps.{i}.after_s", "seconds from 0 to 86400")
        if after <= previous:
            raise ChainInvalid(f"steps.{i}.after_s", "steps must come later one after another")
        previous = float(after)
        channels = raw.get("channels")
        if (
            not isinstance(channels, list)
            or not channels
            or any(c not in CHANNELS for c in channels)
            or len(set(channels)) != len(channels)
        ):
            raise ChainInvalid(f"steps.{i}.channels", f"one or more of {', '.join(CHANNELS)}")
        to = raw.get("to", [])
        if not isinstance(to, list) or any(not isinstance(n, str) or not E164.match(n) for n in to):
            raise ChainInvalid(f"steps.{i}.to", "E.164 numbers like +31612345678")
        steps.append(Step(float(after), tuple(channels), tuple(to)))
    every = data.get("repeat_every_s")
    repeats = data.get("max_repeats", 0)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or not 0 <= repeats <= MAX_REPEATS:
        raise ChainInvalid("max_repeats", f"a whole number from 0 to {MAX_REPEATS}")
    if repeats and not steps:
        raise ChainInvalid("max_repeats", "a chain without steps has nothing to repeat")
    if repeats and (
        isinstance(every, bool) or not isinstance(every, int | float) or not 10 <= every <= 3600
    ):
        raise ChainInvalid("repeat_every_s", "seconds from 10 to 3600 when repeating")
    if not repeats:
        return Chain(tuple(steps))
    assert isinstance(every, int | float)
    return Chain(tuple(steps), float(every), repeats)


def chain_to_data(chain: Chain) -> dict[str, Any]:
    """JSON-ready form, to copy onto an alarm."""
    return {
        "steps": [
            {"after_s": s.after_s, "channels": list(s.channels), "to": list(s.to)}
            for s in chain.steps
        ],
        "repeat_every_s": chain.repeat_every_s,
        "max_repeats": chain.max_repeats,
    }


def firings(chain: Chain, raised_at: dt.datetime) -> Iterator[Firing]:
    """Every planned firing in order (finite: steps plus repeats)."""
    n = 0
    for i, step in enumerate(chain.steps):
        yield Firing(
            n, i, 0, raised_at + dt.timedelta(seconds=step.after_s), step.channels, step.to
        )
        n += 1
    if not chain.steps:
        return  # this type never escalates
    last = chain.steps[-1]
    for r in range(1, chain.max_repeats + 1):
        assert chain.repeat_every_s is not None
        after = last.after_s + r * chain.repeat_every_s
        yield Firing(
            n,
            len(chain.steps) - 1,
            r,
            raised_at + dt.timedelta(seconds=after),
            last.channels,
            last.to,
        )
        n += 1


def next_firing(chain: Chain, raised_at: dt.datetime, fired: int) -> Firing | None:
    """The firing after `fired` have happened (to re-arm a timer, also after a restart)."""
    for firing in firings(chain, raised_at):
        if firing.number == fired:
            return firing
    return None


def due_firing(
    chain: Chain, raised_at: dt.datetime, fired: int, now: dt.datetime
) -> tuple[Firing | None, dt.datetime | None]:
    """What to do for an alarm after `fired` firings: (the firing to send now, or None when
    none is due yet; when the one after it falls due, or None when the chain is done).

    Repeats of a step missed while no process was running are sent once, as the latest of them
    (the on-call phone gets one text, not six at once); every configured step still fires."""
    firing = next_firing(chain, raised_at, fired)
    if firing is None:
        return None, None
    if firing.at > now:
        return None, firing.at
    following = next_firing(chain, raised_at, firing.number + 1)
    while following is not None and following.repeat > 0 and following.at <= now:
        firing = following
        following = next_firing(chain, raised_at, firing.number + 1)
    return firing, following.at if following is not None else None


def should_fire(status: str, current_token: str | None, timer_token: str) -> bool:
    """A timer acts only for an open alarm whose escalation token is still the one it carries;
    acknowledging or resolving clears the token, so late timers do nothing."""
    return status == "open" and current_token is not None and current_token == timer_token
