"""Request and response models of devices and ingestion (they also generate the OpenAPI)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

EventType = Literal["sos", "position", "heartbeat", "battery_low", "tamper", "test"]
DeviceKind = Literal["victim_alarm", "perpetrator_tracker"]
DeviceStatus = Literal["in_stock", "in_use", "defective", "lost"]

MAX_BATCH = 1000


class Strict(BaseModel):
    """JSON-mode strict models: a number is not a string, a string is not a number."""

    model_config = ConfigDict(strict=True, extra="ignore")


class PositionIn(Strict):
    # Finite numbers only: NaN or Infinity never reach the database (or a distance).
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, description="WGS84 latitude in degrees")
    lon: float = Field(
        ge=-180, le=180, allow_inf_nan=False, description="WGS84 longitude in degrees"
    )
    accuracy_m: float | None = Field(
        default=None,
        ge=0,
        le=1_000_000,
        allow_inf_nan=False,
        description="radius of the 68% confidence circle",
    )


class EventIn(Strict):
    """One device event."""

    event_id: str = Field(min_length=1, max_length=64, description="unique per device")
    type: EventType
    occurred_at: AwareDatetime = Field(description="device clock, RFC 3339 with offset")
    position: PositionIn | None = None
    battery_pct: float | None = Field(default=None, ge=0, le=100, allow_inf_nan=False)

    @model_validator(mode="after")
    def _position_events_carry_a_position(self) -> EventIn:
        if self.type == "position" and self.position is None:
            raise ValueError("a position event needs a position")
        return self


class EventBatchIn(Strict):
    """A device's store-and-forward buffer."""

    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH)


class RejectedEvent(BaseModel):
    """An event of the request that was not stored, and why."""

    index: int = Field(description="position of the event in the request (0 for a single event)")
    event_id: str | None = Field(description="its event_id; null when missing or unusable")
    fields: dict[str, str] = Field(description="field path -> what is wrong with it")


class IngestOut(BaseModel):
    """What a device is told: counts of its own events and its own alarms, nothing else.

    An alarm event (sos, tamper, battery_low, test) is never refused for a bad field: a bad
    position or battery value is dropped and a bad clock replaced by the receive time, marked
    on the event and on the alarm's timeline. Other events with a bad field are rejected.
    """

    accepted: int = Field(description="events stored by this request")
    duplicates: int = Field(description="events this device had sent before (stored once)")
    rejected: list[RejectedEvent] = Field(
        default_factory=list,
        description="events not stored because a field is invalid (the others were stored)",
    )
    alarm_ids: list[int] = Field(
        description="alarms raised by this request's own alarm events (sos, tamper, "
        "battery_low, test), also when re-sent; never alarms of ban checks; always empty for a "
        "perpetrator tracker (ids are global: their gaps would reveal other alarms)"
    )


class DeviceCreate(Strict):
    serial: str = Field(min_length=1, max_length=64)
    kind: DeviceKind


class DeviceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    serial: str
    kind: DeviceKind
    active: bool
    created_at: dt.datetime
    deactivated_at: dt.datetime | None
    last_seen_at: dt.datetime | None
    last_position_at: dt.datetime | None
    battery_pct: float | None
    status: DeviceStatus = Field(
        description='stock status; "in_use" while a case holds an active link to the device'
    )
    municipality: str | None = Field(description="CBS code of the municipality whose stock it is")


class DeviceCreated(BaseModel):
    id: int
    serial: str
    kind: DeviceKind
    token: str = Field(description="shown this once; stored only as a hash")


class DeviceList(BaseModel):
    devices: list[DeviceOut]


class DeviceListQuery(BaseModel):
    """Filters of the device list."""

    status: DeviceStatus | None = None
    municipality: str | None = Field(default=None, pattern=r"^\d{4}$")


class DeviceStockUpdate(Strict):
    """A stock change. "in_use" cannot be set by hand (409): it follows from a case link."""

    status: DeviceStatus | None = None
    municipality: str | None = Field(
        default=None, pattern=r"^\d{4}$", description="CBS code; null takes it out of any stock"
    )
