"""A locked or unreachable database is 503 with Retry-After on every device and sign-in
endpoint, never 500, and nothing is half-stored: the device's retry goes through."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from aware.app import create_app
from aware.devices import services
from aware.devices.models import DeviceEvent
from tests.conftest import PgSchemas, bearer, fresh_database, settings_for

BUSY_MS = 200  # short, so a held lock answers quickly; the tests wait for nothing else


@pytest.fixture
def sqlite_app(tmp_path: Path, pg_schemas: PgSchemas) -> Any:
    url = fresh_database("sqlite", tmp_path, pg_schemas)
    settings = dataclasses.replace(settings_for(tmp_path, url), sqlite_busy_timeout_ms=BUSY_MS)
    app = create_app(settings)
    st = app.extensions["aware"]
    with st.sessions() as s:
        _, token = services.register(s, "AW-L", "victim_alarm", dt.datetime.now(dt.UTC))
    yield app, url.removeprefix("sqlite:///"), token
    st.engine.dispose()


def sos(event_id: str) -> dict[str, str]:
    at = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)).isoformat()
    return {"event_id": event_id, "type": "sos", "occurred_at": at}


def requests(client: Any, token: str, n: str) -> dict[str, Any]:
    """One request of each kind a device or a person sends."""
    return {
        "ingest": client.post("/api/v1/ingest", headers=bearer(token), json=sos(n)),
        "osmand": client.get(f"/osmand?id={token}&lat=52.1&lon=5.1&alarm=sos&timestamp=17{n}"),
        "token": client.post("/api/v1/auth/token", json={"username": "x", "password": "y"}),
    }


def stored(app: Any) -> int:
    with app.extensions["aware"].sessions() as s:
        return int(s.scalar(select(func.count()).select_from(DeviceEvent)))


def assert_unavailable(answers: dict[str, Any]) -> None:
    for name, resp in answers.items():
        assert resp.status_code == 503, (name, resp.status_code, resp.get_data(as_text=True))
        assert resp.headers["Retry-After"].isdigit(), name
        assert resp.get_json()["error"]["code"] == "unavailable", name


def test_sqlite_locked_by_another_process_is_503(sqlite_app):
    app, path, token = sqlite_app
    client = app.test_client()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        assert_unavailable(requests(client, token, "1"))
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert stored(app) == 0
    # Positive control: the same requests once the lock is gone.
    answers = requests(client, token, "1")
    assert answers["ingest"].status_code == 202 and answers["osmand"].status_code < 300
    assert answers["token"].status_code == 401
    assert stored(app) == 2


def test_sqlite_locked_by_this_process_is_503(sqlite_app):
    """The writer lock of this process times out in a "begin" listener, which SQLAlchemy does
    not wrap: the driver's own sqlite3.OperationalError reached the error handler (500)."""
    app, _, token = sqlite_app
    client = app.test_client()
    holder = app.extensions["aware"].sessions()
    holder.connection()  # BEGIN IMMEDIATE: this process's writer lock is taken
    try:
        assert_unavailable(requests(client, token, "2"))
    finally:
        holder.rollback()
        holder.close()
    assert stored(app) == 0
    answers = requests(client, token, "2")
    assert answers["ingest"].status_code == 202 and answers["osmand"].status_code < 300
    assert stored(app) == 2


def test_unreachable_postgresql_is_503(tmp_path: Path):
    # Nothing listens on port 9 (discard) locally: the connection is refused at once.
    url = "postgresql+psycopg://postgres@127.0.0.1:9/test?connect_timeout=2"
    app = create_app(settings_for(tmp_path, url))
    try:
        assert_unavailable(requests(app.test_client(), "some-device-token", "3"))
    finally:
        app.extensions["aware"].engine.dispose()


def test_deferred_console_updates_read_beside_a_writer(sqlite_app):
    """The worker publishing console updates after the answer reads without the write lock,
    so it never holds up the next intake (SQLite; PostgreSQL readers never block writers)."""
    from aware.devices.deferred import reader_sessions

    app, path, _ = sqlite_app
    st = app.extensions["aware"]
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with reader_sessions(st.engine, st.sessions)() as s:
            assert s.scalar(select(func.count()).select_from(DeviceEvent)) == 0
        with pytest.raises(Exception, match="locked"), st.sessions() as s:
            s.connection()  # positive control: the app's own sessions wait for the lock
    finally:
        other.execute("ROLLBACK")
        other.close()
