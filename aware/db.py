"""Database engine, session factory and shared column types.

SQLite (the embedded default) runs in WAL mode with foreign keys on, synchronous=FULL so a
committed event survives a crash or power loss, and every transaction starts with
BEGIN IMMEDIATE so concurrent writers queue on the busy timeout instead of failing halfway.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import heapq
import itertools
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    create_engine,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

# 64-bit ids everywhere (a 2^31 overflow once left 16,000 people unmonitored); SQLite's
# INTEGER PRIMARY KEY is already 64-bit and is the only type it auto-increments.
BigId = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations are stable."""

    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware datetime stored as UTC; SQLite gets it back aware too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def make_engine(url: str, *, busy_timeout_ms: int = 10000, **kwargs: Any) -> Engine:
    """Create the engine with the pragmas and pool the embedded default needs."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
            **kwargs,
        )
        _configure_sqlite(engine, busy_timeout_ms)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so BEGIN IMMEDIATE can be issued below.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.close()

    # Writers of this process queue on a lock instead of SQLite's busy handler, which sleeps in
    # growing steps (1, 2, 5, 10 ms ...) and so turns a 2 ms wait into 10 ms on the alarm path.
    # The queue is served by priority (see `write_priority`), so an SOS never waits behind a
    # tracker's queued 1,000-fix batches, only behind the one transaction already running.
    # SQLite's own locking still guards against other processes.
    writer = PriorityLock()
    holders: set[int] = set()
    timeout_s = busy_timeout_ms / 1000

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if not writer.acquire(_PRIORITY.get(), timeout_s):
            raise sqlite3.OperationalError("database is locked (waited for this process's writer)")
        dbapi = conn.connection.dbapi_connection
        holders.add(id(dbapi))
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(dbapi)
            raise

    def _release(dbapi: Any) -> None:
        # SQLAlchemy hands the pool's proxy to do_commit/do_rollback; key on the raw connection.
        key = id(getattr(dbapi, "dbapi_connection", dbapi))
        if key in holders:
            holders.discard(key)
            writer.release()

    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi: Any) -> None:
        try:
            commit(dbapi)
        finally:
            _release(dbapi)

    def do_rollback(dbapi: Any) -> None:
        try:
            rollback(dbapi)
        finally:
            _release(dbapi)

    dialect.do_commit = do_commit  # type: ignore[method-assign,assignment]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign,assignment]


# Who goes first when transactions of this process queue for SQLite's single writer.
ALARM = 0  # a request carrying an SOS or another alarm event of a device
NORMAL = 1  # people's actions, escalation, jobs
BULK = 2  # position and heartbeat batches: a flood from one tracker waits behind the rest
_PRIORITY: contextvars.ContextVar[int] = contextvars.ContextVar("aware_write_priority", default=1)


@contextlib.contextmanager
def write_priority(priority: int) -> Iterator[None]:
    """Transactions begun inside this block queue for the SQLite writer with this priority
    (lower first). No effect on PostgreSQL, where writers lock rows, not the database."""
    token = _PRIORITY.set(priority)
    try:
        yield
    finally:
        _PRIORITY.reset(token)


class PriorityLock:
    """A lock whose waiters are served by priority, then in arrival order (FIFO within one
    priority, so no writer of a priority starves behind later ones of the same priority)."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._held = False
        self._waiting: list[tuple[int, int]] = []
        self._order = itertools.count()

    def acquire(self, priority: int = NORMAL, timeout: float = -1) -> bool:
        """Take the lock; False when `timeout` seconds (negative: no limit) passed first."""
        with self._cond:
            if not self._held and not self._waiting:
                self._held = True
                return True
            ticket = (priority, next(self._order))
            heapq.heappush(self._waiting, ticket)
            deadline = None if timeout < 0 else time.monotonic() + timeout
            while self._held or self._waiting[0] != ticket:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    self._waiting.remove(ticket)
                    heapq.heapify(self._waiting)
                    self._cond.notify_all()  # the next in line may be free to go now
                    return False
                self._cond.wait(remaining)
            heapq.heappop(self._waiting)
            self._held = True
            return True

    def release(self) -> None:
        with self._cond:
            if not self._held:
                raise RuntimeError("release of an unheld PriorityLock")
            self._held = False
            self._cond.notify_all()

    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (we publish them after commit)."""
    return sessionmaker(engine, expire_on_commit=False)


class Prepared:
    """A Core statement compiled once per dialect and run on the DBAPI cursor.

    For the few statements on the alarm path: SQLAlchemy's per-execution work (cache key,
    execution context, result object) costs ~0.1 ms a statement on small machines, several
    times the statement itself. Parameters and returned values still pass through the column
    types' own processors (`TypeEngine.bind_processor` / `result_processor`), so values are
    stored and read exactly as everywhere else. Runs inside the caller's transaction.
    """

    def __init__(
        self,
        stmt: Any,
        returning: Sequence[Any] = (),
        column_keys: Sequence[str] | None = None,
    ):
        self.stmt = stmt
        self.returning = list(returning)
        self.column_keys = list(column_keys) if column_keys is not None else None
        self._by_dialect: dict[str, _Compiled] = {}

    def _compiled(self, dialect: Any) -> _Compiled:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            kwargs = {"column_keys": self.column_keys} if self.column_keys is not None else {}
            compiled = self.stmt.compile(dialect=dialect, **kwargs)
            binds = {
                name: bind.type.dialect_impl(dialect).bind_processor(dialect)
                for name, bind in compiled.binds.items()
            }
            order = list(compiled.positiontup) if compiled.positional else None
            found = _Compiled(str(compiled), order, binds, [])
            self._by_dialect[dialect.name] = found
        return found

    def execute(self, conn: Connection, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Run with named parameters; returns the RETURNING rows, processed."""
        c = self._compiled(conn.dialect)
        values = {
            name: (proc(params[name]) if proc is not None else params[name])
            for name, proc in c.binds.items()
        }
        args: Any = tuple(values[name] for name in c.order) if c.order is not None else values
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(c.sql, args)
            rows = cursor.fetchall() if self.returning else []
            if self.returning and not c.results:
                # Result processors may depend on the driver's type codes (psycopg's numerics).
                # Computed in full, then swapped in at once: threads racing here agree.
                c.results[:] = [
                    col.type.dialect_impl(conn.dialect).result_processor(conn.dialect, d[1])
                    for col, d in zip(self.returning, cursor.description, strict=True)
                ]
        finally:
            cursor.close()
        return [
            tuple(p(v) if p is not None else v for p, v in zip(c.results, row, strict=True))
            for row in rows
        ]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    order: list[str] | None
    binds: dict[str, Any]
    results: list[Any]
