"""Issue 11, floods cannot bury an SOS: the pure rules (plausibility, storm folding)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aware.alarms import rules
from aware.risk.geometry import (
    MAX_PLAUSIBLE_KMH,
    TimedFix,
    implied_speed_kmh,
    plausibility_chain,
)

T0 = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.UTC)  # a fixed instant: these rules take no clock
ORIGIN = (136_000.0, 455_000.0)  # RD New, Utrecht


def fix(east_m: float, seconds: float, accuracy: float = 5.0) -> TimedFix:
    return TimedFix((ORIGIN[0] + east_m, ORIGIN[1]), accuracy, T0 + dt.timedelta(seconds=seconds))


# --------------------------------------------------------------------------------------------
# Plausibility
# --------------------------------------------------------------------------------------------


def test_speed_is_distance_less_accuracy_over_time():
    # 1,010 m in 36 s with 5 m accuracy each: 1,000 m / 36 s = 100 km/h.
    assert implied_speed_kmh(fix(0, 0), fix(1010, 36)) == pytest.approx(100.0)
    # Order does not matter; a late (buffered) fix is measured back in time.
    assert implied_speed_kmh(fix(1010, 36), fix(0, 0)) == pytest.approx(100.0)
    # Two fixes in the same second count as one second apart.
    assert implied_speed_kmh(fix(0, 0), fix(110, 0)) == pytest.approx(100 * 3.6)
    # Noise within the accuracies is no speed at all.
    assert implied_speed_kmh(fix(0, 0, 40), fix(70, 1, 40)) == 0.0
    # A claimed huge inaccuracy does not excuse a teleport: at most 200 m are taken off.
    assert implied_speed_kmh(fix(0, 0, 1e6), fix(10_200, 10, 1e6)) == pytest.approx(3600.0)


def test_a_jump_beyond_250_kmh_is_implausible_and_the_return_is_believed():
    # A walk, one fix 5 km away, back on the walk.
    chain = plausibility_chain(fix(0, -10), [fix(10, 0), fix(5000, 10), fix(30, 20), fix(40, 30)])
    assert [s is not None for s in chain] == [False, True, False, False]
    assert chain[1] is not None and chain[1] > MAX_PLAUSIBLE_KMH


def test_just_under_and_just_over_the_limit():
    # 250 km/h is 69.4 m/s; 10 m of accuracy slack.
    assert plausibility_chain(fix(0, 0), [fix(10 + 69.0 * 10, 10)]) == [None]
    (over,) = plausibility_chain(fix(0, 0), [fix(10 + 70.0 * 10, 10)])
    assert over is not None and 251 < over < 253


def test_a_device_that_really_moved_is_believed_from_its_second_fix():
    # The stored fix is far away (say a glitch accepted as the first fix): the new place is
    # implausible once, then two fixes that agree are believed and stay believed.
    chain = plausibility_chain(fix(50_000, -5), [fix(0, 0), fix(10, 10), fix(20, 20)])
    assert [s is not None for s in chain] == [True, False, False]


def test_no_previous_fix_means_nothing_to_compare_with():
    assert plausibility_chain(None, [fix(0, 0)]) == [None]
    assert plausibility_chain(None, []) == []


def test_alternating_between_two_far_places_marks_every_jump():
    fixes = [fix(0 if n % 2 == 0 else 3000, n * 2) for n in range(10)]
    chain = plausibility_chain(None, fixes)
    # The first is believed; every fix at the far place is implausible; returns are believed.
    assert [s is not None for s in chain] == [False, True] * 5


@given(
    st.lists(
        st.tuples(st.floats(-5000, 5000), st.floats(0, 10), st.floats(0, 100)),
        min_size=1,
        max_size=30,
    )
)
def test_a_plausible_walk_is_never_marked(steps):
    # Whatever the path, fixes that move at most 200 km/h (55.5 m/s) are all believed.
    fixes, x, t = [], 0.0, 0.0
    for dx, dt_s, acc in steps:
        t += max(dt_s, 1.0)
        x += max(-1.0, min(1.0, dx / 5000)) * 55.5 * max(dt_s, 1.0)
        fixes.append(fix(x, t, acc))
    assert plausibility_chain(None, fixes) == [None] * len(fixes)


# --------------------------------------------------------------------------------------------
# Storms
# --------------------------------------------------------------------------------------------


def test_folding_starts_at_the_rate_and_goes_on_while_the_storm_takes_alarms():
    assert not rules.should_fold(5, 6, None, T0)
    assert rules.should_fold(6, 6, None, T0)
    # A storm that took an alarm 59 s ago keeps folding even after the window emptied...
    assert rules.should_fold(0, 6, T0 - dt.timedelta(seconds=59), T0)
    # ...a device quiet for a whole minute raises normally again.
    assert not rules.should_fold(0, 6, T0 - dt.timedelta(seconds=60), T0)
    with pytest.raises(ValueError):
        rules.should_fold(0, 0, None, T0)


def test_storm_priority_is_the_most_urgent_folded_and_at_least_a_storm():
    assert rules.priority_for("storm") == 3
    assert rules.storm_priority(None, "test") == 3
    assert rules.storm_priority(None, "sos") == 1
    assert rules.storm_priority(3, "battery_low") == 3
    # Once an SOS is folded in, the storm stays on top.
    assert rules.storm_priority(1, "test") == 1
    assert rules.storm_priority(3, "tamper") == 2


def test_fold_detail_counts_by_type_and_names_the_latest():
    detail = None
    for n in range(25):
        kind = "sos" if n % 5 else "test"
        detail = rules.fold_detail(detail, kind, f"e{n}", T0 + dt.timedelta(seconds=n))
    assert detail is not None
    assert detail["folded"] == {"test": 5, "sos": 20} and detail["count"] == 25
    assert detail["first_at"] == T0.isoformat()
    assert detail["last_at"] == (T0 + dt.timedelta(seconds=24)).isoformat()
    assert [r["event_id"] for r in detail["recent"]] == [f"e{n}" for n in range(5, 25)]
    # Other keys of the detail are kept; the input is not changed.
    before = {"rate_per_min": 6}
    after = rules.fold_detail(before, "sos", "x", T0)
    assert after["rate_per_min"] == 6 and before == {"rate_per_min": 6}


def test_storm_is_an_alarm_type():
    assert "storm" in rules.ALARM_TYPES


def _reference_chain(previous, fixes, max_kmh=MAX_PLAUSIBLE_KMH):
    """The rule as written in plausibility_chain's docstring, one fix at a time."""
    out, last_plausible = [], previous
    for f in fixes:
        speeds = [implied_speed_kmh(ref, f) for ref in (previous, last_plausible) if ref]
        speed = min(speeds) if speeds else 0.0
        out.append(speed if speed > max_kmh else None)
        if speed <= max_kmh:
            last_plausible = f
        previous = f
    return out


@given(
    st.booleans(),
    st.lists(
        st.tuples(st.floats(-20_000, 20_000), st.floats(0, 120), st.floats(0, 300)),
        max_size=40,
    ),
)
def test_the_batch_version_matches_the_rule_fix_by_fix(with_previous, steps):
    previous = fix(0, -30, 10) if with_previous else None
    fixes, t = [], 0.0
    for x, dt_s, acc in steps:
        t += dt_s
        fixes.append(fix(x, t, acc))
    got = plausibility_chain(previous, fixes)
    want = _reference_chain(previous, fixes)
    assert [g is None for g in got] == [w is None for w in want]
    assert all(g == pytest.approx(w) for g, w in zip(got, want, strict=True) if g is not None)
