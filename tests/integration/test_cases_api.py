"""Cases, screenings, actions and device links over HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from tests.conftest import bearer


def case_body(**over):
    body = {
        "reference": "UTR-2026-001",
        "municipality": "0344",
        "victim": {
            "name": "Sanne de Vries",
            "phone": "+31612345678",
            "address": "Oudegracht 1, Utrecht",
            "home": {"lat": 52.0907, "lon": 5.1214},
        },
        "perpetrator": {
            "name": "Mark",
            "description": "lang, donkere jas",
            "vehicle": "grijze Golf",
        },
        "referral_source": "police",
    }
    body.update(over)
    return body


@pytest.fixture
def case(client, coordinator):
    resp = client.post("/api/v1/cases", json=case_body(), headers=coordinator)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_create_read_update_and_list(client, coordinator, case, dispatcher):
    assert case["victim"]["home"] == {"lat": 52.0907, "lon": 5.1214}
    assert case["status"] == "referred" and case["concern"] is None
    got = client.get(f"/api/v1/cases/{case['id']}", headers=dispatcher).get_json()
    assert got["victim"]["address"] == "Oudegracht 1, Utrecht"  # dispatch needs to know
    upd = client.patch(
        f"/api/v1/cases/{case['id']}", headers=coordinator, json={"status": "active"}
    )
    assert upd.status_code == 200 and upd.get_json()["status"] == "active"
    client.post(
        "/api/v1/cases", headers=coordinator, json=case_body(reference="AMS-1", municipality="0363")
    )
    listed = client.get("/api/v1/cases?municipality=0344", headers=coordinator).get_json()
    assert [c["reference"] for c in listed["cases"]] == ["UTR-2026-001"]
    listed = client.get("/api/v1/cases?status=active", headers=coordinator).get_json()
    assert [c["reference"] for c in listed["cases"]] == ["UTR-2026-001"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (case_body(municipality="344"), "municipality"),
        (case_body(reference=""), "reference"),
        (case_body(victim={"phone": "1"}), "victim.name"),
        (case_body(victim={"name": "X", "home": {"lat": 95, "lon": 5}}), "victim.home.lat"),
        (case_body(referral_source="buren"), "referral_source"),
        (case_body(status="closed"), "status"),
    ],
)
def test_bad_case_input_is_422_and_changes_nothing(client, coordinator, body, field):
    resp = client.post("/api/v1/cases", json=body, headers=coordinator)
    assert resp.status_code == 422 and field in resp.get_json()["error"]["fields"]
    assert client.get("/api/v1/cases", headers=coordinator).get_json()["cases"] == []


def test_duplicate_reference_is_409(client, coordinator, case):
    resp = client.post("/api/v1/cases", json=case_body(), headers=coordinator)
    assert resp.status_code == 409 and "reference" in resp.get_json()["error"]["fields"]


@pytest.mark.parametrize("role", ["municipality"])
def test_municipality_reviewers_never_see_cases(client, make_user, case, role):
    _, token = make_user(role)
    for path in ("/api/v1/cases", f"/api/v1/cases/{case['id']}"):
        assert client.get(path, headers=bearer(token)).status_code == 403


def test_dispatchers_read_but_do_not_register_cases(client, dispatcher, case):
    assert (
        client.post("/api/v1/cases", json=case_body(reference="X"), headers=dispatcher).status_code
        == 403
    )


def test_unknown_case_is_404(client, coordinator):
    assert client.get("/api/v1/cases/99999", headers=coordinator).status_code == 404
    resp = client.post(
        "/api/v1/cases/99999/assessments",
        headers=coordinator,
        json={"instrument": "s-dash-2009", "answers": {}, "concern": "low"},
    )
    assert resp.status_code == 404


def answers(**over):
    base = {str(i): "no" for i in range(1, 12)}
    base.update(over)
    return base


def test_high_concern_screening_marks_eligible_and_opens_the_om_action(client, coordinator, case):
    resp = client.post(
        f"/api/v1/cases/{case['id']}/assessments",
        headers=coordinator,
        json={
            "instrument": "s-dash-2009",
            "answers": answers(**{"1": "yes", "2": "unknown"}),
            "concern": "high",
            "assessed_at": "2026-11-20T10:00:00+01:00",
            "organisation": "police",
        },
    )
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["concern"] == "high" and body["eligible_aware"] is True
    assert body["reassess_due"] == "2026-11-27T09:00:00Z"  # high: 7 days
    got = client.get(f"/api/v1/cases/{case['id']}", headers=coordinator).get_json()
    assert got["concern"] == "high" and got["eligible_aware"] is True
    (action,) = got["open_actions"]
    assert action["kind"] == "consult_om"
    # A second high screening does not open a second action.
    client.post(
        f"/api/v1/cases/{case['id']}/assessments",
        headers=coordinator,
        json={"instrument": "s-dash-2009", "answers": answers(), "concern": "high"},
    )
    got = client.get(f"/api/v1/cases/{case['id']}", headers=coordinator).get_json()
    assert len(got["open_actions"]) == 1
    # Recorded as done: gone from the open actions; twice is 409.
    done = client.post(
        f"/api/v1/cases/{case['id']}/actions/{action['id']}/done",
        headers=coordinator,
        json={"note": "OvJ gebeld"},
    )
    assert done.status_code == 200 and done.get_json()["done_by"] == "coord-bo"
    again = client.post(
        f"/api/v1/cases/{case['id']}/actions/{action['id']}/done", headers=coordinator, json={}
    )
    assert again.status_code == 409
    got = client.get(f"/api/v1/cases/{case['id']}", headers=coordinator).get_json()
    assert got["open_actions"] == []


@pytest.mark.parametrize(("concern", "days"), [("moderate", 30), ("low", 90)])
def test_reassessment_due_per_level(client, coordinator, case, concern, days):
    resp = client.post(
        f"/api/v1/cases/{case['id']}/assessments",
        headers=coordinator,
        json={
            "instrument": "s-dash-2009",
            "answers": answers(),
            "concern": concern,
            "assessed_at": "2026-01-01T12:00:00Z",
        },
    )
    import datetime as dt

    due = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC) + dt.timedelta(days=days)
    assert resp.get_json()["reassess_due"] == due.isoformat().replace("+00:00", "Z")
    assert resp.get_json()["eligible_aware"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"instrument": "sash-secret", "answers": {}, "concern": "high"}, "instrument"),
        ({"instrument": "s-dash-2009", "answers": {"12": "yes"}, "concern": "high"}, "answers.12"),
        ({"instrument": "s-dash-2009", "answers": {"1": "maybe"}, "concern": "high"}, "answers.1"),
        ({"instrument": "s-dash-2009", "answers": {}, "concern": "extreme"}, "concern"),
        (
            {
                "instrument": "s-dash-2009",
                "answers": {},
                "concern": "low",
                "assessed_at": "2099-01-01T00:00:00Z",
            },
            "assessed_at",
        ),
        (
            {
                "instrument": "s-dash-2009",
                "answers": {},
                "concern": "low",
                "assessed_at": "2026-01-01",
            },
            "assessed_at",
        ),
    ],
)
def test_bad_screenings_are_422_and_change_nothing(client, coordinator, case, body, field):
    resp = client.post(f"/api/v1/cases/{case['id']}/assessments", headers=coordinator, json=body)
    assert resp.status_code == 422, resp.get_json()
    assert field in resp.get_json()["error"]["fields"]
    got = client.get(f"/api/v1/cases/{case['id']}", headers=coordinator).get_json()
    assert got["concern"] is None and got["open_actions"] == []


def register(client, headers, serial, kind):
    resp = client.post("/api/v1/devices", json={"serial": serial, "kind": kind}, headers=headers)
    return resp.get_json()["id"]


def test_device_links_one_per_role_with_history(client, coordinator, case):
    a = register(client, coordinator, "AW-1", "victim_alarm")
    b = register(client, coordinator, "AW-2", "victim_alarm")
    t = register(client, coordinator, "GPS-1", "perpetrator_tracker")
    url = f"/api/v1/cases/{case['id']}/devices"
    assert (
        client.post(url, headers=coordinator, json={"device_id": a, "role": "victim"}).status_code
        == 201
    )
    assert (
        client.post(
            url, headers=coordinator, json={"device_id": t, "role": "perpetrator"}
        ).status_code
        == 201
    )
    got = client.post(url, headers=coordinator, json={"device_id": b, "role": "victim"})
    links = got.get_json()["devices"]
    active = {d["role"]: d["device_id"] for d in links if d["unlinked_at"] is None}
    assert active == {"victim": b, "perpetrator": t}
    assert any(d["device_id"] == a and d["unlinked_at"] for d in links)  # history kept


def test_device_link_rules(client, coordinator, case):
    t = register(client, coordinator, "GPS-9", "perpetrator_tracker")
    url = f"/api/v1/cases/{case['id']}/devices"
    wrong_kind = client.post(url, headers=coordinator, json={"device_id": t, "role": "victim"})
    assert wrong_kind.status_code == 422 and "role" in wrong_kind.get_json()["error"]["fields"]
    unknown = client.post(url, headers=coordinator, json={"device_id": 777777, "role": "victim"})
    assert unknown.status_code == 422 and "device_id" in unknown.get_json()["error"]["fields"]
    other = client.post(
        "/api/v1/cases", headers=coordinator, json=case_body(reference="OTHER")
    ).get_json()
    client.post(url, headers=coordinator, json={"device_id": t, "role": "perpetrator"})
    taken = client.post(
        f"/api/v1/cases/{other['id']}/devices",
        headers=coordinator,
        json={"device_id": t, "role": "perpetrator"},
    )
    assert taken.status_code == 409
    bad = client.post(url, headers=coordinator, json={"device_id": "x", "role": "victim"})
    assert bad.status_code == 422 and "device_id" in bad.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("patch", "/api/v1/cases/{id}", {"status": "closed"}, 422, "status"),
        ("patch", "/api/v1/cases/{id}", {"municipality": "12345"}, 422, "municipality"),
        ("patch", "/api/v1/cases/999999", {"status": "active"}, 404, None),
        ("post", "/api/v1/cases/{id}/actions/999999/done", {}, 404, None),
        ("post", "/api/v1/cases/{id}/devices", {"role": "victim"}, 422, "device_id"),
        ("post", "/api/v1/cases/{id}/devices", {"device_id": 1, "role": "boss"}, 422, "role"),
        (
            "post",
            "/api/v1/cases/999999/bans",
            {
                "kind": "contact",
                "distance_m": 100,
                "valid_from": "2026-01-01T00:00:00Z",
                "valid_until": "2026-02-01T00:00:00Z",
                "legal_basis": "38v Sr",
            },
            404,
            None,
        ),
    ],
)
def test_bad_input_on_case_endpoints(client, coordinator, case, method, path, body, status, field):
    before = client.get(f"/api/v1/cases/{case['id']}", headers=coordinator).get_json()
    resp = getattr(client, method)(path.format(id=case["id"]), json=body, headers=coordinator)
    assert resp.status_code == status, resp.get_json()
    if field:
        assert field in resp.get_json()["error"]["fields"]
    after = client.get(f"/api/v1/cases/{case['id']}", headers=coordinator).get_json()
    assert after == before


@pytest.mark.parametrize("raw", [b"{not json", b"[]", b""])
def test_malformed_json_on_case_endpoints_is_400(client, coordinator, case, raw):
    for path in (
        "/api/v1/cases",
        f"/api/v1/cases/{case['id']}/assessments",
        f"/api/v1/cases/{case['id']}/bans",
        f"/api/v1/cases/{case['id']}/devices",
    ):
        resp = client.post(path, data=raw, content_type="application/json", headers=coordinator)
        assert resp.status_code == 400, path


def test_only_the_cases_own_coordinators_see_the_victims_contact_details(
    client, coordinator, make_user, case, dispatcher
):
    other_user, other = make_user("coordinator", "coord-other")
    seen = client.get(f"/api/v1/cases/{case['id']}", headers=bearer(other)).get_json()
    assert seen["victim"]["name"] == "Sanne de Vries"
    assert seen["victim"]["phone"] is None and seen["victim"]["address"] is None
    assert seen["victim"]["home"] is None and seen["victim"]["contact_redacted"] is True
    listed = client.get("/api/v1/cases", headers=bearer(other)).get_json()["cases"]
    assert listed[0]["victim"]["address"] is None
    # ...and may not change the case.
    for path, body in ((f"/api/v1/cases/{case['id']}", {"status": "ended"}),):
        assert client.patch(path, json=body, headers=bearer(other)).status_code == 403
    assert (
        client.post(
            f"/api/v1/cases/{case['id']}/assessments",
            headers=bearer(other),
            json={"instrument": "s-dash-2009", "answers": {}, "concern": "low"},
        ).status_code
        == 403
    )
    # Dispatch and the registering coordinator see everything.
    own = client.get(f"/api/v1/cases/{case['id']}", headers=coordinator).get_json()
    assert own["victim"]["address"] == "Oudegracht 1, Utrecht"
    disp = client.get(f"/api/v1/cases/{case['id']}", headers=dispatcher).get_json()
    assert disp["victim"]["phone"] == "+31612345678"
    # Once added to the case, the other coordinator sees and may act.
    added = client.post(
        f"/api/v1/cases/{case['id']}/coordinators",
        headers=coordinator,
        json={"user_id": other_user.id},
    )
    assert added.status_code == 200
    seen = client.get(f"/api/v1/cases/{case['id']}", headers=bearer(other)).get_json()
    assert seen["victim"]["address"] == "Oudegracht 1, Utrecht"
    assert (
        client.patch(
            f"/api/v1/cases/{case['id']}", json={"status": "active"}, headers=bearer(other)
        ).status_code
        == 200
    )


def test_only_coordinators_can_be_added(client, coordinator, make_user, case):
    disp_user, _ = make_user("dispatcher", "disp-x")
    resp = client.post(
        f"/api/v1/cases/{case['id']}/coordinators",
        headers=coordinator,
        json={"user_id": disp_user.id},
    )
    assert resp.status_code == 422 and "user_id" in resp.get_json()["error"]["fields"]
