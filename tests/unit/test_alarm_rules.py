"""Every valid and invalid transition of the alarm state machine."""

import datetime as dt

import pytest

from aware.alarms import rules
from aware.alarms.rules import AlarmState, Outcome, Status, TransitionRefused

T0 = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(seconds=7)
T2 = T0 + dt.timedelta(seconds=90)

OPEN = AlarmState(Status.OPEN)
ACKED = AlarmState(Status.ACKNOWLEDGED, acknowledged_by="anna", acknowledged_at=T1)
RESOLVED = AlarmState(
    Status.RESOLVED,
    acknowledged_by="anna",
    acknowledged_at=T1,
    resolved_by="anna",
    resolved_at=T2,
    outcome=Outcome.GENUINE,
)


def test_acknowledge_open_alarm_records_who_and_when():
    t = rules.acknowledge(OPEN, "anna", T1)
    assert t.state.status is Status.ACKNOWLEDGED
    assert (t.state.acknowledged_by, t.state.acknowledged_at) == ("anna", T1)
    assert t.actions == ("acknowledged",)


def test_acknowledge_twice_by_the_same_dispatcher_changes_nothing():
    t = rules.acknowledge(ACKED, "anna", T2)
    assert not t.changed
    assert t.state == ACKED


def test_acknowledge_by_a_second_dispatcher_is_refused_naming_the_first():
    with pytest.raises(TransitionRefused) as exc:
        rules.acknowledge(ACKED, "bram", T2)
    assert exc.value.by == "anna"
    assert exc.value.at == T1
    assert exc.value.status is Status.ACKNOWLEDGED
    assert "anna" in exc.value.message


@pytest.mark.parametrize("who", ["anna", "bram"])
def test_acknowledge_resolved_alarm_is_refused(who):
    with pytest.raises(TransitionRefused) as exc:
        rules.acknowledge(RESOLVED, who, T2)
    assert exc.value.status is Status.RESOLVED
    assert exc.value.by == "anna"


@pytest.mark.parametrize("outcome", list(Outcome))
def test_resolve_acknowledged_alarm_with_each_outcome(outcome):
    t = rules.resolve(ACKED, "bram", T2, outcome)
    assert t.state.status is Status.RESOLVED
    assert t.state.outcome is outcome
    assert (t.state.resolved_by, t.state.resolved_at) == ("bram", T2)
    # Who accepted it stays on record.
    assert t.state.acknowledged_by == "anna"
    assert t.actions == ("resolved",)


def test_resolve_open_alarm_acknowledges_it_on_the_way():
    t = rules.resolve(OPEN, "anna", T2, Outcome.TEST)
    assert t.state.status is Status.RESOLVED
    assert (t.state.acknowledged_by, t.state.acknowledged_at) == ("anna", T2)
    assert t.actions == ("acknowledged", "resolved")


def test_resolve_repeated_by_the_same_dispatcher_with_same_outcome_changes_nothing():
    t = rules.resolve(RESOLVED, "anna", T2 + dt.timedelta(seconds=5), Outcome.GENUINE)
    assert not t.changed
    assert t.state == RESOLVED


@pytest.mark.parametrize(
    ("who", "outcome"),
    [("bram", Outcome.GENUINE), ("anna", Outcome.FALSE_ALARM), ("bram", Outcome.TECHNICAL)],
)
def test_resolve_resolved_alarm_otherwise_is_refused(who, outcome):
    with pytest.raises(TransitionRefused) as exc:
        rules.resolve(RESOLVED, who, T2, outcome)
    assert exc.value.by == "anna"
    assert exc.value.at == T2


def test_panic_press_outranks_everything_and_test_is_lowest():
    assert rules.priority_for("sos") == 1
    assert all(rules.priority_for(t) >= 1 for t in rules.ALARM_TYPES)
    assert rules.priority_for("test") == max(rules.PRIORITY.values())
    assert rules.priority_for("tamper") < rules.priority_for("battery_low")


def test_unknown_alarm_type_is_treated_as_urgent():
    assert rules.priority_for("something_new") == 1


def test_event_types_that_raise_alarms():
    assert {"sos", "tamper", "battery_low", "test"} == rules.EVENT_ALARM_TYPES
