"""People, tokens, browser sessions with CSRF, and device registration."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from aware.auth.models import ApiToken, User
from aware.devices.models import Device
from aware.security import hash_token
from tests.conftest import PASSWORD, bearer, csrf_of


def test_token_for_valid_credentials_is_stored_only_as_hash(client, make_user, session):
    make_user("dispatcher", "disp-zoe")
    resp = client.post("/api/v1/auth/token", json={"username": "disp-zoe", "password": PASSWORD})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["role"] == "dispatcher" and body["expires_at"].endswith("Z")
    hashes = set(session.scalars(select(ApiToken.token_hash)))
    assert body["token"] not in hashes and hash_token(body["token"]) in hashes
    assert client.get("/api/v1/alarms", headers=bearer(body["token"])).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"username": "disp-zoe", "password": "wrong password!"},
        {"username": "nobody", "password": PASSWORD},
    ],
)
def test_wrong_credentials_are_401(client, make_user, body):
    make_user("dispatcher", "disp-zoe")
    resp = client.post("/api/v1/auth/token", json=body)
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"username": "x"}, "password"), ({"username": 5, "password": "p"}, "username")],
)
def test_token_request_fields_are_validated(client, body, field):
    resp = client.post("/api/v1/auth/token", json=body)
    assert resp.status_code == 422 and field in resp.get_json()["error"]["fields"]


def test_expired_and_revoked_tokens_are_refused(client, make_user, session):
    user, token = make_user("dispatcher")
    row = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).one()
    row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    session.commit()
    assert client.get("/api/v1/alarms", headers=bearer(token)).status_code == 401
    _, token2 = make_user("dispatcher")
    assert client.post("/api/v1/auth/logout", headers=bearer(token2)).status_code == 204
    assert client.get("/api/v1/alarms", headers=bearer(token2)).status_code == 401


def test_deactivated_user_token_stops_working(client, make_user, session):
    user, token = make_user("dispatcher")
    user.active = False
    session.commit()
    assert client.get("/api/v1/alarms", headers=bearer(token)).status_code == 401


def test_browser_login_with_csrf_console_and_logout(client, make_user):
    make_user("dispatcher", "disp-web")
    page = client.get("/login")
    assert page.status_code == 200 and 'name="username"' in page.text
    # A form without the CSRF token is refused.
    no_csrf = client.post("/login", data={"username": "disp-web", "password": PASSWORD})
    assert no_csrf.status_code == 400
    assert client.get("/console").status_code == 302
    token = csrf_of(page.text)
    bad = client.post(
        "/login", data={"username": "disp-web", "password": "nope nope nope", "csrf_token": token}
    )
    assert bad.status_code == 401 and "onjuist" in bad.text
    ok = client.post(
        "/login", data={"username": "disp-web", "password": PASSWORD, "csrf_token": token}
    )
    assert ok.status_code == 302
    console = client.get("/console")
    assert console.status_code == 200 and "disp-web" in console.text
    out = client.post("/logout", data={"csrf_token": csrf_of(console.text)})
    assert out.status_code == 302
    assert client.get("/console").status_code == 302


def test_console_is_for_dispatch_roles_only(client, make_user):
    make_user("coordinator", "coord-web")
    token = csrf_of(client.get("/login").text)
    client.post("/login", data={"username": "coord-web", "password": PASSWORD, "csrf_token": token})
    assert client.get("/console").status_code == 403


def test_register_device_shows_token_once_and_stores_hash(client, coordinator, session):
    resp = client.post(
        "/api/v1/devices",
        json={"serial": "GPS-9", "kind": "perpetrator_tracker"},
        headers=coordinator,
    )
    assert resp.status_code == 201
    body = resp.get_json()
    stored = session.scalars(select(Device).where(Device.serial == "GPS-9")).one()
    assert stored.token_hash == hash_token(body["token"]) and body["token"] not in stored.token_hash
    listed = client.get("/api/v1/devices", headers=coordinator).get_json()["devices"]
    assert [d["serial"] for d in listed] == ["GPS-9"]
    assert "token" not in listed[0]


def test_duplicate_serial_is_409(client, coordinator):
    body = {"serial": "AW-1", "kind": "victim_alarm"}
    assert client.post("/api/v1/devices", json=body, headers=coordinator).status_code == 201
    resp = client.post("/api/v1/devices", json=body, headers=coordinator)
    assert resp.status_code == 409 and "serial" in resp.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"serial": "X", "kind": "watch"}, "kind"),
        ({"serial": "", "kind": "victim_alarm"}, "serial"),
        ({"kind": "victim_alarm"}, "serial"),
    ],
)
def test_device_fields_are_validated(client, coordinator, body, field):
    resp = client.post("/api/v1/devices", json=body, headers=coordinator)
    assert resp.status_code == 422 and field in resp.get_json()["error"]["fields"]


@pytest.mark.parametrize("role", ["dispatcher", "municipality"])
def test_only_coordinators_and_admins_register_devices(client, make_user, role):
    _, token = make_user(role)
    resp = client.post(
        "/api/v1/devices", json={"serial": "S", "kind": "victim_alarm"}, headers=bearer(token)
    )
    assert resp.status_code == 403


def test_deactivate_unknown_device_is_404(client, coordinator):
    assert client.post("/api/v1/devices/424242/deactivate", headers=coordinator).status_code == 404


def test_cli_user_create_rules(session):
    from aware.auth.services import UserInvalid, create_user

    now = dt.datetime.now(dt.UTC)
    with pytest.raises(UserInvalid) as exc:
        create_user(session, "gem", "municipality", PASSWORD, now)
    assert exc.value.field == "municipality"
    with pytest.raises(UserInvalid):
        create_user(session, "gem", "municipality", PASSWORD, now, "344")
    with pytest.raises(UserInvalid) as exc:
        create_user(session, "x", "dispatcher", "short", now)
    with pytest.raises(UserInvalid) as exc:
        create_user(session, "ok-name", "superuser", PASSWORD, now)
    assert exc.value.field == "role"
    user = create_user(session, "gem", "municipality", PASSWORD, now, "0344")
    assert session.get(User, user.id).municipality_code == "0344"
    assert user.password_hash.startswith("$argon2")


def test_console_page_acknowledges_and_resolves_withcsrf_of(client, make_user, device):
    make_user("dispatcher", "disp-page")
    token = csrf_of(client.get("/login").text)
    client.post("/login", data={"username": "disp-page", "password": PASSWORD, "csrf_token": token})
    body = {"event_id": "page-1", "type": "sos", "occurred_at": "2026-11-28T10:00:00+01:00"}
    (alarm_id,) = client.post("/api/v1/ingest", headers=device["headers"], json=body).get_json()[
        "alarm_ids"
    ]
    page = client.get("/console").text
    assert f'data-alarm-id="{alarm_id}"' in page
    assert 'data-action="ack"' in page and 'data-action="resolve"' in page
    csrf = csrf_of(page)
    assert client.post(f"/console/alarms/{alarm_id}/ack").status_code == 400  # no CSRF token
    assert (
        client.post(f"/console/alarms/{alarm_id}/ack", data={"csrf_token": csrf}).status_code == 302
    )
    page = client.get("/console").text
    assert "geaccepteerd door disp-page" in page
    missing = client.post(
        f"/console/alarms/{alarm_id}/resolve", data={"csrf_token": csrf}, follow_redirects=True
    )
    assert "Kies een afloop" in missing.text
    done = client.post(
        f"/console/alarms/{alarm_id}/resolve",
        follow_redirects=True,
        data={"csrf_token": csrf, "outcome": "false_alarm", "note": "knop per ongeluk"},
    )
    assert f'data-alarm-id="{alarm_id}"' not in done.text
    assert client.post("/console/alarms/999999/ack", data={"csrf_token": csrf}).status_code == 404


def test_console_warns_permanently_when_escalation_cannot_send(client, make_user, app):
    make_user("dispatcher", "disp-warn")
    token = csrf_of(client.get("/login").text)
    client.post("/login", data={"username": "disp-warn", "password": PASSWORD, "csrf_token": token})
    assert 'id="escalation-warning"' in client.get("/console").text
    from aware.adapters.notify import RecordingNotifier

    app.extensions["aware"].notifier = RecordingNotifier()
    assert 'id="escalation-warning"' not in client.get("/console").text


def test_console_has_no_escalation_warning_when_twilio_is_configured(tmp_path, fresh_db_url):
    import dataclasses

    from aware.app import create_app
    from aware.auth.services import create_user
    from tests.conftest import now, settings_for, sign_in

    settings = dataclasses.replace(
        settings_for(tmp_path, fresh_db_url),
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token="t",
        twilio_from_number="+3197010203040",
    )
    app = create_app(settings)
    with app.extensions["aware"].sessions() as s:
        create_user(s, "disp-twilio", "dispatcher", PASSWORD, now())
    client = sign_in(app.test_client(), "disp-twilio")
    assert 'id="escalation-warning"' not in client.get("/console").text
    app.extensions["aware"].engine.dispose()
