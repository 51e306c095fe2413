"""Writing and reading the audit log.

Writing happens inside the caller's transaction, so an entry commits with the act it records
(`record`), or for a read that commits nothing else, in a commit of its own (`access`). Never
on the device intake path: devices read no personal data, and the alarm must not wait.

The detail never carries the personal values themselves (no names, phone numbers, addresses or
positions): ids, counts, field names and filters only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, insert, or_, select
from sqlalchemy.orm import Session

from aware.audit.models import AuditCaseRef, AuditEntry
from aware.auth.models import User

# What (action names). Reports write "report.view" themselves (aware.reports.service).
CASE_CREATE = "case.create"
CASE_READ = "case.read"
CASE_LIST = "case.list"
CASE_UPDATE = "case.update"
ALARM_READ = "alarm.read"
ALARM_LIST = "alarm.list"
CONSOLE_SNAPSHOT = "console.snapshot"
REPORT_VIEW = "report.view"
AUDIT_READ = "audit.read"
EXPORT = "export"
RETENTION = "retention.run"

# Why: the purpose each role works for (need to know).
PURPOSES = {
    "dispatcher": "meldkamer",
    "coordinator": "casusregie",
    "municipality": "gemeentelijke evaluatie",
    "admin": "beheer",
}
SYSTEM = "system"


def purpose_of(user: User | None) -> str:
    """The purpose a person's role reads personal data for ("system" for the service)."""
    if user is None:
        return "bewaartermijn"
    return PURPOSES.get(user.role, user.role)


def record(
    session: Session,
    user: User | None,
    action: str,
    object_type: str,
    object_id: str | None,
    purpose: str,
    detail: dict[str, Any] | None,
    *,
    case_id: int | None = None,
    case_ids: Iterable[int] = (),
    at: dt.datetime | None = None,
) -> AuditEntry:
    """Add one audit entry to the session (flushed, not committed: the use case commits).

    `user` None is the service itself (retention). `case_ids` names every case an act touched
    when it touched several (lists, console snapshots)."""
    entry = AuditEntry(
        at=at or dt.datetime.now(dt.UTC),
        user_id=user.id if user is not None else None,
        username=user.username if user is not None else SYSTEM,
        role=user.role if user is not None else SYSTEM,
        action=action,
        object_type=object_type,
        object_id=object_id,
        case_id=case_id,
        purpose=purpose,
        detail=detail,
    )
    session.add(entry)
    session.flush()
    refs = sorted({int(c) for c in case_ids if c is not None and int(c) != case_id})
    if refs:
        session.execute(insert(AuditCaseRef), [{"entry_id": entry.id, "case_id": c} for c in refs])
    return entry


def access(
    session: Session,
    user: User,
    action: str,
    *,
    case_id: int | None = None,
    case_ids: Iterable[int] = (),
    object_type: str = "case",
    object_id: int | str | None = None,
    detail: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> AuditEntry:
    """Record one read or change by `user` for their role's purpose, and commit it.

    For views whose use case has already committed (or only read): one line at the call site.
    """
    if object_id is None and case_id is not None and object_type == "case":
        object_id = case_id
    entry = record(
        session,
        user,
        action,
        object_type,
        str(object_id) if object_id is not None else None,
        purpose_of(user),
        detail,
        case_id=case_id,
        case_ids=case_ids,
        at=at,
    )
    session.commit()
    return entry


def changed_fields(body: Any, prefix: str = "") -> list[str]:
    """The names (never the values) of the fields a pydantic request body set, dotted."""
    names: list[str] = []
    for name in sorted(getattr(body, "model_fields_set", ())):
        value = getattr(body, name)
        inner = (
            changed_fields(value, f"{prefix}{name}.") if hasattr(value, "model_fields_set") else []
        )
        names.extend(inner or [f"{prefix}{name}"])
    return names


@dataclass(frozen=True)
class AuditFilter:
    """What an admin asks of the log; every part optional."""

    user: str | None = None  # username, or a user id
    case_id: int | None = None
    action: str | None = None  # exact, or a prefix ending in "*" ("case.*")
    start: dt.datetime | None = None  # inclusive
    end: dt.datetime | None = None  # exclusive
    limit: int = 100

    def as_detail(self) -> dict[str, Any]:
        """The filter as audit detail (no personal values: a username is staff data)."""
        out: dict[str, Any] = {}
        for name in ("user", "case_id", "action"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.start is not None:
            out["from"] = self.start.isoformat()
        if self.end is not None:
            out["to"] = self.end.isoformat()
        out["limit"] = self.limit
        return out


def _query(f: AuditFilter) -> Select[Any]:
    q = select(AuditEntry)
    if f.user is not None:
        if f.user.isdigit():
            q = q.where(or_(AuditEntry.user_id == int(f.user), AuditEntry.username == f.user))
        else:
            q = q.where(AuditEntry.username == f.user)
    if f.case_id is not None:
        touched = select(AuditCaseRef.entry_id).where(AuditCaseRef.case_id == f.case_id)
        q = q.where(or_(AuditEntry.case_id == f.case_id, AuditEntry.id.in_(touched)))
    if f.action is not None:
        if f.action.endswith("*"):
            q = q.where(AuditEntry.action.startswith(f.action[:-1], autoescape=True))
        else:
            q = q.where(AuditEntry.action == f.action)
    if f.start is not None:
        q = q.where(AuditEntry.at >= f.start)
    if f.end is not None:
        q = q.where(AuditEntry.at < f.end)
    return q.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())


@dataclass(frozen=True)
class AuditPage:
    entries: list[dict[str, Any]]
    truncated: bool


def search(session: Session, f: AuditFilter) -> AuditPage:
    """Entries matching the filter, newest first, at most `limit` (and whether there are more)."""
    rows: list[AuditEntry] = list(session.scalars(_query(f).limit(f.limit + 1)))
    shown = rows[: f.limit]
    refs: dict[int, list[int]] = {}
    ids = [e.id for e in shown]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for entry_id, case_id in session.execute(
            select(AuditCaseRef.entry_id, AuditCaseRef.case_id)
            .where(AuditCaseRef.entry_id.in_(chunk))
            .order_by(AuditCaseRef.case_id)
        ):
            refs.setdefault(entry_id, []).append(case_id)
    return AuditPage([entry_to_dict(e, refs.get(e.id, [])) for e in shown], len(rows) > f.limit)


def entry_to_dict(entry: AuditEntry, case_ids: Sequence[int] = ()) -> dict[str, Any]:
    """One entry as the API and the CSV export show it."""
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "user_id": entry.user_id,
        "username": entry.username,
        "role": entry.role,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "case_id": entry.case_id,
        "case_ids": list(case_ids),
        "purpose": entry.purpose,
        "detail": entry.detail,
    }


def read_log(
    session: Session, user: User, f: AuditFilter, fmt: str, at: dt.datetime | None = None
) -> AuditPage:
    """The use case behind the admin API and page: search, and audit the search itself."""
    page = search(session, f)
    detail = {**f.as_detail(), "format": fmt, "count": len(page.entries)}
    action = EXPORT if fmt == "csv" else AUDIT_READ
    access(session, user, action, object_type="audit_log", detail=detail, at=at)
    return page


CSV_COLUMNS = (
    "id",
    "at",
    "user_id",
    "username",
    "role",
    "action",
    "object_type",
    "object_id",
    "case_id",
    "case_ids",
    "purpose",
    "detail",
)


def to_csv(entries: list[dict[str, Any]]) -> str:
    """Entries as CSV (one header row). Cells a spreadsheet would run as a formula get a
    leading apostrophe."""
    import csv
    import io
    import json

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        row: list[Any] = []
        for col in CSV_COLUMNS:
            value = e[col]
            if col == "detail":
                value = json.dumps(value, sort_keys=True, ensure_ascii=False) if value else ""
            elif col == "case_ids":
                value = " ".join(str(c) for c in value)
            elif value is None:
                value = ""
            text = str(value)
            if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
                text = "'" + text
            row.append(text)
        writer.writerow(row)
    return out.getvalue()
