"""The allocation state machine and its dates: every transition, allowed and refused."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aware.coordination import allocation_rules as r
from aware.coordination.allocation_rules import Outcome, Refused, Status

ALL = list(Status)


@pytest.mark.parametrize(
    ("status", "outcome", "expected"),
    [
        (Status.APPLIED, Outcome.GRANTED, Status.GRANTED),
        (Status.APPLIED, Outcome.REFUSED, Status.REFUSED),
        (Status.APPLIED, Outcome.WAITING_LIST, Status.WAITING_LIST),
        (Status.WAITING_LIST, Outcome.GRANTED, Status.GRANTED),
        (Status.WAITING_LIST, Outcome.REFUSED, Status.REFUSED),
    ],
)
def test_decisions_allowed(status, outcome, expected):
    assert r.decide(status, outcome) is expected


@pytest.mark.parametrize("outcome", list(Outcome))
@pytest.mark.parametrize("status", [Status.REFUSED, Status.GRANTED, Status.ACTIVE, Status.ENDED])
def test_a_decided_application_is_not_decided_again(status, outcome):
    with pytest.raises(Refused, match="already decided"):
        r.decide(status, outcome)


def test_waiting_list_twice_is_refused():
    with pytest.raises(Refused, match="already on the waiting list"):
        r.decide(Status.WAITING_LIST, Outcome.WAITING_LIST)


def test_reasons_required_for_refusal_and_waiting_list_only():
    assert r.reasons_required(Outcome.REFUSED) and r.reasons_required(Outcome.WAITING_LIST)
    assert not r.reasons_required(Outcome.GRANTED)


@pytest.mark.parametrize("status", ALL)
def test_support_only_after_the_grant_and_before_the_end(status):
    if status in (Status.GRANTED, Status.ACTIVE):
        assert r.set_support(status) is status
    else:
        with pytest.raises(Refused):
            r.set_support(status)


@pytest.mark.parametrize("status", ALL)
@pytest.mark.parametrize("has_support", [True, False])
def test_device_needs_grant_and_support(status, has_support):
    if status in (Status.GRANTED, Status.ACTIVE) and has_support:
        assert r.connect_device(status, has_support) is Status.ACTIVE
    else:
        with pytest.raises(Refused) as exc:
            r.connect_device(status, has_support)
        if status in (Status.GRANTED, Status.ACTIVE):
            assert "support trajectory" in exc.value.message


@pytest.mark.parametrize("status", ALL)
def test_only_an_active_allocation_is_extended(status):
    end = dt.date(2027, 6, 1)
    if status is Status.ACTIVE:
        assert r.extend(status, end, dt.date(2027, 9, 1)) is Status.ACTIVE
    else:
        with pytest.raises(Refused):
            r.extend(status, end, dt.date(2027, 9, 1))


@pytest.mark.parametrize("until", [dt.date(2027, 6, 1), dt.date(2027, 5, 1)])
def test_extension_must_go_beyond_the_current_end(until):
    with pytest.raises(ValueError, match="after the current end 2027-06-01"):
        r.extend(Status.ACTIVE, dt.date(2027, 6, 1), until)


@pytest.mark.parametrize("status", ALL)
def test_ending(status):
    if status in (Status.GRANTED, Status.ACTIVE):
        assert r.end(status) is Status.ENDED
    else:
        with pytest.raises(Refused, match="already ended" if status is Status.ENDED else "only"):
            r.end(status)


@pytest.mark.parametrize("status", ALL)
@pytest.mark.parametrize("completed", [True, False])
def test_handover_after_the_ending_once(status, completed):
    if status is Status.ENDED and not completed:
        assert r.complete_handover(status, completed) is Status.ENDED
    else:
        with pytest.raises(Refused):
            r.complete_handover(status, completed)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2027, 1, 15), 6, dt.date(2027, 7, 15)),
        (dt.date(2027, 8, 31), 6, dt.date(2028, 2, 29)),  # leap year, shorter month
        (dt.date(2027, 11, 30), 3, dt.date(2028, 2, 29)),
        (dt.date(2027, 12, 31), 12, dt.date(2028, 12, 31)),
    ],
)
def test_add_months(day, months, expected):
    assert r.add_months(day, months) == expected


def test_term_and_reviews_follow_the_amsterdam_calendar():
    # 23:30 UTC on 31 March is already 1 April in Amsterdam (summer time).
    connected = dt.datetime(2027, 3, 31, 23, 30, tzinfo=dt.UTC)
    last = r.default_term_end(connected)
    assert last == dt.date(2027, 10, 1)
    assert r.review_dates(connected, last) == [dt.date(2027, 7, 1)]
    # The term ends at midnight Amsterdam after its last day (winter time by then: 23:00 UTC).
    assert r.end_of_day(last) == dt.datetime(2027, 10, 1, 22, 0, tzinfo=dt.UTC)
    assert r.end_of_day(dt.date(2027, 12, 1)) == dt.datetime(2027, 12, 1, 23, 0, tzinfo=dt.UTC)
    assert r.last_day(r.end_of_day(last)) == last
    # Extended to a year: reviews every three months before the last day.
    assert r.review_dates(connected, dt.date(2028, 4, 1)) == [
        dt.date(2027, 7, 1),
        dt.date(2027, 10, 1),
        dt.date(2028, 1, 1),
    ]


@given(
    st.datetimes(
        min_value=dt.datetime(2020, 1, 1),
        max_value=dt.datetime(2040, 1, 1),
        timezones=st.just(dt.UTC),
    ),
    st.integers(min_value=1, max_value=36),
)
def test_reviews_fall_inside_the_term_and_last_day_round_trips(connected, months):
    last = r.default_term_end(connected, months)
    reviews = r.review_dates(connected, last)
    assert all(r.local_date(connected) < d < last for d in reviews)
    assert reviews == sorted(set(reviews))
    assert len(reviews) == (months - 1) // 3
    assert r.last_day(r.end_of_day(last)) == last
    assert r.start_of_day(last) < r.end_of_day(last)
