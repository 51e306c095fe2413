"""Request and response models of alarms (they also generate the OpenAPI)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from aware.alarms import escalation as esc
from aware.alarms.models import Alarm

AlarmStatus = Literal["open", "acknowledged", "resolved"]
OutcomeName = Literal["genuine", "false_alarm", "test", "technical"]
EscalationStatus = Literal["sent", "failed", "not_sent"]


class PositionOut(BaseModel):
    lat: float
    lon: float
    accuracy_m: float | None
    at: dt.datetime | None = Field(description="when the fix was taken (device clock)")
    source: Literal["event", "last_known"] = Field(
        description="event: the alarm event carried it; last_known: the device's last fix"
    )


class AlarmOut(BaseModel):
    """The alarm object of the contract."""

    id: int
    seq: int = Field(description="grows with every change of any alarm")
    type: str
    priority: int = Field(description="1 is the highest")
    is_test: bool
    status: AlarmStatus
    device_id: int | None
    case_id: int | None
    event_id: str | None
    occurred_at: dt.datetime
    received_at: dt.datetime
    position: PositionOut | None
    delivered_at: dt.datetime | None
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None
    resolved_at: dt.datetime | None
    resolved_by: str | None
    outcome: OutcomeName | None
    ban_id: int | None = Field(description="for violations: the ban broken")
    late: bool = Field(description="raised by a position that arrived late (buffered)")
    detail: dict[str, Any] | None = Field(
        description="for violations: distance, accuracy, uncertainty, victim position age"
    )
    case: dict[str, Any] | None = Field(
        default=None,
        description="the case card: reference, concern, victim (name, phone, address), "
        "perpetrator, active bans; only dispatch roles receive alarm objects",
    )
    escalation_due_at: dt.datetime | None = Field(
        default=None,
        description="when the next escalation (SMS/call) fires while the alarm stays open and "
        "unacknowledged; null once acknowledged or resolved, or when its chain has no (more) "
        "firings",
    )
    escalation_status: EscalationStatus | None = Field(
        default=None,
        description="outcome of the most recent escalation firing: sent (every message and call "
        "went out), failed (at least one failed), not_sent (nothing could be sent: no numbers "
        "or SMS/voice not configured); null before the first firing",
    )


class TimelineEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: dt.datetime
    action: str
    actor_type: str
    actor_name: str | None
    detail: dict[str, Any] | None


class AlarmDetailOut(AlarmOut):
    timeline: list[TimelineEntryOut]


class AlarmList(BaseModel):
    alarms: list[AlarmOut]


class AlarmListQuery(BaseModel):
    status: AlarmStatus | None = Field(
        default=None, description="without it: every open or acknowledged alarm"
    )
    limit: int = Field(default=500, ge=1, le=1000)


class ResolveIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    outcome: OutcomeName
    note: str | None = Field(default=None, max_length=4000)


class NoteIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    text: str = Field(min_length=1, max_length=4000)


def iso(value: dt.datetime | None) -> str | None:
    """RFC 3339 in UTC with a Z, as the API writes every time."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def alarm_to_dict(alarm: Alarm, case: dict[str, Any] | None = None) -> dict[str, Any]:
    """The contract's alarm object (`AlarmOut`) as JSON-ready data.

    Built by hand because it is on the alarm path; a test checks it against AlarmOut.
    """
    position = None
    if alarm.lat is not None and alarm.lon is not None:
        position = {
            "lat": alarm.lat,
            "lon": alarm.lon,
            "accuracy_m": alarm.accuracy_m,
            "at": iso(alarm.position_at),
            "source": alarm.position_source or "event",
        }
    return {
        "id": alarm.id,
        "seq": alarm.seq,
        "type": alarm.type,
        "priority": alarm.priority,
        "is_test": alarm.type == "test",
        "status": alarm.status,
        "device_id": alarm.device_id,
        "case_id": alarm.case_id,
        "event_id": alarm.event_id,
        "occurred_at": iso(alarm.occurred_at),
        "received_at": iso(alarm.received_at),
        "position": position,
        "delivered_at": iso(alarm.delivered_at),
        "acknowledged_at": iso(alarm.acknowledged_at),
        "acknowledged_by": alarm.acknowledged_by,
        "resolved_at": iso(alarm.resolved_at),
        "resolved_by": alarm.resolved_by,
        "outcome": alarm.outcome,
        "ban_id": alarm.ban_id,
        "late": bool(alarm.late),
        "detail": alarm.detail,
        "case": case,
        "escalation_due_at": iso(escalation_due_at(alarm)),
        "escalation_status": alarm.escalation_status,
    }


def escalation_due_at(alarm: Alarm) -> dt.datetime | None:
    """The next planned firing of the alarm's own (copied) chain while it is open and still
    carries its escalation token; None otherwise. Alarms without a copied chain (raised before
    chains were copied) show None, although the escalator still runs the default for them."""
    if alarm.status != "open" or alarm.escalation_token is None or not alarm.escalation:
        return None
    try:
        chain = esc.parse_chain(alarm.escalation)
    except esc.ChainInvalid:
        return None
    firing = esc.next_firing(chain, alarm.received_at, alarm.escalations_fired or 0)
    return firing.at if firing is not None else None


def alarm_detail_to_dict(
    alarm: Alarm, timeline: list[Any], case: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The alarm object with its timeline."""
    data = alarm_to_dict(alarm, case)
    data["timeline"] = [
        TimelineEntryOut.model_validate(e).model_dump(mode="json") for e in timeline
    ]
    return data
