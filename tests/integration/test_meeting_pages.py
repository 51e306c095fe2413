"""The coordinator's meeting pages: calendar, agenda, invitation link and the minutes form."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from aware.coordination.meeting_models import Meeting
from aware.risk.models import CaseAction
from tests.conftest import PASSWORD, csrf_of, sign_in
from tests.integration.test_meetings_api import (  # noqa: F401
    T0,
    clock,
    coordinator,
    make_case,
    region,
    series_body,
)


def _sign_in(client, make_user):
    make_user("coordinator", "coord-meet")
    sign_in(client, "coord-meet")


def test_calendar_agenda_and_minutes_form(
    client,
    make_user,
    session,
    coordinator,  # noqa: F811
    region,  # noqa: F811
    clock,  # noqa: F811
):
    case = make_case(session, "9901", concern="high", reference="MEET-CASE")
    session.add(CaseAction(case_id=case.id, kind="x", title="Gesprek OM", opened_at=T0))
    session.commit()
    action_id = session.scalars(select(CaseAction.id).where(CaseAction.case_id == case.id)).one()
    r = client.post("/api/v1/meeting-series", json=series_body(), headers=coordinator)
    assert r.status_code == 201, r.get_json()
    _sign_in(client, make_user)

    calendar = client.get("/meetings?municipality=9901&from=2027-03-15&to=2027-03-29")
    assert calendar.status_code == 200
    assert calendar.text.count("data-meeting-id=") == 3  # three Mondays
    assert "14:00–15:30" in calendar.text
    bad = client.get("/meetings?municipality=9901&from=2027-03-29&to=2027-03-15")
    assert "to is before from" in bad.text

    meeting = session.scalars(
        select(Meeting).where(Meeting.series_id == r.get_json()["id"]).order_by(Meeting.starts_at)
    ).first()
    page = client.get(f"/meetings/{meeting.id}")
    assert page.status_code == 200
    assert "MEET-CASE" in page.text and "Gesprek OM" in page.text
    assert "Sanne Geheim" not in page.text and "Geheimstraat" not in page.text
    assert f"/api/v1/meetings/{meeting.id}.ics" in page.text
    assert "zodra het overleg is begonnen" in page.text  # not started: no form yet

    clock["now"] = meeting.starts_at + dt.timedelta(minutes=30)
    page = client.get(f"/meetings/{meeting.id}")
    assert 'id="minutes-form"' in page.text
    form = {
        "csrf_token": csrf_of(page.text),
        "organisation_types": ["police", "vrouwenopvang", "veilig_thuis"],
        "present_police": "on",
        "present_vrouwenopvang": "on",
        "action_case_0": str(case.id),
        "action_title_0": "Bel de wijkagent",
        "action_owner_0": "police",
        "action_deadline_0": "2027-04-01",
    }
    # The open action is neither done nor explained: refused, naming it; nothing saved.
    refused = client.post(f"/meetings/{meeting.id}/minutes", data=form, follow_redirects=True)
    assert f"open_actions.{action_id}" in refused.text
    assert 'id="minutes-form"' in refused.text
    form[f"reason_{action_id}"] = "OM nog niet bereikt"
    saved = client.post(f"/meetings/{meeting.id}/minutes", data=form, follow_redirects=True)
    assert "Verslag opgeslagen." in saved.text and 'id="minutes-recorded"' in saved.text
    minutes = client.get(f"/api/v1/meetings/{meeting.id}/minutes", headers=coordinator).get_json()
    assert [a["title"] for a in minutes["actions"]] == ["Bel de wijkagent"]
    present = {a["type"]: a["present"] for a in minutes["attendance"]}
    assert present == {"police": True, "vrouwenopvang": True, "veilig_thuis": False}


def test_meeting_pages_are_for_coordinators(client, make_user, app):
    assert client.get("/meetings").status_code == 302
    make_user("dispatcher", "disp-meet")
    token = csrf_of(client.get("/login").text)
    client.post("/login", data={"username": "disp-meet", "password": PASSWORD, "csrf_token": token})
    assert client.get("/meetings").status_code == 403
    assert client.get("/meetings/1").status_code == 403
