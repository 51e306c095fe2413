"""The AWARE allocation workflow: application, decision, device, support, term, ending.

One `allocations` row per application carries the chain and the dates that matter (applied_at,
decided_at, connected_at, ended_at; application to connection is a key figure, computed from
them). Decisions, reviews and extensions are rows of their own, kept as history. The state
machine is in `allocation_rules`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from aware.db import Base, BigId, UTCDateTime

_OPEN = "status IN ('applied', 'waiting_list', 'granted', 'active')"
_LIVE = "status = 'active'"


class Allocation(Base):
    """An application for AWARE on a case and, once granted, the allocation that follows."""

    __tablename__ = "allocations"
    __table_args__ = (
        # One open application (or running allocation) per case, decided by the database.
        Index(
            "uq_allocations_open_case",
            "case_id",
            unique=True,
            sqlite_where=text(_OPEN),
            postgresql_where=text(_OPEN),
        ),
        # A device serves one active allocation at a time.
        Index(
            "uq_allocations_active_device",
            "device_id",
            unique=True,
            sqlite_where=text(_LIVE),
            postgresql_where=text(_LIVE),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    referring_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    reason: Mapped[str] = mapped_column(Text)
    concern: Mapped[str] = mapped_column(String(16))
    applied_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    applied_by: Mapped[str] = mapped_column(String(128))
    # The latest decision (the history is in allocation_decisions).
    decision: Mapped[str | None] = mapped_column(String(16), default=None)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"), default=None)
    connected_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    support_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id"), default=None
    )
    support_contact_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_persons.id"), default=None
    )
    support_set_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    # The instant the term ends (the end of its last Amsterdam day).
    term_ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    # The term end the latest term-end reminder was made for (a new one after an extension).
    term_reminder_for: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    term_reminder_action_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_actions.id"), default=None
    )
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    end_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    end_note: Mapped[str | None] = mapped_column(Text, default=None)
    ended_by: Mapped[str | None] = mapped_column(String(128), default=None)
    handover_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id"), default=None
    )
    handover_planned_on: Mapped[dt.date | None] = mapped_column(Date, default=None)
    handover_completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    handover_completed_by: Mapped[str | None] = mapped_column(String(128), default=None)
    handover_action_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_actions.id"), default=None
    )
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AllocationDecision(Base):
    """One decision of the indicatiecommissie, with its reasons and who was present."""

    __tablename__ = "allocation_decisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[str | None] = mapped_column(Text, default=None)
    # [{"organisation_id": int, "name": str | None}]
    members: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    decided_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(128))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AllocationReview(Base):
    """A planned review of a running allocation; a reminder action is made when it is due."""

    __tablename__ = "allocation_reviews"
    __table_args__ = (UniqueConstraint("allocation_id", "due_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"))
    # 00:00 Europe/Amsterdam of the review day.
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    done_by: Mapped[str | None] = mapped_column(String(128), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    reminder_action_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_actions.id"), default=None
    )


class AllocationExtension(Base):
    """An extension of the term, with its reason."""

    __tablename__ = "allocation_extensions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"), index=True)
    previous_ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    new_ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    extended_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    extended_by: Mapped[str] = mapped_column(String(128))
