"""The alarm relay: alarm changes made by other processes reach this process's consoles.

Without Redis, the scheduler process (device supervision) cannot emit to the consoles of the
web process. The relay, started by `aware serve` only when there is no AWARE_REDIS_URL, polls
every second for alarms whose `seq` is newer than the newest it has seen, and publishes those
this process did not publish itself: `alarm.new` for an alarm still open with nothing on its
timeline yet, else `alarm.updated`. Seq order is commit order (the counter row is locked until
commit), so reading `seq > last` never skips a change; a change published twice is harmless,
consoles merge by id and seq.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from aware.adapters.realtime import Publisher
from aware.alarms.models import Alarm, AlarmLogEntry
from aware.alarms.services import alarm_dicts
from aware.state import utcnow

log = logging.getLogger(__name__)

POLL_S = 1.0
_ALARMS = cast(Table, Alarm.__table__)
_LOG = cast(Table, AlarmLogEntry.__table__)


class PublishedSeqs:
    """The (alarm id, seq) pairs this process published itself (bounded, oldest forgotten)."""

    def __init__(self, limit: int = 100_000):
        self.limit = limit
        self._seen: OrderedDict[tuple[int, int], None] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, alarm: dict[str, Any]) -> None:
        with self._lock:
            self._seen[(alarm["id"], alarm["seq"])] = None
            while len(self._seen) > self.limit:
                self._seen.popitem(last=False)

    def __contains__(self, key: tuple[int, int]) -> bool:
        with self._lock:
            return key in self._seen


class Tracking:
    """A publisher that remembers what it published (for the relay to skip)."""

    def __init__(self, inner: Any, seen: PublishedSeqs):
        self.inner = inner
        self.seen = seen

    def alarm_new(self, alarm: dict[str, Any]) -> None:
        self.seen.add(alarm)
        self.inner.alarm_new(alarm)

    def alarm_updated(self, alarm: dict[str, Any]) -> None:
        self.seen.add(alarm)
        self.inner.alarm_updated(alarm)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class AlarmRelay:
    """Polls for alarm changes by other processes and publishes them (see module docstring)."""

    def __init__(
        self,
        sessions: Callable[[], Session],
        publisher: Publisher,
        seen: PublishedSeqs,
        poll_s: float = POLL_S,
    ):
        self.sessions = sessions
        self.publisher = publisher
        self.seen = seen
        self.poll_s = poll_s
        self.last_seq = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self.sessions() as session:
            # Consoles get every open alarm in their snapshot at connect: start from now.
            self.last_seq = int(session.scalar(select(func.max(_ALARMS.c.seq))) or 0)
            session.rollback()
        self._thread = threading.Thread(target=self._loop, name="aware-relay", daemon=True)
        self._thread.start()
        log.info("alarm relay polling every %.1f s from seq %d", self.poll_s, self.last_seq)

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.poll_once()
            except Exception:  # the database may be away for a moment: keep polling
                log.exception("alarm relay poll failed")

    def poll_once(self) -> int:
        """Publish the changes since the last poll; returns how many were published."""
        with self.sessions() as session:
            conn = session.connection()
            rows = list(
                conn.execute(
                    select(_ALARMS)
                    .where(_ALARMS.c.seq > self.last_seq)
                    .order_by(_ALARMS.c.seq)
                    .limit(1000)
                )
            )
            if rows:
                self.last_seq = max(r.seq for r in rows)
            # Changes this process published itself need no card and no second look.
            rows = [r for r in rows if (r.id, r.seq) not in self.seen]
            if not rows:
                session.rollback()
                return 0
            ids = [r.id for r in rows]
            with_timeline = set(
                conn.scalars(select(_LOG.c.alarm_id).where(_LOG.c.alarm_id.in_(ids)).distinct())
            )
            published = alarm_dicts(conn, rows, utcnow())
            session.rollback()
        count = 0
        for row, alarm in zip(rows, published, strict=True):
            self.seen.add(alarm)
            if row.status == "open" and row.id not in with_timeline:
                self.publisher.alarm_new(alarm)
            else:
                self.publisher.alarm_updated(alarm)
            count += 1
        return count


def start_relay(app: Any) -> AlarmRelay:
    """Start the relay in a serving process: everything this process publishes is tracked so
    the relay skips it; the relay publishes through the plain Socket.IO publisher (escalation
    of an alarm is armed by the process that raised it)."""
    st = app.extensions["aware"]
    seen = PublishedSeqs()
    base = getattr(st.publisher, "inner", st.publisher)  # below EscalatingPublisher
    st.publisher = Tracking(st.publisher, seen)
    if st.escalator is not None:
        st.escalator.publisher = Tracking(st.escalator.publisher, seen)
    relay = AlarmRelay(st.sessions, base, seen)
    relay.start()
    return relay
