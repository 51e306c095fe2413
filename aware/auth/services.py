"""People: accounts, password checks (argon2) and expiring bearer tokens (stored as hashes)."""

from __future__ import annotations

import contextlib
import datetime as dt
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

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


def check_password(session: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, or None."""
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or not user.active:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        session.commit()
    return user


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
