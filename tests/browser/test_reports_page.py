"""The municipality dashboard in a real browser: the charts render (Chart.js served by the app)
and the page prints without its filters."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from tests.browser.conftest import post_alarm
from tests.e2e.conftest import PASSWORD, Server


def test_dashboard_renders_its_charts(browser: Any, server: Server, coordinator_token: str):
    server.cli(
        "user", "create", "rev-web", "--role", "municipality", "--password", PASSWORD,
        "--municipality", "0344",
    )  # fmt: skip
    case = server.post(
        "/api/v1/cases",
        coordinator_token,
        json={
            "reference": f"REP-{uuid.uuid4().hex[:6]}",
            "municipality": "0344",
            "victim": {"name": "Noor Visser"},
        },
    ).json()
    device = server.post(
        "/api/v1/devices",
        coordinator_token,
        json={"serial": f"AW-{uuid.uuid4().hex[:6]}", "kind": "victim_alarm"},
    ).json()
    r = server.post(
        f"/api/v1/cases/{case['id']}/devices",
        coordinator_token,
        json={"device_id": device["id"], "role": "victim"},
    )
    assert r.status_code == 201, r.text
    post_alarm(server, device["token"])

    context = browser.new_context()
    context.set_default_timeout(10000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/login")
    page.fill("#username", "rev-web")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/reports")
    for chart in ("chart-victims", "chart-alarms", "chart-acceptance"):
        page.locator(f"#{chart}[data-rendered='true']").wait_for()
        assert page.locator(f"#{chart}").bounding_box()["height"] > 50
    assert "Noor Visser" not in page.content()
    assert page.locator("#t-alarms").inner_text().count(str(dt.date.today().year)) >= 1
    page.emulate_media(media="print")
    assert not page.locator("form.filters").is_visible()
    assert errors == []
    context.close()
