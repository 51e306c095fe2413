"""Municipalities and partner organisations."""

from __future__ import annotations

from flask import Blueprint

api = Blueprint("reference_api", __name__, url_prefix="/api/v1")
