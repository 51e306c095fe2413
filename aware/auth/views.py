"""Sign-in: bearer tokens for the API, and the browser session for web pages."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, redirect, render_template, request, session, url_for
from pydantic import BaseModel, ConfigDict, Field

from aware.api import ApiError, parse_body, registry
from aware.auth import services
from aware.auth.access import bearer_token, web_user
from aware.state import db, now, state

api = Blueprint("auth_api", __name__, url_prefix="/api/v1")
web = Blueprint("auth_web", __name__)


class TokenIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenOut(BaseModel):
    token: str
    expires_at: dt.datetime
    role: str
    username: str


@registry.route(
    api,
    "/auth/token",
    "POST",
    summary="Exchange username and password for a bearer token",
    tag="auth",
    security=None,
    request=TokenIn,
    responses={200: ("token issued", TokenOut)},
)
def issue_token():  # type: ignore[no-untyped-def]
    body = parse_body(TokenIn)
    user = services.check_password(db(), body.username, body.password)
    if user is None:
        raise ApiError(401, "unauthorized", "unknown username or wrong password")
    raw, token = services.issue_token(db(), user, now(), state().settings.token_ttl_s)
    return TokenOut(
        token=raw, expires_at=token.expires_at, role=user.role, username=user.username
    ).model_dump(mode="json")


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
    user = services.check_password(db(), username, password) if username and password else None
    if user is None:
        return render_template("login.html", error=True, username=username), 401
    session.clear()
    session["uid"] = user.id
    # Changing the password ends existing browser sessions.
    session["pw"] = user.password_hash[-16:]
    session.permanent = True
    return redirect(url_for("web.home"))


@web.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    console_token = session.get("console_token")
    if console_token:
        services.revoke_token(db(), console_token, now())
    session.clear()
    return redirect(url_for("auth_web.login_form"))
