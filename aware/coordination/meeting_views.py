"""Case meetings, agendas, minutes and invitations."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g

from aware.api import ApiError, parse_body, parse_query, registry
from aware.auth.access import roles_required
from aware.coordination import ics, meetings, recurrence
from aware.coordination.meeting_models import Meeting, MeetingMinutes, MeetingSeries
from aware.coordination.meeting_schemas import (
    AgendaItem,
    AgendaOut,
    MeetingCancel,
    MeetingList,
    MeetingListQuery,
    MeetingMove,
    MeetingOut,
    MinutesActionOut,
    MinutesIn,
    MinutesOut,
    SeriesCreate,
    SeriesOut,
)
from aware.state import db, now

api = Blueprint("meetings_api", __name__, url_prefix="/api/v1")
COORD = ("coordinator", "admin")
TAG = "meetings"


@api.errorhandler(meetings.MeetingError)
def _meeting_error(exc: meetings.MeetingError):  # type: ignore[no-untyped-def]
    codes = {404: "not_found", 409: "conflict", 422: "invalid_field"}
    return ApiError(exc.status, codes.get(exc.status, "error"), exc.message, exc.fields).response()


def series_out(series: MeetingSeries, count: int) -> dict[str, Any]:
    return SeriesOut(
        id=series.id,
        municipality=series.municipality_code,
        region=series.region,
        title=series.title,
        rrule=series.rrule,
        start_local=series.start_local[:16],
        duration_min=series.duration_min,
        organisations=series.organisations,
        materialized_until=series.materialized_until,
        meetings=count,
        created_at=series.created_at,
    ).model_dump(mode="json")


def meeting_out(meeting: Meeting, minutes: bool) -> dict[str, Any]:
    return MeetingOut(
        id=meeting.id,
        series_id=meeting.series_id,
        municipality=meeting.municipality_code,
        region=meeting.region,
        title=meeting.title,
        starts_at=meeting.starts_at,
        ends_at=meeting.ends_at,
        start_local=recurrence.to_local(meeting.starts_at).isoformat(timespec="minutes"),
        urgent=meeting.urgent,
        status=meeting.status,  # type: ignore[arg-type]
        moved=meeting.slot_at is not None and meeting.slot_at != meeting.starts_at,
        organisations=meeting.organisations,
        has_minutes=minutes,
        cancel_reason=meeting.cancel_reason,
    ).model_dump(mode="json")


def _one(meeting: Meeting) -> dict[str, Any]:
    return meeting_out(meeting, db().get(MeetingMinutes, meeting.id) is not None)


@registry.route(
    api,
    "/meeting-series",
    "POST",
    summary="Register a recurring case meeting (RFC 5545 RRULE on Europe/Amsterdam wall time)",
    tag=TAG,
    roles=COORD,
    request=SeriesCreate,
    responses={201: ("series, with its meetings for the coming year", SeriesOut)},
)
@roles_required(*COORD)
def create_series():  # type: ignore[no-untyped-def]
    body = parse_body(SeriesCreate)
    series, made = meetings.create_series(db(), body, now(), g.user.username)
    return series_out(series, made), 201


@registry.route(
    api,
    "/meeting-series/<int:series_id>",
    "GET",
    summary="One meeting series",
    tag=TAG,
    roles=COORD,
    responses={200: ("series", SeriesOut), 404: ("unknown series", None)},
)
@roles_required(*COORD)
def get_series(series_id: int):  # type: ignore[no-untyped-def]
    series = meetings.get_series(db(), series_id)
    return series_out(series, len(meetings.series_meetings(db(), series_id)))


@registry.route(
    api,
    "/meeting-series/<int:series_id>.ics",
    "GET",
    summary="The series as an iCalendar invitation (RRULE, EXDATE, moved occurrences)",
    tag=TAG,
    roles=COORD,
    responses={200: ("text/calendar", None), 404: ("unknown series", None)},
    content_type="text/calendar",
)
@roles_required(*COORD)
def series_calendar(series_id: int):  # type: ignore[no-untyped-def]
    series = meetings.get_series(db(), series_id)
    body = ics.series_ics(series, meetings.series_meetings(db(), series_id), now())
    return _calendar(body, f"overleg-reeks-{series_id}.ics")


def _calendar(body: bytes, filename: str) -> Response:
    resp = Response(body, 200, content_type="text/calendar; charset=utf-8")
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


@registry.route(
    api,
    "/meetings",
    "GET",
    summary="Meetings of a municipality (and its region) on local dates from..to (inclusive)",
    tag=TAG,
    roles=COORD,
    query=MeetingListQuery,
    responses={200: ("meetings", MeetingList)},
)
@roles_required(*COORD)
def list_meetings():  # type: ignore[no-untyped-def]
    q = parse_query(MeetingListQuery)
    found = meetings.list_meetings(db(), q.municipality, q.from_, q.to, q.urgent, now())
    with_minutes = meetings.has_minutes(db(), [m.id for m in found])
    return {"meetings": [meeting_out(m, m.id in with_minutes) for m in found]}


@registry.route(
    api,
    "/meetings/<int:meeting_id>",
    "GET",
    summary="One meeting",
    tag=TAG,
    roles=COORD,
    responses={200: ("meeting", MeetingOut), 404: ("unknown meeting", None)},
)
@roles_required(*COORD)
def get_meeting(meeting_id: int):  # type: ignore[no-untyped-def]
    return _one(meetings.get_meeting(db(), meeting_id))


@registry.route(
    api,
    "/meetings/<int:meeting_id>",
    "PATCH",
    summary="Move one meeting (new local start, optionally a new duration)",
    tag=TAG,
    roles=COORD,
    request=MeetingMove,
    responses={
        200: ("moved", MeetingOut),
        404: ("unknown meeting", None),
        409: ("cancelled or held", None),
    },
)
@roles_required(*COORD)
def move_meeting(meeting_id: int):  # type: ignore[no-untyped-def]
    meetings.get_meeting(db(), meeting_id)
    body = parse_body(MeetingMove)
    meeting = meetings.move_meeting(db(), meeting_id, body.start_local, body.duration_min, now())
    return _one(meeting)


@registry.route(
    api,
    "/meetings/<int:meeting_id>/cancel",
    "POST",
    summary="Cancel one meeting (the rest of the series stays)",
    tag=TAG,
    roles=COORD,
    request=MeetingCancel,
    responses={
        200: ("cancelled", MeetingOut),
        404: ("unknown meeting", None),
        409: ("cancelled or held", None),
    },
)
@roles_required(*COORD)
def cancel_meeting(meeting_id: int):  # type: ignore[no-untyped-def]
    meetings.get_meeting(db(), meeting_id)
    body = parse_body(MeetingCancel)
    meeting = meetings.cancel_meeting(db(), meeting_id, body.reason, g.user.username, now())
    return _one(meeting)


@registry.route(
    api,
    "/meetings/<int:meeting_id>/confirm",
    "POST",
    summary="Confirm a proposed urgent meeting",
    tag=TAG,
    roles=COORD,
    responses={
        200: ("confirmed", MeetingOut),
        404: ("unknown meeting", None),
        409: ("not proposed", None),
    },
)
@roles_required(*COORD)
def confirm_meeting(meeting_id: int):  # type: ignore[no-untyped-def]
    return _one(meetings.confirm_meeting(db(), meeting_id, g.user.username, now()))


@registry.route(
    api,
    "/meetings/<int:meeting_id>/agenda",
    "GET",
    summary="The agenda in MARAC order (no victim names: reference and concern only)",
    tag=TAG,
    roles=COORD,
    responses={200: ("agenda", AgendaOut), 404: ("unknown meeting", None)},
)
@roles_required(*COORD)
def agenda(meeting_id: int):  # type: ignore[no-untyped-def]
    meeting = meetings.get_meeting(db(), meeting_id)
    codes, items = meetings.build_agenda(db(), meeting)
    return AgendaOut(
        meeting_id=meeting.id,
        municipalities=codes,
        items=[AgendaItem.model_validate(i) for i in items],
    ).model_dump(mode="json")


@registry.route(
    api,
    "/meetings/<int:meeting_id>.ics",
    "GET",
    summary="The meeting as an iCalendar invitation (TZID Europe/Amsterdam with VTIMEZONE)",
    tag=TAG,
    roles=COORD,
    responses={200: ("text/calendar", None), 404: ("unknown meeting", None)},
    content_type="text/calendar",
)
@roles_required(*COORD)
def meeting_calendar(meeting_id: int):  # type: ignore[no-untyped-def]
    meeting = meetings.get_meeting(db(), meeting_id)
    return _calendar(ics.meeting_ics(meeting, now()), f"overleg-{meeting_id}.ics")


def minutes_out(minutes: MeetingMinutes) -> dict[str, Any]:
    actions = [
        MinutesActionOut(
            id=ma.id,
            case_action_id=ca.id,
            case_id=ma.case_id,
            title=ca.title,
            owner={
                k: v
                for k, v in {
                    "type": ma.owner_type,
                    "organisation_id": ma.owner_organisation_id,
                    "contact_id": ma.owner_contact_id,
                }.items()
                if v is not None
            },
            deadline=ma.deadline,
        )
        for ma, ca in meetings.minutes_actions(db(), minutes.meeting_id)
    ]
    return MinutesOut(
        meeting_id=minutes.meeting_id,
        version=minutes.version,
        attendance=minutes.attendance,
        decisions=minutes.decisions,
        actions=actions,
        open_actions=minutes.action_reviews,
        notes=minutes.notes,
        recorded_at=minutes.recorded_at,
        recorded_by=minutes.recorded_by,
        updated_at=minutes.updated_at,
        updated_by=minutes.updated_by,
    ).model_dump(mode="json")


def _minutes(meeting_id: int, correction: bool) -> dict[str, Any]:
    meetings.get_meeting(db(), meeting_id)
    body = parse_body(MinutesIn)
    minutes = meetings.record_minutes(
        db(), meeting_id, body, g.user.username, now(), correction=correction
    )
    return minutes_out(minutes)


_MINUTES_RESPONSES: dict[int, tuple[str, Any]] = {
    404: ("unknown meeting", None),
    409: ("minutes exist (POST) / do not exist yet (PUT), or the meeting is not held", None),
}


@registry.route(
    api,
    "/meetings/<int:meeting_id>/minutes",
    "POST",
    summary="Record the minutes: attendance, decisions, actions, reasons for actions not done",
    tag=TAG,
    roles=COORD,
    request=MinutesIn,
    responses={201: ("minutes", MinutesOut), **_MINUTES_RESPONSES},
)
@roles_required(*COORD)
def record_minutes(meeting_id: int):  # type: ignore[no-untyped-def]
    return _minutes(meeting_id, correction=False), 201


@registry.route(
    api,
    "/meetings/<int:meeting_id>/minutes",
    "PUT",
    summary="Correct the minutes (actions left out are closed with a note, never deleted)",
    tag=TAG,
    roles=COORD,
    request=MinutesIn,
    responses={200: ("minutes", MinutesOut), **_MINUTES_RESPONSES},
)
@roles_required(*COORD)
def correct_minutes(meeting_id: int):  # type: ignore[no-untyped-def]
    return _minutes(meeting_id, correction=True)


@registry.route(
    api,
    "/meetings/<int:meeting_id>/minutes",
    "GET",
    summary="The minutes of a meeting",
    tag=TAG,
    roles=COORD,
    responses={200: ("minutes", MinutesOut), 404: ("unknown meeting or no minutes", None)},
)
@roles_required(*COORD)
def get_minutes(meeting_id: int):  # type: ignore[no-untyped-def]
    meetings.get_meeting(db(), meeting_id)
    minutes = db().get(MeetingMinutes, meeting_id)
    if minutes is None:
        raise ApiError(404, "not_found", f"meeting {meeting_id} has no minutes yet")
    return minutes_out(minutes)
