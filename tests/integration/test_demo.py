"""`aware demo` (load_demo) and `aware simulate` (run) against a real database and server."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aware import migrate
from aware.alarms.models import Alarm
from aware.auth.models import User
from aware.db import make_engine, make_sessionmaker
from aware.demo import DEMO_DEVICES, DEMO_PASSWORD, DEMO_USERS, load_demo
from aware.devices.models import Device, DeviceEvent
from aware.security import hash_token
from aware.simulate import SimulatorError, run

BIN = Path(sys.executable).parent


def _aware_script() -> str:
    found = BIN / "aware"
    if found.exists():
        return str(found)
    which = shutil.which("aware")
    if which is None:
        pytest.skip("the `aware` console script is not installed")
    return which


def _counts(session: Session) -> dict[str, int]:
    counts = {
        model.__tablename__: session.scalar(select(func.count()).select_from(model))
        for model in (User, Device, DeviceEvent, Alarm)
    }
    session.rollback()
    return counts


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    url = "sqlite:///" + str(tmp_path / "demo.db")
    migrate.upgrade(url)
    engine = make_engine(url)
    s = make_sessionmaker(engine)()
    try:
        yield s
    finally:
        s.close()
        engine.dispose()


def test_load_demo_creates_users_devices_and_open_alarms(session: Session, tmp_path: Path):
    tokens_path = tmp_path / "instance" / "demo-devices.json"
    lines = load_demo(session, tokens_path)

    assert any(DEMO_PASSWORD in line for line in lines)
    assert any("demos only" in line for line in lines)
    users = {u.username: u for u in session.scalars(select(User))}
    assert set(users) == {name for name, _, _ in DEMO_USERS}
    roles = {u.role for u in users.values()}
    assert roles == {"admin", "coordinator", "dispatcher", "municipality"}
    assert users["demo-gemeente"].municipality_code == "0344"

    devices = {d.serial: d for d in session.scalars(select(Device))}
    assert {(d.serial, d.kind) for d in devices.values()} == set(DEMO_DEVICES)

    open_alarms = list(session.scalars(select(Alarm).where(Alarm.status == "open")))
    by_type = {a.type: a for a in open_alarms}
    assert {"sos", "test", "battery_low"} <= set(by_type)
    sos = by_type["sos"]
    assert sos.device_id == devices["AW-0001"].id
    assert 52.0 < sos.lat < 52.2 and 5.0 < sos.lon < 5.2  # in Utrecht

    # The tokens file: owner-only, and every token is the device's real one.
    assert stat.S_IMODE(tokens_path.stat().st_mode) == 0o600
    saved = json.loads(tokens_path.read_text())["devices"]
    assert set(saved) == set(devices)
    for serial, entry in saved.items():
        assert hash_token(entry["token"]) == devices[serial].token_hash
        assert entry["kind"] == devices[serial].kind
    session.rollback()


def test_load_demo_twice_changes_nothing_more(session: Session, tmp_path: Path):
    tokens_path = tmp_path / "demo-devices.json"
    load_demo(session, tokens_path)
    before = _counts(session)
    tokens_before = json.loads(tokens_path.read_text())

    lines = load_demo(session, tokens_path)

    assert _counts(session) == before
    assert before["users"] == 4 and before["devices"] == 6 and before["alarms"] >= 3
    assert json.loads(tokens_path.read_text()) == tokens_before
    assert stat.S_IMODE(tokens_path.stat().st_mode) == 0o600
    assert any("exists" in line for line in lines)
    assert not any("token unknown" in line for line in lines)


def test_load_demo_without_the_tokens_file_says_which_tokens_are_lost(
    session: Session, tmp_path: Path
):
    tokens_path = tmp_path / "demo-devices.json"
    load_demo(session, tokens_path)
    before = _counts(session)
    tokens_path.unlink()

    lines = load_demo(session, tokens_path)

    assert _counts(session) == before
    assert json.loads(tokens_path.read_text())["devices"] == {}
    assert any("token unknown" in line for line in lines)


# --- simulate against a real server ---------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(instance: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWARE_", "TWILIO_"))}
    env["AWARE_INSTANCE_PATH"] = str(instance)
    env["AWARE_ENV"] = "development"
    return env


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`aware demo`, then `aware serve` on a free port; always terminated afterwards."""
    aware = _aware_script()
    instance = tmp_path / "instance"
    env = _env(instance)
    demo = subprocess.run(
        [aware, "demo"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert demo.returncode == 0, demo.stderr
    assert DEMO_PASSWORD in demo.stdout

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [aware, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        http = requests.Session()
        http.trust_env = False
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"aware serve exited: {(tmp_path / 'serve.log').read_text()}")
            try:
                if http.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("aware serve did not become ready within 30 s")
            time.sleep(0.1)
        http.close()
        yield url, instance
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def _device_event_count(instance: Path) -> int:
    engine = make_engine("sqlite:///" + str(instance / "aware.db"))
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(DeviceEvent)) or 0)
    finally:
        engine.dispose()


def _dispatcher_alarms(url: str) -> list[dict]:
    http = requests.Session()
    http.trust_env = False
    try:
        resp = http.post(
            url + "/api/v1/auth/token",
            json={"username": "demo-dispatcher", "password": DEMO_PASSWORD},
            timeout=10,
        )
        assert resp.status_code == 200, resp.text
        token = resp.json()["token"]
        resp = http.get(
            url + "/api/v1/alarms",
            params={"status": "open"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert resp.status_code == 200, resp.text
        return list(resp.json()["alarms"])
    finally:
        http.close()


def test_simulate_sends_events_through_the_public_api(server: tuple[str, Path]):
    url, instance = server
    before_events = _device_event_count(instance)
    demo_alarms = _dispatcher_alarms(url)
    before_ids = {a["id"] for a in demo_alarms}
    # Demo alarms copied the escalation chain in force, like any alarm.
    assert all(a["escalation_due_at"] for a in demo_alarms if a["status"] == "open")
    lines: list[str] = []

    started = time.monotonic()
    stats = run(
        url,
        seconds=2,
        tokens_file=str(instance / "demo-devices.json"),
        interval=0.2,
        seed=1,
        out=lines.append,
    )
    assert time.monotonic() - started < 15  # bounded

    assert stats.accepted > 10 and stats.duplicates == 0
    assert _device_event_count(instance) == before_events + stats.accepted
    press_lines = [line for line in lines if line.startswith("press ")]
    assert any(line.startswith("press sos") for line in press_lines)
    assert any(line.startswith("press test") for line in press_lines)
    assert all("alarm ids none" not in line for line in press_lines)

    alarms = _dispatcher_alarms(url)
    new = [a for a in alarms if a["id"] not in before_ids]
    assert any(a["type"] == "sos" and a["status"] == "open" for a in new)
    assert any(a["type"] == "test" for a in new)
    # Each device is told the alarms of its own presses; a tracker is told none, so the
    # alarms its fixes raised (ban checks) are seen by dispatch only.
    kinds = {
        entry["id"]: entry["kind"]
        for entry in json.loads((instance / "demo-devices.json").read_text())["devices"].values()
    }
    pressed = {a["id"] for a in new if kinds[a["device_id"]] == "victim_alarm"}
    assert pressed and pressed == set(stats.alarm_ids)
    assert all(
        a["type"] in ("zone_violation", "proximity_violation", "proximity_warning")
        for a in new
        if kinds[a["device_id"]] == "perpetrator_tracker"
    )

    # The OsmAnd protocol was used at least once.
    engine = make_engine("sqlite:///" + str(instance / "aware.db"))
    try:
        with engine.connect() as conn:
            osmand = conn.scalar(
                select(func.count()).select_from(DeviceEvent).where(DeviceEvent.source == "osmand")
            )
    finally:
        engine.dispose()
    assert osmand and osmand >= 1


def test_simulate_against_a_server_that_is_down_says_so(tmp_path: Path):
    tokens = tmp_path / "demo-devices.json"
    tokens.write_text(
        json.dumps({"devices": {"AW-0001": {"id": 1, "kind": "victim_alarm", "token": "x" * 43}}})
    )
    url = f"http://127.0.0.1:{_free_port()}"
    lines: list[str] = []
    with pytest.raises(SimulatorError, match="cannot reach aware"):
        run(url, seconds=1, tokens_file=tokens, interval=0.2, out=lines.append)


def test_simulate_without_a_tokens_file_says_run_demo_first(tmp_path: Path):
    with pytest.raises(SimulatorError, match="aware demo"):
        run("http://127.0.0.1:9", seconds=1, tokens_file=tmp_path / "missing.json")


def test_simulate_cli_reports_a_down_server_without_a_traceback(tmp_path: Path):
    aware = _aware_script()
    instance = tmp_path / "instance"
    env = _env(instance)
    subprocess.run([aware, "demo"], env=env, capture_output=True, timeout=60, check=True)
    url = f"http://127.0.0.1:{_free_port()}"
    done = subprocess.run(
        [aware, "simulate", "--url", url, "--seconds", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "cannot reach aware" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
