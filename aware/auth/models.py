"""People and their bearer tokens."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from aware.crypto import EncryptedString
from aware.db import Base, BigId, UTCDateTime

ROLES = ("admin", "coordinator", "dispatcher", "municipality")


class User(Base):
    """A person who signs in: admin, coordinator, dispatcher or municipality reviewer."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    # CBS code of the municipality a municipality reviewer belongs to.
    municipality_code: Mapped[str | None] = mapped_column(String(4), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # Lockout, kept in the database so every web process counts the same attempts:
    # failures since `failed_since` (reset once that is older than the lockout window).
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    # TOTP second factor (RFC 6238): the base32 secret, encrypted at rest, and the last
    # accepted time step, so a code is accepted once.
    totp_secret: Mapped[str | None] = mapped_column(EncryptedString(64), default=None)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, default=None)


class ApiToken(Base):
    """An expiring bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
