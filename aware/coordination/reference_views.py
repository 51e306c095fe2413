"""Municipalities and partner organisations."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g

from aware.api import ApiError, parse_body, parse_query, registry
from aware.audit import services as audit
from aware.auth.access import roles_required
from aware.coordination import reference as services
from aware.coordination.reference_models import ContactPerson, Municipality, Organisation
from aware.coordination.reference_schemas import (
    ContactCreate,
    ContactOut,
    ContactUpdate,
    MunicipalityList,
    MunicipalityOut,
    MunicipalityQuery,
    OrganisationCreate,
    OrganisationList,
    OrganisationOut,
    OrganisationQuery,
)
from aware.state import db, now

api = Blueprint("reference_api", __name__, url_prefix="/api/v1")
EVERYONE = ("admin", "coordinator", "dispatcher", "municipality")
WRITE = ("coordinator", "admin")
READ = ("coordinator", "admin", "municipality")


@api.errorhandler(services.ReferenceError)
def _reference_error(exc: services.ReferenceError):  # type: ignore[no-untyped-def]
    codes = {404: "not_found", 409: "conflict", 422: "invalid_field"}
    fields = {exc.field: exc.message} if exc.field else {}
    return ApiError(exc.status, codes.get(exc.status, "error"), exc.message, fields).response()


def municipality_to_dict(m: Municipality) -> dict[str, Any]:
    return MunicipalityOut(
        code=m.code,
        name=m.name,
        province=m.province,
        centrumgemeente=m.centrumgemeente_code,
        is_centrumgemeente=m.centrumgemeente_code == m.code,
        active=m.active,
    ).model_dump(mode="json")


def contact_to_dict(c: ContactPerson) -> dict[str, Any]:
    return ContactOut(
        id=c.id,
        organisation_id=c.organisation_id,
        name=c.name,
        role=c.role,
        phone=c.phone,
        email=c.email,
        active=c.active,
    ).model_dump(mode="json")


def organisation_to_dict(o: Organisation, with_contacts: bool = False) -> dict[str, Any]:
    contacts = (
        [ContactOut.model_validate(contact_to_dict(c)) for c in services.contacts_of(db(), o.id)]
        if with_contacts
        else None
    )
    return OrganisationOut(
        id=o.id,
        name=o.name,
        type=o.type,  # type: ignore[arg-type]
        municipality=o.municipality_code,
        active=o.active,
        created_at=o.created_at,
        contacts=contacts,
    ).model_dump(mode="json", exclude_none=not with_contacts)


# --- municipalities -----------------------------------------------------------------------


@registry.route(
    api,
    "/municipalities",
    "GET",
    summary="Dutch municipalities (CBS codes); ?region=CODE gives a centrumgemeente's region",
    tag="reference",
    roles=EVERYONE,
    query=MunicipalityQuery,
    responses={200: ("municipalities by name", MunicipalityList)},
)
@roles_required(*EVERYONE)
def list_municipalities():  # type: ignore[no-untyped-def]
    q = parse_query(MunicipalityQuery)
    found = services.list_municipalities(db(), q.region, q.active)
    return {"municipalities": [municipality_to_dict(m) for m in found]}


@registry.route(
    api,
    "/municipalities/<code>",
    "GET",
    summary="One municipality by CBS code",
    tag="reference",
    roles=EVERYONE,
    responses={200: ("municipality", MunicipalityOut), 404: ("unknown code", None)},
)
@roles_required(*EVERYONE)
def get_municipality(code: str):  # type: ignore[no-untyped-def]
    return municipality_to_dict(services.get_municipality(db(), code))


# --- organisations ------------------------------------------------------------------------


@registry.route(
    api,
    "/organisations",
    "POST",
    summary="Register a partner organisation (police, vrouwenopvang, Veilig Thuis, ...)",
    tag="reference",
    roles=WRITE,
    request=OrganisationCreate,
    responses={201: ("organisation", OrganisationOut), 409: ("exists", None)},
)
@roles_required(*WRITE)
def create_organisation():  # type: ignore[no-untyped-def]
    body = parse_body(OrganisationCreate)
    org = services.create_organisation(db(), body.name, body.type, body.municipality, now())
    return organisation_to_dict(org, with_contacts=True), 201


@registry.route(
    api,
    "/organisations",
    "GET",
    summary="Partner organisations (filter by type and municipality)",
    tag="reference",
    roles=READ,
    query=OrganisationQuery,
    responses={200: ("organisations by name", OrganisationList)},
)
@roles_required(*READ)
def list_organisations():  # type: ignore[no-untyped-def]
    q = parse_query(OrganisationQuery)
    found = services.list_organisations(db(), q.type, q.municipality)
    return {"organisations": [organisation_to_dict(o) for o in found]}


@registry.route(
    api,
    "/organisations/<int:org_id>",
    "GET",
    summary="One organisation with its contact persons",
    tag="reference",
    roles=READ,
    responses={200: ("organisation", OrganisationOut), 404: ("unknown", None)},
)
@roles_required(*READ)
def get_organisation(org_id: int):  # type: ignore[no-untyped-def]
    out = organisation_to_dict(services.get_organisation(db(), org_id), with_contacts=True)
    # Contact persons' phone and e-mail are personal data too.
    audit.access(db(), g.user, "organisation.read", object_type="organisation", object_id=org_id)
    return out


@registry.route(
    api,
    "/organisations/<int:org_id>/contacts",
    "POST",
    summary="Add a fixed contact person to an organisation",
    tag="reference",
    roles=WRITE,
    request=ContactCreate,
    responses={201: ("contact person", ContactOut), 404: ("unknown organisation", None)},
)
@roles_required(*WRITE)
def add_contact(org_id: int):  # type: ignore[no-untyped-def]
    services.get_organisation(db(), org_id)
    body = parse_body(ContactCreate)
    contact = services.add_contact(db(), org_id, body.model_dump())
    return contact_to_dict(contact), 201


@registry.route(
    api,
    "/organisations/<int:org_id>/contacts/<int:contact_id>",
    "PATCH",
    summary="Change a contact person (active=false takes them off the list)",
    tag="reference",
    roles=WRITE,
    request=ContactUpdate,
    responses={200: ("contact person", ContactOut), 404: ("unknown", None)},
)
@roles_required(*WRITE)
def update_contact(org_id: int, contact_id: int):  # type: ignore[no-untyped-def]
    services.get_contact(db(), org_id, contact_id)
    body = parse_body(ContactUpdate)
    values = body.model_dump(exclude_unset=True)
    if values.get("name", "") is None or values.get("active", False) is None:
        field = "name" if "name" in values and values["name"] is None else "active"
        raise ApiError(422, "invalid_field", "may not be null", {field: "may not be null"})
    contact = services.update_contact(db(), org_id, contact_id, values)
    return contact_to_dict(contact)


@registry.route(
    api,
    "/organisations/<int:org_id>/contacts/<int:contact_id>",
    "DELETE",
    summary="Take a contact person off the list (kept as inactive for the history)",
    tag="reference",
    roles=WRITE,
    responses={200: ("the contact person, inactive", ContactOut), 404: ("unknown", None)},
)
@roles_required(*WRITE)
def deactivate_contact(org_id: int, contact_id: int):  # type: ignore[no-untyped-def]
    return contact_to_dict(services.deactivate_contact(db(), org_id, contact_id))
