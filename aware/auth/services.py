"""People: accounts, password checks (argon2) and expiring bearer tokens (stored as hashes)."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import CursorResult, case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aware.auth import rules
from aware.auth.models import ROLES, ApiToken, User
from aware.coordination.reference import municipality_problem
from aware.security import hash_token, new_token

_hasher = PasswordHasher()
# Verified against when the username is unknown, so timing does not reveal which names exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
CBS_CODE = re.compile(r"^\d{4}$")
MIN_PASSWORD = 10


class UserInvalid(ValueError):
    """A user could not be created; `field` names what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def create_user(
    session: Session,
    username: str,
    role: str,
    password: str,
    now: dt.datetime,
    municipality: str | None = None,
) -> User:
    """Create an account with an argon2 password hash."""
    if not USERNAME.match(username):
        raise UserInvalid("username", "2-64 letters, digits or . _ @ -")
    if role not in ROLES:
        raise UserInvalid("role", f"one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise UserInvalid("password", f"at least {MIN_PASSWORD} characters")
    if role == "municipality" and not municipality:
        raise UserInvalid("municipality", "a municipality reviewer belongs to a municipality")
    if municipality is not None and not CBS_CODE.match(municipality):
        raise UserInvalid("municipality", "a 4-digit CBS code such as 0344")
    if municipality is not None:
        problem = municipality_problem(session, municipality)
        if problem:
            raise UserInvalid("municipality", problem)
    user = User(
        username=username,
        role=role,
        password_hash=_hasher.hash(password),
        municipality_code=municipality,
        created_at=now,
    )
    session.add(user)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise UserInvalid("username", "already taken") from None
    return user


@dataclass(frozen=True)
class Lockout:
    """After `attempts` failures within `minutes` the account is locked for `minutes`."""

    attempts: int = 5
    minutes: int = 15


def sign_in(
    session: Session, username: str, password: str, now: dt.datetime, lockout: Lockout
) -> User | None:
    """The user when the password is right and the account is active and not locked; else
    None (and a wrong password counts towards the lockout).

    The caller answers every None the same way: an unknown name, a wrong password and a locked
    account are indistinguishable from outside. The password hash is checked in every case so
    the answer's timing does not tell them apart either.
    """
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or not user.active:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        return None
    try:
        _hasher.verify(user.password_hash, password)
        right = True
    except (VerificationError, InvalidHashError):
        right = False
    if rules.is_locked(user.locked_until, now):
        # Attempts while locked neither count nor extend the lock: the owner gets back in
        # `minutes` after the lock started, whatever an attacker keeps trying.
        return None
    if not right:
        record_failure(session, user.id, now, lockout)
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        session.commit()
    return user


def record_failure(session: Session, user_id: int, now: dt.datetime, lockout: Lockout) -> bool:
    """Count a failed password or code; lock the account at the limit. True when locked now.

    One UPDATE with the arithmetic in SQL, so attempts arriving at several processes at
    once are all counted (the row lock serialises them on PostgreSQL, BEGIN IMMEDIATE on
    SQLite).
    """
    cutoff = now - dt.timedelta(minutes=lockout.minutes)
    stale = (User.failed_since.is_(None)) | (User.failed_since <= cutoff)
    count = session.execute(
        update(User)
        .where(User.id == user_id)
        .values(
            failed_logins=case((stale, 1), else_=User.failed_logins + 1),
            failed_since=case((stale, now), else_=User.failed_since),
        )
        .returning(User.failed_logins)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    locked = count >= lockout.attempts
    if locked:
        session.execute(
            update(User)
            .where(User.id == user_id)
            .values(
                locked_until=now + dt.timedelta(minutes=lockout.minutes),
                failed_logins=0,
                failed_since=None,
            )
            .execution_options(synchronize_session=False)
        )
    session.commit()
    session.expire_all()
    return locked


def clear_failures(session: Session, user: User) -> None:
    """A complete sign-in forgets earlier failures (written only when there were any)."""
    if user.failed_logins or user.failed_since is not None:
        user.failed_logins = 0
        user.failed_since = None
        session.commit()


def is_locked(user: User, now: dt.datetime) -> bool:
    """Whether the account is locked at `now`."""
    return rules.is_locked(user.locked_until, now)


def unlock(session: Session, username: str) -> User | None:
    """Lift a lockout and forget failed attempts (admins, `aware user unlock`)."""
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        return None
    user.locked_until = None
    user.failed_logins = 0
    user.failed_since = None
    session.commit()
    return user


def needs_totp(user: User) -> bool:
    """Whether this account signs in with a TOTP code after its password."""
    return user.totp_secret is not None


def check_totp(session: Session, user: User, code: str, now: dt.datetime, lockout: Lockout) -> bool:
    """Whether `code` is a fresh TOTP code of the user; a wrong or replayed code counts as a
    failed attempt, and nothing is accepted while the account is locked."""
    session.refresh(user)
    if rules.is_locked(user.locked_until, now) or user.totp_secret is None:
        return False
    step = rules.matching_step(user.totp_secret, code, now, user.totp_last_step)
    if step is not None:
        # Claim the step in the database: of two requests with one code (two processes), the
        # second finds the step taken and is refused.
        claimed: CursorResult[Any] = session.execute(  # type: ignore[assignment]
            update(User)
            .where(
                User.id == user.id,
                (User.totp_last_step.is_(None)) | (User.totp_last_step < step),
            )
            .values(totp_last_step=step)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount == 1:
            session.commit()
            session.refresh(user)
            clear_failures(session, user)
            return True
        session.rollback()
    record_failure(session, user.id, now, lockout)
    return False


class TotpInvalid(ValueError):
    """A second factor could not be enrolled."""


def enroll_totp(session: Session, username: str, replace: bool = False) -> tuple[User, str]:
    """Give the user a new TOTP secret; returns the user and the otpauth:// URI (shown once)."""
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise TotpInvalid(f"no user {username}")
    if user.totp_secret is not None and not replace:
        raise TotpInvalid(
            f"{username} already has a second factor; --replace gives a new one "
            "(the old codes stop working)"
        )
    secret = rules.new_secret()
    user.totp_secret = secret
    user.totp_last_step = None
    session.commit()
    return user, rules.provisioning_uri(secret, user.username)


def issue_token(session: Session, user: User, now: dt.datetime, ttl_s: int) -> tuple[str, ApiToken]:
    """A new bearer token for the user; the raw token is returned once and never stored."""
    raw = new_token()
    token = ApiToken(
        user_id=user.id,
        token_hash=hash_token(raw),
        created_at=now,
        expires_at=now + dt.timedelta(seconds=ttl_s),
    )
    session.add(token)
    session.commit()
    return raw, token


def user_for_token(session: Session, raw: str, now: dt.datetime) -> User | None:
    """The active user holding this unexpired, unrevoked token, or None."""
    if not raw:
        return None
    row = session.execute(
        select(User, ApiToken.expires_at)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == hash_token(raw), ApiToken.revoked_at.is_(None))
    ).one_or_none()
    if row is None:
        return None
    user, expires_at = row
    if expires_at <= now or not user.active:
        return None
    return user


def revoke_token(session: Session, raw: str, now: dt.datetime) -> None:
    """Revoke a token (logout)."""
    token = session.execute(
        select(ApiToken).where(ApiToken.token_hash == hash_token(raw))
    ).scalar_one_or_none()
    if token is not None and token.revoked_at is None:
        token.revoked_at = now
        session.commit()
