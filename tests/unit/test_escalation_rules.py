"""Escalation chains as data: validation, planned firings, stale timers."""

import datetime as dt

import pytest

from aware.alarms import escalation as esc

T0 = dt.datetime(2026, 11, 28, 22, 0, tzinfo=dt.UTC)


def test_default_chain_texts_and_calls_every_number_and_repeats():
    chain = esc.default_chain(30, ["+31612345678", "+31201234567"])
    planned = list(esc.firings(chain, T0))
    assert len(planned) == 1 + 5
    first = planned[0]
    assert first.at == T0 + dt.timedelta(seconds=30)
    assert first.channels == ("sms", "voice") and first.to == ("+31612345678", "+31201234567")
    assert [f.at - T0 for f in planned[1:3]] == [
        dt.timedelta(seconds=150),
        dt.timedelta(seconds=270),
    ]
    assert [f.number for f in planned] == list(range(6))


def test_a_chain_without_numbers_still_fires_so_the_timeline_can_say_so():
    (firing, *_) = esc.firings(esc.default_chain(30, []), T0)
    assert firing.to == ()


def test_multi_step_chain_round_trips_as_data():
    data = {
        "steps": [
            {"after_s": 20, "channels": ["sms"], "to": ["+31612345678"]},
            {"after_s": 60, "channels": ["sms", "voice"], "to": ["+31687654321"]},
        ],
        "repeat_every_s": 300,
        "max_repeats": 2,
    }
    chain = esc.parse_chain(data)
    assert esc.parse_chain(esc.chain_to_data(chain)) == chain
    planned = list(esc.firings(chain, T0))
    assert [(f.step, f.repeat) for f in planned] == [(0, 0), (1, 0), (1, 1), (1, 2)]
    assert planned[-1].at == T0 + dt.timedelta(seconds=60 + 600)


def test_next_firing_re_arms_after_a_restart():
    chain = esc.default_chain(30, ["+31612345678"], repeat_every_s=60, max_repeats=1)
    assert esc.next_firing(chain, T0, 0).at == T0 + dt.timedelta(seconds=30)
    assert esc.next_firing(chain, T0, 1).at == T0 + dt.timedelta(seconds=90)
    assert esc.next_firing(chain, T0, 2) is None


def test_a_chain_without_steps_never_escalates():
    chain = esc.parse_chain({"steps": []})
    assert chain == esc.Chain(())
    assert list(esc.firings(chain, T0)) == []
    assert esc.next_firing(chain, T0, 0) is None
    assert esc.parse_chain(esc.chain_to_data(chain)) == chain
    # A missing list is a mistake, not "never": only an explicit [] switches escalation off.
    with pytest.raises(esc.ChainInvalid):
        esc.parse_chain({})


@pytest.mark.parametrize(
    ("status", "current", "timer", "fires"),
    [
        ("open", "tok-1", "tok-1", True),
        ("open", "tok-2", "tok-1", False),
        ("open", None, "tok-1", False),
        ("acknowledged", "tok-1", "tok-1", False),
        ("resolved", "tok-1", "tok-1", False),
    ],
)
def test_only_a_timer_with_the_current_token_fires_for_an_open_alarm(status, current, timer, fires):
    assert esc.should_fire(status, current, timer) is fires


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "steps"),
        ({"steps": "none"}, "steps"),
        ({"steps": [{"after_s": i, "channels": ["sms"]} for i in range(11)]}, "steps"),
        ({"steps": [], "max_repeats": 2, "repeat_every_s": 60}, "max_repeats"),
        ({"steps": [{"after_s": -1, "channels": ["sms"], "to": []}]}, "steps.0.after_s"),
        ({"steps": [{"after_s": True, "channels": ["sms"], "to": []}]}, "steps.0.after_s"),
        ({"steps": [{"after_s": 30, "channels": ["fax"], "to": []}]}, "steps.0.channels"),
        ({"steps": [{"after_s": 30, "channels": [], "to": []}]}, "steps.0.channels"),
        ({"steps": [{"after_s": 30, "channels": ["sms"], "to": ["0612345678"]}]}, "steps.0.to"),
        (
            {
                "steps": [
                    {"after_s": 30, "channels": ["sms"], "to": []},
                    {"after_s": 30, "channels": ["sms"], "to": []},
                ]
            },
            "steps.1.after_s",
        ),
        (
            {"steps": [{"after_s": 30, "channels": ["sms"], "to": []}], "max_repeats": 3},
            "repeat_every_s",
        ),
        (
            {
                "steps": [{"after_s": 30, "channels": ["sms"], "to": []}],
                "max_repeats": 99,
                "repeat_every_s": 60,
            },
            "max_repeats",
        ),
    ],
)
def test_bad_chains_name_the_field(data, field):
    with pytest.raises(esc.ChainInvalid) as exc:
        esc.parse_chain(data)
    assert exc.value.field == field
