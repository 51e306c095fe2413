"""Case deadlines the scheduler watches: re-assessments due, bans ending, action deadlines.

Each function is one idempotent use case: actions it opens carry a `source_key` that is unique
per case (INSERT ... ON CONFLICT DO NOTHING), so a job that runs twice, or in two processes at
once, opens each action once. Titles are Dutch like the rest of the coordinator's screens;
dates in them are Europe/Amsterdam calendar dates.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from aware.risk.models import Ban, Case, CaseAction

log = logging.getLogger(__name__)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
REASSESSMENT_DUE = "reassessment_due"
BAN_ENDING = "ban_ending"
BAN_NOTICE_DAYS = 7
_ACTIONS = cast(Table, CaseAction.__table__)


def _local_date(at: dt.datetime) -> str:
    return at.astimezone(AMSTERDAM).date().isoformat()


def _open_actions(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert actions that do not exist yet (by case and source_key); returns how many."""
    if not rows:
        return 0
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(_ACTIONS)
        .on_conflict_do_nothing(index_elements=["case_id", "source_key"])
        .returning(_ACTIONS.c.id)
    )
    created = 0
    for row in rows:
        created += len(session.execute(stmt, row).all())
    return created


def reassessments_due(session: Session, now: dt.datetime) -> int:
    """Open "re-assessment due" on every case whose newest screening's date has passed (one per
    case and due date; a newer screening moves the date, so no action for the old one)."""
    cases = session.execute(
        select(Case.id, Case.reassess_due).where(
            Case.reassess_due.is_not(None), Case.reassess_due <= now, Case.status != "ended"
        )
    ).all()
    rows = [
        {
            "case_id": case_id,
            "kind": REASSESSMENT_DUE,
            "title": f"Herbeoordeling risico (SASH) was gepland op {_local_date(due)}",
            "opened_at": now,
            "due_at": due,
            "source_key": f"reassess:{due.astimezone(dt.UTC).isoformat()}",
        }
        for case_id, due in cases
        if due is not None
    ]
    created = _open_actions(session, rows)
    session.commit()
    if created:
        log.info("re-assessment due: %d action(s) opened", created)
    return created


def bans_ending(session: Session, now: dt.datetime, days: int = BAN_NOTICE_DAYS) -> int:
    """Open "ban ends: extend or hand over" for every ban ending within `days` (one per ban and
    end date: an extended ban gets a new one when its new end comes near)."""
    bans = session.execute(
        select(Ban.id, Ban.case_id, Ban.kind, Ban.valid_until).where(
            Ban.ended_at.is_(None),
            Ban.valid_until > now,
            Ban.valid_until <= now + dt.timedelta(days=days),
        )
    ).all()
    word = {"location": "Gebiedsverbod", "contact": "Contactverbod"}
    rows = [
        {
            "case_id": case_id,
            "kind": BAN_ENDING,
            "title": f"{word.get(kind, 'Verbod')} loopt af op {_local_date(until)}: "
            "verlengen of overdragen",
            "opened_at": now,
            "due_at": until,
            "source_key": f"ban_end:{ban_id}:{until.astimezone(dt.UTC).isoformat()}",
        }
        for ban_id, case_id, kind, until in bans
    ]
    created = _open_actions(session, rows)
    session.commit()
    if created:
        log.info("bans ending within %d days: %d action(s) opened", days, created)
    return created


def action_deadlines(session: Session, now: dt.datetime) -> list[int]:
    """Open actions whose deadline has passed get one reminder each; returns their ids.

    Nobody is registered to receive reminders yet (owners arrive with the meeting minutes), so
    the reminder is the log line; `reminded_at` makes sure it is given once.
    """
    due = session.scalars(
        select(CaseAction.id)
        .where(
            CaseAction.done_at.is_(None),
            CaseAction.due_at.is_not(None),
            CaseAction.due_at < now,
            CaseAction.reminded_at.is_(None),
        )
        .order_by(CaseAction.id)
    ).all()
    reminded: list[int] = []
    for action_id in due:
        # Conditional update: of two overlapping runs only one marks (and reports) it.
        done = session.execute(
            update(_ACTIONS)
            .where(_ACTIONS.c.id == action_id, _ACTIONS.c.reminded_at.is_(None))
            .values(reminded_at=now)
            .returning(_ACTIONS.c.case_id, _ACTIONS.c.kind)
        ).all()
        for case_id, kind in done:
            # Ids and kind only: no names or case details in logs.
            log.warning("action %s (%s) on case %s is past its deadline", action_id, kind, case_id)
            reminded.append(action_id)
    session.commit()
    return reminded
