"""Web pages, health probes and the OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import text

from aware import __version__
from aware.alarms import rules
from aware.alarms import services as alarm_services
from aware.api import registry
from aware.auth.access import web_user
from aware.auth.models import User
from aware.state import db, now, state

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
    alarms = alarm_services.alarm_dicts(
        db().connection(), alarm_services.active_alarms(db()), now()
    )
    notifier = state().notifier
    return render_template(
        "console.html",
        user=user,
        alarms=alarms,
        escalation_configured=bool(notifier is not None and notifier.configured),
    )


def _console_actor(user: User) -> alarm_services.Actor:
    return alarm_services.Actor("user", str(user.id), user.username)


@web.post("/console/alarms/<int:alarm_id>/<any(ack, resolve):action>")
def console_action(alarm_id: int, action: str):  # type: ignore[no-untyped-def]
    """Acknowledge or resolve from the page itself (works without JavaScript)."""
    user = web_user()
    if user is None:
        return redirect(url_for("auth_web.login_form"))
    if user.role not in ("dispatcher", "admin"):
        abort(403)
    st = state()
    try:
        if action == "ack":
            alarm_services.acknowledge(db(), alarm_id, _console_actor(user), now(), st.publisher)
        else:
            outcome = request.form.get("outcome", "")
            if outcome not in {o.value for o in rules.Outcome}:
                flash("Kies een afloop om het alarm af te handelen.")
                return redirect(url_for("web.console"))
            note = request.form.get("note", "").strip()[:4000] or None
            alarm_services.resolve(
                db(), alarm_id, _console_actor(user), now(), outcome, note, st.publisher
            )
    except alarm_services.AlarmNotFound:
        abort(404)
    except rules.TransitionRefused as exc:
        db().rollback()
        flash(f"Alarm {alarm_id}: al afgehandeld door {exc.by}.")
    return redirect(url_for("web.console"))


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
