"""Sign-in decisions as plain functions: lockout windows and TOTP codes (RFC 6238)."""

from __future__ import annotations

import datetime as dt
import hmac
import re

import pyotp

ISSUER = "AWARE"
STEP_S = 30  # the RFC 6238 time step every authenticator app uses
VALID_WINDOW = 1  # one step either side: a code typed just before or after a change counts
CODE = re.compile(r"[0-9]{6}")
# How long a browser may sit between a correct password and its TOTP code.
PENDING_S = 300


def new_secret() -> str:
    """A random 160-bit base32 secret (what authenticator apps expect)."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    """The otpauth:// URI an authenticator app scans (as a QR code) or takes typed in."""
    return pyotp.TOTP(secret, interval=STEP_S).provisioning_uri(name=username, issuer_name=ISSUER)


def time_step(at: dt.datetime) -> int:
    """The RFC 6238 counter for a moment."""
    return int(at.timestamp()) // STEP_S


def matching_step(secret: str, code: str, at: dt.datetime, last_step: int | None) -> int | None:
    """The time step whose code this is (within VALID_WINDOW of `at`), or None.

    Steps at or before `last_step` (the last code accepted) never match: a code is accepted
    once, and so is any older one (an observed code cannot be replayed after a newer one).
    """
    if not CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret, interval=STEP_S)
    current = time_step(at)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def is_locked(locked_until: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether an account locked until `locked_until` is still locked at `now`."""
    return locked_until is not None and now < locked_until


def window_expired(failed_since: dt.datetime | None, now: dt.datetime, minutes: int) -> bool:
    """Whether failures counted since `failed_since` are too old to count towards a lockout."""
    return failed_since is None or failed_since <= now - dt.timedelta(minutes=minutes)


def pending_expired(started: float, now: dt.datetime) -> bool:
    """Whether a half-finished sign-in (password right, code not yet given) has expired."""
    return not (0 <= now.timestamp() - started <= PENDING_S)
