"""End-to-end fixtures: `aware serve` as a real process, real HTTP and Socket.IO clients."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

BIN = Path(sys.executable).parent
AWARE = str(BIN / "aware")
PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One `aware serve` process on a free port."""

    def __init__(self, instance: Path, extra_env: dict[str, str] | None = None):
        self.instance = instance
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            # Escalation timers fire after 10 minutes here; their own tests set a short delay.
            "AWARE_ESCALATION_AFTER_S": "600",
            "AWARE_INSTANCE_PATH": str(instance),
            "AWARE_LOG_LEVEL": "INFO",
            **(extra_env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = instance / f"server-{self.port}.log"

    def cli(self, *args: str) -> str:
        out = subprocess.run(
            [AWARE, *args], env=self.env, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr
        return out.stdout

    def start(self) -> Server:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [AWARE, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if requests.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not become ready")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def token(self, username: str) -> str:
        r = requests.post(
            self.url + "/api/v1/auth/token",
            json={"username": username, "password": PASSWORD},
            timeout=10,
        )
        assert r.status_code == 200, r.text
        return str(r.json()["token"])

    def get(self, path: str, token: str) -> Any:
        return requests.get(
            self.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )

    def post(self, path: str, token: str, **kw: Any) -> Any:
        return requests.post(
            self.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10, **kw
        )


def setup_people(server: Server) -> None:
    server.cli("user", "create", "disp-e2e", "--role", "dispatcher", "--password", PASSWORD)
    server.cli("user", "create", "coord-e2e", "--role", "coordinator", "--password", PASSWORD)


class Console:
    """A dispatch console: a real python-socketio client on /dispatch."""

    def __init__(self, url: str, token: str | None):
        self.url = url
        self.token = token
        self.snapshots: list[list[dict[str, Any]]] = []
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.cond = threading.Condition()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("alarms.snapshot", self._snapshot, namespace="/dispatch")
        self.sio.on("alarm.new", self._new, namespace="/dispatch")
        self.sio.on("alarm.updated", self._updated, namespace="/dispatch")

    def _snapshot(self, data: dict[str, Any]) -> str:
        with self.cond:
            self.snapshots.append(data["alarms"])
            self.cond.notify_all()
        return "ok"

    def _new(self, data: dict[str, Any]) -> str:
        with self.cond:
            self.events.append(("alarm.new", data))
            self.cond.notify_all()
        return "ok"

    def _updated(self, data: dict[str, Any]) -> str:
        with self.cond:
            self.events.append(("alarm.updated", data))
            self.cond.notify_all()
        return "ok"

    def connect(self) -> Console:
        auth = {"token": self.token} if self.token is not None else None
        self.sio.connect(
            self.url, namespaces=["/dispatch"], auth=auth, transports=["websocket"], wait_timeout=10
        )
        return self

    def wait_for(self, predicate: Any, timeout: float = 10) -> Any:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = predicate(self)
                if found:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("timed out waiting for the console")
                self.cond.wait(remaining)

    def close(self) -> None:
        if self.sio.connected:
            self.sio.disconnect()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One server per test module (start-up costs seconds); tests use devices of their own."""
    srv = Server(tmp_path_factory.mktemp("server"))
    setup_people(srv)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def tokens(server: Server) -> dict[str, str]:
    return {"dispatcher": server.token("disp-e2e"), "coordinator": server.token("coord-e2e")}


@pytest.fixture
def device(server: Server, tokens: dict[str, str]) -> dict[str, Any]:
    """A device of this test's own: {"id", "token"}."""
    serial = f"AW-{uuid.uuid4().hex[:10]}"
    r = server.post(
        "/api/v1/devices", tokens["coordinator"], json={"serial": serial, "kind": "victim_alarm"}
    )
    assert r.status_code == 201, r.text
    return {"id": r.json()["id"], "token": r.json()["token"]}


@pytest.fixture
def device_token(device: dict[str, Any]) -> str:
    return str(device["token"])


@pytest.fixture
def consoles() -> Any:
    made: list[Console] = []

    def make(url: str, token: str | None) -> Console:
        c = Console(url, token)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()
