"""The shipped catalog and vendored libraries are complete and match their sources."""

from __future__ import annotations

import io
import json
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
NL = ROOT / "aware" / "translations" / "nl" / "LC_MESSAGES"


def test_every_text_has_a_dutch_translation_and_the_mo_file_is_current():
    with open(NL / "messages.po", "rb") as f:
        catalog = read_po(f, locale="nl")
    with open(ROOT / "aware" / "translations" / "messages.pot", "rb") as f:
        template = read_po(f)
    missing = [m.id for m in catalog if m.id and (not m.string or m.fuzzy)]
    assert missing == []
    assert {m.id for m in template if m.id} <= {m.id for m in catalog if m.id}
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    assert (NL / "messages.mo").read_bytes() == compiled.getvalue(), "run `make i18n`"


def test_vendored_versions_match_the_npm_lock_file():
    lock = json.loads((ROOT / "frontend" / "package-lock.json").read_text())
    packages = lock["packages"]
    vendor = ROOT / "aware" / "web" / "static" / "vendor"
    sio = packages["node_modules/socket.io-client"]["version"]
    leaflet = packages["node_modules/leaflet"]["version"]
    assert f"Socket.IO v{sio}" in (vendor / "socket.io.min.js").read_text()[:200]
    assert f"Leaflet {leaflet}" in (vendor / "leaflet" / "leaflet.js").read_text()[:300]
    chart = packages["node_modules/chart.js"]["version"]
    assert f"Chart.js v{chart}" in (vendor / "chart.umd.min.js").read_text()[:200]
