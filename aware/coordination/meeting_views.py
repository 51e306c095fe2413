"""Case meetings, agendas, minutes and invitations."""

from __future__ import annotations

from flask import Blueprint

api = Blueprint("meetings_api", __name__, url_prefix="/api/v1")
