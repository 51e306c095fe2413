"""Alarm latency under load: two `aware serve` processes on PostgreSQL and Redis.

1,000 victim alarms heartbeat every 60 s and 100 perpetrator trackers send a position every
second, spread evenly over both web processes, from load-generator processes of their own
(asyncio + aiohttp, keep-alive connection pools). Meanwhile an SOS is pressed every few seconds
(alternately on each process), and K dispatch consoles on EACH process (python-socketio,
websocket, one process per console) time POST -> `alarm.new`. A dispatcher then accepts and
resolves each alarm through the API, as a control room would, so the queue stays short.

The bench makes a fresh PostgreSQL schema of its own (dropped afterwards), picks an empty Redis
database number and a unique channel (it never flushes, writes or stops the shared Redis), and
prints: requests per second achieved per kind, error counts, alarm latency p50/p99/max during
the load, lost (alarms committed, as read from the database, that did not reach every console)
and shown twice, and the server processes' CPU and RSS.

    .venv/bin/python bench/load.py                     # 5 minutes
    .venv/bin/python bench/load.py --minutes 0.5       # while developing
    .venv/bin/python bench/load.py --pg-url postgresql+psycopg://USER@HOST:5432/DB \\
        --redis-url redis://127.0.0.1:6379

Exit status: 0 targets met (0 lost, 0 shown twice, 0 intake errors), 1 a target missed,
2 the bench could not run, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from alarm_latency import Consoles, connected, percentile, redact
from harness import PASSWORD, ROOT, BenchError, Server, aware_command, clean_env, run_checked

HTTP_TIMEOUT_S = 10.0
ARRIVAL_LATE_S = 5.0  # an alarm reaching a console later than this counts as late
GRACE_S = 10.0  # after the load: time left for stragglers before "lost" is decided
REDIS_TEST_DB = 15  # the test suite's default database: never taken by the bench
DEFAULT_PG = os.environ.get(
    "AWARE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
UTRECHT = (52.0907, 5.1214)  # lat, lon


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


# --------------------------------------------------------------------------------------------
# Load generator (a process of its own: `load.py --generator CONFIG INDEX`)
# --------------------------------------------------------------------------------------------


@dataclass
class KindStats:
    sent: int = 0
    ok: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    exceptions: Counter[str] = field(default_factory=Counter)
    late: int = 0  # started more than one period after its planned moment
    http_ms: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "ok": self.ok,
            "statuses": dict(self.statuses),
            "exceptions": dict(self.exceptions),
            "late": self.late,
            "http_ms": [round(x, 2) for x in self.http_ms],
        }


async def _device_loop(
    http: Any,
    url: str,
    device: dict[str, Any],
    period: float,
    start: float,
    end: float,
    stats: KindStats,
) -> None:
    """One device: an event every `period` seconds from its own phase, waiting for each answer
    (a device sends the next event after the previous one was answered, as real ones do)."""
    import aiohttp

    tracker = device["kind"] == "perpetrator_tracker"
    headers = {"Authorization": f"Bearer {device['token']}", "Content-Type": "application/json"}
    rng = random.Random(device["token"])
    lat, lon = device["start"]
    planned = start + device["phase"] * period
    n = 0
    while planned < end:
        delay = planned - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif -delay > period:
            stats.late += 1
        n += 1
        if tracker:
            lat += rng.uniform(-0.0002, 0.0002)
            lon += rng.uniform(-0.0003, 0.0003)
            event: dict[str, Any] = {
                "event_id": f"p-{n}",
                "type": "position",
                "occurred_at": now_rfc3339(),
                "position": {"lat": lat, "lon": lon, "accuracy_m": 12.0},
            }
        else:
            event = {
                "event_id": f"h-{n}",
                "type": "heartbeat",
                "occurred_at": now_rfc3339(),
                "battery_pct": 87.0,
            }
        body = json.dumps(event)
        stats.sent += 1
        t0 = time.perf_counter()
        try:
            async with http.post(url, data=body, headers=headers) as resp:
                await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            stats.exceptions[type(exc).__name__] += 1
        else:
            stats.http_ms.append((time.perf_counter() - t0) * 1000)
            stats.statuses[str(status)] += 1
            if status == 202:
                stats.ok += 1
        planned += period


async def _generate(config: dict[str, Any], index: int) -> dict[str, Any]:
    import aiohttp

    devices = [d for d in config["devices"] if d["generator"] == index]
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)
    sessions = [
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=config["connections"], keepalive_timeout=30),
            timeout=timeout,
        )
        for _ in config["servers"]
    ]
    stats = {"heartbeat": KindStats(), "position": KindStats()}
    start, end = config["start_at"], config["start_at"] + config["duration_s"]
    try:
        tasks = []
        for d in devices:
            kind = "position" if d["kind"] == "perpetrator_tracker" else "heartbeat"
            period = config["position_s"] if kind == "position" else config["heartbeat_s"]
            url = config["servers"][d["server"]] + "/api/v1/ingest"
            tasks.append(
                _device_loop(sessions[d["server"]], url, d, period, start, end, stats[kind])
            )
        sys.stdout.write("READY\n")
        sys.stdout.flush()
        await asyncio.gather(*tasks)
    finally:
        for s in sessions:
            await s.close()
    result: dict[str, Any] = {kind: s.as_dict() for kind, s in stats.items()}
    result["cpu_s"] = time.process_time()
    return result


def generator_main(config_path: str, index: int) -> None:
    config = json.loads(Path(config_path).read_text())
    result = asyncio.run(_generate(config, index))
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()


class Generators:
    """The load-generator processes, seen from the bench."""

    def __init__(self, config_path: Path, count: int):
        self.config_path = config_path
        self.procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--generator",
                    str(config_path),
                    str(i),
                ],
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            for i in range(count)
        ]

    def wait_ready(self) -> None:
        for proc in self.procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if line.strip() != "READY":
                raise BenchError(f"load generator did not start: {line.strip()!r}")

    def results(self, timeout: float) -> list[dict[str, Any]]:
        out = []
        for proc in self.procs:
            try:
                stdout, _ = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired as exc:
                raise BenchError("a load generator did not finish in time") from exc
            lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
            if proc.returncode != 0 or not lines:
                raise BenchError(f"a load generator failed (exit {proc.returncode})")
            out.append(json.loads(lines[-1][len("RESULT ") :]))
        return out

    def kill(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


# --------------------------------------------------------------------------------------------
# The bench
# --------------------------------------------------------------------------------------------


@dataclass
class Press:
    """One SOS press: when it was posted, where, and what came back."""

    server: int
    t0: float
    alarm_id: int | None = None
    http_ms: float | None = None
    error: str | None = None


@dataclass
class ProcSample:
    cpu_s: float
    rss_kib: int
    hwm_kib: int
    threads: int


def proc_sample(pid: int) -> ProcSample:
    """CPU seconds (user + system) and memory of a process, from /proc (Linux)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    status: dict[str, str] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        status[key] = value.strip()

    def kib(key: str) -> int:
        return int(status[key].split()[0])

    return ProcSample(cpu, kib("VmRSS"), kib("VmHWM"), int(status["Threads"]))


@contextlib.contextmanager
def pg_schema(pg_url: str, tag: str) -> Iterator[str]:
    """A fresh schema of the bench's own; the URL pointing at it; dropped afterwards."""
    from sqlalchemy import create_engine, text

    name = f"bench_load_{tag}"
    engine = create_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
    except Exception as exc:
        engine.dispose()
        raise BenchError(f"PostgreSQL at {redact(pg_url)}: {exc}") from exc
    sep = "&" if "?" in pg_url else "?"
    try:
        yield f"{pg_url}{sep}options=-csearch_path%3D{name}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        engine.dispose()


def free_redis_db(base_url: str) -> int:
    """An empty Redis database number (never the test suite's 15, never 0). Socket.IO's Redis
    manager only publishes and subscribes, so the bench writes no key in it."""
    import redis

    base = base_url.rstrip("/")
    for number in range(14, 0, -1):
        client = redis.Redis.from_url(f"{base}/{number}", socket_connect_timeout=2)
        try:
            if client.dbsize() == 0:
                return number
        except redis.RedisError as exc:
            raise BenchError(f"Redis at {base}: {exc}") from exc
        finally:
            client.close()
    raise BenchError(f"Redis at {base}: no empty database among 1-14")


def committed_alarms(db_url: str) -> dict[int, str]:
    """Every alarm in the bench's schema (id -> type): what was committed, whatever the HTTP
    answer was."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, type FROM alarms ORDER BY id"))
            return {int(r[0]): str(r[1]) for r in rows}
    finally:
        engine.dispose()


def api_token(base_url: str, username: str) -> str:
    resp = requests.post(
        f"{base_url}/api/v1/auth/token",
        json={"username": username, "password": PASSWORD},
        timeout=HTTP_TIMEOUT_S,
    )
    if resp.status_code != 200:
        raise BenchError(f"token for {username}: HTTP {resp.status_code} {resp.text[:200]}")
    token: str = resp.json()["token"]
    return token


def register_devices(
    servers: list[Server], coordinator: str, tag: str, victims: int, trackers: int
) -> list[dict[str, Any]]:
    """Register the devices through the API (alternately on each process); their tokens."""
    kinds = ["victim_alarm"] * victims + ["perpetrator_tracker"] * trackers
    local = threading.local()

    def one(i: int) -> dict[str, Any]:
        http = getattr(local, "http", None)
        if http is None:
            http = local.http = requests.Session()
        kind = kinds[i]
        server = i % len(servers)
        resp = http.post(
            f"{servers[server].base_url}/api/v1/devices",
            json={"serial": f"LOAD-{tag}-{i:05d}", "kind": kind},
            headers={"Authorization": f"Bearer {coordinator}"},
            timeout=HTTP_TIMEOUT_S,
        )
        if resp.status_code != 201:
            raise BenchError(f"device registration: HTTP {resp.status_code} {resp.text[:200]}")
        return {
            "id": resp.json()["id"],
            "token": resp.json()["token"],
            "kind": kind,
            "server": server,
        }

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, range(len(kinds))))


def setup_cases(
    servers: list[Server], coordinator: str, tag: str, devices: list[dict[str, Any]]
) -> int:
    """Put every tracker on a case with a victim alarm, as in AWARE: a location ban (a 400 m
    circle about 2 km east of where he starts) and a contact ban (200 m around her home, about
    3 km north), so every position is judged against both and none raises an alarm."""
    trackers = [d for d in devices if d["kind"] == "perpetrator_tracker"]
    victims = [d for d in devices if d["kind"] == "victim_alarm"][: len(trackers)]
    now = dt.datetime.now(dt.UTC)
    local = threading.local()

    def post(server: Server, path: str, body: dict[str, Any]) -> dict[str, Any]:
        http = getattr(local, "http", None)
        if http is None:
            http = local.http = requests.Session()
        resp = http.post(
            f"{server.base_url}/api/v1{path}",
            json=body,
            headers={"Authorization": f"Bearer {coordinator}"},
            timeout=HTTP_TIMEOUT_S,
        )
        if resp.status_code != 201:
            raise BenchError(f"POST {path}: HTTP {resp.status_code} {resp.text[:200]}")
        answer: dict[str, Any] = resp.json()
        return answer

    def one(i: int) -> None:
        tracker, victim = trackers[i], victims[i]
        server = servers[i % len(servers)]
        lat, lon = tracker["start"]
        case = post(
            server,
            "/cases",
            {
                "reference": f"LOAD-{tag}-{i:04d}",
                "municipality": "0344",
                "victim": {"name": f"Bench victim {i}", "home": {"lat": lat + 0.03, "lon": lon}},
                "perpetrator": {"name": f"Bench perpetrator {i}"},
            },
        )
        cid = case["id"]
        post(server, f"/cases/{cid}/devices", {"device_id": victim["id"], "role": "victim"})
        post(server, f"/cases/{cid}/devices", {"device_id": tracker["id"], "role": "perpetrator"})
        valid = {
            "valid_from": (now - dt.timedelta(hours=1)).isoformat(),
            "valid_until": (now + dt.timedelta(days=30)).isoformat(),
            "legal_basis": "509hh Sv",
        }
        zone = {"type": "Point", "coordinates": [lon + 0.03, lat], "radius_m": 400}
        post(server, f"/cases/{cid}/bans", {"kind": "location", "zones": [zone], **valid})
        post(server, f"/cases/{cid}/bans", {"kind": "contact", "distance_m": 200, **valid})
        victim["on_case"] = True

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one, range(len(trackers))))
    return len(trackers)


class SosPresser:
    """Presses SOS every `every_s` seconds on victim devices, alternately on each process,
    without waiting for the consoles (so the schedule does not slip); a dispatcher accepts and
    resolves each alarm once every console has it."""

    def __init__(
        self,
        servers: list[Server],
        victims: list[dict[str, Any]],
        every_s: float,
        all_consoles: list[Consoles],
        dispatcher: str,
        prefix: str,
    ):
        self.prefix = prefix
        self.servers = servers
        self.victims = victims
        self.every_s = every_s
        self.all_consoles = all_consoles
        self.dispatcher = dispatcher
        self.presses: list[Press] = []
        self.handling_errors: list[str] = []
        self.stop = threading.Event()
        self.handler = ThreadPoolExecutor(max_workers=2)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(timeout=HTTP_TIMEOUT_S + 5)
        self.handler.shutdown(wait=True)

    def _run(self) -> None:
        sessions = [requests.Session() for _ in self.servers]
        planned = time.monotonic() + 1.0
        n = 0
        while not self.stop.wait(max(0.0, planned - time.monotonic())):
            # Victim devices post to their own process: alternate over victims of each one.
            server = n % len(self.servers)
            mine = [v for v in self.victims if v["server"] == server]
            device = mine[(n // len(self.servers)) % len(mine)]
            n += 1
            planned += self.every_s
            body: dict[str, Any] = {
                "event_id": f"{self.prefix}-{n}",
                "type": "sos",
                "occurred_at": now_rfc3339(),
                "position": {"lat": UTRECHT[0], "lon": UTRECHT[1], "accuracy_m": 8.0},
            }
            press = Press(server, time.perf_counter())
            try:
                resp = sessions[server].post(
                    f"{self.servers[server].base_url}/api/v1/ingest",
                    json=body,
                    headers={"Authorization": f"Bearer {device['token']}"},
                    timeout=HTTP_TIMEOUT_S,
                )
                press.http_ms = (time.perf_counter() - press.t0) * 1000
                ids = resp.json().get("alarm_ids") if resp.status_code == 202 else None
                if isinstance(ids, list) and len(ids) == 1:
                    press.alarm_id = int(ids[0])
                    self.handler.submit(self._handle, press.alarm_id, n)
                else:
                    press.error = f"HTTP {resp.status_code} {resp.text[:120]}"
            except (requests.RequestException, ValueError) as exc:
                press.error = f"{type(exc).__name__}: {exc}"
            self.presses.append(press)
        for s in sessions:
            s.close()

    def _handle(self, alarm_id: int, n: int) -> None:
        """Accept and resolve, on the other process than the press, once every console has it."""
        for consoles in self.all_consoles:
            consoles.last_arrival(alarm_id, GRACE_S)
        base = self.servers[n % len(self.servers)].base_url
        headers = {"Authorization": f"Bearer {self.dispatcher}"}
        try:
            for path, body in (
                ("ack", None),
                ("resolve", {"outcome": "false_alarm", "note": "load bench"}),
            ):
                resp = requests.post(
                    f"{base}/api/v1/alarms/{alarm_id}/{path}",
                    json=body,
                    headers=headers,
                    timeout=HTTP_TIMEOUT_S,
                )
                if resp.status_code != 200:
                    self.handling_errors.append(f"{path} {alarm_id}: HTTP {resp.status_code}")
                    return
        except requests.RequestException as exc:
            self.handling_errors.append(f"{alarm_id}: {exc}")


@dataclass
class Outcome:
    latencies_ms: list[float]
    same_ms: list[float]
    other_ms: list[float]
    late: int
    lost: list[int]
    twice: int


def judge(presses: list[Press], all_consoles: list[Consoles], committed: list[int]) -> Outcome:
    """Latency per press (to the last of every console on both processes), lost and twice."""
    lat: list[float] = []
    same: list[float] = []
    other: list[float] = []
    late = 0
    for p in presses:
        if p.alarm_id is None:
            continue
        lasts = []
        for consoles in all_consoles:
            with consoles.cond:
                seen = consoles.arrivals.get(p.alarm_id, {})
                lasts.append(max(seen.values()) if len(seen) >= consoles.k else None)
        if any(t is None for t in lasts):
            continue  # counted as lost below
        ms = [(t - p.t0) * 1000 for t in lasts if t is not None]
        lat.append(max(ms))
        same.append(ms[p.server])
        other.extend(m for i, m in enumerate(ms) if i != p.server)
        if max(ms) > ARRIVAL_LATE_S * 1000:
            late += 1
    lost = []
    twice = 0
    for alarm_id in committed:
        for consoles in all_consoles:
            with consoles.cond:
                if len(consoles.arrivals.get(alarm_id, {})) < consoles.k:
                    lost.append(alarm_id)
                    break
    for consoles in all_consoles:
        with consoles.cond:
            twice += sum(consoles.shown_twice.values())
    return Outcome(lat, same, other, late, lost, twice)


def log_error_lines(server: Server) -> int:
    try:
        text = server.log_path.read_text(errors="replace")
    except OSError:
        return -1
    return sum(1 for line in text.splitlines() if "ERROR" in line or "Traceback" in line)


def fmt_ms(values: list[float]) -> str:
    if not values:
        return "no data"
    return (
        f"p50 {percentile(values, 50):7.1f}  p99 {percentile(values, 99):7.1f}  "
        f"max {max(values):7.1f} ms  (n={len(values)})"
    )


def run(args: argparse.Namespace) -> int:
    tag = secrets.token_hex(4)
    duration_s = args.minutes * 60
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="aware-load-")))
        db_url = stack.enter_context(pg_schema(args.pg_url, tag))
        redis_db = free_redis_db(args.redis_url)
        env = clean_env(tmp / "instance")
        env.update(
            AWARE_DATABASE_URL=db_url,
            AWARE_REDIS_URL=f"{args.redis_url.rstrip('/')}/{redis_db}",
            AWARE_REDIS_CHANNEL=f"aware-bench-load-{tag}",
            # Both processes sign and check the same person tokens.
            AWARE_SECRET_KEY=secrets.token_hex(32),
        )
        run_checked([*aware_command(), "db", "upgrade"], env, "aware db upgrade")
        disp, coord = f"load-disp-{tag}", f"load-coord-{tag}"
        for name, role in ((disp, "dispatcher"), (coord, "coordinator")):
            run_checked(
                [*aware_command(), "user", "create", name, "--role", role, "--password", PASSWORD],
                env,
                f"aware user create {name}",
            )
        servers = [Server.aware(name, env, tmp / f"{name}.log") for name in ("web-a", "web-b")]
        for server in servers:
            stack.enter_context(server.running())
        print(f"two aware serve processes ready: {', '.join(s.base_url for s in servers)}")

        dispatcher = api_token(servers[0].base_url, disp)
        coordinator = api_token(servers[1].base_url, coord)
        t = time.monotonic()
        devices = register_devices(servers, coordinator, tag, args.devices, args.trackers)
        print(f"{len(devices)} devices registered in {time.monotonic() - t:.1f} s")
        rng = random.Random(tag)
        for d in devices:
            d["start"] = (
                UTRECHT[0] + rng.uniform(-0.05, 0.05),
                UTRECHT[1] + rng.uniform(-0.08, 0.08),
            )
        if args.cases:
            t = time.monotonic()
            n = setup_cases(servers, coordinator, tag, devices)
            print(
                f"{n} cases with a tracker, a victim alarm and two bans in "
                f"{time.monotonic() - t:.1f} s"
            )

        all_consoles = [Consoles(s.base_url, args.k, {"token": dispatcher}) for s in servers]
        for consoles in all_consoles:
            stack.enter_context(connected(consoles))
        print(f"{args.k} consoles connected to each process")

        config: dict[str, Any] = {
            "servers": [s.base_url for s in servers],
            "duration_s": duration_s,
            "heartbeat_s": args.heartbeat_s,
            "position_s": 1.0 / args.position_hz,
            "connections": args.connections,
            "devices": [
                {**d, "phase": rng.random(), "generator": (i // 2) % args.generators}
                for i, d in enumerate(devices)
            ],
        }
        config_path = tmp / "load.json"

        # SOS from victim alarms without a case: a press near the perpetrator's zone would
        # raise violation alarms the bench does not press for.
        victims = [d for d in devices if d["kind"] == "victim_alarm" and not d.get("on_case")]
        # A quiet baseline first (same processes, consoles and devices, no load), to compare.
        quiet = SosPresser(servers, victims, args.sos_every, all_consoles, dispatcher, "quiet")
        if args.baseline > 0:
            print(f"quiet baseline: {args.baseline} SOS presses without load ...", flush=True)
            quiet.start()
            time.sleep(args.baseline * args.sos_every + 0.5)
            quiet.finish()
        presser = SosPresser(servers, victims, args.sos_every, all_consoles, dispatcher, "sos")
        start_at = time.monotonic() + 1.0
        config["start_at"] = start_at
        config_path.write_text(json.dumps(config))
        generators = Generators(config_path, args.generators)
        stack.callback(generators.kill)
        generators.wait_ready()
        time.sleep(max(0.0, start_at - time.monotonic()))
        before = [proc_sample(s.proc.pid) for s in servers if s.proc is not None]
        t_start = time.monotonic()
        load_avg = [os.getloadavg()[0]]
        presser.start()
        print(f"load running for {duration_s:.0f} s ...", flush=True)
        results = generators.results(timeout=duration_s + 60)
        presser.finish()
        wall = time.monotonic() - t_start
        load_avg.append(os.getloadavg()[0])
        after = [proc_sample(s.proc.pid) for s in servers if s.proc is not None]
        for server in servers:
            if not server.alive():
                raise BenchError(f"{server.name} died:\n{server.log_tail()}")
        time.sleep(2.0)  # late duplicates and stragglers still count
        committed = committed_alarms(db_url)
        outcome = judge(presser.presses, all_consoles, list(committed))
        baseline = judge(quiet.presses, all_consoles, []) if quiet.presses else None

        report(
            args,
            servers,
            results,
            wall,
            presser,
            (outcome, baseline),
            committed,
            (before, after),
            redis_db,
        )
        print(
            f"  machine load average (1 min) at the start of the load {load_avg[0]:.1f}, "
            f"at the end {load_avg[1]:.1f} ({os.cpu_count()} CPUs; other work included)"
        )
        log_errors = {s.name: log_error_lines(s) for s in servers}
        print(f"  server log lines with ERROR or Traceback: {log_errors}")
        errors = sum(
            sum(n for code, n in r[k]["statuses"].items() if code != "202")
            + sum(r[k]["exceptions"].values())
            for r in results
            for k in ("heartbeat", "position")
        ) + sum(1 for p in [*quiet.presses, *presser.presses] if p.error)
        ok = not outcome.lost and outcome.twice == 0 and errors == 0
    return 0 if ok else 1


def report(
    args: argparse.Namespace,
    servers: list[Server],
    results: list[dict[str, Any]],
    wall: float,
    presser: SosPresser,
    outcomes: tuple[Outcome, Outcome | None],
    committed: dict[int, str],
    samples: tuple[list[ProcSample], list[ProcSample]],
    redis_db: int,
) -> None:
    outcome, baseline = outcomes
    before, after = samples
    py = f"{platform.python_version()} ({platform.python_implementation()})"
    print()
    print("Load: two aware serve processes on PostgreSQL + Redis")
    print(
        f"{args.devices} victim alarms heartbeating every {args.heartbeat_s:g} s, "
        f"{args.trackers} trackers at {args.position_hz:g} Hz, SOS every {args.sos_every:g} s, "
        f"{args.k} consoles on each process; {wall:.0f} s of load"
    )
    if args.cases:
        print(
            f"each tracker on a case with a victim alarm, a location ban and a contact ban "
            f"({args.trackers} cases)"
        )
    print(
        f"Python {py} on {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs "
        "(shared with whatever else runs on the machine)"
    )
    print(f"PostgreSQL {redact(args.pg_url)} (own schema), Redis db {redis_db} (own channel)")
    print()
    head = (
        f"{'kind':<10} {'target/s':>9} {'ok/s':>8} {'sent':>7} {'errors':>7} {'late':>6} "
        f"{'HTTP p50':>9} {'p99':>7} {'max ms':>8}"
    )
    print(head)
    print("-" * len(head))
    targets = {
        "heartbeat": args.devices / args.heartbeat_s,
        "position": args.trackers * args.position_hz,
    }
    for kind in ("heartbeat", "position"):
        sent = sum(r[kind]["sent"] for r in results)
        ok = sum(r[kind]["ok"] for r in results)
        errors = sum(
            sum(n for code, n in r[kind]["statuses"].items() if code != "202")
            + sum(r[kind]["exceptions"].values())
            for r in results
        )
        late = sum(r[kind]["late"] for r in results)
        ms = [x for r in results for x in r[kind]["http_ms"]]
        p = (
            f"{percentile(ms, 50):9.1f} {percentile(ms, 99):7.1f} {max(ms):8.1f}"
            if ms
            else "no answers"
        )
        print(
            f"{kind:<10} {targets[kind]:9.1f} {ok / wall:8.1f} {sent:7d} {errors:7d} {late:6d} {p}"
        )
    sos_ok = [p for p in presser.presses if p.alarm_id is not None]
    sos_err = [p for p in presser.presses if p.error]
    sos_ms = [p.http_ms for p in sos_ok if p.http_ms is not None]
    p = (
        f"{percentile(sos_ms, 50):9.1f} {percentile(sos_ms, 99):7.1f} {max(sos_ms):8.1f}"
        if sos_ms
        else "no answers"
    )
    print(
        f"{'sos':<10} {1 / args.sos_every:9.2f} {len(sos_ok) / wall:8.2f} "
        f"{len(presser.presses):7d} {len(sos_err):7d} {'':>6} {p}"
    )
    for kind in ("heartbeat", "position"):
        statuses: Counter[str] = Counter()
        exceptions: Counter[str] = Counter()
        for r in results:
            statuses.update(r[kind]["statuses"])
            exceptions.update(r[kind]["exceptions"])
        bad = {c: n for c, n in statuses.items() if c != "202"}
        if bad or exceptions:
            print(f"  {kind} errors: HTTP {bad} exceptions {dict(exceptions)}")
    for press in sos_err[:5]:
        print(f"  sos error: {press.error}")
    print()
    print("Alarm latency, POST -> alarm.new (during the load)")
    print(f"  last of all {2 * args.k} consoles:       {fmt_ms(outcome.latencies_ms)}")
    print(f"  consoles on the same process:  {fmt_ms(outcome.same_ms)}")
    print(f"  consoles on the other process: {fmt_ms(outcome.other_ms)}")
    if baseline is not None:
        print(f"  quiet baseline, before the load: {fmt_ms(baseline.latencies_ms)}")
    print(
        f"  alarms committed {len(committed)}, lost {len(outcome.lost)}, shown twice "
        f"{outcome.twice}, later than {ARRIVAL_LATE_S:g} s {outcome.late}  (target: 0 lost, "
        f"0 twice: {'met' if not outcome.lost and outcome.twice == 0 else 'NOT met'})"
    )
    if outcome.lost:
        print(f"  lost alarm ids: {outcome.lost[:20]}")
    print(f"  committed by type: {dict(Counter(committed.values()))}")
    disconnects = sum(c.disconnects for c in presser.all_consoles)
    if disconnects:
        print(f"  console disconnects during the run: {disconnects}")
    if presser.handling_errors:
        print(
            f"  accept/resolve errors: {len(presser.handling_errors)}, first: "
            f"{presser.handling_errors[0]}"
        )
    print()
    print("Server processes (at the end of the load)")
    for server, b, a in zip(servers, before, after, strict=True):
        print(
            f"  {server.name}: CPU {a.cpu_s - b.cpu_s:6.1f} s during the load "
            f"({(a.cpu_s - b.cpu_s) / wall * 100:5.1f}% of one core), total {a.cpu_s:6.1f} s; "
            f"RSS {a.rss_kib / 1024:6.1f} MiB (peak {a.hwm_kib / 1024:.1f} MiB), "
            f"{a.threads} threads"
        )
    gen_cpu = ", ".join(f"{r['cpu_s']:.1f}" for r in results)
    print(f"  load generators: CPU {gen_cpu} s")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--generator":
        generator_main(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(
        description="Alarm latency while 1,000 devices and 100 trackers load two processes."
    )
    parser.add_argument("--minutes", type=float, default=5.0, help="load duration (default 5)")
    parser.add_argument("--devices", type=int, default=1000, help="victim alarms (default 1000)")
    parser.add_argument("--trackers", type=int, default=100, help="trackers (default 100)")
    parser.add_argument("--heartbeat-s", type=float, default=60.0, help="default 60")
    parser.add_argument("--position-hz", type=float, default=1.0, help="default 1")
    parser.add_argument("--sos-every", type=float, default=2.0, help="seconds (default 2)")
    parser.add_argument(
        "--baseline", type=int, default=15, help="SOS presses before the load (default 15)"
    )
    parser.add_argument("--k", type=int, default=3, help="consoles per process (default 3)")
    parser.add_argument("--generators", type=int, default=2, help="processes (default 2)")
    parser.add_argument(
        "--connections",
        type=int,
        default=25,
        help="keep-alive connections per generator and web process (default 25)",
    )
    parser.add_argument(
        "--no-cases",
        dest="cases",
        action="store_false",
        help="trackers without a case (no ban checks on their positions)",
    )
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="PostgreSQL (a schema is made)")
    parser.add_argument(
        "--redis-url", default="redis://127.0.0.1:6379", help="Redis without a database number"
    )
    args = parser.parse_args()
    if not args.minutes > 0:
        parser.error("--minutes must be above 0")
    if args.devices < 2 or args.trackers < 0 or args.k < 1 or args.generators < 1:
        parser.error("--devices must be at least 2; --k and --generators at least 1")
    if not (args.heartbeat_s > 0 and args.position_hz > 0 and args.sos_every > 0):
        parser.error("--heartbeat-s, --position-hz and --sos-every must be above 0")
    if args.connections < 1 or args.baseline < 0:
        parser.error("--connections must be at least 1, --baseline at least 0")
    if not args.pg_url.startswith("postgresql"):
        parser.error("--pg-url must be a postgresql+psycopg:// URL")
    if not args.redis_url.startswith("redis://") or args.redis_url.rstrip("/").count("/") > 2:
        parser.error("--redis-url must be redis://HOST:PORT, without a database number")
    try:
        sys.exit(run(args))
    except BenchError as exc:
        print(f"load: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("load: interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
