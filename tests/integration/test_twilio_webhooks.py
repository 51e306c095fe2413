"""Twilio webhooks: signed keypress accepts the alarm; unsigned or wrongly signed gets 403."""

from __future__ import annotations

from pathlib import Path

import pytest
from twilio.request_validator import RequestValidator

from aware.adapters.realtime import RecordingPublisher
from aware.alarms.phone import gather_twiml
from aware.app import create_app
from aware.config import Settings
from tests.conftest import event

TOKEN = "twilio-auth-token-for-tests"
PUBLIC = "https://aware.example.nl"


@pytest.fixture
def app(tmp_path: Path, db_url, sessions):
    application = create_app(
        Settings(
            env="testing",
            instance_path=tmp_path,
            database_url=db_url,
            secret_key="t" * 32,
            twilio_account_sid="AC" + "1" * 32,
            twilio_auth_token=TOKEN,
            twilio_from_number="+3197010203040",
            public_url=PUBLIC,
        )
    )
    st = application.extensions["aware"]
    st.engine.dispose()
    st.sessions = sessions
    st.publisher = RecordingPublisher()
    return application


def signed_post(client, path, form, token=TOKEN):
    signature = RequestValidator(token).compute_signature(PUBLIC + path, form)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


@pytest.fixture
def alarm_id(client, device):
    return client.post("/api/v1/ingest", headers=device["headers"], json=event()).get_json()[
        "alarm_ids"
    ][0]


def test_signed_digit_1_accepts_the_alarm_by_phone(client, alarm_id, dispatcher):
    resp = signed_post(
        client,
        f"/twilio/gather?alarm={alarm_id}",
        {"Digits": "1", "To": "+31612345678", "CallSid": "CA1"},
    )
    assert resp.status_code == 200 and "geaccepteerd" in resp.text
    alarm = client.get(f"/api/v1/alarms/{alarm_id}", headers=dispatcher).get_json()
    assert alarm["status"] == "acknowledged"
    assert alarm["acknowledged_by"] == "telefoon +31612345678"
    ack = [e for e in alarm["timeline"] if e["action"] == "acknowledged"][0]
    assert ack["actor_type"] == "phone"


@pytest.mark.parametrize("headers", [{}, {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}])
def test_unsigned_or_wrongly_signed_is_403_and_changes_nothing(
    client, alarm_id, dispatcher, headers
):
    resp = client.post(
        f"/twilio/gather?alarm={alarm_id}", data={"Digits": "1", "To": "+31"}, headers=headers
    )
    assert resp.status_code == 403
    assert (
        client.get(f"/api/v1/alarms/{alarm_id}", headers=dispatcher).get_json()["status"] == "open"
    )


def test_signature_with_another_token_is_403(client, alarm_id):
    resp = signed_post(
        client, f"/twilio/gather?alarm={alarm_id}", {"Digits": "1"}, token="someone-else"
    )
    assert resp.status_code == 403


def test_other_digits_leave_the_alarm_open(client, alarm_id, dispatcher):
    resp = signed_post(client, f"/twilio/gather?alarm={alarm_id}", {"Digits": "2"})
    assert resp.status_code == 200
    assert (
        client.get(f"/api/v1/alarms/{alarm_id}", headers=dispatcher).get_json()["status"] == "open"
    )


def test_second_phone_acceptance_hears_who_was_first(client, alarm_id, dispatcher):
    client.post(f"/api/v1/alarms/{alarm_id}/ack", headers=dispatcher)
    resp = signed_post(client, f"/twilio/gather?alarm={alarm_id}", {"Digits": "1", "To": "+31"})
    assert "al geaccepteerd door disp-anna" in resp.text


def test_status_callback_goes_on_the_timeline(client, alarm_id, dispatcher):
    resp = signed_post(
        client,
        f"/twilio/status?alarm={alarm_id}",
        {"CallStatus": "no-answer", "To": "+31612345678"},
    )
    assert resp.status_code == 204
    timeline = client.get(f"/api/v1/alarms/{alarm_id}", headers=dispatcher).get_json()["timeline"]
    assert timeline[-1]["action"] == "call_status"
    assert timeline[-1]["detail"] == {"status": "no-answer", "to": "+31612345678"}
    assert (
        client.post(f"/twilio/status?alarm={alarm_id}", data={"CallStatus": "busy"}).status_code
        == 403
    )


def test_the_call_gathers_one_digit_at_the_public_url():
    twiml = gather_twiml("AWARE alarm 7", f"{PUBLIC}/twilio/gather?alarm=7")
    assert 'numDigits="1"' in twiml and f'action="{PUBLIC}/twilio/gather?alarm=7"' in twiml
    assert 'language="nl-NL"' in twiml
    assert "<Gather" not in gather_twiml("AWARE alarm 7", None)
