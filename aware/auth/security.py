"""Sign-in protection and response headers, installed on an app by `init_app`.

- Rate limits (flask-limiter) on the sign-in endpoints only: failed attempts per client IP and
  per username, counted in Redis when AWARE_REDIS_URL is set (every web process sees the same
  counts), else in this process's memory. Device intake, the alarm API and everything else
  are never limited: a request filter exempts them before any counting.
- Headers every answer of a service holding victims' whereabouts should carry: HSTS
  (production), Permissions-Policy, Cross-Origin-Opener-Policy, Cache-Control: no-store.
"""

from __future__ import annotations

import functools
import hashlib
import math
import time
from typing import Any

from flask import Flask, Response, render_template, request
from flask_limiter import Limiter, RateLimitExceeded
from werkzeug.middleware.proxy_fix import ProxyFix

from aware.api import ApiError, loads_json
from aware.config import Settings

# Endpoints whose failed attempts are counted (all POST: the forms and the token exchange).
SIGN_IN_ENDPOINTS = ("auth_web.login", "auth_web.login_totp", "auth_api.issue_token")
RATE_LIMITED_MESSAGE = "too many sign-in attempts; try again later"
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
HSTS = "max-age=31536000; includeSubDomains"


def init_app(app: Flask, settings: Settings) -> None:
    """Install the sign-in rate limits, the 429 answer and the security headers."""
    if settings.proxy_hops:
        # Behind a reverse proxy the client is in X-Forwarded-For; without this every sign-in
        # would come from the proxy's address and share one per-IP budget.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops
        )
    limiter = _install_limiter(app, settings)
    _install_rate_limit_answer(app, limiter)
    _install_headers(app, settings)


def _client_ip() -> str:
    return request.remote_addr or "unknown"


def _username() -> str:
    """The username tried, lower-cased so case variants share one budget."""
    name: Any = request.form.get("username")
    if name is None and request.is_json:
        try:  # the same guarded parser as the view: deep or broken JSON has no username
            body = loads_json(request.get_data(cache=True))
        except ApiError:
            body = None
        name = body.get("username") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name.strip():
        return "-"  # flask-limiter skips an empty key; a missing name is a bad request anyway
    return "user:" + name.strip().lower()[:64]


def _failed(resp: Response) -> bool:
    # Only failures count: a control room signing in a whole shift from one address at 07:00
    # must never be refused. Bad input (400/422) is refused without a password check.
    return resp.status_code == 401


def _install_limiter(app: Flask, settings: Settings) -> Limiter:
    storage = settings.redis_url or "memory://"
    options: dict[str, str | int] = {}
    if settings.redis_url:
        # A silent Redis must not hold up a sign-in for long; after an error the limiter falls
        # back to memory until Redis answers again.
        options = {"socket_connect_timeout": 1, "socket_timeout": 1}
    # Counts of one installation only, when several share a Redis.
    prefix = "aware-login-" + hashlib.sha256(settings.database_url.encode()).hexdigest()[:12]
    limiter = Limiter(
        key_func=_client_ip,
        app=app,
        storage_uri=storage,
        storage_options=options,
        strategy="moving-window",
        key_prefix=prefix,
        swallow_errors=True,
        in_memory_fallback_enabled=True,
        headers_enabled=False,  # remaining counts per username are nobody's business
    )

    @limiter.request_filter
    def _not_sign_in() -> bool:
        return request.endpoint not in SIGN_IN_ENDPOINTS

    _only_on_sign_in(app, limiter)

    per_ip = limiter.shared_limit(
        settings.login_rate_ip, scope="sign-in-ip", key_func=_client_ip, deduct_when=_failed
    )
    per_user = limiter.shared_limit(
        settings.login_rate_user, scope="sign-in-user", key_func=_username, deduct_when=_failed
    )
    for endpoint in SIGN_IN_ENDPOINTS:
        view: Any = app.view_functions[endpoint]
        if endpoint != "auth_web.login_totp":  # the code step has no username to key on
            view = per_user(view)
        app.view_functions[endpoint] = per_ip(view)
    return limiter


def _only_on_sign_in(app: Flask, limiter: Limiter) -> None:
    """Run flask-limiter's request hooks for the sign-in endpoints only.

    Its before/after/teardown hooks otherwise run on every request, intake included (about
    0.1 ms each time even when nothing is limited). The limits live on the wrapped sign-in
    views, which check them themselves; the hooks are only needed there (deducting failures
    after the answer, clearing the per-request state).
    """

    def mine(fn: Any) -> bool:
        if isinstance(fn, functools.partial):  # the after_request hook
            return bool(fn.args) and fn.args[0] is limiter
        return getattr(fn, "__self__", None) is limiter  # bound methods

    def gate(fn: Any, passthrough: bool) -> Any:
        def gated(*args: Any) -> Any:
            if request.endpoint in SIGN_IN_ENDPOINTS:
                return fn(*args)
            return args[0] if passthrough else None

        return gated

    for funcs, passthrough in (
        (app.before_request_funcs.setdefault(None, []), False),
        (app.after_request_funcs.setdefault(None, []), True),
        (app.teardown_request_funcs.setdefault(None, []), False),
    ):
        found = [i for i, fn in enumerate(funcs) if mine(fn)]
        if len(found) != 1:
            raise RuntimeError("flask-limiter's request hooks changed; see _only_on_sign_in")
        funcs[found[0]] = gate(funcs[found[0]], passthrough)


def _install_rate_limit_answer(app: Flask, limiter: Limiter) -> None:
    @app.errorhandler(RateLimitExceeded)
    def _too_many(exc: RateLimitExceeded) -> Any:
        current = limiter.current_limit
        retry = 60
        if current is not None:
            retry = max(1, math.ceil(current.reset_at - time.time()))
        if request.path.startswith("/api/"):
            resp = ApiError(429, "too_many_requests", RATE_LIMITED_MESSAGE).response()
        else:
            page = render_template("login.html", error="rate", username="")
            resp = Response(page, 429, mimetype="text/html")
        resp.headers["Retry-After"] = str(retry)
        return resp


def _install_headers(app: Flask, settings: Settings) -> None:
    production = settings.env == "production"

    @app.after_request
    def _security_headers(resp: Response) -> Response:
        if production:
            resp.headers.setdefault("Strict-Transport-Security", HSTS)
        if request.endpoint == "static":
            return resp  # the app's own scripts and styles may be cached
        # Pages and API answers may carry a victim's name, address or position: never kept
        # in a browser or proxy cache (a shared control-room PC, a back button after sign-out).
        resp.headers.setdefault("Cache-Control", "no-store")
        resp.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        resp.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        return resp
