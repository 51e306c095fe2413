"""Municipalities (CBS codes, regions) and partner organisations with fixed contact persons.

Municipalities are reference data: a fresh database knows every Dutch municipality (loaded by
migration 0005 from the shipped CBS list) and an admin command loads CBS's current list.
A municipality that disappears after a merger stays (cases refer to it) but is marked inactive.
The region is the one of the centrumgemeente for women's shelter and Veilig Thuis: that
centrumgemeente sees its region's aggregates.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, String, true
from sqlalchemy.orm import Mapped, mapped_column

from aware.crypto import EncryptedString
from aware.db import Base, BigId, UTCDateTime

ORGANISATION_TYPES = (
    "police",
    "vrouwenopvang",
    "veilig_thuis",
    "om",
    "reclassering",
    "wijkteam",
    "other",
)


class Municipality(Base):
    __tablename__ = "municipalities"

    code: Mapped[str] = mapped_column(String(4), primary_key=True)  # CBS code, e.g. "0344"
    name: Mapped[str] = mapped_column(String(100))
    province: Mapped[str | None] = mapped_column(String(50), default=None)
    # The centrumgemeente of its region (women's shelter / Veilig Thuis); itself for one.
    centrumgemeente_code: Mapped[str | None] = mapped_column(
        ForeignKey("municipalities.code"), default=None, index=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class Organisation(Base):
    """A partner organisation (police unit, shelter, Veilig Thuis, wijkteam, ...)."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16), index=True)
    municipality_code: Mapped[str | None] = mapped_column(
        ForeignKey("municipalities.code"), default=None, index=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ContactPerson(Base):
    """A fixed contact person of an organisation (chains break without them)."""

    __tablename__ = "contact_persons"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(100), default=None)
    phone: Mapped[str | None] = mapped_column(EncryptedString(32), default=None)
    email: Mapped[str | None] = mapped_column(EncryptedString(200), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
