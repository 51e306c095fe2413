"""Pages for case coordinators: the case list and the case page (Dutch by default).

They show what the API shows the same person (need to know: the victim's contact details only
to the case's own coordinators, dispatch and admins), read-only except the victim-SMS switch.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from aware.alarms.models import Alarm
from aware.alarms.schemas import alarm_to_dict
from aware.audit import services as audit
from aware.auth.access import page_user
from aware.devices.models import Device
from aware.risk import services
from aware.risk.models import Assessment, Ban, Case
from aware.risk.views import case_to_dict
from aware.state import db, now

cases_web = Blueprint("cases_web", __name__)
READERS = ("coordinator", "admin")


@cases_web.get("/cases")
def case_list():  # type: ignore[no-untyped-def]
    user = page_user(*READERS)
    municipality = request.args.get("municipality") or None
    concern = request.args.get("concern") or None
    status = request.args.get("status") or None
    if concern not in (None, "low", "moderate", "high"):
        concern = None
    cases = services.list_cases(db(), municipality, status, concern, 500)
    at = now()
    rows = [
        {
            **case_to_dict(c),
            "overdue": c.reassess_due is not None and c.reassess_due < at,
        }
        for c in cases
    ]
    audit.access(
        db(),
        user,
        audit.CASE_LIST,
        object_type="cases",
        case_ids=[c.id for c in cases],
        detail={"via": "page"},
    )
    db().rollback()
    return render_template(
        "cases.html",
        user=user,
        cases=rows,
        filters={"municipality": municipality, "concern": concern, "status": status},
    )


@cases_web.get("/cases/<int:case_id>")
def case_page(case_id: int):  # type: ignore[no-untyped-def]
    user = page_user(*READERS)
    case = db().get(Case, case_id)
    if case is None:
        abort(404)
    data = case_to_dict(case)
    audit.access(
        db(),
        user,
        audit.CASE_READ,
        case_id=case_id,
        detail={"via": "page", "contact": not data["victim"]["contact_redacted"]},
    )
    session = db()
    assessments = session.scalars(
        select(Assessment).where(Assessment.case_id == case_id).order_by(Assessment.assessed_at)
    ).all()
    bans = session.scalars(select(Ban).where(Ban.case_id == case_id).order_by(Ban.id)).all()
    device_ids = [d["device_id"] for d in data["devices"]]
    devices = (
        {d.id: d for d in session.scalars(select(Device).where(Device.id.in_(device_ids)))}
        if device_ids
        else {}
    )
    alarms = session.scalars(
        select(Alarm).where(Alarm.case_id == case_id).order_by(Alarm.received_at.desc()).limit(50)
    ).all()
    at = now()
    active = services.active_bans(session, case_id, at)  # what the checks judge against
    map_data: dict[str, Any] = {
        "zones": [
            {"ban_id": b.id, "kind": b.kind, "geometry": z} for b in active for z in (b.zones or [])
        ],
        "home": data["victim"]["home"],
        "contactBans": [b.distance_m for b in active if b.kind == "contact"],
    }
    allocation = _allocation(case_id)
    page = render_template(
        "case.html",
        user=user,
        case=data,
        assessments=assessments,
        bans=bans,
        devices=devices,
        alarms=[alarm_to_dict(a) for a in alarms],
        map_data=map_data,
        allocation=allocation,
        now=at,
        may_write=user.role == "admin" or user.id in services.coordinator_ids(session, case_id),
    )
    session.rollback()
    return page


def _allocation(case_id: int) -> list[dict[str, Any]]:
    """The case's AWARE chains (applications and allocations), newest first."""
    from aware.coordination import allocation
    from aware.coordination.allocation_views import allocation_to_dict

    chains = [allocation_to_dict(a) for a in allocation.for_case(db(), case_id)]
    return sorted(chains, key=lambda c: c["application"]["applied_at"], reverse=True)


@cases_web.post("/cases/<int:case_id>/victim-notification")
def victim_notification(case_id: int):  # type: ignore[no-untyped-def]
    user = page_user(*READERS)
    if db().get(Case, case_id) is None:
        abort(404)
    if user.role != "admin" and user.id not in services.coordinator_ids(db(), case_id):
        abort(403)
    on = request.form.get("sms") == "on"
    try:
        services.set_victim_notification(db(), case_id, on, now())
    except services.CaseError as exc:
        db().rollback()
        flash(_("Not changed: %(message)s", message=exc.message))
        return redirect(url_for("cases_web.case_page", case_id=case_id))
    flash(_("SMS to the victim switched on.") if on else _("SMS to the victim switched off."))
    return redirect(url_for("cases_web.case_page", case_id=case_id))
