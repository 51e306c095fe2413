"""Request and response models of municipalities and organisations (they also make the OpenAPI)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from aware.devices.schemas import Strict

OrganisationType = Literal[
    "police", "vrouwenopvang", "veilig_thuis", "om", "reclassering", "wijkteam", "other"
]
CBS_PATTERN = r"^\d{4}$"
E164 = r"^\+[1-9]\d{6,14}$"
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class MunicipalityOut(BaseModel):
    code: str = Field(description="4-digit CBS code, e.g. 0344")
    name: str
    province: str | None
    centrumgemeente: str | None = Field(
        description="CBS code of the centrumgemeente of its women's shelter / Veilig Thuis "
        "region (itself for a centrumgemeente); null where not known"
    )
    is_centrumgemeente: bool
    active: bool = Field(description="false once CBS no longer lists it (merged)")


class MunicipalityList(BaseModel):
    municipalities: list[MunicipalityOut]


class MunicipalityQuery(BaseModel):
    region: str | None = Field(
        default=None, pattern=CBS_PATTERN, description="a centrumgemeente's CBS code"
    )
    active: bool | None = None


class OrganisationCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    type: OrganisationType
    municipality: str | None = Field(default=None, pattern=CBS_PATTERN)


class ContactCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    role: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, pattern=E164, description="E.164, e.g. +31612345678")
    email: str | None = Field(default=None, max_length=200, pattern=EMAIL)


class ContactUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    role: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, pattern=E164)
    email: str | None = Field(default=None, max_length=200, pattern=EMAIL)
    active: bool | None = Field(default=None, description="false takes the person off the list")


class ContactOut(BaseModel):
    id: int
    organisation_id: int
    name: str
    role: str | None
    phone: str | None
    email: str | None
    active: bool


class OrganisationOut(BaseModel):
    id: int
    name: str
    type: OrganisationType
    municipality: str | None
    active: bool
    created_at: dt.datetime
    contacts: list[ContactOut] | None = Field(
        default=None, description="its contact persons (active first); only on the single read"
    )


class OrganisationList(BaseModel):
    organisations: list[OrganisationOut]


class OrganisationQuery(BaseModel):
    type: OrganisationType | None = None
    municipality: str | None = Field(default=None, pattern=CBS_PATTERN)
