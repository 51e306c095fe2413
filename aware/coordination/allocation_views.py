"""The AWARE allocation workflow."""

from __future__ import annotations

from flask import Blueprint

api = Blueprint("allocation_api", __name__, url_prefix="/api/v1")
