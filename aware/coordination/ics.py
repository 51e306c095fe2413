"""Meeting invitations as iCalendar (RFC 5545), built with the `icalendar` library.

Start and end carry TZID=Europe/Amsterdam with the VTIMEZONE included (built by icalendar from
zoneinfo for the years the invitation spans), so a calendar shows 14:00 on both sides of a
clock change. UIDs are stable (`meeting-<id>@<domain>`, `meeting-series-<id>@<domain>`) and
SEQUENCE grows with every move or cancellation, so a re-imported invitation updates the entry
instead of adding one. A series carries its RRULE; cancelled occurrences become EXDATEs and
moved ones extra VEVENTs with a RECURRENCE-ID. No personal data: the title the coordinator
gave, the participating organisation types and the meeting id only, never case references.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from icalendar import Calendar, Event, vRecur

from aware.coordination import recurrence
from aware.coordination.meeting_models import Meeting, MeetingSeries

PRODID = "-//AWARE//casusoverleg//NL"
DOMAIN = "aware.invalid"
ORG_NAMES = {
    "police": "politie",
    "vrouwenopvang": "vrouwenopvang",
    "veilig_thuis": "Veilig Thuis",
    "om": "Openbaar Ministerie",
    "reclassering": "reclassering",
    "wijkteam": "wijkteam",
    "other": "overige",
}


def meeting_uid(meeting_id: int) -> str:
    return f"meeting-{meeting_id}@{DOMAIN}"


def series_uid(series_id: int) -> str:
    return f"meeting-series-{series_id}@{DOMAIN}"


def _description(organisations: Sequence[str], meeting_id: int | None, urgent: bool) -> str:
    who = ", ".join(ORG_NAMES.get(o, o) for o in organisations)
    lines = [
        "Casusoverleg AWARE" + (" (spoed)" if urgent else ""),
        f"Deelnemende organisaties: {who}",
        "De agenda staat in AWARE"
        + (f" (overleg {meeting_id})" if meeting_id is not None else "")
        + "; deze uitnodiging bevat geen persoonsgegevens.",
    ]
    return "\n".join(lines)


def _local(value: dt.datetime) -> dt.datetime:
    return value.astimezone(recurrence.AMSTERDAM)


def _status(meeting: Meeting) -> str:
    return {"cancelled": "CANCELLED", "proposed": "TENTATIVE"}.get(meeting.status, "CONFIRMED")


def _calendar(name: str, events: list[Event], first: dt.date, last: dt.date) -> bytes:
    cal = Calendar.new(prodid=PRODID, method="PUBLISH", name=name, uid=f"calendar-{name}")
    for ev in events:
        cal.add_component(ev)
    cal.add_missing_timezones(first_date=first, last_date=last)
    out: bytes = cal.to_ical()
    return out


def meeting_ics(meeting: Meeting, stamp: dt.datetime) -> bytes:
    """One meeting as an invitation."""
    ev = Event.new(
        uid=meeting_uid(meeting.id),
        summary=meeting.title,
        start=_local(meeting.starts_at),
        end=_local(meeting.ends_at),
        stamp=stamp.astimezone(dt.UTC),
        sequence=meeting.sequence,
        description=_description(meeting.organisations, meeting.id, meeting.urgent),
    )
    ev.add("status", _status(meeting))
    year = _local(meeting.starts_at).year
    return _calendar(
        f"meeting-{meeting.id}", [ev], dt.date(year - 1, 1, 1), dt.date(year + 2, 1, 1)
    )


def series_ics(series: MeetingSeries, meetings: Sequence[Meeting], stamp: dt.datetime) -> bytes:
    """A series: its RRULE from its first start, EXDATE for cancelled occurrences and an
    override (RECURRENCE-ID) for each moved one."""
    start = dt.datetime.fromisoformat(series.start_local)
    first = recurrence.to_utc(start)
    length = dt.timedelta(minutes=series.duration_min)
    master = Event.new(
        uid=series_uid(series.id),
        summary=series.title,
        start=_local(first),
        end=_local(first + length),
        stamp=stamp.astimezone(dt.UTC),
        sequence=sum(m.sequence for m in meetings),
        description=_description(series.organisations, None, False),
    )
    master.add("rrule", vRecur.from_ical(series.rrule))
    master.add("status", "CONFIRMED")
    events = [master]
    for m in meetings:
        if m.slot_at is None:
            continue
        if m.status == "cancelled":
            master.add("exdate", _local(m.slot_at))
        elif m.starts_at != m.slot_at or m.ends_at - m.starts_at != length:
            override = Event.new(
                uid=series_uid(series.id),
                summary=series.title,
                start=_local(m.starts_at),
                end=_local(m.ends_at),
                stamp=stamp.astimezone(dt.UTC),
                sequence=m.sequence,
                recurrence_id=_local(m.slot_at),
                description=_description(series.organisations, m.id, False),
            )
            events.append(override)
    last_local = _local(max([first, *(m.ends_at for m in meetings)]))
    return _calendar(
        f"meeting-series-{series.id}",
        events,
        dt.date(start.year - 1, 1, 1),
        dt.date(max(last_local.year, start.year) + 20, 1, 1),
    )
