"""Personal fields encrypted at rest, on SQLite and PostgreSQL: the raw database never holds
them in plaintext, the API still shows them, keys rotate, a wrong key is a clear error, and
migration 0012 encrypts rows written before it."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from aware import crypto, migrate
from aware.adapters.realtime import RecordingPublisher
from aware.app import create_app
from aware.auth.services import create_user, issue_token
from aware.config import ConfigError, Settings
from aware.coordination.reference_models import ContactPerson
from aware.db import make_engine, make_sessionmaker
from aware.risk.models import Case
from tests.conftest import DATA_KEY, PASSWORD, PgSchemas, bearer, pg_or_skip, settings_for

AWARE = str(Path(sys.executable).parent / "aware")
PERSONAL = ["Sanne de Vries", "+31612345678", "Oudegracht 1, Utrecht", "Mark Jansen"]


def case_body(reference: str = "ENC-1") -> dict[str, Any]:
    return {
        "reference": reference,
        "municipality": "0344",
        "victim": {
            "name": "Sanne de Vries",
            "phone": "+31612345678",
            "address": "Oudegracht 1, Utrecht",
            "home": {"lat": 52.0907, "lon": 5.1214},
        },
        "perpetrator": {"name": "Mark Jansen", "description": "lange jas", "vehicle": "Golf"},
    }


RAW_CASE = text(
    "SELECT victim_name, victim_phone, victim_address, victim_home_lat, victim_home_lon, "
    "perpetrator_name, perpetrator_description, perpetrator_vehicle FROM cases WHERE id = :id"
)


@pytest.fixture(autouse=True)
def _restore_run_key() -> Iterator[None]:
    """Apps made here install other keys; later tests get the run's key back."""
    yield
    crypto.install(crypto.Keyring([DATA_KEY]))


def test_the_database_holds_no_plaintext_while_the_api_shows_it(client, coordinator, session):
    resp = client.post("/api/v1/cases", json=case_body(), headers=coordinator)
    assert resp.status_code == 201, resp.get_json()
    case_id = resp.get_json()["id"]

    raw = session.execute(RAW_CASE, {"id": case_id}).one()
    stored = " ".join(str(v) for v in raw)
    for value in [*PERSONAL, "lange jas", "Golf", "52.0907", "5.1214"]:
        assert value not in stored
    assert all(str(v).startswith("gAAAAA") for v in raw)

    got = client.get(f"/api/v1/cases/{case_id}", headers=coordinator).get_json()
    assert got["victim"]["name"] == "Sanne de Vries"
    assert got["victim"]["phone"] == "+31612345678"
    assert got["victim"]["home"] == {"lat": 52.0907, "lon": 5.1214}
    assert got["perpetrator"]["name"] == "Mark Jansen"
    # Updates are encrypted too.
    client.patch(
        f"/api/v1/cases/{case_id}",
        json={"victim": {"name": "Sanne Bakker", "address": "Lange Nieuwstraat 2"}},
        headers=coordinator,
    )
    raw = session.execute(RAW_CASE, {"id": case_id}).one()
    assert "Bakker" not in str(raw[0]) and "Nieuwstraat" not in str(raw[2])
    listed = client.get("/api/v1/cases?municipality=0344", headers=coordinator).get_json()
    assert [c["victim"]["name"] for c in listed["cases"]] == ["Sanne Bakker"]


def test_contact_persons_phone_and_email_are_encrypted(client, coordinator, session):
    org = client.post(
        "/api/v1/organisations",
        json={"name": "Veilig Thuis Utrecht", "type": "veilig_thuis", "municipality": "0344"},
        headers=coordinator,
    ).get_json()
    resp = client.post(
        f"/api/v1/organisations/{org['id']}/contacts",
        json={"name": "Fatima Bakker", "phone": "+31302345678", "email": "f.b@vt.example"},
        headers=coordinator,
    )
    assert resp.status_code == 201, resp.get_json()
    phone, email = session.execute(
        text("SELECT phone, email FROM contact_persons WHERE organisation_id = :o"),
        {"o": org["id"]},
    ).one()
    assert "2345678" not in phone and "vt.example" not in email
    got = client.get(f"/api/v1/organisations/{org['id']}", headers=coordinator).get_json()
    assert (got["contacts"][0]["phone"], got["contacts"][0]["email"]) == (
        "+31302345678",
        "f.b@vt.example",
    )


def test_an_alarm_carries_the_decrypted_case_card(client, coordinator, dispatcher, device):
    case_id = client.post("/api/v1/cases", json=case_body(), headers=coordinator).get_json()["id"]
    client.post(
        f"/api/v1/cases/{case_id}/devices",
        json={"device_id": device["id"], "role": "victim"},
        headers=coordinator,
    )
    body = {"event_id": "enc-1", "type": "sos", "occurred_at": "2026-11-28T10:00:00Z"}
    resp = client.post("/api/v1/ingest", json=body, headers=device["headers"])
    assert resp.status_code == 202, resp.get_json()
    alarm_id = resp.get_json()["alarm_ids"][0]
    card = client.get(f"/api/v1/alarms/{alarm_id}", headers=dispatcher).get_json()["case"]
    assert card["victim"] == {
        "name": "Sanne de Vries",
        "phone": "+31612345678",
        "address": "Oudegracht 1, Utrecht",
    }
    assert card["perpetrator"]["name"] == "Mark Jansen"


# --- rotation and wrong keys: real commits, the real command line ----------------------------


class Installation:
    """A database of its own with apps and `aware` commands on chosen keys."""

    def __init__(self, url: str, tmp: Path):
        self.url, self.tmp = url, tmp

    def app(self, *keys: str) -> Any:
        settings = Settings(**{**settings_for(self.tmp, self.url).__dict__, "data_keys": keys})
        app = create_app(settings)
        app.extensions["aware"].publisher = RecordingPublisher()
        return app

    def cli(self, keys: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "AWARE_ENV": "testing",
            "AWARE_DATABASE_URL": self.url,
            "AWARE_INSTANCE_PATH": str(self.tmp),
            "AWARE_DATA_KEYS": keys,
        }
        return subprocess.run(
            [AWARE, *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )


@pytest.fixture
def installation(fresh_db_url: str, tmp_path: Path) -> Iterator[Installation]:
    yield Installation(fresh_db_url, tmp_path)


def _coordinator(app: Any) -> dict[str, str]:
    now = dt.datetime.now(dt.UTC)
    with app.extensions["aware"].sessions() as s:
        user = create_user(s, f"c-{uuid.uuid4().hex[:6]}", "coordinator", PASSWORD, now)
        token, _ = issue_token(s, user, now, 3600)
    return bearer(token)


def _raw_names(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(text("SELECT victim_name FROM cases ORDER BY id"))]
    finally:
        engine.dispose()


def test_rotation_keeps_old_rows_readable_and_lets_the_old_key_go(installation):
    old, new = crypto.new_key(), crypto.new_key()
    app = installation.app(old)
    headers = _coordinator(app)
    client = app.test_client()
    ids = [
        client.post("/api/v1/cases", json=case_body(f"ROT-{i}"), headers=headers).get_json()["id"]
        for i in range(3)
    ]
    app.extensions["aware"].engine.dispose()
    before = _raw_names(installation.url)

    # New key in front: old rows still read, new rows are written with the new key.
    app = installation.app(new, old)
    client = app.test_client()
    got = client.get(f"/api/v1/cases/{ids[0]}", headers=headers).get_json()
    assert got["victim"]["name"] == "Sanne de Vries"
    ids.append(
        client.post("/api/v1/cases", json=case_body("ROT-3"), headers=headers).get_json()["id"]
    )
    app.extensions["aware"].engine.dispose()

    out = installation.cli(f"{new},{old}", "keys", "rotate", "--batch-size", "2")
    assert out.returncode == 0, out.stderr
    assert "cases.victim_name: 3 re-encrypted, 1 already with the first key" in out.stdout
    after = _raw_names(installation.url)
    assert after[:3] != before and "Sanne" not in " ".join(after)

    again = installation.cli(f"{new},{old}", "keys", "rotate")
    assert "cases.victim_name: 0 re-encrypted, 4 already with the first key" in again.stdout
    assert _raw_names(installation.url) == after  # idempotent: nothing rewritten

    # The old key is gone: every row opens with the new key alone.
    app = installation.app(new)
    client = app.test_client()
    for case_id in ids:
        got = client.get(f"/api/v1/cases/{case_id}", headers=headers).get_json()
        assert got["victim"]["name"] == "Sanne de Vries"
        assert got["victim"]["home"] == {"lat": 52.0907, "lon": 5.1214}
    app.extensions["aware"].engine.dispose()
    check = installation.cli(new, "keys", "check")
    assert check.returncode == 0 and "cases.victim_name: 4 readable, 0 unreadable" in check.stdout


def test_a_wrong_key_is_a_clear_error(installation):
    right, wrong = crypto.new_key(), crypto.new_key()
    app = installation.app(right)
    headers = _coordinator(app)
    case_id = (
        app.test_client().post("/api/v1/cases", json=case_body(), headers=headers).get_json()["id"]
    )
    app.extensions["aware"].engine.dispose()

    crypto.install(crypto.Keyring([wrong]))
    engine = make_engine(installation.url)
    try:
        with (
            make_sessionmaker(engine)() as s,
            pytest.raises(crypto.DataKeyError, match="cannot be decrypted with the keys"),
        ):
            s.get(Case, case_id)
    finally:
        engine.dispose()
    check = installation.cli(wrong, "keys", "check")
    assert check.returncode == 1
    assert "4 readable" not in check.stdout and "cases.victim_name: 0 readable, 1 unreadable" in (
        check.stdout
    )
    assert "cannot be decrypted with AWARE_DATA_KEYS" in check.stderr
    rotate = installation.cli(f"{crypto.new_key()},{wrong}", "keys", "rotate")
    assert rotate.returncode == 2
    assert "cannot be decrypted with any key in AWARE_DATA_KEYS" in rotate.stderr
    assert right not in rotate.stderr + rotate.stdout


def test_keys_new_prints_a_usable_key(installation):
    out = installation.cli(DATA_KEY, "keys", "new")
    key = out.stdout.strip()
    assert out.returncode == 0 and crypto.parse_keys(key) == (key,) and key != DATA_KEY


def test_production_without_keys_refuses_to_start(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWARE_")} | {
        "AWARE_ENV": "production",
        "AWARE_SECRET_KEY": "s" * 40,
        "AWARE_INSTANCE_PATH": str(tmp_path),
    }
    out = subprocess.run(
        [AWARE, "serve", "--port", "1"], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2
    assert "AWARE_DATA_KEYS is required in production" in out.stderr
    assert "aware keys new" in out.stderr
    with pytest.raises(ConfigError, match="AWARE_DATA_KEYS"):
        create_app(Settings(env="production", secret_key="s" * 40, instance_path=tmp_path))


# --- migration 0012 ------------------------------------------------------------------------


def _database_at_0011(kind: str, tmp: Path, pg_schemas: PgSchemas) -> str:
    if kind == "postgresql":
        pg_or_skip()
        url = pg_schemas.new_url()
    else:
        url = f"sqlite:///{tmp / 'at-0011.db'}"
    migrate.upgrade(url, "0011")
    return url


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_migration_encrypts_rows_written_before_it(kind, tmp_path, pg_schemas):
    url = _database_at_0011(kind, tmp_path, pg_schemas)
    engine = make_engine(url)
    t0 = dt.datetime(2026, 1, 5, 9, 0)
    try:
        with engine.begin() as conn:
            for i in range(3):
                conn.execute(
                    text(
                        "INSERT INTO cases (reference, municipality_code, status, referral_source,"
                        " ex_partner, victim_name, victim_phone, victim_address, victim_home_lat,"
                        " victim_home_lon, victim_sms, perpetrator_name, perpetrator_description,"
                        " perpetrator_vehicle, eligible_aware, created_at, updated_at) VALUES"
                        " (:ref, '0344', 'active', 'police', true, :name, '+31612345678',"
                        " 'Oudegracht 1', :lat, 5.1214, false, 'Mark Jansen', NULL, NULL,"
                        " false, :t, :t)"
                    ),
                    {"ref": f"OLD-{i}", "name": f"Sanne {i}", "lat": 52.09071234567891, "t": t0},
                )
            case_id = conn.execute(text("SELECT min(id) FROM cases")).scalar_one()
            # A row referring to a case: the schema change must keep it valid.
            conn.execute(
                text(
                    "INSERT INTO case_actions (case_id, kind, title, opened_at)"
                    " VALUES (:c, 'consult_om', 'OM', :t)"
                ),
                {"c": case_id, "t": t0},
            )
            org = conn.execute(
                text(
                    "INSERT INTO organisations (name, type, active, created_at)"
                    " VALUES ('Politie', 'police', true, :t) RETURNING id"
                ),
                {"t": t0},
            ).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO contact_persons (organisation_id, name, phone, email, active)"
                    " VALUES (:o, 'Jan', '+31611111111', 'jan@politie.example', true)"
                ),
                {"o": org},
            )

        migrate.upgrade(url)  # with the run's key, as `aware db upgrade` would

        with engine.connect() as conn:
            raw = conn.execute(
                text(
                    "SELECT victim_name, victim_phone, victim_address, "
                    "victim_home_lat, perpetrator_name FROM cases"
                )
            ).all()
            contact = conn.execute(text("SELECT phone, email FROM contact_persons")).one()
        stored = " ".join(str(v) for row in raw for v in row) + " ".join(contact)
        for value in ["Sanne", "+3161", "Oudegracht", "52.09", "Mark", "jan@"]:
            assert value not in stored
        with Session(engine) as s:
            cases = s.query(Case).order_by(Case.id).all()
            assert [c.victim_name for c in cases] == ["Sanne 0", "Sanne 1", "Sanne 2"]
            assert cases[0].victim_home_lat == 52.09071234567891  # exact, not rounded
            assert cases[0].victim_home_lon == 5.1214 and cases[0].perpetrator_description is None
            person = s.query(ContactPerson).one()
            assert (person.phone, person.email) == ("+31611111111", "jan@politie.example")

        # The downgrade gives the plaintext (and numbers) back.
        from alembic import command

        command.downgrade(migrate.alembic_config(url), "0011")
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT victim_name, victim_home_lat, victim_home_lon FROM cases WHERE id = :c"
                ),
                {"c": case_id},
            ).one()
        assert tuple(row) == ("Sanne 0", 52.09071234567891, 5.1214)
    finally:
        engine.dispose()


def test_a_missing_data_key_never_costs_an_alarm(client, coordinator, dispatcher):
    """Intake builds the case card before it commits: an unreadable case row must degrade the
    card, not roll the alarm back."""
    from aware import crypto
    from tests.conftest import DATA_KEY, bearer

    case = client.post(
        "/api/v1/cases",
        headers=coordinator,
        json={
            "reference": "KEYLOSS-1",
            "municipality": "0344",
            "victim": {"name": "Fenna Kuiper", "phone": "+31612340000"},
        },
    ).get_json()
    device = client.post(
        "/api/v1/devices", headers=coordinator, json={"serial": "AW-KEY", "kind": "victim_alarm"}
    ).get_json()
    r = client.post(
        f"/api/v1/cases/{case['id']}/devices",
        headers=coordinator,
        json={"device_id": device["id"], "role": "victim"},
    )
    assert r.status_code == 201
    crypto.install(crypto.Keyring([crypto.new_key()]))  # the case's key is gone
    try:
        r = client.post(
            "/api/v1/ingest",
            headers=bearer(device["token"]),
            json={
                "event_id": "press-1",
                "type": "sos",
                "occurred_at": "2026-11-28T10:00:00+01:00",
            },
        )
        assert r.status_code == 202, r.get_json()
        (alarm_id,) = r.get_json()["alarm_ids"]
        alarm = client.get(f"/api/v1/alarms/{alarm_id}", headers=dispatcher).get_json()
        assert alarm["status"] == "open" and alarm["case"]["reference"] == "KEYLOSS-1"
        assert alarm["case"]["unreadable"] is True
        assert "Fenna" not in str(alarm)
    finally:
        crypto.install(crypto.Keyring([DATA_KEY]))
