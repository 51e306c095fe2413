"""The coordinator's case page in a real browser: the ban map draws without tiles."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from tests.e2e.conftest import PASSWORD, Server


def test_case_list_and_page_with_ban_map(browser: Any, server: Server, coordinator_token: str):
    now = dt.datetime.now(dt.UTC)
    reference = f"MAP-{uuid.uuid4().hex[:6]}"
    case = server.post(
        "/api/v1/cases",
        coordinator_token,
        json={"reference": reference, "municipality": "0344", "victim": {"name": "Eva Smit"}},
    ).json()
    r = server.post(
        f"/api/v1/cases/{case['id']}/bans",
        coordinator_token,
        json={
            "kind": "location",
            "zones": [
                {
                    "type": "Polygon",
                    "coordinates": [
                        [[5.11, 52.08], [5.13, 52.08], [5.13, 52.10], [5.11, 52.10], [5.11, 52.08]]
                    ],
                }
            ],
            "valid_from": (now - dt.timedelta(days=1)).isoformat(),
            "valid_until": (now + dt.timedelta(days=30)).isoformat(),
            "legal_basis": "38v Sr",
        },
    )
    assert r.status_code == 201, r.text
    context = browser.new_context()
    context.set_default_timeout(10000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/login")
    page.fill("#username", "coord-web")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/cases")
    page.click(f"text={reference}")
    page.wait_for_url(f"**/cases/{case['id']}")
    assert "Eva Smit" in page.locator("#case-facts").inner_text()
    assert "gebiedsverbod" in page.locator("#bans").inner_text()
    page.wait_for_function(
        "() => document.querySelectorAll('#case-map path.leaflet-interactive').length === 1"
    )
    assert errors == []
    context.close()
