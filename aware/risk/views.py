"""Case endpoints: cases, screenings, actions, device links, bans (and their map data)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, g
from pydantic import Field

from aware.api import ApiError, parse_body, parse_query, registry
from aware.audit import services as audit
from aware.auth.access import roles_required
from aware.devices.schemas import Strict
from aware.risk import checks, geometry, rules, services
from aware.risk.models import Ban, Case
from aware.risk.schemas import (
    ActionDone,
    ActionOut,
    AssessmentCreate,
    AssessmentOut,
    BanCreate,
    BanFeatureCollection,
    BanOut,
    CaseCreate,
    CaseDeviceOut,
    CaseList,
    CaseListQuery,
    CaseOut,
    CaseUpdate,
    LinkDevice,
    VictimNotificationIn,
)
from aware.state import db, now, state

api = Blueprint("risk_api", __name__, url_prefix="/api/v1")
WRITE = ("coordinator", "admin")
READ = ("coordinator", "admin", "dispatcher")


@api.errorhandler(services.CaseError)
def _case_error(exc: services.CaseError):  # type: ignore[no-untyped-def]
    return _error(exc).response()


def _error(exc: services.CaseError) -> ApiError:
    codes = {404: "not_found", 409: "conflict", 422: "invalid_field"}
    fields = {exc.field: exc.message} if exc.field else {}
    return ApiError(exc.status, codes.get(exc.status, "error"), exc.message, fields)


def sees_contact(case_id: int) -> bool:
    """Need to know: dispatch, admins and the case's own coordinators see the victim's phone,
    address and home point; other coordinators see the case without them."""
    user = g.user
    if user.role in ("dispatcher", "admin"):
        return True
    return user.role == "coordinator" and user.id in services.coordinator_ids(db(), case_id)


def _case_writer(case_id: int) -> None:
    """404 for an unknown case; 403 unless an admin or one of the case's coordinators."""
    services.get_case(db(), case_id)
    if g.user.role != "admin" and g.user.id not in services.coordinator_ids(db(), case_id):
        raise ApiError(403, "forbidden", "only the case's coordinators (or an admin) may do this")


def case_to_dict(case: Case) -> dict[str, Any]:
    """The case as the API shows it to the signed-in person (see sees_contact)."""
    session = db()
    contact = sees_contact(case.id)
    actions = services.open_actions(session, case.id)
    links = services.case_devices(session, case.id)
    home = (
        {"lat": case.victim_home_lat, "lon": case.victim_home_lon}
        if case.victim_home_lat is not None and case.victim_home_lon is not None
        else None
    )
    return CaseOut(
        id=case.id,
        reference=case.reference,
        municipality=case.municipality_code,
        status=case.status,  # type: ignore[arg-type]
        referral_source=case.referral_source,  # type: ignore[arg-type]
        ex_partner=case.ex_partner,
        victim={
            "name": case.victim_name,
            "phone": case.victim_phone if contact else None,
            "address": case.victim_address if contact else None,
            "home": home if contact else None,
            "contact_redacted": not contact,
        },
        perpetrator={
            "name": case.perpetrator_name,
            "description": case.perpetrator_description,
            "vehicle": case.perpetrator_vehicle,
        },
        concern=case.concern,  # type: ignore[arg-type]
        reassess_due=case.reassess_due,
        eligible_aware=case.eligible_aware,
        victim_sms=case.victim_sms,
        open_actions=[
            ActionOut(
                id=a.id,
                kind=a.kind,
                title=a.title,
                opened_at=a.opened_at,
                done_at=a.done_at,
                done_by=a.done_by,
            )
            for a in actions
        ],
        devices=[
            CaseDeviceOut(
                device_id=d.device_id,
                role=d.role,  # type: ignore[arg-type]
                linked_at=d.linked_at,
                unlinked_at=d.unlinked_at,
            )
            for d in links
        ],
        created_at=case.created_at,
        updated_at=case.updated_at,
    ).model_dump(mode="json")


@registry.route(
    api,
    "/cases",
    "POST",
    summary="Register a case",
    tag="cases",
    roles=WRITE,
    request=CaseCreate,
    responses={201: ("case", CaseOut), 409: ("reference exists", None)},
)
@roles_required(*WRITE)
def create_case():  # type: ignore[no-untyped-def]
    body = parse_body(CaseCreate)
    creator = g.user.id if g.user.role == "coordinator" else None
    case = services.create_case(db(), body, now(), creator)
    audit.access(db(), g.user, audit.CASE_CREATE, case_id=case.id)
    return case_to_dict(case), 201


@registry.route(
    api,
    "/cases",
    "GET",
    summary="List cases (filter by municipality, status, concern)",
    tag="cases",
    roles=WRITE,
    query=CaseListQuery,
    responses={200: ("cases", CaseList)},
)
@roles_required(*WRITE)
def list_cases():  # type: ignore[no-untyped-def]
    q = parse_query(CaseListQuery)
    cases = services.list_cases(db(), q.municipality, q.status, q.concern, q.limit)
    audit.access(db(), g.user, audit.CASE_LIST, object_type="cases", case_ids=[c.id for c in cases])
    return {"cases": [case_to_dict(c) for c in cases]}


@registry.route(
    api,
    "/cases/<int:case_id>",
    "GET",
    summary="One case",
    tag="cases",
    roles=READ,
    responses={200: ("case", CaseOut), 404: ("unknown case", None)},
)
@roles_required(*READ)
def get_case(case_id: int):  # type: ignore[no-untyped-def]
    case = services.get_case(db(), case_id)
    audit.access(
        db(), g.user, audit.CASE_READ, case_id=case_id, detail={"contact": sees_contact(case_id)}
    )
    return case_to_dict(case)


@registry.route(
    api,
    "/cases/<int:case_id>",
    "PATCH",
    summary="Update a case",
    tag="cases",
    roles=WRITE,
    request=CaseUpdate,
    responses={200: ("case", CaseOut), 404: ("unknown case", None)},
)
@roles_required(*WRITE)
def update_case(case_id: int):  # type: ignore[no-untyped-def]
    _case_writer(case_id)
    body = parse_body(CaseUpdate)
    case = services.update_case(db(), case_id, body, now())
    audit.access(
        db(),
        g.user,
        audit.CASE_UPDATE,
        case_id=case_id,
        detail={"fields": audit.changed_fields(body)},
    )
    return case_to_dict(case)


@registry.route(
    api,
    "/cases/<int:case_id>/victim-notification",
    "PUT",
    summary="Switch the victim's approach SMS on or off (opt-in; on needs her phone number)",
    tag="cases",
    roles=WRITE,
    request=VictimNotificationIn,
    responses={200: ("case", CaseOut), 404: ("unknown case", None)},
)
@roles_required(*WRITE)
def set_victim_notification(case_id: int):  # type: ignore[no-untyped-def]
    _case_writer(case_id)
    body = parse_body(VictimNotificationIn)
    case = services.set_victim_notification(db(), case_id, body.sms, now())
    audit.access(
        db(), g.user, audit.CASE_UPDATE, case_id=case_id, detail={"fields": ["victim_sms"]}
    )
    return case_to_dict(case)


@registry.route(
    api,
    "/cases/<int:case_id>/assessments",
    "POST",
    summary="Record a risk screening (answers per instrument item + concern level)",
    tag="cases",
    roles=WRITE,
    request=AssessmentCreate,
    responses={201: ("screening recorded", AssessmentOut), 404: ("unknown case", None)},
)
@roles_required(*WRITE)
def add_assessment(case_id: int):  # type: ignore[no-untyped-def]
    _case_writer(case_id)
    body = parse_body(AssessmentCreate)
    st = state()
    case = services.get_case(db(), case_id)
    try:
        instrument = st.instruments.get(body.instrument)
    except KeyError:
        raise ApiError(
            422,
            "invalid_field",
            "unknown instrument",
            {"instrument": f"unknown; known: {', '.join(st.instruments.ids())}"},
        ) from None
    problems = st.instruments.validate_answers(body.instrument, dict(body.answers), case.ex_partner)
    if problems:
        raise ApiError(422, "invalid_field", "one or more answers are invalid", problems)
    when = (body.assessed_at or now()).astimezone(dt.UTC)
    if when > now():
        raise ApiError(
            422,
            "invalid_field",
            "a screening cannot be in the future",
            {"assessed_at": "in the future"},
        )
    assessment = services.add_assessment(
        db(),
        case_id,
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        answers=dict(body.answers),
        concern=body.concern,
        assessed_at=when,
        assessor_user_id=g.user.id,
        assessor_name=g.user.username,
        organisation=body.organisation,
        now=now(),
        reassess_days=st.settings.reassess_days,
    )
    audit.access(
        db(),
        g.user,
        audit.CASE_UPDATE,
        case_id=case_id,
        object_type="assessment",
        object_id=assessment.id,
    )
    return AssessmentOut(
        id=assessment.id,
        case_id=case_id,
        instrument=assessment.instrument_id,
        instrument_version=assessment.instrument_version,
        concern=assessment.concern,  # type: ignore[arg-type]
        reassess_due=assessment.reassess_due,
        assessed_at=assessment.assessed_at,
        assessor=assessment.assessor_name,
        eligible_aware=rules.eligible_for_aware(assessment.concern),
    ).model_dump(mode="json"), 201


@registry.route(
    api,
    "/cases/<int:case_id>/actions/<int:action_id>/done",
    "POST",
    summary="Record an open action as done",
    tag="cases",
    roles=WRITE,
    request=ActionDone,
    responses={200: ("done", ActionOut), 404: ("unknown", None), 409: ("done", None)},
)
@roles_required(*WRITE)
def action_done(case_id: int, action_id: int):  # type: ignore[no-untyped-def]
    _case_writer(case_id)
    body = parse_body(ActionDone)
    a = services.action_done(db(), case_id, action_id, g.user.username, body.note, now())
    audit.access(
        db(), g.user, audit.CASE_UPDATE, case_id=case_id, object_type="case_action", object_id=a.id
    )
    return ActionOut(
        id=a.id,
        kind=a.kind,
        title=a.title,
        opened_at=a.opened_at,
        done_at=a.done_at,
        done_by=a.done_by,
    ).model_dump(mode="json")


@registry.route(
    api,
    "/cases/<int:case_id>/devices",
    "POST",
    summary="Link a device to a case (victim alarm or perpetrator tracker)",
    tag="cases",
    roles=WRITE,
    request=LinkDevice,
    responses={
        201: ("linked", CaseOut),
        404: ("unknown case", None),
        409: ("device linked elsewhere", None),
    },
)
@roles_required(*WRITE)
def link_device(case_id: int):  # type: ignore[no-untyped-def]
    _case_writer(case_id)
    body = parse_body(LinkDevice)
    services.link_device(db(), case_id, body.device_id, body.role, now())
    audit.access(
        db(),
        g.user,
        audit.CASE_UPDATE,
        case_id=case_id,
        object_type="case_device",
        object_id=body.device_id,
    )
    return case_to_dict(services.get_case(db(), case_id)), 201


class CoordinatorIn(Strict):
    user_id: int = Field(ge=1)


@registry.route(
    api,
    "/cases/<int:case_id>/coordinators",
    "POST",
    summary="Add a coordinator to the case (they then see the victim's contact details)",
    tag="cases",
    roles=WRITE,
    request=CoordinatorIn,
    responses={200: ("case", CaseOut), 404: ("unknown case", None)},
)
@roles_required(*WRITE)
def add_coordinator(case_id: int):  # type: ignore[no-untyped-def]
    _case_writer(case_id)
    body = parse_body(CoordinatorIn)
    services.add_coordinator(db(), case_id, body.user_id, now())
    audit.access(
        db(),
        g.user,
        audit.CASE_UPDATE,
        case_id=case_id,
        object_type="case_coordinator",
        object_id=body.user_id,
    )
    return case_to_dict(services.get_case(db(), case_id))


def ban_to_dict(ban: Ban) -> dict[str, Any]:
    return BanOut(
        id=ban.id,
        case_id=ban.case_id,
        kind=ban.kind,  # type: ignore[arg-type]
        zones=ban.zones,
        distance_m=ban.distance_m,
        warning_margin_m=ban.warning_margin_m,
        valid_from=ban.valid_from,
        valid_until=ban.valid_until,
        legal_basis=ban.legal_basis,
        warnings=rules.ban_warnings(ban.legal_basis, ban.valid_from, ban.valid_until),
    ).model_dump(mode="json")


@registry.route(
    api,
    "/cases/<int:case_id>/bans",
    "POST",
    summary="Impose a contact ban (distance) or a location ban (zones)",
    tag="cases",
    roles=WRITE,
    request=BanCreate,
    responses={201: ("ban", BanOut), 404: ("unknown case", None)},
)
@roles_required(*WRITE)
def add_ban(case_id: int):  # type: ignore[no-untyped-def]
    _case_writer(case_id)
    body = parse_body(BanCreate)
    values = _ban_values(body)
    ban = services.add_ban(db(), case_id, values, now())
    out = ban_to_dict(ban)
    audit.access(
        db(), g.user, audit.CASE_UPDATE, case_id=case_id, object_type="ban", object_id=ban.id
    )
    _warm_ban_cache(case_id)
    return out, 201


def _warm_ban_cache(case_id: int) -> None:
    """Rebuild the case's zone index now, outside any write transaction, so the next position
    check (inside the intake transaction, holding the write lock) does not pay for it."""
    cache = state().ban_cache
    cache.invalidate(case_id)
    conn = db().connection()
    version = checks.ban_version(conn, case_id)
    rows = checks.ban_rows(conn, case_id)
    db().rollback()  # end the read before the slow part
    index, bans = checks.build_index(rows)
    cache.put(case_id, version, index, bans)


def _ban_values(body: BanCreate) -> dict[str, Any]:
    """Check a ban's terms and geometry; 422 naming the field."""

    def bad(field: str, message: str) -> ApiError:
        return ApiError(422, "invalid_field", "the ban is invalid", {field: message})

    if body.valid_until <= body.valid_from:
        raise bad("valid_until", "must be after valid_from")
    values: dict[str, Any] = {
        "kind": body.kind,
        "valid_from": body.valid_from,
        "valid_until": body.valid_until,
        "legal_basis": body.legal_basis,
        "zones": None,
        "distance_m": None,
        "warning_margin_m": None,
    }
    if body.kind == "location":
        if not body.zones:
            raise bad("zones", "a location ban needs at least one zone")
        for i, zone in enumerate(body.zones):
            try:
                geometry.parse_zone(zone, f"zones.{i}")
            except geometry.GeometryInvalid as exc:
                raise bad(exc.field, exc.message) from None
        values["zones"] = body.zones
        if body.warning_margin_m is not None:
            values["warning_margin_m"] = body.warning_margin_m
    else:
        if body.zones:
            raise bad("zones", "a contact ban has a distance, not zones")
        d = body.distance_m
        if d is None:
            raise bad("distance_m", "a contact ban needs a distance in metres")
        if not 0 < d <= 100_000:
            raise bad("distance_m", "must be more than 0 and at most 100 km")
        values["distance_m"] = d
        values["warning_margin_m"] = (
            body.warning_margin_m if body.warning_margin_m is not None else d
        )
    return values


@registry.route(
    api,
    "/cases/<int:case_id>/bans",
    "GET",
    summary="Bans of a case as GeoJSON for the map (lon, lat)",
    tag="cases",
    roles=READ,
    responses={200: ("bans", BanFeatureCollection), 404: ("unknown case", None)},
)
@roles_required(*READ)
def ban_map(case_id: int):  # type: ignore[no-untyped-def]
    case = services.get_case(db(), case_id)
    audit.access(db(), g.user, audit.CASE_READ, case_id=case_id, object_type="bans")
    features: list[dict[str, Any]] = []
    for ban in services.active_bans(db(), case.id):
        props = ban_to_dict(ban)
        props.pop("zones")
        if ban.kind == "location":
            for i, zone in enumerate(ban.zones or []):
                geom = dict(zone)
                extra = {}
                if geom.get("type") == "Point":
                    extra["radius_m"] = geom.pop("radius_m", None)
                features.append(
                    {
                        "type": "Feature",
                        "geometry": geom,
                        "properties": {**props, "zone": i, **extra},
                    }
                )
        else:
            features.append({"type": "Feature", "geometry": None, "properties": {**props}})
    return {"type": "FeatureCollection", "features": features}
