"""TOTP codes and lockout windows as pure decisions (RFC 6238 test vector, replay, windows)."""

from __future__ import annotations

import base64
import datetime as dt
from urllib.parse import parse_qs, urlparse

import pyotp

from aware.auth import rules

T0 = dt.datetime(2026, 11, 28, 10, 0, 0, tzinfo=dt.UTC)


def _code(secret: str, at: dt.datetime) -> str:
    return pyotp.TOTP(secret).at(at)


def test_rfc_6238_test_vector_matches():
    # RFC 6238 appendix B, SHA-1 secret "12345678901234567890", T = 59 s -> 94287082 (8 digits);
    # the 6-digit code is its last six digits.
    secret = base64.b32encode(b"12345678901234567890").decode()
    at = dt.datetime.fromtimestamp(59, dt.UTC)
    assert rules.matching_step(secret, "287082", at, None) == 1


def test_code_of_this_and_neighbouring_steps_match_but_no_further():
    secret = rules.new_secret()
    now_step = rules.time_step(T0)
    for offset in (-1, 0, 1):
        at = T0 + dt.timedelta(seconds=30 * offset)
        assert rules.matching_step(secret, _code(secret, at), T0, None) == now_step + offset
    for offset in (-3, -2, 2, 3):
        at = T0 + dt.timedelta(seconds=30 * offset)
        assert rules.matching_step(secret, _code(secret, at), T0, None) is None


def test_a_code_is_accepted_once_and_older_codes_never_after_a_newer_one():
    secret = rules.new_secret()
    step = rules.matching_step(secret, _code(secret, T0), T0, None)
    assert step is not None
    assert rules.matching_step(secret, _code(secret, T0), T0, step) is None
    earlier = T0 - dt.timedelta(seconds=30)
    assert rules.matching_step(secret, _code(secret, earlier), T0, step) is None
    later = T0 + dt.timedelta(seconds=30)
    assert rules.matching_step(secret, _code(secret, later), later, step) == step + 1


def test_malformed_codes_never_match():
    secret = rules.new_secret()
    good = _code(secret, T0)
    for bad in ("", "12345", "1234567", "12a456", f" {good}", good + "\n", "١٢٣٤٥٦"):
        assert rules.matching_step(secret, bad, T0, None) is None


def test_provisioning_uri_names_the_service_and_the_user():
    secret = rules.new_secret()
    uri = urlparse(rules.provisioning_uri(secret, "admin-ann"))
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert uri.path == "/AWARE:admin-ann"
    query = parse_qs(uri.query)
    assert query["secret"] == [secret] and query["issuer"] == ["AWARE"]
    assert len(base64.b32decode(secret)) == 20  # 160 bits


def test_lock_and_window_boundaries():
    until = T0 + dt.timedelta(minutes=15)
    assert rules.is_locked(until, T0)
    assert rules.is_locked(until, until - dt.timedelta(microseconds=1))
    assert not rules.is_locked(until, until)
    assert not rules.is_locked(None, T0)
    assert rules.window_expired(None, T0, 15)
    assert not rules.window_expired(T0 - dt.timedelta(minutes=14), T0, 15)
    assert rules.window_expired(T0 - dt.timedelta(minutes=15), T0, 15)


def test_half_signed_in_state_lasts_five_minutes():
    started = T0.timestamp()
    assert not rules.pending_expired(started, T0 + dt.timedelta(seconds=299))
    assert not rules.pending_expired(started, T0 + dt.timedelta(seconds=300))
    assert rules.pending_expired(started, T0 + dt.timedelta(seconds=301))
    assert rules.pending_expired(started, T0 - dt.timedelta(seconds=1))  # from the future
