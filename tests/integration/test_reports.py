"""Municipality review report: every figure against hand-computed numbers on a seeded set
(SQLite and PostgreSQL), small-count suppression, access, no personal data, audit.

The seeded period is Q1 2026 (local dates 2026-01-01 .. 2026-03-31, Europe/Amsterdam); the
report is made on 2026-05-01. Utrecht (0344) and Amersfoort (0307) are reported on; Amsterdam
(0363) is noise that must never be counted. Every expected number below was worked out by hand
from the seed (see the comments), not by running the report's SQL.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from aware.alarms.models import Alarm
from aware.audit.models import AuditEntry
from aware.coordination.allocation_models import Allocation, AllocationDecision
from aware.coordination.reference_models import Municipality, Organisation
from aware.devices.models import Device
from aware.reports import service
from aware.reports.queries import OTHER_REASON
from aware.risk.models import Ban, Case, CaseDevice

AMS = ZoneInfo("Europe/Amsterdam")
NOW = dt.datetime(2026, 5, 1, 10, 0, tzinfo=dt.UTC)
START, END = dt.date(2026, 1, 1), dt.date(2026, 3, 31)
Q = "from=2026-01-01&to=2026-03-31"
STANDARD_REASON = "Relatie niet beëindigd"
_ids = itertools.count(1)


def T(y: int, m: int, d: int, h: int = 12, mi: int = 0, s: float = 0) -> dt.datetime:
    """A local Amsterdam wall time as UTC."""
    return dt.datetime(y, m, d, h, mi, tzinfo=AMS).astimezone(dt.UTC) + dt.timedelta(seconds=s)


class Seed:
    def __init__(self, session: Session):
        self.s = session
        self.personal: list[str] = []  # every personal value seeded: must never be shown
        self.orgs: dict[str, Organisation] = {}
        for key, name, type_, mun in (
            ("P", "Politie Utrecht", "police", "0344"),
            ("VT", "Veilig Thuis Utrecht", "veilig_thuis", "0344"),
            ("PA", "Politie Amersfoort", "police", "0307"),
            ("PAms", "Politie Amsterdam", "police", "0363"),
        ):
            org = Organisation(name=name, type=type_, municipality_code=mun, created_at=NOW)
            session.add(org)
            self.orgs[key] = org
        session.flush()

    def case(
        self,
        mun: str,
        concern: str | None = "high",
        status: str = "active",
        created: dt.datetime | None = None,
        updated: dt.datetime | None = None,
    ) -> Case:
        i = next(_ids)
        c = Case(
            reference=f"ZQ-REF-{i:04d}-X",
            municipality_code=mun,
            status=status,
            victim_name=f"Zwaantje{i} Oosterhuis-Plemp",
            victim_phone=f"+3161234{i:04d}",
            victim_address=f"Wittevrouwensingel {900 + i}, Utrecht",
            perpetrator_name=f"Kareltje{i} Brommerdief",
            perpetrator_description=f"draagt altijd een paarse jas nummer {i}",
            concern=concern,
            created_at=created or T(2025, 11, 1),
            updated_at=updated or T(2025, 11, 1),
        )
        self.s.add(c)
        self.s.flush()
        self.personal += [
            c.reference,
            c.victim_name,
            c.victim_phone or "",
            c.victim_address or "",
            c.perpetrator_name or "",
            c.perpetrator_description or "",
        ]
        return c

    def device(self, mun: str | None, status: str = "in_stock") -> Device:
        i = next(_ids)
        d = Device(
            serial=f"RPT-{i}",
            kind="victim_alarm",
            token_hash=f"{i:064d}",
            created_at=T(2025, 1, 1),
            status=status,
            municipality_code=mun,
        )
        self.s.add(d)
        self.s.flush()
        return d

    def allocation(
        self,
        case: Case,
        org: str,
        applied: dt.datetime,
        decisions: list[tuple[str, dt.datetime, str | None]] = (),  # type: ignore[assignment]
        connected: dt.datetime | None = None,
        ended: dt.datetime | None = None,
        end_reason: str | None = None,
        handover: dt.datetime | None = None,
    ) -> Allocation:
        status = "applied"
        if decisions:
            status = decisions[-1][0]
        device = None
        if connected is not None:
            device = self.device(case.municipality_code)
            self.s.add(
                CaseDevice(
                    case_id=case.id,
                    device_id=device.id,
                    role="victim",
                    linked_at=connected,
                    unlinked_at=ended,
                )
            )
            status = "ended" if ended else "active"
        a = Allocation(
            case_id=case.id,
            status=status,
            referring_organisation_id=self.orgs[org].id,
            reason="hoog risico",
            concern="high",
            applied_at=applied,
            applied_by="coord",
            decision=decisions[-1][0] if decisions else None,
            decided_at=decisions[-1][1] if decisions else None,
            device_id=device.id if device else None,
            connected_at=connected,
            ended_at=ended,
            end_reason=end_reason,
            handover_completed_at=handover,
            updated_at=applied,
        )
        self.s.add(a)
        self.s.flush()
        for outcome, at, reasons in decisions:
            self.s.add(
                AllocationDecision(
                    allocation_id=a.id,
                    outcome=outcome,
                    reasons=reasons,
                    members=[],
                    decided_at=at,
                    recorded_by="coord",
                    recorded_at=at,
                )
            )
        self.s.flush()
        return a

    def alarm(
        self,
        case: Case,
        type_: str,
        received: dt.datetime,
        ack_after_s: float | None,
        outcome: str | None = None,
    ) -> None:
        ack = received + dt.timedelta(seconds=ack_after_s) if ack_after_s is not None else None
        status = "resolved" if outcome else ("acknowledged" if ack else "open")
        self.s.add(
            Alarm(
                seq=next(_ids),
                type=type_,
                priority=1,
                status=status,
                device_id=None,
                case_id=case.id,
                occurred_at=received,
                received_at=received,
                acknowledged_at=ack,
                resolved_at=received + dt.timedelta(minutes=5) if outcome else None,
                outcome=outcome,
            )
        )

    def ban(
        self,
        case: Case,
        kind: str,
        valid_from: dt.datetime,
        valid_until: dt.datetime,
        ended: dt.datetime | None = None,
    ) -> None:
        self.s.add(
            Ban(
                case_id=case.id,
                kind=kind,
                zones=[{"type": "Point", "coordinates": [5.12, 52.09], "radius_m": 200}]
                if kind == "location"
                else None,
                distance_m=500 if kind == "contact" else None,
                valid_from=valid_from,
                valid_until=valid_until,
                legal_basis="509hh Sv",
                created_at=valid_from,
                ended_at=ended,
            )
        )


def seed(session: Session) -> Seed:
    """The data set the expectations below were worked out from."""
    sd = Seed(session)
    c = {k: sd.case("0344") for k in ("A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8", "A9")}
    c["A10"] = sd.case("0344")  # high, never applied
    c["A11"] = sd.case("0344")  # high, never applied
    c["A12"] = sd.case("0344", status="ended", updated=T(2025, 11, 15))  # ended before: out
    c["A13"] = sd.case("0344", created=T(2026, 4, 10))  # created after the period: out
    c["A14"] = sd.case("0344", concern="moderate")  # not high; its application still counts
    c["A15"] = sd.case("0344", status="ended", updated=T(2026, 2, 1))  # ended in period: in
    for k in ("A16", "A17", "A18", "A19", "A20"):
        c[k] = sd.case("0344")
    for k in ("B1", "B2", "B3", "B4"):
        c[k] = sd.case("0307")
    c["C1"] = sd.case("0363")

    a = sd.allocation
    # Utrecht. Days to decision / to connection in the comments.
    a(c["A1"], "P", T(2026, 1, 5), [("granted", T(2026, 1, 6), None)], T(2026, 1, 8))  # 1 / 3
    a(c["A2"], "P", T(2026, 1, 10), [("granted", T(2026, 1, 12), None)], T(2026, 1, 14))  # 2 / 4
    a(  # 3 / 5, ended (risk reduced) and handed over in the period
        c["A3"],
        "P",
        T(2026, 2, 1),
        [("granted", T(2026, 2, 4), None)],
        T(2026, 2, 6),
        ended=T(2026, 3, 15),
        end_reason="risk_reduced",
        handover=T(2026, 3, 20),
    )
    a(  # 4 / 10, ended (moved), no handover yet
        c["A4"],
        "P",
        T(2026, 2, 10),
        [("granted", T(2026, 2, 14), None)],
        T(2026, 2, 20),
        ended=T(2026, 3, 1),
        end_reason="moved",
    )
    # Before the period (not a lead time, not started in the period) but active during it.
    a(c["A5"], "P", T(2025, 12, 1), [("granted", T(2025, 12, 3), None)], T(2025, 12, 5))
    a(c["A6"], "P", T(2026, 3, 1), [("waiting_list", T(2026, 3, 3), "capaciteit")])  # 2 / -
    a(  # waiting list, then granted: 16 / 21, not waiting at the end
        c["A7"],
        "P",
        T(2026, 1, 20),
        [("waiting_list", T(2026, 1, 22), "capaciteit"), ("granted", T(2026, 2, 5), None)],
        T(2026, 2, 10),
    )
    a(c["A8"], "P", T(2026, 1, 15), [("refused", T(2026, 1, 25), "Geen aangifte gedaan")])  # 10
    a(  # 12; a free-text reason naming the victim: must never be shown
        c["A9"],
        "P",
        T(2026, 2, 2),
        [("refused", T(2026, 2, 14), "Mevrouw Zwaantje Oosterhuis woont bij haar zus")],
    )
    sd.personal.append("Mevrouw Zwaantje Oosterhuis woont bij haar zus")
    a(c["A14"], "VT", T(2026, 1, 7), [("granted", T(2026, 1, 8), None)])  # 1 / -
    for k in ("A16", "A17", "A18", "A19", "A20"):  # 3 each, the standard reason 5 times
        a(c[k], "VT", T(2026, 3, 2), [("refused", T(2026, 3, 5), STANDARD_REASON)])
    # Amersfoort.
    a(c["B1"], "PA", T(2026, 1, 3), [("granted", T(2026, 1, 4), None)], T(2026, 1, 9))  # 1 / 6
    a(c["B2"], "PA", T(2026, 3, 10), [("waiting_list", T(2026, 3, 12), "capaciteit")])  # 2 / -
    a(  # connected and ended before the period: no active device in it
        c["B4"],
        "PA",
        T(2025, 6, 1),
        [("granted", T(2025, 6, 2), None)],
        T(2025, 6, 5),
        ended=T(2025, 12, 20),
        end_reason="risk_reduced",
    )
    # Amsterdam noise.
    a(c["C1"], "PAms", T(2026, 1, 5), [("granted", T(2026, 1, 6), None)], T(2026, 1, 7))

    # Stock besides the connected devices (A1, A2, A5, A7 in use in 0344, B1 in 0307; the
    # ended A3 is back in stock, A4's broke, B4's was lost).
    sd.device("0344")
    sd.device("0344")
    sd.device("0363")
    sd.device(None)
    linked = {
        cid: did
        for cid, did in session.execute(select(Allocation.case_id, Allocation.device_id)).all()
    }
    session.execute(
        update(Device).where(Device.id == linked[c["A4"].id]).values(status="defective")
    )
    session.execute(update(Device).where(Device.id == linked[c["B4"].id]).values(status="lost"))

    al = sd.alarm
    al(c["A1"], "sos", T(2026, 1, 10), 5, "genuine")
    al(c["A1"], "sos", T(2026, 1, 11), 10, "false_alarm")  # exactly 10 s: within
    al(c["A2"], "sos", T(2026, 1, 20), 25, "false_alarm")
    al(c["A1"], "test", T(2026, 1, 21), 3, "test")  # not in acceptance
    al(c["A2"], "device_offline", T(2026, 1, 22), None, "technical")  # not in acceptance
    al(c["A3"], "zone_violation", T(2026, 2, 10), 8, "genuine")
    al(c["A3"], "proximity_violation", T(2026, 2, 11), 45, "genuine")
    al(c["B1"], "sos", T(2026, 2, 15), 12)  # acknowledged, not resolved
    al(c["A7"], "sos", T(2026, 3, 1, 0, 30), None)  # 2026-02-28 23:30 UTC: March; open = late
    al(c["B1"], "sos", T(2026, 3, 31, 23, 30), 9, "genuine")  # after DST, still March
    al(c["A1"], "sos", T(2026, 4, 1, 0, 30), 5, "genuine")  # 2026-03-31 22:30 UTC: April, out
    al(c["A1"], "sos", T(2025, 12, 31, 23, 59), 5, "genuine")  # before the period
    al(c["C1"], "sos", T(2026, 1, 15), 5, "genuine")  # Amsterdam

    b = sd.ban
    b(c["A1"], "location", T(2025, 12, 1), T(2026, 6, 1))
    b(c["A2"], "contact", T(2026, 1, 15), T(2026, 2, 15))
    b(c["A3"], "location", T(2026, 2, 1), T(2026, 12, 1), ended=T(2026, 3, 10))
    b(c["A4"], "contact", T(2025, 6, 1), T(2025, 12, 31))  # over before the period
    b(c["B1"], "contact", T(2026, 3, 31), T(2026, 9, 1))
    b(c["A5"], "location", T(2026, 4, 5), T(2026, 9, 1))  # starts after
    b(c["C1"], "location", T(2026, 1, 1), T(2026, 9, 1))  # Amsterdam
    session.flush()
    return sd


EXPECTED: dict[str, Any] = {
    "municipalities": ["0344", "0307"],
    "period": {"from": "2026-01-01", "to": "2026-03-31"},
    "generated_at": "2026-05-01T10:00:00Z",
    "as_of": "2026-03-31T22:00:00Z",  # 24:00 on 31 March, summer time
    "suppressed_below": 5,
    "victims": {
        # 0344: A1-A11, A15, A16-A20 = 17; 0307: B1-B4 = 4
        "high_concern": 21,
        "with_active_device": 7,  # A1 A2 A3 A4 A5 A7, B1
        "waiting": 2,  # A6, B2 (A7 was granted after its waiting-list decision)
        "refused": 7,  # A8 A9 A16-A20
        "refused_by_reason": {STANDARD_REASON: 5, OTHER_REASON: 2},
        "never_applied": 4,  # A10 A11 A15, B3
    },
    "lead_times_days": {
        # 1 1 1 2 2 2 3 3 3 3 3 3 4 10 12 16: median ranks 7/8 -> 3; p90 rank 13.5 -> 11
        "application_to_decision": {"n": 16, "median": 3.0, "p90": 11.0},
        # 3 4 5 6 10 21: median rank 2.5 -> 5.5; p90 rank 4.5 -> 15.5
        "application_to_connection": {"n": 6, "median": 5.5, "p90": 15.5},
    },
    "devices": {"in_use": 5, "in_stock": 3, "defective": 1, "lost": 1},
    "allocations": {
        "started": 6,  # A1 A2 A3 A4 A7 B1
        "ended": 2,
        "handed_over": 1,
        "ended_by_reason": {"moved": 1, "risk_reduced": 1},
    },
    "alarms_by_month": [
        {"month": "2026-01", "type": "device_offline", "outcome": "technical", "count": 1},
        {"month": "2026-01", "type": "sos", "outcome": "false_alarm", "count": 2},
        {"month": "2026-01", "type": "sos", "outcome": "genuine", "count": 1},
        {"month": "2026-01", "type": "test", "outcome": "test", "count": 1},
        {"month": "2026-02", "type": "proximity_violation", "outcome": "genuine", "count": 1},
        {"month": "2026-02", "type": "sos", "outcome": None, "count": 1},
        {"month": "2026-02", "type": "zone_violation", "outcome": "genuine", "count": 1},
        {"month": "2026-03", "type": "sos", "outcome": None, "count": 1},
        {"month": "2026-03", "type": "sos", "outcome": "genuine", "count": 1},
    ],
    "acceptance": {
        # 5 10 25 8 45 12 9 s, and one never accepted (late for both limits)
        "counted": 8,
        "counted_40s": 8,
        "within_10s": 4,
        "within_40s": 6,
        "share_10s": 0.5,
        "share_40s": 0.75,
        "target_10s": 0.8,
        "target_40s": 0.985,
    },
    "applications_by_referrer": [
        {"organisation_type": "police", "organisation": "Politie Utrecht", "count": 8},
        {"organisation_type": "veilig_thuis", "organisation": "Veilig Thuis Utrecht", "count": 6},
        {"organisation_type": "police", "organisation": "Politie Amersfoort", "count": 2},
    ],
    "bans": {"active": 4, "location": 2, "contact": 2, "violations": 2},
    "comparison": [
        {
            "municipality": "0344",
            "name": "Utrecht",
            "high_concern": 17,
            "with_active_device": 6,
            "waiting": 1,
            "applications": 14,
            "alarms": 8,
        },
        {
            "municipality": "0307",
            "name": "Amersfoort",
            "high_concern": 4,
            "with_active_device": 1,
            "waiting": 1,
            "applications": 2,
            "alarms": 2,
        },
    ],
}


def test_every_figure_matches_the_hand_computed_expectation(session):
    seed(session)
    report = service.allocation_report(session, ["0344", "0307"], START, END, NOW)
    for key, value in EXPECTED.items():
        assert report[key] == value, key
    assert set(report) == set(EXPECTED)


def test_a_period_still_running_is_counted_up_to_now(session):
    seed(session)
    now = T(2026, 3, 4)  # before A6's waiting-list decision reached a second day
    report = service.allocation_report(session, ["0344"], START, END, now)
    assert report["as_of"] == "2026-03-04T11:00:00Z"
    # On 4 March A6 was on the waiting list (decided 3 March); A7 had left it in February.
    assert report["victims"]["waiting"] == 1


def test_an_empty_municipality_gives_zeros_and_nulls(session):
    seed(session)
    report = service.allocation_report(session, ["0310"], START, END, NOW)
    assert report["victims"] == {
        "high_concern": 0,
        "with_active_device": 0,
        "waiting": 0,
        "refused": 0,
        "refused_by_reason": {},
        "never_applied": 0,
    }
    assert report["lead_times_days"]["application_to_decision"] == {
        "n": 0,
        "median": None,
        "p90": None,
    }
    assert report["acceptance"]["share_10s"] is None and report["alarms_by_month"] == []
    assert report["comparison"] == [
        {
            "municipality": "0310",
            "name": "De Bilt",
            "high_concern": 0,
            "with_active_device": 0,
            "waiting": 0,
            "applications": 0,
            "alarms": 0,
        }
    ]


# ---------------------------------------------------------------- over HTTP


@pytest.fixture
def seeded(session, app):
    app.extensions["aware"].clock = lambda: NOW
    return seed(session)


@pytest.fixture
def region(session):
    """Utrecht as centrumgemeente of itself, Amersfoort and De Bilt (in this test only)."""
    session.execute(
        update(Municipality)
        .where(Municipality.code.in_(("0344", "0307", "0310")))
        .values(centrumgemeente_code="0344")
    )
    session.flush()


def audit_count(session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEntry)))


def test_utrecht_reviewer_sees_own_figures_with_small_counts_suppressed(
    client, session, make_user, seeded
):
    user, token = make_user("municipality", "rev-utrecht", municipality="0344")
    resp = client.get(
        f"/api/v1/reports/allocation?municipality=0344&{Q}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["victims"] == {
        "high_concern": 17,
        "with_active_device": 6,
        "waiting": "<5",  # 1
        "refused": 7,
        "refused_by_reason": {STANDARD_REASON: 5, OTHER_REASON: "<5"},
        "never_applied": "<5",  # 3
    }
    # Utrecht alone: 14 decision lead times, 5 connections (A1 A2 A3 A4 A7).
    assert body["lead_times_days"]["application_to_decision"]["n"] == 14
    assert body["lead_times_days"]["application_to_connection"] == {
        "n": 5,
        "median": 5.0,  # 3 4 5 10 21
        "p90": 16.6,  # rank 3.6: 10 + 0.6 * 11
    }
    assert body["devices"] == {"in_use": "<5", "in_stock": "<5", "defective": "<5", "lost": 0}
    assert body["acceptance"]["counted"] == 6  # 5 10 25 8 45, A7 open
    assert body["acceptance"]["within_10s"] == "<5"  # 5 10 8
    assert body["acceptance"]["share_10s"] == 0.5
    assert body["bans"] == {"active": "<5", "location": "<5", "contact": "<5", "violations": "<5"}
    assert body["comparison"] == [
        {
            "municipality": "0344",
            "name": "Utrecht",
            "high_concern": 17,
            "with_active_device": 6,
            "waiting": "<5",
            "applications": 14,
            "alarms": 8,
        }
    ]
    assert all(r["count"] == "<5" for r in body["alarms_by_month"])


def test_small_statistics_are_nulled(client, session, make_user, seeded):
    _, token = make_user("municipality", "rev-amersfoort", municipality="0307")
    body = client.get(
        f"/api/v1/reports/allocation?municipality=0307&{Q}",
        headers={"Authorization": f"Bearer {token}"},
    ).get_json()
    # Amersfoort: 2 decisions, 1 connection, 2 counted alarms (12 s, 9 s): too few to show.
    assert body["lead_times_days"]["application_to_decision"] == {
        "n": "<5",
        "median": None,
        "p90": None,
    }
    assert body["acceptance"]["counted"] == "<5" and body["acceptance"]["share_10s"] is None
    assert body["victims"]["high_concern"] == "<5"


def test_other_municipality_dispatcher_and_coordinator_are_refused(
    client, session, make_user, seeded, dispatcher, coordinator
):
    _, token = make_user("municipality", "rev-utrecht", municipality="0344")
    before = audit_count(session)
    url = f"/api/v1/reports/allocation?municipality=0307&{Q}"
    resp = client.get(url, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"
    for headers in (dispatcher, coordinator):
        assert client.get(url, headers=headers).status_code == 403
    assert client.get(url).status_code == 401
    assert audit_count(session) == before  # a refused request leaves no trace but the 403


def test_admin_may_ask_any_municipality(client, make_user, seeded):
    _, token = make_user("admin", "root")
    resp = client.get(
        f"/api/v1/reports/allocation?municipality=0307&{Q}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 200
    assert resp.get_json()["comparison"][0]["name"] == "Amersfoort"


def test_centrumgemeente_reviewer_sees_the_region_and_a_member_does_not(
    client, session, make_user, seeded, region
):
    _, centre = make_user("municipality", "rev-utrecht", municipality="0344")
    resp = client.get(
        f"/api/v1/reports/allocation?region=0344&{Q}",
        headers={"Authorization": f"Bearer {centre}"},
    )
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["municipalities"] == ["0307", "0310", "0344"]
    assert [(r["municipality"], r["name"]) for r in body["comparison"]] == [
        ("0307", "Amersfoort"),
        ("0310", "De Bilt"),
        ("0344", "Utrecht"),
    ]
    assert body["victims"]["high_concern"] == 21
    assert body["comparison"][1]["high_concern"] == 0
    _, member = make_user("municipality", "rev-amersfoort", municipality="0307")
    for q in ("region=0344", "region=0307", "municipality=0344"):
        resp = client.get(
            f"/api/v1/reports/allocation?{q}&{Q}", headers={"Authorization": f"Bearer {member}"}
        )
        assert resp.status_code in (403, 422), q
        if q != "region=0307":
            assert resp.status_code == 403, q
    # 0307 is no centrumgemeente: a region of it does not exist.
    resp = client.get(
        f"/api/v1/reports/allocation?region=0307&{Q}", headers={"Authorization": f"Bearer {member}"}
    )
    assert resp.status_code == 422 and "region" in resp.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("municipality=9999&" + Q, "municipality"),  # unknown
        ("municipality=344&" + Q, "municipality"),  # malformed
        ("municipality=0344&from=2026-04-01&to=2026-03-31", "from"),  # backwards
        ("municipality=0344&from=2023-01-01&to=2026-03-31", "to"),  # over three years
        ("municipality=0344&to=2026-03-31", "from"),  # missing
        ("municipality=0344&from=2026-01-01", "to"),
        ("municipality=0344&from=2026-02-30&to=2026-03-31", "from"),  # no such date
        (Q, "municipality"),  # neither municipality nor region
        ("municipality=0344&region=0344&" + Q, "municipality"),  # both
        ("municipality=0344&format=xml&" + Q, "format"),
    ],
)
def test_bad_parameters_are_422_naming_the_field_and_write_nothing(
    client, session, make_user, seeded, query, field
):
    _, token = make_user("admin", "root")
    before = audit_count(session)
    resp = client.get(
        f"/api/v1/reports/allocation?{query}", headers={"Authorization": f"Bearer {token}"}
    )
    assert resp.status_code == 422, resp.get_json()
    assert field in resp.get_json()["error"]["fields"]
    assert audit_count(session) == before


def test_csv_has_a_section_per_table_and_the_same_suppressed_figures(client, make_user, seeded):
    _, token = make_user("municipality", "rev-utrecht", municipality="0344")
    resp = client.get(
        f"/api/v1/reports/allocation?municipality=0344&{Q}&format=csv",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True))))
    sections = [r[0][2:] for r in rows if r and r[0].startswith("# ")]
    assert sections == [
        "report",
        "victims",
        "refused_by_reason",
        "lead_times_days",
        "devices",
        "allocations",
        "ended_by_reason",
        "alarms_by_month",
        "acceptance",
        "applications_by_referrer",
        "bans",
        "comparison",
    ]
    assert ["high_concern", "17"] in rows and ["waiting", "<5"] in rows
    assert ["0344", "Utrecht", "17", "6", "<5", "14", "8"] in rows
    assert ["police", "Politie Utrecht", "8"] in rows


def test_no_personal_value_of_any_seeded_case_appears_in_json_or_csv(
    client, session, make_user, seeded, region
):
    _, token = make_user("admin", "root")
    texts = []
    for q in ("municipality=0344", "municipality=0307", "municipality=0363", "region=0344"):
        for fmt in ("json", "csv"):
            resp = client.get(
                f"/api/v1/reports/allocation?{q}&{Q}&format={fmt}",
                headers={"Authorization": f"Bearer {token}"},
            )
            assert resp.status_code == 200
            texts.append(resp.get_data(as_text=True))
    assert len(seeded.personal) > 100
    for text in texts:
        for value in seeded.personal:
            assert value not in text
        for fragment in ("Zwaantje", "Oosterhuis", "Brommerdief", "ZQ-REF", "+3161234", "singel"):
            assert fragment not in text


def test_every_view_is_audited_in_the_same_transaction(client, session, make_user, seeded, region):
    user, token = make_user("municipality", "rev-utrecht", municipality="0344")
    headers = {"Authorization": f"Bearer {token}"}
    before = audit_count(session)
    resp = client.get(f"/api/v1/reports/allocation?municipality=0344&{Q}", headers=headers)
    assert resp.status_code == 200
    assert (
        client.get(
            f"/api/v1/reports/allocation?region=0344&{Q}&format=csv", headers=headers
        ).status_code
        == 200
    )
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.user_id == user.id).order_by(AuditEntry.id)
    ).all()
    assert audit_count(session) == before + 2 and len(entries) == 2
    first, second = entries
    assert (first.action, first.object_type, first.purpose) == (
        "report.view",
        "allocation_report",
        "municipality review",
    )
    assert (first.username, first.role, first.case_id) == ("rev-utrecht", "municipality", None)
    assert first.at == NOW
    assert first.detail == {
        "municipalities": ["0344"],
        "period": {"from": "2026-01-01", "to": "2026-03-31"},
        "format": "json",
    }
    assert second.detail is not None
    assert second.detail["region"] == "0344" and second.detail["format"] == "csv"
    assert second.detail["municipalities"] == ["0307", "0310", "0344"]


def test_audit_entries_cannot_be_changed_or_removed(session, make_user):
    from aware.audit.models import AppendOnly
    from aware.audit.services import record

    user, _ = make_user("admin", "root")
    entry = record(session, user, "report.view", "allocation_report", None, "test", None)
    entry.purpose = "rewritten"
    with pytest.raises(AppendOnly):
        session.flush()
    session.rollback()
    entry = record(session, user, "report.view", "allocation_report", None, "test", None)
    session.flush()
    # The database refuses too, even for SQL that bypasses the ORM.
    with pytest.raises(Exception, match="append-only"), session.begin_nested():
        session.execute(update(AuditEntry).values(purpose="x"))
    with pytest.raises(Exception, match="append-only"), session.begin_nested():
        session.execute(AuditEntry.__table__.delete())


def test_report_route_is_documented(client):
    doc = client.get("/api/openapi.json").get_json()
    op = doc["paths"]["/api/v1/reports/allocation"]["get"]
    names = {p["name"] for p in op["parameters"]}
    assert {"municipality", "region", "from", "to", "format"} <= names
    assert {"200", "401", "403", "422"} <= set(op["responses"])
