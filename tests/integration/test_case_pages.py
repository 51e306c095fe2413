"""Coordinator pages: the case list and the case page, with need-to-know on contact details."""

from __future__ import annotations

import re

from tests.conftest import bearer, csrf_of, sign_in


def _case(client, headers, reference="PAGE-1"):
    r = client.post(
        "/api/v1/cases",
        headers=headers,
        json={
            "reference": reference,
            "municipality": "0344",
            "victim": {"name": "Mirjam Bos", "phone": "+31612121212", "address": "Kade 9"},
            "perpetrator": {"description": "grijze auto"},
        },
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_own_coordinator_sees_contact_details_and_switches_the_sms(client, make_user):
    _, raw = make_user("coordinator", "coord-own")
    case = _case(client, bearer(raw))
    sign_in(client, "coord-own")
    listing = client.get("/cases")
    assert listing.status_code == 200 and "PAGE-1" in listing.text
    assert f'data-case-id="{case["id"]}"' in listing.text
    page = client.get(f"/cases/{case['id']}")
    assert page.status_code == 200
    assert "Mirjam Bos" in page.text and "+31612121212" in page.text and "Kade 9" in page.text
    assert "grijze auto" in page.text
    r = client.post(
        f"/cases/{case['id']}/victim-notification",
        data={"csrf_token": csrf_of(page.text), "sms": "on"},
        follow_redirects=True,
    )
    assert "Sms aan het slachtoffer aangezet." in r.text
    assert client.get(f"/api/v1/cases/{case['id']}", headers=bearer(raw)).get_json()["victim_sms"]


def test_other_coordinators_see_the_case_without_contact_details(client, make_user):
    _, raw = make_user("coordinator", "coord-a")
    case = _case(client, bearer(raw))
    make_user("coordinator", "coord-b")
    sign_in(client, "coord-b")
    page = client.get(f"/cases/{case['id']}")
    assert page.status_code == 200
    assert "+31612121212" not in page.text and "Kade 9" not in page.text
    assert "alleen voor de eigen casusregisseurs" in page.text
    # And may not switch her SMS.
    r = client.post(
        f"/cases/{case['id']}/victim-notification",
        data={"csrf_token": csrf_of(page.text), "sms": "on"},
    )
    assert r.status_code == 403


def test_dispatchers_and_municipalities_do_not_get_the_case_pages(client, make_user, app):
    _, raw = make_user("coordinator", "coord-c")
    case = _case(client, bearer(raw))
    for role in ("dispatcher", "municipality"):
        make_user(role, f"{role}-x")
        browser = app.test_client()
        sign_in(browser, f"{role}-x")
        assert browser.get("/cases").status_code == 403
        assert browser.get(f"/cases/{case['id']}").status_code == 403
    assert app.test_client().get("/cases").status_code == 302  # not signed in: to /login


def test_unknown_case_is_404_and_sms_without_phone_is_refused(client, make_user):
    _, raw = make_user("coordinator", "coord-d")
    r = client.post(
        "/api/v1/cases",
        headers=bearer(raw),
        json={"reference": "NOPHONE", "municipality": "0344", "victim": {"name": "X"}},
    )
    case_id = r.get_json()["id"]
    sign_in(client, "coord-d")
    assert client.get("/cases/999999").status_code == 404
    page = client.get(f"/cases/{case_id}")
    r = client.post(
        f"/cases/{case_id}/victim-notification",
        data={"csrf_token": csrf_of(page.text), "sms": "on"},
        follow_redirects=True,
    )
    assert "Niet gewijzigd" in r.text
    assert not client.get(f"/api/v1/cases/{case_id}", headers=bearer(raw)).get_json()["victim_sms"]


def test_case_page_shows_the_aware_chain(client, coordinator, session):
    from tests.integration.test_allocation_api import active, new_device, orgs  # noqa: F401

    made = orgs.__wrapped__(session)
    body = {
        "reference": "CHAIN-1",
        "municipality": "0344",
        "victim": {"name": "Ria", "phone": "+31612345670"},
    }
    case = client.post("/api/v1/cases", json=body, headers=coordinator).get_json()
    r = client.post(
        f"/api/v1/cases/{case['id']}/assessments",
        headers=coordinator,
        json={
            "instrument": "s-dash-2009",
            "answers": {str(i): "yes" for i in range(1, 12)},
            "concern": "high",
        },
    )
    assert r.status_code == 201, r.get_json()
    device_id = new_device(client, coordinator, "AW-CHAIN")
    alloc = active(client, coordinator, case["id"], made, device_id)
    sign_in(client, "coord-bo")
    page = client.get(f"/cases/{case['id']}").text
    assert f'data-allocation-id="{alloc["id"]}"' in page
    assert "Vrouwenopvang Utrecht · Ineke Bakker" in page
    assert "AW-CHAIN" in page and "Looptijd tot" in page


def test_case_map_draws_only_the_bans_in_force(client, make_user):
    import datetime as dt
    import json

    _, raw = make_user("coordinator", "coord-map")
    case = _case(client, bearer(raw), reference="MAP-FUTURE")
    now = dt.datetime.now(dt.UTC)
    for name, start in (("now", now - dt.timedelta(days=1)), ("later", now + dt.timedelta(days=2))):
        r = client.post(
            f"/api/v1/cases/{case['id']}/bans",
            headers=bearer(raw),
            json={
                "kind": "location",
                "zones": [{"type": "Point", "coordinates": [5.12, 52.09], "radius_m": 100}],
                "valid_from": start.isoformat(),
                "valid_until": (now + dt.timedelta(days=30)).isoformat(),
                "legal_basis": name,
            },
        )
        assert r.status_code == 201, r.get_json()
    sign_in(client, "coord-map")
    page = client.get(f"/cases/{case['id']}").text
    data = json.loads(re.search(r'id="case-map-data">(.*?)</script>', page, re.S).group(1))
    assert len(data["zones"]) == 1  # the ban that starts in two days is not in force yet
