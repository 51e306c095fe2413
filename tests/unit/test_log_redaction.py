"""No token, password or position survives into a log line (aware.logredact)."""

from __future__ import annotations

import logging

import pytest

from aware import logredact

TOKEN = "dVt0k3n-Secret_abcdefghijklmnop"


@pytest.mark.parametrize(
    "line",
    [
        f"code 400, message Bad request syntax ('GET /osmand?id={TOKEN}&lat=52.09981&lon=5.10512"
        "&desc=home base HTTP/1.1')",
        f"POST /osmand?deviceid={TOKEN}&location=52.09981,5.10512 HTTP/1.1",
        f"[parameters: {{'device_id': 3, 'lat': 52.09981, 'lon': 5.10512, 'token': '{TOKEN}'}}]",
        f'{{"password": "{TOKEN}", "location": {{"coords": 1}}, "latitude": 52.09981}}',
        f"Authorization: Bearer {TOKEN}",
        f"headers {{'Authorization': 'Bearer {TOKEN}'}} longitude=5.10512",
        f"GET /api/v1/x?access_token={TOKEN}",
    ],
)
def test_secrets_and_positions_are_masked(line):
    out = logredact.redact(line)
    assert TOKEN not in out
    assert "52.09981" not in out and "5.10512" not in out
    assert logredact.MASK in out


def test_ordinary_words_are_left_alone():
    line = "POST /api/v1/alarms/12/ack 200 3.1ms alarm_id=12 event_id=e-1 battery=40"
    assert logredact.redact(line) == line


def test_every_record_of_the_process_is_redacted(caplog):
    logredact.install()
    logredact.install()  # idempotent
    log = logging.getLogger("some.library")
    with caplog.at_level(logging.INFO):
        log.warning("request %s failed", f"/osmand?id={TOKEN}&lat=52.09981")
        try:
            raise ValueError(f"GET /osmand?id={TOKEN}", {"lat": 52.09981})
        except ValueError:
            log.exception("boom id=%s", TOKEN)
    text = caplog.text
    assert "/osmand?id=" in text and "boom" in text and "ValueError" in text  # logged at all
    assert TOKEN not in text and "52.09981" not in text
