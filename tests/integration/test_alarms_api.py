"""Alarm lifecycle over HTTP: list, read, acknowledge, resolve, notes, roles, timeline."""

from __future__ import annotations

import pytest

from tests.conftest import bearer, event


@pytest.fixture
def alarm_id(client, device):
    body = client.post("/api/v1/ingest", headers=device["headers"], json=event()).get_json()
    return body["alarm_ids"][0]


def test_ack_then_resolve_with_timeline_and_updates(client, alarm_id, dispatcher, publisher):
    before = client.get(f"/api/v1/alarms/{alarm_id}", headers=dispatcher).get_json()
    acked = client.post(f"/api/v1/alarms/{alarm_id}/ack", headers=dispatcher)
    assert acked.status_code == 200
    a = acked.get_json()
    assert a["status"] == "acknowledged" and a["acknowledged_by"] == "disp-anna"
    assert a["seq"] > before["seq"]
    resolved = client.post(
        f"/api/v1/alarms/{alarm_id}/resolve",
        headers=dispatcher,
        json={"outcome": "genuine", "note": "politie ter plaatse"},
    )
    r = resolved.get_json()
    assert resolved.status_code == 200 and r["status"] == "resolved" and r["outcome"] == "genuine"
    assert r["seq"] > a["seq"]
    detail = client.get(f"/api/v1/alarms/{alarm_id}", headers=dispatcher).get_json()
    actions = [(e["action"], e["actor_type"], e["actor_name"]) for e in detail["timeline"]]
    assert actions == [
        ("raised", "device", "AW-T1"),
        ("acknowledged", "user", "disp-anna"),
        ("resolved", "user", "disp-anna"),
    ]
    assert detail["timeline"][2]["detail"] == {"outcome": "genuine", "note": "politie ter plaatse"}
    updates = [(n, p["status"], p["seq"]) for n, p in publisher.events if n == "alarm.updated"]
    assert updates == [
        ("alarm.updated", "acknowledged", a["seq"]),
        ("alarm.updated", "resolved", r["seq"]),
    ]


def test_second_dispatcher_is_told_who_was_first(client, alarm_id, dispatcher, make_user):
    _, other = make_user("dispatcher", "disp-bram")
    client.post(f"/api/v1/alarms/{alarm_id}/ack", headers=dispatcher)
    resp = client.post(f"/api/v1/alarms/{alarm_id}/ack", headers=bearer(other))
    assert resp.status_code == 409
    err = resp.get_json()["error"]
    assert err["by"] == "disp-anna" and "disp-anna" in err["message"]
    assert err["alarm"]["status"] == "acknowledged"


def test_same_dispatcher_acking_twice_gets_200_and_no_new_seq(client, alarm_id, dispatcher):
    first = client.post(f"/api/v1/alarms/{alarm_id}/ack", headers=dispatcher).get_json()
    again = client.post(f"/api/v1/alarms/{alarm_id}/ack", headers=dispatcher)
    assert again.status_code == 200 and again.get_json()["seq"] == first["seq"]


def test_ack_of_resolved_alarm_is_409(client, alarm_id, dispatcher):
    client.post(
        f"/api/v1/alarms/{alarm_id}/resolve", headers=dispatcher, json={"outcome": "false_alarm"}
    )
    resp = client.post(f"/api/v1/alarms/{alarm_id}/ack", headers=dispatcher)
    assert resp.status_code == 409 and resp.get_json()["error"]["by"] == "disp-anna"


def test_resolve_twice_by_someone_else_is_409(client, alarm_id, dispatcher, make_user):
    _, other = make_user("admin", "admin-cas")
    client.post(f"/api/v1/alarms/{alarm_id}/resolve", headers=dispatcher, json={"outcome": "test"})
    resp = client.post(
        f"/api/v1/alarms/{alarm_id}/resolve", headers=bearer(other), json={"outcome": "genuine"}
    )
    assert resp.status_code == 409
    detail = client.get(f"/api/v1/alarms/{alarm_id}", headers=dispatcher).get_json()
    assert detail["outcome"] == "test"


def test_resolving_an_open_alarm_records_acceptance_too(client, alarm_id, dispatcher):
    client.post(f"/api/v1/alarms/{alarm_id}/resolve", headers=dispatcher, json={"outcome": "test"})
    detail = client.get(f"/api/v1/alarms/{alarm_id}", headers=dispatcher).get_json()
    assert [e["action"] for e in detail["timeline"]] == ["raised", "acknowledged", "resolved"]
    assert detail["acknowledged_at"] == detail["resolved_at"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"outcome": "solved"}, "outcome"),
        ({}, "outcome"),
        ({"outcome": 1}, "outcome"),
        ({"outcome": "genuine", "note": "x" * 4001}, "note"),
    ],
)
def test_resolve_with_bad_outcome_is_422_and_changes_nothing(
    client, alarm_id, dispatcher, body, field
):
    resp = client.post(f"/api/v1/alarms/{alarm_id}/resolve", headers=dispatcher, json=body)
    assert resp.status_code == 422 and field in resp.get_json()["error"]["fields"]
    detail = client.get(f"/api/v1/alarms/{alarm_id}", headers=dispatcher).get_json()
    assert detail["status"] == "open" and len(detail["timeline"]) == 1


def test_notes_go_on_the_timeline(client, alarm_id, dispatcher, publisher):
    resp = client.post(
        f"/api/v1/alarms/{alarm_id}/notes",
        headers=dispatcher,
        json={"text": "slachtoffer teruggebeld"},
    )
    assert resp.status_code == 201
    detail = client.get(f"/api/v1/alarms/{alarm_id}", headers=dispatcher).get_json()
    assert detail["timeline"][-1]["detail"] == {"text": "slachtoffer teruggebeld"}
    assert publisher.events[-1][0] == "alarm.updated"
    assert (
        client.post(
            f"/api/v1/alarms/{alarm_id}/notes", headers=dispatcher, json={"text": ""}
        ).status_code
        == 422
    )


@pytest.mark.parametrize("path", ["/api/v1/alarms/999999", "/api/v1/alarms/999999/ack"])
def test_unknown_alarm_is_404(client, dispatcher, path):
    resp = (
        client.post(path, headers=dispatcher)
        if path.endswith("ack")
        else client.get(path, headers=dispatcher)
    )
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"


def test_list_filters_by_status_and_orders_by_priority_then_age(client, device, dispatcher):
    h = device["headers"]
    client.post("/api/v1/ingest", headers=h, json=event("t", "test"))
    client.post("/api/v1/ingest", headers=h, json=event("b", "battery_low"))
    client.post("/api/v1/ingest", headers=h, json=event("s", "sos"))
    alarms = client.get("/api/v1/alarms", headers=dispatcher).get_json()["alarms"]
    assert [a["type"] for a in alarms] == ["sos", "battery_low", "test"]
    client.post(f"/api/v1/alarms/{alarms[0]['id']}/ack", headers=dispatcher)
    client.post(
        f"/api/v1/alarms/{alarms[2]['id']}/resolve", headers=dispatcher, json={"outcome": "test"}
    )

    def types(status):
        resp = client.get(f"/api/v1/alarms?status={status}", headers=dispatcher)
        return [a["type"] for a in resp.get_json()["alarms"]]

    assert types("open") == ["battery_low"]
    assert types("acknowledged") == ["sos"]
    assert types("resolved") == ["test"]
    bad = client.get("/api/v1/alarms?status=closed", headers=dispatcher)
    assert bad.status_code == 422 and "status" in bad.get_json()["error"]["fields"]


@pytest.mark.parametrize("role", ["coordinator", "municipality"])
def test_other_roles_may_not_handle_alarms(client, alarm_id, make_user, role):
    _, token = make_user(role)
    for method, path in [
        ("get", "/api/v1/alarms"),
        ("get", f"/api/v1/alarms/{alarm_id}"),
        ("post", f"/api/v1/alarms/{alarm_id}/ack"),
    ]:
        resp = getattr(client, method)(path, headers=bearer(token))
        assert resp.status_code == 403, path
        assert resp.get_json()["error"]["code"] == "forbidden"


def test_without_a_token_alarms_are_401(client, alarm_id):
    for headers in ({}, bearer("nope")):
        resp = client.get("/api/v1/alarms", headers=headers)
        assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer")
