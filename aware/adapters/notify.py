"""SMS and voice calls for escalation (and opt-in victim notification).

`TwilioNotifier` uses the official `twilio` client; `AWARE_TWILIO_BASE_URL` points it at another
base URL (a local stand-in in tests). Without Twilio settings `NotConfigured` answers every send
with `NotSent("SMS not configured")`, so callers record that instead of failing silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import requests

REQUEST_TIMEOUT_S = 10.0
# What the client raises when Twilio cannot be reached at all (DNS, refused, timeout).
_UNREACHABLE = (OSError, requests.RequestException)


class NotSent(Exception):
    """A message or call could not be sent (the reason is for the alarm's timeline)."""


class Notifier(Protocol):
    configured: bool

    def send_sms(self, to: str, body: str) -> str: ...

    def call(self, to: str, twiml: str, status_callback: str | None = None) -> str: ...


class TwilioNotifier:
    """Twilio's REST API through its official client."""

    configured = True

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        base_url: str | None = None,
        timeout_s: float = REQUEST_TIMEOUT_S,
    ):
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        self.from_number = from_number
        # A bounded wait: an unanswered request must become a retry, not a hung escalation.
        self.client = Client(
            account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout_s)
        )
        if base_url:
            self.client.api.base_url = base_url.rstrip("/")

    def send_sms(self, to: str, body: str) -> str:
        """Send a text; returns Twilio's message sid."""
        from twilio.base.exceptions import TwilioException

        try:
            message = self.client.messages.create(to=to, from_=self.from_number, body=body)
        except TwilioException as exc:
            raise NotSent(f"SMS to {to} failed: {exc}") from None
        except _UNREACHABLE as exc:
            raise NotSent(
                f"SMS to {to} failed: Twilio unreachable ({type(exc).__name__})"
            ) from None
        return str(message.sid)

    def call(self, to: str, twiml: str, status_callback: str | None = None) -> str:
        """Place a call that runs this TwiML; returns Twilio's call sid. With a status callback
        URL, Twilio reports the call's progress there (/twilio/status)."""
        from twilio.base.exceptions import TwilioException

        extra: dict[str, object] = {}
        if status_callback:
            extra = {
                "status_callback": status_callback,
                "status_callback_method": "POST",
                "status_callback_event": ["initiated", "ringing", "answered", "completed"],
            }
        try:
            placed = self.client.calls.create(
                to=to,
                from_=self.from_number,
                twiml=twiml,
                **extra,
            )
        except TwilioException as exc:
            raise NotSent(f"call to {to} failed: {exc}") from None
        except _UNREACHABLE as exc:
            raise NotSent(
                f"call to {to} failed: Twilio unreachable ({type(exc).__name__})"
            ) from None
        return str(placed.sid)


class NotConfigured:
    """No Twilio settings: nothing can be sent, and every attempt says so."""

    configured = False

    def send_sms(self, to: str, body: str) -> str:
        raise NotSent("not sent: SMS not configured")

    def call(self, to: str, twiml: str, status_callback: str | None = None) -> str:
        raise NotSent("not sent: voice not configured")


@dataclass
class RecordingNotifier:
    """In-memory notifier for unit tests."""

    sent: list[tuple[str, str, str]] = field(default_factory=list)
    configured: bool = True

    def send_sms(self, to: str, body: str) -> str:
        self.sent.append(("sms", to, body))
        return f"SM{len(self.sent):032d}"

    def call(self, to: str, twiml: str, status_callback: str | None = None) -> str:
        self.sent.append(("voice", to, twiml))
        return f"CA{len(self.sent):032d}"
