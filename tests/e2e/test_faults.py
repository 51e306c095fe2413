"""Faults with real processes: two `aware serve` on PostgreSQL and a Redis of this test's own.

Redis is started here on a free port (never the machine's shared one) and stopped and started
again during a stream of alarms; PostgreSQL is reached through a TCP proxy of this test, which
is cut and restored. Nothing may be lost and nothing may need a restart.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
import requests

from aware import migrate
from tests.conftest import PG_URL, pg_or_skip
from tests.e2e.conftest import Console, Server, free_port, setup_people


class OwnRedis:
    """redis-server on a free port, without persistence; stop() and start() at will."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis_lib.Redis.from_url(self.url, socket_connect_timeout=0.5).ping():
                    return
            except redis_lib.RedisError:
                time.sleep(0.05)
        raise RuntimeError("own redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class TcpProxy:
    """Forwards 127.0.0.1:port to the target; cut() closes the port and every connection."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = free_port()
        self.listener: socket.socket | None = None
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        if self.listener is not None:
            # shutdown() first: close() alone leaves a thread blocked in accept() accepting.
            with contextlib.suppress(OSError):
                self.listener.shutdown(socket.SHUT_RDWR)
            self.listener.close()
            self.listener = None
        with self.lock:
            conns, self.conns = self.conns, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


class StatusConsole(Console):
    """A console that also records `service.status` (the degraded banner's event)."""

    def __init__(self, url: str, token: str | None):
        super().__init__(url, token)
        self.statuses: list[str] = []
        self.sio.on("service.status", self._status, namespace="/dispatch")

    def _status(self, data: dict[str, Any]) -> None:
        with self.cond:
            self.statuses.append(data["redis"])
            self.cond.notify_all()

    def alarm_ids(self) -> set[int]:
        """Everything this console holds: its latest snapshot plus every live alarm since."""
        with self.cond:
            ids = {a["id"] for a in (self.snapshots[-1] if self.snapshots else [])}
            ids |= {d["id"] for name, d in self.events if name == "alarm.new"}
            return ids


@pytest.fixture(scope="module")
def pg_url(pg_schemas: Any) -> str:
    pg_or_skip()
    url = pg_schemas.new_url()
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Any:
    if shutil.which("redis-server") is None:
        if os.environ.get("AWARE_TEST_REQUIRE_REDIS") == "1":
            pytest.fail("redis-server is not installed (AWARE_TEST_REQUIRE_REDIS=1)")
        pytest.skip("redis-server is not installed")
    r = OwnRedis(tmp_path_factory.mktemp("redis"))
    r.start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, pg_url: str, own_redis: OwnRedis) -> Any:
    instance = tmp_path_factory.mktemp("faults")
    env = {
        "AWARE_DATABASE_URL": pg_url,
        "AWARE_REDIS_URL": own_redis.url,
        "AWARE_REDIS_CHANNEL": f"aware-faults-{uuid.uuid4().hex}",
        # The stream below is 50 SOS of one device in a few seconds: these tests are about
        # Redis faults, not storm folding (tests/integration/test_floods.py).
        "AWARE_DEVICE_ALARM_RATE": "1000",
    }
    a = Server(instance, env)
    setup_people(a)
    b = Server(instance, env)  # same instance folder: same secret
    a.start()
    b.start()
    yield a, b
    a.stop()
    b.stop()


def post_alarm(server: Server, device_token: str, event_id: str) -> Any:
    return requests.post(
        server.url + "/api/v1/ingest",
        timeout=10,
        headers={"Authorization": f"Bearer {device_token}"},
        json={"event_id": event_id, "type": "sos", "occurred_at": "2026-11-28T10:00:00+01:00"},
    )


def new_device(server: Server, coord: str) -> str:
    serial = f"AW-F{uuid.uuid4().hex[:8]}"
    r = server.post("/api/v1/devices", coord, json={"serial": serial, "kind": "victim_alarm"})
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def test_alarms_posted_to_one_process_reach_a_console_on_the_other(pair: Any) -> None:
    a, b = pair
    disp, coord = a.token("disp-e2e"), a.token("coord-e2e")
    on_b = StatusConsole(b.url, disp).connect()
    try:
        on_b.wait_for(lambda c: c.snapshots)
        r = post_alarm(a, new_device(a, coord), "cross-1")
        assert r.status_code == 202, r.text
        (alarm_id,) = r.json()["alarm_ids"]
        on_b.wait_for(lambda c: alarm_id in c.alarm_ids(), timeout=5)
        assert b.get("/readyz", disp).json()["redis"] == "up"
    finally:
        on_b.close()


def test_redis_stopped_and_restarted_during_a_stream_of_50_alarms_loses_nothing(
    pair: Any, own_redis: OwnRedis
) -> None:
    a, b = pair
    disp, coord = a.token("disp-e2e"), a.token("coord-e2e")
    device = new_device(a, coord)
    on_a = StatusConsole(a.url, disp).connect()
    on_b = StatusConsole(b.url, disp).connect()
    try:
        for c in (on_a, on_b):
            c.wait_for(lambda c: c.snapshots)
        ids: list[int] = []
        readyz_while_down: list[Any] = []
        for i in range(50):
            if i == 15:
                own_redis.stop()
                # Both processes notice: the consoles show the degraded banner.
                for c in (on_a, on_b):
                    c.wait_for(lambda c: "down" in c.statuses, timeout=5)
                readyz_while_down.append(b.get("/readyz", disp))
            if i == 35:
                own_redis.start()
            # Alternate the processes: half the stream is taken in by B.
            server = a if i % 2 == 0 else b
            r = post_alarm(server, device, f"stream-{i}")
            assert r.status_code == 202, (i, r.text)  # intake never waits on Redis
            ids.extend(r.json()["alarm_ids"])
            time.sleep(0.05)
        assert len(set(ids)) == 50
        # /readyz reported Redis down but stayed ready (intake goes on without Redis).
        (ready,) = readyz_while_down
        assert ready.status_code == 200 and ready.json()["redis"] == "down"
        # Every alarm is in the database.
        listed = {x["id"] for x in a.get("/api/v1/alarms?limit=500", disp).json()["alarms"]}
        assert set(ids) <= listed
        # Consoles recover: banner gone, and each holds all 50 (live or from the snapshot the
        # server sent once Redis was back).
        for c in (on_a, on_b):
            c.wait_for(lambda c: c.statuses and c.statuses[-1] == "up", timeout=10)
            c.wait_for(lambda c: set(ids) <= c.alarm_ids(), timeout=10)
        assert b.get("/readyz", disp).json()["redis"] == "up"
        # And the queue works live again across processes.
        r = post_alarm(a, device, "after-recovery")
        (new_id,) = r.json()["alarm_ids"]
        on_b.wait_for(lambda c: new_id in c.alarm_ids(), timeout=5)
    finally:
        on_a.close()
        on_b.close()


@pytest.fixture
def proxied(tmp_path: Path, pg_schemas: Any) -> Any:
    pg_or_skip()
    pg_url = pg_schemas.new_url()
    migrate.upgrade(pg_url)
    host_port = PG_URL.split("@", 1)[1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    proxy = TcpProxy((host, int(port or 5432)))
    proxy.start()
    url = pg_url.replace(f"@{host_port}/", f"@127.0.0.1:{proxy.port}/")
    server = Server(tmp_path, {"AWARE_DATABASE_URL": url})
    setup_people(server)
    server.start()
    yield server, proxy
    server.stop()
    proxy.cut()


def test_postgres_dropped_and_restored_answers_503_then_recovers_without_restart(
    proxied: Any,
) -> None:
    server, proxy = proxied
    disp, coord = server.token("disp-e2e"), server.token("coord-e2e")
    device = new_device(server, coord)
    assert post_alarm(server, device, "pg-before").status_code == 202
    proxy.cut()
    r = post_alarm(server, device, "pg-during")
    assert r.status_code == 503, r.text
    err = r.json()["error"]
    assert err["code"] == "unavailable" and set(err) >= {"code", "message", "fields"}
    assert r.headers["Retry-After"] == "5"
    assert requests.get(server.url + "/readyz", timeout=10).status_code == 503
    assert requests.get(server.url + "/healthz", timeout=10).status_code == 200
    proxy.start()
    deadline = time.monotonic() + 10
    while requests.get(server.url + "/readyz", timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "readyz did not recover"
        time.sleep(0.2)
    r = post_alarm(server, device, "pg-after")
    assert r.status_code == 202, r.text
    # The device retries what was refused: stored now, once.
    r = post_alarm(server, device, "pg-during")
    assert r.status_code == 202 and r.json()["accepted"] == 1
    alarms = server.get("/api/v1/alarms?limit=500", disp).json()["alarms"]
    assert server.proc is not None and server.proc.poll() is None  # the same process
    assert len([x for x in alarms if x["status"] == "open"]) >= 3
