"""The alarm path end to end: a real `aware serve`, real HTTP, real Socket.IO consoles."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import requests
import socketio

from tests.e2e.conftest import Server


def sos(event_id: str, **extra):
    return {
        "event_id": event_id,
        "type": "sos",
        "occurred_at": "2026-11-28T10:00:00+01:00",
        "position": {"lat": 52.0907, "lon": 5.1214, "accuracy_m": 8},
        **extra,
    }


def ingest(server: Server, device_token: str, body) -> requests.Response:
    return requests.post(
        server.url + "/api/v1/ingest",
        json=body,
        headers={"Authorization": f"Bearer {device_token}"},
        timeout=10,
    )


def new_ids(console, device_id=None):
    return [
        d["id"]
        for n, d in console.events
        if n == "alarm.new" and (device_id is None or d["device_id"] == device_id)
    ]


def mine(alarms, device):
    return [a for a in alarms if a["device_id"] == device["id"]]


def test_alarm_new_reaches_every_console_and_delivery_is_recorded(
    server, tokens, device, device_token, consoles
):
    a = consoles(server.url, tokens["dispatcher"]).connect()
    b = consoles(server.url, tokens["dispatcher"]).connect()
    for c in (a, b):
        c.wait_for(lambda c: c.snapshots)
        assert mine(c.snapshots[0], device) == []
    r = ingest(server, device_token, sos("press-1"))
    assert r.status_code == 202
    (alarm_id,) = r.json()["alarm_ids"]
    for c in (a, b):
        c.wait_for(lambda c: alarm_id in new_ids(c))
        (data,) = [d for n, d in c.events if n == "alarm.new" and d["id"] == alarm_id]
        assert data["type"] == "sos" and data["priority"] == 1 and data["status"] == "open"
        assert data["position"]["lat"] == 52.0907

    # The first console that confirmed receipt is on the timeline, once.
    def delivered():
        detail = server.get(f"/api/v1/alarms/{alarm_id}", tokens["dispatcher"]).json()
        return [e for e in detail["timeline"] if e["action"] == "delivered"]

    a.wait_for(lambda _: delivered(), timeout=5)
    (entry,) = delivered()
    assert entry["actor_type"] == "console" and entry["actor_name"] == "disp-e2e"
    detail = server.get(f"/api/v1/alarms/{alarm_id}", tokens["dispatcher"]).json()
    assert detail["delivered_at"] is not None


@pytest.mark.parametrize("who", [None, "garbage", "coordinator"])
def test_console_without_a_valid_dispatch_token_is_refused(server, tokens, consoles, who):
    token = tokens.get(who, who) if who else None
    console = consoles(server.url, token)
    with pytest.raises(socketio.exceptions.ConnectionError):
        console.connect()
    assert console.snapshots == [] and not console.sio.connected


def test_refused_console_receives_no_alarms(server, tokens, device_token):
    sio = socketio.Client(reconnection=False)
    got = []
    sio.on("alarm.new", lambda d: got.append(d), namespace="/dispatch")
    with pytest.raises(socketio.exceptions.ConnectionError):
        sio.connect(
            server.url,
            namespaces=["/dispatch"],
            auth={"token": "bad"},
            transports=["websocket"],
            wait_timeout=5,
        )
    ingest(server, device_token, sos("p-refused"))
    assert got == []


def test_reconnecting_console_finds_what_it_missed_in_the_snapshot(
    server, tokens, device, device_token, consoles
):
    first = consoles(server.url, tokens["dispatcher"]).connect()
    first.wait_for(lambda c: c.snapshots)
    first.close()
    # While the console is away: two presses, one of them handled by a colleague.
    ids = [
        ingest(server, device_token, sos(f"missed-{i}")).json()["alarm_ids"][0] for i in range(2)
    ]
    server.post(f"/api/v1/alarms/{ids[0]}/ack", tokens["dispatcher"])
    again = consoles(server.url, tokens["dispatcher"]).connect()
    snap = again.wait_for(lambda c: c.snapshots and c.snapshots[0])
    by_id = {a["id"]: a for a in mine(snap, device)}
    assert set(by_id) == set(ids)
    assert by_id[ids[0]]["status"] == "acknowledged" and by_id[ids[1]]["status"] == "open"
    # A resolved alarm is no longer active and leaves the snapshot.
    server.post(
        f"/api/v1/alarms/{ids[1]}/resolve", tokens["dispatcher"], json={"outcome": "false_alarm"}
    )
    third = consoles(server.url, tokens["dispatcher"]).connect()
    snap = third.wait_for(lambda c: c.snapshots)[0]
    assert [a["id"] for a in mine(snap, device)] == [ids[0]]


def test_ack_and_resolve_produce_alarm_updated_in_seq_order(server, tokens, device_token, consoles):
    console = consoles(server.url, tokens["dispatcher"]).connect()
    console.wait_for(lambda c: c.snapshots)
    (alarm_id,) = ingest(server, device_token, sos("upd-1")).json()["alarm_ids"]
    console.wait_for(lambda c: alarm_id in new_ids(c))
    assert server.post(f"/api/v1/alarms/{alarm_id}/ack", tokens["dispatcher"]).status_code == 200
    assert (
        server.post(
            f"/api/v1/alarms/{alarm_id}/resolve", tokens["dispatcher"], json={"outcome": "genuine"}
        ).status_code
        == 200
    )
    updates = console.wait_for(
        lambda c: (
            (u := [d for n, d in c.events if n == "alarm.updated" and d["id"] == alarm_id])
            and len(u) >= 2
            and u
        )
    )
    assert [u["status"] for u in updates] == ["acknowledged", "resolved"]
    new_seq = [d["seq"] for n, d in console.events if n == "alarm.new" and d["id"] == alarm_id][0]
    assert new_seq < updates[0]["seq"] < updates[1]["seq"]
    assert updates[1]["outcome"] == "genuine" and updates[1]["resolved_by"] == "disp-e2e"


def test_repeated_press_is_shown_once(server, tokens, device, device_token, consoles):
    console = consoles(server.url, tokens["dispatcher"]).connect()
    console.wait_for(lambda c: c.snapshots)
    first = ingest(server, device_token, sos("same-press")).json()
    again = ingest(server, device_token, sos("same-press")).json()
    assert again == {
        "accepted": 0,
        "duplicates": 1,
        "rejected": [],
        "alarm_ids": first["alarm_ids"],
    }
    other = ingest(server, device_token, sos("next-press")).json()["alarm_ids"][0]
    console.wait_for(lambda c: other in new_ids(c))
    assert new_ids(console, device["id"]) == [first["alarm_ids"][0], other]


def test_sigkill_right_after_202_loses_nothing(tmp_path):
    srv = Server(tmp_path)
    srv.cli(
        "user",
        "create",
        "disp-e2e",
        "--role",
        "dispatcher",
        "--password",
        "correct horse battery staple",
    )
    srv.cli(
        "user",
        "create",
        "coord-e2e",
        "--role",
        "coordinator",
        "--password",
        "correct horse battery staple",
    )
    srv.start()
    try:
        coord = srv.token("coord-e2e")
        dev = srv.post("/api/v1/devices", coord, json={"serial": "AW-K", "kind": "victim_alarm"})
        dev_token = dev.json()["token"]
        batch = {
            "events": [sos(f"k-{i}") for i in range(20)]
            + [
                {
                    "event_id": f"pos-{i}",
                    "type": "position",
                    "occurred_at": f"2026-11-28T10:{i:02d}:00+01:00",
                    "position": {"lat": 52.1, "lon": 5.1},
                }
                for i in range(30)
            ]
        }
        r = ingest(srv, dev_token, batch)
        assert r.status_code == 202
        alarm_ids = r.json()["alarm_ids"]
        srv.kill()  # at once, after the 202
        srv.start()
        disp = srv.token("disp-e2e")
        listed = srv.get("/api/v1/alarms?status=open", disp).json()["alarms"]
        assert sorted(a["id"] for a in listed) == sorted(alarm_ids)
        # 20 presses in a burst: the first AWARE_DEVICE_ALARM_RATE (6) are alarms of their own,
        # the rest folded into one storm alarm that counts them. Every SOS is accounted for
        # exactly once, by its stored event, after the SIGKILL.
        raised = [a for a in listed if a["type"] == "sos"]
        (storm,) = [a for a in listed if a["type"] == "storm"]
        assert len(listed) == len(raised) + 1 and len(raised) == 6
        assert storm["priority"] == 1 and storm["detail"]["folded"] == {"sos": 14}
        assert storm["detail"]["count"] == 14
        events = [a["event_id"] for a in raised] + [
            f["event_id"] for f in storm["detail"]["recent"]
        ]
        assert len(set(events)) == 20 and None not in events
        # Re-sending the same buffer after the restart stores nothing twice.
        again = ingest(srv, dev_token, batch).json()
        assert again["accepted"] == 0 and again["duplicates"] == 50
        devices = srv.get("/api/v1/devices", coord).json()["devices"]
        assert devices[0]["last_position_at"] == "2026-11-28T09:29:00Z"
    finally:
        srv.stop()


def test_each_bad_input_gets_its_code_and_changes_nothing(server, tokens, device_token):
    def state():
        alarms = server.get("/api/v1/alarms", tokens["dispatcher"]).json()["alarms"]
        devices = server.get("/api/v1/devices", tokens["coordinator"]).json()["devices"]
        return alarms, devices

    before = state()
    auth = {"Authorization": f"Bearer {device_token}"}
    cases = [
        (auth, b"{not json", 400),
        ({}, json.dumps(sos("x")).encode(), 401),
        ({"Authorization": "Bearer wrong"}, json.dumps(sos("x")).encode(), 401),
        (auth, json.dumps(sos("x", type="panic")).encode(), 422),
        # Not alarms (an SOS is stored without its bad field: tests/integration/test_intake_*).
        (
            auth,
            json.dumps(sos("x", type="heartbeat", occurred_at="2026-11-28 10:00")).encode(),
            422,
        ),
        (auth, json.dumps(sos("x", type="position", position={"lat": 99, "lon": 5})).encode(), 422),
        (auth, json.dumps(sos("y" * 65, type="heartbeat")).encode(), 422),
        (auth, b"[" * 200_000, 400),
        (auth, json.dumps({"events": [sos(f"b{i}") for i in range(1001)]}).encode(), 422),
        (auth, b'{"events": [' + b"0," * 600_000 + b"0]}", 413),
    ]
    for headers, body, status in cases:
        r = requests.post(
            server.url + "/api/v1/ingest",
            data=body,
            timeout=20,
            headers={**headers, "Content-Type": "application/json"},
        )
        assert r.status_code == status, (status, r.text[:200])
        assert set(r.json()["error"]) >= {"code", "message", "fields"}
    assert state() == before
    # Unknown ids and conflicting transitions on the alarm endpoints.
    assert server.post("/api/v1/alarms/987654/ack", tokens["dispatcher"]).status_code == 404
    assert server.post("/api/v1/alarms/1/ack", tokens["coordinator"]).status_code == 403


def test_logs_carry_no_tokens_positions_or_passwords(server, tokens, device_token):
    requests.get(
        f"{server.url}/osmand?id={device_token}&lat=52.0911&lon=5.1187&alarm=sos", timeout=10
    )
    ingest(server, device_token, sos("log-1", position={"lat": 52.0912, "lon": 5.1188}))
    requests.post(
        server.url + "/api/v1/auth/token",
        timeout=10,
        json={"username": "disp-e2e", "password": "wrong-secret-pw"},
    )
    log = server.log.read_text()
    assert "/osmand" in log and "/api/v1/ingest" in log  # requests are logged...
    for secret in (
        device_token,
        tokens["dispatcher"],
        "52.0911",
        "5.1187",
        "52.0912",
        "wrong-secret-pw",
    ):
        assert secret not in log  # ...without what they carried


def test_alarm_first_seen_in_the_snapshot_is_recorded_as_delivered(
    server, tokens, device_token, consoles
):
    (alarm_id,) = ingest(server, device_token, sos("seen-late")).json()["alarm_ids"]
    # No console is connected (each test closes its own): nobody has seen it yet.
    connect_at = dt.datetime.now(dt.UTC)
    late = consoles(server.url, tokens["dispatcher"]).connect()
    late.wait_for(lambda c: c.snapshots and any(a["id"] == alarm_id for a in c.snapshots[0]))

    def delivered():
        detail = server.get(f"/api/v1/alarms/{alarm_id}", tokens["dispatcher"]).json()
        return [e for e in detail["timeline"] if e["action"] == "delivered"]

    late.wait_for(lambda _: delivered(), timeout=5)
    (entry,) = delivered()
    assert entry["actor_type"] == "console" and entry["actor_name"] == "disp-e2e"
    # Delivered by the snapshot of the console that connected afterwards.
    assert dt.datetime.fromisoformat(entry["at"].replace("Z", "+00:00")) >= connect_at
