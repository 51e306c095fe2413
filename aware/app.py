"""The Flask application factory, made of small register_* steps."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import sqlite3
import time
from typing import Any

from flask import Flask, Response, g, request
from flask.sessions import SecureCookieSessionInterface
from flask_socketio import SocketIO
from flask_wtf.csrf import CSRFError
from pydantic import ValidationError
from sqlalchemy.exc import (
    DataError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    PendingRollbackError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from aware import i18n, logredact, metrics
from aware.adapters.notify import NotConfigured, TwilioNotifier
from aware.adapters.realtime import (
    JsonPacket,
    RecordingPublisher,
    SocketIOPublisher,
    dispatch_redis_manager,
    wire_redis,
)
from aware.alarms.escalation import chain_to_data, default_chain, parse_chain
from aware.alarms.escalator import EscalatingPublisher, Escalator
from aware.api import ApiError, error_body
from aware.config import Settings, finalize, load_settings
from aware.db import make_engine, make_sessionmaker
from aware.devices.services import TokenCache
from aware.extensions import csrf
from aware.risk.cache import BanCache
from aware.risk.checks import CheckSettings, ban_checks_for
from aware.risk.instruments import OWNER_SUBFOLDER, default_registry
from aware.state import AppState, close_db

log = logging.getLogger("aware")
MAX_BODY = 1024 * 1024  # 1 MiB, per contract


def create_app(settings: Settings | None = None, **flask_config: Any) -> Flask:
    """Build the app from settings (default: the environment)."""
    settings = finalize(settings or load_settings())
    app = Flask(
        __name__,
        instance_path=str(settings.instance_path),
        template_folder="web/templates",
        static_folder="web/static",
    )
    configure(app, settings, flask_config)
    configure_logging(settings)
    register_state(app, settings)
    register_extensions(app, settings)
    register_blueprints(app)
    metrics.init_app(app)
    register_errorhandlers(app)
    register_request_hooks(app)
    return app


def configure(app: Flask, settings: Settings, extra: dict[str, Any]) -> None:
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_BODY,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.env == "production",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=12),
        WTF_CSRF_TIME_LIMIT=None,  # a shift-long console must not lose its forms
        TESTING=settings.env == "testing",
    )
    app.config.update(extra)
    app.session_interface = WebOnlySessions()
    # Ids are 64-bit: a larger number in a path is no id at all (404), never a database error.
    app.url_map.converters["int"] = Id64Converter


class Id64Converter(IntegerConverter):
    """<int:...> limited to the 64-bit signed range of the database's ids."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


class WebOnlySessions(SecureCookieSessionInterface):
    """Cookie sessions for web pages only: API and device requests authenticate with bearer
    tokens, so a cookie is never even read there (no CSRF exposure, less work per alarm)."""

    def open_session(self, app: Flask, request: Any) -> Any:
        if _is_machine_path(request.path):
            return self.make_null_session(app)
        return super().open_session(app, request)


def _is_machine_path(path: str) -> bool:
    return path.startswith("/api/") or path.startswith("/osmand")


def configure_logging(settings: Settings) -> None:
    # Every record of the process is redacted when made: no token, password or position in
    # any log line, whichever library or server writes it (aware.logredact).
    logredact.install()
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Werkzeug logs full URLs; /osmand carries the device token and position in its query
    # string. Our own access log below writes the path only.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("engineio").setLevel(logging.WARNING)
    logging.getLogger("socketio").setLevel(logging.WARNING)


def register_state(app: Flask, settings: Settings) -> None:
    engine = make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    sessions = make_sessionmaker(engine)
    app.extensions["aware"] = AppState(
        settings=settings,
        engine=engine,
        sessions=sessions,
        publisher=RecordingPublisher(),  # replaced by the Socket.IO publisher below
        device_tokens=TokenCache(),
        instruments=default_registry(settings.instance_path / OWNER_SUBFOLDER),
        ban_cache=BanCache(),
        default_escalation=chain_to_data(
            default_chain(settings.escalation_after_s, settings.escalation_phones)
        ),
    )
    st = app.extensions["aware"]
    st.ban_checks = ban_checks_for(
        st.ban_cache,
        CheckSettings(
            settings.victim_position_max_age_s,
            settings.ban_hysteresis_m,
            settings.device_alarm_rate,
        ),
    )


def register_extensions(app: Flask, settings: Settings) -> None:
    from aware.alarms.realtime import DispatchNamespace

    csrf.init_app(app)
    i18n.init_app(app)
    # One SocketIO per app (not a module global), so every app gets its own namespace.
    manager = (
        dispatch_redis_manager(settings.redis_url, redis_channel(settings))
        if settings.redis_url
        else None
    )
    socketio = SocketIO(
        app,
        async_mode="threading",
        client_manager=manager,
        serializer=JsonPacket,
        cors_allowed_origins=[],  # same origin only
        logger=False,
        engineio_logger=False,
    )
    namespace = DispatchNamespace(app)
    socketio.on_namespace(namespace)
    publisher = SocketIOPublisher(socketio, namespace.record_delivery, queued=manager is not None)
    if manager is not None:
        app.extensions["aware_redis"] = wire_redis(manager, publisher, namespace.resync)
    st = app.extensions["aware"]
    st.publisher = publisher
    # The console's "escalation not configured" warning and the Twilio webhooks read this.
    st.notifier = notifier_for(settings)
    if settings.env != "testing":
        # Timers run in the serving process; tests drive an Escalator of their own.
        st.escalator = Escalator(
            st.sessions,
            st.notifier,
            publisher,
            parse_chain(st.default_escalation),
            st.clock,
            public_url=settings.public_url,
        )
        st.publisher = EscalatingPublisher(publisher, st.escalator)


def redis_channel(settings: Settings) -> str:
    """The Socket.IO channel in Redis: shared by the processes of one database only, so two
    installations on one Redis never see each other's alarms."""
    if settings.redis_channel:
        return settings.redis_channel
    return "aware-" + hashlib.sha256(settings.database_url.encode()).hexdigest()[:16]


def notifier_for(settings: Settings) -> Any:
    """Twilio when configured; otherwise every send is recorded as not sent."""
    if settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from_number:
        return TwilioNotifier(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            settings.twilio_from_number,
            settings.twilio_base_url,
        )
    return NotConfigured()


def register_blueprints(app: Flask) -> None:
    from aware.alarms.chains import api as chains_api
    from aware.alarms.phone import phone
    from aware.alarms.views import api as alarms_api
    from aware.audit.views import api as audit_api
    from aware.auth.views import api as auth_api
    from aware.auth.views import web as auth_web
    from aware.coordination.allocation_views import api as allocation_api
    from aware.coordination.meeting_views import api as meetings_api
    from aware.coordination.reference_views import api as reference_api
    from aware.devices.views import api as devices_api
    from aware.devices.views import protocols
    from aware.reports.views import api as reports_api
    from aware.risk.views import api as risk_api
    from aware.web.admin import admin_web
    from aware.web.audit import audit_web
    from aware.web.cases import cases_web
    from aware.web.meetings import meetings_web
    from aware.web.reports import reports_web
    from aware.web.views import ops, web

    for bp in (
        auth_api,
        devices_api,
        alarms_api,
        chains_api,
        risk_api,
        protocols,
        phone,
        reference_api,
        allocation_api,
        meetings_api,
        reports_api,
        audit_api,
    ):
        csrf.exempt(bp)  # bearer tokens or device tokens, never cookies
        app.register_blueprint(bp)
    for bp in (auth_web, web, ops, admin_web, cases_web, meetings_web, reports_web, audit_web):
        app.register_blueprint(bp)
    # Sign-in rate limits and security headers; the limits wrap the sign-in views above.
    from aware.auth.security import init_app as init_sign_in_security

    init_sign_in_security(app, app.extensions["aware"].settings)


def _wants_json() -> bool:
    return _is_machine_path(request.path)


def register_errorhandlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return exc.response()

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> tuple[str, int]:
        return "Het formulier is verlopen; laad de pagina opnieuw. (CSRF)", 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        if not _wants_json():
            return exc
        codes = {
            400: "bad_request",
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            409: "conflict",
            413: "too_large",
        }
        status = exc.code or 500
        message = "the request body is over 1 MiB" if status == 413 else exc.description
        return error_body(status, codes.get(status, "error"), message or exc.name)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_unavailable(exc: Exception) -> Any:
        # The database is down, unreachable or locked: nothing was stored, the device should
        # retry (pool_pre_ping reconnects once it answers again; no restart needed).
        log.error("database unavailable on %s %s: %s", request.method, request.path, exc)
        if _wants_json() or request.path == "/metrics":
            resp = error_body(503, "unavailable", "the database is unavailable; retry shortly")
        else:
            resp = Response("Database niet bereikbaar; probeer het zo opnieuw.", 503)
        resp.headers["Retry-After"] = "5"
        return resp

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        if database_unavailable_error(exc):
            return database_unavailable(exc)
        if _wants_json() and unstorable_input_error(exc):
            # Input that got past validation but no column takes (the database said so):
            # nothing was stored, and retrying the same request cannot help.
            log.error(
                "unstorable input on %s %s: %s", request.method, request.path, type(exc).__name__
            )
            return ApiError(
                422, "invalid_field", "a value in the request cannot be stored"
            ).response()
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _wants_json():
            return error_body(500, "internal", "internal error")
        return "Interne fout", 500


_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
    PoolTimeout,
)
_UNSTORABLE: tuple[type[BaseException], ...] = (DataError, UnicodeEncodeError, ValidationError)
try:  # the PostgreSQL driver's own classes, raised unwrapped by db.Prepared
    import psycopg

    _UNAVAILABLE += (psycopg.OperationalError, psycopg.InterfaceError)
    _UNSTORABLE += (psycopg.DataError,)
except ImportError:  # pragma: no cover - SQLite-only installs
    pass
# SQLite's own words for "not now": a lock held elsewhere, or the file out of reach.
_SQLITE_UNAVAILABLE = ("locked", "busy", "unable to open", "disk i/o", "readonly database")


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception, the driver error it wraps, and what it was raised from or during."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo and len(seen) < 16:
        e = todo.pop()
        if e is None or any(e is s for s in seen):
            continue
        seen.append(e)
        todo += [getattr(e, "orig", None), e.__cause__, e.__context__]
    return seen


def database_unavailable_error(exc: BaseException) -> bool:
    """Whether `exc` means the database could not be reached or locked in time (answer 503).

    Not every such error arrives as SQLAlchemy's OperationalError: this process's SQLite
    writer lock raises the driver's sqlite3.OperationalError from a "begin" listener, which
    SQLAlchemy does not wrap; statements on the alarm path run on the DBAPI cursor (db.Prepared)
    and raise the driver's own errors; a session whose flush failed raises PendingRollbackError.
    """
    for e in _causes(exc):
        if isinstance(e, _UNAVAILABLE):
            return True
        if isinstance(e, sqlite3.OperationalError):
            return any(word in str(e).lower() for word in _SQLITE_UNAVAILABLE)
        if isinstance(e, PendingRollbackError):
            return "OperationalError" in str(e) or "InterfaceError" in str(e)
    return False


def unstorable_input_error(exc: BaseException) -> bool:
    """Whether `exc` is the database (or its driver) refusing a value: a NUL byte in text, a
    lone surrogate, a number out of the column's range. Also a request value that failed a
    model's validation outside the view's own checks."""
    return any(isinstance(e, _UNSTORABLE) for e in _causes(exc))


def content_security_policy(settings: Settings) -> str:
    """Pages load scripts, styles and data from this service only; images also from the
    configured tile server. No inline script, no framing."""
    img = "'self' data:"
    if settings.map_tile_url:
        scheme, _, rest = settings.map_tile_url.partition("://")
        host = rest.split("/", 1)[0].replace("{s}", "*")
        img += f" {scheme}://{host}"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {img}; connect-src 'self'; media-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def register_request_hooks(app: Flask) -> None:
    app.teardown_appcontext(close_db)
    csp = content_security_policy(app.extensions["aware"].settings)

    @app.before_request
    def _start_timer() -> None:
        g.t0 = time.perf_counter()

    @app.after_request
    def _access_log(resp: Response) -> Response:
        # Path only: no query string (tokens, positions), no bodies, no personal data.
        ms = (time.perf_counter() - g.get("t0", time.perf_counter())) * 1000
        log.info("%s %s %s %.1fms", request.method, request.path, resp.status_code, ms)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        if not _wants_json():
            resp.headers.setdefault("X-Frame-Options", "DENY")
            resp.headers.setdefault("Content-Security-Policy", csp)
        return resp
