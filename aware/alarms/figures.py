"""This shift's acceptance figures for the console (BS 8484: 80% within 10 s, 98.5% within 40 s).

Shifts follow the usual control-room pattern of three eight-hour shifts starting at 07:00,
15:00 and 23:00 Amsterdam time. An alarm counts from when the server received it to when a
dispatcher (or a phone keypress) accepted it. Test alarms and device_offline (raised and, when
the device reports again, cleared by the scheduler's supervision) are left out: they are not
calls for help. An alarm still open counts as late once its limit has passed and is not
counted before that, so the share never looks better by ignoring an alarm nobody picked up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
SHIFT_STARTS = (7, 15, 23)
LIMITS_S = (10.0, 40.0)
TARGETS = {10.0: 0.80, 40.0: 0.985}
NOT_CALLS = ("test", "device_offline")


def shift_bounds(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Start and end (UTC) of the shift `now` falls in; DST-aware (a shift may last 7 or 9 h)."""
    local = now.astimezone(AMSTERDAM)
    candidates = []
    for days in (-1, 0, 1):
        day = (local + dt.timedelta(days=days)).date()
        for hour in SHIFT_STARTS:
            candidates.append(dt.datetime(day.year, day.month, day.day, hour, tzinfo=AMSTERDAM))
    candidates.sort()
    start = max(c for c in candidates if c <= local)
    end = min(c for c in candidates if c > local)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


@dataclass(frozen=True)
class Share:
    limit_s: float
    target: float
    counted: int
    within: int

    @property
    def share(self) -> float | None:
        return self.within / self.counted if self.counted else None

    @property
    def met(self) -> bool | None:
        share = self.share
        return None if share is None else share >= self.target


def acceptance(
    alarms: Iterable[tuple[dt.datetime, dt.datetime | None]], now: dt.datetime
) -> list[Share]:
    """Shares accepted within each limit, from (received_at, acknowledged_at) pairs."""
    pairs = list(alarms)
    shares = []
    for limit in LIMITS_S:
        counted = within = 0
        for received, accepted in pairs:
            if accepted is not None:
                counted += 1
                within += (accepted - received).total_seconds() <= limit
            elif (now - received).total_seconds() > limit:
                counted += 1  # still waiting beyond the limit: late already
        shares.append(Share(limit, TARGETS[limit], counted, within))
    return shares
