"""Meeting series, occurrences, agendas, minutes, invitations and urgent proposals over HTTP
(SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from aware.alarms.models import Alarm
from aware.auth.services import create_user, issue_token
from aware.coordination import allocation, meetings
from aware.coordination.meeting_models import Meeting
from aware.coordination.reference_models import Municipality
from aware.risk.models import Assessment, Case, CaseAction
from tests.conftest import PASSWORD, bearer

UTC = dt.UTC
# A Monday in February 2027, before everything the tests schedule.
T0 = dt.datetime(2027, 2, 22, 9, 0, tzinfo=UTC)


def municipality(session, code, name, centre=None):
    """The municipality (the shipped reference data may already have it)."""
    found = session.get(Municipality, code)
    if found is None:
        found = Municipality(code=code, name=name, centrumgemeente_code=None)
        session.add(found)
        session.flush()
        found.centrumgemeente_code = centre
        session.flush()
    return found


def person(session, role, municipality=None):
    """A person whose token is valid on the test clock (2027) as well as today."""
    user = create_user(session, f"{role}-{uuid.uuid4().hex[:6]}", role, PASSWORD, T0, municipality)
    token, _ = issue_token(session, user, dt.datetime.now(UTC), 10 * 366 * 86400)
    return bearer(token)


@pytest.fixture
def coordinator(session):
    return person(session, "coordinator")


@pytest.fixture
def dispatcher(session):
    return person(session, "dispatcher")


@pytest.fixture
def clock(app):
    state = {"now": T0}
    app.extensions["aware"].clock = lambda: state["now"]
    return state


@pytest.fixture
def region(session):
    """Centrumgemeente 9901 with members 9902 and 9903 (codes not used by CBS)."""
    municipality(session, "9901", "Centrumstad", None)
    session.get(Municipality, "9901").centrumgemeente_code = "9901"
    municipality(session, "9902", "Dorp", "9901")
    municipality(session, "9903", "Gehucht", "9901")
    municipality(session, "9909", "Elders", None)
    session.commit()


def series_body(**over):
    body = {
        "municipality": "9901",
        "title": "Casusoverleg AWARE",
        "rrule": "FREQ=WEEKLY;BYDAY=MO",
        "start_local": "2027-03-15T14:00",
        "duration_min": 90,
        "organisations": ["police", "vrouwenopvang", "veilig_thuis"],
    }
    body.update(over)
    return body


def make_case(session, code="9901", concern=None, status="active", **kw):
    now = kw.pop("now", T0 - dt.timedelta(days=40))
    case = Case(
        reference=kw.pop("reference", f"R-{uuid.uuid4().hex[:8]}"),
        municipality_code=code,
        status=status,
        victim_name="Sanne Geheim",
        victim_address="Geheimstraat 1",
        concern=concern,
        created_at=now,
        updated_at=now,
        **kw,
    )
    session.add(case)
    session.flush()
    return case


def assess(session, case, concern, at):
    session.add(
        Assessment(
            case_id=case.id,
            instrument_id="s-dash-2009",
            instrument_version="1",
            answers={},
            concern=concern,
            assessor_name="x",
            assessed_at=at,
            reassess_due=at + dt.timedelta(days=7),
            created_at=at,
        )
    )
    case.concern = concern
    case.reassess_due = at + dt.timedelta(days=7)
    session.flush()


def test_weekly_series_keeps_local_time_across_dst_and_lists_meetings(
    client, coordinator, region, clock
):
    resp = client.post("/api/v1/meeting-series", json=series_body(), headers=coordinator)
    assert resp.status_code == 201, resp.get_json()
    series = resp.get_json()
    assert series["meetings"] >= 52 and series["start_local"] == "2027-03-15T14:00"
    listed = client.get(
        "/api/v1/meetings?municipality=9901&from=2027-03-20&to=2027-04-01", headers=coordinator
    ).get_json()["meetings"]
    assert [(m["starts_at"], m["ends_at"], m["start_local"]) for m in listed] == [
        ("2027-03-22T13:00:00Z", "2027-03-22T14:30:00Z", "2027-03-22T14:00"),
        ("2027-03-29T12:00:00Z", "2027-03-29T13:30:00Z", "2027-03-29T14:00"),
    ]
    assert all(m["series_id"] == series["id"] and m["urgent"] is False for m in listed)
    autumn = client.get(
        "/api/v1/meetings?municipality=9901&from=2027-10-25&to=2027-11-01", headers=coordinator
    ).get_json()["meetings"]
    assert [m["starts_at"] for m in autumn] == ["2027-10-25T12:00:00Z", "2027-11-01T13:00:00Z"]
    # A member municipality of the region sees nothing of a non-region series.
    assert (
        client.get(
            "/api/v1/meetings?municipality=9902&from=2027-03-20&to=2027-04-01", headers=coordinator
        ).get_json()["meetings"]
        == []
    )


def test_later_range_is_materialized_lazily_once(client, coordinator, region, clock, session):
    sid = client.post("/api/v1/meeting-series", json=series_body(), headers=coordinator).get_json()[
        "id"
    ]
    url = "/api/v1/meetings?municipality=9901&from=2028-06-01&to=2028-06-30"
    first = client.get(url, headers=coordinator).get_json()["meetings"]
    assert [m["start_local"] for m in first] == [
        "2028-06-05T14:00",
        "2028-06-12T14:00",
        "2028-06-19T14:00",
        "2028-06-26T14:00",
    ]
    assert client.get(url, headers=coordinator).get_json()["meetings"] == first
    slots = session.scalars(select(Meeting.slot_at).where(Meeting.series_id == sid)).all()
    assert len(slots) == len(set(slots))


def test_region_series_covers_member_municipalities(client, coordinator, region, clock):
    resp = client.post("/api/v1/meeting-series", json=series_body(region=True), headers=coordinator)
    assert resp.status_code == 201
    got = client.get(
        "/api/v1/meetings?municipality=9903&from=2027-03-15&to=2027-03-15", headers=coordinator
    ).get_json()["meetings"]
    assert len(got) == 1 and got[0]["municipality"] == "9901" and got[0]["region"] is True
    bad = client.post(
        "/api/v1/meeting-series",
        json=series_body(municipality="9909", region=True),
        headers=coordinator,
    )
    assert bad.status_code == 422 and "region" in bad.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"municipality": "0000"}, "municipality"),
        ({"municipality": "12"}, "municipality"),
        ({"rrule": "elke maandag"}, "rrule"),
        ({"rrule": "FREQ=HOURLY"}, "rrule"),
        ({"rrule": "FREQ=DAILY;BYHOUR=9,14"}, "rrule"),
        ({"rrule": "FREQ=WEEKLY;UNTIL=20270101T000000Z"}, "rrule"),  # ends before it starts
        ({"start_local": "2027-03-15T14:00+01:00"}, "start_local"),
        ({"start_local": "2027-03-28T02:30"}, "start_local"),
        ({"start_local": "2027-03-16T14:00"}, "start_local"),  # a Tuesday for a Monday rule
        ({"organisations": ["police", "buren"]}, "organisations.1"),
        ({"organisations": []}, "organisations"),
        ({"duration_min": 5}, "duration_min"),
        ({"duration_min": 600}, "duration_min"),
        ({"duration_min": "90"}, "duration_min"),
        ({"title": ""}, "title"),
    ],
)
def test_bad_series_input_is_422_naming_the_field_and_changes_nothing(
    client, coordinator, region, clock, session, over, field
):
    resp = client.post("/api/v1/meeting-series", json=series_body(**over), headers=coordinator)
    assert resp.status_code == 422, resp.get_json()
    assert field in resp.get_json()["error"]["fields"]
    assert session.scalar(select(func.count()).select_from(Meeting)) == 0


def test_series_errors_400_401_403_404(client, coordinator, dispatcher, region):
    assert client.post("/api/v1/meeting-series", data="{", headers=coordinator).status_code == 400
    assert client.post("/api/v1/meeting-series", json=series_body()).status_code == 401
    assert (
        client.post("/api/v1/meeting-series", json=series_body(), headers=dispatcher).status_code
        == 403
    )
    assert client.get("/api/v1/meetings/999999/agenda", headers=coordinator).status_code == 404
    assert client.get("/api/v1/meetings/999999.ics", headers=coordinator).status_code == 404
    assert client.get("/api/v1/meeting-series/999999.ics", headers=coordinator).status_code == 404
    for url in (
        "/api/v1/meetings?from=2027-04-01&to=2027-03-01",
        "/api/v1/meetings?from=morgen",
        "/api/v1/meetings?municipality=0000",
        "/api/v1/meetings?from=2027-01-01&to=2029-01-01",
    ):
        resp = client.get(url, headers=coordinator)
        assert resp.status_code == 422, url
        assert set(resp.get_json()["error"]["fields"]) & {"to", "from", "municipality"}


def test_meeting_and_series_ics_parse_back(client, coordinator, region, clock):
    sid = client.post("/api/v1/meeting-series", json=series_body(), headers=coordinator).get_json()[
        "id"
    ]
    (m,) = client.get(
        "/api/v1/meetings?municipality=9901&from=2027-03-29&to=2027-03-29", headers=coordinator
    ).get_json()["meetings"]
    resp = client.get(f"/api/v1/meetings/{m['id']}.ics", headers=coordinator)
    assert resp.status_code == 200 and resp.mimetype == "text/calendar"
    cal = Calendar.from_ical(resp.data)
    (event,) = cal.events
    assert event["DTSTART"].params["TZID"] == "Europe/Amsterdam"
    assert event.start.hour == 14 and event.start.astimezone(UTC) == dt.datetime(
        2027, 3, 29, 12, tzinfo=UTC
    )
    assert [str(t["TZID"]) for t in cal.timezones] == ["Europe/Amsterdam"]
    # Cancel one occurrence and move another: the series invitation shows both.
    (other,) = client.get(
        "/api/v1/meetings?municipality=9901&from=2027-04-05&to=2027-04-05", headers=coordinator
    ).get_json()["meetings"]
    c = client.post(
        f"/api/v1/meetings/{m['id']}/cancel", json={"reason": "Pasen"}, headers=coordinator
    )
    assert c.status_code == 200 and c.get_json()["status"] == "cancelled"
    again = client.post(
        f"/api/v1/meetings/{m['id']}/cancel", json={"reason": "x"}, headers=coordinator
    )
    assert again.status_code == 409
    mv = client.patch(
        f"/api/v1/meetings/{other['id']}",
        json={"start_local": "2027-04-06T10:00"},
        headers=coordinator,
    )
    assert mv.status_code == 200 and mv.get_json()["starts_at"] == "2027-04-06T08:00:00Z"
    assert mv.get_json()["moved"] is True
    series_cal = Calendar.from_ical(
        client.get(f"/api/v1/meeting-series/{sid}.ics", headers=coordinator).data
    )
    master, override = series_cal.events
    assert master["RRULE"]["FREQ"] == ["WEEKLY"]
    assert [d.dt.astimezone(UTC) for d in master["EXDATE"].dts] == [
        dt.datetime(2027, 3, 29, 12, tzinfo=UTC)
    ]
    assert override["RECURRENCE-ID"].dt.astimezone(UTC) == dt.datetime(2027, 4, 5, 12, tzinfo=UTC)
    assert override.start.astimezone(UTC) == dt.datetime(2027, 4, 6, 8, tzinfo=UTC)
    bad = client.patch(
        f"/api/v1/meetings/{other['id']}",
        json={"start_local": "2027-04-06T10:00Z"},
        headers=coordinator,
    )
    assert bad.status_code == 422 and "start_local" in bad.get_json()["error"]["fields"]


def _first_meeting(client, coordinator):
    return client.get(
        "/api/v1/meetings?municipality=9901&from=2027-03-15&to=2027-03-15", headers=coordinator
    ).get_json()["meetings"][0]


def test_agenda_in_marac_order_without_victim_names(client, coordinator, region, clock, session):
    before = dt.datetime(2027, 3, 1, tzinfo=UTC)
    acting = make_case(session, reference="A-ACTION")
    session.add(
        CaseAction(case_id=acting.id, kind="consult_om", title="Overleg OM", opened_at=before)
    )
    session.add(
        CaseAction(case_id=acting.id, kind="x", title="al gedaan", opened_at=before, done_at=before)
    )
    new_high = make_case(session, code="9901", reference="B-HIGH")
    assess(session, new_high, "high", dt.datetime(2027, 3, 10, tzinfo=UTC))
    old_high = make_case(session, reference="C-OLDHIGH")
    assess(session, old_high, "high", dt.datetime(2026, 12, 1, tzinfo=UTC))
    due = make_case(session, reference="D-DUE", concern="moderate")
    due.reassess_due = dt.datetime(2027, 3, 12, tzinfo=UTC)
    ended = make_case(session, reference="E-ENDED", status="ended")
    session.add(CaseAction(case_id=ended.id, kind="x", title="oud", opened_at=before))
    elsewhere = make_case(session, code="9902", reference="F-MEMBER")
    session.add(CaseAction(case_id=elsewhere.id, kind="x", title="lid", opened_at=before))
    session.commit()
    client.post("/api/v1/meeting-series", json=series_body(), headers=coordinator)
    m = _first_meeting(client, coordinator)
    resp = client.get(f"/api/v1/meetings/{m['id']}/agenda", headers=coordinator)
    assert resp.status_code == 200
    items = resp.get_json()["items"]
    got = [(i["section"], i["reference"]) for i in items]
    expected = [
        ("confidentiality", None),
        ("open_action", "A-ACTION"),
        ("new_high_risk", "B-HIGH"),
        ("reassessment", "C-OLDHIGH"),  # its re-assessment (7 days) is long overdue
        ("reassessment", "D-DUE"),  # B-HIGH is due on the 17th, after this meeting
    ]
    assert [g for g in got if g[0] not in allocation.SECTIONS] == expected
    groups = [i["group"] for i in items]
    assert groups == sorted(groups)
    assert "Sanne" not in resp.get_data(as_text=True)
    assert "Geheimstraat" not in resp.get_data(as_text=True)
    assert all(i["case_id"] for i in items[1:])
    # A region meeting also covers the member municipality's case.
    client.post(
        "/api/v1/meeting-series",
        json=series_body(
            region=True, start_local="2027-03-16T10:00", rrule="FREQ=WEEKLY;BYDAY=TU", title="Regio"
        ),
        headers=coordinator,
    )
    (rm,) = client.get(
        "/api/v1/meetings?municipality=9902&from=2027-03-16&to=2027-03-16", headers=coordinator
    ).get_json()["meetings"]
    refs = {
        i["reference"]
        for i in client.get(f"/api/v1/meetings/{rm['id']}/agenda", headers=coordinator).get_json()[
            "items"
        ]
    }
    assert {"A-ACTION", "F-MEMBER"} <= refs and "E-ENDED" not in refs


def test_agenda_is_for_coordinators_only(client, dispatcher, session, coordinator, region, clock):
    client.post("/api/v1/meeting-series", json=series_body(), headers=coordinator)
    m = _first_meeting(client, coordinator)
    assert client.get(f"/api/v1/meetings/{m['id']}/agenda", headers=dispatcher).status_code == 403
    reviewer = person(session, "municipality", "9901")
    assert client.get(f"/api/v1/meetings/{m['id']}/agenda", headers=reviewer).status_code == 403


def test_minutes_need_a_reason_for_each_open_action_and_create_actions(
    client, coordinator, region, clock, session
):
    case = make_case(session, reference="M-1")
    open_a = CaseAction(case_id=case.id, kind="consult_om", title="Overleg OM", opened_at=T0)
    open_b = CaseAction(case_id=case.id, kind="x", title="Huisbezoek", opened_at=T0)
    session.add_all([open_a, open_b])
    session.commit()
    client.post("/api/v1/meeting-series", json=series_body(), headers=coordinator)
    m = _first_meeting(client, coordinator)
    url = f"/api/v1/meetings/{m['id']}/minutes"
    body = {
        "attendance": [
            {"organisation": "police", "present": True},
            {"organisation": "veilig_thuis", "present": False},
        ],
        "decisions": [{"kind": "allocate", "case_id": case.id, "text": "AWARE toekennen"}],
        "actions": [
            {
                "case_id": case.id,
                "title": "Apparaat uitreiken",
                "owner": {"organisation": "police"},
                "deadline": "2027-03-22",
            }
        ],
        "open_actions": [{"action_id": open_a.id, "done": True}],
    }
    early = client.post(url, json=body, headers=coordinator)
    assert early.status_code == 409  # the meeting has not started yet
    clock["now"] = dt.datetime(2027, 3, 15, 15, 0, tzinfo=UTC)
    missing = client.post(url, json=body, headers=coordinator)
    assert missing.status_code == 422
    assert f"open_actions.{open_b.id}" in missing.get_json()["error"]["fields"]
    body["open_actions"].append({"action_id": open_b.id, "done": False})
    assert client.post(url, json=body, headers=coordinator).status_code == 422
    for bad, field in [
        ({"decisions": [{"kind": "pauze", "case_id": case.id, "text": "x"}]}, "decisions.0.kind"),
        ({"decisions": [{"kind": "end", "case_id": 999999, "text": "x"}]}, "decisions.0.case_id"),
        ({"attendance": [{"organisation": "buren", "present": True}]}, "attendance.0.organisation"),
        ({"attendance": [{"organisation": 999999, "present": True}]}, "attendance.0.organisation"),
        (
            {"actions": [{**body["actions"][0], "deadline": "2027-01-01"}]},
            "actions.0.deadline",
        ),
        ({"actions": [{**body["actions"][0], "owner": {}}]}, "actions.0.owner"),
    ]:
        resp = client.post(url, json={**body, **bad}, headers=coordinator)
        assert resp.status_code == 422 and field in resp.get_json()["error"]["fields"], (
            bad,
            resp.get_json(),
        )
    session.expire_all()
    assert session.get(CaseAction, open_a.id).done_at is None  # bad input changed nothing
    body["open_actions"][1]["reason"] = "Slachtoffer niet bereikbaar"
    ok = client.post(url, json=body, headers=coordinator)
    assert ok.status_code == 201, ok.get_json()
    minutes = ok.get_json()
    assert minutes["version"] == 1 and minutes["actions"][0]["deadline"] == "2027-03-22"
    session.expire_all()
    assert session.get(CaseAction, open_a.id).done_at is not None
    assert session.get(CaseAction, open_b.id).done_at is None
    created = session.get(CaseAction, minutes["actions"][0]["case_action_id"])
    assert created.case_id == case.id and created.title == "Apparaat uitreiken"
    assert client.post(url, json=body, headers=coordinator).status_code == 409
    body["attendance"][1]["present"] = True
    body["actions"][0]["deadline"] = "2027-03-29"
    fixed = client.put(url, json=body, headers=coordinator)
    assert fixed.status_code == 200 and fixed.get_json()["version"] == 2
    assert fixed.get_json()["actions"][0]["deadline"] == "2027-03-29"
    assert len(fixed.get_json()["actions"]) == 1
    assert client.get(url, headers=coordinator).get_json()["attendance"][1]["present"] is True
    # A held meeting can no longer be moved or cancelled.
    assert (
        client.post(
            f"/api/v1/meetings/{m['id']}/cancel", json={"reason": "x"}, headers=coordinator
        ).status_code
        == 409
    )


def alarm(session, case, type_, at, **kw):
    a = Alarm(
        seq=1,
        type=type_,
        priority=1,
        status=kw.pop("status", "open"),
        device_id=None,
        case_id=case.id,
        occurred_at=at,
        received_at=at,
        **kw,
    )
    session.add(a)
    session.flush()
    return a


def test_urgent_meetings_are_proposed_once_per_trigger(client, coordinator, region, session):
    now = dt.datetime(2027, 3, 3, 7, 0, tzinfo=UTC)  # Wednesday 08:00 local
    high = make_case(session, reference="U-HIGH")
    assess(session, high, "moderate", now - dt.timedelta(days=20))
    assess(session, high, "high", now - dt.timedelta(minutes=5))
    steady = make_case(session, reference="U-STEADY")
    assess(session, steady, "high", now - dt.timedelta(days=20))
    assess(session, steady, "high", now - dt.timedelta(minutes=5))  # already high: no trigger
    elsewhere = make_case(session, code="9909", reference="U-ELSEWHERE")
    alarm(session, elsewhere, "zone_violation", now - dt.timedelta(minutes=2))
    alarm(session, elsewhere, "sos", now - dt.timedelta(minutes=1))  # not genuine (yet)
    session.commit()

    assert meetings.propose_urgent_meetings(session, now) == 2
    assert meetings.propose_urgent_meetings(session, now + dt.timedelta(minutes=1)) == 0
    urgent = session.scalars(
        select(Meeting).where(Meeting.urgent.is_(True)).order_by(Meeting.id)
    ).all()
    assert [(u.municipality_code, u.status) for u in urgent] == [
        ("9901", "proposed"),
        ("9909", "proposed"),
    ]
    assert urgent[0].starts_at == dt.datetime(2027, 3, 3, 9, 0, tzinfo=UTC)  # 10:00 local today
    assert all(u.starts_at - now <= dt.timedelta(hours=48) for u in urgent)

    # A genuine alarm later: the case goes on the urgent meeting already planned within 48 h.
    sos = session.scalars(select(Alarm).where(Alarm.type == "sos")).one()
    sos.status, sos.outcome, sos.resolved_at = "resolved", "genuine", now + dt.timedelta(minutes=3)
    session.commit()
    assert meetings.propose_urgent_meetings(session, now + dt.timedelta(minutes=4)) == 1
    assert (
        session.scalar(select(func.count()).select_from(Meeting).where(Meeting.urgent.is_(True)))
        == 2
    )

    listed = client.get(
        "/api/v1/meetings?municipality=9901&from=2027-03-03&to=2027-03-05&urgent=true",
        headers=coordinator,
    ).get_json()["meetings"]
    assert [m["urgent"] for m in listed] == [True]
    agenda = client.get(
        f"/api/v1/meetings/{listed[0]['id']}/agenda", headers=coordinator
    ).get_json()
    assert [(i["section"], i["reference"]) for i in agenda["items"]] == [
        ("confidentiality", None),
        ("urgent", "U-HIGH"),  # an urgent meeting is about the cases put on it only
    ]
    assert agenda["items"][1]["detail"]["reason"] == "high_concern"
    assert "U-STEADY" not in {i["reference"] for i in agenda["items"]}
    ok = client.post(f"/api/v1/meetings/{listed[0]['id']}/confirm", headers=coordinator)
    assert ok.status_code == 200 and ok.get_json()["status"] == "confirmed"
    assert (
        client.post(f"/api/v1/meetings/{listed[0]['id']}/confirm", headers=coordinator).status_code
        == 409
    )
    cal = Calendar.from_ical(
        client.get(f"/api/v1/meetings/{listed[0]['id']}.ics", headers=coordinator).data
    )
    text = cal.to_ical().decode()
    assert "U-HIGH" not in text and "Sanne" not in text


def test_trigger_goes_on_a_regular_meeting_within_48_hours(
    client, coordinator, region, clock, session
):
    client.post("/api/v1/meeting-series", json=series_body(), headers=coordinator)
    now = dt.datetime(2027, 3, 14, 12, 0, tzinfo=UTC)  # Sunday; the series meets Monday 14:00
    case = make_case(session, reference="V-1")
    alarm(session, case, "proximity_violation", now - dt.timedelta(minutes=1))
    session.commit()
    assert meetings.propose_urgent_meetings(session, now) == 1
    assert (
        session.scalar(select(func.count()).select_from(Meeting).where(Meeting.urgent.is_(True)))
        == 0
    )
    m = _first_meeting(client, coordinator)
    items = client.get(f"/api/v1/meetings/{m['id']}/agenda", headers=coordinator).get_json()[
        "items"
    ]
    assert ("urgent", "V-1") in [(i["section"], i["reference"]) for i in items]


def test_a_reminder_action_is_not_listed_twice_on_the_agenda(
    client, coordinator, region, clock, session
):
    """The scheduler opens a reminder action for a due re-assessment; the agenda shows the
    re-assessment in its own section, not a second time as an open action."""
    from aware.scheduler.casework import REASSESSMENT_DUE

    due = make_case(session, reference="G-REMIND", concern="moderate")
    due.reassess_due = dt.datetime(2027, 3, 12, tzinfo=UTC)
    session.add(
        CaseAction(
            case_id=due.id,
            kind=REASSESSMENT_DUE,
            title="Herbeoordeling",
            opened_at=dt.datetime(2027, 3, 12, tzinfo=UTC),
        )
    )
    session.commit()
    client.post("/api/v1/meeting-series", json=series_body(), headers=coordinator)
    m = _first_meeting(client, coordinator)
    items = client.get(f"/api/v1/meetings/{m['id']}/agenda", headers=coordinator).get_json()[
        "items"
    ]
    mine = [i["section"] for i in items if i["reference"] == "G-REMIND"]
    assert mine == ["reassessment"]
