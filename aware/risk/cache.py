"""Prepared ban geometry per case, rebuilt only when the case's bans change."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from aware.risk.geometry import BanIndex


class BanCache:
    """case_id -> (BanIndex of its location-ban zones, ban rows) with explicit invalidation.

    Building an index costs milliseconds for large zones; a position check must not pay that.
    Any process that changes bans invalidates its own cache; others see the change through
    `version` (the newest ban id and count), checked on every use at the cost of one query.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, tuple[Any, BanIndex[Any], Any]] = {}

    def get(
        self, case_id: int, version: Any, build: Callable[[], tuple[BanIndex[Any], Any]]
    ) -> Any:
        entry = self._entries.get(case_id)
        if entry is not None and entry[0] == version:
            return entry[1], entry[2]
        index, bans = build()
        with self._lock:
            self._entries[case_id] = (version, index, bans)
        return index, bans

    def put(self, case_id: int, version: Any, index: BanIndex[Any], bans: Any) -> None:
        with self._lock:
            self._entries[case_id] = (version, index, bans)

    def invalidate(self, case_id: int) -> None:
        with self._lock:
            self._entries.pop(case_id, None)
