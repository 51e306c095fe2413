"""Query and response models of the report endpoint (they also generate the OpenAPI)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

# A count as shown: an integer, or "<5" for 1 to 4 (small counts are suppressed).
Count = int | Literal["<5"]
CODE = r"^\d{4}$"


class ReportQuery(BaseModel):
    municipality: str | None = Field(
        default=None,
        pattern=CODE,
        description="CBS code; a municipality reviewer may ask for their own only",
    )
    region: str | None = Field(
        default=None,
        pattern=CODE,
        description=(
            "CBS code of a centrumgemeente: the whole region, with a comparison row per member "
            "(instead of `municipality`; for a reviewer of that centrumgemeente, or an admin)"
        ),
    )
    from_: dt.date = Field(alias="from", description="first local date (Europe/Amsterdam)")
    to: dt.date = Field(description="last local date, inclusive; at most three years after from")
    format: Literal["json", "csv"] = Field(
        default="json",
        description="csv: text/csv with one section per table (`# name` line, header, rows)",
    )


class Period(BaseModel):
    from_: str = Field(alias="from", serialization_alias="from")
    to: str


class Victims(BaseModel):
    """High-concern victims (current concern high, active at some point in the period)."""

    high_concern: Count
    with_active_device: Count = Field(description="of those: a connected allocation in the period")
    waiting: Count = Field(description="of those: on the waiting list at the end of the period")
    refused: Count = Field(description="of those: a refused decision in the period")
    refused_by_reason: dict[str, Count] = Field(
        description="refused decisions by reason; a free text used fewer than 5 times is "
        "counted as other and never shown"
    )
    never_applied: Count = Field(description="of those: no application before the period's end")


class LeadTime(BaseModel):
    n: Count
    median: float | None = Field(description="days; null when n is 0 or under 5")
    p90: float | None = Field(description="days; null when n is 0 or under 5")


class LeadTimes(BaseModel):
    """Applications made in the period: days to the (latest) decision and to connection."""

    application_to_decision: LeadTime
    application_to_connection: LeadTime


class Devices(BaseModel):
    """The stock now (not per period): owned by the municipalities (or linked to their cases)."""

    in_use: Count
    in_stock: Count
    defective: Count
    lost: Count


class Allocations(BaseModel):
    started: Count = Field(description="device connected in the period")
    ended: Count = Field(description="ended in the period")
    handed_over: Count = Field(description="handover to the wijkteam completed in the period")
    ended_by_reason: dict[str, Count]


class AlarmMonth(BaseModel):
    month: str = Field(description="YYYY-MM, calendar month in Europe/Amsterdam")
    type: str
    outcome: Literal["genuine", "false_alarm", "test", "technical"] | None = Field(
        description="null while the alarm is not resolved"
    )
    count: Count


class Acceptance(BaseModel):
    """BS 8484 acceptance over the period's alarms (test and device_offline left out; an alarm
    still open beyond a limit counts as late)."""

    counted: Count = Field(description="alarms counted for the 10 s limit")
    counted_40s: Count = Field(description="alarms counted for the 40 s limit")
    within_10s: Count
    within_40s: Count
    share_10s: float | None
    share_40s: float | None
    target_10s: float
    target_40s: float


class Referrer(BaseModel):
    organisation_type: str
    organisation: str = Field(description="the referring organisation's name (not a person)")
    count: Count


class Bans(BaseModel):
    active: Count = Field(description="in force at some point in the period")
    location: Count
    contact: Count
    violations: Count = Field(description="zone_violation and proximity_violation alarms")


class ComparisonRow(BaseModel):
    municipality: str
    name: str
    high_concern: Count
    with_active_device: Count
    waiting: Count
    applications: Count
    alarms: Count


class AllocationReportOut(BaseModel):
    """Municipality review figures: aggregates only, never a name, address, phone number or
    case reference; every count from 1 to 4 is shown as "<5"."""

    municipalities: list[str]
    period: Period
    generated_at: str = Field(description="RFC 3339 UTC")
    as_of: str = Field(description="the end of the period, or now if it is still to come")
    suppressed_below: int
    victims: Victims
    lead_times_days: LeadTimes
    devices: Devices
    allocations: Allocations
    alarms_by_month: list[AlarmMonth]
    acceptance: Acceptance
    applications_by_referrer: list[Referrer]
    bans: Bans
    comparison: list[ComparisonRow] = Field(description="one row per municipality asked for")
