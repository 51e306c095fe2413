import datetime as dt

from aware.alarms.figures import acceptance, shift_bounds

UTC = dt.UTC


def test_shift_bounds_follow_amsterdam_time_across_dst():
    # Winter (UTC+1): 10:00 UTC is 11:00 local, day shift 07:00-15:00 local.
    start, end = shift_bounds(dt.datetime(2027, 1, 12, 10, 0, tzinfo=UTC))
    assert (start, end) == (
        dt.datetime(2027, 1, 12, 6, 0, tzinfo=UTC),
        dt.datetime(2027, 1, 12, 14, 0, tzinfo=UTC),
    )
    # Summer (UTC+2): 22:30 UTC is 00:30 local, in the night shift that began at 23:00.
    start, end = shift_bounds(dt.datetime(2027, 7, 1, 22, 30, tzinfo=UTC))
    assert start == dt.datetime(2027, 7, 1, 21, 0, tzinfo=UTC)
    assert end == dt.datetime(2027, 7, 2, 5, 0, tzinfo=UTC)
    # The night the clocks go back lasts nine hours.
    start, end = shift_bounds(dt.datetime(2027, 10, 31, 1, 30, tzinfo=UTC))
    assert (end - start) == dt.timedelta(hours=9)


def test_acceptance_counts_late_open_alarms_and_skips_undecided_ones():
    now = dt.datetime(2027, 1, 12, 10, 0, tzinfo=UTC)
    t = now - dt.timedelta(minutes=5)
    s = dt.timedelta(seconds=1)
    ten, forty = acceptance(
        [
            (t, t + 4 * s),  # within both
            (t, t + 25 * s),  # within 40 only
            (t, t + 60 * s),  # late for both
            (t, None),  # open for five minutes: late for both
            (now - 20 * s, None),  # open 20 s: late for 10, not yet decided for 40
            (now - 2 * s, None),  # open 2 s: counted for neither yet
        ],
        now,
    )
    assert (ten.counted, ten.within) == (5, 1)
    assert (forty.counted, forty.within) == (4, 2)
    assert ten.share == 0.2 and ten.met is False
    assert forty.share == 0.5 and forty.met is False


def test_no_alarms_no_share():
    (ten, forty) = acceptance([], dt.datetime(2027, 1, 1, tzinfo=UTC))
    assert ten.share is None and ten.met is None and forty.counted == 0
