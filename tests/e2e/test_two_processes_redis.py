"""Two `aware serve` processes on one database, sharing consoles through Redis."""

from __future__ import annotations

import os
import uuid

import pytest
import redis as redis_lib
import requests

from tests.e2e.conftest import Server, setup_people

REDIS_URL = os.environ.get("AWARE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="module")
def redis_url():
    try:
        redis_lib.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis_lib.RedisError:
        if os.environ.get("AWARE_TEST_REQUIRE_REDIS") == "1":
            pytest.fail(f"Redis required (AWARE_TEST_REQUIRE_REDIS=1) but {REDIS_URL} is down")
        pytest.skip("Redis is not reachable")
    return REDIS_URL


@pytest.fixture(scope="module")
def pair(tmp_path_factory, redis_url):
    instance = tmp_path_factory.mktemp("pair")
    env = {"AWARE_REDIS_URL": redis_url, "AWARE_REDIS_CHANNEL": f"aware-test-{uuid.uuid4().hex}"}
    a = Server(instance, env)
    setup_people(a)
    b = Server(instance, env)  # same instance folder: same SQLite database and secret
    a.start()
    b.start()
    yield a, b
    a.stop()
    b.stop()


def test_alarm_taken_in_by_one_process_reaches_consoles_on_the_other(pair, consoles):
    a, b = pair
    disp, coord = a.token("disp-e2e"), a.token("coord-e2e")
    device = a.post("/api/v1/devices", coord, json={"serial": "AW-R1", "kind": "victim_alarm"})
    token = device.json()["token"]
    on_a = consoles(a.url, disp).connect()
    on_b = consoles(b.url, disp).connect()
    for c in (on_a, on_b):
        c.wait_for(lambda c: c.snapshots)
    r = requests.post(
        a.url + "/api/v1/ingest",
        timeout=10,
        headers={"Authorization": f"Bearer {token}"},
        json={"event_id": "r-1", "type": "sos", "occurred_at": "2026-11-28T10:00:00+01:00"},
    )
    assert r.status_code == 202
    (alarm_id,) = r.json()["alarm_ids"]

    def got(c, name):
        return [d for n, d in c.events if n == name and d["id"] == alarm_id]

    for c in (on_a, on_b):
        c.wait_for(lambda c: got(c, "alarm.new"))
        assert len(got(c, "alarm.new")) == 1
    # Acknowledged through process B: the console on A hears of it too.
    assert b.post(f"/api/v1/alarms/{alarm_id}/ack", disp).status_code == 200
    update = on_a.wait_for(lambda c: got(c, "alarm.updated"))
    assert update[0]["status"] == "acknowledged"

    # Delivery is on the timeline once, whichever process's console confirmed first.
    def delivered():
        detail = a.get(f"/api/v1/alarms/{alarm_id}", disp).json()
        return [e for e in detail["timeline"] if e["action"] == "delivered"]

    on_a.wait_for(lambda _: delivered(), timeout=5)
    assert len(delivered()) == 1
