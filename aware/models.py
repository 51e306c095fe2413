"""Import every model so the metadata (and Alembic autogenerate) sees all tables."""

from aware.alarms.models import Alarm, AlarmLogEntry, Counter
from aware.auth.models import ApiToken, User
from aware.db import Base
from aware.devices.models import Device, DeviceEvent

__all__ = ["Alarm", "AlarmLogEntry", "ApiToken", "Base", "Counter", "Device", "DeviceEvent", "User"]
