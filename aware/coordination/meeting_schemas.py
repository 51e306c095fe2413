"""Request and response models of meetings (they also generate the OpenAPI)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, get_args

from pydantic import (
    BaseModel,
    Field,
    PlainValidator,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from aware.devices.schemas import Strict

OrganisationType = Literal[
    "police", "vrouwenopvang", "veilig_thuis", "om", "reclassering", "wijkteam", "other"
]
ORGANISATION_TYPE_NAMES: tuple[str, ...] = get_args(OrganisationType)


def _organisation_ref(value: object) -> str | int:
    """An organisation type ("police") or an organisation id (1): one error, not two."""
    if isinstance(value, str):
        if value not in ORGANISATION_TYPE_NAMES:
            raise ValueError(
                f"unknown organisation type {value!r}; known: {', '.join(ORGANISATION_TYPE_NAMES)}"
            )
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ValueError("expected an organisation type or an organisation id")


OrganisationRef = Annotated[
    str | int,
    PlainValidator(_organisation_ref),
    WithJsonSchema(
        {"anyOf": [{"enum": list(ORGANISATION_TYPE_NAMES)}, {"type": "integer", "minimum": 1}]}
    ),
]
MeetingStatus = Literal["scheduled", "proposed", "confirmed", "cancelled"]
DecisionKind = Literal["allocate", "extend", "withdraw", "end"]

START_LOCAL = Field(
    min_length=16,
    max_length=19,
    description="naive Europe/Amsterdam wall time, e.g. 2027-03-01T14:00 (no offset). A time "
    "skipped when the clocks go forward is refused; an ambiguous time in the October night "
    "means its first (summer time) instance; an occurrence falling in the spring gap moves "
    "an hour later",
)


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("each organisation type once")
    return values


class SeriesCreate(Strict):
    municipality: str = Field(
        pattern=r"^\d{4}$", description="CBS code of the chairing municipality"
    )
    title: str = Field(min_length=1, max_length=200)
    rrule: str = Field(
        min_length=1,
        max_length=500,
        description='RFC 5545 RRULE value, e.g. "FREQ=WEEKLY;BYDAY=MO"; DAILY at most, COUNT '
        "or UNTIL (UTC, or a date) allowed",
    )
    start_local: str = START_LOCAL
    duration_min: int = Field(ge=15, le=480)
    organisations: list[OrganisationType] = Field(min_length=1, max_length=7)
    region: bool = Field(
        default=False,
        description="also for every municipality whose centrumgemeente this municipality is",
    )

    _orgs = field_validator("organisations")(_unique)


class SeriesOut(BaseModel):
    id: int
    municipality: str
    region: bool
    title: str
    rrule: str
    start_local: str
    timezone: Literal["Europe/Amsterdam"] = "Europe/Amsterdam"
    duration_min: int
    organisations: list[str]
    materialized_until: dt.datetime
    meetings: int = Field(description="occurrences created so far")
    created_at: dt.datetime


class MeetingOut(BaseModel):
    id: int
    series_id: int | None
    municipality: str
    region: bool
    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    start_local: str = Field(description="Europe/Amsterdam wall time")
    urgent: bool
    status: MeetingStatus
    moved: bool
    organisations: list[str]
    has_minutes: bool
    cancel_reason: str | None


class MeetingList(BaseModel):
    meetings: list[MeetingOut]


class MeetingListQuery(BaseModel):
    municipality: str | None = Field(
        default=None,
        pattern=r"^\d{4}$",
        description="its own meetings and the meetings of its region",
    )
    from_: dt.date | None = Field(
        default=None, alias="from", description="first local date (default today)"
    )
    to: dt.date | None = Field(default=None, description="last local date, inclusive")
    urgent: bool | None = None


class MeetingMove(Strict):
    start_local: str = START_LOCAL
    duration_min: int | None = Field(default=None, ge=15, le=480)


class MeetingCancel(Strict):
    reason: str = Field(min_length=1, max_length=1000)


class AgendaItem(BaseModel):
    group: int = Field(
        description="MARAC order: 0 opening, 1 open actions, 2 new high-risk "
        "cases and applications, 3 reviews and extensions, 4 endings, handovers"
    )
    section: str
    case_id: int | None
    reference: str | None = None
    concern: str | None = None
    detail: dict[str, object] = Field(default_factory=dict)


class AgendaOut(BaseModel):
    meeting_id: int
    municipalities: list[str]
    items: list[AgendaItem]


class Attendance(Strict):
    organisation: OrganisationRef = Field(description="organisation type or id")
    present: bool


class Decision(Strict):
    kind: DecisionKind
    case_id: int = Field(ge=1)
    text: str = Field(min_length=1, max_length=4000)


class Owner(Strict):
    organisation: OrganisationRef | None = Field(
        default=None, description="organisation type or id"
    )
    contact_id: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one(self) -> Owner:
        if (self.organisation is None) == (self.contact_id is None):
            raise ValueError("give an organisation or a contact_id")
        return self


class ActionIn(Strict):
    case_id: int = Field(ge=1)
    title: str = Field(min_length=1, max_length=200)
    owner: Owner
    deadline: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="local date")

    @field_validator("deadline")
    @classmethod
    def _date(cls, value: str) -> str:
        dt.date.fromisoformat(value)
        return value


class ActionReview(Strict):
    action_id: int = Field(ge=1)
    done: bool
    reason: str | None = Field(default=None, max_length=2000)


class MinutesIn(Strict):
    attendance: list[Attendance] = Field(min_length=1, max_length=100)
    decisions: list[Decision] = Field(default_factory=list, max_length=200)
    actions: list[ActionIn] = Field(default_factory=list, max_length=200)
    open_actions: list[ActionReview] = Field(
        default_factory=list,
        max_length=500,
        description="every open action on the agenda: done, or a reason why not",
    )
    notes: str | None = Field(default=None, max_length=20000)


class MinutesActionOut(BaseModel):
    id: int
    case_action_id: int
    case_id: int
    title: str
    owner: dict[str, object]
    deadline: dt.date


class MinutesOut(BaseModel):
    meeting_id: int
    version: int
    attendance: list[dict[str, object]]
    decisions: list[dict[str, object]]
    actions: list[MinutesActionOut]
    open_actions: list[dict[str, object]]
    notes: str | None
    recorded_at: dt.datetime
    recorded_by: str
    updated_at: dt.datetime
    updated_by: str
