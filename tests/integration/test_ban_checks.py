"""Bans over HTTP and position checks through /ingest (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import bearer

CENTRE = (52.0907, 5.1214)  # lat, lon (Utrecht)
M_LAT = 1 / 111_200  # degrees latitude per metre
M_LON = 1 / 68_500  # degrees longitude per metre at 52 N


def north(metres: float, of=CENTRE) -> tuple[float, float]:
    return of[0] + metres * M_LAT, of[1]


def east(metres: float, of=CENTRE) -> tuple[float, float]:
    return of[0], of[1] + metres * M_LON


def iso(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


NOW = dt.datetime.now(dt.UTC)
VALID = {
    "valid_from": iso(NOW - dt.timedelta(days=1)),
    "valid_until": iso(NOW + dt.timedelta(days=30)),
    "legal_basis": "509hh Sv",
}


@pytest.fixture
def setup(client, coordinator, dispatcher):
    return make_case(client, coordinator)


def make_case(client, coordinator):
    """A case with a victim alarm and a perpetrator tracker: {"case", "ids", "tokens"}."""
    case = client.post(
        "/api/v1/cases",
        headers=coordinator,
        json={
            "reference": "BAN-1",
            "municipality": "0344",
            "victim": {"name": "Anouk", "address": "Nachtegaalstraat 1"},
            "perpetrator": {"description": "rode jas"},
        },
    ).get_json()
    ids = {}
    tokens = {}
    for serial, kind, role in (
        ("AW-V", "victim_alarm", "victim"),
        ("GPS-P", "perpetrator_tracker", "perpetrator"),
    ):
        dev = client.post(
            "/api/v1/devices", headers=coordinator, json={"serial": serial, "kind": kind}
        ).get_json()
        ids[role], tokens[role] = dev["id"], dev["token"]
        r = client.post(
            f"/api/v1/cases/{case['id']}/devices",
            headers=coordinator,
            json={"device_id": dev["id"], "role": role},
        )
        assert r.status_code == 201
    return {"case": case, "ids": ids, "tokens": tokens}


class Feed:
    """A device posting one fix per request. Fixes are stamped `step_s` apart from now on, as a
    real tracker's are (fixes that would need more than 250 km/h are implausible and never
    raise; a teleport within milliseconds is one)."""

    def __init__(self, client, token, step_s=30.0):
        self.client, self.headers, self.n = client, bearer(token), 0
        self.start, self.step_s = dt.datetime.now(dt.UTC), step_s

    def at(self, latlon, accuracy=5.0, when=None, type_="position"):
        self.n += 1
        when = when or self.start + dt.timedelta(seconds=self.step_s * (self.n - 1))
        r = self.client.post(
            "/api/v1/ingest",
            headers=self.headers,
            json={
                "event_id": f"p{self.n}",
                "type": type_,
                "occurred_at": iso(when),
                "position": {"lat": latlon[0], "lon": latlon[1], "accuracy_m": accuracy},
            },
        )
        assert r.status_code == 202, r.get_json()
        return r.get_json()


def open_alarms(client, dispatcher, kind=None):
    alarms = client.get("/api/v1/alarms", headers=dispatcher).get_json()["alarms"]
    return [a for a in alarms if kind is None or a["type"] == kind]


def zone_ban(client, coordinator, case_id, radius=200):
    r = client.post(
        f"/api/v1/cases/{case_id}/bans",
        headers=coordinator,
        json={
            "kind": "location",
            **VALID,
            "zones": [{"type": "Point", "coordinates": [CENTRE[1], CENTRE[0]], "radius_m": radius}],
        },
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_far_away_nothing_inside_zone_one_violation_jitter_appends(
    client, coordinator, dispatcher, setup, publisher
):
    ban = zone_ban(client, coordinator, setup["case"]["id"])
    feed = Feed(client, setup["tokens"]["perpetrator"])
    feed.at(north(2000))
    assert open_alarms(client, dispatcher) == []
    feed.at(north(150))
    (alarm,) = open_alarms(client, dispatcher, "zone_violation")
    assert alarm["case_id"] == setup["case"]["id"] and alarm["ban_id"] == ban["id"]
    assert alarm["priority"] == 1 and alarm["late"] is False
    assert alarm["detail"]["inside"] is True
    # GPS jitter of a few metres across the border: still one alarm, positions appended.
    for metres in (198, 203, 197, 204, 199):
        feed.at(north(metres), accuracy=4)
    assert len(open_alarms(client, dispatcher, "zone_violation")) == 1
    detail = client.get(f"/api/v1/alarms/{alarm['id']}", headers=dispatcher).get_json()
    assert [e["action"] for e in detail["timeline"]].count("position") == 5
    assert any(n == "alarm.updated" and p["id"] == alarm["id"] for n, p in publisher.events)
    # Out by more than the hysteresis, back in: while the alarm is open, the same alarm with
    # the exit and the re-entry counted (issue 11: one open violation alarm per ban).
    feed.at(north(400))
    feed.at(north(100))
    (same,) = open_alarms(client, dispatcher, "zone_violation")
    assert same["id"] == alarm["id"]
    assert same["detail"]["exits"] == 1 and same["detail"]["reentries"] == 1
    assert same["detail"]["fixes"] == 1 + 5 + 2
    assert same["detail"]["last_fix"]["event_id"] == f"p{feed.n}"
    timeline = client.get(f"/api/v1/alarms/{alarm['id']}", headers=dispatcher).get_json()
    marked = [e["detail"] for e in timeline["timeline"] if e["action"] == "position"]
    assert [d.get("exit") for d in marked][-2:] == [True, None]
    assert [d.get("reentry") for d in marked][-2:] == [None, True]


def test_resolving_rearms_a_breach_still_going_on(client, coordinator, dispatcher, setup):
    zone_ban(client, coordinator, setup["case"]["id"])
    feed = Feed(client, setup["tokens"]["perpetrator"])
    feed.at(north(50))
    (alarm,) = open_alarms(client, dispatcher, "zone_violation")
    client.post(
        f"/api/v1/alarms/{alarm['id']}/resolve", headers=dispatcher, json={"outcome": "genuine"}
    )
    feed.at(north(60))
    (again,) = open_alarms(client, dispatcher, "zone_violation")
    assert again["id"] != alarm["id"]


def test_approach_warning_then_violation(client, coordinator, dispatcher, setup):
    client.post(
        f"/api/v1/cases/{setup['case']['id']}/bans",
        headers=coordinator,
        json={"kind": "contact", "distance_m": 500, **VALID},
    )
    Feed(client, setup["tokens"]["victim"]).at(CENTRE, accuracy=5)
    feed = Feed(client, setup["tokens"]["perpetrator"])
    feed.at(east(1500))
    assert open_alarms(client, dispatcher) == []
    feed.at(east(800))  # within 500 + 500 margin
    (warning,) = open_alarms(client, dispatcher, "proximity_warning")
    assert warning["priority"] == 2 and warning["detail"]["victim_position"] == "device"
    feed.at(east(300))
    (violation,) = open_alarms(client, dispatcher, "proximity_violation")
    assert violation["priority"] == 1
    assert 280 < violation["detail"]["distance_m"] < 320
    feed.at(east(290))  # same episode: appended, not a new alarm
    assert len(open_alarms(client, dispatcher, "proximity_violation")) == 1


def test_stale_victim_position_is_not_used_home_point_is(client, coordinator, dispatcher, setup):
    case_id = setup["case"]["id"]
    client.post(
        f"/api/v1/cases/{case_id}/bans",
        headers=coordinator,
        json={"kind": "contact", "distance_m": 500, **VALID},
    )
    old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)
    Feed(client, setup["tokens"]["victim"]).at(CENTRE, when=old)
    feed = Feed(client, setup["tokens"]["perpetrator"])
    feed.at(east(100))
    assert open_alarms(client, dispatcher) == []  # 20-minute-old fix: not current
    client.patch(
        f"/api/v1/cases/{case_id}",
        headers=coordinator,
        json={"victim": {"name": "Anouk", "home": {"lat": north(2000)[0], "lon": north(2000)[1]}}},
    )
    feed.at(north(1800))
    (violation,) = open_alarms(client, dispatcher, "proximity_violation")
    assert violation["detail"]["victim_position"] == "home"
    assert violation["detail"]["victim_device_silent_s"] >= 20 * 60


def test_late_position_is_judged_at_its_own_time_and_marked(client, coordinator, dispatcher, setup):
    zone_ban(client, coordinator, setup["case"]["id"])
    feed = Feed(client, setup["tokens"]["perpetrator"])
    feed.at(north(3000))  # the newest position: far away
    late = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    feed.at(north(20), when=late)
    (alarm,) = open_alarms(client, dispatcher, "zone_violation")
    assert alarm["late"] is True
    devices = client.get("/api/v1/devices", headers=coordinator).get_json()["devices"]
    tracker = next(d for d in devices if d["id"] == setup["ids"]["perpetrator"])
    # The late fix did not replace the newer last position.
    assert tracker["last_position_at"] > iso(late)


def test_ban_not_valid_at_the_time_raises_nothing(client, coordinator, dispatcher, setup):
    future = {
        "valid_from": iso(NOW + dt.timedelta(days=1)),
        "valid_until": iso(NOW + dt.timedelta(days=5)),
        "legal_basis": "38v Sr",
    }
    client.post(
        f"/api/v1/cases/{setup['case']['id']}/bans",
        headers=coordinator,
        json={
            "kind": "location",
            **future,
            "zones": [{"type": "Point", "coordinates": [CENTRE[1], CENTRE[0]], "radius_m": 200}],
        },
    )
    Feed(client, setup["tokens"]["perpetrator"]).at(CENTRE)
    assert open_alarms(client, dispatcher) == []


def test_victim_device_positions_raise_no_ban_alarms(client, coordinator, dispatcher, setup):
    zone_ban(client, coordinator, setup["case"]["id"])
    Feed(client, setup["tokens"]["victim"]).at(CENTRE)
    assert open_alarms(client, dispatcher) == []


def test_tracker_tamper_is_linked_to_the_case(client, setup, dispatcher):
    r = client.post(
        "/api/v1/ingest",
        headers=bearer(setup["tokens"]["perpetrator"]),
        json={"event_id": "t1", "type": "tamper", "occurred_at": iso(dt.datetime.now(dt.UTC))},
    )
    assert r.status_code == 202 and r.get_json()["alarm_ids"] == []  # a tracker is told no ids
    (alarm,) = open_alarms(client, dispatcher, "tamper")
    assert alarm["event_id"] == "t1" and alarm["case_id"] == setup["case"]["id"]


def test_ban_map_is_geojson(client, coordinator, dispatcher, setup):
    zone_ban(client, coordinator, setup["case"]["id"])
    client.post(
        f"/api/v1/cases/{setup['case']['id']}/bans",
        headers=coordinator,
        json={
            "kind": "location",
            **VALID,
            "zones": [
                {
                    "type": "Polygon",
                    "coordinates": [
                        [[5.10, 52.08], [5.11, 52.08], [5.11, 52.09], [5.10, 52.09], [5.10, 52.08]]
                    ],
                }
            ],
        },
    )
    fc = client.get(f"/api/v1/cases/{setup['case']['id']}/bans", headers=dispatcher).get_json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 2
    circle, polygon = fc["features"]
    assert circle["geometry"]["type"] == "Point" and circle["properties"]["radius_m"] == 200
    assert polygon["geometry"]["coordinates"][0][0] == [5.10, 52.08]  # lon, lat


def test_long_behavioural_order_is_warned(client, coordinator, setup):
    r = client.post(
        f"/api/v1/cases/{setup['case']['id']}/bans",
        headers=coordinator,
        json={
            "kind": "contact",
            "distance_m": 500,
            "legal_basis": "509hh Sv",
            "valid_from": "2026-01-01T00:00:00Z",
            "valid_until": "2026-06-01T00:00:00Z",
        },
    )
    assert r.status_code == 201
    assert r.get_json()["warnings"] and "90" in r.get_json()["warnings"][0]
    assert r.get_json()["warning_margin_m"] == 500  # default: equal to the distance


BOW = [[5.10, 52.08], [5.11, 52.09], [5.11, 52.08], [5.10, 52.09], [5.10, 52.08]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "location", "zones": [{"type": "Polygon", "coordinates": [BOW]}]}, "zones.0"),
        (
            {
                "kind": "location",
                "zones": [{"type": "Point", "coordinates": [5.1, 52.0], "radius_m": 0}],
            },
            "zones.0.radius_m",
        ),
        (
            {
                "kind": "location",
                "zones": [{"type": "Point", "coordinates": [5.1, 52.0], "radius_m": 40000}],
            },
            "zones.0",
        ),
        (
            {
                "kind": "location",
                "zones": [{"type": "Point", "coordinates": [5.1, 95], "radius_m": 100}],
            },
            "zones.0.coordinates",
        ),
        ({"kind": "location", "zones": []}, "zones"),
        ({"kind": "contact"}, "distance_m"),
        ({"kind": "contact", "distance_m": -5}, "distance_m"),
        ({"kind": "curfew", "distance_m": 5}, "kind"),
        (
            {
                "kind": "contact",
                "distance_m": 500,
                "valid_from": "2026-02-01T00:00:00Z",
                "valid_until": "2026-01-01T00:00:00Z",
            },
            "valid_until",
        ),
    ],
)
def test_bad_bans_are_422_naming_the_field_and_change_nothing(
    client, coordinator, dispatcher, setup, body, field
):
    full = {**VALID, **body}
    r = client.post(f"/api/v1/cases/{setup['case']['id']}/bans", headers=coordinator, json=full)
    assert r.status_code == 422, r.get_json()
    fields = r.get_json()["error"]["fields"]
    assert any(f == field or f.startswith(field + ".") for f in fields), fields
    fc = client.get(f"/api/v1/cases/{setup['case']['id']}/bans", headers=dispatcher).get_json()
    assert fc["features"] == []


def test_alarms_carry_the_case_card_for_dispatch(client, coordinator, dispatcher, setup, publisher):
    ban = zone_ban(client, coordinator, setup["case"]["id"])
    r = client.post(
        "/api/v1/ingest",
        headers=bearer(setup["tokens"]["victim"]),
        json={"event_id": "sos-1", "type": "sos", "occurred_at": iso(dt.datetime.now(dt.UTC))},
    )
    (alarm_id,) = r.get_json()["alarm_ids"]
    ((name, pushed),) = [(n, p) for n, p in publisher.events if p["id"] == alarm_id]
    card = pushed["case"]
    assert card["reference"] == "BAN-1" and card["victim"]["address"] == "Nachtegaalstraat 1"
    assert card["perpetrator"]["description"] == "rode jas"
    assert [b["id"] for b in card["active_bans"]] == [ban["id"]]
    listed = client.get("/api/v1/alarms", headers=dispatcher).get_json()["alarms"]
    assert listed[0]["case"]["reference"] == "BAN-1"
    detail = client.get(f"/api/v1/alarms/{alarm_id}", headers=dispatcher).get_json()
    assert detail["case"]["victim"]["name"] == "Anouk"
    acked = client.post(f"/api/v1/alarms/{alarm_id}/ack", headers=dispatcher).get_json()
    assert acked["case"]["id"] == setup["case"]["id"]
