"""The admin API for escalation chains, the victim-notification switch, and their OpenAPI."""

from __future__ import annotations

import pytest

from aware.alarms import rules
from tests.conftest import bearer

CHAIN = {
    "steps": [
        {"after_s": 20, "channels": ["sms"], "to": ["+31612345678"]},
        {"after_s": 60, "channels": ["sms", "voice"], "to": ["+31687654321"]},
    ],
    "repeat_every_s": 300,
    "max_repeats": 2,
}


@pytest.fixture
def admin(make_user):
    _, token = make_user("admin", "admin-ad")
    return bearer(token)


def chains(client, admin):
    r = client.get("/api/v1/escalation-chains", headers=admin)
    assert r.status_code == 200
    return {c["alarm_type"]: c for c in r.get_json()["chains"]}


def test_every_alarm_type_starts_with_the_default_chain(client, admin, app):
    listed = chains(client, admin)
    assert set(listed) == set(rules.PRIORITY)
    default = app.extensions["aware"].default_escalation
    for entry in listed.values():
        assert entry["default"] is True and entry["chain"] == default
        assert entry["updated_at"] is None and entry["updated_by"] is None
