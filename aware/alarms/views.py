"""Alarm endpoints for dispatch: list, read, acknowledge, resolve, annotate."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, g
from pydantic import BaseModel, Field
from sqlalchemy import select

from aware.alarms import figures, rules, services
from aware.alarms.models import Alarm
from aware.alarms.schemas import (
    AlarmDetailOut,
    AlarmList,
    AlarmListQuery,
    AlarmOut,
    NoteIn,
    ResolveIn,
    alarm_detail_to_dict,
    iso,
)
from aware.api import ApiError, parse_body, parse_query, registry
from aware.audit import services as audit
from aware.auth.access import roles_required
from aware.devices.models import Device
from aware.risk import services as case_services
from aware.risk.summary import case_summaries
from aware.state import db, now, state

api = Blueprint("alarms_api", __name__, url_prefix="/api/v1")
DISPATCH = ("dispatcher", "admin")


def actor() -> services.Actor:
    """The signed-in person as the actor of a timeline entry."""
    return services.Actor("user", str(g.user.id), g.user.username)


def _one(alarm: Any) -> dict[str, Any]:
    (data,) = services.alarm_dicts(db().connection(), [alarm], now())
    return data


def _not_found(alarm_id: int) -> ApiError:
    return ApiError(404, "not_found", f"no alarm {alarm_id}")


def _refused(exc: rules.TransitionRefused, alarm_id: int) -> ApiError:
    alarm = db().get(Alarm, alarm_id)  # the current state, without its timeline
    return ApiError(
        409,
        "conflict",
        exc.message,
        extra={
            "by": exc.by,
            "at": exc.at.isoformat() if exc.at else None,
            "alarm": _one(alarm),
        },
    )


@registry.route(
    api,
    "/alarms",
    "GET",
    summary="List alarms (default: every open or acknowledged one)",
    tag="alarms",
    roles=DISPATCH,
    query=AlarmListQuery,
    responses={200: ("alarms", AlarmList)},
)
@roles_required(*DISPATCH)
def list_alarms():  # type: ignore[no-untyped-def]
    q = parse_query(AlarmListQuery)
    statuses = (q.status,) if q.status else ("open", "acknowledged")
    alarms = services.list_alarms(db(), statuses, q.limit)
    audit.access(
        db(),
        g.user,
        audit.ALARM_LIST,
        object_type="alarms",
        case_ids=[a.case_id for a in alarms if a.case_id],
    )
    return {"alarms": services.alarm_dicts(db().connection(), alarms, now())}


@registry.route(
    api,
    "/alarms/<int:alarm_id>",
    "GET",
    summary="One alarm with its timeline",
    tag="alarms",
    roles=DISPATCH,
    responses={200: ("alarm", AlarmDetailOut), 404: ("unknown alarm", None)},
)
@roles_required(*DISPATCH)
def get_alarm(alarm_id: int):  # type: ignore[no-untyped-def]
    try:
        alarm, timeline = services.get(db(), alarm_id)
    except services.AlarmNotFound:
        raise _not_found(alarm_id) from None
    cards = case_summaries(db().connection(), [alarm.case_id], now())
    audit.access(
        db(),
        g.user,
        audit.ALARM_READ,
        case_id=alarm.case_id,
        object_type="alarm",
        object_id=alarm_id,
    )
    return alarm_detail_to_dict(alarm, timeline, cards.get(alarm.case_id or 0))


@registry.route(
    api,
    "/alarms/<int:alarm_id>/ack",
    "POST",
    summary="Acknowledge (accept) an alarm",
    tag="alarms",
    roles=DISPATCH,
    responses={
        200: ("acknowledged", AlarmOut),
        404: ("unknown alarm", None),
        409: ("already acknowledged by someone else, or resolved", None),
    },
)
@roles_required(*DISPATCH)
def ack_alarm(alarm_id: int):  # type: ignore[no-untyped-def]
    try:
        alarm = services.acknowledge(db(), alarm_id, actor(), now(), state().publisher)
    except services.AlarmNotFound:
        raise _not_found(alarm_id) from None
    except rules.TransitionRefused as exc:
        db().rollback()
        raise _refused(exc, alarm_id) from None
    return _one(alarm)


@registry.route(
    api,
    "/alarms/<int:alarm_id>/resolve",
    "POST",
    summary="Resolve an alarm with its outcome",
    tag="alarms",
    roles=DISPATCH,
    request=ResolveIn,
    responses={
        200: ("resolved", AlarmOut),
        404: ("unknown alarm", None),
        409: ("already resolved", None),
    },
)
@roles_required(*DISPATCH)
def resolve_alarm(alarm_id: int):  # type: ignore[no-untyped-def]
    body = parse_body(ResolveIn)
    try:
        alarm = services.resolve(
            db(), alarm_id, actor(), now(), body.outcome, body.note, state().publisher
        )
    except services.AlarmNotFound:
        raise _not_found(alarm_id) from None
    except rules.TransitionRefused as exc:
        db().rollback()
        raise _refused(exc, alarm_id) from None
    return _one(alarm)


@registry.route(
    api,
    "/alarms/<int:alarm_id>/notes",
    "POST",
    summary="Add a note to an alarm's timeline",
    tag="alarms",
    roles=DISPATCH,
    request=NoteIn,
    responses={201: ("note added", AlarmOut), 404: ("unknown alarm", None)},
)
@roles_required(*DISPATCH)
def add_note(alarm_id: int):  # type: ignore[no-untyped-def]
    body = parse_body(NoteIn)
    try:
        alarm = services.add_note(db(), alarm_id, actor(), now(), body.text, state().publisher)
    except services.AlarmNotFound:
        raise _not_found(alarm_id) from None
    return _one(alarm), 201


class ShareOut(BaseModel):
    limit_s: float
    target: float = Field(description="BS 8484: 0.80 within 10 s, 0.985 within 40 s")
    counted: int = Field(description="alarms accepted, or still open beyond the limit")
    within: int
    share: float | None
    met: bool | None


class ShiftFiguresOut(BaseModel):
    shift_start: dt.datetime
    shift_end: dt.datetime
    alarms: int = Field(
        description="alarms received this shift; test and device_offline alarms left out"
    )
    acceptance: list[ShareOut]


@registry.route(
    api,
    "/alarms/figures",
    "GET",
    summary="This shift's acceptance figures (share accepted within 10 s and 40 s)",
    tag="alarms",
    roles=DISPATCH,
    responses={200: ("figures", ShiftFiguresOut)},
)
@roles_required(*DISPATCH)
def shift_figures():  # type: ignore[no-untyped-def]
    at = now()
    start, end = figures.shift_bounds(at)
    rows = (
        db()
        .execute(
            select(Alarm.received_at, Alarm.acknowledged_at).where(
                Alarm.received_at >= start,
                Alarm.received_at < end,
                Alarm.type.not_in(figures.NOT_CALLS),
            )
        )
        .all()
    )
    db().rollback()
    shares = figures.acceptance(((r[0], r[1]) for r in rows), at)
    return ShiftFiguresOut(
        shift_start=start,
        shift_end=end,
        alarms=len(rows),
        acceptance=[
            ShareOut(
                limit_s=s.limit_s,
                target=s.target,
                counted=s.counted,
                within=s.within,
                share=s.share,
                met=s.met,
            )
            for s in shares
        ],
    ).model_dump(mode="json")


class ZoneOut(BaseModel):
    ban_id: int
    kind: str
    geometry: dict[str, Any] = Field(
        description="GeoJSON as registered: Polygon, MultiPolygon or Point with radius_m"
    )


class DeviceNowOut(BaseModel):
    id: int
    serial: str
    kind: str
    active: bool
    last_seen_at: dt.datetime | None
    battery_pct: float | None
    battery_at: dt.datetime | None
    last_position: dict[str, Any] | None = Field(
        description="the device's newest fix: lat, lon, accuracy_m, at"
    )


class AlarmContextOut(BaseModel):
    device: DeviceNowOut | None = Field(description="the device as it is now")
    zones: list[ZoneOut] = Field(description="the zones of the case's active location bans")


@registry.route(
    api,
    "/alarms/<int:alarm_id>/context",
    "GET",
    summary="What the console shows beside an alarm: the device now (battery, last fix) and "
    "the case's active ban zones for the map",
    tag="alarms",
    roles=DISPATCH,
    responses={200: ("device and map layers", AlarmContextOut), 404: ("unknown alarm", None)},
)
@roles_required(*DISPATCH)
def alarm_context(alarm_id: int):  # type: ignore[no-untyped-def]
    alarm = db().get(Alarm, alarm_id)
    if alarm is None:
        raise _not_found(alarm_id)
    bans = case_services.active_bans(db(), alarm.case_id, now()) if alarm.case_id else []
    zones = [
        {"ban_id": ban.id, "kind": ban.kind, "geometry": geometry}
        for ban in bans
        if ban.kind == "location"
        for geometry in ban.zones or []
    ]
    device = db().get(Device, alarm.device_id) if alarm.device_id is not None else None
    device_out = None
    if device is not None:
        fix = None
        if device.last_lat is not None and device.last_lon is not None:
            fix = {
                "lat": device.last_lat,
                "lon": device.last_lon,
                "accuracy_m": device.last_accuracy_m,
                "at": iso(device.last_position_at),
            }
        device_out = DeviceNowOut(
            id=device.id,
            serial=device.serial,
            kind=device.kind,
            active=device.active,
            last_seen_at=device.last_seen_at,
            battery_pct=device.battery_pct,
            battery_at=device.battery_at,
            last_position=fix,
        ).model_dump(mode="json")
    audit.access(
        db(),
        g.user,
        audit.ALARM_READ,
        case_id=alarm.case_id,
        object_type="alarm_context",
        object_id=alarm_id,
    )
    db().rollback()
    return {"device": device_out, "zones": zones}
