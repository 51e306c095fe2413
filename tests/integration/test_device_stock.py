"""Device stock over HTTP: status and owning municipality, "in_use" from case links (both DBs)."""

from __future__ import annotations

import pytest

from aware.coordination.reference_models import Municipality
from aware.devices import stock
from tests.conftest import bearer

D = "/api/v1/devices"


def register(client, headers, serial, kind="victim_alarm"):
    resp = client.post(D, json={"serial": serial, "kind": kind}, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def one(client, headers, device_id):
    (found,) = [
        d for d in client.get(D, headers=headers).get_json()["devices"] if d["id"] == device_id
    ]
    return found


def ids(client, headers, query):
    resp = client.get(f"{D}?{query}", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return [d["id"] for d in resp.get_json()["devices"]]


@pytest.fixture
def case_id(client, coordinator):
    body = {"reference": "UTR-STOCK-1", "municipality": "0344", "victim": {"name": "Eva Jansen"}}
    resp = client.post("/api/v1/cases", json=body, headers=coordinator)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def link(client, headers, case_id, device_id, role="victim"):
    resp = client.post(
        f"/api/v1/cases/{case_id}/devices",
        json={"device_id": device_id, "role": role},
        headers=headers,
    )
    assert resp.status_code == 201, resp.get_json()


def test_new_device_is_in_stock_of_no_municipality_until_assigned(client, coordinator):
    dev = register(client, coordinator, "AW-S1")
    got = one(client, coordinator, dev)
    assert got["status"] == "in_stock" and got["municipality"] is None
    resp = client.patch(f"{D}/{dev}", json={"municipality": "0344"}, headers=coordinator)
    assert resp.status_code == 200
    assert resp.get_json()["municipality"] == "0344" and resp.get_json()["status"] == "in_stock"
    assert ids(client, coordinator, "municipality=0344") == [dev]
    assert ids(client, coordinator, "municipality=0363") == []
    assert ids(client, coordinator, "status=in_stock&municipality=0344") == [dev]
    # null takes it out of the municipality's stock again.
    resp = client.patch(f"{D}/{dev}", json={"municipality": None}, headers=coordinator)
    assert resp.status_code == 200 and resp.get_json()["municipality"] is None
    assert ids(client, coordinator, "municipality=0344") == []


def test_linked_device_is_in_use_and_returns_to_stock_when_swapped(client, coordinator, case_id):
    first = register(client, coordinator, "AW-S2")
    spare = register(client, coordinator, "AW-S3")
    for dev in (first, spare):
        client.patch(f"{D}/{dev}", json={"municipality": "0344"}, headers=coordinator)
    link(client, coordinator, case_id, first)
    assert one(client, coordinator, first)["status"] == "in_use"
    assert ids(client, coordinator, "status=in_use") == [first]
    assert ids(client, coordinator, "status=in_stock") == [spare]
    # Swapping the victim alarm ends the first link: back in stock, the spare in use.
    link(client, coordinator, case_id, spare)
    assert one(client, coordinator, first)["status"] == "in_stock"
    assert ids(client, coordinator, "status=in_use&municipality=0344") == [spare]


def test_in_use_cannot_be_set_by_hand_and_a_linked_device_not_put_in_stock(
    client, coordinator, case_id
):
    dev = register(client, coordinator, "AW-S4")
    resp = client.patch(f"{D}/{dev}", json={"status": "in_use"}, headers=coordinator)
    assert resp.status_code == 409 and "status" in resp.get_json()["error"]["fields"]
    assert one(client, coordinator, dev)["status"] == "in_stock"
    link(client, coordinator, case_id, dev)
    resp = client.patch(
        f"{D}/{dev}", json={"status": "in_stock", "municipality": "0344"}, headers=coordinator
    )
    assert resp.status_code == 409
    assert f"case {case_id}" in resp.get_json()["error"]["message"]
    got = one(client, coordinator, dev)
    assert got["status"] == "in_use" and got["municipality"] is None  # nothing changed


def test_a_linked_device_reported_defective_or_lost_counts_as_such(client, coordinator, case_id):
    dev = register(client, coordinator, "AW-S5")
    link(client, coordinator, case_id, dev)
    resp = client.patch(f"{D}/{dev}", json={"status": "defective"}, headers=coordinator)
    assert resp.status_code == 200 and resp.get_json()["status"] == "defective"
    assert ids(client, coordinator, "status=in_use") == []
    assert ids(client, coordinator, "status=defective") == [dev]
    resp = client.patch(f"{D}/{dev}", json={"status": "lost"}, headers=coordinator)
    assert resp.status_code == 200 and resp.get_json()["status"] == "lost"


def test_stock_counts_per_municipality(client, coordinator, case_id, session):
    devs = [register(client, coordinator, f"AW-C{i}") for i in range(5)]
    other = register(client, coordinator, "AW-C-AMS")
    for dev in devs:
        client.patch(f"{D}/{dev}", json={"municipality": "0344"}, headers=coordinator)
    client.patch(f"{D}/{other}", json={"municipality": "0363"}, headers=coordinator)
    link(client, coordinator, case_id, devs[0])
    client.patch(f"{D}/{devs[1]}", json={"status": "defective"}, headers=coordinator)
    client.patch(f"{D}/{devs[2]}", json={"status": "lost"}, headers=coordinator)
    assert stock.stock_counts(session, ["0344"]) == {
        "in_stock": 2,
        "in_use": 1,
        "defective": 1,
        "lost": 1,
    }
    assert stock.stock_counts(session, ["0344", "0363"])["in_stock"] == 3
    assert stock.stock_counts(session, ["0014"]) == dict.fromkeys(stock.DEVICE_STATUSES, 0)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "broken"}, "status"),
        ({"status": 1}, "status"),
        ({"municipality": "9999"}, "municipality"),
        ({"municipality": "344"}, "municipality"),
        ({"municipality": 344}, "municipality"),
    ],
)
def test_bad_stock_input_is_422_naming_the_field_and_changes_nothing(
    client, coordinator, body, field
):
    dev = register(client, coordinator, "AW-S6")
    client.patch(f"{D}/{dev}", json={"municipality": "0344"}, headers=coordinator)
    resp = client.patch(
        f"{D}/{dev}", json={**body, "status": body.get("status", "lost")}, headers=coordinator
    )
    assert resp.status_code == 422 and field in resp.get_json()["error"]["fields"]
    got = one(client, coordinator, dev)
    assert got["status"] == "in_stock" and got["municipality"] == "0344"


def test_a_merged_municipality_is_refused(client, coordinator, session):
    session.get(Municipality, "0014").active = False
    session.commit()
    dev = register(client, coordinator, "AW-S7")
    resp = client.patch(f"{D}/{dev}", json={"municipality": "0014"}, headers=coordinator)
    assert resp.status_code == 422 and "no longer exists" in resp.get_json()["error"]["message"]
    assert one(client, coordinator, dev)["municipality"] is None


def test_list_filters_are_validated(client, coordinator):
    for query, field in (
        ("status=kapot", "status"),
        ("municipality=9999", "municipality"),
        ("municipality=abcd", "municipality"),
    ):
        resp = client.get(f"{D}?{query}", headers=coordinator)
        assert resp.status_code == 422 and field in resp.get_json()["error"]["fields"]


def test_errors_of_the_stock_endpoint(client, coordinator, dispatcher, make_user):
    dev = register(client, coordinator, "AW-S8")
    url = f"{D}/{dev}"
    resp = client.patch(
        url, data=b"{nope", headers={**coordinator, "Content-Type": "application/json"}
    )
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "malformed_json"
    assert client.patch(url, json={"status": "lost"}).status_code == 401
    assert client.patch(url, json={"status": "lost"}, headers=dispatcher).status_code == 403
    _, token = make_user("municipality")
    assert client.patch(url, json={"status": "lost"}, headers=bearer(token)).status_code == 403
    assert client.get(D, headers=bearer(token)).status_code == 403
    resp = client.patch(f"{D}/999999", json={"status": "lost"}, headers=coordinator)
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    resp = client.patch(
        url,
        data=b'{"status": "lost", "x": "' + b"x" * (1024 * 1024) + b'"}',
        headers={**coordinator, "Content-Type": "application/json"},
    )
    assert resp.status_code == 413
    assert one(client, coordinator, dev)["status"] == "in_stock"
    # An admin may record stock too; a dispatcher reads it.
    _, admin = make_user("admin")
    assert client.patch(url, json={"status": "lost"}, headers=bearer(admin)).status_code == 200
    assert one(client, dispatcher, dev)["status"] == "lost"


def test_the_stock_endpoint_is_documented(client):
    spec = client.get("/api/openapi.json").get_json()
    patch = spec["paths"]["/api/v1/devices/{device_id}"]["patch"]
    assert {"200", "404", "409", "422"} <= set(patch["responses"])
    params = {p["name"] for p in spec["paths"]["/api/v1/devices"]["get"]["parameters"]}
    assert {"status", "municipality"} <= params
