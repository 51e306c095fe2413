"""The scheduler's tables: its lease, its run log, and APScheduler's job store.

- `scheduler_lease`: exactly one active `aware scheduler`. On SQLite the holder renews the row
  every few seconds and another process takes over once it has expired; on PostgreSQL the lease
  is a session-level advisory lock and the row only says who holds it (for people and logs).
- `scheduler_runs`: one line per job run (job id, holder, start, end, result): what ran, where.
- `apscheduler_jobs`: APScheduler 3's SQLAlchemyJobStore table, declared here with the exact
  columns the job store creates so that Alembic owns it (the job store's own CREATE IF NOT
  EXISTS then finds it in place).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Column,
    Float,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    Unicode,
)
from sqlalchemy.orm import Mapped, mapped_column

from aware.db import Base, BigId, UTCDateTime


class SchedulerLease(Base):
    """Who runs the jobs: one row per lease name (only "scheduler" today)."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    acquired_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    renewed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class SchedulerRun(Base):
    """One run of one job: which process ran it, when, and how it went."""

    __tablename__ = "scheduler_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job_id: Mapped[str] = mapped_column(String(64), index=True)
    holder: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    # "ok" or "failed"; None while running (or if the process died mid-run).
    result: Mapped[str | None] = mapped_column(String(16), default=None)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)


# Exactly APScheduler 3.11's SQLAlchemyJobStore table (apscheduler/jobstores/sqlalchemy.py).
apscheduler_jobs = Table(
    "apscheduler_jobs",
    Base.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)
