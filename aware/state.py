"""Per-app runtime state (engine, sessions, clock, publisher) and per-request helpers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from aware.adapters.realtime import Publisher
from aware.config import Settings


def utcnow() -> dt.datetime:
    """The server clock, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    publisher: Publisher
    device_tokens: Any = None  # devices.services.TokenCache, set by create_app
    instruments: Any = None  # risk.instruments.InstrumentRegistry
    ban_cache: Any = None  # risk.cache.BanCache
    ban_checks: Any = None  # risk.checks.ban_checks_for(...), run by intake
    # The settings' escalation chain as data (escalation.chain_to_data), copied onto alarms
    # whose type has no admin-set chain.
    default_escalation: dict[str, Any] | None = None
    escalator: Any = None  # alarms.escalator.Escalator (not in the testing environment)
    notifier: Any = None  # adapters.notify: TwilioNotifier or NotConfigured
    clock: Callable[[], dt.datetime] = utcnow


def state() -> AppState:
    """The running app's state."""
    st: AppState = current_app.extensions["aware"]
    return st


def db() -> Session:
    """The request's database session (closed, and rolled back if uncommitted, at teardown)."""
    if "db" not in g:
        g.db = state().sessions()
    session: Session = g.db
    return session


def close_db(_exc: Any = None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()


def now() -> dt.datetime:
    return state().clock()
