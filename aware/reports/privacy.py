"""Small-count suppression for municipality reports: pure functions, no database.

Rules (applied to the whole report, nested dicts and lists included):
- every count from 1 to 4 becomes the string "<5"; 0 stays 0 (an empty cell reveals nobody);
- a statistic over a group of 1 to 4 (a median or p90 whose `n` is 1-4, a share whose
  `counted` is 1-4) becomes null, because its value would tell about those few people;
- values that are not counts (`suppressed_below`, targets, shares, medians, strings) pass
  unchanged.

Secondary suppression (working a small number back from a total and its other parts) is not
done: the figures are about how a service is used, and a municipality reviewer never sees a
name, address, phone number or case reference to link such a number to.
"""

from __future__ import annotations

from typing import Any

SUPPRESSED_BELOW = 5
SMALL = f"<{SUPPRESSED_BELOW}"
# Integers in a report that are not counts of people, cases or events.
NOT_COUNTS = frozenset({"suppressed_below"})
# Statistics (by key) nulled when the group they describe (the count under `group_key`) is small.
STATISTICS: dict[str, tuple[str, ...]] = {
    "n": ("median", "p90", "mean"),
    "counted": ("share_10s", "share_40s"),
}


def is_small(value: Any) -> bool:
    """Whether `value` is a count that must not be shown (1 to 4)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < SUPPRESSED_BELOW


def suppress_count(value: Any) -> Any:
    """A count as it may be shown: "<5" for 1-4, unchanged otherwise."""
    return SMALL if is_small(value) else value


def suppress(value: Any) -> Any:
    """A copy of a report (any JSON-like structure) with small counts and their statistics
    suppressed; the input is not changed."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        nulled: set[str] = set()
        for group_key, stats in STATISTICS.items():
            if is_small(value.get(group_key)):
                nulled.update(stats)
        for key, item in value.items():
            if key in nulled:
                out[key] = None
            elif key in NOT_COUNTS:
                out[key] = item
            else:
                out[key] = suppress(item)
        return out
    if isinstance(value, list):
        return [suppress(item) for item in value]
    return suppress_count(value)
