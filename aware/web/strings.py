"""Words the pages and the console script show, translated for the page's language."""

from __future__ import annotations

from flask_babel import gettext as _


def alarm_type_names() -> dict[str, str]:
    return {
        "sos": _("Emergency button"),
        "tamper": _("Tampering"),
        "battery_low": _("Battery low"),
        "test": _("Test alarm"),
        "device_offline": _("Device offline"),
        "zone_violation": _("Location ban violated"),
        "proximity_violation": _("Contact ban violated"),
        "proximity_warning": _("Contact ban: approaching"),
        "storm": _("Alarm storm (one device)"),
    }


def outcome_names() -> dict[str, str]:
    return {
        "genuine": _("Genuine alarm"),
        "false_alarm": _("False alarm"),
        "test": _("Test"),
        "technical": _("Technical"),
    }


def status_names() -> dict[str, str]:
    return {
        "open": _("open"),
        "acknowledged": _("acknowledged"),
        "resolved": _("resolved"),
    }


def role_names() -> dict[str, str]:
    return {
        "admin": _("administrator"),
        "coordinator": _("case coordinator"),
        "dispatcher": _("dispatcher"),
        "municipality": _("municipality"),
    }


def concern_names() -> dict[str, str]:
    return {"low": _("low"), "moderate": _("moderate"), "high": _("high")}


def timeline_names() -> dict[str, str]:
    return {
        "raised": _("raised"),
        "delivered": _("shown on a console"),
        "acknowledged": _("accepted"),
        "resolved": _("resolved"),
        "note": _("note"),
        "escalated": _("escalated"),
        "escalation_failed": _("escalation failed"),
        "escalation_not_sent": _("escalation not sent"),
        "position": _("position"),
        "victim_notified": _("victim notified by SMS"),
        "victim_notification_failed": _("SMS to victim failed"),
        "victim_notification_not_sent": _("SMS to victim not sent"),
        "folded": _("further alarm counted"),
        "superseded": _("superseded by a violation"),
        "input_repaired": _("input repaired"),
        "call_status": _("call status"),
    }


def console_strings() -> dict[str, object]:
    """Everything the console script writes on the page."""
    return {
        "types": alarm_type_names(),
        "outcomes": outcome_names(),
        "statuses": status_names(),
        "concerns": concern_names(),
        "timeline": timeline_names(),
        "connected": _("Connected"),
        "connecting": _("Connecting…"),
        "disconnected": _("Connection lost: reconnecting…"),
        "unauthorized": _("Session expired: sign in again."),
        "ack": _("Accept"),
        "resolve": _("Resolve"),
        "outcome": _("Outcome…"),
        "note": _("Note"),
        "addNote": _("Add note"),
        "test": _("TEST"),
        "late": _("late position"),
        "priority": _("priority"),
        "age": _("age"),
        "receivedAt": _("received"),
        "device": _("Device"),
        "battery": _("battery"),
        "tracker": _("perpetrator tracker"),
        "lastSeen": _("last seen"),
        "position": _("Position"),
        "accuracy": _("accuracy"),
        "lastKnown": _("last known position"),
        "noPosition": _("No position known."),
        "case": _("Case"),
        "noCase": _("No case linked to this device."),
        "concern": _("concern"),
        "victim": _("Victim"),
        "phone": _("phone"),
        "address": _("address"),
        "perpetrator": _("Perpetrator"),
        "vehicle": _("vehicle"),
        "bans": _("Active bans"),
        "locationBan": _("location ban"),
        "contactBan": _("contact ban"),
        "until": _("until"),
        "timelineTitle": _("Timeline"),
        "acceptedBy": _("accepted by %(name)s"),
        "alreadyBy": _("Already accepted by %(name)s at %(time)s."),
        "resolvedBy": _("Already resolved by %(name)s."),
        "chooseOutcome": _("Choose an outcome first."),
        "failed": _("Could not be saved: %(message)s"),
        "escalatesIn": _("escalates in %(s)s s"),
        "escalationSent": _("escalated by SMS/phone"),
        "escalationFailed": _("escalation FAILED"),
        "escalationNotSent": _("escalation not sent"),
        "shift": _("This shift"),
        "within": _("within %(s)s s"),
        "noFigures": _("no alarms yet"),
        "soundOn": _("Sound: on"),
        "soundOff": _("Sound: off"),
        "soundBlocked": _("Click anywhere to allow sound"),
        "newAlarm": _("NEW ALARM"),
        "keyHint": _("Press A to accept the top alarm"),
        "select": _("Details"),
        "distance": _("distance"),
        "fixes": _("positions on this alarm"),
        "fixCounts": _("%(fixes)s, of which %(exits)s exits and %(reentries)s re-entries"),
        "implausibleCount": _("%(n)s implausible"),
        "folded": _("alarms counted in this storm"),
    }
