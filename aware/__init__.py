"""aware: alarms, trackers, bans and case coordination for victims of stalking (AWARE, NL)."""

from __future__ import annotations

__version__ = "0.1.0"

from aware.app import create_app  # noqa: E402

__all__ = ["create_app", "__version__"]
