"""`aware scheduler`: the one scheduler process (filled in by the scheduler work of issue 5)."""

from __future__ import annotations

import sys


def main() -> int:
    print(
        "aware: the scheduler has no jobs yet (meetings, reminders and device supervision "
        "arrive with the coordination feature)",
        file=sys.stderr,
    )
    return 1
