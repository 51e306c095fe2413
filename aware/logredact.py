"""No secret and no position in any log line, whoever writes it.

A device token travels in `/osmand`'s query string (`id=`/`deviceid=`), a person's bearer token
in `Authorization`, and positions in `lat=`/`lon=`/`location=`. The access log writes paths
only, but other writers do not know that: Werkzeug logs a malformed request line in full
("Bad request syntax ('GET /osmand?id=<token>&lat=...')"), a database error carries its SQL
parameters, a library may log a URL. So every log record of the process is redacted when it is
made (`logging.setLogRecordFactory`), before any handler, filter or formatter sees it, and
whichever server or handler writes it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

MASK = "[redacted]"

# key=value in query strings, form bodies and request lines: the value ends at &, whitespace,
# a quote or a bracket (a request line is quoted inside Werkzeug's message).
_SENSITIVE_NAMES = (
    r"id|deviceid|device_id|token|access_token|password|passwd|otp|secret|key|"
    r"lat|lon|lng|latitude|longitude|location|position|last_lat|last_lon|"
    r"victim_home_lat|victim_home_lon"
)
_QUERY = re.compile(rf"(?i)(?<![\w.-])((?:{_SENSITIVE_NAMES})=)[^&\s'\"\\)\]>]*")
# Mapping-like text: {'lat': 52.1, "token": "abc"} in SQL parameters and JSON.
_MAPPING = re.compile(
    rf"(?i)(['\"](?:{_SENSITIVE_NAMES}|authorization|x-twilio-signature)['\"]\s*:\s*)"
    r"(?:'[^']*'|\"[^\"]*\"|[^,}\]\s]+)"
)
# Authorization: Bearer xxx / Basic xxx, as a header line or inside a repr.
_AUTH = re.compile(
    r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(?:bearer|basic|token)?\s*[^\s'\",}]+"
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")


def redact(text: str) -> str:
    """The text with tokens, passwords and coordinates masked."""
    if not text:
        return text
    text = _AUTH.sub(lambda m: m.group(1) + MASK, text)
    text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    text = _MAPPING.sub(lambda m: m.group(1) + MASK, text)
    return _QUERY.sub(lambda m: m.group(1) + MASK, text)


_installed = False


def install() -> None:
    """Redact every log record this process makes from now on (idempotent)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the raw text, still redacted
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
