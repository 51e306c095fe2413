"""Small-count suppression of municipality reports (pure)."""

from __future__ import annotations

from aware.reports.privacy import suppress


def test_counts_from_1_to_4_become_lt5_and_0_and_5_stay():
    assert [suppress(n) for n in range(7)] == [0, "<5", "<5", "<5", "<5", 5, 6]


def test_nested_dicts_and_lists_are_suppressed_and_input_is_untouched():
    report = {
        "suppressed_below": 5,
        "victims": {"high_concern": 12, "waiting": 3, "refused_by_reason": {"x": 1, "y": 7}},
        "alarms_by_month": [{"month": "2026-01", "type": "sos", "outcome": None, "count": 2}],
        "comparison": [{"municipality": "0344", "name": "Utrecht", "alarms": 0, "waiting": 4}],
    }
    out = suppress(report)
    assert out == {
        "suppressed_below": 5,
        "victims": {"high_concern": 12, "waiting": "<5", "refused_by_reason": {"x": "<5", "y": 7}},
        "alarms_by_month": [{"month": "2026-01", "type": "sos", "outcome": None, "count": "<5"}],
        "comparison": [{"municipality": "0344", "name": "Utrecht", "alarms": 0, "waiting": "<5"}],
    }
    assert report["victims"]["waiting"] == 3  # a copy


def test_statistics_of_small_groups_are_nulled():
    small = {"n": 3, "median": 2.5, "p90": 4.0}
    assert suppress(small) == {"n": "<5", "median": None, "p90": None}
    assert suppress({"n": 5, "median": 2.5, "p90": 4.0}) == {"n": 5, "median": 2.5, "p90": 4.0}
    assert suppress({"n": 0, "median": None, "p90": None}) == {"n": 0, "median": None, "p90": None}
    acc = {"counted": 2, "within_10s": 1, "share_10s": 0.5, "target_10s": 0.8}
    assert suppress(acc) == {
        "counted": "<5",
        "within_10s": "<5",
        "share_10s": None,
        "target_10s": 0.8,
    }


def test_floats_strings_bools_and_none_pass():
    assert suppress({"share_10s": 0.75, "s": "3", "b": True, "z": None}) == {
        "share_10s": 0.75,
        "s": "3",
        "b": True,
        "z": None,
    }
