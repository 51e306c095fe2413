"""Web pages, health probes and the OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from sqlalchemy import text

from aware import __version__
from aware.alarms import services as alarm_services
from aware.alarms.schemas import alarm_to_dict
from aware.api import registry
from aware.auth.access import web_user
from aware.state import db

web = Blueprint("web", __name__)
ops = Blueprint("ops", __name__)


@web.get("/")
def home():  # type: ignore[no-untyped-def]
    user = web_user()
    if user is None:
        return redirect(url_for("auth_web.login_form"))
    if user.role in ("dispatcher", "admin"):
        return redirect(url_for("web.console"))
    return render_template("home.html", user=user)


@web.get("/console")
def console():  # type: ignore[no-untyped-def]
    user = web_user()
    if user is None:
        return redirect(url_for("auth_web.login_form"))
    if user.role not in ("dispatcher", "admin"):
        abort(403)
    alarms = [alarm_to_dict(a) for a in alarm_services.active_alarms(db())]
    return render_template("console.html", user=user, alarms=alarms)


@ops.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    return {"status": "ok"}


@ops.get("/readyz")
def readyz():  # type: ignore[no-untyped-def]
    try:
        db().execute(text("SELECT 1"))
        db().rollback()
    except Exception:
        return {"status": "unavailable", "database": "unreachable"}, 503
    return {"status": "ready", "database": "ok"}


@ops.get("/api/openapi.json")
def openapi():  # type: ignore[no-untyped-def]
    return registry.openapi("aware", __version__)
