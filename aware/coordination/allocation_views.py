"""The AWARE allocation workflow over HTTP.

An application and the allocation that follows are one record: `/applications/<id>` and
`/allocations/<id>` name the same id. Writes: admins and the case's own coordinators (as for
the case itself); reads: coordinators and admins. Municipality reviewers never see it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g
from sqlalchemy import select

from aware.api import ApiError, parse_body, registry
from aware.audit import services as audit
from aware.auth.access import roles_required
from aware.coordination import allocation as services
from aware.coordination import allocation_rules as rules
from aware.coordination.allocation_models import (
    Allocation,
    AllocationDecision,
    AllocationExtension,
    AllocationReview,
)
from aware.coordination.allocation_schemas import (
    AllocationOut,
    ApplicationCreate,
    CaseAllocationOut,
    DecisionCreate,
    DeviceAssign,
    EndIn,
    ExtendIn,
    HandoverDone,
    ReviewDone,
    SupportSet,
)
from aware.coordination.reference_models import ContactPerson, Organisation
from aware.devices.models import Device
from aware.risk import services as case_services
from aware.state import db, now

api = Blueprint("allocation_api", __name__, url_prefix="/api/v1")
WRITE = ("coordinator", "admin")
TAG = "allocation"


@api.errorhandler(services.AllocationError)
@api.errorhandler(case_services.CaseError)
def _allocation_error(exc: services.AllocationError | case_services.CaseError):  # type: ignore[no-untyped-def]
    codes = {404: "not_found", 409: "conflict", 422: "invalid_field"}
    fields = {exc.field: exc.message} if exc.field else {}
    return ApiError(exc.status, codes.get(exc.status, "error"), exc.message, fields).response()


def _case_writer(case_id: int) -> None:
    """404 for an unknown case; 403 unless an admin or one of the case's coordinators."""
    case_services.get_case(db(), case_id)
    if g.user.role != "admin" and g.user.id not in case_services.coordinator_ids(db(), case_id):
        raise ApiError(403, "forbidden", "only the case's coordinators (or an admin) may do this")


def _writer(allocation_id: int) -> Allocation:
    alloc = services.get(db(), allocation_id)
    _case_writer(alloc.case_id)
    return alloc


def _org(org_id: int | None) -> dict[str, Any]:
    org = db().get(Organisation, org_id) if org_id is not None else None
    if org is None:
        return {"id": org_id or 0, "name": "?", "type": "other"}
    return {"id": org.id, "name": org.name, "type": org.type}


def allocation_to_dict(alloc: Allocation) -> dict[str, Any]:
    """The whole chain of one application, with its dates and what it still misses."""
    session = db()
    decisions = session.scalars(
        select(AllocationDecision)
        .where(AllocationDecision.allocation_id == alloc.id)
        .order_by(AllocationDecision.decided_at, AllocationDecision.id)
    ).all()
    reviews = session.scalars(
        select(AllocationReview)
        .where(AllocationReview.allocation_id == alloc.id)
        .order_by(AllocationReview.due_at)
    ).all()
    extensions = session.scalars(
        select(AllocationExtension)
        .where(AllocationExtension.allocation_id == alloc.id)
        .order_by(AllocationExtension.id)
    ).all()
    support = None
    if alloc.support_contact_person_id is not None and alloc.support_set_at is not None:
        person = session.get(ContactPerson, alloc.support_contact_person_id)
        assert person is not None
        support = {
            "organisation": _org(alloc.support_organisation_id),
            "contact_person": {
                "id": person.id,
                "name": person.name,
                "role": person.role,
                "phone": person.phone,
                "email": person.email,
            },
            "set_at": alloc.support_set_at,
        }
    device = None
    if alloc.device_id is not None and alloc.connected_at is not None:
        dev = session.get(Device, alloc.device_id)
        device = {
            "device_id": alloc.device_id,
            "serial": dev.serial if dev else "?",
            "connected_at": alloc.connected_at,
        }
    term = None
    if alloc.term_ends_at is not None:
        term = {
            "ends_on": rules.last_day(alloc.term_ends_at),
            "ends_at": alloc.term_ends_at,
            "extensions": [
                {
                    "previous_ends_on": rules.last_day(e.previous_ends_at),
                    "until": rules.last_day(e.new_ends_at),
                    "reason": e.reason,
                    "extended_at": e.extended_at,
                    "extended_by": e.extended_by,
                }
                for e in extensions
            ],
        }
    ending = None
    if alloc.ended_at is not None:
        ending = {
            "ended_at": alloc.ended_at,
            "reason": alloc.end_reason,
            "note": alloc.end_note,
            "ended_by": alloc.ended_by,
        }
    handover = None
    if alloc.handover_planned_on is not None:
        handover = {
            "organisation": _org(alloc.handover_organisation_id),
            "planned_on": alloc.handover_planned_on,
            "completed_at": alloc.handover_completed_at,
            "completed_by": alloc.handover_completed_by,
            "action_id": alloc.handover_action_id,
        }
    days = (
        round((alloc.connected_at - alloc.applied_at).total_seconds() / 86400, 2)
        if alloc.connected_at is not None
        else None
    )
    status = rules.Status(alloc.status)
    missing: list[str] = []
    if status in (rules.Status.APPLIED, rules.Status.WAITING_LIST):
        missing.append("decision")
    if status is rules.Status.GRANTED:
        if support is None:
            missing.append("support")
        missing.append("device")
    if status is rules.Status.ENDED and alloc.handover_completed_at is None:
        missing.append("handover")
    return AllocationOut.model_validate(
        {
            "id": alloc.id,
            "case_id": alloc.case_id,
            "status": alloc.status,
            "application": {
                "referring_organisation": _org(alloc.referring_organisation_id),
                "reason": alloc.reason,
                "concern": alloc.concern,
                "applied_at": alloc.applied_at,
                "applied_by": alloc.applied_by,
            },
            "decided_at": alloc.decided_at,
            "decisions": [
                {
                    "id": d.id,
                    "decision": d.outcome,
                    "reasons": d.reasons,
                    "members": [
                        {"organisation": _org(m.get("organisation_id")), "name": m.get("name")}
                        for m in d.members
                    ],
                    "decided_at": d.decided_at,
                    "recorded_by": d.recorded_by,
                }
                for d in decisions
            ],
            "support": support,
            "device": device,
            "term": term,
            "reviews": [
                {
                    "id": r.id,
                    "due_on": rules.local_date(r.due_at),
                    "due_at": r.due_at,
                    "done_at": r.done_at,
                    "done_by": r.done_by,
                    "note": r.note,
                }
                for r in reviews
            ],
            "ending": ending,
            "handover": handover,
            "days_application_to_connection": days,
            "missing": missing,
        }
    ).model_dump(mode="json")


def _responses(ok: int) -> dict[int, tuple[str, Any]]:
    return {
        ok: ("the application / allocation", AllocationOut),
        404: ("unknown id", None),
        409: ("not allowed in its present state", None),
    }


@registry.route(
    api,
    "/cases/<int:case_id>/applications",
    "POST",
    summary="Apply for AWARE on a case (one open application per case)",
    tag=TAG,
    roles=WRITE,
    request=ApplicationCreate,
    responses=_responses(201),
)
@roles_required(*WRITE)
def create_application(case_id: int):  # type: ignore[no-untyped-def]
    _case_writer(case_id)
    body = parse_body(ApplicationCreate)
    alloc = services.apply(
        db(),
        case_id,
        organisation_id=body.organisation_id,
        reason=body.reason,
        concern=body.concern,
        applied_at=body.applied_at,
        who=g.user.username,
        now=now(),
    )
    return allocation_to_dict(alloc), 201


@registry.route(
    api,
    "/applications/<int:application_id>/decision",
    "POST",
    summary="Record the indicatiecommissie's decision: granted, refused or waiting_list",
    tag=TAG,
    roles=WRITE,
    request=DecisionCreate,
    responses=_responses(200),
)
@roles_required(*WRITE)
def decide(application_id: int):  # type: ignore[no-untyped-def]
    _writer(application_id)
    body = parse_body(DecisionCreate)
    alloc = services.decide(
        db(),
        application_id,
        outcome=body.decision,
        reasons=body.reasons,
        members=[services.Member(m.organisation_id, m.name) for m in body.members],
        decided_at=body.decided_at,
        who=g.user.username,
        now=now(),
    )
    return allocation_to_dict(alloc)


@registry.route(
    api,
    "/applications/<int:application_id>/support",
    "POST",
    summary="Record the support trajectory (organisation and its contact person)",
    tag=TAG,
    roles=WRITE,
    request=SupportSet,
    responses=_responses(200),
)
@roles_required(*WRITE)
def set_support(application_id: int):  # type: ignore[no-untyped-def]
    _writer(application_id)
    body = parse_body(SupportSet)
    alloc = services.set_support(
        db(),
        application_id,
        organisation_id=body.organisation_id,
        contact_person_id=body.contact_person_id,
        now=now(),
    )
    return allocation_to_dict(alloc)


@registry.route(
    api,
    "/applications/<int:application_id>/device",
    "POST",
    summary="Connect the victim's device (needs the grant and the support trajectory); "
    "starts the term",
    tag=TAG,
    roles=WRITE,
    request=DeviceAssign,
    responses=_responses(200),
)
@roles_required(*WRITE)
def assign_device(application_id: int):  # type: ignore[no-untyped-def]
    _writer(application_id)
    body = parse_body(DeviceAssign)
    alloc = services.connect_device(
        db(), application_id, device_id=body.device_id, connected_at=body.connected_at, now=now()
    )
    return allocation_to_dict(alloc)


@registry.route(
    api,
    "/allocations/<int:allocation_id>/extend",
    "POST",
    summary="Extend the term to a later last day, with the reason",
    tag=TAG,
    roles=WRITE,
    request=ExtendIn,
    responses=_responses(200),
)
@roles_required(*WRITE)
def extend(allocation_id: int):  # type: ignore[no-untyped-def]
    _writer(allocation_id)
    body = parse_body(ExtendIn)
    alloc = services.extend(
        db(), allocation_id, until=body.until, reason=body.reason, who=g.user.username, now=now()
    )
    return allocation_to_dict(alloc)


@registry.route(
    api,
    "/allocations/<int:allocation_id>/reviews/<int:review_id>/done",
    "POST",
    summary="Record a review as held",
    tag=TAG,
    roles=WRITE,
    request=ReviewDone,
    responses=_responses(200),
)
@roles_required(*WRITE)
def review_done(allocation_id: int, review_id: int):  # type: ignore[no-untyped-def]
    _writer(allocation_id)
    body = parse_body(ReviewDone)
    alloc = services.review_done(
        db(), allocation_id, review_id, note=body.note, who=g.user.username, now=now()
    )
    return allocation_to_dict(alloc)


@registry.route(
    api,
    "/allocations/<int:allocation_id>/end",
    "POST",
    summary="End the allocation with its reason and plan the handover to the local wijkteam",
    tag=TAG,
    roles=WRITE,
    request=EndIn,
    responses=_responses(200),
)
@roles_required(*WRITE)
def end(allocation_id: int):  # type: ignore[no-untyped-def]
    _writer(allocation_id)
    body = parse_body(EndIn)
    alloc = services.end(
        db(),
        allocation_id,
        reason=body.reason,
        note=body.note,
        handover_organisation_id=body.handover.organisation_id,
        handover_planned_on=body.handover.planned_on,
        ended_at=body.ended_at,
        who=g.user.username,
        now=now(),
    )
    return allocation_to_dict(alloc)


@registry.route(
    api,
    "/allocations/<int:allocation_id>/handover/done",
    "POST",
    summary="Record the handover to the wijkteam as completed",
    tag=TAG,
    roles=WRITE,
    request=HandoverDone,
    responses=_responses(200),
)
@roles_required(*WRITE)
def handover_done(allocation_id: int):  # type: ignore[no-untyped-def]
    _writer(allocation_id)
    body = parse_body(HandoverDone)
    alloc = services.handover_done(
        db(), allocation_id, note=body.note, who=g.user.username, now=now()
    )
    return allocation_to_dict(alloc)


@registry.route(
    api,
    "/cases/<int:case_id>/allocation",
    "GET",
    summary="The case's AWARE chain: the open application or allocation and every earlier one",
    tag=TAG,
    roles=WRITE,
    responses={200: ("the chain", CaseAllocationOut), 404: ("unknown case", None)},
)
@roles_required(*WRITE)
def case_allocation(case_id: int):  # type: ignore[no-untyped-def]
    case_services.get_case(db(), case_id)
    history = [allocation_to_dict(a) for a in services.for_case(db(), case_id)]
    open_states = {s.value for s in rules.OPEN}
    current = next((a for a in history if a["status"] in open_states), None)
    audit.access(db(), g.user, audit.CASE_READ, case_id=case_id, detail={"part": "allocation"})
    return CaseAllocationOut.model_validate(
        {"case_id": case_id, "current": current, "history": history}
    ).model_dump(mode="json")
