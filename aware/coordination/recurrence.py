"""Meeting recurrence on Europe/Amsterdam wall time (pure: no Flask, no session).

A series is an RFC 5545 RRULE applied to a *naive local* start ("2027-03-01T14:00"): the rule
runs on wall-clock time with python-dateutil and every occurrence is then placed in
Europe/Amsterdam with zoneinfo, so a weekly Monday 14:00 meeting stays 14:00 local across the
changes to and from summer time (13:00 UTC in winter, 12:00 UTC in summer).

Local times around the clock changes:
- a `start_local` that does not exist (02:00-02:59 on the last Sunday of March) is refused;
- an occurrence of a series that lands in that gap moves forward by the hour the clocks skip
  (02:30 becomes 03:30 summer time), which is what a calendar client does too;
- an ambiguous local time (02:00-02:59 on the last Sunday of October) means its first
  instance, still summer time (fold=0).

The rule is validated strictly (`RecurrenceError` names what is wrong): only the RFC 5545
rule parts, FREQ at least DAILY, COUNT or UNTIL but not both, sub-daily rules (several
BYHOUR/BYMINUTE values a day) only when bounded by COUNT or UNTIL, UNTIL not before the start,
and occurrences that do not overlap each other.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

FREQS = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
SUB_DAILY_FREQS = ("HOURLY", "MINUTELY", "SECONDLY")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
MAX_COUNT = 1000
MAX_INTERVAL = 52
# How many occurrences are looked at when checking a rule (overlaps, emptiness).
CHECK_OCCURRENCES = 400
CHECK_YEARS = 10

_LOCAL = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$")
_INT_LIST = re.compile(r"^[+-]?\d{1,3}(,[+-]?\d{1,3})*$")
_BYDAY = re.compile(r"^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
_UNTIL_DATE = re.compile(r"^\d{8}$")
_UNTIL_UTC = re.compile(r"^\d{8}T\d{6}Z$")

_UNSUPPORTED = ("BYYEARDAY", "BYWEEKNO", "BYSECOND")
# Allowed numeric ranges of the BY* parts (RFC 5545 section 3.3.10).
_RANGES = {
    "BYMONTH": (1, 12, False),
    "BYMONTHDAY": (1, 31, True),
    "BYYEARDAY": (1, 366, True),
    "BYWEEKNO": (1, 53, True),
    "BYSETPOS": (1, 366, True),
    "BYHOUR": (0, 23, False),
    "BYMINUTE": (0, 59, False),
    "BYSECOND": (0, 59, False),
}


class RecurrenceError(ValueError):
    """A recurrence or local time that cannot be used; `field` names the input."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Rule:
    """A validated rule: the normalized RRULE text (UNTIL in UTC, as RFC 5545 wants with a
    TZID start) and the naive local start it applies to."""

    text: str
    start_local: dt.datetime
    count: int | None
    until_utc: dt.datetime | None

    @property
    def bounded(self) -> bool:
        return self.count is not None or self.until_utc is not None


def parse_local(value: str, field: str = "start_local") -> dt.datetime:
    """A naive Europe/Amsterdam wall time "YYYY-MM-DDTHH:MM[:SS]"; offsets are refused and a
    time skipped by the change to summer time does not exist."""
    m = _LOCAL.match(value)
    if m is None:
        if re.search(r"(Z|[+-]\d{2}:?\d{2})$", value):
            raise RecurrenceError(
                field, "give the local Europe/Amsterdam time without an offset or Z"
            )
        raise RecurrenceError(field, "expected a local time like 2027-03-01T14:00")
    y, mo, d, h, mi, s = (int(g) if g is not None else 0 for g in m.groups())
    try:
        naive = dt.datetime(y, mo, d, h, mi, s)
    except ValueError as exc:
        raise RecurrenceError(field, f"not a valid date or time: {exc}") from None
    if not exists_locally(naive):
        raise RecurrenceError(
            field,
            "this local time does not exist in Europe/Amsterdam (the clocks go forward "
            "from 02:00 to 03:00 that night)",
        )
    return naive


def exists_locally(naive: dt.datetime) -> bool:
    """False for a wall time inside the spring-forward gap."""
    there = naive.replace(tzinfo=AMSTERDAM)
    back = there.astimezone(dt.UTC).astimezone(AMSTERDAM).replace(tzinfo=None)
    return back == naive


def to_utc(naive_local: dt.datetime) -> dt.datetime:
    """Place a wall time in Europe/Amsterdam and return it in UTC.

    Ambiguous times take their first instance (fold=0, summer time); times in the spring gap
    come out an hour later on the wall clock (zoneinfo applies the offset before the change).
    """
    return naive_local.replace(tzinfo=AMSTERDAM, fold=0).astimezone(dt.UTC)


def to_local(value: dt.datetime) -> dt.datetime:
    """An aware time as naive Europe/Amsterdam wall time."""
    return value.astimezone(AMSTERDAM).replace(tzinfo=None)


def _check_int_list(key: str, value: str) -> list[int]:
    if not _INT_LIST.match(value):
        raise RecurrenceError("rrule", f"{key} must be a comma-separated list of numbers")
    low, high, signed = _RANGES[key]
    numbers = [int(v) for v in value.split(",")]
    for n in numbers:
        if (n < 0 and not signed) or not low <= abs(n) <= high:
            raise RecurrenceError("rrule", f"{key} value {n} is out of range")
    return numbers


def parse_rule(text: str, start_local: dt.datetime) -> Rule:
    """Validate an RFC 5545 RRULE value ("FREQ=WEEKLY;BYDAY=MO") for a series starting at the
    naive local `start_local`; raises RecurrenceError naming `rrule`."""
    raw = text.strip()
    if raw.upper().startswith("RRULE:"):
        raw = raw[6:]
    if not raw or len(raw) > 500 or any(c in raw for c in "\r\n"):
        raise RecurrenceError("rrule", "expected one RRULE line such as FREQ=WEEKLY;BYDAY=MO")
    parts: dict[str, str] = {}
    for piece in raw.split(";"):
        key, sep, value = piece.partition("=")
        key = key.strip().upper()
        value = value.strip().upper()
        if not sep or not key or not value:
            raise RecurrenceError("rrule", f"'{piece}' is not a NAME=VALUE rule part")
        if key in parts:
            raise RecurrenceError("rrule", f"{key} is given twice")
        parts[key] = value
    known = {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "WKST"} | set(_RANGES)
    unknown = sorted(set(parts) - known)
    if unknown:
        raise RecurrenceError("rrule", f"unknown rule part {unknown[0]}")
    unsupported = sorted(set(parts) & set(_UNSUPPORTED))
    if unsupported:
        # Valid RFC 5545, but no meeting needs them, and their impossible combinations make
        # dateutil search until the year 9999 before it finds nothing.
        raise RecurrenceError("rrule", f"{unsupported[0]} is not supported for meetings")
    freq = parts.get("FREQ")
    if freq is None:
        raise RecurrenceError("rrule", "FREQ is required")
    if freq in SUB_DAILY_FREQS:
        raise RecurrenceError("rrule", f"FREQ={freq} is too frequent for a meeting: DAILY at most")
    if freq not in FREQS:
        raise RecurrenceError("rrule", f"unknown FREQ {freq}; use one of {', '.join(FREQS)}")
    interval = parts.get("INTERVAL", "1")
    if not interval.isdigit() or not 1 <= int(interval) <= MAX_INTERVAL:
        raise RecurrenceError("rrule", f"INTERVAL must be 1 to {MAX_INTERVAL}")
    count: int | None = None
    if "COUNT" in parts:
        if not parts["COUNT"].isdigit() or not 1 <= int(parts["COUNT"]) <= MAX_COUNT:
            raise RecurrenceError("rrule", f"COUNT must be 1 to {MAX_COUNT}")
        count = int(parts["COUNT"])
    if "COUNT" in parts and "UNTIL" in parts:
        raise RecurrenceError("rrule", "COUNT and UNTIL may not both be given (RFC 5545)")
    for key in _RANGES:
        if key in parts:
            _check_int_list(key, parts[key])
    if "BYDAY" in parts:
        for day in parts["BYDAY"].split(","):
            m = _BYDAY.match(day)
            if m is None:
                raise RecurrenceError("rrule", f"BYDAY value {day} is not a weekday like MO or 1MO")
            if m.group(1) and freq not in ("MONTHLY", "YEARLY"):
                raise RecurrenceError("rrule", "a numbered BYDAY (1MO) needs FREQ=MONTHLY/YEARLY")
            if m.group(1) and not 1 <= abs(int(m.group(1))) <= 53:
                raise RecurrenceError("rrule", f"BYDAY value {day} is out of range")
    if "WKST" in parts and parts["WKST"] not in WEEKDAYS:
        raise RecurrenceError("rrule", "WKST must be a weekday like MO")
    if "BYSETPOS" in parts and freq not in ("MONTHLY", "YEARLY"):
        raise RecurrenceError("rrule", "BYSETPOS needs FREQ=MONTHLY or YEARLY")
    if "BYMONTHDAY" in parts and not _month_days_possible(parts):
        raise RecurrenceError("rrule", "no month has such a day: the rule gives no meetings")
    per_day = 1
    for key in ("BYHOUR", "BYMINUTE"):
        if key in parts:
            per_day *= len(set(parts[key].split(",")))
    until_utc: dt.datetime | None = None
    if "UNTIL" in parts:
        until_utc = _parse_until(parts["UNTIL"])
        if until_utc < to_utc(start_local):
            raise RecurrenceError("rrule", "UNTIL is before the start: the series would end first")
        parts["UNTIL"] = until_utc.strftime("%Y%m%dT%H%M%SZ")
    if per_day > 1 and count is None and until_utc is None:
        raise RecurrenceError(
            "rrule", "several meetings a day (BYHOUR/BYMINUTE lists) need COUNT or UNTIL"
        )
    normalized = ";".join(f"{k}={v}" for k, v in parts.items())
    rule = Rule(normalized, start_local, count, until_utc)
    try:
        first = list(_local_iter(rule, CHECK_OCCURRENCES))
    except (ValueError, TypeError) as exc:
        raise RecurrenceError("rrule", f"not a usable rule: {exc}") from None
    if not first:
        raise RecurrenceError("rrule", "the rule gives no meetings at all")
    if first[0] != start_local:
        # RFC 5545 makes DTSTART the first meeting even when the rule does not match it;
        # dateutil (and people reading the rule) would not. Ask for a consistent start.
        raise RecurrenceError(
            "start_local",
            f"the start is not a meeting of the rule; its first would be {first[0].isoformat()}",
        )
    return rule


def _month_days_possible(parts: dict[str, str]) -> bool:
    """Whether some BYMONTHDAY exists in some BYMONTH (February counted with 29 days)."""
    longest = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30}
    months = [int(m) for m in parts["BYMONTH"].split(",")] if "BYMONTH" in parts else [12]
    days = [abs(int(d)) for d in parts["BYMONTHDAY"].split(",")]
    return any(d <= longest.get(m, 31) for m in months for d in days)


def _parse_until(value: str) -> dt.datetime:
    """UNTIL as UTC: a UTC date-time (the RFC 5545 form with a TZID start), or a date, read
    as the end of that local day."""
    try:
        if _UNTIL_UTC.match(value):
            return dt.datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        if _UNTIL_DATE.match(value):
            day = dt.datetime.strptime(value, "%Y%m%d")
            return to_utc(day.replace(hour=23, minute=59, second=59))
    except ValueError:
        pass
    raise RecurrenceError("rrule", "UNTIL must be a UTC time like 20271231T230000Z or a date")


def _dateutil_rule(rule: Rule) -> rrule:
    text = rule.text
    if rule.until_utc is not None:
        # dateutil wants UNTIL naive like the naive local start: the same instant, local.
        local_until = to_local(rule.until_utc).strftime("%Y%m%dT%H%M%S")
        text = re.sub(r"UNTIL=[0-9TZ]+", f"UNTIL={local_until}", text)
    parsed = rrulestr(text, dtstart=rule.start_local)
    assert isinstance(parsed, rrule)
    return parsed


def _local_iter(rule: Rule, limit: int | None = None) -> Iterator[dt.datetime]:
    """The first occurrences as wall time, searched at most CHECK_YEARS ahead (a rule that
    matches nothing would otherwise be searched until the year 9999)."""
    base = _dateutil_rule(rule)
    horizon = rule.start_local + dt.timedelta(days=366 * CHECK_YEARS)
    until = to_local(rule.until_utc) if rule.until_utc is not None else horizon
    bounded = base.replace(count=None, until=min(until, horizon))
    for n, local in enumerate(bounded):
        if rule.count is not None and n >= rule.count:
            return
        if limit is not None and n >= limit:
            return
        yield local


def occurrences(
    rule: Rule, start: dt.datetime, end: dt.datetime, max_items: int = 5000
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Occurrences (local wall time, UTC start) with a UTC start in [start, end)."""
    found: list[tuple[dt.datetime, dt.datetime]] = []
    # A day of slack either side: the rule runs on wall time, the window is in UTC.
    lo = to_local(start) - dt.timedelta(days=1)
    hi = to_local(end) + dt.timedelta(days=1)
    for local in _dateutil_rule(rule).xafter(lo, inc=True):
        if local > hi or len(found) >= max_items:
            break
        at = to_utc(local)
        if start <= at < end:
            found.append((local, at))
    return found


def check_no_overlap(rule: Rule, duration: dt.timedelta) -> None:
    """Refuse a rule whose meetings would overlap each other."""
    previous: dt.datetime | None = None
    for local in _local_iter(rule, CHECK_OCCURRENCES):
        at = to_utc(local)
        if previous is not None and at - previous < duration:
            raise RecurrenceError(
                "rrule", "meetings of this rule would overlap (closer together than duration_min)"
            )
        previous = at


def urgent_slot(now: dt.datetime, lead: dt.timedelta = dt.timedelta(hours=2)) -> dt.datetime:
    """When to propose an urgent meeting: the first 10:00 or 14:00 Amsterdam time on a working
    day at least `lead` from now; when that is more than 48 hours away (a weekend), the first
    such slot on any day. Returned in UTC, always within 48 hours."""
    earliest = now + lead
    local_day = to_local(earliest).date()
    slots: list[dt.datetime] = []
    for offset in range(4):
        day = local_day + dt.timedelta(days=offset)
        for hour in (10, 14):
            at = to_utc(dt.datetime(day.year, day.month, day.day, hour))
            if at >= earliest:
                slots.append(at)
    limit = now + dt.timedelta(hours=48)
    for at in slots:
        if at <= limit and to_local(at).weekday() < 5:
            return at
    return slots[0]
