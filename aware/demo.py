"""A demo data set: a user per role, a few devices and some open alarms (`aware demo`).

Everything goes through the service layer, exactly as the API would do it. Loading is
idempotent: existing users and devices are kept, and the demo events carry fixed event ids, so
a second run stores nothing twice and raises no alarm twice.

The demo alarms are a few minutes old: any running `aware serve` or `aware scheduler` finds
their due escalation in the database within a second and sends it (no restart needed).

Device tokens exist only at registration; they are written to a JSON file (mode 0600) that
`aware simulate` reads. All people, serials and positions here are fictional.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aware.adapters.realtime import RecordingPublisher
from aware.auth.models import User
from aware.auth.services import UserInvalid, create_user
from aware.devices import services as devices
from aware.devices.models import Device
from aware.devices.schemas import EventIn, EventType, PositionIn
from aware.security import hash_token
from aware.state import utcnow

# For demos only: a well-known password must never guard real data.
DEMO_PASSWORD = "aware-demo-only-2027"  # noqa: S105 (printed on purpose, demo only)
DEMO_MUNICIPALITY = "0344"  # Utrecht (CBS code)

DEMO_USERS: tuple[tuple[str, str, str | None], ...] = (
    ("demo-admin", "admin", None),
    ("demo-coordinator", "coordinator", None),
    ("demo-dispatcher", "dispatcher", None),
    ("demo-gemeente", "municipality", DEMO_MUNICIPALITY),
)

DEMO_DEVICES: tuple[tuple[str, str], ...] = (
    ("AW-0001", "victim_alarm"),
    ("AW-0002", "victim_alarm"),
    ("AW-0003", "victim_alarm"),
    ("GPS-0001", "perpetrator_tracker"),
    ("GPS-0002", "perpetrator_tracker"),
    ("GPS-0003", "perpetrator_tracker"),
)

TOKENS_FILE = "demo-devices.json"


@dataclass(frozen=True)
class _DemoEvent:
    event_id: str
    type: EventType
    minutes_ago: float
    position: tuple[float, float, float] | None = None  # lat, lon, accuracy_m
    battery_pct: float | None = None


# Fictional positions in and around Utrecht (lat ~52.09, lon ~5.12).
DEMO_EVENTS: dict[str, tuple[_DemoEvent, ...]] = {
    "AW-0001": (
        _DemoEvent("demo-1", "heartbeat", 30, battery_pct=81),
        _DemoEvent("demo-2", "position", 6, (52.0921, 5.1187, 12.0), 80),
        # A press outdoors near the city centre: the alarm carries its own fix.
        _DemoEvent("demo-3", "sos", 4, (52.0907, 5.1214, 8.0), 80),
    ),
    "AW-0002": (
        _DemoEvent("demo-1", "position", 45, (52.1003, 5.0985, 25.0), 64),
        # A victim trying the button with the control room: a test alarm.
        _DemoEvent("demo-2", "test", 20, None, 64),
    ),
    "AW-0003": (_DemoEvent("demo-1", "heartbeat", 10, battery_pct=95),),
    "GPS-0001": (
        _DemoEvent("demo-1", "position", 15, (52.0705, 5.1301, 15.0), 14),
        _DemoEvent("demo-2", "battery_low", 12, (52.0709, 5.1296, 15.0), 9),
    ),
    "GPS-0002": (_DemoEvent("demo-1", "position", 8, (52.1102, 5.0823, 10.0), 70),),
    "GPS-0003": (_DemoEvent("demo-1", "heartbeat", 5, battery_pct=88),),
}


def load_demo(
    session: Session,
    tokens_path: str | os.PathLike[str],
    now: dt.datetime | None = None,
    default_escalation: dict[str, Any] | None = None,
) -> list[str]:
    """Load the demo set (idempotent); returns the lines to print. Demo alarms copy the
    escalation chain in force like any alarm (the default one is passed in from settings)."""
    now = now or utcnow()
    tokens_path = Path(tokens_path)
    lines = [
        f"demo password for every demo-* user: {DEMO_PASSWORD}",
        "  (for demos only: never load the demo set into a database with real cases)",
    ]
    lines += _load_users(session, now)
    tokens, device_lines, unknown = _load_devices(session, tokens_path, now)
    lines += device_lines
    _write_tokens(tokens_path, tokens)
    lines.append(f"device tokens in {tokens_path} (mode 0600; read by `aware simulate`)")
    if unknown:
        lines.append(
            "  no token known for "
            + ", ".join(unknown)
            + " (tokens are shown only at registration); `aware simulate` skips them"
        )
    lines += _load_events(session, now, default_escalation)
    lines += _load_case(session, now)
    # Their due escalation is in the database: no restart needed for it to go out.
    lines.append(
        "open demo alarms escalate (SMS/call) from any running `aware serve` or "
        "`aware scheduler` once AWARE_ESCALATION_AFTER_S has passed"
    )
    return lines


DEMO_CASE = "DEMO-UTR-001"


def _load_case(session: Session, now: dt.datetime) -> list[str]:
    """One fictional case: AW-0001 protects the victim, GPS-0001 is the perpetrator's tracker,
    with a location ban around her (fictional) workplace on the tracker's demo walk and a 500 m
    contact ban, so `aware simulate` shows violations arriving."""
    from aware.risk import services as risk
    from aware.risk.models import Case
    from aware.risk.schemas import CaseCreate

    if session.scalars(select(Case).where(Case.reference == DEMO_CASE)).one_or_none():
        return [f"case {DEMO_CASE} exists"]
    body = CaseCreate.model_validate(
        {
            "reference": DEMO_CASE,
            "municipality": DEMO_MUNICIPALITY,
            "status": "active",
            "victim": {
                "name": "Demo Slachtoffer",
                "phone": "+31600000000",
                "address": "Demostraat 1, Utrecht",
                "home": {"lat": 52.0998, "lon": 5.1050},
            },
            "perpetrator": {"name": "Demo Pleger", "description": "fictief: lange man, groene jas"},
        }
    )
    case = risk.create_case(session, body, now)
    ids = {
        serial: session.scalars(select(Device.id).where(Device.serial == serial)).one()
        for serial in ("AW-0001", "GPS-0001")
    }
    risk.link_device(session, case.id, ids["AW-0001"], "victim", now)
    risk.link_device(session, case.id, ids["GPS-0001"], "perpetrator", now)
    term = {
        "valid_from": now - dt.timedelta(days=1),
        "valid_until": now + dt.timedelta(days=89),
        "legal_basis": "509hh Sv (demo)",
    }
    risk.add_ban(
        session,
        case.id,
        {
            "kind": "location",
            "distance_m": None,
            "warning_margin_m": None,
            **term,
            "zones": [{"type": "Point", "coordinates": [5.1232, 52.0937], "radius_m": 250}],
        },
        now,
    )
    risk.add_ban(
        session,
        case.id,
        {"kind": "contact", "zones": None, "distance_m": 500.0, "warning_margin_m": 500.0, **term},
        now,
    )
    return [
        f"case {DEMO_CASE}: AW-0001 (victim) and GPS-0001 (perpetrator), a 250 m zone on "
        "the tracker's walk and a 500 m contact ban"
    ]


def _load_users(session: Session, now: dt.datetime) -> list[str]:
    lines = []
    for username, role, municipality in DEMO_USERS:
        existing = session.scalars(select(User).where(User.username == username)).one_or_none()
        if existing is not None:
            lines.append(f"user {username} ({existing.role}) exists")
            continue
        try:
            create_user(session, username, role, DEMO_PASSWORD, now, municipality)
        except UserInvalid as exc:
            if exc.field == "username":  # created concurrently
                lines.append(f"user {username} exists")
                continue
            raise
        where = f", municipality {municipality}" if municipality else ""
        lines.append(f"user {username} ({role}{where}) created")
    session.rollback()  # end the read transaction
    return lines


def _read_tokens(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    found = data.get("devices") if isinstance(data, dict) else None
    return found if isinstance(found, dict) else {}


def _load_devices(
    session: Session, tokens_path: Path, now: dt.datetime
) -> tuple[dict[str, dict[str, Any]], list[str], list[str]]:
    known = _read_tokens(tokens_path)
    tokens: dict[str, dict[str, Any]] = {}
    lines: list[str] = []
    unknown: list[str] = []
    for serial, kind in DEMO_DEVICES:
        device = session.scalars(select(Device).where(Device.serial == serial)).one_or_none()
        if device is None:
            try:
                device, token = devices.register(session, serial, kind, now)
            except devices.DeviceExists:  # registered concurrently
                device = session.scalars(select(Device).where(Device.serial == serial)).one()
            else:
                tokens[serial] = {"id": device.id, "kind": device.kind, "token": token}
                lines.append(f"device {serial} ({kind}) registered, id {device.id}")
                continue
        entry = known.get(serial)
        saved = entry.get("token") if isinstance(entry, dict) else None
        # Reuse a saved token only if it really belongs to this database's device.
        if isinstance(saved, str) and hash_token(saved) == device.token_hash:
            tokens[serial] = {"id": device.id, "kind": device.kind, "token": saved}
            lines.append(f"device {serial} ({device.kind}) exists, id {device.id}")
        else:
            unknown.append(serial)
            lines.append(f"device {serial} ({device.kind}) exists, id {device.id}; token unknown")
    session.rollback()  # end the read transaction
    return tokens, lines, unknown


def _write_tokens(path: Path, tokens: dict[str, dict[str, Any]]) -> None:
    """Write the tokens file atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "note": "demo device tokens; secrets: keep this file private (mode 0600)",
        "devices": tokens,
    }
    fd, tmp = tempfile.mkstemp(prefix=".demo-devices-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:  # mkstemp creates it with mode 0600
            json.dump(body, fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load_events(
    session: Session, now: dt.datetime, default_escalation: dict[str, Any] | None
) -> list[str]:
    publisher = RecordingPublisher()
    lines: list[str] = []
    for serial, specs in DEMO_EVENTS.items():
        device = session.scalars(select(Device).where(Device.serial == serial)).one_or_none()
        if device is None or not device.active:
            session.rollback()
            lines.append(f"device {serial} is not active: its demo events are skipped")
            continue
        events = [
            EventIn(
                event_id=spec.event_id,
                type=spec.type,
                occurred_at=now - dt.timedelta(minutes=spec.minutes_ago),
                position=(
                    PositionIn(
                        lat=spec.position[0], lon=spec.position[1], accuracy_m=spec.position[2]
                    )
                    if spec.position
                    else None
                ),
                battery_pct=spec.battery_pct,
            )
            for spec in specs
        ]
        result = devices.ingest(
            session,
            device.id,
            events,
            now,
            publisher,
            source="demo",
            default_escalation=default_escalation,
        )
        for alarm in result.new_alarms:
            lines.append(f"alarm {alarm['id']}: {alarm['type']} from {serial}, {alarm['status']}")
        if result.accepted == 0:
            lines.append(f"device {serial}: demo events already loaded")
    return lines
