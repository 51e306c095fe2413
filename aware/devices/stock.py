"""Device stock: which devices a municipality holds and what state each is in.

`devices.status` holds what a coordinator recorded by hand: "in_stock", "defective" or "lost".
"in_use" is never stored; it is derived from the links: a device that a case holds an active
link to (case_devices.unlinked_at IS NULL) is in use. Links are made and ended in several use
cases (risk.services.link_device, the allocation's connection and swap, its ending), so deriving
keeps one source of truth that cannot drift. A device recorded as defective or lost stays
defective or lost even while still linked (the alarm broke or went missing in use: it protects
nobody until it is swapped).

Reports and lists use `effective_status()`, one SQL expression, so figures are computed in the
database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, exists, func, select
from sqlalchemy.orm import Session

from aware.coordination.reference import municipality_exists, municipality_problem
from aware.devices.models import DEVICE_STATUSES, Device
from aware.risk.models import CaseDevice

# Statuses a coordinator may record; "in_use" follows from linking the device to a case.
MANUAL_STATUSES = ("in_stock", "defective", "lost")


class StockError(Exception):
    """A stock change refused; `status` is the HTTP answer, `field` the input named."""

    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def _linked() -> Any:
    """SQL: the device row has an active case link."""
    return exists().where(CaseDevice.device_id == Device.id, CaseDevice.unlinked_at.is_(None))


def effective_status() -> Any:
    """SQL expression: the device's stock status with "in_use" derived from active links."""
    return case(
        (Device.status.in_(("defective", "lost")), Device.status),
        (_linked(), "in_use"),
        else_="in_stock",
    )


def status_of(session: Session, device_id: int) -> str:
    """The effective stock status of one device."""
    return str(session.scalar(select(effective_status()).where(Device.id == device_id)))


def list_devices(
    session: Session, status: str | None = None, municipality: str | None = None
) -> list[tuple[Device, str]]:
    """Devices (newest first) with their effective status, filtered by status and owner."""
    if municipality is not None and not municipality_exists(session, municipality):
        raise StockError(422, f"unknown CBS municipality code {municipality!r}", "municipality")
    eff = effective_status().label("effective_status")
    query = select(Device, eff).order_by(Device.id.desc())
    if status is not None:
        query = query.where(eff == status)
    if municipality is not None:
        query = query.where(Device.municipality_code == municipality)
    return [(d, str(s)) for d, s in session.execute(query)]


def update_stock(session: Session, device_id: int, changes: dict[str, Any]) -> tuple[Device, str]:
    """Record a device's stock status and/or owning municipality (one commit, or none).

    `changes` may hold "status" and "municipality" (a CBS code, or None to unassign). Refused:
    "in_use" by hand (409: it follows from a case link), "in_stock" for a device a case still
    holds (409), an unknown or merged municipality (422).
    """
    device = session.get(Device, device_id)
    if device is None:
        raise StockError(404, f"no device {device_id}")
    status = changes.get("status")
    if status is not None and status not in DEVICE_STATUSES:
        raise StockError(422, f"unknown status {status!r}", "status")
    if status == "in_use":
        raise StockError(
            409,
            "in_use cannot be set by hand: a device is in use while it is linked to a case",
            "status",
        )
    if "municipality" in changes and changes["municipality"] is not None:
        problem = municipality_problem(session, str(changes["municipality"]))
        if problem:
            raise StockError(422, problem, "municipality")
    if status == "in_stock":
        link = session.scalar(
            select(CaseDevice).where(
                CaseDevice.device_id == device_id, CaseDevice.unlinked_at.is_(None)
            )
        )
        if link is not None:
            raise StockError(
                409,
                f"device {device_id} is linked to case {link.case_id}: unlink it first",
                "status",
            )
    if status is not None:
        device.status = status
    if "municipality" in changes:
        device.municipality_code = changes["municipality"]
    session.commit()
    return device, status_of(session, device_id)


def stock_counts(session: Session, municipalities: Sequence[str]) -> dict[str, int]:
    """Devices owned by these municipalities per effective status (every status, 0 if none)."""
    # Grouped in an outer query: PostgreSQL refuses a GROUP BY over a correlated subquery.
    owned = (
        select(effective_status().label("status"))
        .where(Device.municipality_code.in_(list(municipalities)))
        .subquery()
    )
    rows = session.execute(select(owned.c.status, func.count()).group_by(owned.c.status))
    counts = dict.fromkeys(DEVICE_STATUSES, 0)
    for status, n in rows:
        counts[str(status)] = int(n)
    return counts
