"""The Twilio adapter with the real `twilio` client against a local stand-in of its REST API."""

from __future__ import annotations

import pytest

from aware.adapters.notify import NotConfigured, NotSent, TwilioNotifier
from tests.standins.twilio_api import TwilioStandIn


@pytest.fixture
def standin():
    s = TwilioStandIn().start()
    yield s
    s.stop()


def test_sms_and_call_reach_twilio_with_from_to_and_content(standin):
    notifier = TwilioNotifier(
        standin.account_sid, standin.auth_token, "+3197010203040", base_url=standin.base_url
    )
    sms_sid = notifier.send_sms("+31612345678", "AWARE: SOS, niet geaccepteerd na 30 s")
    call_sid = notifier.call(
        "+31612345678", '<Response><Say language="nl-NL">Alarm</Say></Response>'
    )
    assert sms_sid.startswith("SM") and call_sid.startswith("CA")
    sms, call = standin.requests
    assert isinstance(sms.pop("at"), float)  # when it arrived
    assert sms == {
        "kind": "sms",
        "To": "+31612345678",
        "From": "+3197010203040",
        "Body": "AWARE: SOS, niet geaccepteerd na 30 s",
    }
    assert call["kind"] == "voice" and call["To"] == "+31612345678"
    assert "<Say" in call["Twiml"]


def test_twilio_errors_become_not_sent(standin):
    standin.fail_next = 1
    notifier = TwilioNotifier(
        standin.account_sid, standin.auth_token, "+3197010203040", base_url=standin.base_url
    )
    with pytest.raises(NotSent, match="failed"):
        notifier.send_sms("+31612345678", "x")
    assert notifier.send_sms("+31612345678", "x").startswith("SM")  # the retry goes through


def test_wrong_credentials_are_not_sent(standin):
    notifier = TwilioNotifier(
        standin.account_sid, "wrong", "+3197010203040", base_url=standin.base_url
    )
    with pytest.raises(NotSent):
        notifier.send_sms("+31612345678", "x")


def test_without_settings_nothing_is_sent_and_it_says_so():
    with pytest.raises(NotSent, match="SMS not configured"):
        NotConfigured().send_sms("+31612345678", "x")
    with pytest.raises(NotSent, match="not configured"):
        NotConfigured().call("+31612345678", "<Response/>")


def test_call_asks_twilio_to_report_its_status(standin):
    notifier = TwilioNotifier(
        standin.account_sid, standin.auth_token, "+3197010203040", base_url=standin.base_url
    )
    notifier.call(
        "+31612345678",
        "<Response/>",
        status_callback="https://aware.example.nl/twilio/status?alarm=3",
    )
    (call,) = standin.requests
    assert call["StatusCallback"] == "https://aware.example.nl/twilio/status?alarm=3"
    assert call["StatusCallbackMethod"] == "POST"


def test_unreachable_twilio_is_not_sent_not_a_crash():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    notifier = TwilioNotifier(
        "AC" + "0" * 32, "t", "+3197010203040", base_url=f"http://127.0.0.1:{port}"
    )
    with pytest.raises(NotSent, match="unreachable"):
        notifier.send_sms("+31612345678", "x")
    with pytest.raises(NotSent, match="unreachable"):
        notifier.call("+31612345678", "<Response/>")


def test_a_twilio_that_never_answers_times_out_as_not_sent():
    import socket
    import time

    listener = socket.socket()  # accepts connections, never answers
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        notifier = TwilioNotifier(
            "AC" + "0" * 32,
            "t",
            "+3197010203040",
            base_url=f"http://127.0.0.1:{listener.getsockname()[1]}",
            timeout_s=0.5,
        )
        started = time.monotonic()
        with pytest.raises(NotSent, match="unreachable"):
            notifier.send_sms("+31612345678", "x")
        assert time.monotonic() - started < 5
    finally:
        listener.close()
