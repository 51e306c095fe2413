"""Case meetings: series, occurrences, agendas, minutes.

- `meeting_series`: a recurring case meeting (casusoverleg) chaired by a municipality, for that
  municipality or (region=true) for every municipality whose centrumgemeente it is. The rule is
  an RFC 5545 RRULE on the naive Europe/Amsterdam `start_local` (see `recurrence`).
- `meetings`: one row per occurrence (materialized up to `meeting_series.materialized_until`,
  extended when a later range is asked) and per urgent ad-hoc meeting. `slot_at` is the
  occurrence's place in the rule (its RECURRENCE-ID): unique per series, so extending twice
  never makes a meeting twice; a moved occurrence keeps its slot.
- `meeting_cases`: cases put on a meeting's agenda by an urgent trigger.
- `meeting_triggers`: every trigger handled by `propose_urgent_meetings` (unique key: at most
  one urgent meeting or agenda entry per case per trigger, also with two schedulers).
- `meeting_minutes` and `meeting_actions`: the minutes (once per meeting, corrected with PUT)
  and the actions they created (owner and deadline; the CaseAction row is on the case).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from aware.db import Base, BigId, UTCDateTime

MEETING_STATUSES = ("scheduled", "proposed", "confirmed", "cancelled")


class MeetingSeries(Base):
    """A recurring case meeting of a municipality (or its region)."""

    __tablename__ = "meeting_series"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipalities.code"), index=True)
    region: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    title: Mapped[str] = mapped_column(String(200))
    rrule: Mapped[str] = mapped_column(String(500))
    # Naive Europe/Amsterdam wall time, "YYYY-MM-DDTHH:MM:SS": the rule runs on wall time.
    start_local: Mapped[str] = mapped_column(String(19))
    duration_min: Mapped[int] = mapped_column(Integer)
    organisations: Mapped[list[str]] = mapped_column(JSON)
    materialized_until: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(128))


class Meeting(Base):
    """One meeting: an occurrence of a series or an urgent ad-hoc meeting."""

    __tablename__ = "meetings"
    __table_args__ = (
        UniqueConstraint("series_id", "slot_at"),
        Index("ix_meetings_municipality_starts", "municipality_code", "starts_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    series_id: Mapped[int | None] = mapped_column(ForeignKey("meeting_series.id"), default=None)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipalities.code"))
    region: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    title: Mapped[str] = mapped_column(String(200))
    slot_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    status: Mapped[str] = mapped_column(String(16))
    organisations: Mapped[list[str]] = mapped_column(JSON)
    # iCalendar SEQUENCE: bumped by every move, confirmation or cancellation.
    sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    confirmed_by: Mapped[str | None] = mapped_column(String(128), default=None)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    cancelled_by: Mapped[str | None] = mapped_column(String(128), default=None)
    cancel_reason: Mapped[str | None] = mapped_column(Text, default=None)


class MeetingCase(Base):
    """A case put on a meeting's agenda by an urgent trigger (high concern, alarm)."""

    __tablename__ = "meeting_cases"
    __table_args__ = (UniqueConstraint("meeting_id", "case_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class MeetingTrigger(Base):
    """A handled urgent trigger: "assessment:<id>", "violation:<alarm id>", "genuine:<id>"."""

    __tablename__ = "meeting_triggers"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    # "proposed" (a new urgent meeting) or "added" (put on an existing meeting's agenda).
    outcome: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    handled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class MeetingCursor(Base):
    """Where a periodic scan got to (`urgent_triggers`: the last run of the proposer)."""

    __tablename__ = "meeting_cursors"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class MeetingMinutes(Base):
    """The minutes of one meeting: attendance, decisions, reasons for actions not done."""

    __tablename__ = "meeting_minutes"

    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), primary_key=True)
    attendance: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    decisions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    action_reviews: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    notes: Mapped[str | None] = mapped_column(Text, default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(128))


class MeetingAction(Base):
    """An action agreed in a meeting: owner and deadline; its CaseAction is on the case."""

    __tablename__ = "meeting_actions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    case_action_id: Mapped[int] = mapped_column(ForeignKey("case_actions.id"), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    owner_type: Mapped[str | None] = mapped_column(String(16), default=None)
    owner_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id"), default=None
    )
    owner_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_persons.id"), default=None
    )
    deadline: Mapped[dt.date] = mapped_column(Date, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
