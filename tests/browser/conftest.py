"""Browser fixtures: Debian's Chromium driven by Playwright against a real `aware serve`.

Playwright never downloads a browser here: it launches /usr/bin/chromium (installed by
scripts/browser-up) through `executable_path`. Without Chromium these tests skip, unless
AWARE_TEST_REQUIRE_BROWSER=1 (CI), where a missing browser is a failure.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.clockshift import sitecustomize as clockshift
from tests.e2e.conftest import PASSWORD, Server

CHROMIUM = os.environ.get("AWARE_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--autoplay-policy=no-user-gesture-required",
]


def _chromium_or_skip() -> str:
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    if os.environ.get("AWARE_TEST_REQUIRE_BROWSER") == "1":
        pytest.fail(f"Chromium not found at {CHROMIUM} (scripts/browser-up installs it)")
    pytest.skip("Chromium is not installed (scripts/browser-up installs it)")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    path = _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=FLAGS)
        if clockshift.offset() is not None:
            _shift_page_clocks(b)
        yield b
        b.close()


def _shift_page_clocks(browser: Any) -> None:
    """Under AWARE_TEST_CLOCK_OFFSET_DAYS every new context's pages get the shifted wall clock
    of the test processes (Playwright's clock, installed without pausing: time keeps flowing)."""
    new_context = browser.new_context

    def shifted_context(*args: Any, **kw: Any) -> Any:
        context = new_context(*args, **kw)
        context.clock.install(time=dt.datetime.now(dt.UTC))
        return context

    browser.new_context = shifted_context


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("browser-server"))
    for name in ("disp-web-1", "disp-web-2"):
        srv.cli("user", "create", name, "--role", "dispatcher", "--password", PASSWORD)
    srv.cli("user", "create", "coord-web", "--role", "coordinator", "--password", PASSWORD)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def coordinator_token(server: Server) -> str:
    return server.token("coord-web")


@pytest.fixture
def device_token(server: Server, coordinator_token: str) -> str:
    serial = f"AW-{uuid.uuid4().hex[:10]}"
    r = server.post(
        "/api/v1/devices", coordinator_token, json={"serial": serial, "kind": "victim_alarm"}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def sign_in(browser: Any, server: Server, username: str, lang: str = "") -> Any:
    """A fresh browser context (its own cookies) signed in on the console."""
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    context.set_default_timeout(10000)
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: page.errors.append(str(e)))  # type: ignore[attr-defined]
    page.goto(server.url + "/login" + (f"?lang={lang}" if lang else ""))
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console")
    page.wait_for_selector('#connection[data-state="connected"]')
    return page


_counter = iter(range(1, 10**9))


def post_alarm(server: Server, device_token: str, type_: str = "sos") -> int:
    body = {
        "event_id": f"b-{uuid.uuid4().hex[:12]}-{next(_counter)}",
        "type": type_,
        "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
        "position": {"lat": 52.0907, "lon": 5.1214, "accuracy_m": 8},
    }
    r = requests.post(
        server.url + "/api/v1/ingest",
        json=body,
        headers={"Authorization": f"Bearer {device_token}"},
        timeout=10,
    )
    assert r.status_code == 202, r.text
    return int(r.json()["alarm_ids"][0])
