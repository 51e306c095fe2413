"""Prometheus metrics at GET /metrics (protected).

Counters and the latency histogram live in the process that counts them: scrape every `aware
serve` process, or set PROMETHEUS_MULTIPROC_DIR (a directory shared by the processes of one
host, emptied before they start) and any process answers for all of them, the scheduler's
device_offline count included. Open alarms and alarms per type are read from the database at
scrape time, so they are the same on every process (use max(), not sum(), across instances).

Access: a bearer token of an admin, or AWARE_METRICS_TOKEN (32+ characters) for the scraper;
401 otherwise. The figures carry no personal data: no names, ids, places or phone numbers.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from aware.config import ConfigError

log = logging.getLogger(__name__)

METRICS_TOKEN_ENV = "AWARE_METRICS_TOKEN"  # noqa: S105 (a variable name)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# The process's own counters; with PROMETHEUS_MULTIPROC_DIR their values go to files there.
REGISTRY = CollectorRegistry(auto_describe=True)

INTAKE_TO_CONSOLE = Histogram(
    "aware_alarm_intake_to_console_seconds",
    "From an alarm's receipt (received_at) to the first console confirming it",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
ESCALATIONS = Counter(
    "aware_escalations",
    "Escalation messages and calls by channel (sms, voice, none) and outcome "
    "(sent, failed, not_sent)",
    ["channel", "outcome"],
    registry=REGISTRY,
)
DEVICE_OFFLINE = Counter(
    "aware_device_offline",
    "device_offline alarms raised by device supervision (counted in the scheduler process)",
    registry=REGISTRY,
)


def observe_delivery(seconds: float) -> None:
    """One alarm reached its first console `seconds` after it was received."""
    INTAKE_TO_CONSOLE.observe(max(seconds, 0.0))


def count_escalations(outcomes: list[tuple[str, dict[str, Any]]]) -> None:
    """Count one escalation firing's outcomes (as made by Escalator._send)."""
    for action, detail in outcomes:
        channel = str(detail.get("channel") or "none")
        if action == "escalated":
            outcome = "sent"
        elif action == "escalation_not_sent" or all(
            "not configured" in e for e in detail.get("errors", [])
        ):
            outcome = "not_sent"
        else:
            outcome = "failed"
        ESCALATIONS.labels(channel=channel, outcome=outcome).inc()


def count_device_offline() -> None:
    """A device_offline alarm was raised."""
    DEVICE_OFFLINE.inc()


class DatabaseFigures(Collector):
    """aware_open_alarms and aware_alarms_total{type}, read at scrape time.

    Both come from the database, so they hold for the whole installation (every process and
    the scheduler). When the database does not answer, aware_database_up is 0 and the two are
    left out rather than reported as zero.
    """

    def __init__(self, app: Flask):
        self.app = app

    def collect(self) -> Iterator[Metric]:
        from aware.alarms.models import Alarm

        st = self.app.extensions["aware"]
        up = GaugeMetricFamily("aware_database_up", "1 when the database answered this scrape")
        try:
            with st.sessions() as session:
                open_count = session.scalar(
                    select(func.count()).select_from(Alarm).where(Alarm.status == "open")
                )
                per_type = session.execute(
                    select(Alarm.type, func.count()).group_by(Alarm.type).order_by(Alarm.type)
                ).all()
                session.rollback()
        except Exception:
            log.warning("metrics: the database did not answer", exc_info=True)
            up.add_metric([], 0)
            yield up
            yield from _redis_state(self.app)
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily(
            "aware_open_alarms",
            "Alarms waiting for a dispatcher (status open: not yet acknowledged)",
            value=int(open_count or 0),
        )
        # A counter by nature (alarms are never deleted), exposed as <name>_total.
        total = CounterMetricFamily(
            "aware_alarms", "Alarms raised since the start, by type", labels=["type"]
        )
        for alarm_type, count in per_type:
            total.add_metric([str(alarm_type)], int(count))
        yield total
        yield from _redis_state(self.app)


def _redis_state(app: Flask) -> Iterator[Metric]:
    """aware_redis_up: 1 while this process publishes to and listens on Redis (left out
    without AWARE_REDIS_URL)."""
    health = app.extensions.get("aware_redis")
    if health is None:
        return
    yield GaugeMetricFamily(
        "aware_redis_up",
        "1 while this process can publish to and listen on the Redis message queue",
        value=1 if health.status() == "up" else 0,
    )


def metrics_token() -> str | None:
    """AWARE_METRICS_TOKEN, checked like every setting: 32+ characters or not set."""
    raw = os.environ.get(METRICS_TOKEN_ENV)
    if raw is None or raw == "":
        return None
    if len(raw.strip()) < 32:
        raise ConfigError(f"{METRICS_TOKEN_ENV}: expected 32 or more characters")
    return raw.strip()


def init_app(app: Flask) -> None:
    """Register GET /metrics."""
    scraper_token = metrics_token()
    figures = DatabaseFigures(app)

    def metrics() -> Response:
        _authorize(scraper_token)
        registry = CollectorRegistry(auto_describe=False)
        if os.environ.get(MULTIPROC_ENV):
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        else:
            registry.register(_Forward(REGISTRY))
        registry.register(figures)
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

    app.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])


class _Forward(Collector):
    def __init__(self, source: CollectorRegistry):
        self.source = source

    def collect(self) -> Iterator[Metric]:
        yield from self.source.collect()


def _authorize(scraper_token: str | None) -> None:
    from aware.api import ApiError
    from aware.auth.access import bearer_token
    from aware.auth.services import user_for_token
    from aware.state import db, now

    token = bearer_token()
    if token and scraper_token and hmac.compare_digest(token, scraper_token):
        return
    if token:
        user = user_for_token(db(), token, now())
        db().rollback()
        if user is not None and user.role == "admin":
            return
        if user is not None:
            raise ApiError(403, "forbidden", f"role {user.role} may not read metrics")
    raise ApiError(401, "unauthorized", "an admin token or AWARE_METRICS_TOKEN is required")
