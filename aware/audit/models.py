"""The audit log: one row per view or change of (aggregated or personal) data. Append-only.

Who (user id, username and role copied at the time, so a later rename or deletion of the user
never rewrites history), when, what (action, object type and id), which case (nullable: a
report concerns no single case), for which purpose, and a JSON detail (for reports: the
municipalities and the period). Rows are only ever inserted: the code has no update or delete
path, the ORM refuses both (see `_refuse_change`), and the database refuses them too (triggers
made by migration 0009 on SQLite and PostgreSQL).

Acts of the service itself (retention runs) have no user: user_id NULL, username and role
"system". Reads of several cases at once name each case in `audit_entry_cases`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, event
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from aware.db import Base, BigId, UTCDateTime


class AuditEntry(Base):
    """One audited act: who, when, what, which case, why. Never updated, never deleted."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_object", "object_type", "object_id"),
        Index("ix_audit_entries_user_at", "user_id", "at"),
        Index("ix_audit_entries_action_at", "action", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    # Kept without a cascade: deactivating or deleting a user must not erase what they did.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    username: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64), default=None)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), default=None, index=True)
    purpose: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class AuditCaseRef(Base):
    """A case an audited act touched when it touched several at once (a case list, a console
    snapshot of alarms with their case cards): so "who saw case X" also finds those views
    without one audit row per case. Append-only like the entries."""

    __tablename__ = "audit_entry_cases"

    entry_id: Mapped[int] = mapped_column(ForeignKey("audit_entries.id"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True, index=True)


class CaseAnonymisation(Base):
    """When retention anonymised an ended case (one row per case: the job's idempotency).

    Kept apart from `cases` so the case table (and its figures) keeps its shape."""

    __tablename__ = "case_anonymisations"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    anonymised_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # The case's ending time the retention period was counted from.
    ended_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AppendOnly(Exception):
    """An attempt to change or remove an audit entry."""


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
@event.listens_for(AuditCaseRef, "before_update")
@event.listens_for(AuditCaseRef, "before_delete")
def _refuse_change(_mapper: Mapper[Any], _conn: Any, target: AuditEntry | AuditCaseRef) -> None:
    what = f"audit entry {target.id}" if isinstance(target, AuditEntry) else "audit case ref"
    raise AppendOnly(f"{what} is append-only")
