"""Intake's pure rules: clock bounds, JSON that can be stored, derived ids, JSON depth."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from aware.api import MAX_JSON_DEPTH, ApiError, loads_json, text_problems
from aware.devices import intake
from aware.devices.schemas import EventIn

NOW = dt.datetime(2031, 6, 1, 12, 0, tzinfo=dt.UTC)  # any clock: the rules take it as given
PLUS_ONE = dt.timezone(dt.timedelta(hours=1))
MINUS_ONE = dt.timezone(dt.timedelta(hours=-1))


@pytest.mark.parametrize(
    ("at", "problem"),
    [
        (dt.datetime(2000, 1, 1, tzinfo=dt.UTC), None),
        (NOW + dt.timedelta(hours=24), None),
        (NOW - dt.timedelta(days=3650), None),
        (dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=dt.UTC), "before 2000-01-01"),
        (dt.datetime(1, 1, 1, 0, 30, tzinfo=PLUS_ONE), "before 2000-01-01"),
        (NOW + dt.timedelta(hours=24, seconds=1), "more than 24 h ahead of the server clock"),
        (
            dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=MINUS_ONE),
            "more than 24 h ahead of the server clock",
        ),
    ],
)
def test_clock_bounds(at, problem):
    assert intake.clock_problem(at, NOW) == problem


def test_a_year_1_time_cannot_even_be_converted_but_is_judged():
    at = dt.datetime(1, 1, 1, 0, 30, tzinfo=PLUS_ONE)
    with pytest.raises(OverflowError):
        at.astimezone(dt.UTC)
    assert intake.utc(at) is None


def test_json_safe_leaves_out_what_json_or_a_database_cannot_hold():
    extra = {
        "speed": math.nan,
        "altitude": -math.inf,
        "ok": 1.5,
        "desc": "a\x00b",
        "name": "\ud800",
        "nested": {"list": [1, math.inf, "x"], "keep": True},
        "when": dt.datetime(2031, 1, 1),
    }
    clean = intake.clean_extra(extra)
    assert clean == {
        "ok": 1.5,
        "nested": {"list": [1, "x"], "keep": True},
        "dropped": {
            "speed": "not a finite number",
            "altitude": "not a finite number",
            "desc": "must not contain NUL (\\u0000)",
            "name": "is not valid Unicode (lone surrogate)",
            "nested.list.1": "not a finite number",
            "when": "not a JSON value",
        },
    }


def test_derived_event_ids_are_stable_and_distinct():
    a = intake.derived_event_id("press\x007", {})
    assert a == intake.derived_event_id("press\x007", {"type": "sos"})
    assert a != intake.derived_event_id("press\x008", {})
    assert a.startswith(intake.DERIVED_PREFIX) and len(a) <= 64 and "\x00" not in a
    no_id = {"type": "sos", "occurred_at": "2031-06-01T12:00:00Z"}
    assert intake.derived_event_id(None, no_id) == intake.derived_event_id(None, dict(no_id))


def test_screen_repairs_alarms_and_refuses_the_rest():
    year_one = dt.datetime(1, 1, 1, 0, 30, tzinfo=PLUS_ONE)
    events = [
        EventIn(event_id="s\x00", type="sos", occurred_at=year_one),
        EventIn(event_id="h", type="heartbeat", occurred_at=year_one),
        EventIn(event_id="p\x00", type="heartbeat", occurred_at=NOW),
    ]
    judged = intake.screen(events, {"h": {"speed": math.nan}}, NOW)
    (sos,) = judged.events
    assert sos.occurred_at == NOW and sos.event_id.startswith(intake.DERIVED_PREFIX)
    marks = judged.extras[sos.event_id]
    assert marks["clock_suspect"]["reported"] == "0001-01-01T00:30:00+01:00"
    assert marks["event_id_derived"]["reported"] == "s\\u0000"
    assert [(r.index, r.event_id, list(r.fields)) for r in judged.rejected] == [
        (1, "h", ["occurred_at"]),
        (2, None, ["event_id"]),
    ]


def test_json_depth_limit():
    ok = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert loads_json(ok.encode()) is not None
    for raw in ("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), "[" * 200_000):
        with pytest.raises(ApiError) as err:
            loads_json(raw.encode())
        assert err.value.status == 400
    assert loads_json(b'{"a": NaN}')["a"] != loads_json(b'{"a": NaN}')["a"]  # parsed, not refused


def test_text_problems_name_the_field():
    assert text_problems({"username": "a\x00", "ok": "b", "list": ["\ud800"]}) == {
        "username": "must not contain NUL (\\u0000)",
        "list.0": "is not valid Unicode (lone surrogate)",
    }
