"""Escalation chains per alarm type, edited by admins (issue 4).

Each alarm type has the default chain from the settings (AWARE_ESCALATION_AFTER_S,
AWARE_ESCALATION_PHONES) until an admin sets one of its own; `"steps": []` means the type
never escalates. The chain in force is copied onto an alarm when it is raised
(alarms.services.insert_alarm), so a change here never alters an alarm already raised.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from flask import Blueprint, g
from pydantic import BaseModel, Field
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from aware.alarms import escalation as esc
from aware.alarms import rules
from aware.alarms.models import EscalationChain
from aware.api import ApiError, parse_body, registry
from aware.auth.access import roles_required
from aware.devices.schemas import Strict
from aware.state import db, now, state

api = Blueprint("chains_api", __name__, url_prefix="/api/v1")
ADMIN = ("admin",)


class StepIn(Strict):
    after_s: float = Field(description="seconds after the alarm was raised (0 to 86400)")
    channels: list[Literal["sms", "voice"]] = Field(description="one or both, no repeats")
    to: list[str] = Field(default_factory=list, description="E.164 numbers like +31612345678")


class ChainIn(Strict):
    """An escalation chain: each step once, then the last step again every `repeat_every_s`
    seconds up to `max_repeats` times. `"steps": []` means: this type never escalates."""

    steps: list[StepIn] = Field(description=f"0 to {esc.MAX_STEPS} steps, later one after another")
    repeat_every_s: float | None = Field(default=None, description="10 to 3600 when repeating")
    max_repeats: int = Field(default=0, description=f"0 to {esc.MAX_REPEATS}")


class ChainEntryOut(BaseModel):
    alarm_type: str
    chain: ChainIn
    default: bool = Field(description="true: the settings' chain (no chain of its own)")
    updated_at: dt.datetime | None
    updated_by: str | None


class ChainList(BaseModel):
    chains: list[ChainEntryOut]


def _entry(alarm_type: str, row: EscalationChain | None) -> dict[str, Any]:
    if row is None:
        return {
            "alarm_type": alarm_type,
            "chain": state().default_escalation or {"steps": [], "max_repeats": 0},
            "default": True,
            "updated_at": None,
            "updated_by": None,
        }
    return {
        "alarm_type": alarm_type,
        "chain": row.chain,
        "default": False,
        "updated_at": row.updated_at,
        "updated_by": row.updated_by,
    }


def _out(entry: dict[str, Any]) -> dict[str, Any]:
    return ChainEntryOut.model_validate(entry).model_dump(mode="json")


def _known(alarm_type: str) -> str:
    if alarm_type not in rules.PRIORITY:
        raise ApiError(
            404,
            "not_found",
            f"no alarm type {alarm_type!r}; known: {', '.join(rules.ALARM_TYPES)}",
        )
    return alarm_type


def chains(session: Session) -> dict[str, EscalationChain]:
    """The admin-set chains by alarm type."""
    return {row.alarm_type: row for row in session.scalars(select(EscalationChain))}


def set_chain(
    session: Session, alarm_type: str, chain: esc.Chain, by: str, at: dt.datetime
) -> EscalationChain:
    """Give an alarm type a chain of its own (alarms raised from now on copy it)."""
    row = session.get(EscalationChain, alarm_type, with_for_update=True)
    if row is None:
        row = EscalationChain(alarm_type=alarm_type)
        session.add(row)
    row.chain = esc.chain_to_data(chain)
    row.updated_at = at
    row.updated_by = by
    session.commit()
    return row


def reset_chain(session: Session, alarm_type: str) -> None:
    """Back to the settings' default chain for alarms raised from now on."""
    session.execute(delete(EscalationChain).where(EscalationChain.alarm_type == alarm_type))
    session.commit()


@registry.route(
    api,
    "/escalation-chains",
    "GET",
    summary="Escalation chain of every alarm type (its own, or the settings' default)",
    tag="escalation",
    roles=ADMIN,
    responses={200: ("chains", ChainList)},
)
@roles_required(*ADMIN)
def list_chains():  # type: ignore[no-untyped-def]
    rows = chains(db())
    db().rollback()
    return {"chains": [_out(_entry(t, rows.get(t))) for t in rules.ALARM_TYPES]}


@registry.route(
    api,
    "/escalation-chains/<alarm_type>",
    "PUT",
    summary="Set the escalation chain of an alarm type (steps [] never escalates); alarms "
    "already raised keep the chain they were raised with",
    tag="escalation",
    roles=ADMIN,
    request=ChainIn,
    responses={200: ("the type's chain", ChainEntryOut), 404: ("unknown alarm type", None)},
)
@roles_required(*ADMIN)
def put_chain(alarm_type: str):  # type: ignore[no-untyped-def]
    _known(alarm_type)
    body = parse_body(ChainIn)
    try:
        chain = esc.parse_chain(body.model_dump())
    except esc.ChainInvalid as exc:
        raise ApiError(
            422, "invalid_field", "the chain is invalid", {exc.field: exc.message}
        ) from None
    row = set_chain(db(), alarm_type, chain, g.user.username, now())
    return _out(_entry(alarm_type, row))


@registry.route(
    api,
    "/escalation-chains/<alarm_type>",
    "DELETE",
    summary="Back to the settings' default chain for an alarm type",
    tag="escalation",
    roles=ADMIN,
    responses={200: ("the type's chain (the default)", ChainEntryOut), 404: ("unknown", None)},
)
@roles_required(*ADMIN)
def delete_chain(alarm_type: str):  # type: ignore[no-untyped-def]
    _known(alarm_type)
    reset_chain(db(), alarm_type)
    return _out(_entry(alarm_type, None))
