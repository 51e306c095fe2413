"""The admin API for escalation chains, the victim-notification switch, and their OpenAPI."""

from __future__ import annotations

import pytest

from aware.alarms import rules
from tests.conftest import bearer

CHAIN = {
    "steps": [
        {"after_s": 20, "channels": ["sms"], "to": ["+31612345678"]},
        {"after_s": 60, "channels": ["sms", "voice"], "to": ["+31687654321"]},
    ],
    "repeat_every_s": 300,
    "max_repeats": 2,
}


@pytest.fixture
def admin(make_user):
    _, token = make_user("admin", "admin-ad")
    return bearer(token)


def chains(client, admin):
    r = client.get("/api/v1/escalation-chains", headers=admin)
    assert r.status_code == 200
    return {c["alarm_type"]: c for c in r.get_json()["chains"]}


def test_every_alarm_type_starts_with_the_default_chain(client, admin, app):
    listed = chains(client, admin)
    assert set(listed) == set(rules.PRIORITY)
    default = app.extensions["aware"].default_escalation
    for entry in listed.values():
        assert entry["default"] is True and entry["chain"] == default
        assert entry["updated_at"] is None and entry["updated_by"] is None


def test_put_sets_a_types_chain(client, admin):
    r = client.put("/api/v1/escalation-chains/tamper", headers=admin, json=CHAIN)
    assert r.status_code == 200, r.get_json()
    entry = r.get_json()
    assert entry["alarm_type"] == "tamper" and entry["default"] is False
    assert entry["updated_by"] == "admin-ad" and entry["updated_at"].endswith("Z")
    assert entry["chain"]["steps"][1]["channels"] == ["sms", "voice"]
    assert entry["chain"]["max_repeats"] == 2 and entry["chain"]["repeat_every_s"] == 300
    listed = chains(client, admin)
    assert listed["tamper"] == entry and listed["sos"]["default"] is True
    # Setting it again replaces it; [] means never escalate.
    r = client.put("/api/v1/escalation-chains/tamper", headers=admin, json={"steps": []})
    assert r.status_code == 200 and r.get_json()["chain"]["steps"] == []
    assert chains(client, admin)["tamper"]["chain"]["steps"] == []


def test_delete_restores_the_default(client, admin):
    assert client.put("/api/v1/escalation-chains/tamper", headers=admin, json=CHAIN).status_code
    r = client.delete("/api/v1/escalation-chains/tamper", headers=admin)
    assert r.status_code == 200 and r.get_json()["default"] is True
    assert chains(client, admin)["tamper"]["default"] is True
    # Deleting a default is harmless.
    assert client.delete("/api/v1/escalation-chains/tamper", headers=admin).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "steps"),
        ({"steps": [{"after_s": -1, "channels": ["sms"], "to": []}]}, "steps.0.after_s"),
        ({"steps": [{"after_s": "30", "channels": ["sms"], "to": []}]}, "steps.0.after_s"),
        ({"steps": [{"after_s": 30, "channels": ["fax"], "to": []}]}, "steps.0.channels.0"),
        ({"steps": [{"after_s": 30, "channels": [], "to": []}]}, "steps.0.channels"),
        ({"steps": [{"after_s": 30, "channels": ["sms"], "to": ["0612345678"]}]}, "steps.0.to"),
        (
            {
                "steps": [
                    {"after_s": 30, "channels": ["sms"]},
                    {"after_s": 10, "channels": ["sms"]},
                ]
            },
            "steps.1.after_s",
        ),
        ({"steps": [{"after_s": 30, "channels": ["sms"]}], "max_repeats": 3}, "repeat_every_s"),
        (
            {
                "steps": [{"after_s": 30, "channels": ["sms"]}],
                "max_repeats": 99,
                "repeat_every_s": 60,
            },
            "max_repeats",
        ),
        ({"steps": [], "max_repeats": 1, "repeat_every_s": 60}, "max_repeats"),
    ],
)
def test_invalid_chains_are_422_naming_the_field_and_change_nothing(client, admin, body, field):
    before = chains(client, admin)
    r = client.put("/api/v1/escalation-chains/sos", headers=admin, json=body)
    assert r.status_code == 422, r.get_json()
    error = r.get_json()["error"]
    assert error["code"] == "invalid_field" and field in error["fields"], error
    assert chains(client, admin) == before


def test_bad_put_requests_change_nothing(client, admin, dispatcher, coordinator):
    before = chains(client, admin)
    url = "/api/v1/escalation-chains/sos"
    cases = [
        (client.get("/api/v1/escalation-chains"), 401),
        (client.put(url, json=CHAIN), 401),
        (client.put(url, json=CHAIN, headers=bearer("not-a-token")), 401),
        (client.get("/api/v1/escalation-chains", headers=dispatcher), 403),
        (client.put(url, json=CHAIN, headers=dispatcher), 403),
        (client.put(url, json=CHAIN, headers=coordinator), 403),
        (client.put("/api/v1/escalation-chains/fire", json=CHAIN, headers=admin), 404),
        (
            client.put(
                url, data="{not json", headers={**admin, "Content-Type": "application/json"}
            ),
            400,
        ),
        (client.put(url, json=[CHAIN], headers=admin), 400),
        (client.put(url, data="", headers={**admin, "Content-Type": "application/json"}), 400),
    ]
    for resp, status in cases:
        assert resp.status_code == status, (status, resp.get_json())
        assert set(resp.get_json()["error"]) == {"code", "message", "fields"}
    assert chains(client, admin) == before


def test_bad_delete_requests_change_nothing(client, admin, dispatcher, coordinator):
    assert client.put("/api/v1/escalation-chains/sos", headers=admin, json=CHAIN).status_code
    before = chains(client, admin)
    url = "/api/v1/escalation-chains/sos"
    cases = [
        (client.delete(url), 401),
        (client.delete(url, headers=dispatcher), 403),
        (client.delete(url, headers=coordinator), 403),
        (client.delete("/api/v1/escalation-chains/fire", headers=admin), 404),
    ]
    for resp, status in cases:
        assert resp.status_code == status, (status, resp.get_json())
        assert set(resp.get_json()["error"]) == {"code", "message", "fields"}
    assert chains(client, admin) == before


def test_openapi_documents_chains_and_the_new_alarm_fields(client):
    spec = client.get("/api/openapi.json").get_json()
    paths = spec["paths"]
    assert "put" in paths["/api/v1/escalation-chains/{alarm_type}"]
    assert "get" in paths["/api/v1/escalation-chains"]
    (param,) = paths["/api/v1/escalation-chains/{alarm_type}"]["put"]["parameters"]
    assert param["schema"] == {"type": "string"}
    put = paths["/api/v1/escalation-chains/{alarm_type}"]["put"]
    assert set(put["responses"]) >= {"200", "400", "401", "403", "404", "422"}
    schemas = spec["components"]["schemas"]
    alarm = schemas["AlarmOut"]["properties"]
    assert "escalation_due_at" in alarm
    statuses = {
        v.get("const") or tuple(v.get("enum", ()))
        for v in alarm["escalation_status"]["anyOf"]
        if v.get("type") != "null"
    }
    assert statuses in ({("sent", "failed", "not_sent")}, {"sent", "failed", "not_sent"})


def test_openapi_documents_deleting_a_chain(client):
    spec = client.get("/api/openapi.json").get_json()
    delete = spec["paths"]["/api/v1/escalation-chains/{alarm_type}"]["delete"]
    assert set(delete["responses"]) >= {"200", "401", "403", "404"}


def test_openapi_documents_the_victim_switch(client):
    spec = client.get("/api/openapi.json").get_json()
    put = spec["paths"]["/api/v1/cases/{case_id}/victim-notification"]["put"]
    assert set(put["responses"]) >= {"200", "400", "401", "403", "404", "422"}
    assert "victim_sms" in spec["components"]["schemas"]["CaseOut"]["properties"]


# --- the victim-notification switch on a case ---------------------------------------------------


def new_case(client, coordinator, phone="+31611122233"):
    victim = {"name": "Anouk", **({"phone": phone} if phone else {})}
    r = client.post(
        "/api/v1/cases",
        headers=coordinator,
        json={"reference": f"VN-{phone}", "municipality": "0344", "victim": victim},
    )
    assert r.status_code == 201
    return r.get_json()


def test_victim_sms_is_off_by_default_and_switched_by_the_case_coordinator(
    client, coordinator, dispatcher
):
    case = new_case(client, coordinator)
    assert case["victim_sms"] is False
    url = f"/api/v1/cases/{case['id']}/victim-notification"
    r = client.put(url, headers=coordinator, json={"sms": True})
    assert r.status_code == 200 and r.get_json()["victim_sms"] is True
    got = client.get(f"/api/v1/cases/{case['id']}", headers=dispatcher).get_json()
    assert got["victim_sms"] is True
    r = client.put(url, headers=coordinator, json={"sms": False})
    assert r.status_code == 200 and r.get_json()["victim_sms"] is False


def test_victim_switch_refusals_change_nothing(client, coordinator, dispatcher, make_user):
    case = new_case(client, coordinator, phone=None)
    url = f"/api/v1/cases/{case['id']}/victim-notification"
    _, other = make_user("coordinator", "coord-other")
    cases = [
        (client.put(url, headers=coordinator, json={"sms": True}), 422, "sms"),
        (client.put(url, headers=coordinator, json={"sms": "yes"}), 422, "sms"),
        (client.put(url, headers=coordinator, json={}), 422, "sms"),
        (client.put(url, json={"sms": True}), 401, None),
        (client.put(url, headers=dispatcher, json={"sms": True}), 403, None),
        (client.put(url, headers=bearer(other), json={"sms": True}), 403, None),
        (
            client.put(
                "/api/v1/cases/999999/victim-notification", headers=coordinator, json={"sms": True}
            ),
            404,
            None,
        ),
        (
            client.put(url, data="{", headers={**coordinator, "Content-Type": "application/json"}),
            400,
            None,
        ),
    ]
    for resp, status, field in cases:
        assert resp.status_code == status, (status, resp.get_json())
        if field:
            assert field in resp.get_json()["error"]["fields"]
    got = client.get(f"/api/v1/cases/{case['id']}", headers=coordinator).get_json()
    assert got["victim_sms"] is False
