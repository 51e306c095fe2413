"""Meeting recurrence on Europe/Amsterdam wall time: DST, strict rules, local-time edge cases."""

from __future__ import annotations

import datetime as dt

import pytest

from aware.coordination import recurrence as r

UTC = dt.UTC


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def test_weekly_monday_14_stays_14_local_across_both_clock_changes():
    rule = r.parse_rule("FREQ=WEEKLY;BYDAY=MO", r.parse_local("2027-03-15T14:00"))
    got = r.occurrences(rule, utc(2027, 3, 1), utc(2027, 11, 10))
    by_day = {local.date(): at for local, at in got}
    assert all(local.hour == 14 and local.minute == 0 for local, _ in got)
    # Last Sunday of March 2027 is the 28th: the Monday before is winter, after is summer.
    assert by_day[dt.date(2027, 3, 22)] == utc(2027, 3, 22, 13)
    assert by_day[dt.date(2027, 3, 29)] == utc(2027, 3, 29, 12)
    # Last Sunday of October 2027 is the 31st.
    assert by_day[dt.date(2027, 10, 25)] == utc(2027, 10, 25, 12)
    assert by_day[dt.date(2027, 11, 1)] == utc(2027, 11, 1, 13)
    assert len(got) == 35  # every Monday from 15 March to 8 November


def test_until_and_count_bound_the_series():
    start = r.parse_local("2027-03-01T14:00")
    counted = r.parse_rule("FREQ=WEEKLY;BYDAY=MO;COUNT=3", start)
    assert len(r.occurrences(counted, utc(2027, 1, 1), utc(2028, 1, 1))) == 3
    until = r.parse_rule("FREQ=WEEKLY;BYDAY=MO;UNTIL=20270315", start)
    assert until.text.endswith("UNTIL=20270315T225959Z")  # a date means the end of that day
    assert [a for _, a in r.occurrences(until, utc(2027, 1, 1), utc(2028, 1, 1))] == [
        utc(2027, 3, 1, 13),
        utc(2027, 3, 8, 13),
        utc(2027, 3, 15, 13),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "garbage",
        "FREQ=HOURLY",
        "FREQ=MINUTELY;COUNT=5",
        "FREQ=FORTNIGHTLY",
        "FREQ=WEEKLY;BYDAY=XX",
        "FREQ=WEEKLY;INTERVAL=0",
        "FREQ=WEEKLY;COUNT=2;UNTIL=20280101T000000Z",
        "FREQ=WEEKLY;UNTIL=20200101T000000Z",
        "FREQ=DAILY;BYHOUR=9,14",
        "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=WEEKLY;BYDAY=MO;FOO=1",
        "BYDAY=MO",
        "FREQ=WEEKLY;FREQ=DAILY",
    ],
)
def test_bad_rules_are_refused_naming_rrule(text):
    with pytest.raises(r.RecurrenceError) as exc:
        r.parse_rule(text, r.parse_local("2027-03-01T14:00"))
    assert exc.value.field == "rrule"


def test_start_must_be_a_meeting_of_the_rule():
    with pytest.raises(r.RecurrenceError) as exc:
        r.parse_rule("FREQ=WEEKLY;BYDAY=MO", r.parse_local("2027-03-16T14:00"))
    assert exc.value.field == "start_local" and "2027-03-22T14:00" in exc.value.message


def test_sub_daily_lists_are_allowed_when_bounded():
    rule = r.parse_rule(
        "FREQ=DAILY;BYHOUR=9,14;BYMINUTE=0;COUNT=4", r.parse_local("2027-03-01T09:00")
    )
    got = r.occurrences(rule, utc(2027, 1, 1), utc(2028, 1, 1))
    assert [local.hour for local, _ in got] == [9, 14, 9, 14]


def test_overlapping_meetings_are_refused():
    rule = r.parse_rule("FREQ=DAILY;BYHOUR=9,10;COUNT=4", r.parse_local("2027-03-01T09:00"))
    with pytest.raises(r.RecurrenceError):
        r.check_no_overlap(rule, dt.timedelta(minutes=90))
    r.check_no_overlap(rule, dt.timedelta(minutes=60))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2027-03-01T14:00+01:00", "without an offset"),
        ("2027-03-01T14:00Z", "without an offset"),
        ("2027-03-28T02:30", "does not exist"),
        ("2027-02-30T14:00", "not a valid date"),
        ("maandag 14 uur", "expected a local time"),
    ],
)
def test_start_local_must_be_an_existing_naive_local_time(value, message):
    with pytest.raises(r.RecurrenceError) as exc:
        r.parse_local(value)
    assert exc.value.field == "start_local" and message in exc.value.message


def test_ambiguous_time_is_the_first_instance_and_gap_occurrences_move_forward():
    # 02:30 on 31 October 2027 happens twice: the first, summer-time instance is meant.
    assert r.to_utc(r.parse_local("2027-10-31T02:30")) == utc(2027, 10, 31, 0, 30)
    daily = r.parse_rule("FREQ=DAILY;COUNT=3", r.parse_local("2027-03-27T02:30"))
    got = r.occurrences(daily, utc(2027, 3, 1), utc(2027, 4, 1))
    # On the 28th 02:30 does not exist: the meeting is at 03:30 summer time (01:30 UTC).
    assert [a for _, a in got] == [
        utc(2027, 3, 27, 1, 30),
        utc(2027, 3, 28, 1, 30),
        utc(2027, 3, 29, 0, 30),
    ]
    assert r.to_local(got[1][1]).hour == 3


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2027, 3, 3, 7, 0), utc(2027, 3, 3, 9, 0)),  # Wednesday 08:00 -> 10:00 same day
        (utc(2027, 3, 3, 12, 0), utc(2027, 3, 4, 9, 0)),  # 13:00 -> next morning 10:00
        (utc(2027, 3, 5, 15, 0), utc(2027, 3, 6, 9, 0)),  # Friday 16:00 -> Saturday 10:00 (<48h)
        (utc(2027, 3, 27, 8, 0), utc(2027, 3, 29, 8, 0)),  # Sat 09:00 -> Mon 10:00 CEST, 48 h
    ],
)
def test_urgent_slot_is_within_48_hours_on_a_local_office_hour(now, expected):
    at = r.urgent_slot(now)
    assert at == expected
    assert now + dt.timedelta(hours=2) <= at <= now + dt.timedelta(hours=48)
    assert r.to_local(at).hour in (10, 14)
