"""The scheduler lease: exactly one `aware scheduler` runs jobs; the others wait.

PostgreSQL: a session-level advisory lock held on a dedicated connection. The server releases
it when that connection dies (the holder was killed, its host or network went away), so a
waiting process polling every 0.5 s takes over within about half a second. The key is derived
from the schema, so installations sharing a server (or test schemas) never block each other.

SQLite: a row in `scheduler_lease` with the holder and an expiry, renewed every third of the
lease; a waiting process takes it once it has expired. A holder that cannot renew in time
stops running jobs before anyone else may start.

Either way the `scheduler_lease` row says who holds the lease, for people and logs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from typing import Protocol, cast

from sqlalchemy import Connection, Engine, Table, insert, select, text, update

from aware.scheduler.models import SchedulerLease
from aware.state import utcnow

log = logging.getLogger(__name__)

NAME = "scheduler"


class Lease(Protocol):
    holder: str

    def try_acquire(self) -> bool:
        """Take the lease if free; True when this process holds it."""

    def renew(self) -> bool:
        """Keep holding it; False when it is lost (stop running jobs at once)."""

    def valid(self) -> bool:
        """Whether this process may still run a job now."""

    def current_holder(self) -> str | None:
        """Who holds it according to the database (None: nobody)."""

    def release(self) -> None:
        """Give it up (clean shutdown)."""


def _write_row(conn: Connection, holder: str, now: dt.datetime, lease_s: float) -> None:
    expires = now + dt.timedelta(seconds=lease_s)
    found = conn.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == NAME)
        .values(holder=holder, acquired_at=now, renewed_at=now, expires_at=expires)
    ).rowcount
    if not found:
        conn.execute(
            insert(cast(Table, SchedulerLease.__table__)).values(
                name=NAME, holder=holder, acquired_at=now, renewed_at=now, expires_at=expires
            )
        )


def _read_row(engine: Engine) -> SchedulerLease | None:
    with engine.connect() as conn:
        row = conn.execute(select(SchedulerLease.__table__)).first()
        conn.rollback()
    return row  # type: ignore[return-value]


class SqliteLease:
    """A lease row with an expiry (see the module docstring)."""

    def __init__(self, engine: Engine, holder: str, lease_s: float):
        self.engine = engine
        self.holder = holder
        self.lease_s = lease_s
        self._valid_until = 0.0  # monotonic

    def try_acquire(self) -> bool:
        started = time.monotonic()
        now = utcnow()
        with self.engine.begin() as conn:  # BEGIN IMMEDIATE: one writer decides at a time
            row = conn.execute(
                select(SchedulerLease.holder, SchedulerLease.expires_at).where(
                    SchedulerLease.name == NAME
                )
            ).first()
            if row is not None and row.holder != self.holder and row.expires_at > now:
                return False
            _write_row(conn, self.holder, now, self.lease_s)
        self._valid_until = started + self.lease_s
        return True

    def renew(self) -> bool:
        started = time.monotonic()
        if started >= self._valid_until:
            return False  # we stalled past our own expiry: someone else may hold it now
        now = utcnow()
        with self.engine.begin() as conn:
            renewed = conn.execute(
                update(SchedulerLease)
                .where(SchedulerLease.name == NAME, SchedulerLease.holder == self.holder)
                .values(renewed_at=now, expires_at=now + dt.timedelta(seconds=self.lease_s))
            ).rowcount
        if renewed:
            self._valid_until = started + self.lease_s
        return bool(renewed)

    def valid(self) -> bool:
        # A margin of a second: a job started now must not outlive the lease by surprise.
        return time.monotonic() < self._valid_until - 1.0

    def current_holder(self) -> str | None:
        row = _read_row(self.engine)
        if row is None or row.expires_at <= utcnow():
            return None
        return row.holder

    def release(self) -> None:
        self._valid_until = 0.0
        with self.engine.begin() as conn:
            # Expire it now, so a waiting process takes over at its next poll.
            conn.execute(
                update(SchedulerLease)
                .where(SchedulerLease.name == NAME, SchedulerLease.holder == self.holder)
                .values(expires_at=utcnow())
            )


class PgLease:
    """A session-level advisory lock on a connection of its own (see the module docstring)."""

    def __init__(self, engine: Engine, holder: str, lease_s: float):
        self.engine = engine
        self.holder = holder
        self.lease_s = lease_s
        self._conn: Connection | None = None
        self._key: int | None = None
        self._held = False
        self._checked = 0.0  # monotonic time of the last successful check of the connection

    def _connection(self) -> Connection:
        if self._conn is None:
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            schema = conn.scalar(text("SELECT current_schema()")) or "public"
            digest = hashlib.sha256(f"aware-scheduler:{schema}".encode()).digest()
            self._key = int.from_bytes(digest[:8], "big", signed=True)
            self._conn = conn
        return self._conn

    def _drop(self) -> None:
        conn, self._conn, self._held = self._conn, None, False
        if conn is not None:
            try:
                conn.invalidate()  # never back to the pool: its lock state is unknown
            except Exception:
                log.debug("closing the lease connection failed", exc_info=True)

    def try_acquire(self) -> bool:
        try:
            conn = self._connection()
            got = bool(conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key}))
        except Exception:
            log.warning("the lease connection failed; retrying", exc_info=True)
            self._drop()
            return False
        if not got:
            return False
        self._held = True
        self._checked = time.monotonic()
        with self.engine.begin() as rowconn:
            _write_row(rowconn, self.holder, utcnow(), self.lease_s)
        return True

    def renew(self) -> bool:
        if not self._held or self._conn is None:
            return False
        try:
            # The lock lives exactly as long as this connection: prove it is still alive.
            self._conn.scalar(text("SELECT 1"))
        except Exception:
            log.error("the lease connection died: the lock is gone", exc_info=True)
            self._drop()
            return False
        self._checked = time.monotonic()
        now = utcnow()
        try:
            with self.engine.begin() as rowconn:
                rowconn.execute(
                    update(SchedulerLease)
                    .where(SchedulerLease.name == NAME)
                    .values(
                        holder=self.holder,
                        renewed_at=now,
                        expires_at=now + dt.timedelta(seconds=self.lease_s),
                    )
                )
        except Exception:  # the row is for people; the lock is what counts
            log.warning("could not update the lease row", exc_info=True)
        return True

    def valid(self) -> bool:
        return self._held and time.monotonic() - self._checked < self.lease_s

    def current_holder(self) -> str | None:
        row = _read_row(self.engine)
        return None if row is None else row.holder

    def release(self) -> None:
        if self._conn is not None and self._held:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
                self._conn.close()
                self._conn = None
            except Exception:
                log.debug("unlocking failed (the server frees it with the connection)")
        self._drop()


def lease_for(engine: Engine, holder: str, lease_s: float) -> Lease:
    """The lease that fits the database."""
    if engine.dialect.name == "postgresql":
        return PgLease(engine, holder, lease_s)
    return SqliteLease(engine, holder, lease_s)
