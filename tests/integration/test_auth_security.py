"""Sign-in security: rate limits, lockout, TOTP second factor, response headers and cookies.

Every test runs on SQLite and PostgreSQL. The lockout and the TOTP codes follow the app clock
(AppState.clock), which the tests drive; the rate limits count real time (flask-limiter).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import uuid
from pathlib import Path
from typing import Any

import pyotp
import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from aware.adapters.realtime import RecordingPublisher
from aware.app import create_app
from aware.auth import services
from aware.auth.models import User
from aware.cli import main
from aware.crypto import new_key
from aware.db import make_engine, make_sessionmaker
from tests.conftest import PASSWORD, bearer, csrf_of, event, settings_for

T0 = dt.datetime(2026, 11, 28, 9, 0, 0, tzinfo=dt.UTC)
TOKEN = "/api/v1/auth/token"


class Clock:
    """The app's clock, moved by the test."""

    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> dt.datetime:
        return self.t

    def advance(self, **delta: float) -> None:
        self.t += dt.timedelta(**delta)


@pytest.fixture
def build(tmp_path: Path, db_url: str, sessions: sessionmaker[Session]) -> Any:
    """An app on the test's transaction with some settings changed, and its clock."""

    def make(**overrides: Any) -> tuple[Any, Clock]:
        settings = dataclasses.replace(settings_for(tmp_path, db_url), **overrides)
        application = create_app(settings)
        st = application.extensions["aware"]
        st.engine.dispose()
        st.sessions = sessions
        st.publisher = RecordingPublisher()
        clock = Clock()
        st.clock = clock
        return application, clock

    return make


@pytest.fixture
def clocked(build: Any) -> tuple[Any, Clock]:
    """Default limits, except a per-username budget high enough to reach the lockout."""
    return build(login_rate_user="100/minute")  # type: ignore[no-any-return]


def _token(
    client: Any, username: str, password: str = PASSWORD, ip: str = "10.0.0.1", **extra: Any
):
    body = {"username": username, "password": password, **extra}
    return client.post(TOKEN, json=body, environ_base={"REMOTE_ADDR": ip})


def _web_login(client: Any, username: str, password: str = PASSWORD) -> Any:
    token = csrf_of(client.get("/login").text)
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


def _enroll(session: Session, username: str) -> str:
    user, uri = services.enroll_totp(session, username)
    assert user.totp_secret is not None and user.totp_secret in uri
    return user.totp_secret


def _code(secret: str, at: dt.datetime) -> str:
    return pyotp.TOTP(secret).at(at)


# --- rate limits ---------------------------------------------------------------------------


def test_eleventh_failed_sign_in_from_one_address_is_429_and_intake_is_never_limited(
    client, make_user, device
):
    make_user("dispatcher", "disp-rate")
    for i in range(10):  # different names: the per-IP budget, not the per-username one
        assert _token(client, f"guess-{i}", "wrong password!").status_code == 401
    refused = _token(client, "disp-rate")  # even the right password, from this address
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "too_many_requests"
    assert set(refused.get_json()["error"]) >= {"code", "message", "fields"}
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # The web form shares the budget of that address.
    page = client.get("/login", environ_base={"REMOTE_ADDR": "10.0.0.1"})
    form = client.post(
        "/login",
        data={"username": "disp-rate", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        environ_base={"REMOTE_ADDR": "10.0.0.1"},
    )
    assert form.status_code == 429 and "Retry-After" in form.headers
    assert "Te veel mislukte aanmeldingen" in form.text
    # Another address signs in fine.
    assert _token(client, "disp-rate", ip="10.0.0.2").status_code == 200
    # Alarms from that same address are never limited: intake and the alarm API answer.
    for i in range(30):
        resp = client.post(
            "/api/v1/ingest",
            json=event(f"rate-{i}", "test"),
            headers=device["headers"],
            environ_base={"REMOTE_ADDR": "10.0.0.1"},
        )
        assert resp.status_code == 202, resp.get_json()
    alarms = client.get("/api/v1/alarms", headers=bearer(make_user("dispatcher")[1]))
    assert alarms.status_code == 200


def test_sixth_failure_for_one_username_is_429_from_any_address(client, make_user):
    make_user("dispatcher", "disp-target")
    for i in range(5):
        assert _token(client, "disp-target", "wrong password!", ip=f"10.1.0.{i}").status_code == 401
    assert _token(client, "DISP-Target", ip="10.1.0.9").status_code == 429
    # An unknown name is limited exactly alike (nothing tells which names exist).
    for i in range(5):
        assert _token(client, "nobody-here", "wrong password!", ip=f"10.2.0.{i}").status_code == 401
    assert _token(client, "nobody-here", ip="10.2.0.9").status_code == 429


def test_successful_sign_ins_do_not_use_up_the_budget(client, make_user):
    # A whole shift behind one control-room address signs in at 07:00.
    for i in range(15):
        make_user("dispatcher", f"shift-{i}")
        assert _token(client, f"shift-{i}", ip="10.3.0.1").status_code == 200


def test_bad_input_is_422_and_not_counted(client):
    for _ in range(12):
        resp = client.post(TOKEN, json={"username": "x"}, environ_base={"REMOTE_ADDR": "10.4.0.1"})
        assert resp.status_code == 422 and "password" in resp.get_json()["error"]["fields"]


REDIS_URL = os.environ.get("AWARE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def test_processes_share_the_counts_through_redis(build, make_user):
    import redis as redis_lib

    try:
        redis_lib.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis_lib.RedisError:
        if os.environ.get("AWARE_TEST_REQUIRE_REDIS") == "1":
            pytest.fail(f"Redis required (AWARE_TEST_REQUIRE_REDIS=1) but {REDIS_URL} is down")
        pytest.skip("Redis is not reachable")
    make_user("dispatcher", "disp-redis")
    channel = f"aware-test-{uuid.uuid4().hex}"
    first, _ = build(redis_url=REDIS_URL, redis_channel=channel)
    second, _ = build(redis_url=REDIS_URL, redis_channel=channel)
    ip = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"  # fresh counts per run
    for i in range(10):
        app = first if i % 2 else second
        assert _token(app.test_client(), f"r-{i}", "wrong password!", ip=ip).status_code == 401
    assert _token(first.test_client(), "disp-redis", ip=ip).status_code == 429
    assert _token(second.test_client(), "disp-redis", ip=ip).status_code == 429


# --- lockout -------------------------------------------------------------------------------


def test_five_failures_lock_the_account_for_fifteen_minutes_even_for_the_right_password(
    clocked, make_user
):
    app, clock = clocked
    client = app.test_client()
    make_user("dispatcher", "disp-lock")
    for i in range(5):
        assert _token(client, "disp-lock", f"wrong password {i}").status_code == 401
    locked = _token(client, "disp-lock")
    unknown = _token(client, "nobody-at-all")
    assert locked.status_code == unknown.status_code == 401
    assert locked.get_json() == unknown.get_json()  # same words: existence and lock not told
    assert "try again later" in locked.get_json()["error"]["message"]
    # The web form says the same for a locked and an unknown account.
    web = app.test_client()
    locked_page = _web_login(web, "disp-lock")
    unknown_page = _web_login(web, "nobody-at-all")
    assert locked_page.status_code == unknown_page.status_code == 401
    assert "probeer het later opnieuw" in locked_page.text
    strip = re.compile(r'value="[^"]*"')
    assert strip.sub("", locked_page.text) == strip.sub("", unknown_page.text)
    clock.advance(minutes=14, seconds=59)
    assert _token(client, "disp-lock").status_code == 401
    clock.advance(seconds=1)
    assert _token(client, "disp-lock").status_code == 200


def test_failures_older_than_the_window_do_not_count(clocked, make_user):
    app, clock = clocked
    client = app.test_client()
    make_user("dispatcher", "disp-slow")
    wrong = "wrong password!"
    for i in range(4):
        assert _token(client, "disp-slow", wrong, ip=f"10.5.0.{i}").status_code == 401
    clock.advance(minutes=16)
    for i in range(4):
        assert _token(client, "disp-slow", wrong, ip=f"10.5.1.{i}").status_code == 401
    assert _token(client, "disp-slow").status_code == 200
    # A successful sign-in forgets the failures: four more do not lock either.
    for i in range(4):
        assert _token(client, "disp-slow", wrong, ip=f"10.5.2.{i}").status_code == 401
    assert _token(client, "disp-slow").status_code == 200


def test_lockout_settings_are_honoured(build, make_user):
    app, clock = build(lockout_attempts=2, lockout_minutes=1, login_rate_user="100/minute")
    client = app.test_client()
    make_user("dispatcher", "disp-short")
    for _ in range(2):
        assert _token(client, "disp-short", "wrong password!").status_code == 401
    assert _token(client, "disp-short").status_code == 401
    clock.advance(minutes=1)
    assert _token(client, "disp-short").status_code == 200


def test_failed_attempts_are_recorded_in_the_database(clocked, make_user, session):
    app, _ = clocked
    client = app.test_client()
    user, _ = make_user("dispatcher", "disp-db")
    for _ in range(5):
        _token(client, "disp-db", "wrong password!")
    session.expire_all()
    row = session.get(User, user.id)
    assert row is not None and row.locked_until == T0 + dt.timedelta(minutes=15)


def _cli(url: str, tmp_path: Path, *args: str) -> Any:
    env = {"AWARE_DATABASE_URL": url, "AWARE_ENV": "testing", "AWARE_INSTANCE_PATH": str(tmp_path)}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_admin_unlocks_an_account_from_the_command_line(fresh_db_url, tmp_path):
    settings = dataclasses.replace(
        settings_for(tmp_path, fresh_db_url), login_rate_user="100/minute"
    )
    app = create_app(settings)
    engine = make_engine(fresh_db_url)
    try:
        with make_sessionmaker(engine)() as s:
            services.create_user(s, "disp-cli", "dispatcher", PASSWORD, T0)
        client = app.test_client()
        for _ in range(5):
            assert _token(client, "disp-cli", "wrong password!").status_code == 401
        assert _token(client, "disp-cli").status_code == 401
        done = _cli(fresh_db_url, tmp_path, "user", "unlock", "disp-cli")
        assert done.exit_code == 0 and "disp-cli unlocked" in done.output
        assert _token(client, "disp-cli").status_code == 200
        missing = _cli(fresh_db_url, tmp_path, "user", "unlock", "nobody")
        assert missing.exit_code == 2 and "no user nobody" in missing.output
    finally:
        app.extensions["aware"].engine.dispose()
        engine.dispose()


# --- TOTP ----------------------------------------------------------------------------------


def test_enrolment_prints_the_uri_once_and_stores_the_secret_encrypted(fresh_db_url, tmp_path):
    engine = make_engine(fresh_db_url)
    try:
        with make_sessionmaker(engine)() as s:
            services.create_user(s, "admin-totp", "admin", PASSWORD, T0)
        done = _cli(fresh_db_url, tmp_path, "user", "totp", "admin-totp")
        assert done.exit_code == 0, done.output
        uri = re.search(r"otpauth://totp/\S+", done.output)
        assert uri and "issuer=AWARE" in uri.group(0)
        secret = re.search(r"secret=([A-Z2-7]+)", uri.group(0))
        assert secret
        with engine.connect() as conn:
            raw = conn.execute(
                text("SELECT totp_secret FROM users WHERE username = 'admin-totp'")
            ).scalar_one()
        assert secret.group(1) not in raw  # encrypted at rest
        with make_sessionmaker(engine)() as s:
            user = s.scalars(select(User).where(User.username == "admin-totp")).one()
            assert user.totp_secret == secret.group(1)
        again = _cli(fresh_db_url, tmp_path, "user", "totp", "admin-totp")
        assert again.exit_code == 2 and "--replace" in again.output
        assert "otpauth://" not in again.output
        replaced = _cli(fresh_db_url, tmp_path, "user", "totp", "admin-totp", "--replace")
        assert replaced.exit_code == 0 and secret.group(1) not in replaced.output
        missing = _cli(fresh_db_url, tmp_path, "user", "totp", "nobody")
        assert missing.exit_code == 2 and "no user nobody" in missing.output
    finally:
        engine.dispose()


def test_two_step_web_sign_in(clocked, make_user, session):
    app, clock = clocked
    make_user("dispatcher", "disp-2fa")
    secret = _enroll(session, "disp-2fa")
    client = app.test_client()
    step1 = _web_login(client, "disp-2fa")
    assert step1.status_code == 302 and step1.headers["Location"].endswith("/login/totp")
    assert client.get("/console").status_code == 302  # half signed in is not signed in
    form = client.get("/login/totp")
    assert form.status_code == 200 and 'name="code"' in form.text
    token = csrf_of(form.text)
    wrong = client.post("/login/totp", data={"code": "000000", "csrf_token": token})
    if _code(secret, T0) == "000000":  # one in a million
        return
    assert wrong.status_code == 401 and "onjuiste of al gebruikte code" in wrong.text.lower()
    bad = client.post("/login/totp", data={"code": "12ab56", "csrf_token": token})
    assert bad.status_code == 422
    ok = client.post("/login/totp", data={"code": _code(secret, T0), "csrf_token": token})
    assert ok.status_code == 302
    console = client.get("/console")
    assert console.status_code == 200 and "disp-2fa" in console.text
    # The same code in another browser (a shoulder-surfer) is refused.
    other = app.test_client()
    assert _web_login(other, "disp-2fa").status_code == 302
    replay = other.post(
        "/login/totp",
        data={"code": _code(secret, T0), "csrf_token": csrf_of(other.get("/login/totp").text)},
    )
    assert replay.status_code == 401
    assert other.get("/console").status_code == 302
    clock.advance(seconds=30)
    fresh = other.post(
        "/login/totp",
        data={"code": _code(secret, clock.t), "csrf_token": csrf_of(other.get("/login/totp").text)},
    )
    assert fresh.status_code == 302 and other.get("/console").status_code == 200


def test_half_signed_in_state_expires_after_five_minutes(clocked, make_user, session):
    app, clock = clocked
    make_user("dispatcher", "disp-slowcode")
    secret = _enroll(session, "disp-slowcode")
    client = app.test_client()
    assert _web_login(client, "disp-slowcode").status_code == 302
    token = csrf_of(client.get("/login/totp").text)
    clock.advance(minutes=5, seconds=1)
    late = client.post("/login/totp", data={"code": _code(secret, clock.t), "csrf_token": token})
    assert late.status_code == 401 and "duurde te lang" in late.text
    assert client.get("/console").status_code == 302
    assert client.get("/login/totp").status_code == 302  # back to the password


def test_wrong_codes_count_towards_the_lockout(clocked, make_user, session):
    app, clock = clocked
    client = app.test_client()
    make_user("dispatcher", "disp-guess")
    secret = _enroll(session, "disp-guess")
    right = _code(secret, T0)
    wrong = [c for c in ("111111", "222222", "333333", "444444", "555555", "666666") if c != right]
    for code in wrong[:5]:
        assert _token(client, "disp-guess", otp=code).status_code == 401
    assert _token(client, "disp-guess", otp=right).status_code == 401  # locked
    clock.advance(minutes=15)
    assert _token(client, "disp-guess", otp=_code(secret, clock.t)).status_code == 200


def test_api_token_with_a_second_factor(clocked, make_user, session):
    app, clock = clocked
    client = app.test_client()
    make_user("coordinator", "coord-2fa")
    secret = _enroll(session, "coord-2fa")
    missing = _token(client, "coord-2fa")
    assert missing.status_code == 422 and "otp" in missing.get_json()["error"]["fields"]
    malformed = _token(client, "coord-2fa", otp="12 456")
    assert malformed.status_code == 422 and "otp" in malformed.get_json()["error"]["fields"]
    code = _code(secret, T0)
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    assert _token(client, "coord-2fa", otp=wrong).status_code == 401
    assert _token(client, "coord-2fa", "wrong password!", otp=code).status_code == 401
    ok = _token(client, "coord-2fa", otp=code)
    assert ok.status_code == 200 and ok.get_json()["role"] == "coordinator"
    replay = _token(client, "coord-2fa", otp=code)
    assert replay.status_code == 401
    assert replay.get_json() == _token(client, "nobody", otp=code).get_json()
    clock.advance(seconds=30)
    assert _token(client, "coord-2fa", otp=_code(secret, clock.t)).status_code == 200


def test_required_second_factor_refuses_an_unenrolled_role(build, make_user, session):
    app, clock = build(require_totp=("admin",))
    client = app.test_client()
    make_user("admin", "admin-bare")
    make_user("dispatcher", "disp-bare")
    refused = _token(client, "admin-bare")
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "totp_required"
    assert "aware user totp" in refused.get_json()["error"]["message"]
    page = _web_login(app.test_client(), "admin-bare")
    assert page.status_code == 403 and "tweede factor" in page.text
    # A wrong password still gets the plain refusal (nothing about the factor).
    assert _token(client, "admin-bare", "wrong password!").status_code == 401
    assert _token(client, "disp-bare").status_code == 200  # not a listed role
    secret = _enroll(session, "admin-bare")
    assert _token(client, "admin-bare", otp=_code(secret, clock.t)).status_code == 200


def test_require_totp_defaults_to_admins_in_production_only(tmp_path):
    testing = settings_for(tmp_path, "sqlite://")
    assert testing.totp_required_roles == ()
    production = dataclasses.replace(testing, env="production")
    assert production.totp_required_roles == ("admin",)
    assert dataclasses.replace(production, require_totp=()).totp_required_roles == ()


# --- headers and cookies -------------------------------------------------------------------


def test_pages_and_person_answers_are_never_cached_and_carry_the_policies(
    client, make_user, coordinator
):
    make_user("dispatcher", "disp-head")
    for resp in (
        client.get("/login"),
        _web_login(client, "disp-head"),
        client.get("/console"),
        client.get("/api/v1/cases", headers=coordinator),
        client.get("/api/v1/alarms", headers=coordinator),
    ):
        assert resp.headers["Cache-Control"] == "no-store", resp.request.path
        assert resp.headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert "geolocation=()" in resp.headers["Permissions-Policy"]
        assert "camera=()" in resp.headers["Permissions-Policy"]
        assert "Strict-Transport-Security" not in resp.headers  # not in testing
    static = client.get("/static/app.css")
    assert static.status_code == 200 and static.headers.get("Cache-Control") != "no-store"


def test_session_cookie_flags_in_testing(client, make_user):
    make_user("dispatcher", "disp-cookie")
    resp = _web_login(client, "disp-cookie")
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_production_sends_hsts_and_secure_cookies(tmp_path, db_url, sessions):
    settings = dataclasses.replace(
        settings_for(tmp_path, db_url), env="production", data_keys=(new_key(),)
    )
    app = create_app(settings)
    st = app.extensions["aware"]
    st.engine.dispose()
    st.sessions = sessions
    with sessions() as s:
        services.create_user(s, "disp-prod", "dispatcher", PASSWORD, T0)
    client = app.test_client()
    page = client.get("/login")
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    resp = _web_login(client, "disp-prod")
    assert resp.status_code == 302
    cookie = resp.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    api = client.get("/api/openapi.json")
    assert "Strict-Transport-Security" in api.headers


def test_sign_in_works_and_is_still_limited_when_redis_is_down(build, make_user):
    make_user("dispatcher", "disp-noredis")
    app, _ = build(redis_url="redis://127.0.0.1:9/0", redis_channel=f"t-{uuid.uuid4().hex}")
    client = app.test_client()
    assert _token(client, "disp-noredis").status_code == 200  # counted in memory meanwhile
    for i in range(10):
        assert _token(client, f"down-{i}", "wrong password!").status_code == 401
    assert _token(client, "disp-noredis").status_code == 429
