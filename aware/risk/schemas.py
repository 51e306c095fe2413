"""Request and response models of cases, screenings and bans (they also generate the OpenAPI)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from aware.devices.schemas import Strict

ReferralSource = Literal["police", "veilig_thuis", "vrouwenopvang", "other"]
CaseStatus = Literal["referred", "waiting", "active", "ended"]
Concern = Literal["low", "moderate", "high"]
Answer = Literal["yes", "no", "unknown"]
CBS = Field(pattern=r"^\d{4}$", description="4-digit CBS municipality code, e.g. 0344")


class HomePoint(Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class VictimIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    address: str | None = Field(default=None, max_length=300)
    home: HomePoint | None = Field(default=None, description="fallback point for contact bans")


class PerpetratorIn(Strict):
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    vehicle: str | None = Field(default=None, max_length=200)


class CaseCreate(Strict):
    reference: str = Field(min_length=1, max_length=64)
    municipality: str = CBS
    victim: VictimIn
    perpetrator: PerpetratorIn | None = None
    referral_source: ReferralSource = "police"
    status: CaseStatus = "referred"
    ex_partner: bool = True


class CaseUpdate(Strict):
    status: CaseStatus | None = None
    municipality: str | None = Field(default=None, pattern=r"^\d{4}$")
    victim: VictimIn | None = None
    perpetrator: PerpetratorIn | None = None
    referral_source: ReferralSource | None = None
    ex_partner: bool | None = None


class ActionOut(BaseModel):
    id: int
    kind: str
    title: str
    opened_at: dt.datetime
    done_at: dt.datetime | None
    done_by: str | None


class CaseDeviceOut(BaseModel):
    device_id: int
    role: Literal["victim", "perpetrator"]
    linked_at: dt.datetime
    unlinked_at: dt.datetime | None


class CaseOut(BaseModel):
    id: int
    reference: str
    municipality: str
    status: CaseStatus
    referral_source: ReferralSource
    ex_partner: bool
    victim: dict[str, Any]
    perpetrator: dict[str, Any]
    concern: Concern | None
    reassess_due: dt.datetime | None
    eligible_aware: bool
    victim_sms: bool = Field(
        default=False,
        description="opt-in: an approach alarm (proximity_warning/violation) texts the victim a "
        "short safety message; off by default (the perpetrator may hold her phone)",
    )
    open_actions: list[ActionOut]
    devices: list[CaseDeviceOut]
    created_at: dt.datetime
    updated_at: dt.datetime


class VictimNotificationIn(Strict):
    sms: bool = Field(description="text the victim when the perpetrator approaches")


class CaseList(BaseModel):
    cases: list[CaseOut]


class CaseListQuery(BaseModel):
    municipality: str | None = Field(default=None, pattern=r"^\d{4}$")
    status: CaseStatus | None = None
    concern: Concern | None = None
    limit: int = Field(default=200, ge=1, le=1000)


class AssessmentCreate(Strict):
    instrument: str = Field(min_length=1, max_length=64)
    answers: dict[str, Answer]
    concern: Concern
    assessed_at: AwareDatetime | None = None
    organisation: str | None = Field(default=None, max_length=32)


class AssessmentOut(BaseModel):
    id: int
    case_id: int
    instrument: str
    instrument_version: str
    concern: Concern
    reassess_due: dt.datetime
    assessed_at: dt.datetime
    assessor: str
    eligible_aware: bool


class LinkDevice(Strict):
    device_id: int = Field(ge=1)
    role: Literal["victim", "perpetrator"]


class ActionDone(Strict):
    note: str | None = Field(default=None, max_length=4000)


class BanCreate(Strict):
    kind: Literal["location", "contact"]
    zones: list[dict[str, Any]] | None = Field(
        default=None,
        max_length=10000,
        description="GeoJSON Polygon or MultiPolygon (lon, lat), or a circle: "
        '{"type": "Point", "coordinates": [lon, lat], "radius_m": r}',
    )
    distance_m: float | None = Field(default=None, description="contact ban: distance in metres")
    warning_margin_m: float | None = Field(
        default=None, ge=0, le=100_000, description="default: equal to the distance"
    )
    valid_from: AwareDatetime
    valid_until: AwareDatetime
    legal_basis: str = Field(min_length=1, max_length=200, description='e.g. "509hh Sv"')


class BanOut(BaseModel):
    id: int
    case_id: int
    kind: Literal["location", "contact"]
    zones: list[dict[str, Any]] | None
    distance_m: float | None
    warning_margin_m: float | None
    valid_from: dt.datetime
    valid_until: dt.datetime
    legal_basis: str
    warnings: list[str]


class BanFeatureCollection(BaseModel):
    """Bans for the console map: GeoJSON (lon, lat)."""

    model_config = ConfigDict(extra="allow")
    type: Literal["FeatureCollection"]
    features: list[dict[str, Any]]
