"""The AWARE allocation state machine and its dates: pure code, no Flask, no database.

One row carries the whole chain, from the application to the handover:

    applied --decision granted--> granted --support, then device--> active --end--> ended
       |  \\--decision waiting_list--> waiting_list --granted / refused--> ...
       \\--decision refused--> refused (final; a new application may follow)

- A decision is taken once on an open application; a waiting-list decision can later be followed
  by granted or refused, but not by a second waiting-list decision.
- The device is never issued on its own (Movisie 2015): the support trajectory (organisation
  and contact person) must be in place before the device is connected, so an allocation never
  becomes active without one. Support may change while active (a new contact person).
- Only an active allocation is extended (to a date after the current end); granted (never
  connected) and active allocations may be ended, once; the handover to the wijkteam is
  completed once, after the ending.
- Term and reviews are counted in Europe/Amsterdam calendar months from the connection: the term
  (default 6 months) ends at the end of its last local day; reviews every 3 months before that.
"""

from __future__ import annotations

import calendar
import datetime as dt
from enum import StrEnum
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
TERM_MONTHS = 6
REVIEW_EVERY_MONTHS = 3
# How long before the term ends the term-end reminder is made (time to decide on an extension).
TERM_END_NOTICE = dt.timedelta(days=30)
# An ending stays on the agenda this long (to check the handover went well).
RECENT_ENDING = dt.timedelta(days=30)


class Status(StrEnum):
    APPLIED = "applied"
    WAITING_LIST = "waiting_list"
    REFUSED = "refused"
    GRANTED = "granted"
    ACTIVE = "active"
    ENDED = "ended"


class Outcome(StrEnum):
    GRANTED = "granted"
    REFUSED = "refused"
    WAITING_LIST = "waiting_list"


END_REASONS = (
    "risk_reduced",
    "perpetrator_detained",
    "moved",
    "victim_declined",
    "device_misuse",
    "other",
)
# A case has at most one allocation in these states (an "open application" in the wide sense).
OPEN = frozenset({Status.APPLIED, Status.WAITING_LIST, Status.GRANTED, Status.ACTIVE})


class Refused(Exception):
    """A step the allocation's state does not allow (HTTP 409)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def decide(status: Status, outcome: Outcome) -> Status:
    """The indicatiecommissie's decision on an open application."""
    if status is Status.APPLIED:
        return Status(outcome.value)
    if status is Status.WAITING_LIST:
        if outcome is Outcome.WAITING_LIST:
            raise Refused("the application is already on the waiting list")
        return Status(outcome.value)
    raise Refused(f"the application was already decided ({status.value})")


def reasons_required(outcome: Outcome) -> bool:
    """Refusals and waiting-list decisions must say why."""
    return outcome is not Outcome.GRANTED


def set_support(status: Status) -> Status:
    """Record (or change) the support trajectory: after the grant, until the ending."""
    if status in (Status.GRANTED, Status.ACTIVE):
        return status
    if status in (Status.APPLIED, Status.WAITING_LIST):
        raise Refused("the application has not been granted yet")
    raise Refused(f"the allocation is {status.value}")


def connect_device(status: Status, has_support: bool) -> Status:
    """Connect the victim's device: granted -> active, only with a support trajectory.

    An active allocation may get a replacement device (it stays active)."""
    if status in (Status.APPLIED, Status.WAITING_LIST):
        raise Refused("the application has not been granted yet")
    if status in (Status.REFUSED, Status.ENDED):
        raise Refused(f"the allocation is {status.value}")
    if not has_support:
        raise Refused(
            "a support trajectory (organisation and contact person) is required before the "
            "device is connected"
        )
    return Status.ACTIVE


def extend(status: Status, current_end: dt.date | None, until: dt.date) -> Status:
    """Extend an active allocation's term; `until` must be after the current end.

    Raises ValueError (a bad field, not a bad state) when `until` is not later."""
    if status is not Status.ACTIVE:
        raise Refused(f"only an active allocation can be extended (this one is {status.value})")
    if current_end is not None and until <= current_end:
        raise ValueError(f"must be after the current end {current_end.isoformat()}")
    return Status.ACTIVE


def end(status: Status) -> Status:
    """End a granted or active allocation (once)."""
    if status in (Status.GRANTED, Status.ACTIVE):
        return Status.ENDED
    if status is Status.ENDED:
        raise Refused("the allocation has already ended")
    raise Refused(f"only a granted or active allocation can be ended (this one is {status.value})")


def complete_handover(status: Status, completed: bool) -> Status:
    """Record the handover to the wijkteam as done: after the ending, once."""
    if status is not Status.ENDED:
        raise Refused("the handover follows the ending; the allocation has not ended")
    if completed:
        raise Refused("the handover was already recorded as done")
    return status


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` calendar months later (the month's last day if it is shorter)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def local_date(at: dt.datetime) -> dt.date:
    """The Europe/Amsterdam calendar date of an instant."""
    return at.astimezone(AMSTERDAM).date()


def start_of_day(day: dt.date) -> dt.datetime:
    """00:00 Europe/Amsterdam on `day`, as UTC."""
    return dt.datetime.combine(day, dt.time(0), AMSTERDAM).astimezone(dt.UTC)


def end_of_day(day: dt.date) -> dt.datetime:
    """The instant `day` ends in Europe/Amsterdam (00:00 the next day), as UTC."""
    return start_of_day(day + dt.timedelta(days=1))


def last_day(ends_at: dt.datetime) -> dt.date:
    """The last local day of a term ending at `ends_at` (see end_of_day)."""
    return local_date(ends_at - dt.timedelta(microseconds=1))


def default_term_end(connected_at: dt.datetime, months: int = TERM_MONTHS) -> dt.date:
    """The last day of the default term: `months` after the connection's local date."""
    return add_months(local_date(connected_at), months)


def review_dates(
    connected_at: dt.datetime, term_last_day: dt.date, every_months: int = REVIEW_EVERY_MONTHS
) -> list[dt.date]:
    """Review dates every `every_months` from the connection, before the term's last day
    (the term end itself is an extension/ending decision, not a review)."""
    start = local_date(connected_at)
    dates: list[dt.date] = []
    k = 1
    while (day := add_months(start, k * every_months)) < term_last_day:
        dates.append(day)
        k += 1
    return dates
