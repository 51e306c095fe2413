"""Who is calling: bearer tokens for the API, the session cookie for web pages."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, request, session

from aware.api import ApiError
from aware.auth import services
from aware.auth.models import User
from aware.state import db, now

F = TypeVar("F", bound=Callable[..., Any])


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return ""
    return token.strip()


def current_api_user() -> User:
    """The person behind the bearer token; 401 without a valid one."""
    user = services.user_for_token(db(), bearer_token(), now())
    if user is None:
        raise ApiError(401, "unauthorized", "a valid person token is required")
    return user


def roles_required(*roles: str) -> Callable[[F], F]:
    """API guard: 401 without a valid person token, 403 for a role not in `roles`."""

    def decorator(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_api_user()
            if user.role not in roles:
                raise ApiError(403, "forbidden", f"role {user.role} may not do this")
            g.user = user
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def web_user() -> User | None:
    """The person signed in to the browser session, if any (and still active)."""
    uid = session.get("uid")
    if uid is None:
        return None
    user = db().get(User, uid)
    if user is None or not user.active or session.get("pw") != user.password_hash[-16:]:
        session.clear()
        return None
    return user


def page_user(*roles: str) -> User:
    """Guard for web pages: the signed-in person if their role is one of `roles`; otherwise
    a redirect to /login (nobody signed in) or 403. Sets g.user, so services that apply need
    to know (e.g. case_to_dict) see who is asking."""
    from flask import abort, redirect, url_for

    user = web_user()
    if user is None:
        abort(redirect(url_for("auth_web.login_form")))
    if user.role not in roles:
        abort(403)
    g.user = user
    return user
