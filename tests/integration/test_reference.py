"""Municipalities (shipped CBS list, CBS loads, validation) and partner organisations over
HTTP and the command line (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aware.auth.models import User
from aware.auth.services import UserInvalid, create_user
from aware.cli import main
from aware.coordination.reference_models import Municipality
from aware.db import make_engine, make_sessionmaker
from tests.conftest import PASSWORD, bearer, now
from tests.integration.test_cases_api import case_body

HEADER = "Gemeentecode;GemeentecodeGM;Gemeentenaam;Provinciecode;ProvinciecodePV;Provincienaam"


@pytest.fixture
def municipal(make_user: Any) -> dict[str, str]:
    _, token = make_user("municipality", "gem-utrecht", "0344")
    return bearer(token)


def _retire(session: Session, code: str) -> None:
    """As after a merger: CBS no longer lists it (kept, inactive)."""
    muni = session.get(Municipality, code)
    assert muni is not None
    muni.active = False
    session.commit()


# --- municipalities over HTTP -----------------------------------------------------------------


def test_fresh_database_knows_every_municipality(client, dispatcher):
    resp = client.get("/api/v1/municipalities", headers=dispatcher)
    assert resp.status_code == 200
    munis = resp.get_json()["municipalities"]
    assert len(munis) == 342 and all(m["active"] for m in munis)
    assert munis[0]["name"] == "Aa en Hunze"  # by name
    one = client.get("/api/v1/municipalities/1992", headers=dispatcher).get_json()
    assert one == {
        "code": "1992",
        "name": "Voorne aan Zee",
        "province": "Zuid-Holland",
        "centrumgemeente": None,
        "is_centrumgemeente": False,
        "active": True,
    }


def test_region_of_a_centrumgemeente(client, coordinator):
    resp = client.get("/api/v1/municipalities?region=0400", headers=coordinator)
    names = [m["name"] for m in resp.get_json()["municipalities"]]
    assert names == ["Den Helder", "Hollands Kroon", "Schagen", "Texel"]
    helder = client.get("/api/v1/municipalities/0400", headers=coordinator).get_json()
    assert helder["is_centrumgemeente"] and helder["centrumgemeente"] == "0400"


def test_active_filter_shows_merged_municipalities(client, coordinator, session):
    _retire(session, "0599")
    gone = client.get("/api/v1/municipalities?active=false", headers=coordinator).get_json()
    assert [m["code"] for m in gone["municipalities"]] == ["0599"]
    current = client.get("/api/v1/municipalities?active=true", headers=coordinator).get_json()
    assert len(current["municipalities"]) == 341


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("region=0344", "region"),  # a municipality, but not a centrumgemeente
        ("region=9999", "region"),
        ("region=abc", "region"),
        ("active=perhaps", "active"),
    ],
)
def test_bad_municipality_query_is_422(client, coordinator, query, field):
    resp = client.get(f"/api/v1/municipalities?{query}", headers=coordinator)
    assert resp.status_code == 422 and field in resp.get_json()["error"]["fields"]


@pytest.mark.parametrize("code", ["9999", "abc", "03444"])
def test_unknown_municipality_is_404(client, coordinator, code):
    resp = client.get(f"/api/v1/municipalities/{code}", headers=coordinator)
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"


def test_municipalities_need_a_signed_in_person(client):
    assert client.get("/api/v1/municipalities").status_code == 401
    assert client.get("/api/v1/municipalities/0344").status_code == 401


# --- municipality validation elsewhere --------------------------------------------------------


@pytest.mark.parametrize("code", ["9999", "0457"])  # 0457: Weesp, merged into Amsterdam in 2022
def test_case_with_unknown_municipality_is_422_and_changes_nothing(client, coordinator, code):
    resp = client.post("/api/v1/cases", json=case_body(municipality=code), headers=coordinator)
    assert resp.status_code == 422
    assert code in resp.get_json()["error"]["fields"]["municipality"]
    assert client.get("/api/v1/cases", headers=coordinator).get_json()["cases"] == []


def test_case_with_merged_municipality_is_422(client, coordinator, session):
    _retire(session, "0599")
    resp = client.post("/api/v1/cases", json=case_body(municipality="0599"), headers=coordinator)
    assert resp.status_code == 422
    assert "no longer exists" in resp.get_json()["error"]["fields"]["municipality"]


def test_case_update_and_filter_refuse_unknown_municipality(client, coordinator, session):
    case = client.post("/api/v1/cases", json=case_body(), headers=coordinator).get_json()
    resp = client.patch(
        f"/api/v1/cases/{case['id']}", json={"municipality": "9999"}, headers=coordinator
    )
    assert resp.status_code == 422 and "municipality" in resp.get_json()["error"]["fields"]
    got = client.get(f"/api/v1/cases/{case['id']}", headers=coordinator).get_json()
    assert got["municipality"] == "0344"
    resp = client.get("/api/v1/cases?municipality=9999", headers=coordinator)
    assert resp.status_code == 422 and "municipality" in resp.get_json()["error"]["fields"]
    # A case of a municipality that later merged keeps working and can still be found.
    _retire(session, "0344")
    resp = client.patch(
        f"/api/v1/cases/{case['id']}", json={"status": "active"}, headers=coordinator
    )
    assert resp.status_code == 200
    listed = client.get("/api/v1/cases?municipality=0344", headers=coordinator).get_json()
    assert [c["id"] for c in listed["cases"]] == [case["id"]]


def test_user_with_unknown_municipality_is_refused(session):
    with pytest.raises(UserInvalid) as err:
        create_user(session, "gem-x", "municipality", PASSWORD, now(), "9999")
    assert err.value.field == "municipality"
    assert session.scalars(select(User).where(User.username == "gem-x")).first() is None


# --- the command line -------------------------------------------------------------------------


def _cli(url: str, tmp_path: Path, *args: str) -> Any:
    env = {"AWARE_DATABASE_URL": url, "AWARE_ENV": "testing", "AWARE_INSTANCE_PATH": str(tmp_path)}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def _state(url: str) -> dict[str, tuple[str, str | None, bool]]:
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as s:
            return {m.code: (m.name, m.province, m.active) for m in s.scalars(select(Municipality))}
    finally:
        engine.dispose()


def test_cli_user_create_with_unknown_municipality(fresh_db_url, tmp_path):
    done = _cli(
        fresh_db_url,
        tmp_path,
        "user",
        "create",
        "gem-x",
        "--role",
        "municipality",
        "--password",
        PASSWORD,
        "--municipality",
        "9999",
    )
    assert done.exit_code == 2 and "unknown CBS municipality code '9999'" in done.output
    engine = make_engine(fresh_db_url)
    with make_sessionmaker(engine)() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 0
    engine.dispose()


def test_cli_load_upserts_and_deactivates(fresh_db_url, tmp_path):
    before = _state(fresh_db_url)
    lines = [HEADER] + [
        f"{code};GM{code};{name};0;PV0;{province}"
        for code, (name, province, _) in sorted(before.items())
        if code != "0363"  # Amsterdam no longer listed
    ]
    lines = [ln.replace("Utrecht;0;PV0;Utrecht", "Utrecht-Stad;0;PV0;Utrecht") for ln in lines]
    lines.append("2001;GM2001;Nieuwe Gemeente;28;PV28;Zuid-Holland")
    cbs = tmp_path / "gemeenten.csv"
    cbs.write_text("\n".join(lines) + "\n", encoding="cp1252")

    dry = _cli(fresh_db_url, tmp_path, "municipalities", "load", str(cbs), "--dry-run")
    assert dry.exit_code == 0 and "dry run: nothing changed" in dry.output
    assert _state(fresh_db_url) == before

    done = _cli(fresh_db_url, tmp_path, "municipalities", "load", str(cbs))
    assert done.exit_code == 0, done.output
    assert "added 2001 Nieuwe Gemeente (Zuid-Holland)" in done.output
    assert "renamed 0344 Utrecht -> Utrecht-Stad" in done.output
    assert "inactive 0363 Amsterdam" in done.output
    assert "1 added, 1 renamed, 0 moved, 0 reactivated, 1 deactivated, 340 unchanged" in done.output
    after = _state(fresh_db_url)
    assert after["0363"] == ("Amsterdam", "Noord-Holland", False)  # kept, never deleted
    assert after["0344"] == ("Utrecht-Stad", "Utrecht", True)
    assert after["2001"] == ("Nieuwe Gemeente", "Zuid-Holland", True)

    # The shipped file (same CBS layout, comma-separated) brings Amsterdam back.
    shipped = Path(__file__).resolve().parents[2] / "aware" / "data" / "municipalities.csv"
    again = _cli(fresh_db_url, tmp_path, "municipalities", "load", str(shipped))
    assert "active again 0363 Amsterdam" in again.output
    assert "inactive 2001 Nieuwe Gemeente" in again.output
    assert _state(fresh_db_url)["0344"] == ("Utrecht", "Utrecht", True)


def test_cli_bad_file_changes_nothing_and_names_the_line(fresh_db_url, tmp_path):
    before = _state(fresh_db_url)
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{HEADER}\n0344;GM0344;Utrecht;26;PV26;Utrecht\n03X3;GM03X3;A;27;PV27;NH\n")
    done = _cli(fresh_db_url, tmp_path, "municipalities", "load", str(bad))
    assert done.exit_code == 2
    assert "line 3" in done.output and "nothing changed" in done.output
    assert _state(fresh_db_url) == before


# --- organisations and contact persons --------------------------------------------------------


def org_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Veilig Thuis Utrecht",
        "type": "veilig_thuis",
        "municipality": "0344",
    }
    body.update(over)
    return body


@pytest.fixture
def org(client, coordinator):
    resp = client.post("/api/v1/organisations", json=org_body(), headers=coordinator)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_organisation_with_contacts(client, coordinator, org, municipal):
    assert org["type"] == "veilig_thuis" and org["contacts"] == [] and org["active"]
    assert org["created_at"].endswith("Z")
    url = f"/api/v1/organisations/{org['id']}/contacts"
    resp = client.post(
        url,
        json={
            "name": "Fatima Bakker",
            "role": "casemanager",
            "phone": "+31302345678",
            "email": "f.bakker@veiligthuis.example",
        },
        headers=coordinator,
    )
    assert resp.status_code == 201
    fatima = resp.get_json()
    client.post(url, json={"name": "Anton de Wit"}, headers=coordinator)
    got = client.get(f"/api/v1/organisations/{org['id']}", headers=municipal).get_json()
    assert [c["name"] for c in got["contacts"]] == ["Anton de Wit", "Fatima Bakker"]

    resp = client.patch(f"{url}/{fatima['id']}", json={"role": "teamleider"}, headers=coordinator)
    assert resp.status_code == 200 and resp.get_json()["role"] == "teamleider"
    resp = client.delete(f"{url}/{fatima['id']}", headers=coordinator)
    assert resp.status_code == 200 and resp.get_json()["active"] is False
    got = client.get(f"/api/v1/organisations/{org['id']}", headers=coordinator).get_json()
    assert [(c["name"], c["active"]) for c in got["contacts"]] == [
        ("Anton de Wit", True),
        ("Fatima Bakker", False),
    ]
    resp = client.patch(f"{url}/{fatima['id']}", json={"active": True}, headers=coordinator)
    assert resp.get_json()["active"] is True


def test_list_organisations_by_type_and_municipality(client, coordinator, org):
    client.post(
        "/api/v1/organisations",
        json=org_body(name="Politie Midden-Nederland", type="police"),
        headers=coordinator,
    )
    client.post(
        "/api/v1/organisations",
        json=org_body(name="Blijf Groep", type="vrouwenopvang", municipality="0363"),
        headers=coordinator,
    )
    client.post(
        "/api/v1/organisations", json={"name": "OM landelijk", "type": "om"}, headers=coordinator
    )

    def names(query: str) -> list[str]:
        resp = client.get(f"/api/v1/organisations{query}", headers=coordinator)
        assert resp.status_code == 200
        return [o["name"] for o in resp.get_json()["organisations"]]

    assert names("") == [
        "Blijf Groep",
        "OM landelijk",
        "Politie Midden-Nederland",
        "Veilig Thuis Utrecht",
    ]
    assert names("?municipality=0344") == ["Politie Midden-Nederland", "Veilig Thuis Utrecht"]
    assert names("?type=police") == ["Politie Midden-Nederland"]
    assert names("?type=om&municipality=0363") == []
    listed = client.get("/api/v1/organisations", headers=coordinator).get_json()["organisations"]
    assert "contacts" not in listed[0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (org_body(name=""), "name"),
        (org_body(name="x" * 201), "name"),
        (org_body(type="gemeente"), "type"),
        (org_body(type=None), "type"),
        (org_body(municipality="9999"), "municipality"),
        (org_body(municipality="344"), "municipality"),
        (org_body(municipality=344), "municipality"),
        ({"type": "police"}, "name"),
    ],
)
def test_bad_organisation_is_422_and_changes_nothing(client, coordinator, body, field):
    resp = client.post("/api/v1/organisations", json=body, headers=coordinator)
    assert resp.status_code == 422 and field in resp.get_json()["error"]["fields"]
    assert (
        client.get("/api/v1/organisations", headers=coordinator).get_json()["organisations"] == []
    )


def test_organisation_in_merged_municipality_is_422(client, coordinator, session):
    _retire(session, "0363")
    resp = client.post(
        "/api/v1/organisations", json=org_body(municipality="0363"), headers=coordinator
    )
    assert resp.status_code == 422 and "municipality" in resp.get_json()["error"]["fields"]


def test_duplicate_organisation_is_409(client, coordinator, org):
    resp = client.post("/api/v1/organisations", json=org_body(), headers=coordinator)
    assert resp.status_code == 409 and "name" in resp.get_json()["error"]["fields"]
    other_place = client.post(
        "/api/v1/organisations", json=org_body(municipality="0363"), headers=coordinator
    )
    assert other_place.status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"role": "x"}, "name"),
        ({"name": "A", "phone": "0612345678"}, "phone"),  # not E.164
        ({"name": "A", "phone": "+31 6 1234 5678"}, "phone"),
        ({"name": "A", "phone": 31612345678}, "phone"),
        ({"name": "A", "email": "not-an-address"}, "email"),
        ({"name": "A", "role": "r" * 101}, "role"),
    ],
)
def test_bad_contact_is_422_and_changes_nothing(client, coordinator, org, body, field):
    resp = client.post(
        f"/api/v1/organisations/{org['id']}/contacts", json=body, headers=coordinator
    )
    assert resp.status_code == 422 and field in resp.get_json()["error"]["fields"]
    got = client.get(f"/api/v1/organisations/{org['id']}", headers=coordinator).get_json()
    assert got["contacts"] == []


def test_bad_contact_update_is_422_and_changes_nothing(client, coordinator, org):
    url = f"/api/v1/organisations/{org['id']}/contacts"
    contact = client.post(url, json={"name": "Anton"}, headers=coordinator).get_json()
    for body, field in (
        ({"name": None}, "name"),
        ({"active": None}, "active"),
        ({"phone": "06"}, "phone"),
        ({"active": "no"}, "active"),
    ):
        resp = client.patch(f"{url}/{contact['id']}", json=body, headers=coordinator)
        assert resp.status_code == 422 and field in resp.get_json()["error"]["fields"], body
    got = client.get(f"/api/v1/organisations/{org['id']}", headers=coordinator).get_json()
    assert got["contacts"] == [contact]


def test_unknown_organisation_or_contact_is_404(client, coordinator, org):
    other = client.post("/api/v1/organisations", json=org_body(name="Andere"), headers=coordinator)
    url = f"/api/v1/organisations/{org['id']}/contacts"
    contact = client.post(url, json={"name": "Anton"}, headers=coordinator).get_json()
    assert client.get("/api/v1/organisations/999999", headers=coordinator).status_code == 404
    assert (
        client.post(
            "/api/v1/organisations/999999/contacts", json={"name": "A"}, headers=coordinator
        ).status_code
        == 404
    )
    # A contact of another organisation is not this organisation's.
    wrong = f"/api/v1/organisations/{other.get_json()['id']}/contacts/{contact['id']}"
    assert client.patch(wrong, json={"role": "x"}, headers=coordinator).status_code == 404
    assert client.delete(wrong, headers=coordinator).status_code == 404
    assert client.delete(f"{url}/999999", headers=coordinator).status_code == 404


def test_malformed_and_oversized_bodies(client, coordinator, org):
    for path in ("/api/v1/organisations", f"/api/v1/organisations/{org['id']}/contacts"):
        resp = client.post(
            path, data="{not json", headers={**coordinator, "Content-Type": "application/json"}
        )
        assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "malformed_json"
        big = '{"name": "' + "x" * (1024 * 1024 + 10) + '"}'
        resp = client.post(
            path, data=big, headers={**coordinator, "Content-Type": "application/json"}
        )
        assert resp.status_code == 413
    assert client.get("/api/v1/organisations", headers=coordinator).get_json()["organisations"] == [
        {k: v for k, v in org.items() if k != "contacts"}
    ]


def test_bad_organisation_query_is_422(client, coordinator):
    for query, field in (
        ("type=gemeente", "type"),
        ("municipality=9999", "municipality"),
        ("municipality=abc", "municipality"),
    ):
        resp = client.get(f"/api/v1/organisations?{query}", headers=coordinator)
        assert resp.status_code == 422 and field in resp.get_json()["error"]["fields"]


def test_organisation_roles(client, org, dispatcher, municipal, make_user):
    url = f"/api/v1/organisations/{org['id']}"
    # Dispatchers have no business with partner organisations.
    for method, path in (
        ("get", "/api/v1/organisations"),
        ("get", url),
        ("post", "/api/v1/organisations"),
        ("post", f"{url}/contacts"),
    ):
        resp = getattr(client, method)(path, json=org_body(), headers=dispatcher)
        assert resp.status_code == 403, (method, path)
    # Municipality reviewers read, never write.
    assert client.get(url, headers=municipal).status_code == 200
    assert (
        client.post("/api/v1/organisations", json=org_body(name="X"), headers=municipal).status_code
        == 403
    )
    assert client.post(f"{url}/contacts", json={"name": "A"}, headers=municipal).status_code == 403
    _, admin = make_user("admin")
    assert (
        client.post(f"{url}/contacts", json={"name": "A"}, headers=bearer(admin)).status_code == 201
    )
    assert client.get("/api/v1/organisations").status_code == 401


def _regions(url: str) -> dict[str, str | None]:
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as s:
            return {m.code: m.centrumgemeente_code for m in s.scalars(select(Municipality))}
    finally:
        engine.dispose()


def test_cli_regions_sets_every_centrumgemeente_and_refuses_a_bad_file(fresh_db_url, tmp_path):
    before = _regions(fresh_db_url)
    good = tmp_path / "regions.csv"
    # Utrecht region (a sample) and Amsterdam as a centre of its own.
    good.write_text(
        "code,centrumgemeente_code\n0344,0344\n0356,0344\n0355,0344\n0363,0363\n0362,0363\n"
    )
    dry = _cli(fresh_db_url, tmp_path, "municipalities", "regions", str(good), "--dry-run")
    assert dry.exit_code == 0 and "dry run: nothing changed" in dry.output
    assert _regions(fresh_db_url) == before
    done = _cli(fresh_db_url, tmp_path, "municipalities", "regions", str(good))
    assert done.exit_code == 0, done.output
    assert "2 centrumgemeenten, 5 municipalities in a region" in done.output
    after = _regions(fresh_db_url)
    assert after["0356"] == "0344" and after["0363"] == "0363" and after["0362"] == "0363"
    assert after["0400"] is None  # a full list: not listed, no region (was Den Helder's)

    for text, message in (
        ("code,centrumgemeente_code\n0344,9999\n", "not a known municipality code"),
        ("code,centrumgemeente_code\n0356,0344\n", "is not its own centre"),
        ("gemeente;centrum\n0344;0344\n", "expected the columns"),
    ):
        bad = tmp_path / "bad.csv"
        bad.write_text(text)
        refused = _cli(fresh_db_url, tmp_path, "municipalities", "regions", str(bad))
        assert refused.exit_code == 2 and message in refused.output, refused.output
        assert "nothing changed" in refused.output
        assert _regions(fresh_db_url) == after
