"""Sign-in: bearer tokens for the API, and the browser session for web pages."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, redirect, render_template, request, session, url_for
from pydantic import BaseModel, ConfigDict, Field

from aware.api import ApiError, ErrorResponse, parse_body, registry
from aware.auth import rules, services
from aware.auth.access import bearer_token, web_user
from aware.auth.models import User
from aware.state import db, now, state

api = Blueprint("auth_api", __name__, url_prefix="/api/v1")
web = Blueprint("auth_web", __name__)


class TokenIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    otp: str | None = Field(
        default=None,
        pattern=r"^[0-9]{6}$",
        description="the current 6-digit TOTP code; required once a second factor is enrolled",
    )


class TokenOut(BaseModel):
    token: str
    expires_at: dt.datetime
    role: str
    username: str


# One answer for an unknown name, a wrong password or code, and a locked account.
SIGN_IN_FAILED = (
    "unknown username or wrong password or code; after repeated attempts, try again later"
)


def lockout() -> services.Lockout:
    settings = state().settings
    return services.Lockout(settings.lockout_attempts, settings.lockout_minutes)


def totp_missing_for_role(user: User) -> bool:
    """Whether the user's role must use a second factor they have not enrolled."""
    return user.role in state().settings.totp_required_roles and not services.needs_totp(user)


@registry.route(
    api,
    "/auth/token",
    "POST",
    summary="Exchange username and password (and the TOTP code, once enrolled) for a bearer token",
    tag="auth",
    security=None,
    request=TokenIn,
    responses={
        200: ("token issued", TokenOut),
        401: (
            "unknown username, wrong password or code, or locked: try again later",
            ErrorResponse,
        ),
        403: ("the role requires a second factor that is not enrolled", ErrorResponse),
        429: ("too many failed sign-ins from this address or for this username", ErrorResponse),
    },
)
def issue_token():  # type: ignore[no-untyped-def]
    body = parse_body(TokenIn)
    user = services.sign_in(db(), body.username, body.password, now(), lockout())
    if user is None:
        raise ApiError(401, "unauthorized", SIGN_IN_FAILED)
    if totp_missing_for_role(user):
        raise ApiError(403, "totp_required", TOTP_REQUIRED)
    if services.needs_totp(user):
        if body.otp is None:
            raise ApiError(
                422,
                "invalid_field",
                "a second factor is enrolled for this account",
                {"otp": "the current 6-digit code from the authenticator app is required"},
            )
        if not services.check_totp(db(), user, body.otp, now(), lockout()):
            raise ApiError(401, "unauthorized", SIGN_IN_FAILED)
    else:
        services.clear_failures(db(), user)
    raw, token = services.issue_token(db(), user, now(), state().settings.token_ttl_s)
    return TokenOut(
        token=raw, expires_at=token.expires_at, role=user.role, username=user.username
    ).model_dump(mode="json")


TOTP_REQUIRED = (
    "this role signs in with a second factor (TOTP), which this account does not have yet; "
    "an administrator enrols it with `aware user totp USERNAME`"
)


@registry.route(
    api,
    "/auth/logout",
    "POST",
    summary="Revoke the bearer token used for this request",
    tag="auth",
    responses={204: ("token revoked", None)},
)
def revoke():  # type: ignore[no-untyped-def]
    raw = bearer_token()
    if not raw or services.user_for_token(db(), raw, now()) is None:
        raise ApiError(401, "unauthorized", "a valid person token is required")
    services.revoke_token(db(), raw, now())
    return "", 204


@web.get("/login")
def login_form():  # type: ignore[no-untyped-def]
    if web_user() is not None:
        return redirect(url_for("web.home"))
    return render_template("login.html", error=None)


@web.post("/login")
def login():  # type: ignore[no-untyped-def]
    username = request.form.get("username", "")
    password = request.form.get("password", "")
    user = None
    if username and password and len(username) <= 64 and len(password) <= 1024:
        user = services.sign_in(db(), username, password, now(), lockout())
    if user is None:
        return render_template("login.html", error="failed", username=username), 401
    if totp_missing_for_role(user):
        return render_template("login.html", error="totp_required", username=username), 403
    session.clear()
    if services.needs_totp(user):
        # Half signed in: the password was right; the code must follow within PENDING_S.
        session["totp_uid"] = user.id
        session["totp_at"] = now().timestamp()
        session["totp_pw"] = user.password_hash[-16:]
        return redirect(url_for("auth_web.login_totp_form"))
    services.clear_failures(db(), user)
    _sign_in_session(user)
    return redirect(url_for("web.home"))


def _sign_in_session(user: User) -> None:
    session.clear()
    session["uid"] = user.id
    # Changing the password ends existing browser sessions.
    session["pw"] = user.password_hash[-16:]
    session.permanent = True


def _pending_user() -> User | None:
    """The user halfway through signing in (password right, code not yet), if still valid."""
    uid, started = session.get("totp_uid"), session.get("totp_at")
    if not isinstance(uid, int) or not isinstance(started, int | float):
        return None
    if rules.pending_expired(float(started), now()):
        return None
    user = db().get(User, uid)
    if user is None or not user.active or session.get("totp_pw") != user.password_hash[-16:]:
        return None
    return user


@web.get("/login/totp")
def login_totp_form():  # type: ignore[no-untyped-def]
    if _pending_user() is None:
        session.clear()
        return redirect(url_for("auth_web.login_form"))
    return render_template("login_totp.html", error=None)


@web.post("/login/totp")
def login_totp():  # type: ignore[no-untyped-def]
    user = _pending_user()
    if user is None:
        session.clear()
        return render_template("login.html", error="expired", username=""), 401
    code = request.form.get("code", "").strip().replace(" ", "")
    if not rules.CODE.fullmatch(code):
        return render_template("login_totp.html", error="format"), 422
    if not services.check_totp(db(), user, code, now(), lockout()):
        if services.is_locked(user, now()):
            session.clear()
            return render_template("login.html", error="failed", username=""), 401
        return render_template("login_totp.html", error="wrong"), 401
    _sign_in_session(user)
    return redirect(url_for("web.home"))


@web.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    console_token = session.get("console_token")
    if console_token:
        services.revoke_token(db(), console_token, now())
    session.clear()
    return redirect(url_for("auth_web.login_form"))
