"""Two figures of the dispatch console and its escalation (issue 4).

1. POST /api/v1/ingest -> alarm visible in the browser, measured in the page itself: a signed-in
   console in Debian's Chromium (Playwright, executable_path) posts each SOS with `fetch` and
   takes the time from just before the POST to the console's `alarm-visible-<id>` performance
   mark, which the console sets right after the alarm element is in the DOM (the next paint
   follows within one frame). One clock, no cross-process timing. Between alarms the alarm is
   resolved through the API, outside the timed part, so the queue does not grow.
2. Escalation delay accuracy: `aware serve` with AWARE_ESCALATION_AFTER_S and a local stand-in
   of Twilio's REST API (driven by the real twilio client in the server). For unacknowledged
   alarms, actual delay = when the stand-in received the SMS request minus the alarm's
   received_at (both wall clock on this machine); alarms acknowledged before the delay must
   send nothing.

    .venv/bin/python bench/console_latency.py [--n 50] [--escalations 20] [--after-s 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import requests
from harness import PASSWORD, ROOT, BenchError, Server, clean_env, run_checked

sys.path.insert(0, str(ROOT))
from tests.standins.twilio_api import TwilioStandIn  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def aware_cli(env: dict[str, str], *args: str) -> None:
    from harness import aware_command

    run_checked([*aware_command(), *args], env, " ".join(args[:2]))


def token(base: str, username: str) -> str:
    r = requests.post(
        f"{base}/api/v1/auth/token", json={"username": username, "password": PASSWORD}, timeout=10
    )
    r.raise_for_status()
    return str(r.json()["token"])


def new_device(base: str, coordinator: str) -> str:
    r = requests.post(
        f"{base}/api/v1/devices",
        headers={"Authorization": f"Bearer {coordinator}"},
        json={"serial": f"BENCH-{uuid.uuid4().hex[:8]}", "kind": "victim_alarm"},
        timeout=10,
    )
    r.raise_for_status()
    return str(r.json()["token"])


# Runs in the page: post one SOS, wait for the console's mark, resolve it, report the latency.
ONE_ALARM_JS = """
async ([deviceToken, dispatcherToken, eventId]) => {
  const body = JSON.stringify({event_id: eventId, type: "sos",
    occurred_at: new Date().toISOString(),
    position: {lat: 52.0907, lon: 5.1214, accuracy_m: 8}});
  const t0 = performance.now();
  const resp = await fetch("/api/v1/ingest", {method: "POST", body,
    headers: {"Authorization": "Bearer " + deviceToken, "Content-Type": "application/json"}});
  const tPost = performance.now();
  const id = (await resp.json()).alarm_ids[0];
  const name = "alarm-visible-" + id;
  const deadline = performance.now() + 5000;
  while (performance.getEntriesByName(name).length === 0) {
    if (performance.now() > deadline) return {id, lost: true};
    await new Promise(r => setTimeout(r, 1));
  }
  const visible = performance.getEntriesByName(name)[0].startTime;
  const shown = document.querySelectorAll('.alarm[data-alarm-id="' + id + '"]').length;
  await fetch("/api/v1/alarms/" + id + "/resolve", {method: "POST",
    body: JSON.stringify({outcome: "test"}),
    headers: {"Authorization": "Bearer " + dispatcherToken, "Content-Type": "application/json"}});
  return {id, ms: visible - t0, post_ms: tPost - t0, shown};
}
"""


def console_latency(n: int, warmup: int, tmp: Path) -> None:
    from playwright.sync_api import sync_playwright

    env = clean_env(tmp / "console")
    env["AWARE_ESCALATION_AFTER_S"] = "600"
    (tmp / "console").mkdir()
    aware_cli(env, "user", "create", "bench-disp", "--role", "dispatcher", "--password", PASSWORD)
    aware_cli(env, "user", "create", "bench-coord", "--role", "coordinator", "--password", PASSWORD)
    server = Server.aware("aware", env, tmp / "console.log")
    with server.running(), sync_playwright() as p:
        base = server.base_url
        device = new_device(base, token(base, "bench-coord"))
        dispatcher = token(base, "bench-disp")
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page()
        page.goto(base + "/login")
        page.fill("#username", "bench-disp")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector('#connection[data-state="connected"]')
        results = []
        for i in range(warmup + n):
            r = page.evaluate(ONE_ALARM_JS, [device, dispatcher, f"c{i}-{uuid.uuid4().hex[:6]}"])
            if i >= warmup:
                results.append(r)
            time.sleep(0.05)
        browser.close()
    lost = [r for r in results if r.get("lost")]
    twice = [r for r in results if r.get("shown", 1) > 1]
    ms = [r["ms"] for r in results if not r.get("lost")]
    post = [r["post_ms"] for r in results if not r.get("lost")]
    print(f"POST /ingest -> visible in the browser, {len(ms)} alarms (+{warmup} warm-up)")
    print(
        f"  visible: p50 {statistics.median(ms):.1f} ms, p99 {percentile(ms, 99):.1f} ms, "
        f"max {max(ms):.1f} ms"
    )
    print(f"  (the POST answer itself: p50 {statistics.median(post):.1f} ms)")
    print(f"  lost {len(lost)}, shown twice {len(twice)}")


def escalation_accuracy(count: int, acked: int, after_s: float, tmp: Path) -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the stand-in's access log
    twilio = TwilioStandIn().start()
    arrivals: dict[str, float] = {}
    original = twilio._handle

    def timed(request: Any) -> Any:
        if request.path.endswith("Messages.json"):
            arrivals.setdefault(request.form.get("Body", ""), time.time())
        return original(request)

    twilio._handle = timed  # type: ignore[method-assign]
    env = clean_env(tmp / "esc")
    (tmp / "esc").mkdir()
    env.update(
        AWARE_ESCALATION_AFTER_S=str(after_s),
        AWARE_ESCALATION_PHONES="+31600000001",
        TWILIO_ACCOUNT_SID=twilio.account_sid,
        TWILIO_AUTH_TOKEN=twilio.auth_token,
        TWILIO_FROM_NUMBER="+3197000000000",
        AWARE_TWILIO_BASE_URL=twilio.base_url,
    )
    aware_cli(env, "user", "create", "bench-disp", "--role", "dispatcher", "--password", PASSWORD)
    aware_cli(env, "user", "create", "bench-coord", "--role", "coordinator", "--password", PASSWORD)
    server = Server.aware("aware", env, tmp / "esc.log")
    try:
        with server.running():
            base = server.base_url
            device = new_device(base, token(base, "bench-coord"))
            dispatcher = token(base, "bench-disp")
            alarms: list[tuple[int, bool]] = []
            for i in range(count + acked):
                r = requests.post(
                    f"{base}/api/v1/ingest",
                    headers={"Authorization": f"Bearer {device}"},
                    json={
                        "event_id": f"esc-{i}",
                        "type": "sos",
                        "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
                    },
                    timeout=10,
                )
                r.raise_for_status()
                alarm_id = r.json()["alarm_ids"][0]
                ack = i >= count
                if ack:
                    time.sleep(after_s / 3)
                    requests.post(
                        f"{base}/api/v1/alarms/{alarm_id}/ack",
                        headers={"Authorization": f"Bearer {dispatcher}"},
                        timeout=10,
                    ).raise_for_status()
                alarms.append((alarm_id, ack))
                time.sleep(0.3)
            time.sleep(after_s + 3)
            delays = []
            sent_after_ack = 0
            for alarm_id, ack in alarms:
                a = requests.get(
                    f"{base}/api/v1/alarms/{alarm_id}",
                    headers={"Authorization": f"Bearer {dispatcher}"},
                    timeout=10,
                ).json()
                received = dt.datetime.fromisoformat(a["received_at"].replace("Z", "+00:00"))
                sent = [t for body, t in arrivals.items() if f"alarm {alarm_id} " in body]
                if ack:
                    sent_after_ack += len(sent)
                elif sent:
                    delays.append(sent[0] - received.timestamp())
    finally:
        twilio.stop()
    missing = count - len(delays)
    print(f"Escalation delay, configured {after_s:.1f} s, {count} unacknowledged alarms")
    if delays:
        errors = [(d - after_s) * 1000 for d in delays]
        print(
            f"  actual: mean {statistics.mean(delays):.3f} s; error p50 "
            f"{statistics.median(errors):.0f} ms, max {max(errors):.0f} ms, "
            f"min {min(errors):.0f} ms"
        )
    print(f"  not escalated: {missing}; {acked} acknowledged in time -> SMS sent: {sent_after_ack}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--escalations", type=int, default=20)
    parser.add_argument("--acked", type=int, default=5)
    parser.add_argument("--after-s", type=float, default=3.0)
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit("needs Debian's chromium (scripts/browser-up installs it)")
    with tempfile.TemporaryDirectory(prefix="aware-console-bench-") as d:
        tmp = Path(d)
        try:
            console_latency(args.n, args.warmup, tmp)
            escalation_accuracy(args.escalations, args.acked, args.after_s, tmp)
        except BenchError as exc:
            raise SystemExit(str(exc)) from None


if __name__ == "__main__":
    main()
