"""Alarm latency: POST /api/v1/ingest until the last of K dispatch consoles has `alarm.new`.

Starts `aware serve` and bench/floor_app.py (a bare Flask-SocketIO endpoint that inserts one
row and emits: the floor of this stack) as subprocesses on free loopback ports, connects K
Socket.IO consoles to each, and posts N SOS events one by one to each target (interleaved, so
machine noise hits both alike). Latency of one alarm = arrival of `alarm.new` at the last of
the K consoles - the moment just before the POST. Each console runs in a process of its own
(as each dispatcher has a machine of their own), timestamping with the same monotonic clock.
Prints p50/p95/p99/max, lost and shown twice for both, and p99(aware) / p99(floor) against
the target of 1.5x.

It measures the alarm path, not storm folding: all SOS come from one device, so the aware
server runs with AWARE_DEVICE_ALARM_RATE=100000 (the default of 6 a minute would fold all but
the first six into one storm alarm, whose `alarm.new` went out long before). An answer naming
an alarm already posted counts as a failed post, never as a latency.

    .venv/bin/python bench/alarm_latency.py [--n 300] [--k 5] [--database-url URL]

Exit status: 0 targets met, 1 a target missed, 2 the bench could not run, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import math
import os
import platform
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import socketio
from harness import (
    HOST,
    PASSWORD,
    ROOT,
    BenchError,
    Server,
    aware_command,
    clean_env,
    free_port,
    run_checked,
)

NAMESPACE = "/dispatch"
ARRIVAL_TIMEOUT_S = 5.0
HTTP_TIMEOUT_S = 10.0
WARMUP = 20
TARGET_RATIO = 1.5


def redact(url: str) -> str:
    """A database URL without its password."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def rfc3339_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class ConsoleWorker:
    """One dispatch console (a Socket.IO client on /dispatch) in a process of its own
    (`--console-worker URL INDEX`), as each dispatcher has a machine of their own.

    Each `alarm.new` is written to stdout as "ARRIVAL <alarm id> <console index> <clock>", the
    clock being time.perf_counter(): CLOCK_MONOTONIC on Linux, the same clock in every process,
    so the poster can subtract its own readings. Consoles in one process would queue on one
    interpreter lock and measure the bench, not the server.
    """

    def __init__(self, url: str, index: int, token: str | None):
        self.url, self.index, self.token = url, index, token

    def say(self, line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def run(self) -> None:
        auth = {"token": self.token} if self.token else None
        client = socketio.Client(reconnection=False)
        client.on("alarm.new", self._on_alarm, namespace=NAMESPACE)
        client.on("disconnect", lambda *_: self.say("DISCONNECT"), namespace=NAMESPACE)
        try:
            client.connect(
                self.url,
                transports=["websocket"],
                namespaces=[NAMESPACE],
                auth=auth,
                wait_timeout=10,
            )
        except socketio.exceptions.ConnectionError as exc:
            self.say(f"ERROR console {self.index + 1} could not join {NAMESPACE}: {exc}")
            os._exit(2)
        self.say("READY")
        sys.stdin.read()  # until the parent closes our stdin (or dies)
        os._exit(0)  # no 3 s close handshake

    def _on_alarm(self, data: Any) -> str:
        at = time.perf_counter()
        alarm_id = data.get("id") if isinstance(data, dict) else None
        self.say(f"ARRIVAL {alarm_id} {self.index} {at!r}")
        return "ok"  # the server asks for an acknowledgement


class Consoles:
    """The poster's view of K console processes (one client each): arrivals per alarm."""

    def __init__(self, url: str, k: int, auth: dict[str, str] | None):
        self.url = url
        self.k = k
        self.token = (auth or {}).get("token")
        self.cond = threading.Condition()
        self.arrivals: dict[Any, dict[int, float]] = {}
        self.shown_twice: dict[Any, int] = {}
        self.disconnects = 0
        self.procs: list[subprocess.Popen[str]] = []
        self.ready = threading.Semaphore(0)
        self.errors: list[str] = []

    def connect(self) -> None:
        env = {**os.environ, "BENCH_CONSOLE_TOKEN": self.token or ""}
        for index in range(self.k):
            argv = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--console-worker",
                self.url,
                str(index),
            ]
            proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
            )
            self.procs.append(proc)
            threading.Thread(target=self._read, args=(proc,), daemon=True).start()
        deadline = time.monotonic() + 60
        for _ in range(self.k):
            if not self.ready.acquire(timeout=max(0.1, deadline - time.monotonic())):
                raise BenchError(f"consoles for {self.url}: not ready in 60 s")
        if self.errors:
            raise BenchError(f"consoles for {self.url}: {self.errors[0]}")

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        announced = False
        for line in proc.stdout:
            parts = line.split()
            if not parts:
                continue
            if parts[0] in ("READY", "ERROR"):
                if parts[0] == "ERROR":
                    self.errors.append(line.strip())
                announced = True
                self.ready.release()
            elif parts[0] == "DISCONNECT":
                with self.cond:
                    self.disconnects += 1
            elif parts[0] == "ARRIVAL" and len(parts) == 4:
                alarm_id: Any = int(parts[1]) if parts[1].isdigit() else parts[1]
                index, at = int(parts[2]), float(parts[3])
                with self.cond:
                    seen = self.arrivals.setdefault(alarm_id, {})
                    if index in seen:
                        self.shown_twice[alarm_id] = self.shown_twice.get(alarm_id, 0) + 1
                    else:
                        seen[index] = at
                    self.cond.notify_all()
        if not announced:
            self.errors.append("a console process ended before it was ready")
            self.ready.release()

    def last_arrival(self, alarm_id: Any, timeout: float) -> float | None:
        """perf_counter() when the last console got the alarm, or None after the timeout."""
        with self.cond:
            done = self.cond.wait_for(
                lambda: len(self.arrivals.get(alarm_id, ())) >= self.k, timeout
            )
            return max(self.arrivals[alarm_id].values()) if done else None

    def close(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(Exception):
                assert proc.stdin is not None
                proc.stdin.close()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@dataclass
class Target:
    name: str
    server: Server
    ingest_url: str
    headers: dict[str, str]
    consoles: Consoles
    latencies_ms: list[float] = field(default_factory=list)
    http_ms: list[float] = field(default_factory=list)
    posted_ids: list[Any] = field(default_factory=list)
    lost: int = 0
    errors: list[str] = field(default_factory=list)
    http: requests.Session = field(default_factory=requests.Session)

    def post_one(self, event_id: str, counted: bool) -> None:
        body = {
            "event_id": event_id,
            "type": "sos",
            "occurred_at": rfc3339_now(),
            "position": {"lat": 52.09, "lon": 5.12, "accuracy_m": 10},
        }
        t0 = time.perf_counter()
        try:
            resp = self.http.post(
                self.ingest_url, json=body, headers=self.headers, timeout=HTTP_TIMEOUT_S
            )
        except requests.RequestException as exc:
            self._fail(f"{event_id}: {exc}")
            return
        t_http = time.perf_counter()
        alarm_ids = resp.json().get("alarm_ids") if resp.status_code == 202 else None
        if not isinstance(alarm_ids, list) or len(alarm_ids) != 1:
            self._fail(f"{event_id}: HTTP {resp.status_code} {resp.text[:200]}")
            return
        alarm_id = alarm_ids[0]
        if alarm_id in self.posted_ids:
            # Folded into an alarm already shown (a storm): its arrival says nothing of this one.
            self._fail(f"{event_id}: answered with alarm {alarm_id} posted before")
            return
        self.posted_ids.append(alarm_id)
        t_last = self.consoles.last_arrival(alarm_id, ARRIVAL_TIMEOUT_S)
        if t_last is None:
            self.lost += 1
            if not self.server.alive():
                raise BenchError(f"{self.name} died:\n{self.server.log_tail()}")
            return
        if counted:
            self.latencies_ms.append((t_last - t0) * 1000)
            self.http_ms.append((t_http - t0) * 1000)

    def _fail(self, message: str) -> None:
        self.lost += 1
        self.errors.append(message)
        if not self.server.alive():
            raise BenchError(f"{self.name} died:\n{self.server.log_tail()}")
        if len(self.errors) >= 10:
            raise BenchError(f"{self.name}: 10 failed posts, last: {message}")

    def shown_twice(self) -> int:
        ids = set(self.posted_ids)
        with self.consoles.cond:
            return sum(n for alarm_id, n in self.consoles.shown_twice.items() if alarm_id in ids)

    def lost_after_grace(self) -> int:
        """Alarms still missing at a console at the end (a late arrival is still lost above)."""
        with self.consoles.cond:
            return sum(
                1
                for a in self.posted_ids
                if len(self.consoles.arrivals.get(a, ())) < self.consoles.k
            )


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@contextlib.contextmanager
def connected(consoles: Consoles) -> Iterator[Consoles]:
    try:
        consoles.connect()
        yield consoles
    finally:
        consoles.close()


def aware_setup(base_url: str, tag: str, unique_names: bool) -> tuple[str, str]:
    """Users (made before start), then a dispatcher token and a device token."""
    suffix = f"-{tag}" if unique_names else ""
    disp, coord = f"bench-disp{suffix}", f"bench-coord{suffix}"
    http = requests.Session()

    def token(username: str) -> str:
        resp = http.post(
            f"{base_url}/api/v1/auth/token",
            json={"username": username, "password": PASSWORD},
            timeout=HTTP_TIMEOUT_S,
        )
        if resp.status_code != 200:
            raise BenchError(f"token for {username}: HTTP {resp.status_code} {resp.text[:200]}")
        value: str = resp.json()["token"]
        return value

    dispatcher = token(disp)
    resp = http.post(
        f"{base_url}/api/v1/devices",
        json={"serial": f"bench-{tag}", "kind": "victim_alarm"},
        headers={"Authorization": f"Bearer {token(coord)}"},
        timeout=HTTP_TIMEOUT_S,
    )
    if resp.status_code != 201:
        raise BenchError(f"device registration: HTTP {resp.status_code} {resp.text[:200]}")
    return dispatcher, resp.json()["token"]


def create_users(env: dict[str, str], tag: str, unique_names: bool) -> None:
    suffix = f"-{tag}" if unique_names else ""
    for name, role in (
        (f"bench-disp{suffix}", "dispatcher"),
        (f"bench-coord{suffix}", "coordinator"),
    ):
        run_checked(
            [*aware_command(), "user", "create", name, "--role", role, "--password", PASSWORD],
            env,
            f"aware user create {name}",
        )


def run(args: argparse.Namespace) -> int:
    tag = secrets.token_hex(4)
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="aware-bench-")))
        aware_env = clean_env(tmp / "aware")
        # One device posts every SOS: no storm folding (see the docstring).
        aware_env["AWARE_DEVICE_ALARM_RATE"] = "100000"
        on_postgres = args.database_url is not None
        if on_postgres:
            aware_env["AWARE_DATABASE_URL"] = args.database_url
            run_checked([*aware_command(), "db", "upgrade"], aware_env, "aware db upgrade")
        # A shared PostgreSQL database may hold users from earlier runs: names unique per run.
        create_users(aware_env, tag, unique_names=on_postgres)

        aware = Server.aware("aware", aware_env, tmp / "aware.log")
        floor_port = free_port()
        floor = Server(
            "floor",
            [
                sys.executable,
                str(ROOT / "bench" / "floor_app.py"),
                "--host",
                HOST,
                "--port",
                str(floor_port),
                "--db",
                str(tmp / "floor.db"),
            ],
            clean_env(tmp / "floor"),
            floor_port,
            tmp / "floor.log",
        )
        stack.enter_context(aware.running())
        stack.enter_context(floor.running())

        dispatcher_token, device_token = aware_setup(aware.base_url, tag, unique_names=on_postgres)
        targets = [
            Target(
                "aware",
                aware,
                f"{aware.base_url}/api/v1/ingest",
                {"Authorization": f"Bearer {device_token}"},
                stack.enter_context(
                    connected(Consoles(aware.base_url, args.k, {"token": dispatcher_token}))
                ),
            ),
            Target(
                "floor",
                floor,
                f"{floor.base_url}/ingest",
                {},
                stack.enter_context(connected(Consoles(floor.base_url, args.k, None))),
            ),
        ]
        for target in targets:
            stack.callback(target.http.close)

        for i in range(WARMUP + args.n):
            counted = i >= WARMUP
            # Alternate which target goes first, so neither always follows the other.
            for target in targets if i % 2 == 0 else reversed(targets):
                target.post_one(f"bench-{tag}-{i}", counted)
        time.sleep(1.0)  # late duplicates still count

        report(args, targets, on_postgres)
        ok = met(targets)
    return 0 if ok else 1


def met(targets: list[Target]) -> bool:
    aware, floor = targets
    if not aware.latencies_ms or not floor.latencies_ms:
        return False
    ratio = percentile(aware.latencies_ms, 99) / percentile(floor.latencies_ms, 99)
    clean = all(t.lost == 0 and t.shown_twice() == 0 for t in targets)
    return ratio <= TARGET_RATIO and clean


def report(args: argparse.Namespace, targets: list[Target], on_postgres: bool) -> None:
    py = f"{platform.python_version()} ({platform.python_implementation()})"
    print("Alarm latency: POST /ingest -> alarm.new at the last of K consoles")
    print(
        f"N={args.n} alarms per target (+{WARMUP} warm-up, not timed), K={args.k} consoles, "
        f"posted one by one, targets interleaved"
    )
    print(f"Python {py} on {platform.system()} {platform.machine()}")
    if on_postgres:
        print(
            f"aware on PostgreSQL ({redact(args.database_url)}); floor on SQLite WAL, "
            "synchronous=FULL"
        )
    else:
        print("both on SQLite WAL, synchronous=FULL")
    print()
    head = (
        f"{'target':<7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'lost':>5} {'shown twice':>12}   {'(HTTP 202 p50 ms)':>17}"
    )
    print(head)
    print("-" * len(head))
    for t in targets:
        lat = t.latencies_ms
        if not lat:
            print(f"{t.name:<7} no alarm arrived; lost {t.lost}")
            continue
        print(
            f"{t.name:<7} {percentile(lat, 50):8.2f} {percentile(lat, 95):8.2f} "
            f"{percentile(lat, 99):8.2f} {max(lat):8.2f} {t.lost:>5} {t.shown_twice():>12}   "
            f"{percentile(t.http_ms, 50):17.2f}"
        )
    print()
    aware, floor = targets
    if aware.latencies_ms and floor.latencies_ms:
        ratio = percentile(aware.latencies_ms, 99) / percentile(floor.latencies_ms, 99)
        verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
        print(f"p99 aware / p99 floor = {ratio:.2f}x  (target <= {TARGET_RATIO}x: {verdict})")
    lost = sum(t.lost for t in targets)
    twice = sum(t.shown_twice() for t in targets)
    print(
        f"lost: aware {aware.lost}, floor {floor.lost}  (target 0: "
        f"{'met' if lost == 0 else 'NOT met'})"
    )
    print(
        f"shown twice: aware {aware.shown_twice()}, floor {floor.shown_twice()}  (target 0: "
        f"{'met' if twice == 0 else 'NOT met'})"
    )
    print(
        "(lost and shown twice count warm-up alarms too; lost = not at every console "
        f"within {ARRIVAL_TIMEOUT_S:.0f}s)"
    )
    for t in targets:
        still = t.lost_after_grace()
        if still != t.lost:
            print(f"{t.name}: {t.lost - still} lost alarm(s) arrived late, {still} never")
        if t.consoles.disconnects:
            print(f"{t.name}: {t.consoles.disconnects} console disconnect(s) during the run")
        for err in t.errors[:5]:
            print(f"{t.name}: failed post: {err}")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--console-worker":
        token = os.environ.get("BENCH_CONSOLE_TOKEN") or None
        ConsoleWorker(sys.argv[2], int(sys.argv[3]), token).run()
        return
    parser = argparse.ArgumentParser(
        description="Alarm latency of aware against a bare Flask-SocketIO floor."
    )
    parser.add_argument("--n", type=int, default=300, help="alarms per target (default 300)")
    parser.add_argument("--k", type=int, default=5, help="connected consoles (default 5)")
    parser.add_argument(
        "--database-url",
        default=None,
        help="run aware on this PostgreSQL URL (postgresql+psycopg://...); default: SQLite",
    )
    args = parser.parse_args()
    if args.n < 1 or args.k < 1:
        parser.error("--n and --k must be at least 1")
    if args.database_url is not None and not args.database_url.startswith("postgresql"):
        parser.error("--database-url must be a postgresql+psycopg:// URL")
    try:
        sys.exit(run(args))
    except BenchError as exc:
        print(f"alarm_latency: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("alarm_latency: interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
