"""The dispatch console in a real browser (Debian Chromium via Playwright) against `aware serve`."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import post_alarm, sign_in
from tests.e2e.conftest import Server

OPEN = "#queue-open .alarm[data-alarm-id='{}']"
ACKED = "#queue-acknowledged .alarm[data-alarm-id='{}']"


@pytest.fixture
def dispatcher_token(server: Server) -> str:
    return server.token("disp-web-2")


@pytest.fixture(autouse=True)
def empty_queue(server: Server, dispatcher_token: str) -> None:
    """Each test starts with no active alarms (the server lives for the module)."""
    for a in server.get("/api/v1/alarms", dispatcher_token).json()["alarms"]:
        r = server.post(
            f"/api/v1/alarms/{a['id']}/resolve", dispatcher_token, json={"outcome": "test"}
        )
        assert r.status_code == 200, r.text


@pytest.fixture
def page(browser: Any, server: Server) -> Any:
    p = sign_in(browser, server, "disp-web-1")
    yield p
    assert p.errors == [], p.errors
    p.context.close()


def test_wrong_password_is_refused_on_the_login_page(browser: Any, server: Server) -> None:
    context = browser.new_context()
    p = context.new_page()
    p.goto(server.url + "/console")
    assert p.url.endswith("/login")
    p.fill("#username", "disp-web-1")
    p.fill("#password", "wrong")
    p.click("button[type=submit]")
    assert (
        p.locator("[role=alert]").inner_text() == "Onbekende gebruikersnaam of onjuist wachtwoord."
    )
    context.close()


def test_alarm_appears_without_reload_and_flashes_until_accepted(
    page: Any, server: Server, device_token: str
) -> None:
    assert page.locator("#empty").is_visible()
    page.evaluate("window.__marker = 'same page'")
    alarm_id = post_alarm(server, device_token)
    item = page.locator(OPEN.format(alarm_id))
    item.wait_for()
    assert page.evaluate("window.__marker") == "same page"  # no reload happened
    assert "Noodknop" in item.inner_text() and "P1" in item.inner_text()
    assert item.evaluate("n => getComputedStyle(n).animationName") == "flash"
    assert re.match(r"^\(1\) NIEUW ALARM", page.title())
    # Age ticks.
    age = item.locator(".age")
    first = age.inner_text()
    page.wait_for_function(
        "([sel, t]) => document.querySelector(sel).textContent !== t",
        arg=[OPEN.format(alarm_id) + " .age", first],
    )
    item.locator('[data-action="ack"]').click()
    page.locator(ACKED.format(alarm_id)).wait_for()
    acked = page.locator(ACKED.format(alarm_id))
    assert "geaccepteerd door disp-web-1" in acked.inner_text()
    assert acked.evaluate("n => getComputedStyle(n).animationName") == "none"
    assert page.locator("#empty").is_visible()


def test_test_alarms_are_marked_and_do_not_flash(page: Any, server: Server, device_token: str):
    alarm_id = post_alarm(server, device_token, "test")
    item = page.locator(OPEN.format(alarm_id))
    item.wait_for()
    assert item.locator(".test-badge").is_visible()
    assert "test" in item.get_attribute("class").split()
    assert item.evaluate("n => getComputedStyle(n).animationName") == "none"


def test_key_a_accepts_the_top_alarm_but_not_while_typing_a_note(
    page: Any, server: Server, device_token: str
) -> None:
    battery = post_alarm(server, device_token, "battery_low")
    sos = post_alarm(server, device_token, "sos")
    page.locator(OPEN.format(sos)).wait_for()
    # SOS (priority 1) is on top even though it came later.
    first = page.locator("#queue-open .alarm").first
    assert first.get_attribute("data-alarm-id") == str(sos)
    # Typing in the note field never accepts anything.
    page.locator(OPEN.format(battery)).locator('[data-action="select"]').click()
    page.locator("#note-text").click()
    page.keyboard.type("a a A")
    assert page.locator("#note-text").input_value() == "a a A"
    page.wait_for_timeout(300)
    assert page.locator(OPEN.format(sos)).count() == 1
    # Outside a field, one key accepts the top alarm.
    page.locator("#queue-title").click()
    page.keyboard.press("a")
    page.locator(ACKED.format(sos)).wait_for()
    assert page.locator(OPEN.format(battery)).count() == 1
    page.keyboard.press("a")
    page.locator(ACKED.format(battery)).wait_for()


def test_second_browser_sees_updates_and_a_late_second_acceptance_names_the_first(
    page: Any, browser: Any, server: Server, device_token: str
) -> None:
    other = sign_in(browser, server, "disp-web-2")
    alarm_id = post_alarm(server, device_token)
    page.locator(OPEN.format(alarm_id)).wait_for()
    other.locator(OPEN.format(alarm_id)).wait_for()
    page.locator(OPEN.format(alarm_id)).locator('[data-action="ack"]').click()
    # The other dispatcher's console follows without a reload.
    moved = other.locator(ACKED.format(alarm_id))
    moved.wait_for()
    assert "geaccepteerd door disp-web-1" in moved.inner_text()

    # A console that did not hear about it yet (connection cut) and accepts too is told who
    # was first, and then shows the alarm as accepted by them.
    second = post_alarm(server, device_token)
    other.locator(OPEN.format(second)).wait_for()
    other.evaluate("window.awareConsole.socket.io.reconnection(false)")
    other.evaluate("window.awareConsole.socket.disconnect()")
    other.locator('#connection[data-state="disconnected"]').wait_for()
    page.locator(OPEN.format(second)).locator('[data-action="ack"]').click()
    page.locator(ACKED.format(second)).wait_for()
    other.locator(OPEN.format(second)).locator('[data-action="ack"]').click()
    notice = other.locator("#notice")
    notice.wait_for()
    assert re.search(r"Al geaccepteerd door disp-web-1 om \d\d:\d\d:\d\d", notice.inner_text())
    other.locator(ACKED.format(second)).wait_for()
    assert other.errors == []
    other.context.close()


def test_resolve_with_outcome_and_note_from_the_detail(
    page: Any, server: Server, device_token: str, dispatcher_token: str
) -> None:
    alarm_id = post_alarm(server, device_token)
    item = page.locator(OPEN.format(alarm_id))
    item.wait_for()
    item.locator('[data-action="resolve"]').click()
    assert "Kies eerst een afloop" in page.locator("#notice").inner_text()
    item.locator(".type").click()
    page.locator("#detail").wait_for()
    assert "Noodknop" in page.locator("#detail-title").inner_text()
    facts = page.locator("#detail-facts")
    assert "52.09070, 5.12140 (±8 m)" in facts.inner_text()
    page.locator("#detail-facts", has_text="laatst gezien").wait_for()  # the device as it is now
    assert re.search(r"AW-\w+ · laatst gezien \d\d:\d\d", facts.inner_text())
    # The map draws the position even without tiles.
    page.locator("#map .leaflet-interactive").first.wait_for()
    page.fill("#note-text", "Slachtoffer gebeld, politie onderweg")
    page.click("#note-form button[type=submit]")
    page.locator("#timeline li", has_text="Slachtoffer gebeld").wait_for()
    item.locator('select[name="outcome"]').select_option("genuine")
    item.locator('[data-action="resolve"]').click()
    page.locator(f".alarm[data-alarm-id='{alarm_id}']").wait_for(state="detached")
    detail = server.get(f"/api/v1/alarms/{alarm_id}", dispatcher_token).json()
    assert detail["status"] == "resolved" and detail["outcome"] == "genuine"
    actions = [e["action"] for e in detail["timeline"]]
    assert "note" in actions and actions[-1] == "resolved"
    (note,) = [e for e in detail["timeline"] if e["action"] == "note"]
    assert note["detail"]["text"] == "Slachtoffer gebeld, politie onderweg"
    assert note["actor_name"] == "disp-web-1"


def test_english_console(browser: Any, server: Server, device_token: str) -> None:
    p = sign_in(browser, server, "disp-web-1", lang="en")
    alarm_id = post_alarm(server, device_token)
    item = p.locator(OPEN.format(alarm_id))
    item.wait_for()
    assert "Emergency button" in item.inner_text()
    assert p.locator("#connection").inner_text() == "Connected"
    assert p.errors == []
    p.context.close()


def test_console_recovers_after_the_server_restarts(
    page: Any, server: Server, device_token: str, dispatcher_token: str
) -> None:
    before = post_alarm(server, device_token)
    page.locator(OPEN.format(before)).wait_for()
    server.kill()
    page.locator('#connection[data-state="disconnected"]').wait_for()
    server.start()
    # Changes made as soon as the server is back, while the console may still be reconnecting.
    server.post(f"/api/v1/alarms/{before}/ack", dispatcher_token)
    after = post_alarm(server, device_token)
    page.locator('#connection[data-state="connected"]').wait_for(timeout=15000)
    page.locator(OPEN.format(after)).wait_for()
    page.locator(ACKED.format(before)).wait_for()
    assert "geaccepteerd door disp-web-2" in page.locator(ACKED.format(before)).inner_text()
    # And it is live again: a new alarm arrives without reload.
    again = post_alarm(server, device_token)
    page.locator(OPEN.format(again)).wait_for()


def test_violation_shows_case_card_and_zone_on_the_map_without_tiles(
    page: Any, server: Server, coordinator_token: str
) -> None:
    import datetime as dt
    import uuid

    import requests

    now = dt.datetime.now(dt.UTC)
    case = server.post(
        "/api/v1/cases",
        coordinator_token,
        json={
            "reference": f"WEB-{uuid.uuid4().hex[:6]}",
            "municipality": "0344",
            "victim": {"name": "Sanne de Vries", "phone": "+31611112222", "address": "Laan 3"},
            "perpetrator": {"description": "blauwe bestelbus"},
        },
    ).json()
    tracker = server.post(
        "/api/v1/devices",
        coordinator_token,
        json={"serial": f"GPS-{uuid.uuid4().hex[:6]}", "kind": "perpetrator_tracker"},
    ).json()
    r = server.post(
        f"/api/v1/cases/{case['id']}/devices",
        coordinator_token,
        json={"device_id": tracker["id"], "role": "perpetrator"},
    )
    assert r.status_code == 201, r.text
    r = server.post(
        f"/api/v1/cases/{case['id']}/bans",
        coordinator_token,
        json={
            "kind": "location",
            "zones": [{"type": "Point", "coordinates": [5.1214, 52.0907], "radius_m": 300}],
            "valid_from": (now - dt.timedelta(days=1)).isoformat(),
            "valid_until": (now + dt.timedelta(days=30)).isoformat(),
            "legal_basis": "509hh Sv",
        },
    )
    assert r.status_code == 201, r.text
    r = requests.post(
        server.url + "/api/v1/ingest",
        headers={"Authorization": f"Bearer {tracker['token']}"},
        json={
            "event_id": "inside-1",
            "type": "position",
            "occurred_at": now.isoformat(),
            "position": {"lat": 52.0907, "lon": 5.1214, "accuracy_m": 10},
        },
        timeout=10,
    )
    # A tracker is told no alarm ids: dispatch's list names the violation it raised.
    assert r.status_code == 202 and r.json()["alarm_ids"] == []
    listed = server.get("/api/v1/alarms?status=open", server.token("disp-web-2")).json()
    (alarm_id,) = [
        a["id"]
        for a in listed["alarms"]
        if a["type"] == "zone_violation" and a["device_id"] == tracker["id"]
    ]
    item = page.locator(OPEN.format(alarm_id))
    item.wait_for()
    assert "Gebiedsverbod overtreden" in item.inner_text()
    assert f"{case['reference']} · Sanne de Vries" in item.inner_text()
    item.locator('[data-action="select"]').click()
    card = page.locator("#case-card")
    card.locator("text=Sanne de Vries").wait_for()
    text = card.inner_text()
    assert "+31611112222" in text and "Laan 3" in text and "blauwe bestelbus" in text
    assert "gebiedsverbod" in text and "509hh Sv" in text
    # What the violation counts instead of raising more alarms, in Dutch.
    facts = page.locator("#detail-facts").inner_text()
    assert "posities bij dit alarm" in facts and "1, waarvan 0 keer eruit" in facts
    # Zone circle, accuracy circle and position marker: drawn with no tile server at all.
    page.wait_for_function(
        "() => document.querySelectorAll('#map path.leaflet-interactive').length >= 3"
    )
    assert page.locator("#map img.leaflet-tile").count() == 0
