"""Shared fixtures: databases (SQLite always, PostgreSQL when it answers), apps and clients.

PostgreSQL: AWARE_TEST_POSTGRES_URL (default the local server's `test` database). Each test run
works in schemas of its own, so runs never see each other's rows. With AWARE_TEST_REQUIRE_POSTGRES=1
(CI) an unreachable server fails the run instead of skipping.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from aware import crypto, migrate
from aware.adapters.realtime import RecordingPublisher
from aware.app import create_app
from aware.auth.services import create_user, issue_token
from aware.config import Settings
from aware.db import make_engine

PG_URL = os.environ.get(
    "AWARE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_PG = os.environ.get("AWARE_TEST_REQUIRE_POSTGRES") == "1"
PASSWORD = "correct horse battery staple"
# One data key per test run (aware.crypto): every app and session of the run reads the rows
# the others wrote, whatever instance folder each app was given.
DATA_KEY = crypto.new_key()


def _pg_available() -> bool:
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


_PG_UP: bool | None = None


def pg_or_skip() -> None:
    global _PG_UP
    if _PG_UP is None:
        _PG_UP = _pg_available()
    if not _PG_UP:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL required (AWARE_TEST_REQUIRE_POSTGRES=1) but {PG_URL} is down")
        pytest.skip("PostgreSQL is not reachable")


class PgSchemas:
    """Creates throw-away schemas in the PostgreSQL test database and drops them at the end."""

    def __init__(self) -> None:
        self.created: list[str] = []

    def new_url(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        engine = create_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
        engine.dispose()
        self.created.append(name)
        sep = "&" if "?" in PG_URL else "?"
        return f"{PG_URL}{sep}options=-csearch_path%3D{name}"

    def drop_all(self) -> None:
        if not self.created:
            return
        engine = create_engine(PG_URL)
        # One transaction per schema: dropping them all at once takes a lock per table, index
        # and constraint of every schema and runs out of max_locks_per_transaction.
        for name in self.created:
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        engine.dispose()


@pytest.fixture(scope="session")
def pg_schemas() -> Iterator[PgSchemas]:
    schemas = PgSchemas()
    yield schemas
    schemas.drop_all()


def fresh_database(kind: str, tmp: Path, pg_schemas: PgSchemas) -> str:
    """A migrated, empty database of the given kind; returns its URL."""
    if kind == "postgresql":
        pg_or_skip()
        url = pg_schemas.new_url()
    else:
        url = f"sqlite:///{tmp / f'aware-{uuid.uuid4().hex[:8]}.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, pg_schemas: PgSchemas
) -> str:
    """A migrated database shared by the session's tests (each test runs in a transaction)."""
    return fresh_database(request.param, tmp_path_factory.mktemp("db"), pg_schemas)


@pytest.fixture
def fresh_db_url(
    request: pytest.FixtureRequest, db_url: str, tmp_path: Path, pg_schemas: PgSchemas
) -> str:
    """A database of its own, for tests that need real commits on several connections."""
    return fresh_database(
        "postgresql" if db_url.startswith("postgresql") else "sqlite", tmp_path, pg_schemas
    )


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Sessions on one connection inside a transaction that is rolled back after the test.

    Commits in the code under test release savepoints, so tests never see each other's rows.
    """
    conn = engine.connect()
    outer = conn.begin()
    factory = sessionmaker(
        bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield factory
    outer.rollback()
    conn.close()


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    s = sessions()
    yield s
    s.close()


def settings_for(tmp_path: Path, url: str) -> Settings:
    return Settings(
        env="testing",
        instance_path=tmp_path,
        database_url=url,
        secret_key="t" * 32,
        token_ttl_s=3600,
        data_keys=(DATA_KEY,),
    )


@pytest.fixture
def app(tmp_path: Path, db_url: str, sessions: sessionmaker[Session]) -> Any:
    application = create_app(settings_for(tmp_path, db_url))
    st = application.extensions["aware"]
    st.engine.dispose()
    st.sessions = sessions
    st.publisher = RecordingPublisher()
    return application


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def publisher(app: Any) -> RecordingPublisher:
    pub: RecordingPublisher = app.extensions["aware"].publisher
    return pub


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.fixture
def make_user(session: Session) -> Any:
    """Create a user and return (user, bearer token)."""

    def make(role: str, username: str | None = None, municipality: str | None = None) -> Any:
        name = username or f"{role}-{uuid.uuid4().hex[:6]}"
        if role == "municipality" and municipality is None:
            municipality = "0344"
        user = create_user(session, name, role, PASSWORD, now(), municipality)
        token, _ = issue_token(session, user, now(), 3600)
        return user, token

    return make


def csrf_of(html: str) -> str:
    """The CSRF token of the (first) form on a page."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the form"
    return match.group(1)


def sign_in(client: Any, username: str) -> Any:
    """Sign a test client in through the login form (with CSRF); returns the client."""
    token = csrf_of(client.get("/login").text)
    r = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    assert r.status_code == 302, r.text
    return client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def dispatcher(make_user: Any) -> dict[str, str]:
    _, token = make_user("dispatcher", "disp-anna")
    return bearer(token)


@pytest.fixture
def coordinator(make_user: Any) -> dict[str, str]:
    _, token = make_user("coordinator", "coord-bo")
    return bearer(token)


@pytest.fixture
def device(client: Any, coordinator: dict[str, str]) -> dict[str, Any]:
    """A registered victim alarm: {"id", "serial", "kind", "token", "headers"}."""
    resp = client.post(
        "/api/v1/devices", json={"serial": "AW-T1", "kind": "victim_alarm"}, headers=coordinator
    )
    assert resp.status_code == 201, resp.get_json()
    data: dict[str, Any] = resp.get_json()
    data["headers"] = bearer(data["token"])
    return data


def event(event_id: str = "e1", type_: str = "sos", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": event_id,
        "type": type_,
        "occurred_at": extra.pop("occurred_at", "2026-11-28T10:00:00+01:00"),
    }
    body.update(extra)
    return body


def pytest_configure(config: pytest.Config) -> None:
    """AWARE_TEST_CLOCK_OFFSET_DAYS=N: this process and every Python process the tests start
    run N days ahead of the real clock (tests/clockshift), to show no test expires."""
    from tests.clockshift import sitecustomize as clockshift

    if clockshift.travel_from_env():
        os.environ[clockshift.COPY] = os.environ[clockshift.VARIABLE]
        folder = str(Path(clockshift.__file__).parent)
        rest = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = folder + (os.pathsep + rest if rest else "")


@pytest.fixture(autouse=True, scope="session")
def _data_key() -> None:
    """Personal fields are encrypted with the run's key, also by tests without an app."""
    crypto.install(crypto.Keyring([DATA_KEY]))


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """Argon2 with minimal cost inside the test process (production keeps the defaults)."""
    from argon2 import PasswordHasher

    from aware.auth import services

    real = services._hasher
    services._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    yield
    services._hasher = real
