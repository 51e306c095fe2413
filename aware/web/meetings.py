"""Pages for the municipal case coordinator running the meetings: the calendar, a meeting with
its agenda (MARAC order) and invitation, and the minutes form."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from pydantic import ValidationError

from aware.auth.access import page_user
from aware.coordination import meetings, recurrence
from aware.coordination.meeting_schemas import MinutesIn
from aware.coordination.reference_models import ORGANISATION_TYPES
from aware.state import db, now
from aware.web.cases import READERS

meetings_web = Blueprint("meetings_web", __name__)
ROWS = 3  # empty rows for new decisions and actions on the minutes form
DECISIONS = ("allocate", "extend", "withdraw", "end")


def _day(raw: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@meetings_web.get("/meetings")
def calendar():  # type: ignore[no-untyped-def]
    user = page_user(*READERS)
    municipality = request.args.get("municipality") or None
    first = _day(request.args.get("from"))
    last = _day(request.args.get("to"))
    error = None
    try:
        found = meetings.list_meetings(db(), municipality, first, last, None, now())
    except meetings.MeetingError as exc:
        db().rollback()
        found, error = [], exc.message
    rows = [
        {
            "meeting": m,
            "local": recurrence.to_local(m.starts_at),
            "end": recurrence.to_local(m.ends_at),
        }
        for m in found
    ]
    db().rollback()
    return render_template(
        "meetings.html",
        user=user,
        rows=rows,
        error=error,
        filters={"municipality": municipality, "from": first, "to": last},
    )


@meetings_web.get("/meetings/<int:meeting_id>")
def meeting_page(meeting_id: int):  # type: ignore[no-untyped-def]
    user = page_user(*READERS)
    try:
        meeting = meetings.get_meeting(db(), meeting_id)
    except meetings.MeetingError:
        abort(404)
    codes, items = meetings.build_agenda(db(), meeting)
    minutes = meetings.has_minutes(db(), [meeting.id])
    at = now()
    page = render_template(
        "meeting.html",
        user=user,
        meeting=meeting,
        local=recurrence.to_local(meeting.starts_at),
        municipalities=codes,
        items=items,
        has_minutes=meeting.id in minutes,
        may_record=meeting.status in ("scheduled", "confirmed") and meeting.starts_at <= at,
        open_actions=[i for i in items if i["section"] == "open_action"],
        case_ids=sorted({i["case_id"] for i in items if i["case_id"]}),
        organisation_types=meeting.organisations or list(ORGANISATION_TYPES),
        all_types=ORGANISATION_TYPES,
        decisions=DECISIONS,
        rows=range(ROWS),
    )
    db().rollback()
    return page


def minutes_from_form(form: Any, open_action_ids: list[int]) -> dict[str, Any]:
    """The minutes a form describes (validated by MinutesIn like the API's)."""
    attendance = [
        {"organisation": t, "present": form.get(f"present_{t}") == "on"}
        for t in form.getlist("organisation_types")
    ]
    reviews = []
    for aid in open_action_ids:
        done = form.get(f"done_{aid}") == "on"
        reason = form.get(f"reason_{aid}", "").strip() or None
        reviews.append({"action_id": aid, "done": done, "reason": reason})
    decisions = []
    actions = []
    for i in range(ROWS):
        if form.get(f"decision_text_{i}", "").strip():
            decisions.append(
                {
                    "kind": form.get(f"decision_kind_{i}", ""),
                    "case_id": _int(form.get(f"decision_case_{i}")),
                    "text": form.get(f"decision_text_{i}", "").strip(),
                }
            )
        if form.get(f"action_title_{i}", "").strip():
            actions.append(
                {
                    "case_id": _int(form.get(f"action_case_{i}")),
                    "title": form.get(f"action_title_{i}", "").strip(),
                    "owner": {"organisation": form.get(f"action_owner_{i}") or None},
                    "deadline": form.get(f"action_deadline_{i}", ""),
                }
            )
    return {
        "attendance": attendance,
        "open_actions": reviews,
        "decisions": decisions,
        "actions": actions,
        "notes": form.get("notes", "").strip() or None,
    }


def _int(raw: str | None) -> int:
    try:
        return int(raw or "")
    except ValueError:
        return 0


@meetings_web.post("/meetings/<int:meeting_id>/minutes")
def record_minutes(meeting_id: int):  # type: ignore[no-untyped-def]
    user = page_user(*READERS)
    try:
        meeting = meetings.get_meeting(db(), meeting_id)
    except meetings.MeetingError:
        abort(404)
    _codes, items = meetings.build_agenda(db(), meeting)
    open_ids = [int(i["detail"]["action_id"]) for i in items if i["section"] == "open_action"]
    target = url_for("meetings_web.meeting_page", meeting_id=meeting_id)
    try:
        body = MinutesIn.model_validate(minutes_from_form(request.form, open_ids))
        meetings.record_minutes(db(), meeting_id, body, user.username, now(), correction=False)
    except ValidationError as exc:
        db().rollback()
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        flash(_("Minutes not saved: %(field)s: %(message)s", field=where, message=first["msg"]))
        return redirect(target)
    except meetings.MeetingError as exc:
        db().rollback()
        fields = exc.fields or {"": exc.message}
        for field, message in fields.items():
            flash(_("Minutes not saved: %(field)s: %(message)s", field=field, message=message))
        return redirect(target)
    flash(_("Minutes saved."))
    return redirect(target)
