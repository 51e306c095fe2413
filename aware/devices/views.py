"""Device registration and event intake (/api/v1/ingest and the OsmAnd protocol)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from flask import Blueprint, current_app, g, request
from pydantic import RootModel, ValidationError

from aware.alarms import rules
from aware.api import (
    ApiError,
    parse_body,
    parse_query,
    read_json_body,
    registry,
)
from aware.auth.access import bearer_token, roles_required
from aware.db import ALARM, BULK, NORMAL, write_priority
from aware.devices import intake, osmand, services, stock
from aware.devices.deferred import DeferredUpdates, reader_sessions
from aware.devices.models import Device
from aware.devices.schemas import (
    MAX_BATCH,
    DeviceCreate,
    DeviceCreated,
    DeviceList,
    DeviceListQuery,
    DeviceOut,
    DeviceStockUpdate,
    EventBatchIn,
    EventIn,
    IngestOut,
)
from aware.risk import checks
from aware.state import db, now, state

api = Blueprint("devices_api", __name__, url_prefix="/api/v1")
protocols = Blueprint("protocols", __name__)


class IngestBody(RootModel[EventIn | EventBatchIn]):
    """One event, or {"events": [...]} with at most 1000."""


@registry.route(
    api,
    "/devices",
    "POST",
    summary="Register a device (its token is shown this once)",
    tag="devices",
    roles=("coordinator", "admin"),
    request=DeviceCreate,
    responses={201: ("device registered", DeviceCreated), 409: ("serial already registered", None)},
)
@roles_required("coordinator", "admin")
def create_device():  # type: ignore[no-untyped-def]
    body = parse_body(DeviceCreate)
    try:
        device, token = services.register(db(), body.serial, body.kind, now())
    except services.DeviceExists:
        raise ApiError(
            409,
            "conflict",
            "a device with this serial is already registered",
            {"serial": "already registered"},
        ) from None
    out = DeviceCreated(id=device.id, serial=device.serial, kind=body.kind, token=token)
    return out.model_dump(mode="json"), 201


@api.errorhandler(stock.StockError)
def _stock_error(exc: stock.StockError):  # type: ignore[no-untyped-def]
    codes = {404: "not_found", 409: "conflict", 422: "invalid_field"}
    fields = {exc.field: exc.message} if exc.field else {}
    return ApiError(exc.status, codes.get(exc.status, "error"), exc.message, fields).response()


def _device_out(device: Device, status: str) -> dict[str, Any]:
    return DeviceOut(
        id=device.id,
        serial=device.serial,
        kind=device.kind,  # type: ignore[arg-type]
        active=device.active,
        created_at=device.created_at,
        deactivated_at=device.deactivated_at,
        last_seen_at=device.last_seen_at,
        last_position_at=device.last_position_at,
        battery_pct=device.battery_pct,
        status=status,  # type: ignore[arg-type]
        municipality=device.municipality_code,
    ).model_dump(mode="json")


@registry.route(
    api,
    "/devices",
    "GET",
    summary="List devices (filter by stock status and owning municipality)",
    tag="devices",
    roles=("coordinator", "admin", "dispatcher"),
    query=DeviceListQuery,
    responses={200: ("devices", DeviceList)},
)
@roles_required("coordinator", "admin", "dispatcher")
def list_devices():  # type: ignore[no-untyped-def]
    q = parse_query(DeviceListQuery)
    rows = stock.list_devices(db(), q.status, q.municipality)
    return {"devices": [_device_out(d, s) for d, s in rows]}


@registry.route(
    api,
    "/devices/<int:device_id>",
    "PATCH",
    summary="Record a device's stock status (in_stock, defective, lost) and owning municipality",
    tag="devices",
    roles=("coordinator", "admin"),
    request=DeviceStockUpdate,
    responses={
        200: ("device", DeviceOut),
        404: ("unknown device", None),
        409: ("in_use set by hand, or in_stock while a case holds the device", None),
    },
)
@roles_required("coordinator", "admin")
def update_device(device_id: int):  # type: ignore[no-untyped-def]
    body = parse_body(DeviceStockUpdate)
    changes: dict[str, Any] = {}
    if body.status is not None:
        changes["status"] = body.status
    if "municipality" in body.model_fields_set:
        changes["municipality"] = body.municipality
    device, status = stock.update_stock(db(), device_id, changes)
    return _device_out(device, status)


@registry.route(
    api,
    "/devices/<int:device_id>/deactivate",
    "POST",
    summary="Deactivate a device: its token stops working",
    tag="devices",
    roles=("coordinator", "admin"),
    responses={200: ("device", DeviceOut), 404: ("unknown", None)},
)
@roles_required("coordinator", "admin")
def deactivate_device(device_id: int):  # type: ignore[no-untyped-def]
    try:
        device = services.deactivate(db(), device_id, now())
    except services.DeviceNotFound:
        raise ApiError(404, "not_found", f"no device {device_id}") from None
    return _device_out(device, stock.status_of(db(), device.id))


def _device_id_for(token: str) -> int:
    device_id = state().device_tokens.device_id(db, token)
    if "db" in g:
        # End the read transaction: no database lock is held while the body is parsed.
        db().rollback()
    if device_id is None:
        raise ApiError(401, "unauthorized", "unknown or deactivated device token")
    return int(device_id)


# Field names of the OsmAnd protocol for the event fields intake judges.
_OSMAND_FIELDS = {"occurred_at": "timestamp", "event_id": "timestamp", "battery_pct": "batt"}


def _store(
    device_id: int,
    events: list[EventIn],
    source: str,
    extras: dict[str, dict[str, Any]] | None = None,
    *,
    judged: intake.Judged | None = None,
    batch: bool = False,
    at: dt.datetime | None = None,
) -> dict[str, Any]:
    """Store the events; 422 only when nothing in the request was usable (every event refused).

    `judged` carries the events already refused while parsing and the request index of each
    of `events`, so every refusal names its place in the request.
    """
    at = at or now()
    refused, origin = (judged.rejected, judged.origin) if judged else ([], None)
    rejected = list(refused)
    result = None
    if events:
        result = _ingest(device_id, events, source, extras, at)
        where = origin or list(range(len(events)))
        rejected += [intake.Rejected(where[r.index], r.event_id, r.fields) for r in result.rejected]
    rejected.sort(key=lambda r: r.index)
    if result is None or result.accepted + result.duplicates == 0:
        raise _nothing_usable(rejected, source, batch)
    if result.judged_against_bans:
        _hold_tracker_answer()
    # The shape of IngestOut (documented in the OpenAPI); built directly on the alarm path.
    return {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected": [r.as_dict() for r in rejected],
        "alarm_ids": result.alarm_ids,
    }


# A perpetrator tracker's answer is not given before this long after the request came in, so
# its time does not tell whether the fix was near the victim (judging a fix inside a ban writes
# to the alarm's timeline; one far away writes nothing). Everything is committed and every new
# alarm published before the wait: only the tracker's own answer waits. Flask config
# AWARE_TRACKER_ANSWER_FLOOR_S overrides it (0 turns it off; the testing environment's default).
TRACKER_ANSWER_FLOOR_S = 0.04


def _hold_tracker_answer() -> None:
    floor = current_app.config.get("AWARE_TRACKER_ANSWER_FLOOR_S")
    if floor is None:
        floor = 0.0 if state().settings.env == "testing" else TRACKER_ANSWER_FLOOR_S
    started = g.get("t0")
    if not floor or started is None:
        return
    left = started + float(floor) - time.perf_counter()
    if left > 0:
        time.sleep(left)


def _nothing_usable(rejected: list[intake.Rejected], source: str, batch: bool) -> ApiError:
    """The 422 of a request none of whose events could be stored, naming every bad field."""
    names = _OSMAND_FIELDS if source == "osmand" else {}
    fields: dict[str, str] = {}
    for r in rejected:
        for path, message in r.fields.items():
            path = names.get(path, path)
            fields.setdefault(f"events.{r.index}.{path}" if batch else path, message)
    return ApiError(
        422,
        "invalid_field",
        "no event in the request could be stored",
        fields,
        {"rejected": [r.as_dict() for r in rejected]},
    )


def _ingest(
    device_id: int,
    events: list[EventIn],
    source: str,
    extras: dict[str, dict[str, Any]] | None,
    at: dt.datetime,
) -> services.IngestResult:
    """Store the events. A bulk upload (no alarm event in it) is committed in chunks, each its
    own short transaction, so it never holds SQLite's writer for long: an SOS queued meanwhile
    goes between two chunks. The answer still comes only after the last chunk is committed,
    and a retried upload stores each event once, whichever chunks made it before a crash."""
    priority = _priority_of(events)
    if priority != BULK or len(events) <= BULK_CHUNK:
        return _ingest_once(device_id, events, source, extras, at, priority)
    merged = services.IngestResult(accepted=0, duplicates=0, alarm_ids=[])
    with checks.one_request():  # the timeline bound of ban checks holds for the request
        parts = [
            (
                start,
                _ingest_once(
                    device_id, events[start : start + BULK_CHUNK], source, extras, at, priority
                ),
            )
            for start in range(0, len(events), BULK_CHUNK)
        ]
    for start, part in parts:
        merged.accepted += part.accepted
        merged.duplicates += part.duplicates
        merged.alarm_ids += part.alarm_ids
        merged.new_alarms += part.new_alarms
        merged.rejected += [
            intake.Rejected(start + r.index, r.event_id, r.fields) for r in part.rejected
        ]
        merged.judged_against_bans |= part.judged_against_bans
    merged.alarm_ids.sort()
    return merged


def _ingest_once(
    device_id: int,
    events: list[EventIn],
    source: str,
    extras: dict[str, dict[str, Any]] | None,
    at: dt.datetime,
    priority: int,
) -> services.IngestResult:
    st = state()
    try:
        with write_priority(priority):
            return services.ingest(
                db(),
                device_id,
                events,
                at,
                st.publisher,
                source=source,
                extras=extras,
                ban_checks=st.ban_checks,
                default_escalation=st.default_escalation,
                defer_updates=_deferred_updates(),
                device_alarm_rate=st.settings.device_alarm_rate,
            )
    except services.DeviceNotFound:
        raise ApiError(401, "unauthorized", "unknown or deactivated device token") from None


# More events than this in one request without an alarm event is a bulk upload, stored in
# transactions of at most BULK_CHUNK events.
BULK_EVENTS = 10
BULK_CHUNK = 100


def _priority_of(events: list[EventIn]) -> int:
    """Where the request queues for SQLite's writer: a device's alarm first, a bulk upload of
    positions and heartbeats (a store-and-forward buffer, or a tracker flooding) last."""
    if any(ev.type in rules.EVENT_ALARM_TYPES for ev in events):
        return ALARM
    return BULK if len(events) > BULK_EVENTS else NORMAL


def _deferred_updates() -> DeferredUpdates | None:
    """The process's publisher of console updates after the answer (None in tests, which read
    what was published right after each request)."""
    st = state()
    if st.settings.env == "testing":
        return None
    found: DeferredUpdates | None = current_app.extensions.get("aware_deferred_updates")
    if found is None:
        found = current_app.extensions.setdefault(
            "aware_deferred_updates",
            DeferredUpdates(
                reader_sessions(st.engine, st.sessions), lambda: st.publisher, st.clock
            ),
        )
    return found


@registry.route(
    api,
    "/ingest",
    "POST",
    summary="Report device events (one, or a batch of up to 1000)",
    tag="devices",
    security="device",
    request=IngestBody,
    responses={
        202: (
            "every accepted event is durably stored; refused ones are listed in `rejected`",
            IngestOut,
        ),
        422: ("no event in the request could be stored (each is named in error.fields)", None),
    },
)
def ingest():  # type: ignore[no-untyped-def]
    device_id = _device_id_for(bearer_token())
    body = read_json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", 'expected an event object or {"events": [...]}')
    at = now()
    if "events" not in body:
        single = _sound(request.get_data(cache=True), at, batch=False)
        if single is not None:  # an SOS as a device sends it: one pass of the validator
            return _store(device_id, single, "ingest", at=at), 202
        judged = intake.judge_items([body], at)
        return _store(device_id, judged.events, "ingest", judged.extras, judged=judged, at=at), 202
    items = body["events"]
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
        raise ApiError(
            422,
            "invalid_field",
            "one or more fields are invalid",
            {"events": f"a list of 1 to {MAX_BATCH} events"},
        )
    events = _sound(request.get_data(cache=True), at, batch=True)
    if events is not None:
        return _store(device_id, events, "ingest", batch=True, at=at), 202
    judged = intake.judge_items(items, at)
    stored = _store(
        device_id, judged.events, "ingest", judged.extras, judged=judged, batch=True, at=at
    )
    return stored, 202


def _sound(raw: bytes, at: dt.datetime, *, batch: bool) -> list[EventIn] | None:
    """The request's events (a batch, or one event) when all of them are valid as they stand
    (one pass of the validator, the common case), else None: then each is judged on its own."""
    try:
        if batch:
            events = EventBatchIn.model_validate_json(raw).events
        else:
            events = [EventIn.model_validate_json(raw)]
    except ValidationError:
        return None
    return events if intake.all_sound(events, at) else None


@registry.route(
    protocols,
    "/osmand",
    "GET",
    summary="OsmAnd / Traccar Client protocol: a position or an SOS in the query string",
    tag="devices",
    security=None,
    query=osmand.OsmAndQuery,
    document_prefix="",
    responses={200: ("stored", IngestOut)},
)
def osmand_get():  # type: ignore[no-untyped-def]
    return _osmand(osmand.from_pairs(list(request.args.items(multi=True))))


@registry.route(
    protocols,
    "/osmand",
    "POST",
    summary="OsmAnd / Traccar Client protocol: query string, form body or JSON body",
    tag="devices",
    security=None,
    query=osmand.OsmAndQuery,
    document_prefix="",
    responses={200: ("stored", IngestOut)},
)
def osmand_post():  # type: ignore[no-untyped-def]
    req = osmand.from_pairs(list(request.args.items(multi=True)))
    raw = request.get_data(cache=True)
    if raw.strip():
        if request.is_json or raw.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{":
            req.update(osmand.from_json(osmand.loads(raw)))
        elif request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            req.update(osmand.from_pairs(list(request.form.items(multi=True))))
        else:  # Traccar reads a url-encoded body whatever its content type
            req.update(osmand.from_pairs(osmand.body_pairs(raw)))
    return _osmand(req)


def _osmand(req: osmand.OsmAndRequest):  # type: ignore[no-untyped-def]
    device_id = _device_id_for(osmand.device_token(req))
    at = now()  # one clock reading: a missing or unbelievable device time is the receive time
    events, extras = osmand.to_events(req, at)
    return _store(device_id, events, "osmand", extras, at=at), 200
