"""Every read and change of personal data leaves an audit entry; refused requests leave none;
admins read (and export) the log, and that reading is audited too."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from sqlalchemy import func, select, update

from aware.audit.models import AppendOnly, AuditCaseRef, AuditEntry
from tests.conftest import bearer, event, sign_in

VICTIM = {"name": "Mirjam Bos", "phone": "+31612121212", "address": "Kade 9"}
PERSONAL = ("Mirjam", "+31612121212", "Kade 9", "Kees")


def _count(session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEntry)))


def _entries(session, action=None):
    q = select(AuditEntry).order_by(AuditEntry.id)
    if action:
        q = q.where(AuditEntry.action == action)
    return session.scalars(q).all()


def _last(session) -> AuditEntry:
    return session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).one()


def _refs(session, entry) -> list[int]:
    return sorted(
        session.scalars(select(AuditCaseRef.case_id).where(AuditCaseRef.entry_id == entry.id))
    )


def _no_personal_values(entry) -> None:
    text = repr(entry.detail)
    assert not any(p in text for p in PERSONAL), text


def _case(client, headers, reference="AUD-1"):
    r = client.post(
        "/api/v1/cases",
        headers=headers,
        json={
            "reference": reference,
            "municipality": "0344",
            "victim": VICTIM,
            "perpetrator": {"name": "Kees"},
        },
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()


@pytest.fixture
def coord(make_user):
    user, raw = make_user("coordinator", "coord-aud")
    return user, bearer(raw)


def test_case_create_read_update_and_list_by_api_are_audited(client, session, coord):
    user, headers = coord
    case = _case(client, headers)
    created = _last(session)
    assert (created.action, created.case_id, created.object_type) == (
        "case.create",
        case["id"],
        "case",
    )
    assert (created.user_id, created.username, created.role, created.purpose) == (
        user.id,
        "coord-aud",
        "coordinator",
        "casusregie",
    )

    assert client.get(f"/api/v1/cases/{case['id']}", headers=headers).status_code == 200
    read = _last(session)
    assert (read.action, read.case_id, read.object_id) == ("case.read", case["id"], str(case["id"]))
    assert read.detail == {"contact": True}

    r = client.patch(
        f"/api/v1/cases/{case['id']}",
        headers=headers,
        json={"victim": {"name": "Mirjam Bos", "phone": "+31600000000"}, "status": "active"},
    )
    assert r.status_code == 200, r.get_json()
    changed = _last(session)
    assert changed.action == "case.update" and changed.case_id == case["id"]
    assert changed.detail == {"fields": ["status", "victim.name", "victim.phone"]}

    other = _case(client, headers, "AUD-2")
    assert client.get("/api/v1/cases?municipality=0344", headers=headers).status_code == 200
    listed = _last(session)
    assert listed.action == "case.list" and listed.case_id is None
    assert {case["id"], other["id"]} <= set(_refs(session, listed))
    for entry in _entries(session):
        _no_personal_values(entry)


def test_case_page_and_list_page_are_audited(client, session, coord):
    _, headers = coord
    case = _case(client, headers)
    sign_in(client, "coord-aud")
    before = _count(session)
    assert client.get(f"/cases/{case['id']}").status_code == 200
    page = _last(session)
    assert (page.action, page.case_id, page.username) == ("case.read", case["id"], "coord-aud")
    assert page.detail == {"via": "page", "contact": True}
    assert client.get("/cases").status_code == 200
    listing = _last(session)
    assert listing.action == "case.list" and case["id"] in _refs(session, listing)
    assert _count(session) == before + 2


def test_a_coordinator_of_another_case_is_audited_without_contact(
    client, session, coord, make_user
):
    _, headers = coord
    case = _case(client, headers)
    _, raw = make_user("coordinator", "coord-other")
    assert client.get(f"/api/v1/cases/{case['id']}", headers=bearer(raw)).status_code == 200
    entry = _last(session)
    assert entry.username == "coord-other" and entry.detail == {"contact": False}


@pytest.fixture
def case_alarm(client, coord, device, dispatcher):
    _, headers = coord
    case = _case(client, headers, "AUD-ALARM")
    r = client.post(
        f"/api/v1/cases/{case['id']}/devices",
        headers=headers,
        json={"device_id": device["id"], "role": "victim"},
    )
    assert r.status_code == 201, r.get_json()
    body = client.post("/api/v1/ingest", headers=device["headers"], json=event()).get_json()
    return case, body["alarm_ids"][0]


def test_the_intake_path_writes_no_audit_entry(client, session, device):
    before = _count(session)
    r = client.post("/api/v1/ingest", headers=device["headers"], json=event("quiet"))
    assert r.status_code == 202
    assert _count(session) == before


def test_alarm_detail_list_and_context_are_audited_with_the_case(
    client, session, case_alarm, dispatcher
):
    case, alarm_id = case_alarm
    detail = client.get(f"/api/v1/alarms/{alarm_id}", headers=dispatcher)
    assert detail.status_code == 200 and detail.get_json()["case"]["reference"] == "AUD-ALARM"
    read = _last(session)
    assert (read.action, read.object_type, read.object_id, read.case_id) == (
        "alarm.read",
        "alarm",
        str(alarm_id),
        case["id"],
    )
    assert (read.username, read.role, read.purpose) == ("disp-anna", "dispatcher", "meldkamer")
    assert client.get(f"/api/v1/alarms/{alarm_id}/context", headers=dispatcher).status_code == 200
    assert _last(session).object_type == "alarm_context"
    assert client.get("/api/v1/alarms", headers=dispatcher).status_code == 200
    listed = _last(session)
    assert listed.action == "alarm.list" and _refs(session, listed) == [case["id"]]


def test_each_console_connect_is_one_audit_entry_and_a_refused_one_none(
    app, session, case_alarm, make_user
):
    case, _alarm_id = case_alarm
    socketio = app.extensions["socketio"]
    _, raw = make_user("dispatcher", "disp-console")
    before = _count(session)
    console = socketio.test_client(app, namespace="/dispatch", auth={"token": raw})
    assert console.is_connected("/dispatch")
    snapshot = [m for m in console.get_received("/dispatch") if m["name"] == "alarms.snapshot"]
    assert len(snapshot) == 1
    console.disconnect(namespace="/dispatch")
    assert _count(session) == before + 1
    entry = _last(session)
    assert (entry.action, entry.username, entry.purpose) == (
        "console.snapshot",
        "disp-console",
        "meldkamer",
    )
    assert _refs(session, entry) == [case["id"]] and entry.detail == {"alarms": 1}

    _, coordinator_raw = make_user("coordinator", "coord-console")
    refused = socketio.test_client(app, namespace="/dispatch", auth={"token": coordinator_raw})
    assert not refused.is_connected("/dispatch")
    assert _count(session) == before + 1


def test_report_view_is_audited(client, session, make_user):
    _, raw = make_user("municipality", "rev-aud", municipality="0344")
    r = client.get(
        "/api/v1/reports/allocation?municipality=0344&from=2026-01-01&to=2026-03-31",
        headers=bearer(raw),
    )
    assert r.status_code == 200
    entry = _last(session)
    assert (entry.action, entry.username, entry.case_id) == ("report.view", "rev-aud", None)


def test_refused_and_failed_requests_write_nothing(client, session, coord, make_user, case_alarm):
    case, alarm_id = case_alarm
    _, muni = make_user("municipality", "rev-no", municipality="0344")
    _, disp = make_user("dispatcher", "disp-no")
    _, stranger = make_user("coordinator", "coord-stranger")
    _, admin = make_user("admin", "root-no")
    before = _count(session)
    refused = [
        client.get(f"/api/v1/cases/{case['id']}"),  # 401
        client.get(f"/api/v1/cases/{case['id']}", headers=bearer(muni)),  # 403
        client.get(f"/api/v1/alarms/{alarm_id}", headers=coord[1]),  # 403
        client.patch(f"/api/v1/cases/{case['id']}", headers=bearer(disp), json={}),  # 403
        client.patch(  # 403: not one of the case's coordinators
            f"/api/v1/cases/{case['id']}", headers=bearer(stranger), json={"status": "active"}
        ),
        client.get("/api/v1/cases/999999", headers=coord[1]),  # 404
        client.get("/api/v1/alarms/999999", headers=bearer(disp)),  # 404
        client.patch(  # 422
            f"/api/v1/cases/{case['id']}", headers=coord[1], json={"status": "vanished"}
        ),
        client.get("/api/v1/audit", headers=coord[1]),  # 403
        client.get("/api/v1/audit?case=abc", headers=bearer(admin)),  # 422
        client.get("/api/v1/audit?from=2027-02-01&to=2027-01-01", headers=bearer(admin)),  # 422
        client.get("/api/v1/audit?from=2027-01-01T10:00", headers=bearer(admin)),  # 422
    ]
    statuses = [r.status_code for r in refused]
    assert statuses == [401, 403, 403, 403, 403, 404, 404, 422, 403, 422, 422, 422]
    for r in refused:
        assert set(r.get_json()["error"]) >= {"code", "message", "fields"}
    assert refused[10].get_json()["error"]["fields"] == {"to": "must be after from"}
    assert "from" in refused[11].get_json()["error"]["fields"]
    assert _count(session) == before


def _seed_log(client, session, make_user):
    _, c1 = make_user("coordinator", "coord-one")
    _, c2 = make_user("coordinator", "coord-two")
    a = _case(client, bearer(c1), "LOG-A")
    b = _case(client, bearer(c2), "LOG-B")
    client.get(f"/api/v1/cases/{a['id']}", headers=bearer(c1))
    client.get(f"/api/v1/cases/{b['id']}", headers=bearer(c2))
    client.get("/api/v1/cases", headers=bearer(c2))
    return a, b


def test_admins_filter_the_log_and_their_reading_is_audited(client, session, make_user):
    a, b = _seed_log(client, session, make_user)
    admin, raw = make_user("admin", "root-aud")
    h = bearer(raw)

    by_user = client.get("/api/v1/audit?user=coord-one", headers=h).get_json()
    assert by_user["truncated"] is False
    assert [e["action"] for e in by_user["entries"]] == ["case.read", "case.create"]
    assert all(e["username"] == "coord-one" for e in by_user["entries"])

    by_case = client.get(f"/api/v1/audit?case={a['id']}", headers=h).get_json()["entries"]
    # Newest first; the list by coord-two showed case A too.
    assert [(e["action"], e["username"]) for e in by_case] == [
        ("case.list", "coord-two"),
        ("case.read", "coord-one"),
        ("case.create", "coord-one"),
    ]
    assert {a["id"], b["id"]} <= set(by_case[0]["case_ids"])

    reads = client.get("/api/v1/audit?action=case.read", headers=h).get_json()["entries"]
    assert {e["case_id"] for e in reads} == {a["id"], b["id"]}
    prefix = client.get("/api/v1/audit?action=case.*&limit=2", headers=h).get_json()
    assert len(prefix["entries"]) == 2 and prefix["truncated"] is True

    future = client.get("/api/v1/audit?from=2999-01-01", headers=h).get_json()["entries"]
    assert future == []
    today = dt.datetime.now(dt.UTC)
    window = (
        f"from={(today - dt.timedelta(hours=1)).isoformat().replace('+00:00', 'Z')}"
        f"&to={(today + dt.timedelta(hours=1)).isoformat().replace('+00:00', '%2B00:00')}"
    )
    recent = client.get(f"/api/v1/audit?{window}&user=coord-two", headers=h).get_json()
    assert len(recent["entries"]) == 3

    own = session.scalars(
        select(AuditEntry).where(AuditEntry.user_id == admin.id).order_by(AuditEntry.id)
    ).all()
    assert [e.action for e in own] == ["audit.read"] * 6
    assert own[0].detail == {"user": "coord-one", "limit": 100, "format": "json", "count": 2}
    assert own[1].detail["case_id"] == a["id"] and own[0].purpose == "beheer"


def test_admins_export_the_log_as_csv_and_the_export_is_audited(client, session, make_user):
    a, _b = _seed_log(client, session, make_user)
    _, raw = make_user("admin", "root-csv")
    r = client.get(f"/api/v1/audit?case={a['id']}&format=csv", headers=bearer(raw))
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["action"] for row in rows] == ["case.list", "case.read", "case.create"]
    assert rows[1]["case_id"] == str(a["id"]) and rows[1]["purpose"] == "casusregie"
    assert "Mirjam" not in r.text
    entry = _last(session)
    assert entry.action == "export" and entry.object_type == "audit_log"
    assert entry.detail["format"] == "csv" and entry.detail["count"] == 3


def test_the_admin_page_shows_filters_entries_and_a_csv_link(client, session, make_user, app):
    a, _b = _seed_log(client, session, make_user)
    make_user("admin", "root-page")
    sign_in(client, "root-page")
    page = client.get(f"/admin/audit?case={a['id']}")
    assert page.status_code == 200
    assert page.text.count("data-audit-id=") == 3 and "coord-one" in page.text
    assert "Auditlog" in page.text and "Mirjam" not in page.text
    link = re.search(r'href="([^"]+)" data-export="csv"', page.text).group(1)
    assert link.startswith("/admin/audit.csv") and f"case={a['id']}" in link
    exported = client.get(link.replace("&amp;", "&"))
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    assert len(list(csv.DictReader(io.StringIO(exported.text)))) == 3
    actions = [e.action for e in _entries(session) if e.username == "root-page"]
    assert actions == ["audit.read", "export"]

    bad = client.get("/admin/audit?from=gisteren")
    assert bad.status_code == 422 and "from" in bad.text
    assert [e.action for e in _entries(session) if e.username == "root-page"] == actions

    for role in ("coordinator", "dispatcher", "municipality"):
        make_user(role, f"{role}-page")
        browser = app.test_client()
        sign_in(browser, f"{role}-page")
        assert browser.get("/admin/audit").status_code == 403
        assert browser.get("/admin/audit.csv").status_code == 403
    assert app.test_client().get("/admin/audit").status_code == 302


def test_case_references_of_the_log_are_append_only(session, make_user, coord, client):
    _, headers = coord
    case = _case(client, headers)
    client.get("/api/v1/cases", headers=headers)
    ref = session.scalars(select(AuditCaseRef).where(AuditCaseRef.case_id == case["id"])).first()
    assert ref is not None
    session.delete(ref)
    with pytest.raises(AppendOnly):
        session.flush()
    session.rollback()
    with pytest.raises(Exception, match="append-only"), session.begin_nested():
        session.execute(update(AuditCaseRef).values(case_id=case["id"]))
    with pytest.raises(Exception, match="append-only"), session.begin_nested():
        session.execute(AuditCaseRef.__table__.delete())


def test_allocation_chain_and_organisation_contacts_reads_are_audited(client, coordinator, session):
    from sqlalchemy import select

    from aware.audit.models import AuditEntry
    from aware.coordination.reference_models import ContactPerson, Organisation
    from tests.conftest import now as _now

    case = client.post(
        "/api/v1/cases",
        headers=coordinator,
        json={"reference": "AUD-ALLOC", "municipality": "0344", "victim": {"name": "Y"}},
    ).get_json()
    org = Organisation(name="Vrouwenopvang X", type="vrouwenopvang", created_at=_now())
    session.add(org)
    session.flush()
    session.add(ContactPerson(organisation_id=org.id, name="C", phone="+31611112223"))
    session.commit()
    assert (
        client.get(f"/api/v1/cases/{case['id']}/allocation", headers=coordinator).status_code == 200
    )
    assert client.get(f"/api/v1/organisations/{org.id}", headers=coordinator).status_code == 200
    actions = session.execute(
        select(AuditEntry.action, AuditEntry.case_id, AuditEntry.detail).order_by(AuditEntry.id)
    ).all()
    assert ("case.read", case["id"], {"part": "allocation"}) in [tuple(a) for a in actions]
    assert "organisation.read" in [a[0] for a in actions]
    # Unknown ids write nothing.
    before = len(actions)
    assert client.get("/api/v1/organisations/999999", headers=coordinator).status_code == 404
    after = session.execute(select(AuditEntry.id)).all()
    assert len(after) == before


def test_the_console_page_itself_is_audited(client, session, make_user, device):
    make_user("dispatcher", "disp-page-audit")
    r = client.post("/api/v1/ingest", headers=device["headers"], json=event("page-audit"))
    assert r.status_code == 202
    sign_in(client, "disp-page-audit")
    before = len(_entries(session, "console.snapshot"))
    assert client.get("/console").status_code == 200
    entries = _entries(session, "console.snapshot")
    assert len(entries) == before + 1
    assert entries[-1].username == "disp-page-audit" and entries[-1].detail["via"] == "page"
