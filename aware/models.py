"""Import every model so the metadata (and Alembic autogenerate) sees all tables."""

# Modules whose models are imported for their tables only.
import aware.coordination.allocation_models  # noqa: F401
import aware.coordination.meeting_models  # noqa: F401
import aware.coordination.reference_models  # noqa: F401
import aware.scheduler.models  # noqa: F401
from aware.alarms.models import Alarm, AlarmLogEntry, Counter, EscalationChain
from aware.audit.models import AuditEntry
from aware.auth.models import ApiToken, User
from aware.db import Base
from aware.devices.models import Device, DeviceEvent
from aware.risk.models import (
    Assessment,
    Ban,
    BanWatch,
    Case,
    CaseAction,
    CaseCoordinator,
    CaseDevice,
)

__all__ = [
    "Alarm",
    "AlarmLogEntry",
    "ApiToken",
    "Assessment",
    "AuditEntry",
    "Ban",
    "BanWatch",
    "Base",
    "Case",
    "CaseAction",
    "CaseCoordinator",
    "CaseDevice",
    "Counter",
    "Device",
    "DeviceEvent",
    "EscalationChain",
    "User",
]
