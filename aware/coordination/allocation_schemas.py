"""Request and response models of the allocation workflow (they also generate the OpenAPI)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from aware.devices.schemas import Strict

Concern = Literal["low", "moderate", "high"]
Outcome = Literal["granted", "refused", "waiting_list"]
EndReason = Literal[
    "risk_reduced", "perpetrator_detained", "moved", "victim_declined", "device_misuse", "other"
]
AllocationStatus = Literal["applied", "waiting_list", "refused", "granted", "active", "ended"]
Id = Field(ge=1)


class ApplicationCreate(Strict):
    organisation_id: int = Field(ge=1, description="the referring organisation (active)")
    reason: str = Field(min_length=1, max_length=4000)
    concern: Concern | None = Field(
        default=None, description="concern level now; default: the case's latest screening"
    )
    applied_at: AwareDatetime | None = Field(default=None, description="default: now")


class MemberIn(Strict):
    organisation_id: int = Field(ge=1)
    name: str | None = Field(default=None, max_length=200)


class DecisionCreate(Strict):
    decision: Outcome
    reasons: str | None = Field(
        default=None, max_length=4000, description="required for refused and waiting_list"
    )
    members: list[MemberIn] = Field(
        min_length=1, max_length=50, description="members of the indicatiecommissie present"
    )
    decided_at: AwareDatetime | None = Field(default=None, description="default: now")


class DeviceAssign(Strict):
    device_id: int = Field(ge=1, description="a victim_alarm not in use elsewhere")
    connected_at: AwareDatetime | None = Field(default=None, description="default: now")


class SupportSet(Strict):
    organisation_id: int = Field(ge=1)
    contact_person_id: int = Field(ge=1, description="a contact person of that organisation")


class ExtendIn(Strict):
    until: dt.date = Field(description="the new last day of the term (Europe/Amsterdam)")
    reason: str = Field(min_length=1, max_length=4000)


class HandoverIn(Strict):
    organisation_id: int = Field(ge=1, description="the local wijkteam (type wijkteam)")
    planned_on: dt.date


class EndIn(Strict):
    reason: EndReason
    note: str | None = Field(default=None, max_length=4000)
    handover: HandoverIn
    ended_at: AwareDatetime | None = Field(default=None, description="default: now")


class HandoverDone(Strict):
    note: str | None = Field(default=None, max_length=4000)


class ReviewDone(Strict):
    note: str | None = Field(default=None, max_length=4000)


class OrganisationRef(BaseModel):
    id: int
    name: str
    type: str


class ContactPersonRef(BaseModel):
    id: int
    name: str
    role: str | None
    phone: str | None
    email: str | None


class MemberOut(BaseModel):
    organisation: OrganisationRef
    name: str | None


class DecisionOut(BaseModel):
    id: int
    decision: Outcome
    reasons: str | None
    members: list[MemberOut]
    decided_at: dt.datetime
    recorded_by: str


class ApplicationOut(BaseModel):
    referring_organisation: OrganisationRef
    reason: str
    concern: Concern
    applied_at: dt.datetime
    applied_by: str


class DeviceOut(BaseModel):
    device_id: int
    serial: str
    connected_at: dt.datetime


class SupportOut(BaseModel):
    organisation: OrganisationRef
    contact_person: ContactPersonRef
    set_at: dt.datetime


class ExtensionOut(BaseModel):
    previous_ends_on: dt.date
    until: dt.date
    reason: str
    extended_at: dt.datetime
    extended_by: str


class ReviewOut(BaseModel):
    id: int
    due_on: dt.date
    due_at: dt.datetime
    done_at: dt.datetime | None
    done_by: str | None
    note: str | None


class TermOut(BaseModel):
    ends_on: dt.date = Field(description="last day of the term (Europe/Amsterdam)")
    ends_at: dt.datetime = Field(description="the instant the term ends")
    extensions: list[ExtensionOut]


class EndingOut(BaseModel):
    ended_at: dt.datetime
    reason: EndReason
    note: str | None
    ended_by: str


class HandoverOut(BaseModel):
    organisation: OrganisationRef
    planned_on: dt.date
    completed_at: dt.datetime | None
    completed_by: str | None
    action_id: int | None


class AllocationOut(BaseModel):
    id: int = Field(description="the application's id, also the allocation's")
    case_id: int
    status: AllocationStatus
    application: ApplicationOut
    decided_at: dt.datetime | None
    decisions: list[DecisionOut]
    support: SupportOut | None
    device: DeviceOut | None
    term: TermOut | None
    reviews: list[ReviewOut]
    ending: EndingOut | None
    handover: HandoverOut | None
    days_application_to_connection: float | None = Field(
        description="key figure: days from the application to the device's connection"
    )
    missing: list[str] = Field(
        description="what the chain still needs: decision, support, device, handover"
    )


class CaseAllocationOut(BaseModel):
    case_id: int
    current: AllocationOut | None = Field(description="the open application or allocation")
    history: list[AllocationOut] = Field(description="every application, newest first")
