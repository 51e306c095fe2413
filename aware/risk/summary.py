"""The case card that travels with an alarm to dispatch consoles.

Dispatchers need it to act: who is threatened, where she lives, who to look for, which bans
apply. Only roles with that need (dispatch, the case's coordinators) ever receive alarm objects.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Connection, Table, select

from aware.crypto import DataKeyError
from aware.risk.models import Ban, Case

_CASES = cast(Table, Case.__table__)
_BANS = cast(Table, Ban.__table__)
# The columns a card can always show: not encrypted (see aware/crypto.py).
_PLAIN = (
    _CASES.c.id,
    _CASES.c.reference,
    _CASES.c.municipality_code,
    _CASES.c.status,
    _CASES.c.concern,
)
UNREADABLE = "[onleesbaar: datasleutel ontbreekt]"
log = logging.getLogger(__name__)


def _unreadable_card(c: Any) -> dict[str, Any]:
    return {
        "id": c.id,
        "reference": c.reference,
        "municipality": c.municipality_code,
        "status": c.status,
        "concern": c.concern,
        "victim": {"name": UNREADABLE, "phone": None, "address": None},
        "perpetrator": {"name": None, "description": None, "vehicle": None},
        "unreadable": True,
        "active_bans": [],
    }


def case_summaries(
    conn: Connection, case_ids: Iterable[int | None], now: dt.datetime
) -> dict[int, dict[str, Any]]:
    """Case cards by case id (two queries, whatever the number of cases)."""
    ids = sorted({i for i in case_ids if i is not None})
    if not ids:
        return {}
    cards: dict[int, dict[str, Any]] = {}
    try:
        rows = conn.execute(select(_CASES).where(_CASES.c.id.in_(ids))).all()
    except DataKeyError:
        # A data key missing from AWARE_DATA_KEYS must never cost an alarm: the card goes out
        # without the encrypted details, marked, and the error is logged for the operators.
        log.error("case cards %s unreadable (data key missing): sent without personal details", ids)
        rows = []
        for c in conn.execute(select(*_PLAIN).where(_CASES.c.id.in_(ids))):
            cards[c.id] = _unreadable_card(c)
    for c in rows:
        cards[c.id] = {
            "id": c.id,
            "reference": c.reference,
            "municipality": c.municipality_code,
            "status": c.status,
            "concern": c.concern,
            "victim": {"name": c.victim_name, "phone": c.victim_phone, "address": c.victim_address},
            "perpetrator": {
                "name": c.perpetrator_name,
                "description": c.perpetrator_description,
                "vehicle": c.perpetrator_vehicle,
            },
            "active_bans": [],
        }
    bans = conn.execute(
        select(
            _BANS.c.id,
            _BANS.c.case_id,
            _BANS.c.kind,
            _BANS.c.distance_m,
            _BANS.c.legal_basis,
            _BANS.c.valid_until,
        )
        .where(
            _BANS.c.case_id.in_(ids),
            _BANS.c.ended_at.is_(None),
            _BANS.c.valid_from <= now,
            _BANS.c.valid_until > now,
        )
        .order_by(_BANS.c.id)
    )
    for b in bans:
        cards[b.case_id]["active_bans"].append(
            {
                "id": b.id,
                "kind": b.kind,
                "distance_m": b.distance_m,
                "legal_basis": b.legal_basis,
                "valid_until": b.valid_until.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            }
        )
    return cards
