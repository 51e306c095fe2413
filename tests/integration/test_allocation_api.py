"""The AWARE allocation chain over HTTP (SQLite and PostgreSQL): application, decision,
support, device, term, reviews, extension, ending and handover, and every refused step."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from aware.coordination.reference_models import ContactPerson, Organisation
from tests.conftest import bearer

A = "/api/v1"


# The app's clock in these tests: every date below (applications in January 2026, a term to
# July, an ending in November with its handover planned for 30 November) is consistent with it,
# whatever the real date is.
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.fixture(autouse=True)
def _app_clock(app) -> None:
    app.extensions["aware"].clock = lambda: NOW


@pytest.fixture
def orgs(session) -> dict[str, Any]:
    """Partner organisations of Utrecht with a fixed contact person each."""
    made: dict[str, Any] = {}
    now = dt.datetime.now(dt.UTC)
    for key, name, type_, active in (
        ("police", "Politie Midden-Nederland", "police", True),
        ("vo", "Vrouwenopvang Utrecht", "vrouwenopvang", True),
        ("vt", "Veilig Thuis Utrecht", "veilig_thuis", True),
        ("wijk", "Buurtteam Utrecht-Oost", "wijkteam", True),
        ("old", "Opgeheven stichting", "other", False),
    ):
        org = Organisation(name=name, type=type_, active=active, created_at=now)
        session.add(org)
        session.flush()
        made[key] = org.id
    vo_person = ContactPerson(organisation_id=made["vo"], name="Ineke Bakker", role="casemanager")
    vt_person = ContactPerson(organisation_id=made["vt"], name="Jan Smit")
    session.add_all([vo_person, vt_person])
    session.commit()
    made["vo_person"], made["vt_person"] = vo_person.id, vt_person.id
    return made


@pytest.fixture
def case(client, coordinator) -> dict[str, Any]:
    body = {
        "reference": "UTR-AW-1",
        "municipality": "0344",
        "victim": {"name": "Sanne de Vries", "phone": "+31612345678"},
    }
    resp = client.post(f"{A}/cases", json=body, headers=coordinator)
    assert resp.status_code == 201, resp.get_json()
    case: dict[str, Any] = resp.get_json()
    resp = client.post(
        f"{A}/cases/{case['id']}/assessments",
        headers=coordinator,
        json={
            "instrument": "s-dash-2009",
            "answers": {str(i): "no" for i in range(1, 12)},
            "concern": "high",
            "assessed_at": "2026-01-02T10:00:00+01:00",
        },
    )
    assert resp.status_code == 201
    return case


def new_device(client, coordinator, serial: str, kind: str = "victim_alarm") -> int:
    resp = client.post(f"{A}/devices", json={"serial": serial, "kind": kind}, headers=coordinator)
    assert resp.status_code == 201
    device_id: int = resp.get_json()["id"]
    return device_id


def apply(client, headers, case_id, orgs, **over) -> Any:
    body = {"organisation_id": orgs["police"], "reason": "SASH hoog, aangifte gedaan"}
    body.update(over)
    return client.post(f"{A}/cases/{case_id}/applications", json=body, headers=headers)


def members(orgs) -> list[dict[str, Any]]:
    return [
        {"organisation_id": orgs["police"], "name": "wijkagent"},
        {"organisation_id": orgs["vo"]},
        {"organisation_id": orgs["vt"], "name": "gedragsdeskundige"},
    ]


def granted(client, headers, case_id, orgs, concern=None, **decision) -> dict[str, Any]:
    extra = {"concern": concern} if concern else {}
    app_id = apply(client, headers, case_id, orgs, applied_at="2026-01-05T10:00:00+01:00", **extra)
    assert app_id.status_code == 201, app_id.get_json()
    aid = app_id.get_json()["id"]
    body = {"decision": "granted", "members": members(orgs), **decision}
    body.setdefault("decided_at", "2026-01-06T14:00:00+01:00")
    resp = client.post(f"{A}/applications/{aid}/decision", json=body, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    out: dict[str, Any] = resp.get_json()
    return out


def active(client, headers, case_id, orgs, device_id) -> dict[str, Any]:
    alloc = granted(client, headers, case_id, orgs)
    aid = alloc["id"]
    resp = client.post(
        f"{A}/applications/{aid}/support",
        json={"organisation_id": orgs["vo"], "contact_person_id": orgs["vo_person"]},
        headers=headers,
    )
    assert resp.status_code == 200, resp.get_json()
    resp = client.post(
        f"{A}/applications/{aid}/device",
        json={"device_id": device_id, "connected_at": "2026-01-08T11:00:00+01:00"},
        headers=headers,
    )
    assert resp.status_code == 200, resp.get_json()
    out: dict[str, Any] = resp.get_json()
    return out


def open_actions(client, headers, case_id) -> list[dict[str, Any]]:
    got = client.get(f"{A}/cases/{case_id}", headers=headers).get_json()
    actions: list[dict[str, Any]] = got["open_actions"]
    return actions


def test_the_whole_chain_with_its_dates(client, coordinator, case, orgs):
    cid = case["id"]
    resp = apply(client, coordinator, cid, orgs, applied_at="2026-01-05T10:00:00+01:00")
    assert resp.status_code == 201, resp.get_json()
    alloc = resp.get_json()
    aid = alloc["id"]
    assert alloc["status"] == "applied" and alloc["missing"] == ["decision"]
    app = alloc["application"]
    assert app["concern"] == "high"  # copied from the latest screening
    assert app["applied_at"] == "2026-01-05T09:00:00Z"
    assert app["referring_organisation"]["name"] == "Politie Midden-Nederland"

    # The committee first puts it on the waiting list, then grants it.
    resp = client.post(
        f"{A}/applications/{aid}/decision",
        headers=coordinator,
        json={
            "decision": "waiting_list",
            "reasons": "geen toestel beschikbaar",
            "members": members(orgs),
            "decided_at": "2026-01-05T16:00:00+01:00",
        },
    )
    assert resp.status_code == 200 and resp.get_json()["status"] == "waiting_list"
    case_now = client.get(f"{A}/cases/{cid}", headers=coordinator).get_json()
    assert case_now["status"] == "waiting"
    resp = client.post(
        f"{A}/applications/{aid}/decision",
        headers=coordinator,
        json={
            "decision": "granted",
            "members": members(orgs),
            "decided_at": "2026-01-06T14:00:00+01:00",
        },
    )
    alloc = resp.get_json()
    assert alloc["status"] == "granted" and alloc["decided_at"] == "2026-01-06T13:00:00Z"
    assert [d["decision"] for d in alloc["decisions"]] == ["waiting_list", "granted"]
    assert alloc["decisions"][0]["members"][2] == {
        "organisation": {"id": orgs["vt"], "name": "Veilig Thuis Utrecht", "type": "veilig_thuis"},
        "name": "gedragsdeskundige",
    }
    assert alloc["missing"] == ["support", "device"]

    resp = client.post(
        f"{A}/applications/{aid}/support",
        headers=coordinator,
        json={"organisation_id": orgs["vo"], "contact_person_id": orgs["vo_person"]},
    )
    alloc = resp.get_json()
    assert alloc["support"]["contact_person"]["name"] == "Ineke Bakker"
    assert alloc["missing"] == ["device"]

    device_id = new_device(client, coordinator, "AW-ALLOC-1")
    resp = client.post(
        f"{A}/applications/{aid}/device",
        headers=coordinator,
        json={"device_id": device_id, "connected_at": "2026-01-08T11:00:00+01:00"},
    )
    assert resp.status_code == 200, resp.get_json()
    alloc = resp.get_json()
    assert alloc["status"] == "active" and alloc["missing"] == []
    assert alloc["device"] == {
        "device_id": device_id,
        "serial": "AW-ALLOC-1",
        "connected_at": "2026-01-08T10:00:00Z",
    }
    # Key figure: application 5 Jan 10:00 -> connection 8 Jan 11:00 (local) = 3 days 1 hour.
    assert alloc["days_application_to_connection"] == pytest.approx(3 + 1 / 24, abs=0.01)
    # Default term: 6 months, to the end of 8 July (Amsterdam summer time: 22:00 UTC).
    assert alloc["term"]["ends_on"] == "2026-07-08"
    assert alloc["term"]["ends_at"] == "2026-07-08T22:00:00Z"
    assert [(r["due_on"], r["due_at"]) for r in alloc["reviews"]] == [
        ("2026-04-08", "2026-04-07T22:00:00Z")
    ]
    # The device is now the case's victim alarm.
    got = client.get(f"{A}/cases/{cid}", headers=coordinator).get_json()
    assert got["status"] == "active"
    assert [(d["device_id"], d["role"], d["unlinked_at"]) for d in got["devices"]] == [
        (device_id, "victim", None)
    ]

    review_id = alloc["reviews"][0]["id"]
    resp = client.post(
        f"{A}/allocations/{aid}/reviews/{review_id}/done",
        headers=coordinator,
        json={"note": "gaat goed"},
    )
    assert resp.get_json()["reviews"][0]["done_by"] == "coord-bo"

    resp = client.post(
        f"{A}/allocations/{aid}/extend",
        headers=coordinator,
        json={"until": "2027-01-08", "reason": "pleger komt vrij in december"},
    )
    alloc = resp.get_json()
    assert resp.status_code == 200, alloc
    assert alloc["term"]["ends_on"] == "2027-01-08"
    assert alloc["term"]["extensions"][0]["previous_ends_on"] == "2026-07-08"
    assert [r["due_on"] for r in alloc["reviews"]] == ["2026-04-08", "2026-07-08", "2026-10-08"]

    resp = client.post(
        f"{A}/allocations/{aid}/end",
        headers=coordinator,
        json={
            "reason": "perpetrator_detained",
            "note": "veroordeeld",
            "ended_at": "2026-11-02T09:00:00+01:00",
            "handover": {"organisation_id": orgs["wijk"], "planned_on": "2026-11-10"},
        },
    )
    alloc = resp.get_json()
    assert resp.status_code == 200, alloc
    assert alloc["status"] == "ended" and alloc["missing"] == ["handover"]
    assert alloc["ending"]["ended_at"] == "2026-11-02T08:00:00Z"
    assert alloc["ending"]["reason"] == "perpetrator_detained"
    assert alloc["handover"]["planned_on"] == "2026-11-10"
    assert alloc["handover"]["completed_at"] is None
    # The open handover is an action on the case; the device is free again.
    got = client.get(f"{A}/cases/{cid}", headers=coordinator).get_json()
    assert got["status"] == "ended"
    (handover,) = [a for a in got["open_actions"] if a["kind"] == "allocation_handover"]
    assert "Buurtteam Utrecht-Oost" in handover["title"]
    assert got["devices"][0]["unlinked_at"] == "2026-11-02T08:00:00Z"

    resp = client.post(f"{A}/allocations/{aid}/handover/done", headers=coordinator, json={})
    alloc = resp.get_json()
    assert resp.status_code == 200 and alloc["handover"]["completed_by"] == "coord-bo"
    assert alloc["missing"] == []
    assert not [a for a in open_actions(client, coordinator, cid) if a["kind"].startswith("alloc")]

    chain = client.get(f"{A}/cases/{cid}/allocation", headers=coordinator).get_json()
    assert chain["current"] is None
    assert [a["id"] for a in chain["history"]] == [aid]
    # A new application may follow once the earlier one has ended.
    assert apply(client, coordinator, cid, orgs).status_code == 201
    chain = client.get(f"{A}/cases/{cid}/allocation", headers=coordinator).get_json()
    assert chain["current"]["status"] == "applied" and len(chain["history"]) == 2


def test_one_open_application_per_case(client, coordinator, case, orgs):
    assert apply(client, coordinator, case["id"], orgs).status_code == 201
    resp = apply(client, coordinator, case["id"], orgs)
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "conflict"
    chain = client.get(f"{A}/cases/{case['id']}/allocation", headers=coordinator).get_json()
    assert len(chain["history"]) == 1


def test_refused_application_is_final_but_a_new_one_may_follow(client, coordinator, case, orgs):
    aid = apply(client, coordinator, case["id"], orgs).get_json()["id"]
    url = f"{A}/applications/{aid}/decision"
    no_reason = {"decision": "refused", "members": members(orgs)}
    resp = client.post(url, json=no_reason, headers=coordinator)
    assert resp.status_code == 422 and "reasons" in resp.get_json()["error"]["fields"]
    refused = {**no_reason, "reasons": "relatie niet beëindigd"}
    assert client.post(url, json=refused, headers=coordinator).status_code == 200
    # Decision twice.
    resp = client.post(url, json={**refused, "decision": "granted"}, headers=coordinator)
    assert resp.status_code == 409 and "already decided" in resp.get_json()["error"]["message"]
    assert apply(client, coordinator, case["id"], orgs).status_code == 201


def test_waiting_list_twice_and_reasons_required(client, coordinator, case, orgs):
    aid = apply(client, coordinator, case["id"], orgs).get_json()["id"]
    url = f"{A}/applications/{aid}/decision"
    wl = {"decision": "waiting_list", "members": members(orgs)}
    assert client.post(url, json=wl, headers=coordinator).status_code == 422
    wl["reasons"] = "   "
    assert client.post(url, json=wl, headers=coordinator).status_code == 422
    wl["reasons"] = "geen toestel"
    assert client.post(url, json=wl, headers=coordinator).status_code == 200
    resp = client.post(url, json=wl, headers=coordinator)
    assert resp.status_code == 409
    chain = client.get(f"{A}/cases/{case['id']}/allocation", headers=coordinator).get_json()
    assert len(chain["current"]["decisions"]) == 1


def test_device_before_granted_and_active_without_support_are_refused(
    client, coordinator, case, orgs
):
    device_id = new_device(client, coordinator, "AW-ALLOC-2")
    aid = apply(client, coordinator, case["id"], orgs).get_json()["id"]
    dev = {"device_id": device_id}
    resp = client.post(f"{A}/applications/{aid}/device", json=dev, headers=coordinator)
    assert resp.status_code == 409 and "not been granted" in resp.get_json()["error"]["message"]
    support = {"organisation_id": orgs["vo"], "contact_person_id": orgs["vo_person"]}
    resp = client.post(f"{A}/applications/{aid}/support", json=support, headers=coordinator)
    assert resp.status_code == 409
    client.post(
        f"{A}/applications/{aid}/decision",
        json={"decision": "granted", "members": members(orgs)},
        headers=coordinator,
    )
    # Granted, but no support trajectory yet: the device is not issued on its own.
    resp = client.post(f"{A}/applications/{aid}/device", json=dev, headers=coordinator)
    assert resp.status_code == 409 and "support trajectory" in resp.get_json()["error"]["message"]
    chain = client.get(f"{A}/cases/{case['id']}/allocation", headers=coordinator).get_json()
    assert chain["current"]["status"] == "granted" and chain["current"]["device"] is None
    got = client.get(f"{A}/cases/{case['id']}", headers=coordinator).get_json()
    assert got["devices"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"organisation_id": "vo", "contact_person_id": 1}, "organisation_id"),
        ({"organisation_id": 999999, "contact_person_id": 1}, "organisation_id"),
        ({"organisation_id": "@vo", "contact_person_id": 999999}, "contact_person_id"),
        # Ineke works for the shelter, not for Veilig Thuis.
        ({"organisation_id": "@vt", "contact_person_id": "@vo_person"}, "contact_person_id"),
        ({"organisation_id": "@old", "contact_person_id": "@vo_person"}, "organisation_id"),
        ({"organisation_id": "@vo"}, "contact_person_id"),
    ],
)
def test_bad_support_is_422_and_changes_nothing(client, coordinator, case, orgs, body, field):
    aid = granted(client, coordinator, case["id"], orgs)["id"]
    body = {
        k: orgs[v[1:]] if isinstance(v, str) and v.startswith("@") else v for k, v in body.items()
    }
    resp = client.post(f"{A}/applications/{aid}/support", json=body, headers=coordinator)
    assert resp.status_code == 422 and field in resp.get_json()["error"]["fields"], resp.get_json()
    chain = client.get(f"{A}/cases/{case['id']}/allocation", headers=coordinator).get_json()
    assert chain["current"]["support"] is None


def test_device_of_the_wrong_kind_or_in_use(client, coordinator, case, orgs):
    tracker = new_device(client, coordinator, "TR-1", "perpetrator_tracker")
    alarm = new_device(client, coordinator, "AW-ALLOC-3")
    first = active(client, coordinator, case["id"], orgs, alarm)
    assert first["status"] == "active"
    other = client.post(
        f"{A}/cases",
        json={"reference": "UTR-AW-2", "municipality": "0344", "victim": {"name": "X"}},
        headers=coordinator,
    ).get_json()
    aid = granted(client, coordinator, other["id"], orgs, concern="high", decided_at=None)["id"]
    client.post(
        f"{A}/applications/{aid}/support",
        json={"organisation_id": orgs["vt"], "contact_person_id": orgs["vt_person"]},
        headers=coordinator,
    )
    url = f"{A}/applications/{aid}/device"
    resp = client.post(url, json={"device_id": tracker}, headers=coordinator)
    assert (
        resp.status_code == 422
        and "victim_alarm" in resp.get_json()["error"]["fields"]["device_id"]
    )
    resp = client.post(url, json={"device_id": alarm}, headers=coordinator)
    assert resp.status_code == 409 and "device_id" in resp.get_json()["error"]["fields"]
    resp = client.post(url, json={"device_id": 999999}, headers=coordinator)
    assert resp.status_code == 422
    chain = client.get(f"{A}/cases/{other['id']}/allocation", headers=coordinator).get_json()
    assert chain["current"]["status"] == "granted" and chain["current"]["device"] is None


def test_extension_and_ending_refusals(client, coordinator, case, orgs):
    device_id = new_device(client, coordinator, "AW-ALLOC-4")
    alloc = granted(client, coordinator, case["id"], orgs)
    aid = alloc["id"]
    ext = {"until": "2026-12-01", "reason": "nog dreiging"}
    resp = client.post(f"{A}/allocations/{aid}/extend", json=ext, headers=coordinator)
    assert resp.status_code == 409  # not active yet
    client.post(
        f"{A}/applications/{aid}/support",
        json={"organisation_id": orgs["vo"], "contact_person_id": orgs["vo_person"]},
        headers=coordinator,
    )
    client.post(
        f"{A}/applications/{aid}/device",
        json={"device_id": device_id, "connected_at": "2026-01-08T11:00:00+01:00"},
        headers=coordinator,
    )
    for until in ("2026-07-08", "2026-05-01"):  # not after the current end (8 July)
        resp = client.post(
            f"{A}/allocations/{aid}/extend", json={**ext, "until": until}, headers=coordinator
        )
        assert resp.status_code == 422 and "until" in resp.get_json()["error"]["fields"]
    resp = client.post(
        f"{A}/allocations/{aid}/extend", json={"until": "2026-12-01"}, headers=coordinator
    )
    assert resp.status_code == 422 and "reason" in resp.get_json()["error"]["fields"]
    resp = client.post(
        f"{A}/allocations/{aid}/extend", json={**ext, "until": "1 december"}, headers=coordinator
    )
    assert resp.status_code == 422 and "until" in resp.get_json()["error"]["fields"]
    chain = client.get(f"{A}/cases/{case['id']}/allocation", headers=coordinator).get_json()
    assert chain["current"]["term"]["ends_on"] == "2026-07-08"
    assert chain["current"]["term"]["extensions"] == []

    end = {
        "reason": "moved",
        "handover": {"organisation_id": orgs["wijk"], "planned_on": "2026-11-30"},
    }
    for bad, field in (
        ({**end, "reason": "bored"}, "reason"),
        ({"reason": "moved"}, "handover"),
        (
            {**end, "handover": {"organisation_id": orgs["vo"], "planned_on": "2026-11-30"}},
            "handover.organisation_id",
        ),
        (
            {
                **end,
                "ended_at": "2026-11-20T10:00:00+01:00",
                "handover": {"organisation_id": orgs["wijk"], "planned_on": "2026-11-01"},
            },
            "handover.planned_on",
        ),
        ({**end, "ended_at": "2025-12-01T10:00:00+01:00"}, "ended_at"),
        ({**end, "ended_at": "2099-12-01T10:00:00+01:00"}, "ended_at"),
        ({**end, "ended_at": "2026-11-20 10:00"}, "ended_at"),
    ):
        resp = client.post(f"{A}/allocations/{aid}/end", json=bad, headers=coordinator)
        assert resp.status_code == 422, (bad, resp.get_json())
        assert field in resp.get_json()["error"]["fields"], (bad, resp.get_json())
    chain = client.get(f"{A}/cases/{case['id']}/allocation", headers=coordinator).get_json()
    assert chain["current"]["status"] == "active"
    assert not [
        a for a in open_actions(client, coordinator, case["id"]) if a["kind"].startswith("alloc")
    ]

    # The handover cannot be done before the ending.
    resp = client.post(f"{A}/allocations/{aid}/handover/done", json={}, headers=coordinator)
    assert resp.status_code == 409
    assert (
        client.post(f"{A}/allocations/{aid}/end", json=end, headers=coordinator).status_code == 200
    )
    resp = client.post(f"{A}/allocations/{aid}/end", json=end, headers=coordinator)
    assert resp.status_code == 409 and "already ended" in resp.get_json()["error"]["message"]
    resp = client.post(f"{A}/allocations/{aid}/extend", json=ext, headers=coordinator)
    assert resp.status_code == 409
    assert (
        client.post(
            f"{A}/allocations/{aid}/handover/done", json={}, headers=coordinator
        ).status_code
        == 200
    )
    resp = client.post(f"{A}/allocations/{aid}/handover/done", json={}, headers=coordinator)
    assert resp.status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"organisation_id": "1", "reason": "x"}, "organisation_id"),
        ({"organisation_id": 999999, "reason": "x"}, "organisation_id"),
        ({"organisation_id": "@old", "reason": "x"}, "organisation_id"),
        ({"organisation_id": "@police"}, "reason"),
        ({"organisation_id": "@police", "reason": ""}, "reason"),
        ({"organisation_id": "@police", "reason": "x", "concern": "extreme"}, "concern"),
        (
            {"organisation_id": "@police", "reason": "x", "applied_at": "2099-01-01T00:00:00Z"},
            "applied_at",
        ),
        (
            {"organisation_id": "@police", "reason": "x", "applied_at": "2026-01-01T10:00:00"},
            "applied_at",
        ),
    ],
)
def test_bad_application_is_422_and_changes_nothing(client, coordinator, case, orgs, body, field):
    body = {
        k: orgs[v[1:]] if isinstance(v, str) and v.startswith("@") else v for k, v in body.items()
    }
    resp = client.post(f"{A}/cases/{case['id']}/applications", json=body, headers=coordinator)
    assert resp.status_code == 422 and field in resp.get_json()["error"]["fields"], resp.get_json()
    chain = client.get(f"{A}/cases/{case['id']}/allocation", headers=coordinator).get_json()
    assert chain == {"case_id": case["id"], "current": None, "history": []}


def test_concern_is_needed_without_a_screening(client, coordinator, orgs):
    case = client.post(
        f"{A}/cases",
        json={"reference": "UTR-AW-9", "municipality": "0344", "victim": {"name": "Y"}},
        headers=coordinator,
    ).get_json()
    resp = apply(client, coordinator, case["id"], orgs)
    assert resp.status_code == 422 and "concern" in resp.get_json()["error"]["fields"]
    resp = apply(client, coordinator, case["id"], orgs, concern="moderate")
    assert resp.status_code == 201 and resp.get_json()["application"]["concern"] == "moderate"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision": "yes", "members": []}, "decision"),
        ({"decision": "granted", "members": []}, "members"),
        (
            {"decision": "granted", "members": [{"organisation_id": 999999}]},
            "members.0.organisation_id",
        ),
        ({"decision": "granted", "members": [{"name": "x"}]}, "members.0.organisation_id"),
        (
            {"decision": "granted", "members": "@m", "decided_at": "2025-01-01T00:00:00Z"},
            "decided_at",
        ),
    ],
)
def test_bad_decision_is_422_and_changes_nothing(client, coordinator, case, orgs, body, field):
    aid = apply(client, coordinator, case["id"], orgs, applied_at="2026-01-05T10:00:00+01:00")
    aid = aid.get_json()["id"]
    body = dict(body)
    if body["members"] == "@m":
        body["members"] = members(orgs)
    resp = client.post(f"{A}/applications/{aid}/decision", json=body, headers=coordinator)
    assert resp.status_code == 422 and field in resp.get_json()["error"]["fields"], resp.get_json()
    chain = client.get(f"{A}/cases/{case['id']}/allocation", headers=coordinator).get_json()
    assert chain["current"]["status"] == "applied" and chain["current"]["decisions"] == []


def test_malformed_json_unknown_ids_and_roles(
    client, coordinator, make_user, dispatcher, case, orgs
):
    aid = apply(client, coordinator, case["id"], orgs).get_json()["id"]
    resp = client.post(
        f"{A}/applications/{aid}/decision",
        data="{not json",
        headers={**coordinator, "Content-Type": "application/json"},
    )
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "malformed_json"
    for path, body in (
        (f"{A}/cases/999999/applications", {"organisation_id": orgs["police"], "reason": "x"}),
        (f"{A}/applications/999999/decision", {"decision": "granted", "members": members(orgs)}),
        (f"{A}/applications/999999/device", {"device_id": 1}),
        (f"{A}/applications/999999/support", {"organisation_id": 1, "contact_person_id": 1}),
        (f"{A}/allocations/999999/extend", {"until": "2027-01-01", "reason": "x"}),
        (
            f"{A}/allocations/999999/end",
            {"reason": "other", "handover": {"organisation_id": 1, "planned_on": "2027-01-01"}},
        ),
        (f"{A}/allocations/999999/handover/done", {}),
        (f"{A}/allocations/{aid}/reviews/999999/done", {}),
    ):
        resp = client.post(path, json=body, headers=coordinator)
        assert resp.status_code == 404, (path, resp.get_json())
        assert resp.get_json()["error"]["code"] == "not_found"
    assert client.get(f"{A}/cases/999999/allocation", headers=coordinator).status_code == 404
    # No token: 401. Dispatchers and municipality reviewers: 403, for reads too.
    assert client.get(f"{A}/cases/{case['id']}/allocation").status_code == 401
    _, muni = make_user("municipality")
    for headers in (dispatcher, bearer(muni)):
        assert client.get(f"{A}/cases/{case['id']}/allocation", headers=headers).status_code == 403
        resp = apply(client, headers, case["id"], orgs)
        assert resp.status_code == 403
    # Another coordinator (not on this case) reads the chain but may not change it.
    _, other = make_user("coordinator", "coord-other")
    assert (
        client.get(f"{A}/cases/{case['id']}/allocation", headers=bearer(other)).status_code == 200
    )
    resp = client.post(
        f"{A}/applications/{aid}/decision",
        json={"decision": "granted", "members": members(orgs)},
        headers=bearer(other),
    )
    assert resp.status_code == 403
    # An admin may.
    _, admin = make_user("admin")
    resp = client.post(
        f"{A}/applications/{aid}/decision",
        json={"decision": "granted", "members": members(orgs)},
        headers=bearer(admin),
    )
    assert resp.status_code == 200


def test_all_routes_are_documented(client):
    doc = client.get("/api/openapi.json").get_json()
    for path, method in (
        ("/api/v1/cases/{case_id}/applications", "post"),
        ("/api/v1/applications/{application_id}/decision", "post"),
        ("/api/v1/applications/{application_id}/device", "post"),
        ("/api/v1/applications/{application_id}/support", "post"),
        ("/api/v1/allocations/{allocation_id}/extend", "post"),
        ("/api/v1/allocations/{allocation_id}/end", "post"),
        ("/api/v1/allocations/{allocation_id}/handover/done", "post"),
        ("/api/v1/allocations/{allocation_id}/reviews/{review_id}/done", "post"),
        ("/api/v1/cases/{case_id}/allocation", "get"),
    ):
        assert method in doc["paths"][path], path


def test_device_linked_before_is_adopted_and_can_be_replaced(client, coordinator, case, orgs):
    first = new_device(client, coordinator, "AW-ALLOC-5")
    spare = new_device(client, coordinator, "AW-ALLOC-6")
    cid = case["id"]
    resp = client.post(
        f"{A}/cases/{cid}/devices", json={"device_id": first, "role": "victim"}, headers=coordinator
    )
    assert resp.status_code == 201
    alloc = active(client, coordinator, cid, orgs, first)
    devices = client.get(f"{A}/cases/{cid}", headers=coordinator).get_json()["devices"]
    assert [(d["device_id"], d["unlinked_at"]) for d in devices] == [(first, None)]
    # A broken alarm is swapped: the term and the connection date stay.
    url = f"{A}/applications/{alloc['id']}/device"
    resp = client.post(url, json={"device_id": "6"}, headers=coordinator)
    assert resp.status_code == 422 and "device_id" in resp.get_json()["error"]["fields"]
    resp = client.post(url, json={"device_id": spare}, headers=coordinator)
    swapped = resp.get_json()
    assert resp.status_code == 200 and swapped["device"]["device_id"] == spare
    assert swapped["device"]["connected_at"] == alloc["device"]["connected_at"]
    assert swapped["term"] == alloc["term"] and len(swapped["reviews"]) == 1
    devices = client.get(f"{A}/cases/{cid}", headers=coordinator).get_json()["devices"]
    assert [(d["device_id"], d["unlinked_at"] is None) for d in devices] == [
        (first, False),
        (spare, True),
    ]


def test_body_over_one_mebibyte_is_413(client, coordinator, case, orgs):
    aid = apply(client, coordinator, case["id"], orgs).get_json()["id"]
    resp = client.post(
        f"{A}/applications/{aid}/decision",
        data=b'{"reasons": "' + b"x" * (1024 * 1024) + b'"}',
        headers={**coordinator, "Content-Type": "application/json"},
    )
    assert resp.status_code == 413
    chain = client.get(f"{A}/cases/{case['id']}/allocation", headers=coordinator).get_json()
    assert chain["current"]["status"] == "applied"
