"""GET /metrics: who may read it, and figures that follow what happens (SQLite and PostgreSQL).

Counters and the histogram are per process (shared by every test of this run), so the tests
compare a scrape before and after an action.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from aware.adapters.realtime import RecordingPublisher
from aware.alarms.models import Alarm
from aware.alarms.services import Actor
from aware.app import create_app
from aware.config import ConfigError
from aware.devices.models import Device
from aware.scheduler import supervision
from tests.conftest import bearer, event, settings_for

SCRAPER_TOKEN = "s" * 40


def scrape(client: Any, headers: dict[str, str]) -> dict[tuple[str, tuple[Any, ...]], float]:
    r = client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.headers["Content-Type"].startswith("text/plain")
    samples: dict[tuple[str, tuple[Any, ...]], float] = {}
    for family in text_string_to_metric_families(r.get_data(as_text=True)):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


@pytest.fixture
def admin(make_user: Any) -> dict[str, str]:
    _, token = make_user("admin")
    return bearer(token)


def test_metrics_need_an_admin_or_the_scraper_token(
    client: Any, make_user: Any, admin: dict[str, str]
) -> None:
    r = client.get("/metrics")
    assert r.status_code == 401
    assert r.get_json()["error"]["code"] == "unauthorized"
    assert "aware_" not in r.get_data(as_text=True)
    assert client.get("/metrics", headers=bearer("not-a-token")).status_code == 401
    # No scraper token configured: a guess of one is just an unknown token.
    assert client.get("/metrics", headers=bearer(SCRAPER_TOKEN)).status_code == 401
    for role in ("dispatcher", "coordinator", "municipality"):
        _, token = make_user(role)
        r = client.get("/metrics", headers=bearer(token))
        assert r.status_code == 403, role
        assert r.get_json()["error"]["code"] == "forbidden"
    assert client.get("/metrics", headers=admin).status_code == 200


def test_the_scraper_token_opens_metrics(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, db_url: str, sessions: Any
) -> None:
    monkeypatch.setenv("AWARE_METRICS_TOKEN", SCRAPER_TOKEN)
    app = create_app(settings_for(tmp_path, db_url))
    app.extensions["aware"].engine.dispose()
    app.extensions["aware"].sessions = sessions
    client = app.test_client()
    samples = scrape(client, bearer(SCRAPER_TOKEN))
    assert samples[("aware_database_up", ())] == 1
    assert client.get("/metrics", headers=bearer("s" * 39 + "t")).status_code == 401


@pytest.mark.parametrize("value", ["short", "x" * 31])
def test_a_weak_scraper_token_stops_start_up_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, value: str
) -> None:
    monkeypatch.setenv("AWARE_METRICS_TOKEN", value)
    with pytest.raises(ConfigError, match="AWARE_METRICS_TOKEN"):
        create_app(settings_for(tmp_path, f"sqlite:///{tmp_path / 'm.db'}"))


def test_open_alarms_and_alarms_per_type_follow_the_database(
    client: Any, device: dict[str, Any], dispatcher: dict[str, str], admin: dict[str, str]
) -> None:
    before = scrape(client, admin)
    open_before = before.get(("aware_open_alarms", ()), 0)
    sos_before = before.get(("aware_alarms_total", (("type", "sos"),)), 0)
    r = client.post("/api/v1/ingest", json=event("m-1"), headers=device["headers"])
    assert r.status_code == 202
    r = client.post(
        "/api/v1/ingest", json=event("m-2", "battery_low", battery_pct=5), headers=device["headers"]
    )
    assert r.status_code == 202
    after = scrape(client, admin)
    assert after[("aware_open_alarms", ())] == open_before + 2
    assert after[("aware_alarms_total", (("type", "sos"),))] == sos_before + 1
    assert after[("aware_alarms_total", (("type", "battery_low"),))] >= 1
    (alarm_id,) = client.post(
        "/api/v1/ingest", json=event("m-3"), headers=device["headers"]
    ).get_json()["alarm_ids"]
    assert client.post(f"/api/v1/alarms/{alarm_id}/ack", headers=dispatcher).status_code == 200
    # Acknowledged: no longer waiting for a dispatcher, still counted as raised.
    later = scrape(client, admin)
    assert later[("aware_open_alarms", ())] == open_before + 2
    assert later[("aware_alarms_total", (("type", "sos"),))] == sos_before + 2
    # No personal data in the figures: no serials, tokens or usernames.
    text = client.get("/metrics", headers=admin).get_data(as_text=True)
    assert device["serial"] not in text and device["token"] not in text


def test_intake_to_console_latency_is_observed_once_per_alarm(
    app: Any, client: Any, device: dict[str, Any], admin: dict[str, str], sessions: Any
) -> None:
    (alarm_id,) = client.post(
        "/api/v1/ingest", json=event("lat-1"), headers=device["headers"]
    ).get_json()["alarm_ids"]
    received = app.extensions["aware"].sessions().get(Alarm, alarm_id).received_at
    count = ("aware_alarm_intake_to_console_seconds_count", ())
    le_250ms = ("aware_alarm_intake_to_console_seconds_bucket", (("le", "0.25"),))
    le_100ms = ("aware_alarm_intake_to_console_seconds_bucket", (("le", "0.1"),))
    before = scrape(client, admin)
    recorder = app.extensions["socketio"].server.namespace_handlers["/dispatch"].recorder
    console = Actor("console", "sid-1", "disp-anna")
    at = received + dt.timedelta(milliseconds=200)
    # Two consoles confirm in one batch; then a late third one: one observation, the first.
    recorder.write([(alarm_id, console, at + dt.timedelta(seconds=1)), (alarm_id, console, at)])
    recorder.write([(alarm_id, console, at + dt.timedelta(seconds=3))])
    after = scrape(client, admin)
    assert after[count] == before.get(count, 0) + 1
    assert after[le_250ms] == before.get(le_250ms, 0) + 1
    assert after[le_100ms] == before.get(le_100ms, 0)
    assert app.extensions["aware"].sessions().get(Alarm, alarm_id).delivered_at == at


def test_escalations_and_device_offline_are_counted(
    client: Any, coordinator: dict[str, str], admin: dict[str, str], sessions: Any
) -> None:
    from aware import metrics

    sms_sent = ("aware_escalations_total", (("channel", "sms"), ("outcome", "sent")))
    voice_failed = ("aware_escalations_total", (("channel", "voice"), ("outcome", "failed")))
    offline = ("aware_device_offline_total", ())
    before = scrape(client, admin)
    metrics.count_escalations(
        [
            ("escalated", {"channel": "sms", "to": "+31612345678"}),
            ("escalation_failed", {"channel": "voice", "errors": ["HTTP 500"]}),
            ("escalation_failed", {"channel": "voice", "errors": ["SMS not configured"]}),
            ("escalation_not_sent", {"reason": "no escalation numbers configured"}),
        ]
    )
    r = client.post(
        "/api/v1/devices",
        json={"serial": f"AW-{uuid.uuid4().hex[:8]}", "kind": "perpetrator_tracker"},
        headers=coordinator,
    )
    device_id = r.get_json()["id"]
    t0 = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
    with sessions() as s:
        s.execute(update(Device).where(Device.id == device_id).values(created_at=t0))
        s.commit()
    now = t0 + dt.timedelta(hours=1)
    pub = RecordingPublisher()
    assert supervision.raise_offline(sessions, device_id, now, lambda _k: 60.0, pub) is not None
    # The same outage again: no second alarm, no second count.
    assert supervision.raise_offline(sessions, device_id, now, lambda _k: 60.0, pub) is None
    after = scrape(client, admin)
    assert after[sms_sent] == before.get(sms_sent, 0) + 1
    assert after[voice_failed] == before.get(voice_failed, 0) + 1
    not_sent_voice = ("aware_escalations_total", (("channel", "voice"), ("outcome", "not_sent")))
    not_sent_none = ("aware_escalations_total", (("channel", "none"), ("outcome", "not_sent")))
    assert after[not_sent_voice] == before.get(not_sent_voice, 0) + 1
    assert after[not_sent_none] == before.get(not_sent_none, 0) + 1
    assert after[offline] == before.get(offline, 0) + 1
