"""Writing the audit log (inside the caller's transaction: the entry commits with the act)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from aware.audit.models import AuditEntry
from aware.auth.models import User


def record(
    session: Session,
    user: User,
    action: str,
    object_type: str,
    object_id: str | None,
    purpose: str,
    detail: dict[str, Any] | None,
    *,
    case_id: int | None = None,
    at: dt.datetime | None = None,
) -> AuditEntry:
    """Add one audit entry to the session (flushed, not committed: the use case commits)."""
    entry = AuditEntry(
        at=at or dt.datetime.now(dt.UTC),
        user_id=user.id,
        username=user.username,
        role=user.role,
        action=action,
        object_type=object_type,
        object_id=object_id,
        case_id=case_id,
        purpose=purpose,
        detail=detail,
    )
    session.add(entry)
    session.flush()
    return entry
