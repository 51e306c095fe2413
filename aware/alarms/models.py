"""Alarms, their append-only timeline, and the change counter behind `seq`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from aware.db import Base, BigId, UTCDateTime


class Counter(Base):
    """Named counters; `alarm_seq` is bumped in the same transaction as every alarm change.

    A row (not a database sequence) so that seq order equals commit order: the row lock is held
    until commit, so a client never receives seq N+1 before N is visible.
    """

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class Alarm(Base):
    """An alarm shown to dispatch; its life is open -> acknowledged -> resolved."""

    __tablename__ = "alarms"
    __table_args__ = (
        Index("ix_alarms_status_priority", "status", "priority", "received_at"),
        # Every escalating process polls this (`escalation_next_at <= now`) twice a second.
        Index("ix_alarms_escalation_next_at", "escalation_next_at"),
        # Intake's storm gate: a device's alarms of the last minute, and its open storm alarm.
        Index("ix_alarms_device_received", "device_id", "received_at"),
        Index(
            "ix_alarms_open_storm",
            "device_id",
            postgresql_where=text("type = 'storm' AND status = 'open'"),
            sqlite_where=text("type = 'storm' AND status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Indexes cost writes on the alarm path: only those that a query uses are kept.
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    # The case behind the device at the time of the alarm.
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), default=None)
    # For violations: the ban broken, whether the position arrived late (buffered), and the
    # judgement (distance, accuracy, uncertainty, age of the victim's position).
    ban_id: Mapped[int | None] = mapped_column(ForeignKey("bans.id"), default=None)
    late: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # Escalation: the chain copied on raising, the token timers must carry (cleared when the
    # alarm is acknowledged or resolved), and how many firings have happened.
    escalation: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    escalation_token: Mapped[str | None] = mapped_column(String(64), default=None)
    escalations_fired: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Outcome of the most recent firing: "sent", "failed" or "not_sent" (None before any).
    escalation_status: Mapped[str | None] = mapped_column(String(16), default=None)
    # When escalation work on this alarm next falls due, kept in the database so any live
    # process carries it out (aware.alarms.escalator). Never later than the real due time: a
    # new alarm starts with its received_at ("look at me now") and the first process to look
    # plans the exact time; None when nothing is pending (acknowledged, resolved, chain done).
    escalation_next_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    # The firing a process claimed and is sending (None when none; it counts in
    # escalations_fired once its outcome is recorded): escalation_next_at is then the send
    # lease. A lease that runs out means the sender died: another process sends it.
    escalation_sending: Mapped[int | None] = mapped_column(Integer, default=None)
    # Approach alarms text the victim at most once: set (claimed) before the text is sent.
    victim_sms_claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    # At most one alarm per stored device event (idempotent intake).
    event_pk: Mapped[int | None] = mapped_column(
        ForeignKey("device_events.id"), unique=True, default=None
    )
    event_id: Mapped[str | None] = mapped_column(String(64), default=None)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    accuracy_m: Mapped[float | None] = mapped_column(Float, default=None)
    position_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    # "event" when the alarm event carried a fix, "last_known" when taken from the device.
    position_source: Mapped[str | None] = mapped_column(String(16), default=None)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    acknowledged_by: Mapped[str | None] = mapped_column(String(128), default=None)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    resolved_by: Mapped[str | None] = mapped_column(String(128), default=None)
    outcome: Mapped[str | None] = mapped_column(String(16), default=None)


class EscalationChain(Base):
    """The escalation chain an admin set for one alarm type (`escalation.parse_chain` data).

    Without a row the type uses the default chain from the settings. Copied onto each alarm
    when it is raised, so editing a row never changes an alarm already raised.
    """

    __tablename__ = "escalation_chains"

    alarm_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    chain: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(128))


class AlarmLogEntry(Base):
    """One line of an alarm's timeline: what happened, when, and who did it. Never updated."""

    __tablename__ = "alarm_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    action: Mapped[str] = mapped_column(String(32))
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64), default=None)
    actor_name: Mapped[str | None] = mapped_column(String(128), default=None)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
