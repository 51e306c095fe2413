"""Moves the wall clock of a test run's Python processes ahead (AWARE_TEST_CLOCK_OFFSET_DAYS).

With AWARE_TEST_CLOCK_OFFSET_DAYS=N (float days, may be negative) set, tests/conftest.py calls
`travel_from_env()` in the pytest process and puts this folder first on PYTHONPATH, so Python
imports this file as `sitecustomize` at the start of every child process the tests run
(`aware serve`, `aware scheduler`, `aware demo`, CLI calls): each of them travels N days ahead
of its real clock, and time keeps flowing (time-machine, tick=True). time-machine patches the
wall clock (time.time, datetime.now, ...) and leaves time.monotonic alone, so timeouts and
waits are unchanged. Without the variable nothing happens.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time

VARIABLE = "AWARE_TEST_CLOCK_OFFSET_DAYS"
# The same value under a name without the AWARE_ prefix, exported by tests/conftest.py: some
# tests start `aware` with a clean configuration (every AWARE_ variable removed); their
# processes must travel too.
COPY = "TESTS_CLOCKSHIFT_OFFSET_DAYS"
_started = False


def offset() -> dt.timedelta | None:
    """The shift asked for, or None when the switch is not set."""
    raw = (os.environ.get(VARIABLE) or os.environ.get(COPY) or "").strip()
    if not raw:
        return None
    return dt.timedelta(days=float(raw))


def travel_from_env() -> bool:
    """Start travelling (once per process) when the switch is set; True if travelling."""
    global _started
    shift = offset()
    if shift is None:
        return False
    first = sys.modules.get("sitecustomize")  # this file, run at start-up under that name
    if not _started and not getattr(first, "_started", False):
        import time_machine

        time_machine.travel(dt.datetime.now(dt.UTC) + shift, tick=True).start()
        # time-machine starts ticking at the first request for the time, not at start(): ask
        # now, or a process that reads its clock only later (a server after its imports) runs
        # behind the others by that delay.
        time.time()
        _started = True
    return True


if __name__ == "sitecustomize":
    travel_from_env()
