"""Console updates that intake sends after the device has its answer.

A perpetrator's fix inside a ban that is already open goes on the alarm's timeline in the
intake transaction (committed before the 2xx, like everything intake stores). Telling the
consoles about it (`alarm.updated`, with the case card read and decrypted) is not needed for
the answer, and doing it first made a fix near the victim measurably slower to answer than a
fix far from her: a timing oracle for whoever holds the tracker. So those updates are published
here, on one worker thread per process, after the commit and off the answer path.

What stays on the answer path: every write, and `alarm.new` for a new alarm (which arms its
escalation). If the process dies between the commit and this publish, the change is stored and
every console sees it on its next snapshot; no alarm and no escalation depends on it.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Engine, Table, create_engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from aware.adapters.realtime import Publisher
from aware.alarms.models import Alarm
from aware.alarms.services import alarm_dicts

log = logging.getLogger(__name__)
_ALARMS = cast(Table, Alarm.__table__)


def reader_sessions(engine: Engine, sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions for reading only. On SQLite a connection of its own that never takes the write
    lock (the app's transactions all begin IMMEDIATE, so a read there would hold up the next
    intake: the very delay this module is here to avoid); in WAL mode it reads beside writers."""
    if engine.dialect.name != "sqlite":
        return sessions
    reader = create_engine(engine.url, connect_args={"check_same_thread": False, "timeout": 5})

    @event.listens_for(reader, "connect")
    def _read_only(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA query_only=ON")
        cur.close()

    return sessionmaker(reader, expire_on_commit=False)


class DeferredUpdates:
    """Publishes `alarm.updated` for alarm ids handed over after an intake commit."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        publisher: Callable[[], Publisher],
        clock: Callable[[], dt.datetime],
    ):
        self._sessions = sessions
        self._publisher = publisher
        self._clock = clock
        self._queue: queue.SimpleQueue[list[int] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pending = 0
        self._idle = threading.Event()
        self._idle.set()

    def __call__(self, alarm_ids: list[int]) -> None:
        """Queue the ids (already committed); returns at once."""
        if not alarm_ids:
            return
        with self._lock:
            self._pending += 1
            self._idle.clear()
        self._start()
        self._queue.put(list(alarm_ids))

    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="aware-deferred-updates", daemon=True
                )
                self._thread.start()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until everything queued is published (for tests and benches)."""
        return self._idle.wait(timeout)

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            ids, taken = set(first), 1
            # Whatever queued meanwhile goes in the same read: one update per alarm.
            while True:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                ids.update(more)
                taken += 1
            self._publish(ids)
            with self._lock:
                self._pending -= taken
                if self._pending == 0:
                    self._idle.set()

    def _publish(self, ids: set[int]) -> None:
        try:
            with self._sessions() as session:
                conn = session.connection()
                rows = list(conn.execute(select(_ALARMS).where(_ALARMS.c.id.in_(sorted(ids)))))
                updates = alarm_dicts(conn, rows, self._clock())
                session.rollback()  # read only: end it before publishing
            publisher = self._publisher()
            for alarm in updates:
                publisher.alarm_updated(alarm)
        except Exception:  # noqa: BLE001 - one failed publish must not stop the worker
            log.exception("publishing %d deferred alarm update(s) failed", len(ids))
