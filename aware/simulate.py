"""A device simulator that speaks only the public HTTP API (`aware simulate`).

Perpetrator trackers walk a path through Utrecht, victim alarms move a little around a
(fictional) home, every device sends heartbeats, and now and then a victim presses the button.
Events go to `POST /api/v1/ingest` with the device token as bearer; one tracker also reports
through the OsmAnd protocol (`GET /osmand`), as Traccar Client would.

The device tokens come from the file `aware demo` writes. Only the given URL is contacted
(environment proxies are ignored). A server that is down or refuses a token ends the run with
a one-line message (a click exception), never a traceback; Ctrl-C stops it cleanly.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import requests

TIMEOUT_S = 10.0
# Fictional walk of a tracker through Utrecht (lat, lon); the path is closed and repeated.
TRACKER_PATH: tuple[tuple[float, float], ...] = (
    (52.0894, 5.1101),
    (52.0921, 5.1165),
    (52.0937, 5.1232),
    (52.0902, 5.1289),
    (52.0858, 5.1254),
    (52.0849, 5.1172),
)
TRACKER_STEP_M = 40.0  # metres walked per tick
# Fictional resting places of the victim alarms; they wander within ~30 m.
VICTIM_HOMES: tuple[tuple[float, float], ...] = (
    (52.0998, 5.1050),
    (52.0785, 5.1412),
    (52.1061, 5.1307),
)
VICTIM_JITTER_DEG = 0.0003
HEARTBEAT_EVERY = 5  # ticks
OSMAND_EVERY = 10  # ticks
SOS_CHANCE = 0.03  # per tick, after the first (guaranteed) press
SOS_GAP = 20  # ticks at least between random presses


class SimulatorError(click.ClickException):
    """The run cannot go on; the message says why (shown without a traceback)."""


@dataclass
class SimDevice:
    serial: str
    kind: str
    token: str


@dataclass
class Stats:
    """What a run did."""

    requests: int = 0
    events: int = 0
    accepted: int = 0
    duplicates: int = 0
    presses: int = 0
    alarm_ids: list[int] = field(default_factory=list)
    interrupted: bool = False


def load_devices(tokens_file: str | Path) -> list[SimDevice]:
    """The devices and tokens `aware demo` wrote."""
    path = Path(tokens_file)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SimulatorError(
            f"no device tokens at {path}; run `aware demo` first (same AWARE_INSTANCE_PATH) "
            "or pass --tokens-file"
        ) from None
    except (OSError, ValueError) as exc:
        raise SimulatorError(f"cannot read device tokens from {path}: {exc}") from None
    entries = data.get("devices") if isinstance(data, dict) else None
    devices = []
    for serial, entry in sorted((entries or {}).items()):
        if not isinstance(entry, dict):
            continue
        token, kind = entry.get("token"), entry.get("kind")
        if isinstance(token, str) and token and kind in ("victim_alarm", "perpetrator_tracker"):
            devices.append(SimDevice(serial, kind, token))
    if not devices:
        raise SimulatorError(f"{path} holds no device tokens; run `aware demo` first")
    return devices


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SimulatorError(f"not an http(s) URL: {url!r}")
    return url.rstrip("/")


def _metres_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    dlat = (b[0] - a[0]) * 111_320.0
    dlon = (b[1] - a[1]) * 111_320.0 * math.cos(math.radians((a[0] + b[0]) / 2))
    return math.hypot(dlat, dlon)


def tracker_position(distance_m: float) -> tuple[float, float]:
    """Where a tracker is after walking `distance_m` along the closed path."""
    legs = [
        (a, b, _metres_between(a, b))
        for a, b in zip(TRACKER_PATH, TRACKER_PATH[1:] + TRACKER_PATH[:1], strict=True)
    ]
    remaining = distance_m % sum(length for _, _, length in legs)
    for a, b, length in legs:
        if remaining <= length:
            f = remaining / length if length else 0.0
            return (a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f)
        remaining -= length
    return TRACKER_PATH[0]


class _Client:
    """HTTP to one aware server; every failure becomes a SimulatorError."""

    def __init__(self, url: str, stats: Stats, http: requests.Session | None = None):
        self.url = url
        self.stats = stats
        self.http = http or requests.Session()
        self._own = http is None
        # Only the URL given: no proxy from the environment sees tokens or positions.
        self.http.trust_env = False

    def close(self) -> None:
        if self._own:
            self.http.close()

    def ingest(self, device: SimDevice, events: list[dict[str, Any]]) -> dict[str, Any]:
        body: dict[str, Any] = events[0] if len(events) == 1 else {"events": events}
        answer = self._call(
            device,
            "POST",
            "/api/v1/ingest",
            json=body,
            headers={"Authorization": f"Bearer {device.token}"},
        )
        self._count(answer, len(events))
        return answer

    def osmand(self, device: SimDevice, params: dict[str, Any]) -> dict[str, Any]:
        answer = self._call(device, "GET", "/osmand", params={"id": device.token, **params})
        self._count(answer, 1)
        return answer

    def _count(self, answer: dict[str, Any], sent: int) -> None:
        self.stats.events += sent
        self.stats.accepted += int(answer.get("accepted", 0))
        self.stats.duplicates += int(answer.get("duplicates", 0))
        self.stats.alarm_ids += [int(a) for a in answer.get("alarm_ids", [])]

    def _call(self, device: SimDevice, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            resp = self.http.request(method, self.url + path, timeout=TIMEOUT_S, **kwargs)
        except requests.ConnectionError:
            raise SimulatorError(
                f"cannot reach aware at {self.url}: is `aware serve` running there?"
            ) from None
        except requests.Timeout:
            raise SimulatorError(
                f"aware at {self.url} did not answer within {TIMEOUT_S:g} s"
            ) from None
        except requests.RequestException as exc:
            raise SimulatorError(f"request to {self.url} failed: {exc}") from None
        self.stats.requests += 1
        if resp.status_code == 401:
            raise SimulatorError(
                f"the server refused the token of {device.serial} (401): the tokens file does "
                "not belong to this server's database; run `aware demo` against it"
            )
        if not 200 <= resp.status_code < 300:
            raise SimulatorError(
                f"{method} {path} for {device.serial} answered {resp.status_code}: "
                f"{_error_message(resp)}"
            )
        try:
            answer = resp.json()
        except ValueError:
            raise SimulatorError(
                f"{self.url} answered {path} with something other than JSON; "
                "is this an aware server?"
            ) from None
        return answer if isinstance(answer, dict) else {}


def _error_message(resp: requests.Response) -> str:
    try:
        error = resp.json().get("error", {})
        return str(error.get("message") or error.get("code") or resp.reason)
    except (ValueError, AttributeError):
        return str(resp.reason)


class _Scenario:
    """What every device does at each tick (deterministic for a given seed)."""

    def __init__(self, devices: list[SimDevice], rng: random.Random):
        self.rng = rng
        self.victims = [d for d in devices if d.kind == "victim_alarm"]
        self.trackers = [d for d in devices if d.kind == "perpetrator_tracker"]
        self.run_id = uuid.uuid4().hex[:12]  # fresh event ids per run, never duplicates
        self.counter = 0
        self.battery = {d.serial: rng.uniform(55, 100) for d in devices}
        self.home = {
            v.serial: VICTIM_HOMES[i % len(VICTIM_HOMES)] for i, v in enumerate(self.victims)
        }
        self.last_sos_tick = -SOS_GAP

    def event_id(self) -> str:
        self.counter += 1
        return f"sim-{self.run_id}-{self.counter}"

    def drain(self, serial: str) -> float:
        self.battery[serial] = max(1.0, self.battery[serial] - self.rng.uniform(0, 0.05))
        return round(self.battery[serial], 1)

    def tracker_fix(self, index: int, tick: int) -> tuple[float, float, float]:
        # Trackers start a third of the path apart from one another.
        lat, lon = tracker_position(tick * TRACKER_STEP_M + index * 700.0)
        return round(lat, 6), round(lon, 6), round(self.rng.uniform(5, 25), 1)

    def victim_fix(self, serial: str) -> tuple[float, float, float]:
        lat, lon = self.home[serial]
        lat += self.rng.uniform(-VICTIM_JITTER_DEG, VICTIM_JITTER_DEG)
        lon += self.rng.uniform(-VICTIM_JITTER_DEG, VICTIM_JITTER_DEG)
        return round(lat, 6), round(lon, 6), round(self.rng.uniform(5, 40), 1)

    def event(
        self,
        device: SimDevice,
        type_: str,
        at: dt.datetime,
        fix: tuple[float, float, float] | None = None,
    ) -> dict[str, Any]:
        ev: dict[str, Any] = {
            "event_id": self.event_id(),
            "type": type_,
            "occurred_at": at.isoformat(),
            "battery_pct": self.drain(device.serial),
        }
        if fix is not None:
            ev["position"] = {"lat": fix[0], "lon": fix[1], "accuracy_m": fix[2]}
        return ev

    def press(self, tick: int) -> tuple[SimDevice, str] | None:
        """The press at this tick, if any: one test first, then one sos, then now and then."""
        if not self.victims:
            return None
        if tick == 1:
            return self.victims[0], "test"
        if tick == 2:
            return self.rng.choice(self.victims), "sos"
        if tick - self.last_sos_tick >= SOS_GAP and self.rng.random() < SOS_CHANCE:
            return self.rng.choice(self.victims), "sos"
        return None


def _tick(client: _Client, sc: _Scenario, tick: int, out: Callable[[str], None]) -> None:
    now = dt.datetime.now(dt.UTC)
    heartbeat = tick % HEARTBEAT_EVERY == 0
    for i, tracker in enumerate(sc.trackers):
        fix = sc.tracker_fix(i, tick)
        if i == 0 and tick % OSMAND_EVERY == 0:
            # Traccar Client style: position in the query string, the token as identifier.
            client.osmand(
                tracker,
                {
                    "lat": fix[0],
                    "lon": fix[1],
                    "accuracy": fix[2],
                    "timestamp": int(now.timestamp()),
                    "speed": round(sc.rng.uniform(2, 3), 1),
                    "batt": sc.drain(tracker.serial),
                },
            )
            continue
        events = [sc.event(tracker, "position", now, fix)]
        if heartbeat:
            events.append(sc.event(tracker, "heartbeat", now))
        client.ingest(tracker, events)
    for victim in sc.victims:
        if sc.rng.random() < 0.5:
            events = [sc.event(victim, "position", now, sc.victim_fix(victim.serial))]
        else:
            events = [sc.event(victim, "heartbeat", now)]
        if heartbeat and events[0]["type"] != "heartbeat":
            events.append(sc.event(victim, "heartbeat", now))
        client.ingest(victim, events)
    press = sc.press(tick)
    if press is not None:
        victim, kind = press
        if kind == "sos":
            sc.last_sos_tick = tick
        answer = client.ingest(victim, [sc.event(victim, kind, now, sc.victim_fix(victim.serial))])
        client.stats.presses += 1
        ids = ", ".join(str(a) for a in answer.get("alarm_ids", [])) or "none"
        out(f"press {kind} on {victim.serial}: alarm ids {ids}")


def run(
    url: str,
    seconds: float,
    tokens_file: str | Path,
    *,
    interval: float = 1.0,
    seed: int | None = None,
    out: Callable[[str], None] | None = None,
    http: requests.Session | None = None,
) -> Stats:
    """Simulate the demo devices against `url` for `seconds` (a tick every `interval` s)."""
    if seconds <= 0 or interval <= 0:
        raise SimulatorError("seconds and interval must be positive")
    emit = out or (lambda line: click.echo(line))
    base = _check_url(url)
    devices = load_devices(tokens_file)
    stats = Stats()
    scenario = _Scenario(devices, random.Random(seed))
    client = _Client(base, stats, http)
    emit(
        f"simulating {len(scenario.victims)} victim alarms and {len(scenario.trackers)} "
        f"trackers against {base} for {seconds:g} s (Ctrl-C stops)"
    )
    start = time.monotonic()
    end = start + seconds
    tick = 0
    try:
        while time.monotonic() < end:
            _tick(client, scenario, tick, emit)
            tick += 1
            wake = start + tick * interval
            if wake >= end:
                break
            time.sleep(max(0.0, wake - time.monotonic()))
    except KeyboardInterrupt:
        stats.interrupted = True
        emit("interrupted")
    except SimulatorError:
        emit(_summary(stats, tick))
        raise
    finally:
        client.close()
    emit(_summary(stats, tick))
    return stats


def _summary(stats: Stats, ticks: int) -> str:
    return (
        f"{ticks} ticks, {stats.requests} requests, {stats.events} events "
        f"({stats.accepted} accepted, {stats.duplicates} duplicates), {stats.presses} presses"
    )
