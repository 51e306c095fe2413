"""Issue 11, floods cannot bury an SOS (SQLite and PostgreSQL).

One open violation alarm per ban however a tracker moves (re-entries counted on it), fixes
implying more than 250 km/h stored and marked but never raising, and a device raising more than
AWARE_DEVICE_ALARM_RATE alarms a minute folded into one storm alarm that carries the most
urgent priority of what it folded.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import pytest
from sqlalchemy import select

from aware.adapters.realtime import RecordingPublisher
from aware.app import create_app
from aware.config import ConfigError, load_settings
from aware.devices.models import DeviceEvent
from aware.devices.views import BULK_CHUNK
from aware.risk.checks import TIMELINE_PER_REQUEST
from tests.conftest import bearer, settings_for
from tests.integration.test_ban_checks import (
    CENTRE,
    VALID,
    Feed,
    east,
    iso,
    make_case,
    north,
    open_alarms,
    zone_ban,
)

RADIUS = 150


@pytest.fixture
def setup(client, coordinator):
    return make_case(client, coordinator)


def post(client, token, body):
    r = client.post("/api/v1/ingest", headers=bearer(token), json=body)
    assert r.status_code == 202, r.get_json()
    return r.get_json()


def fixes(tag, start, n, where, step_s=2.0, accuracy=5.0):
    """n position events `step_s` apart from `start`; `where(i)` gives fix i's (lat, lon)."""
    return [
        {
            "event_id": f"{tag}-{i}",
            "type": "position",
            "occurred_at": iso(start + dt.timedelta(seconds=step_s * i)),
            "position": {"lat": where(i)[0], "lon": where(i)[1], "accuracy_m": accuracy},
        }
        for i in range(n)
    ]


def alternating(i):
    """30 m inside, then 30 m outside the zone's border (60 m in 2 s: plausible)."""
    return north(RADIUS - 30 if i % 2 == 0 else RADIUS + 30)


def timeline(client, dispatcher, alarm_id):
    return client.get(f"/api/v1/alarms/{alarm_id}", headers=dispatcher).get_json()["timeline"]


def all_alarms(client, dispatcher, device_id=None):
    out = []
    for status in ("open", "acknowledged", "resolved"):
        out += client.get(f"/api/v1/alarms?status={status}", headers=dispatcher).get_json()[
            "alarms"
        ]
    return [a for a in out if device_id is None or a["device_id"] == device_id]


# --------------------------------------------------------------------------------------------
# One open violation alarm per ban
# --------------------------------------------------------------------------------------------


def test_a_thousand_fixes_in_and_out_of_a_zone_are_one_alarm_with_counts(
    client, coordinator, dispatcher, setup, publisher
):
    zone_ban(client, coordinator, setup["case"]["id"], radius=RADIUS)
    token = setup["tokens"]["perpetrator"]
    now = dt.datetime.now(dt.UTC)
    answer = post(
        client, token, {"events": fixes("a", now - dt.timedelta(seconds=4000), 1000, alternating)}
    )
    assert answer["accepted"] == 1000
    (alarm,) = open_alarms(client, dispatcher)
    assert alarm["type"] == "zone_violation" and alarm["priority"] == 1
    detail = alarm["detail"]
    assert detail["fixes"] == 1000 and detail["exits"] == 500 and detail["reentries"] == 499
    assert detail["implausible"] == 0
    assert detail["last_fix"]["event_id"] == "a-999"
    # The timeline holds the notable fixes up to a bound, not 1,000 rows; every fix is stored.
    positions = [e for e in timeline(client, dispatcher, alarm["id"]) if e["action"] == "position"]
    # (A bulk upload is stored in chunks of BULK_CHUNK: each ends with its newest fix.)
    chunks = math.ceil(1000 / BULK_CHUNK)
    assert 1 <= len(positions) <= TIMELINE_PER_REQUEST + chunks
    assert positions[-1]["detail"]["event_id"] == "a-999"
    # Every fix after the one that raised it is listed or counted on the row after it.
    not_listed = sum(e["detail"].get("not_listed", 0) for e in positions)
    assert len(positions) + not_listed == 999

    # A second flood batch: still that one alarm, its counts grow, published as an update.
    before = len(publisher.events)
    post(client, token, {"events": fixes("b", now - dt.timedelta(seconds=1998), 1000, alternating)})
    (same,) = open_alarms(client, dispatcher)
    assert same["id"] == alarm["id"] and same["seq"] > alarm["seq"]
    assert same["detail"]["fixes"] == 2000 and same["detail"]["reentries"] == 999
    pushed = [(n, p["id"]) for n, p in publisher.events[before:]]
    # One update per stored chunk at most, all of that one alarm: nothing new.
    assert 1 <= len(pushed) <= chunks and set(pushed) == {("alarm.updated", alarm["id"])}
    assert [n for n, p in publisher.events if p["id"] == alarm["id"]].count("alarm.new") == 1


def test_reentry_while_acknowledged_is_counted_and_after_resolve_raises_again(
    client, coordinator, dispatcher, setup
):
    zone_ban(client, coordinator, setup["case"]["id"])
    feed = Feed(client, setup["tokens"]["perpetrator"])
    feed.at(north(50))
    (alarm,) = open_alarms(client, dispatcher, "zone_violation")
    assert client.post(f"/api/v1/alarms/{alarm['id']}/ack", headers=dispatcher).status_code == 200
    feed.at(north(600))
    feed.at(north(60))
    (acked,) = open_alarms(client, dispatcher, "zone_violation")  # open or acknowledged
    assert acked["id"] == alarm["id"] and acked["status"] == "acknowledged"
    assert acked["detail"]["reentries"] == 1 and acked["detail"]["fixes"] == 3
    r = client.post(
        f"/api/v1/alarms/{alarm['id']}/resolve", headers=dispatcher, json={"outcome": "genuine"}
    )
    assert r.status_code == 200
    feed.at(north(600))
    assert open_alarms(client, dispatcher) == []
    feed.at(north(70))
    (again,) = open_alarms(client, dispatcher, "zone_violation")
    assert again["id"] != alarm["id"] and again["detail"]["fixes"] == 1


def test_a_warning_that_becomes_a_violation_raises_the_violation_once(
    client, coordinator, dispatcher, setup, publisher
):
    client.post(
        f"/api/v1/cases/{setup['case']['id']}/bans",
        headers=coordinator,
        json={"kind": "contact", "distance_m": 500, **VALID},
    )
    Feed(client, setup["tokens"]["victim"]).at(CENTRE)
    feed = Feed(client, setup["tokens"]["perpetrator"])
    feed.at(east(800))  # within the 500 m warning margin
    (warning,) = open_alarms(client, dispatcher, "proximity_warning")
    feed.at(east(300))
    (violation,) = open_alarms(client, dispatcher, "proximity_violation")
    assert violation["priority"] == 1 and violation["detail"]["supersedes"] == warning["id"]
    (warned,) = open_alarms(client, dispatcher, "proximity_warning")
    assert warned["detail"]["superseded_by"] == violation["id"]
    assert "superseded" in [e["action"] for e in timeline(client, dispatcher, warning["id"])]
    # Away, back in the warning band, back within the ban: all on the violation alarm.
    for metres in (3000, 800, 200, 3000, 100):
        feed.at(east(metres))
    assert [a["id"] for a in open_alarms(client, dispatcher, "proximity_violation")] == [
        violation["id"]
    ]
    assert len(open_alarms(client, dispatcher, "proximity_warning")) == 1
    (now_violation,) = open_alarms(client, dispatcher, "proximity_violation")
    assert now_violation["detail"]["reentries"] == 2 and now_violation["detail"]["exits"] == 2
    news = [p["type"] for n, p in publisher.events if n == "alarm.new"]
    assert news.count("proximity_violation") == 1 and news.count("proximity_warning") == 1


# --------------------------------------------------------------------------------------------
# Implausible fixes
# --------------------------------------------------------------------------------------------


def stored_extra(session, device_id, event_id):
    return session.execute(
        select(DeviceEvent.extra).where(
            DeviceEvent.device_id == device_id, DeviceEvent.event_id == event_id
        )
    ).scalar_one()


def test_an_implausible_jump_is_stored_marked_and_raises_nothing(
    client, coordinator, dispatcher, setup, session
):
    zone_ban(client, coordinator, setup["case"]["id"])
    tracker = setup["ids"]["perpetrator"]
    feed = Feed(client, setup["tokens"]["perpetrator"], step_s=10)
    feed.at(north(5000))
    answer = feed.at(CENTRE)  # 5 km in 10 s: 1,800 km/h
    assert answer["accepted"] == 1
    assert open_alarms(client, dispatcher) == []
    extra = stored_extra(session, tracker, "p2")
    assert extra["implausible"] is True and extra["implied_speed_kmh"] > 1500
    assert stored_extra(session, tracker, "p1") is None
    # The next fix agrees with it: he really is there (positive control).
    feed.at(north(10))
    (alarm,) = open_alarms(client, dispatcher, "zone_violation")
    assert stored_extra(session, tracker, "p3") is None
    # A jump while the alarm is open lands on its timeline, marked, and changes nothing else.
    feed.at(north(30_000))
    (same,) = open_alarms(client, dispatcher, "zone_violation")
    assert same["id"] == alarm["id"] and same["detail"]["implausible"] == 1
    assert same["detail"]["exits"] == 0  # an impossible fix is not him leaving
    (entry,) = [
        e["detail"]
        for e in timeline(client, dispatcher, alarm["id"])
        if e["action"] == "position" and e["detail"].get("implausible")
    ]
    assert entry["event_id"] == "p4" and entry["implied_speed_kmh"] > 250


def test_an_implausible_osmand_fix_keeps_its_protocol_extras(client, setup, session):
    token = setup["tokens"]["perpetrator"]
    t0 = int(dt.datetime.now(dt.UTC).timestamp()) - 60
    for n, (lat, lon) in enumerate((north(0), north(9000))):
        r = client.get(
            f"/osmand?id={token}&lat={lat}&lon={lon}&timestamp={t0 + 10 * n}&speed=12&bearing=90"
        )
        assert r.status_code == 200, r.get_json()
    events = session.execute(
        select(DeviceEvent.extra)
        .where(DeviceEvent.device_id == setup["ids"]["perpetrator"])
        .order_by(DeviceEvent.occurred_at)
    ).scalars()
    first, jumped = list(events)
    assert "implausible" not in (first or {})
    assert jumped["implausible"] is True and jumped["implied_speed_kmh"] > 3000
    assert {k: first[k] for k in ("speed", "bearing") if k in first} == {
        k: jumped[k] for k in ("speed", "bearing") if k in jumped
    }
    assert any(k in jumped for k in ("speed", "bearing")), jumped


def test_an_sos_with_an_implausible_position_is_raised_and_marked(
    client, device, dispatcher, session
):
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)
    post(client, device["token"], fixes("v", start, 1, lambda i: CENTRE)[0])
    answer = post(
        client,
        device["token"],
        {
            "event_id": "sos-far",
            "type": "sos",
            "occurred_at": iso(start + dt.timedelta(seconds=5)),
            "position": {"lat": north(40_000)[0], "lon": CENTRE[1], "accuracy_m": 10},
        },
    )
    (alarm,) = all_alarms(client, dispatcher, device["id"])
    assert answer["alarm_ids"] == [alarm["id"]] and alarm["type"] == "sos"
    extra = stored_extra(session, device["id"], "sos-far")
    assert extra["implausible"] is True and extra["implied_speed_kmh"] > 10_000


def test_an_implausible_jump_inside_a_batch_raises_nothing(client, coordinator, dispatcher, setup):
    zone_ban(client, coordinator, setup["case"]["id"])
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=60)
    # Far, far, one fix in the zone 5 km away within 2 s, far again.
    where = [north(5000), north(5010), CENTRE, north(5020)]
    post(
        client,
        setup["tokens"]["perpetrator"],
        {"events": fixes("j", start, 4, lambda i: where[i])},
    )
    assert open_alarms(client, dispatcher) == []


# --------------------------------------------------------------------------------------------
# Storms
# --------------------------------------------------------------------------------------------


def sos(n, tag="sos", type_="sos", when=None):
    return {
        "event_id": f"{tag}-{n}",
        "type": type_,
        "occurred_at": iso(when or dt.datetime.now(dt.UTC)),
    }


def test_twenty_sos_in_a_minute_are_six_alarms_and_one_storm_at_priority_1(
    client, device, dispatcher, publisher
):
    answers = [post(client, device["token"], sos(n)) for n in range(20)]
    mine = all_alarms(client, dispatcher, device["id"])
    alarms = [a for a in mine if a["type"] == "sos"]
    (storm,) = [a for a in mine if a["type"] == "storm"]
    assert len(alarms) == 6 and len(mine) == 7
    assert storm["priority"] == 1 and storm["status"] == "open"
    assert storm["detail"]["folded"] == {"sos": 14} and storm["detail"]["count"] == 14
    assert storm["detail"]["recent"][-1]["event_id"] == "sos-19"
    # Every press is answered with the alarm that carries it; none is lost.
    assert [a["alarm_ids"] for a in answers[6:]] == [[storm["id"]]] * 14
    assert {i for a in answers[:6] for i in a["alarm_ids"]} == {a["id"] for a in alarms}
    folded = [e for e in timeline(client, dispatcher, storm["id"]) if e["action"] == "folded"]
    assert [e["detail"]["event_id"] for e in folded] == [f"sos-{n}" for n in range(6, 20)]
    # Dispatch saw it at once: new once, then an update per fold.
    pushed = [n for n, p in publisher.events if p["id"] == storm["id"]]
    assert pushed == ["alarm.new"] + ["alarm.updated"] * 13
    # Re-sending a folded press changes nothing.
    assert post(client, device["token"], sos(12))["duplicates"] == 1
    (again,) = [a for a in all_alarms(client, dispatcher, device["id"]) if a["type"] == "storm"]
    assert again["detail"]["count"] == 14


def test_her_press_on_a_storm_whose_chain_ran_out_escalates_again(
    client, device, dispatcher, session
):
    from aware.alarms.models import Alarm

    for n in range(8):
        post(client, device["token"], sos(n, "t", "test"))
    (storm,) = [a for a in all_alarms(client, dispatcher, device["id"]) if a["type"] == "storm"]
    row = session.get(Alarm, storm["id"])
    # Nobody accepted it and its whole chain has been sent: nothing more is due.
    row.escalations_fired, row.escalation_next_at = 5, None
    session.commit()
    post(client, device["token"], sos(8, "t", "test"))  # a test press: no reason to call again
    session.expire_all()
    assert session.get(Alarm, storm["id"]).escalation_next_at is None
    post(client, device["token"], sos(0))  # her SOS: escalate again, now
    session.expire_all()
    again = session.get(Alarm, storm["id"])
    assert again.priority == 1 and again.escalations_fired == 0
    assert again.escalation_next_at is not None
    assert abs((again.escalation_next_at - dt.datetime.now(dt.UTC)).total_seconds()) < 60


def test_twenty_sos_in_one_batch_fold_the_same_way(client, device, dispatcher):
    answer = post(client, device["token"], {"events": [sos(n) for n in range(20)]})
    assert answer["accepted"] == 20
    mine = all_alarms(client, dispatcher, device["id"])
    assert sorted(a["type"] for a in mine) == ["sos"] * 6 + ["storm"]
    (storm,) = [a for a in mine if a["type"] == "storm"]
    assert storm["detail"]["count"] == 14 and storm["priority"] == 1
    assert set(answer["alarm_ids"]) == {a["id"] for a in mine}


def test_a_storm_of_tests_ranks_low_until_an_sos_is_folded_into_it(
    client, device, dispatcher, publisher
):
    for n in range(9):
        post(client, device["token"], sos(n, "t", "test"))
    (storm,) = [a for a in all_alarms(client, dispatcher, device["id"]) if a["type"] == "storm"]
    assert storm["priority"] == 3 and storm["detail"]["folded"] == {"test": 3}
    answer = post(
        client,
        device["token"],
        {**sos(0, "help"), "position": {"lat": 52.1, "lon": 5.1, "accuracy_m": 8}},
    )
    assert answer["alarm_ids"] == [storm["id"]]
    name, pushed = publisher.events[-1]
    assert name == "alarm.updated" and pushed["id"] == storm["id"]
    assert pushed["priority"] == 1 and pushed["detail"]["folded"] == {"test": 3, "sos": 1}
    assert pushed["position"]["lat"] == 52.1  # where she pressed
    assert pushed["detail"]["recent"][-1] == {"type": "sos", "event_id": "help-0"}
    listed = client.get("/api/v1/alarms?status=open", headers=dispatcher).get_json()["alarms"]
    assert listed[0]["id"] == storm["id"]  # on top of the list


def test_a_flooding_device_does_not_fold_another_devices_sos(client, dispatcher, setup, publisher):
    for n in range(12):
        post(client, setup["tokens"]["perpetrator"], sos(n, "tamper", "tamper"))
    tracker = all_alarms(client, dispatcher, setup["ids"]["perpetrator"])
    assert sorted(a["type"] for a in tracker) == ["storm"] + ["tamper"] * 6
    answer = post(client, setup["tokens"]["victim"], sos(1, "her"))
    (alarm,) = all_alarms(client, dispatcher, setup["ids"]["victim"])
    assert (
        alarm["type"] == "sos" and alarm["priority"] == 1 and answer["alarm_ids"] == [alarm["id"]]
    )
    assert publisher.events[-1] == ("alarm.new", publisher.events[-1][1])
    assert publisher.events[-1][1]["id"] == alarm["id"]


def test_a_device_quiet_for_a_minute_raises_normally_again(app, client, device, dispatcher):
    clock = [dt.datetime.now(dt.UTC)]
    app.extensions["aware"].clock = lambda: clock[0]
    for n in range(8):
        post(client, device["token"], sos(n, when=clock[0]))
    assert sorted(a["type"] for a in all_alarms(client, dispatcher, device["id"])) == [
        "sos"
    ] * 6 + ["storm"]
    # Still storming 50 s after the last fold: folded.
    clock[0] += dt.timedelta(seconds=50)
    post(client, device["token"], sos(8, when=clock[0]))
    # A whole minute without an alarm: a new SOS alarm of its own.
    clock[0] += dt.timedelta(seconds=61)
    answer = post(client, device["token"], sos(9, when=clock[0]))
    mine = all_alarms(client, dispatcher, device["id"])
    (storm,) = [a for a in mine if a["type"] == "storm"]
    assert storm["detail"]["count"] == 3
    assert (
        answer["alarm_ids"] != [storm["id"]] and len([a for a in mine if a["type"] == "sos"]) == 7
    )


def test_an_acknowledged_storm_takes_no_more_a_new_one_opens(client, device, dispatcher):
    for n in range(7):
        post(client, device["token"], sos(n))
    (storm,) = [a for a in all_alarms(client, dispatcher, device["id"]) if a["type"] == "storm"]
    assert client.post(f"/api/v1/alarms/{storm['id']}/ack", headers=dispatcher).status_code == 200
    answer = post(client, device["token"], sos(7))
    storms = [a for a in all_alarms(client, dispatcher, device["id"]) if a["type"] == "storm"]
    assert len(storms) == 2
    (fresh,) = [a for a in storms if a["status"] == "open"]
    assert answer["alarm_ids"] == [fresh["id"]] and fresh["priority"] == 1


def test_a_trackers_own_storm_never_swallows_its_violation(
    app, client, coordinator, dispatcher, setup
):
    """A tracker can storm at will with its own alarm events (tamper, test): its violations must
    stay alarms of their own (one per ban), never folded away into that storm, and they do not
    count towards its rate."""
    clock = [dt.datetime.now(dt.UTC)]
    app.extensions["aware"].clock = lambda: clock[0]
    zone_ban(client, coordinator, setup["case"]["id"])
    token, tracker_id = setup["tokens"]["perpetrator"], setup["ids"]["perpetrator"]
    feed = Feed(client, token)
    feed.at(north(20), when=clock[0])
    (violation,) = open_alarms(client, dispatcher, "zone_violation")
    # Its violation does not count: six of its own alarms are raised, only the 7th+ fold.
    for n in range(8):
        post(client, token, sos(n, "tamper", "tamper", when=clock[0]))
    mine = all_alarms(client, dispatcher, tracker_id)
    assert sorted(a["type"] for a in mine) == sorted(["storm", "zone_violation"] + ["tamper"] * 6)
    (storm,) = [a for a in mine if a["type"] == "storm"]
    assert storm["detail"]["folded"] == {"tamper": 2}
    # While it storms, further fixes and a re-entry stay on the violation.
    feed.at(north(400), when=clock[0] + dt.timedelta(seconds=30))
    feed.at(north(20), when=clock[0] + dt.timedelta(seconds=60))
    mine = all_alarms(client, dispatcher, tracker_id)
    assert len(mine) == 8
    (again,) = [a for a in mine if a["type"] == "zone_violation"]
    assert again["id"] == violation["id"] and again["detail"]["reentries"] == 1
    # Resolved while the storm goes on, the next breach raises a violation again, not a fold.
    r = client.post(
        f"/api/v1/alarms/{violation['id']}/resolve", headers=dispatcher, json={"outcome": "genuine"}
    )
    assert r.status_code == 200
    post(client, token, sos(8, "tamper", "tamper", when=clock[0] + dt.timedelta(seconds=61)))
    feed.at(north(25), when=clock[0] + dt.timedelta(seconds=62))
    (new_violation,) = open_alarms(client, dispatcher, "zone_violation")
    assert new_violation["id"] != violation["id"] and new_violation["priority"] == 1


@pytest.fixture
def app_rate_2(tmp_path, db_url, sessions):
    settings = dataclasses.replace(settings_for(tmp_path, db_url), device_alarm_rate=2)
    application = create_app(settings)
    st = application.extensions["aware"]
    st.engine.dispose()
    st.sessions = sessions
    st.publisher = RecordingPublisher()
    return application


def test_the_rate_is_a_setting(app_rate_2, make_user):
    client = app_rate_2.test_client()
    coordinator = bearer(make_user("coordinator")[1])
    dispatcher = bearer(make_user("dispatcher")[1])
    dev = client.post(
        "/api/v1/devices", headers=coordinator, json={"serial": "R2", "kind": "victim_alarm"}
    ).get_json()
    for n in range(4):
        post(client, dev["token"], sos(n))
    mine = all_alarms(client, dispatcher, dev["id"])
    assert sorted(a["type"] for a in mine) == ["sos", "sos", "storm"]
    assert load_settings({"AWARE_DEVICE_ALARM_RATE": "10"}).device_alarm_rate == 10
    assert load_settings({}).device_alarm_rate == 6
    with pytest.raises(ConfigError):
        load_settings({"AWARE_DEVICE_ALARM_RATE": "0"})
