"""escalation.due_firing: what a process finding an alarm due sends now, and when to look again."""

from __future__ import annotations

import datetime as dt

from aware.alarms import escalation as esc

T0 = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.UTC)  # any instant: only differences matter


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


TWO_STEPS = esc.parse_chain(
    {
        "steps": [
            {"after_s": 30, "channels": ["sms"], "to": ["+31600000001"]},
            {"after_s": 90, "channels": ["sms", "voice"], "to": ["+31600000002"]},
        ],
        "repeat_every_s": 60,
        "max_repeats": 3,
    }
)


def test_not_yet_due_plans_the_exact_time():
    assert esc.due_firing(TWO_STEPS, T0, 0, at(10)) == (None, at(30))
    assert esc.due_firing(TWO_STEPS, T0, 1, at(31)) == (None, at(90))


def test_due_on_the_dot_sends_that_firing_and_plans_the_next():
    firing, following = esc.due_firing(TWO_STEPS, T0, 0, at(30))
    assert firing is not None and (firing.number, firing.at, firing.to) == (
        0,
        at(30),
        ("+31600000001",),
    )
    assert following == at(90)


def test_every_step_fires_even_when_overdue_but_missed_repeats_collapse():
    # Ten minutes without any process: step 0 still goes on its own...
    firing, following = esc.due_firing(TWO_STEPS, T0, 0, at(600))
    assert firing is not None and firing.number == 0 and following == at(90)
    # ...then step 1 and its three repeats (150, 210, 270 s) go out once, as the last repeat.
    firing, following = esc.due_firing(TWO_STEPS, T0, 1, at(600))
    assert firing is not None and (firing.number, firing.step, firing.repeat) == (4, 1, 3)
    assert following is None  # the chain is done


def test_a_repeat_not_yet_due_is_not_pulled_forward():
    firing, following = esc.due_firing(TWO_STEPS, T0, 1, at(200))
    assert firing is not None and firing.number == 2 and firing.at == at(150)
    assert following == at(210)


def test_done_and_never_escalating_chains_have_nothing_due():
    assert esc.due_firing(TWO_STEPS, T0, 5, at(10_000)) == (None, None)
    assert esc.due_firing(esc.parse_chain({"steps": []}), T0, 0, at(10)) == (None, None)
