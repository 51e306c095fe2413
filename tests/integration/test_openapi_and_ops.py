"""The OpenAPI document describes the whole contract; health and readiness probes."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

CONTRACT = {
    ("/api/v1/auth/token", "post"),
    ("/api/v1/devices", "post"),
    ("/api/v1/ingest", "post"),
    ("/osmand", "get"),
    ("/osmand", "post"),
    ("/api/v1/alarms", "get"),
    ("/api/v1/alarms/{alarm_id}", "get"),
    ("/api/v1/alarms/{alarm_id}/ack", "post"),
    ("/api/v1/alarms/{alarm_id}/resolve", "post"),
}


def test_openapi_is_valid_and_covers_every_route(client, app):
    spec = client.get("/api/openapi.json").get_json()
    validate(spec)
    documented = {(p, m) for p, ops in spec["paths"].items() for m in ops}
    assert documented >= CONTRACT
    # Every API route the app serves is documented.
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1") or rule.rule == "/osmand":
            path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
            served |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented


def test_openapi_request_schemas_are_the_validating_models(client):
    spec = client.get("/api/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    event = schemas["EventIn"]
    assert event["properties"]["event_id"]["maxLength"] == 64
    assert set(event["properties"]["type"]["enum"]) == {
        "sos",
        "position",
        "heartbeat",
        "battery_low",
        "tamper",
        "test",
    }
    assert schemas["EventBatchIn"]["properties"]["events"]["maxItems"] == 1000
    assert schemas["PositionIn"]["properties"]["lat"]["maximum"] == 90
    ingest = spec["paths"]["/api/v1/ingest"]["post"]
    assert set(ingest["responses"]) >= {"202", "400", "401", "413", "422"}


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["database"] == "ok"


def test_readiness_reports_an_unreachable_database(tmp_path):
    from aware.app import create_app
    from tests.conftest import settings_for

    app = create_app(settings_for(tmp_path, "postgresql+psycopg://nobody@127.0.0.1:1/none"))
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503 and resp.get_json()["status"] == "unavailable"
    assert app.test_client().get("/healthz").status_code == 200


def test_unknown_api_path_and_method_answer_in_the_error_shape(client):
    resp = client.get("/api/v1/nothing-here")
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    resp = client.delete("/api/v1/ingest")
    assert resp.status_code == 405 and "error" in resp.get_json()
