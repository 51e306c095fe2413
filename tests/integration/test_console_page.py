"""The console page as served: language, script configuration, security headers, and the
endpoints only the console uses (shift figures, map layers). The live behaviour is tested in a
real browser in tests/browser/."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import select

from aware.alarms.figures import shift_bounds
from aware.alarms.rules import ALARM_TYPES
from aware.auth.models import ApiToken
from aware.security import hash_token
from tests.conftest import bearer, csrf_of, event, sign_in
from tests.integration.test_ban_checks import (  # noqa: F401
    CENTRE,
    Feed,
    open_alarms,
    setup,
    zone_ban,
)


def _sign_in(client, make_user, name="disp-page", role="dispatcher"):
    make_user(role, name)
    sign_in(client, name)


def _config(html: str) -> dict:
    raw = re.search(
        r'<script type="application/json" id="console-config">(.*?)</script>', html, re.S
    )
    return json.loads(raw.group(1))


def test_console_is_dutch_by_default_and_english_on_request(client, make_user):
    _sign_in(client, make_user)
    page = client.get("/console")
    assert '<html lang="nl">' in page.text and "Meldkamerconsole" in page.text
    assert "Druk op A om het bovenste alarm te accepteren" in page.text
    assert _config(page.text)["strings"]["ack"] == "Accepteren"
    english = client.get("/console?lang=en")
    assert '<html lang="en">' in english.text and "Dispatch console" in english.text
    assert _config(english.text)["strings"]["ack"] == "Accept"
    assert "aware_lang=en" in english.headers["Set-Cookie"]
    # Remembered by the cookie; an unknown language changes nothing.
    assert '<html lang="en">' in client.get("/console?lang=xx").text
    assert '<html lang="nl">' in client.get("/console?lang=nl").text


# Every action the code writes on an alarm's timeline (alarms.services, alarms.rules
# transitions, alarms.escalator, alarms.phone, risk.checks, devices.services).
TIMELINE_ACTIONS = (
    "raised",
    "delivered",
    "acknowledged",
    "resolved",
    "note",
    "escalated",
    "escalation_failed",
    "escalation_not_sent",
    "victim_notified",
    "victim_notification_failed",
    "victim_notification_not_sent",
    "call_status",
    "position",
    "superseded",
    "folded",
    "input_repaired",
)


def test_every_alarm_type_and_timeline_action_has_a_dutch_label(client, make_user):
    _sign_in(client, make_user)
    dutch = _config(client.get("/console").text)["strings"]
    english = _config(client.get("/console?lang=en").text)["strings"]
    assert set(dutch["types"]) >= set(ALARM_TYPES) and "storm" in ALARM_TYPES
    assert set(dutch["timeline"]) >= set(TIMELINE_ACTIONS)
    for kind in ("types", "timeline"):
        untranslated = [k for k, text in dutch[kind].items() if text == english[kind][k]]
        assert untranslated == []
    assert dutch["types"]["storm"] == "Alarmstorm (één apparaat)"
    assert dutch["timeline"]["folded"] == "volgend alarm meegeteld"


def test_console_token_works_for_the_dispatch_api_and_dies_with_the_session(
    client, make_user, session
):
    _sign_in(client, make_user)
    token = _config(client.get("/console").text)["token"]
    # One token per browser session: a reload does not mint another.
    assert _config(client.get("/console").text)["token"] == token
    assert client.get("/api/v1/alarms", headers=bearer(token)).status_code == 200
    page = client.get("/console").text
    client.post("/logout", data={"csrf_token": csrf_of(page)})
    assert client.get("/api/v1/alarms", headers=bearer(token)).status_code == 401
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).one()
    assert row.revoked_at is not None


def test_pages_carry_a_strict_content_security_policy(client, make_user):
    _sign_in(client, make_user)
    csp = client.get("/console").headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    # No inline script may be needed: the page's only non-src script is JSON data.
    page = client.get("/console").text
    scripts = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", page)
    assert scripts == [' type="application/json" id="console-config"']
    assert "style=" not in page and "<style" not in page


def test_vendored_libraries_and_console_script_are_served_by_the_app(client):
    for path, needle in (
        ("/static/vendor/socket.io.min.js", b"Socket.IO v"),
        ("/static/vendor/leaflet/leaflet.js", b"Leaflet 1."),
        ("/static/vendor/leaflet/leaflet.css", b".leaflet-pane"),
        ("/static/console.js", b"alarms.snapshot"),
    ):
        r = client.get(path)
        assert r.status_code == 200 and needle in r.data, path


def test_only_dispatch_roles_get_the_console(client, make_user):
    _sign_in(client, make_user, "coord-page", "coordinator")
    assert client.get("/console").status_code == 403


def test_shift_figures_count_accepted_and_overdue_alarms(client, device, dispatcher, app):
    st = app.extensions["aware"]
    # Half an hour into the current shift (tokens issued now stay valid).
    shift_start, shift_end = shift_bounds(dt.datetime.now(dt.UTC))
    start = shift_start + dt.timedelta(minutes=30)
    st.clock = lambda: start
    ids = []
    for i, type_ in enumerate(("sos", "sos", "sos", "test")):
        r = client.post("/api/v1/ingest", headers=device["headers"], json=event(f"f{i}", type_))
        ids.append(r.get_json()["alarm_ids"][0])
    st.clock = lambda: start + dt.timedelta(seconds=5)
    client.post(f"/api/v1/alarms/{ids[0]}/ack", headers=dispatcher)  # within 10 s
    st.clock = lambda: start + dt.timedelta(seconds=30)
    client.post(f"/api/v1/alarms/{ids[1]}/ack", headers=dispatcher)  # within 40 s only
    st.clock = lambda: start + dt.timedelta(seconds=60)  # ids[2] still open: late for both
    r = client.get("/api/v1/alarms/figures", headers=dispatcher)
    assert r.status_code == 200
    body = r.get_json()
    assert body["alarms"] == 3  # the test alarm is left out
    assert body["shift_start"] == shift_start.isoformat().replace("+00:00", "Z")
    assert body["shift_end"] == shift_end.isoformat().replace("+00:00", "Z")
    ten, forty = body["acceptance"]
    assert (ten["limit_s"], ten["counted"], ten["within"], ten["met"]) == (10.0, 3, 1, False)
    assert (forty["limit_s"], forty["counted"], forty["within"]) == (40.0, 3, 2)
    assert forty["share"] == pytest.approx(2 / 3)


def test_shift_figures_need_a_dispatch_role(client, coordinator):
    assert client.get("/api/v1/alarms/figures").status_code == 401
    assert client.get("/api/v1/alarms/figures", headers=coordinator).status_code == 403


def test_alarm_context_has_the_device_now_and_the_zones_of_the_case(
    client,
    coordinator,
    dispatcher,
    setup,  # noqa: F811
):
    ban = zone_ban(client, coordinator, setup["case"]["id"], radius=150)
    feed = Feed(client, setup["tokens"]["perpetrator"])
    assert feed.at(CENTRE)["alarm_ids"] == []  # a tracker is told none; dispatch sees it
    (alarm,) = open_alarms(client, dispatcher, "zone_violation")
    alarm_id = alarm["id"]
    r = client.get(f"/api/v1/alarms/{alarm_id}/context", headers=dispatcher)
    assert r.status_code == 200
    body = r.get_json()
    (zone,) = body["zones"]
    assert zone["ban_id"] == ban["id"] and zone["geometry"]["radius_m"] == 150
    assert body["device"]["serial"] == "GPS-P" and body["device"]["kind"] == "perpetrator_tracker"
    assert body["device"]["last_position"]["lat"] == CENTRE[0]
    assert client.get("/api/v1/alarms/999999/context", headers=dispatcher).status_code == 404
    r = client.get(f"/api/v1/alarms/{alarm_id}/context", headers=coordinator)
    assert r.status_code == 403
