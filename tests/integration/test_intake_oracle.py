"""No proximity oracle: a perpetrator's tracker (its token is readable in Traccar Client on his
phone) is told the same near the victim as far from her (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from tests.conftest import bearer
from tests.integration.test_ban_checks import (  # noqa: F401 - setup is a fixture
    CENTRE,
    VALID,
    east,
    iso,
    open_alarms,
    setup,
)


@pytest.fixture
def tokens(client, coordinator, setup):  # noqa: F811 - the imported fixture
    """The case of test_ban_checks (victim alarm and tracker linked) with a contact ban."""
    r = client.post(
        f"/api/v1/cases/{setup['case']['id']}/bans",
        headers=coordinator,
        json={"kind": "contact", "distance_m": 500, **VALID},
    )
    assert r.status_code == 201, r.get_json()
    return setup["tokens"]


def fix(event_id: str, latlon: tuple[float, float], type_: str = "position") -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": type_,
        "occurred_at": iso(dt.datetime.now(dt.UTC)),
        "position": {"lat": latlon[0], "lon": latlon[1], "accuracy_m": 5},
    }


def answer(client: Any, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], set[str]]:
    r = client.post("/api/v1/ingest", headers=bearer(token), json=body)
    headers = {f"{k}: {v}" for k, v in r.headers.items() if k.lower() != "date"}
    return r.status_code, r.get_json(), headers


def test_a_trackers_answer_is_the_same_near_and_far(client, dispatcher, tokens):
    victim = bearer(tokens["victim"])
    r = client.post("/api/v1/ingest", headers=victim, json=fix("v1", CENTRE))
    assert r.status_code == 202
    tracker = tokens["perpetrator"]
    near, far = east(100), east(5000)
    answers: dict[str, list[Any]] = {"near": [], "far": []}
    for i in range(4):
        answers["far"].append(answer(client, tracker, fix(f"far{i}", far)))
        answers["near"].append(answer(client, tracker, fix(f"near{i}", near)))
    # A batch and a re-sent buffer: same again.
    for where, spot in (("near", near), ("far", far)):
        batch = {"events": [fix(f"{where}-b{j}", spot) for j in range(3)]}
        answers[where].append(answer(client, tracker, batch))
        answers[where].append(answer(client, tracker, batch))
        answers[where].append(answer(client, tracker, fix(f"{where}0", spot)))
    # Positive control: the near fixes did raise a violation for dispatch.
    assert open_alarms(client, dispatcher, "proximity_violation")
    assert answers["near"] == answers["far"]
    status, body, _ = answers["near"][0]
    assert status == 202 and body == {
        "accepted": 1,
        "duplicates": 0,
        "rejected": [],
        "alarm_ids": [],
    }
    assert [a[1]["duplicates"] for a in answers["near"][4:]] == [0, 3, 1]


def test_a_tracker_is_told_no_alarm_ids_not_even_of_its_own_alarms(client, dispatcher, tokens):
    """Alarm ids are global: the gap between two of a tracker's own alarm ids would tell it how
    many alarms were raised in between, its violations among them. Its own alarms are raised
    for dispatch all the same; its answer carries none of their ids."""
    client.post("/api/v1/ingest", headers=bearer(tokens["victim"]), json=fix("v1", CENTRE))
    tracker = tokens["perpetrator"]
    near = answer(client, tracker, fix("t-near", east(100), "tamper"))[1]
    far = answer(client, tracker, fix("t-far", east(5000), "tamper"))[1]
    assert near == far == {"accepted": 1, "duplicates": 0, "rejected": [], "alarm_ids": []}
    tamper = open_alarms(client, dispatcher, "tamper")
    assert len(tamper) == 2  # both raised for dispatch
    assert open_alarms(client, dispatcher, "proximity_violation")  # raised, not told
    again = answer(client, tracker, fix("t-near", east(100), "tamper"))[1]
    assert again == {"accepted": 0, "duplicates": 1, "rejected": [], "alarm_ids": []}
    # A victim's alarm is told its own alarm's id (positive control of the rule above).
    sos = answer(client, tokens["victim"], fix("v-sos", CENTRE, "sos"))[1]
    assert len(sos["alarm_ids"]) == 1


def test_console_updates_of_a_near_fix_are_published_after_the_answer(
    client, dispatcher, tokens, publisher, sessions, monkeypatch
):
    """Building the console update (case card and all) of a fix appended to an open violation
    made near answers slower than far ones; it is handed over after the commit instead."""
    from aware.devices import views
    from aware.devices.deferred import DeferredUpdates

    handed: list[list[int]] = []
    monkeypatch.setattr(views, "_deferred_updates", lambda: handed.append)
    client.post("/api/v1/ingest", headers=bearer(tokens["victim"]), json=fix("v1", CENTRE))
    tracker = tokens["perpetrator"]
    first = answer(client, tracker, fix("n1", east(100)))
    (violation,) = open_alarms(client, dispatcher, "proximity_violation")
    assert [n for n, p in publisher.events if p["id"] == violation["id"]] == ["alarm.new"]
    second = answer(client, tracker, fix("n2", east(90)))
    assert first[1:] == second[1:]  # the same answer, body and headers
    assert handed == [[violation["id"]]]
    # Nothing was published for it on the answer path ...
    assert [n for n, p in publisher.events if p["id"] == violation["id"]] == ["alarm.new"]
    # ... the worker publishes the alarm as committed, with its higher seq.
    worker = DeferredUpdates(sessions, lambda: publisher, lambda: dt.datetime.now(dt.UTC))
    worker(handed[0])
    assert worker.wait_idle(10)
    worker.stop()
    name, pushed = publisher.events[-1]
    assert name == "alarm.updated" and pushed["id"] == violation["id"]
    assert pushed["seq"] >= violation["seq"]


def test_a_trackers_answer_waits_for_the_floor_and_a_victims_does_not(
    app, client, dispatcher, tokens, publisher, monkeypatch
):
    """What is left of the near/far difference (the timeline row a near fix writes) is hidden
    by holding a tracker's answer to a floor; alarms are committed and published before it."""
    from aware.devices import views

    floor = 0.3
    app.config["AWARE_TRACKER_ANSWER_FLOOR_S"] = floor
    held: list[str] = []
    real_hold = views._hold_tracker_answer
    monkeypatch.setattr(views, "_hold_tracker_answer", lambda: (held.append("x"), real_hold()))
    client.post("/api/v1/ingest", headers=bearer(tokens["victim"]), json=fix("v1", CENTRE))
    client.post("/api/v1/ingest", headers=bearer(tokens["victim"]), json=fix("v2", CENTRE, "sos"))
    assert held == []  # a victim's alarm is never held up
    for event_id, spot in (("near", east(100)), ("far", east(5000))):
        t0 = time.perf_counter()
        status, _, _ = answer(client, tokens["perpetrator"], fix(event_id, spot))
        assert status == 202 and time.perf_counter() - t0 >= floor
    assert held == ["x", "x"]
    # The violation was on its way to dispatch before the answer was let go.
    assert "proximity_violation" in [p["type"] for n, p in publisher.events if n == "alarm.new"]
