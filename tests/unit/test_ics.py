"""iCalendar invitations parse back with icalendar: local times, VTIMEZONE, RRULE, no names."""

from __future__ import annotations

import datetime as dt

from icalendar import Calendar

from aware.coordination import ics
from aware.coordination.meeting_models import Meeting, MeetingSeries

UTC = dt.UTC
NOW = dt.datetime(2027, 2, 1, tzinfo=UTC)


def meeting(mid: int, starts: dt.datetime, *, slot: dt.datetime | None = None, **kw) -> Meeting:
    values = dict(
        id=mid,
        series_id=1,
        municipality_code="0344",
        region=False,
        title="Casusoverleg AWARE Utrecht",
        slot_at=slot or starts,
        starts_at=starts,
        ends_at=starts + dt.timedelta(minutes=90),
        urgent=False,
        status="scheduled",
        organisations=["police", "veilig_thuis"],
        sequence=0,
    )
    values.update(kw)
    return Meeting(**values)


def test_meeting_invitation_has_local_times_and_the_amsterdam_vtimezone():
    m = meeting(7, dt.datetime(2027, 3, 29, 12, 0, tzinfo=UTC))  # Monday 14:00 summer time
    cal = Calendar.from_ical(ics.meeting_ics(m, NOW))
    (event,) = cal.events
    assert str(event["UID"]) == "meeting-7@aware.invalid"
    assert event["DTSTART"].params["TZID"] == "Europe/Amsterdam"
    assert event.start.hour == 14 and event.start.utcoffset() == dt.timedelta(hours=2)
    assert event.start.astimezone(UTC) == m.starts_at
    assert event.end.astimezone(UTC) == m.ends_at
    assert [str(tz["TZID"]) for tz in cal.timezones] == ["Europe/Amsterdam"]
    assert "Veilig Thuis" in str(event["DESCRIPTION"])


def test_invitation_is_stable_and_cancellation_bumps_sequence():
    m = meeting(8, dt.datetime(2027, 3, 1, 13, 0, tzinfo=UTC))
    assert ics.meeting_ics(m, NOW) == ics.meeting_ics(m, NOW)
    m.status, m.sequence = "cancelled", 1
    (event,) = Calendar.from_ical(ics.meeting_ics(m, NOW)).events
    assert str(event["STATUS"]) == "CANCELLED" and int(event["SEQUENCE"]) == 1


def test_series_invitation_carries_rrule_exdate_and_moved_occurrence():
    series = MeetingSeries(
        id=3,
        municipality_code="0344",
        region=False,
        title="Casusoverleg",
        rrule="FREQ=WEEKLY;BYDAY=MO",
        start_local="2027-03-15T14:00:00",
        duration_min=90,
        organisations=["police"],
    )
    cancelled = meeting(
        11, dt.datetime(2027, 3, 22, 13, tzinfo=UTC), status="cancelled", sequence=1
    )
    slot = dt.datetime(2027, 3, 29, 12, tzinfo=UTC)
    moved = meeting(12, slot + dt.timedelta(hours=1), slot=slot, sequence=1)
    cal = Calendar.from_ical(ics.series_ics(series, [cancelled, moved], NOW))
    master, override = cal.events
    assert str(master["UID"]) == str(override["UID"]) == "meeting-series-3@aware.invalid"
    assert master["RRULE"]["FREQ"] == ["WEEKLY"] and master["RRULE"]["BYDAY"] == ["MO"]
    assert master.start == dt.datetime(2027, 3, 15, 14, tzinfo=master.start.tzinfo)
    exdates = [d.dt for d in master["EXDATE"].dts]
    assert [d.astimezone(UTC) for d in exdates] == [cancelled.slot_at]
    assert override["RECURRENCE-ID"].dt.astimezone(UTC) == slot
    assert override.start.hour == 15 and override.start.astimezone(UTC) == moved.starts_at
    # The VTIMEZONE reaches far enough for an unbounded series.
    text = ics.series_ics(series, [], NOW).decode()
    assert "20401028T030000" in text.replace("\r\n ", "")
