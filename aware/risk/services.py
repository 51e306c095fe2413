"""Case use cases: register, update, screen, link devices, record actions, impose bans."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aware.auth.models import User
from aware.coordination.reference import municipality_exists, municipality_problem
from aware.devices.models import Device
from aware.risk import rules
from aware.risk.models import Assessment, Ban, Case, CaseAction, CaseCoordinator, CaseDevice

CONSULT_OM = "consult_om"
CONSULT_OM_TITLE = "Overleg met het Openbaar Ministerie (OM) over beschermingsmaatregelen"


class CaseError(Exception):
    """A use case refused; `field` names the offending input, `status` the HTTP answer."""

    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def _apply_people(case: Case, victim: Any | None, perpetrator: Any | None) -> None:
    if victim is not None:
        case.victim_name = victim.name
        case.victim_phone = victim.phone
        case.victim_address = victim.address
        case.victim_home_lat = victim.home.lat if victim.home else None
        case.victim_home_lon = victim.home.lon if victim.home else None
    if perpetrator is not None:
        case.perpetrator_name = perpetrator.name
        case.perpetrator_description = perpetrator.description
        case.perpetrator_vehicle = perpetrator.vehicle


def create_case(
    session: Session, body: Any, now: dt.datetime, creator_id: int | None = None
) -> Case:
    """Register a case; a coordinator who registers it becomes one of its coordinators."""
    _require_municipality(session, body.municipality)
    case = Case(
        reference=body.reference,
        municipality_code=body.municipality,
        status=body.status,
        referral_source=body.referral_source,
        ex_partner=body.ex_partner,
        created_at=now,
        updated_at=now,
    )
    _apply_people(case, body.victim, body.perpetrator)
    session.add(case)
    try:
        session.flush()
        if creator_id is not None:
            session.add(CaseCoordinator(case_id=case.id, user_id=creator_id, added_at=now))
        session.commit()
    except IntegrityError:
        session.rollback()
        raise CaseError(409, "a case with this reference exists", "reference") from None
    return case


def _require_municipality(session: Session, code: str) -> None:
    """422 naming `municipality` for an unknown or merged (inactive) CBS code."""
    problem = municipality_problem(session, code)
    if problem:
        raise CaseError(422, problem, "municipality")


def coordinator_ids(session: Session, case_id: int) -> set[int]:
    """Users who coordinate this case."""
    return set(
        session.scalars(select(CaseCoordinator.user_id).where(CaseCoordinator.case_id == case_id))
    )


def add_coordinator(session: Session, case_id: int, user_id: int, now: dt.datetime) -> None:
    """Let another coordinator work on the case (and so see the victim's contact details)."""
    get_case(session, case_id)
    user = session.get(User, user_id)
    if user is None or not user.active or user.role != "coordinator":
        raise CaseError(422, "not an active coordinator", "user_id")
    if user_id not in coordinator_ids(session, case_id):
        session.add(CaseCoordinator(case_id=case_id, user_id=user_id, added_at=now))
        session.commit()


def get_case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise CaseError(404, f"no case {case_id}")
    return case


def update_case(session: Session, case_id: int, body: Any, now: dt.datetime) -> Case:
    """Change what a coordinator may change: status, municipality, people, referral."""
    case = get_case(session, case_id)
    if body.municipality is not None and body.municipality != case.municipality_code:
        _require_municipality(session, body.municipality)
    for field, attr in (
        ("status", "status"),
        ("municipality", "municipality_code"),
        ("referral_source", "referral_source"),
        ("ex_partner", "ex_partner"),
    ):
        value = getattr(body, field)
        if value is not None:
            setattr(case, attr, value)
    _apply_people(case, body.victim, body.perpetrator)
    case.updated_at = now
    session.commit()
    return case


def set_victim_notification(session: Session, case_id: int, sms: bool, now: dt.datetime) -> Case:
    """Switch the victim's approach SMS on or off (opt-in; on needs her phone number)."""
    case = get_case(session, case_id)
    if sms and not case.victim_phone:
        session.rollback()
        raise CaseError(422, "the case has no victim phone number to text", "sms")
    if case.victim_sms != sms:
        case.victim_sms = sms
        case.updated_at = now
    session.commit()
    return case


def list_cases(
    session: Session, municipality: str | None, status: str | None, concern: str | None, limit: int
) -> list[Case]:
    query = select(Case)
    if municipality:
        if not municipality_exists(session, municipality):
            raise CaseError(422, f"unknown CBS municipality code {municipality!r}", "municipality")
        query = query.where(Case.municipality_code == municipality)
    if status:
        query = query.where(Case.status == status)
    if concern:
        query = query.where(Case.concern == concern)
    return list(session.scalars(query.order_by(Case.id.desc()).limit(limit)))


def open_actions(session: Session, case_id: int) -> list[CaseAction]:
    return list(
        session.scalars(
            select(CaseAction)
            .where(CaseAction.case_id == case_id, CaseAction.done_at.is_(None))
            .order_by(CaseAction.id)
        )
    )


def case_devices(session: Session, case_id: int) -> list[CaseDevice]:
    return list(
        session.scalars(
            select(CaseDevice).where(CaseDevice.case_id == case_id).order_by(CaseDevice.id)
        )
    )


def add_assessment(
    session: Session,
    case_id: int,
    *,
    instrument_id: str,
    instrument_version: str,
    answers: dict[str, str],
    concern: str,
    assessed_at: dt.datetime,
    assessor_user_id: int | None,
    assessor_name: str,
    organisation: str | None,
    now: dt.datetime,
    reassess_days: Mapping[str, int] = rules.DEFAULT_REASSESS_DAYS,
) -> Assessment:
    """Record a screening; the newest one sets the case's concern and re-assessment date.

    High concern makes the case eligible for AWARE and opens the action "consult the OM",
    which stays open until recorded as done.
    """
    case = get_case(session, case_id)
    due = rules.reassess_due(concern, assessed_at, reassess_days)
    assessment = Assessment(
        case_id=case.id,
        instrument_id=instrument_id,
        instrument_version=instrument_version,
        answers=answers,
        concern=concern,
        assessed_at=assessed_at,
        reassess_due=due,
        assessor_user_id=assessor_user_id,
        assessor_name=assessor_name,
        organisation=organisation,
        created_at=now,
    )
    session.add(assessment)
    newest = session.scalar(
        select(Assessment.assessed_at)
        .where(Assessment.case_id == case.id)
        .order_by(Assessment.assessed_at.desc())
        .limit(1)
    )
    if newest is None or assessed_at >= newest:
        case.concern = concern
        case.reassess_due = due
        case.eligible_aware = rules.eligible_for_aware(concern)
        case.updated_at = now
    if rules.eligible_for_aware(concern) and not any(
        a.kind == CONSULT_OM for a in open_actions(session, case.id)
    ):
        session.add(
            CaseAction(case_id=case.id, kind=CONSULT_OM, title=CONSULT_OM_TITLE, opened_at=now)
        )
    session.commit()
    return assessment


def action_done(
    session: Session, case_id: int, action_id: int, who: str, note: str | None, now: dt.datetime
) -> CaseAction:
    action = session.get(CaseAction, action_id)
    if action is None or action.case_id != case_id:
        raise CaseError(404, f"no action {action_id} on case {case_id}")
    if action.done_at is not None:
        raise CaseError(409, f"already recorded as done by {action.done_by}")
    action.done_at, action.done_by, action.note = now, who, note
    session.commit()
    return action


def link_device(
    session: Session, case_id: int, device_id: int, role: str, now: dt.datetime
) -> CaseDevice:
    """Link a device to a case; the role's previous device is unlinked (history kept)."""
    case = get_case(session, case_id)
    device = session.get(Device, device_id)
    if device is None:
        raise CaseError(422, f"no device {device_id}", "device_id")
    if not device.active:
        raise CaseError(422, "this device is deactivated", "device_id")
    expected = "victim_alarm" if role == "victim" else "perpetrator_tracker"
    if device.kind != expected:
        raise CaseError(422, f"a {role} device must be a {expected}", "role")
    elsewhere = session.scalar(
        select(CaseDevice).where(
            CaseDevice.device_id == device_id, CaseDevice.unlinked_at.is_(None)
        )
    )
    if elsewhere is not None:
        if elsewhere.case_id == case.id and elsewhere.role == role:
            return elsewhere
        raise CaseError(
            409, f"device {device_id} is linked to case {elsewhere.case_id}", "device_id"
        )
    for link in session.scalars(
        select(CaseDevice).where(
            CaseDevice.case_id == case.id, CaseDevice.role == role, CaseDevice.unlinked_at.is_(None)
        )
    ):
        link.unlinked_at = now
    session.flush()
    link = CaseDevice(case_id=case.id, device_id=device_id, role=role, linked_at=now)
    session.add(link)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise CaseError(
            409, "the device or role was linked at the same moment", "device_id"
        ) from None
    return link


def add_ban(session: Session, case_id: int, values: dict[str, Any], now: dt.datetime) -> Ban:
    """Impose a ban (its geometry is validated by the caller)."""
    case = get_case(session, case_id)
    ban = Ban(case_id=case.id, created_at=now, **values)
    session.add(ban)
    session.commit()
    return ban


def active_bans(session: Session, case_id: int, at: dt.datetime | None = None) -> list[Ban]:
    """Bans of a case; with `at`, only those valid at that moment."""
    query = select(Ban).where(Ban.case_id == case_id, Ban.ended_at.is_(None))
    if at is not None:
        query = query.where(Ban.valid_from <= at, Ban.valid_until > at)
    return list(session.scalars(query.order_by(Ban.id)))
