"""Cases, their risk screenings, open actions, linked devices and bans."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from aware.crypto import EncryptedFloat, EncryptedString
from aware.db import Base, BigId, UTCDateTime

REFERRAL_SOURCES = ("police", "veilig_thuis", "vrouwenopvang", "other")
CASE_STATUSES = ("referred", "waiting", "active", "ended")
CONCERN_LEVELS = ("low", "moderate", "high")
DEVICE_ROLES = ("victim", "perpetrator")
BAN_KINDS = ("location", "contact")


class Case(Base):
    """The case behind a device: the victim, the perpetrator, the risk and the bans."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    municipality_code: Mapped[str] = mapped_column(String(4), index=True)
    status: Mapped[str] = mapped_column(String(16), default="referred")
    referral_source: Mapped[str] = mapped_column(String(16), default="police")
    # SASH has items that apply only when the stalker is a former intimate partner.
    ex_partner: Mapped[bool] = mapped_column(Boolean, default=True)
    victim_name: Mapped[str] = mapped_column(EncryptedString(200))
    victim_phone: Mapped[str | None] = mapped_column(EncryptedString(32), default=None)
    victim_address: Mapped[str | None] = mapped_column(EncryptedString(300), default=None)
    victim_home_lat: Mapped[float | None] = mapped_column(EncryptedFloat(), default=None)
    victim_home_lon: Mapped[float | None] = mapped_column(EncryptedFloat(), default=None)
    # Opt-in only (the perpetrator may hold her phone): an approach alarm texts the victim.
    victim_sms: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    perpetrator_name: Mapped[str | None] = mapped_column(EncryptedString(200), default=None)
    perpetrator_description: Mapped[str | None] = mapped_column(EncryptedString(2000), default=None)
    perpetrator_vehicle: Mapped[str | None] = mapped_column(EncryptedString(200), default=None)
    # The latest professional judgement, kept on the case for lists and filters.
    concern: Mapped[str | None] = mapped_column(String(16), default=None)
    reassess_due: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    eligible_aware: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Assessment(Base):
    """One risk screening: answers per instrument item and the professional concern level."""

    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    instrument_id: Mapped[str] = mapped_column(String(64))
    instrument_version: Mapped[str] = mapped_column(String(32))
    answers: Mapped[dict[str, str]] = mapped_column(JSON)
    concern: Mapped[str] = mapped_column(String(16))
    assessor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    assessor_name: Mapped[str] = mapped_column(String(128))
    organisation: Mapped[str | None] = mapped_column(String(32), default=None)
    assessed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reassess_due: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class CaseAction(Base):
    """Something that must be done for a case and stays visible until recorded as done."""

    __tablename__ = "case_actions"
    __table_args__ = (UniqueConstraint("case_id", "source_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    done_by: Mapped[str | None] = mapped_column(String(128), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    # Deadline, and when the scheduler sent its one reminder about it having passed.
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    # Set on actions the scheduler opens ("reassess:<due>", "ban_end:<ban id>"): unique per
    # case, so a job that runs twice (or twice at once) opens one action, not two.
    source_key: Mapped[str | None] = mapped_column(String(64), default=None)


class CaseDevice(Base):
    """A device linked to a case as the victim's alarm or the perpetrator's tracker.

    One active link per role per case and one active case per device (partial unique indexes);
    ended links stay as history.
    """

    __tablename__ = "case_devices"
    __table_args__ = (
        Index(
            "uq_case_devices_active_role",
            "case_id",
            "role",
            unique=True,
            sqlite_where=text("unlinked_at IS NULL"),
            postgresql_where=text("unlinked_at IS NULL"),
        ),
        Index(
            "uq_case_devices_active_device",
            "device_id",
            unique=True,
            sqlite_where=text("unlinked_at IS NULL"),
            postgresql_where=text("unlinked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    role: Mapped[str] = mapped_column(String(16))
    linked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    unlinked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class Ban(Base):
    """A contact ban (distance around the victim) or a location ban (fixed zones)."""

    __tablename__ = "bans"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    # GeoJSON as given (lon, lat): Polygon, MultiPolygon or Point + radius_m.
    zones: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)
    distance_m: Mapped[float | None] = mapped_column(Float, default=None)
    warning_margin_m: Mapped[float | None] = mapped_column(Float, default=None)
    valid_from: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    legal_basis: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class BanWatch(Base):
    """Debounce state of one ban check (a zone of a location ban, or a contact ban's distance):
    armed, or fired with the open alarm that later positions are added to."""

    __tablename__ = "ban_watches"

    ban_id: Mapped[int] = mapped_column(ForeignKey("bans.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="armed")
    open_alarm_id: Mapped[int | None] = mapped_column(ForeignKey("alarms.id"), default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class CaseCoordinator(Base):
    """A coordinator who works on the case: only they (and dispatch) see the victim's contact
    details; other coordinators see the case without them."""

    __tablename__ = "case_coordinators"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
