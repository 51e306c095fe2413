"""Report endpoints for municipality reviewers and admins (aggregates only)."""

from __future__ import annotations

from flask import Blueprint

api = Blueprint("reports_api", __name__, url_prefix="/api/v1")
