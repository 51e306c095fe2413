"""Devices (victim alarms, perpetrator trackers) and every event they reported."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from aware.db import Base, BigId, UTCDateTime

DEVICE_KINDS = ("victim_alarm", "perpetrator_tracker")
EVENT_TYPES = ("sos", "position", "heartbeat", "battery_low", "tamper", "test")
# Stock status. "in_use" is never stored: a device is in use while a case holds an active link
# to it (case_devices.unlinked_at IS NULL), see aware.devices.stock.effective_status.
DEVICE_STATUSES = ("in_stock", "in_use", "defective", "lost")


class Device(Base):
    """A registered device; its bearer token is stored only as a SHA-256 hash."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    deactivated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    # Server clock of the last accepted request: what link supervision looks at.
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    # Device clock of the newest position; a late (buffered) event never replaces it.
    last_position_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    last_lat: Mapped[float | None] = mapped_column(Float, default=None)
    last_lon: Mapped[float | None] = mapped_column(Float, default=None)
    last_accuracy_m: Mapped[float | None] = mapped_column(Float, default=None)
    battery_pct: Mapped[float | None] = mapped_column(Float, default=None)
    battery_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    # Stock: what a coordinator recorded by hand ("in_stock", "defective", "lost").
    status: Mapped[str] = mapped_column(String(16), default="in_stock", server_default="in_stock")
    # The municipality whose stock the device is (CBS code); None while not assigned.
    municipality_code: Mapped[str | None] = mapped_column(
        ForeignKey("municipalities.code"), default=None, index=True
    )


class DeviceEvent(Base):
    """One event as the device reported it: evidence, stored once per (device, event_id)."""

    __tablename__ = "device_events"
    # The unique index is the idempotency guarantee; history queries add theirs when they come.
    __table_args__ = (UniqueConstraint("device_id", "event_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    event_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    accuracy_m: Mapped[float | None] = mapped_column(Float, default=None)
    battery_pct: Mapped[float | None] = mapped_column(Float, default=None)
    source: Mapped[str] = mapped_column(String(16), default="ingest")
    # Protocol extras (speed, bearing, altitude) kept as reported.
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
