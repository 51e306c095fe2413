"""The flood scenario of issue 11, shared by tests/e2e/test_flood.py and bench/flood.py.

A perpetrator tracker posts batches of 1,000 fixes alternating just inside and just outside a
forbidden zone (and near the victim's home) from several parallel loops, as fast as the server
answers, while a victim's alarm presses SOS every 2 s. A real Socket.IO console records when
each SOS shows up; a local Twilio stand-in, driven by the real twilio client inside
`aware serve`, records when each escalation SMS arrives.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests

from tests.standins.twilio_api import TwilioStandIn

ZONE_CENTRE = (5.1214, 52.0907)  # lon, lat
ZONE_RADIUS_M = 150
M_PER_DEG_LAT = 111_320.0
_ALARM_ID = re.compile(r"AWARE alarm (\d+)\b")


def iso(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def first_sms_by_alarm(twilio: TwilioStandIn) -> dict[int, float]:
    """Alarm id -> wall-clock arrival of its first escalation SMS at the stand-in."""
    first: dict[int, float] = {}
    for request in sorted(list(twilio.requests), key=lambda r: r["at"]):
        m = _ALARM_ID.search(request.get("Body", ""))
        if request["kind"] == "sms" and m:
            first.setdefault(int(m.group(1)), request["at"])
    return first


def twilio_env(twilio: TwilioStandIn, after_s: float) -> dict[str, str]:
    return {
        "AWARE_ESCALATION_AFTER_S": str(after_s),
        "AWARE_ESCALATION_PHONES": "+31600000001",
        "TWILIO_ACCOUNT_SID": twilio.account_sid,
        "TWILIO_AUTH_TOKEN": twilio.auth_token,
        "TWILIO_FROM_NUMBER": "+3197000000000",
        "AWARE_TWILIO_BASE_URL": twilio.base_url,
    }


@dataclass
class Setup:
    tracker_token: str
    tracker_id: int
    bans: int


def _post(url: str, token: str, body: Any, timeout: float = 30) -> requests.Response:
    return requests.post(
        url, headers={"Authorization": f"Bearer {token}"}, json=body, timeout=timeout
    )


def make_tracker_case(server: Any, coord: str) -> Setup:
    """A case with a location ban (one circle) and a contact ban around the victim's home at the
    zone's centre, and its perpetrator tracker."""
    lon, lat = ZONE_CENTRE
    tag = uuid.uuid4().hex[:8]
    case = _post(
        server.url + "/api/v1/cases",
        coord,
        {
            "reference": f"FLOOD-{tag}",
            "municipality": "0344",
            "victim": {"name": "Eva", "home": {"lat": lat, "lon": lon}},
        },
    )
    assert case.status_code == 201, case.text
    case_id = case.json()["id"]
    dev = _post(
        server.url + "/api/v1/devices",
        coord,
        {"serial": f"FLOOD-P-{tag}", "kind": "perpetrator_tracker"},
    ).json()
    linked = _post(
        server.url + f"/api/v1/cases/{case_id}/devices",
        coord,
        {"device_id": dev["id"], "role": "perpetrator"},
    )
    assert linked.status_code == 201, linked.text
    now = dt.datetime.now(dt.UTC)
    terms = {
        "valid_from": iso(now - dt.timedelta(hours=3)),
        "valid_until": iso(now + dt.timedelta(days=7)),
        "legal_basis": "509hh Sv",
    }
    for ban in (
        {
            "kind": "location",
            "zones": [{"type": "Point", "coordinates": [lon, lat], "radius_m": ZONE_RADIUS_M}],
        },
        {"kind": "contact", "distance_m": 140},
    ):
        r = _post(server.url + f"/api/v1/cases/{case_id}/bans", coord, {**ban, **terms})
        assert r.status_code == 201, r.text
    return Setup(dev["token"], dev["id"], 2)


def new_victim_device(server: Any, coord: str) -> tuple[str, int]:
    dev = _post(
        server.url + "/api/v1/devices",
        coord,
        {"serial": f"FLOOD-V-{uuid.uuid4().hex[:8]}", "kind": "victim_alarm"},
    ).json()
    return dev["token"], dev["id"]


def flood_batch(n: int, now: dt.datetime) -> dict[str, Any]:
    """n fixes, 2 s apart and ending now, alternating 30 m inside and 30 m outside the zone's
    border (60 m in 2 s: 108 km/h, plausible), each with a fresh event id."""
    lon, lat = ZONE_CENTRE
    inside = lat + (ZONE_RADIUS_M - 30) / M_PER_DEG_LAT
    outside = lat + (ZONE_RADIUS_M + 30) / M_PER_DEG_LAT
    tag = uuid.uuid4().hex[:10]
    return {
        "events": [
            {
                "event_id": f"f-{tag}-{i}",
                "type": "position",
                "occurred_at": iso(now - dt.timedelta(seconds=2 * (n - 1 - i))),
                "position": {"lat": inside if i % 2 == 0 else outside, "lon": lon, "accuracy_m": 5},
            }
            for i in range(n)
        ]
    }


@dataclass
class Run:
    """What one phase measured."""

    sos_sent: dict[str, float] = field(default_factory=dict)  # event id -> wall time sent
    sos_answers: dict[str, int] = field(default_factory=dict)  # event id -> HTTP status
    sos_seen: dict[str, float] = field(default_factory=dict)  # event id -> wall time on console
    due_at: dict[int, float] = field(default_factory=dict)  # alarm id -> escalation due (wall)
    flood_requests: int = 0
    flood_errors: list[str] = field(default_factory=list)

    def latencies_ms(self) -> list[float]:
        return sorted(
            (self.sos_seen[e] - self.sos_sent[e]) * 1000
            for e in self.sos_sent
            if e in self.sos_seen
        )


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


class ConsoleWatch:
    """Follows a console's events and notes when each SOS event id (and each alarm's escalation
    due time) first became visible, as its own alarm or folded into a storm alarm."""

    def __init__(self, console: Any, victim_ids: set[int]):
        self.console = console
        self.victim_ids = victim_ids
        self.seen: dict[str, float] = {}
        self.due_at: dict[int, float] = {}
        self._done = 0

    def poll(self) -> None:
        with self.console.cond:
            events = self.console.events[self._done :]
            self._done = len(self.console.events)
        now = time.time()
        for _kind, alarm in events:
            due = alarm.get("escalation_due_at")
            if due and alarm["id"] not in self.due_at:
                self.due_at[alarm["id"]] = dt.datetime.fromisoformat(
                    due.replace("Z", "+00:00")
                ).timestamp()
            if alarm.get("device_id") not in self.victim_ids:
                continue
            if alarm.get("event_id"):
                self.seen.setdefault(alarm["event_id"], now)
            if alarm.get("type") == "storm":  # the presses it folded, newest 20
                for folded in (alarm.get("detail") or {}).get("recent", []):
                    self.seen.setdefault(folded["event_id"], now)


def run_phase(
    server: Any,
    console: Any,
    twilio: TwilioStandIn,
    victim_token: str,
    victim_id: int,
    seconds: float,
    flood: Setup | None,
    loops: int = 4,
    batch: int = 1000,
    sos_every_s: float = 2.0,
    settle_s: float = 10.0,
) -> Run:
    """SOS every `sos_every_s` for `seconds`, with `loops` flood loops of `batch`-fix requests
    from the tracker when `flood` is given; then wait up to `settle_s` for stragglers."""
    run = Run()
    watch = ConsoleWatch(console, {victim_id})
    stop = threading.Event()
    lock = threading.Lock()

    def flood_loop() -> None:
        assert flood is not None
        session = requests.Session()
        while not stop.is_set():
            body = flood_batch(batch, dt.datetime.now(dt.UTC))
            try:
                r = session.post(
                    server.url + "/api/v1/ingest",
                    headers={"Authorization": f"Bearer {flood.tracker_token}"},
                    json=body,
                    timeout=60,
                )
                with lock:
                    run.flood_requests += 1
                    if r.status_code >= 500:
                        run.flood_errors.append(f"{r.status_code} {r.text[:200]}")
            except requests.RequestException as exc:
                with lock:
                    run.flood_errors.append(repr(exc))

    threads = [
        threading.Thread(target=flood_loop, daemon=True) for _ in range(loops if flood else 0)
    ]
    for t in threads:
        t.start()
    tag = uuid.uuid4().hex[:8]
    sos_session = requests.Session()
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < seconds:
        event_id = f"sos-{tag}-{n}"
        sent = time.time()
        run.sos_sent[event_id] = sent
        r = sos_session.post(
            server.url + "/api/v1/ingest",
            headers={"Authorization": f"Bearer {victim_token}"},
            json={"event_id": event_id, "type": "sos", "occurred_at": iso(dt.datetime.now(dt.UTC))},
            timeout=30,
        )
        run.sos_answers[event_id] = r.status_code
        n += 1
        next_at = start + n * sos_every_s
        while time.monotonic() < next_at:
            watch.poll()
            time.sleep(0.01)
    stop.set()
    for t in threads:
        t.join(timeout=120)
    deadline = time.monotonic() + settle_s
    while time.monotonic() < deadline and len(watch.seen) < len(run.sos_sent):
        watch.poll()
        time.sleep(0.02)
    watch.poll()
    run.sos_seen = {e: watch.seen[e] for e in run.sos_sent if e in watch.seen}
    run.due_at = dict(watch.due_at)
    return run


def escalation_delays(run: Run, twilio: TwilioStandIn, alarm_ids: set[int]) -> dict[int, float]:
    """Alarm id -> first SMS arrival minus its escalation due time, seconds (missing = none)."""
    first = first_sms_by_alarm(twilio)
    return {a: first[a] - run.due_at[a] for a in alarm_ids if a in first and a in run.due_at}
