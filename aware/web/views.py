"""Web pages, health probes and the OpenAPI document."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import text

from aware import __version__
from aware.alarms import rules
from aware.alarms import services as alarm_services
from aware.api import registry
from aware.audit import services as audit
from aware.auth import services as auth_services
from aware.auth.access import page_user, web_user
from aware.auth.models import User
from aware.state import db, now, state
from aware.web import strings
from aware.web.strings import console_strings

CONSOLE_TOKEN_TTL_S = 12 * 3600

web = Blueprint("web", __name__)
ops = Blueprint("ops", __name__)


@web.get("/")
def home():  # type: ignore[no-untyped-def]
    user = web_user()
    if user is None:
        return redirect(url_for("auth_web.login_form"))
    if user.role in ("dispatcher", "admin"):
        return redirect(url_for("web.console"))
    if user.role == "coordinator":
        return redirect(url_for("cases_web.case_list"))
    if user.role == "municipality":
        return redirect(url_for("reports_web.dashboard"))
    return render_template("home.html", user=user)


@web.get("/console")
def console():  # type: ignore[no-untyped-def]
    user = page_user("dispatcher", "admin")
    st = state()
    alarms = alarm_services.alarm_dicts(
        db().connection(), alarm_services.active_alarms(db()), now()
    )
    # The page itself shows the case cards (before the script's snapshot replaces it).
    audit.access(
        db(),
        user,
        audit.CONSOLE_SNAPSHOT,
        object_type="alarms",
        case_ids=[a["case_id"] for a in alarms if a["case_id"]],
        detail={"alarms": len(alarms), "via": "page"},
    )
    notifier = st.notifier
    config = {
        "token": _console_token(user),
        "user": user.username,
        "lang": str(get_locale()),
        "tileUrl": st.settings.map_tile_url,
        "strings": console_strings(),
    }
    return render_template(
        "console.html",
        user=user,
        open_alarms=[a for a in alarms if a["status"] == "open"],
        acknowledged_alarms=[a for a in alarms if a["status"] == "acknowledged"],
        config=config,
        escalation_configured=bool(notifier is not None and notifier.configured),
    )


def _console_token(user: User) -> str:
    """The bearer token the console script uses for Socket.IO and the alarm API.

    One per browser session, kept in the signed session cookie and revoked at sign-out; it
    expires with the session (12 h, a long shift).
    """
    raw = session.get("console_token")
    if raw and auth_services.user_for_token(db(), raw, now()) is not None:
        return str(raw)
    raw, _ = auth_services.issue_token(db(), user, now(), CONSOLE_TOKEN_TTL_S)
    session["console_token"] = raw
    return raw


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
                flash(_("Choose an outcome to resolve the alarm."))
                return redirect(url_for("web.console"))
            note = request.form.get("note", "").strip()[:4000] or None
            alarm_services.resolve(
                db(), alarm_id, _console_actor(user), now(), outcome, note, st.publisher
            )
    except alarm_services.AlarmNotFound:
        abort(404)
    except rules.TransitionRefused as exc:
        db().rollback()
        flash(_("Alarm %(id)s: already handled by %(by)s.", id=alarm_id, by=exc.by))
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
    body = {"status": "ready", "database": "ok"}
    health = current_app.extensions.get("aware_redis")
    if health is not None:
        # Reported, never 503: without Redis intake goes on and this process's consoles still
        # get every alarm; taking the process out of the load balancer would stop intake.
        body["redis"] = health.status()
    return body


@ops.get("/api/openapi.json")
def openapi():  # type: ignore[no-untyped-def]
    return registry.openapi("aware", __version__)


@web.app_context_processor
def _names() -> dict[str, object]:
    return {
        "role_names": strings.role_names(),
        "type_names": strings.alarm_type_names(),
        "concern_names": strings.concern_names(),
        "lang": str(get_locale()),
    }
