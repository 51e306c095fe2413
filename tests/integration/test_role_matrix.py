"""The role matrix: every route of the app, every role, the expected class of answer.

The matrix below is the access policy as data, by method and path. Every rule in the app's
URL map and every operation in the OpenAPI registry must match exactly one entry, so a new
route that nobody placed in the matrix fails this test until someone decides who may use it.
Allowed means "not refused for who you are" (a 404 for a made-up id, a 400 for an empty body
are fine); refused means 401 (no or wrong kind of credentials) or 403 (role not allowed) on
the API, and a redirect to /login (anonymous) or 403 (wrong role) on web pages.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from aware.api import registry
from aware.auth.services import issue_token
from tests.conftest import bearer, now

PERSONS = ("dispatcher", "coordinator", "municipality", "admin")
CALLERS = ("anonymous", "device", *PERSONS)

PUBLIC = frozenset(CALLERS)
EVERY_PERSON = frozenset(PERSONS)
DEVICE = frozenset({"device"})
NOBODY: frozenset[str] = frozenset()  # signed webhooks only (Twilio): no role gets in
ADMIN = frozenset({"admin"})
DISPATCH = frozenset({"dispatcher", "admin"})
CASEWORK = frozenset({"coordinator", "admin"})
CASE_READ = frozenset({"coordinator", "admin", "dispatcher"})
REVIEW = frozenset({"municipality", "admin"})
ORG_READ = frozenset({"coordinator", "admin", "municipality"})

# (methods, path pattern, who is allowed). First match wins; patterns are anchored at the
# start and match the rule as written in the URL map (with its <converters>).
MATRIX: list[tuple[str, str, frozenset[str]]] = [
    # Public: sign-in, probes, the API description, static files.
    ("GET", r"/static/", PUBLIC),
    ("GET|POST", r"/login(/totp)?$", PUBLIC),
    ("POST", r"/logout$", PUBLIC),
    ("GET", r"/(healthz|readyz)$", PUBLIC),
    ("GET", r"/api/openapi\.json$", PUBLIC),
    ("POST", r"/api/v1/auth/token$", PUBLIC),
    ("POST", r"/api/v1/auth/logout$", EVERY_PERSON),
    # Devices: their own token only.
    ("POST", r"/api/v1/ingest$", DEVICE),
    ("GET|POST", r"/osmand$", DEVICE),
    ("POST", r"/twilio/", NOBODY),
    # Operations.
    ("GET", r"/metrics$", ADMIN),
    ("GET|POST|PUT|PATCH|DELETE", r"/api/v1/audit", ADMIN),
    ("GET|POST|PUT|PATCH|DELETE", r"/api/v1/escalation-chains", ADMIN),
    # Dispatch.
    ("GET|POST", r"/api/v1/alarms", DISPATCH),
    # Cases: dispatch reads a case and its bans (the alarm's case card); the rest is casework.
    ("GET", r"/api/v1/cases/<int:case_id>(/bans)?$", CASE_READ),
    ("GET|POST|PUT|PATCH|DELETE", r"/api/v1/cases", CASEWORK),
    ("GET|POST|PUT|PATCH|DELETE", r"/api/v1/(applications|allocations)/", CASEWORK),
    ("GET|POST|PUT|PATCH|DELETE", r"/api/v1/(meeting-series|meetings)", CASEWORK),
    ("GET", r"/api/v1/devices$", CASE_READ),
    ("GET|POST|PUT|PATCH|DELETE", r"/api/v1/devices", CASEWORK),
    # Reference data: municipalities for everyone signed in; organisations for casework and
    # reviewers (who see referrers in their figures), changed by casework only.
    ("GET", r"/api/v1/municipalities", EVERY_PERSON),
    ("GET", r"/api/v1/organisations(/<int:org_id>)?$", ORG_READ),
    ("POST|PATCH|DELETE", r"/api/v1/organisations", CASEWORK),
    # Municipality review: aggregates only.
    ("GET", r"/api/v1/reports/", REVIEW),
    # Web pages.
    ("GET", r"/$", EVERY_PERSON),
    ("GET|POST", r"/admin/", ADMIN),
    ("GET|POST", r"/console", DISPATCH),
    ("GET|POST", r"/cases", CASEWORK),
    ("GET|POST", r"/meetings", CASEWORK),
    ("GET", r"/reports", REVIEW),
]

# Sign-in and sign-out answer everyone in their own way (the form again with 401, a redirect
# to /login): reachable is all the matrix asks of them.
SIGN_IN = (r"/login(/totp)?$", r"/logout$")

SAMPLE = {"alarm_type": "sos", "code": "0344", "action": "ack", "filename": "app.css"}


def _entry(method: str, rule: str) -> tuple[str, str, frozenset[str]] | None:
    for methods, pattern, allowed in MATRIX:
        if method in methods.split("|") and re.match(pattern, rule):
            return methods, pattern, allowed
    return None


def _concrete(rule: str) -> str:
    def value(m: re.Match[str]) -> str:
        converter, name = m.group(1) or "", m.group(2)
        if converter == "int":
            return "987654"
        return SAMPLE.get(name, "x")

    return re.sub(r"<(?:([a-z]+)(?:\([^)]*\))?:)?([a-z_]+)>", value, rule)


def _machine(path: str) -> bool:
    return path.startswith(("/api/", "/osmand", "/metrics", "/twilio/"))


def _routes(app: Any) -> list[tuple[str, str]]:
    return sorted(
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    )


def test_every_route_and_every_documented_operation_is_in_the_matrix(app):
    missing = [f"{m} {r}" for m, r in _routes(app) if _entry(m, r) is None]
    assert missing == [], "routes the role matrix does not cover: decide who may use them"
    documented = []
    for op in registry.operations:
        rule = re.sub(r"{([a-z_]+)}", r"<\1>", op.path)
        # Match the documented path against the URL map's rules (converters differ in form).
        found = [
            (m, r)
            for m, r in _routes(app)
            if m == op.method.upper() and re.sub(r"<(?:[^:>]+:)?([a-z_]+)>", r"<\1>", r) == rule
        ]
        assert len(found) == 1, f"{op.method} {op.path} is documented but not routed"
        (method, real_rule) = found[0]
        entry = _entry(method, real_rule)
        assert entry is not None
        allowed = entry[2]
        # What the OpenAPI document says must be what the matrix (and the code) enforces.
        if op.path == "/osmand":
            expected = DEVICE  # documented without a scheme: the device token travels as `id`
        elif op.security is None:
            expected = PUBLIC
        elif op.security == "device":
            expected = DEVICE
        elif op.roles:
            expected = frozenset(op.roles)
        else:
            expected = EVERY_PERSON
        if allowed != expected:
            documented.append(f"{op.method} {op.path}: documented {sorted(expected)}")
    assert documented == []


@pytest.fixture
def matrix_app(app):
    # The matrix is about roles; CSRF is checked by its own tests.
    app.config["WTF_CSRF_ENABLED"] = False
    return app


@pytest.fixture
def people(session, make_user):
    users = {}
    for role in PERSONS:
        user, _ = make_user(role, f"matrix-{role}")
        users[role] = user
    return users


def _call(app, session, people, device_token, caller, method, path):
    client = app.test_client()
    headers: dict[str, str] = {}
    url = path
    if caller == "device":
        if path.startswith("/osmand"):
            url = f"{path}?id={device_token}&lat=52.1&lon=5.1"
        headers = bearer(device_token)
    elif caller in PERSONS:
        user = people[caller]
        raw, _ = issue_token(session, user, now(), 600)  # fresh: logout revokes its own
        headers = bearer(raw)
        if not _machine(path):
            with client.session_transaction() as s:
                s["uid"] = user.id
                s["pw"] = user.password_hash[-16:]
    return client.open(url, method=method, headers=headers)


def test_every_route_answers_every_role_as_the_matrix_says(matrix_app, session, people, device):
    wrong: list[str] = []
    for method, rule in _routes(matrix_app):
        entry = _entry(method, rule)
        assert entry is not None, f"{method} {rule} is not in the matrix"
        allowed = entry[2]
        path = _concrete(rule)
        machine = _machine(path)
        for caller in CALLERS:
            r = _call(matrix_app, session, people, device["token"], caller, method, path)
            status = r.status_code
            to_login = status in (301, 302, 303) and "/login" in r.headers.get("Location", "")
            refused = status in (401, 403) or (not machine and to_login)
            if entry[1] in SIGN_IN:
                ok = status != 403 and status < 500
            elif caller in allowed:
                ok = not refused
            elif machine:
                if caller in ("anonymous", "device") or allowed == DEVICE:
                    ok = status == 401 or (allowed == NOBODY and status == 403)
                else:
                    ok = status == 403
            elif caller in ("anonymous", "device"):
                ok = to_login
            else:
                ok = status == 403
            if not ok:
                want = "allowed" if caller in allowed else "refused"
                wrong.append(f"{method} {path} as {caller}: {status}, expected {want}")
            if machine and status in (401, 403) and not path.startswith("/twilio/"):
                assert set(r.get_json()["error"]) >= {"code", "message", "fields"}, path
    assert wrong == [], "\n".join(wrong)


def test_the_dispatch_namespace_admits_dispatch_roles_only(app, people, session, device):
    socketio = app.extensions["socketio"]
    for caller in CALLERS:
        auth = None
        if caller == "device":
            auth = {"token": device["token"]}
        elif caller in PERSONS:
            raw, _ = issue_token(session, people[caller], now(), 600)
            auth = {"token": raw}
        console = socketio.test_client(app, namespace="/dispatch", auth=auth)
        assert console.is_connected("/dispatch") == (caller in DISPATCH), caller
        if console.is_connected("/dispatch"):
            console.disconnect(namespace="/dispatch")
