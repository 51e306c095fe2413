"""Twilio webhooks: the escalation call's keypress (1 = accept) and call status reports.

Every request must carry a valid `X-Twilio-Signature` for the URL Twilio called (the configured
public URL plus path and query) under our auth token; anything else gets 403 and changes
nothing. Accepting by phone is recorded with the number that was called.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from flask import Blueprint, Response, request

from aware.alarms import rules, services
from aware.state import db, now, state

phone = Blueprint("phone", __name__, url_prefix="/twilio")


def gather_twiml(text: str, action_url: str | None) -> str:
    """The escalation call: read the alarm in Dutch; with a public URL, press 1 to accept."""
    say = f'<Say language="nl-NL">{escape(text)}</Say>'
    if not action_url:
        return f"<Response>{say}</Response>"
    prompt = '<Say language="nl-NL">Druk op 1 om het alarm te accepteren.</Say>'
    return (
        f'<Response><Gather numDigits="1" method="POST" action="{escape(action_url)}">'
        f"{say}{prompt}</Gather>{say}</Response>"
    )


def _twiml(text: str) -> Response:
    body = f'<Response><Say language="nl-NL">{escape(text)}</Say></Response>'
    return Response(body, 200, content_type="text/xml")


def _signed() -> bool:
    settings = state().settings
    token, base = settings.twilio_auth_token, settings.public_url
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not base or not signature:
        return False
    from twilio.request_validator import RequestValidator

    url = base + request.full_path.rstrip("?")
    return bool(RequestValidator(token).validate(url, request.form.to_dict(), signature))


def _forbidden() -> Response:
    return Response(
        "forbidden: missing or wrong X-Twilio-Signature\n", 403, content_type="text/plain"
    )


@phone.post("/gather")
def gather():  # type: ignore[no-untyped-def]
    """Keypress on the escalation call: 1 accepts the alarm in the name of the called number."""
    if not _signed():
        return _forbidden()
    alarm_id = request.args.get("alarm", type=int)
    if alarm_id is None:
        return Response("missing alarm\n", 400, content_type="text/plain")
    if request.form.get("Digits") != "1":
        return _twiml("Geen geldige toets. Het alarm blijft open.")
    number = request.form.get("To", "") or "onbekend nummer"
    actor = services.Actor("phone", number, f"telefoon {number}")
    try:
        services.acknowledge(db(), alarm_id, actor, now(), state().publisher)
    except services.AlarmNotFound:
        return _twiml("Dit alarm bestaat niet.")
    except rules.TransitionRefused as exc:
        db().rollback()
        return _twiml(f"Dit alarm is al geaccepteerd door {exc.by}.")
    return _twiml("Het alarm is geaccepteerd. Dank u.")


@phone.post("/status")
def call_status():  # type: ignore[no-untyped-def]
    """Call status report (answered, busy, failed ...) onto the alarm's timeline."""
    if not _signed():
        return _forbidden()
    alarm_id = request.args.get("alarm", type=int)
    status = request.form.get("CallStatus", "")
    if alarm_id is not None and status:
        services.add_event(
            db(),
            alarm_id,
            "call_status",
            services.Actor("system", None, "twilio"),
            now(),
            {"status": status, "to": request.form.get("To")},
        )
    return Response("", 204)
