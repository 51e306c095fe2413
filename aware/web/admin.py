"""Admin pages: the escalation chain of every alarm type, editable in the browser."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from aware.alarms import chains as chain_services
from aware.alarms import escalation as esc
from aware.alarms import rules
from aware.auth.access import page_user
from aware.state import db, now, state

admin_web = Blueprint("admin_web", __name__, url_prefix="/admin")
STEP_ROWS = 3


@admin_web.get("/escalation")
def escalation():  # type: ignore[no-untyped-def]
    user = page_user("admin")
    own = chain_services.chains(db())
    default = state().default_escalation or {"steps": [], "max_repeats": 0}
    rows = []
    for alarm_type in rules.ALARM_TYPES:
        row = own.get(alarm_type)
        chain = row.chain if row is not None else default
        steps = list(chain.get("steps", []))
        rows.append(
            {
                "type": alarm_type,
                "own": row is not None,
                "chain": chain,
                "steps": steps + [None] * max(0, STEP_ROWS - len(steps)),
                "updated_at": row.updated_at if row is not None else None,
                "updated_by": row.updated_by if row is not None else None,
            }
        )
    db().rollback()
    return render_template("admin_escalation.html", user=user, rows=rows)


def chain_from_form(form: Any) -> dict[str, Any]:
    """The chain data a form describes: rows with a delay make steps; empty rows are skipped."""
    steps: list[dict[str, Any]] = []
    for i in range(STEP_ROWS):
        after = form.get(f"after_s_{i}", "").strip()
        if not after:
            continue
        steps.append(
            {
                "after_s": _number(after, f"steps.{len(steps)}.after_s"),
                "channels": [c for c in esc.CHANNELS if form.get(f"{c}_{i}")],
                "to": [n for n in re.split(r"[\s,;]+", form.get(f"to_{i}", "")) if n],
            }
        )
    data: dict[str, Any] = {"steps": steps}
    repeats = form.get("max_repeats", "").strip() or "0"
    data["max_repeats"] = int(_number(repeats, "max_repeats"))
    every = form.get("repeat_every_s", "").strip()
    if every:
        data["repeat_every_s"] = _number(every, "repeat_every_s")
    return data


def _number(raw: str, field: str) -> float:
    try:
        return float(raw.replace(",", "."))
    except ValueError:
        raise esc.ChainInvalid(field, _("a number")) from None


@admin_web.post("/escalation/<alarm_type>")
def save_escalation(alarm_type: str):  # type: ignore[no-untyped-def]
    user = page_user("admin")
    if alarm_type not in rules.PRIORITY:
        abort(404)
    action = request.form.get("action", "save")
    if action == "default":
        chain_services.reset_chain(db(), alarm_type)
        flash(_("%(type)s: back to the default chain.", type=alarm_type))
        return redirect(url_for("admin_web.escalation"))
    try:
        data = {"steps": []} if action == "never" else chain_from_form(request.form)
        if data["steps"] and not data.get("max_repeats"):
            data["max_repeats"] = 0
        chain = esc.parse_chain(data)
    except esc.ChainInvalid as exc:
        flash(
            _(
                "%(type)s not saved: %(field)s: %(message)s",
                type=alarm_type,
                field=exc.field,
                message=exc.message,
            )
        )
        return redirect(url_for("admin_web.escalation"))
    chain_services.set_chain(db(), alarm_type, chain, user.username, now())
    flash(_("%(type)s: chain saved; alarms raised from now on use it.", type=alarm_type))
    return redirect(url_for("admin_web.escalation"))
