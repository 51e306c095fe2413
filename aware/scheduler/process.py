"""`aware scheduler`: the one scheduler process (supervision, deadlines, reminders).

Start as many as you like: one holds the database lease (see `lease.py`) and runs the jobs
(APScheduler 3 with its SQLAlchemy job store in the service's own database); the others wait
and take over when it dies. SIGTERM or SIGINT stops cleanly: running jobs finish, the lease is
given up (the next process takes over at once).

Alarms the jobs raise or clear reach the dispatch consoles: with AWARE_REDIS_URL through the
same Redis channel as the web processes; without, the web process's relay
(`aware.alarms.relay`) picks them up from the database within about a second. Every scheduler
process, holding the lease or waiting, also escalates: it polls the database for due escalation
work of any alarm (see `aware.alarms.escalator`), so escalation survives any web process.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from types import FrameType
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine, select

from aware.adapters.realtime import NAMESPACE, ROOM, Publisher
from aware.config import ConfigError, Settings, finalize, load_settings
from aware.scheduler import jobs as job_registry
from aware.scheduler.jobs import JobContext, JobSpec
from aware.scheduler.lease import Lease, lease_for
from aware.scheduler.models import apscheduler_jobs
from aware.state import utcnow

log = logging.getLogger("aware.scheduler")

WAIT_POLL_S = 0.5  # how often a waiting process tries the lease
JOB_DEFAULTS = {
    "coalesce": True,  # runs missed while down are done once, not once per missed time
    "max_instances": 1,
    "misfire_grace_time": None,  # however late: a missed run still runs (once)
}
RUN_JOB = "aware.scheduler.jobs:run_job"


class NullPublisher:
    """Without Redis: the web process's relay reads new alarm changes from the database."""

    def alarm_new(self, alarm: dict[str, Any]) -> None:
        pass

    def alarm_updated(self, alarm: dict[str, Any]) -> None:
        pass


class QueuePublisher:
    """With Redis: emit on the web processes' channel, as they do (write-only manager)."""

    def __init__(self, url: str, channel: str):
        import socketio

        self.manager = socketio.RedisManager(url, channel=channel, write_only=True)

    def alarm_new(self, alarm: dict[str, Any]) -> None:
        self._emit("alarm.new", alarm)

    def alarm_updated(self, alarm: dict[str, Any]) -> None:
        self._emit("alarm.updated", alarm)

    def _emit(self, event: str, alarm: dict[str, Any]) -> None:
        for attempt in range(5):
            try:
                self.manager.emit(event, alarm, namespace=NAMESPACE, room=ROOM)
                return
            except Exception:
                log.warning("publishing %s of alarm %s failed", event, alarm["id"], exc_info=True)
                time.sleep(0.2 * 2**attempt)
        # Consoles still get it: the snapshot at their next (re)connect carries every open alarm.
        log.error("gave up publishing %s of alarm %s through Redis", event, alarm["id"])


def publisher_for(settings: Settings) -> Publisher:
    """Redis when configured (the web processes' channel), else nothing (the relay reads)."""
    if settings.redis_url:
        from aware.app import redis_channel

        return QueuePublisher(settings.redis_url, redis_channel(settings))
    return NullPublisher()


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def build_scheduler(engine: Engine) -> BackgroundScheduler:
    """A scheduler on the service's database, with the job defaults every job runs under."""
    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine)},
        executors={"default": ThreadPoolExecutor(4)},
        job_defaults=dict(JOB_DEFAULTS),
        timezone=dt.UTC,
    )


def schedule_jobs(
    scheduler: BackgroundScheduler, engine: Engine, specs: Sequence[JobSpec], settings: Settings
) -> None:
    """Add every job under its fixed id (replacing the stored one) without losing its place:
    a stored next run time that is earlier than the trigger's next one is kept, so a run that
    fell due while no scheduler was up happens once right after the start."""
    with engine.connect() as conn:
        stored = {
            row.id: row.next_run_time
            for row in conn.execute(select(apscheduler_jobs.c.id, apscheduler_jobs.c.next_run_time))
        }
        conn.rollback()
    now = dt.datetime.now(dt.UTC)
    for spec in specs:
        trigger = spec.trigger(settings)
        upcoming = trigger.get_next_fire_time(None, now)
        kept = stored.get(spec.id)
        if kept is not None:
            kept_at = dt.datetime.fromtimestamp(kept, dt.UTC)
            if upcoming is None or kept_at < upcoming:
                upcoming = kept_at
        scheduler.add_job(
            RUN_JOB,
            trigger=trigger,
            args=[spec.id],
            id=spec.id,
            name=spec.id,
            replace_existing=True,
            next_run_time=upcoming,
        )
    for job_id in set(stored) - {s.id for s in specs}:
        log.info("removing job %s: no longer registered", job_id)
        scheduler.remove_job(job_id)


def _prepare_schema(settings: Settings) -> int | None:
    """As `aware serve`: upgrade the embedded SQLite, refuse a stale PostgreSQL schema."""
    from aware import migrate
    from aware.db import make_engine

    if settings.is_sqlite:
        migrate.upgrade(settings.database_url)
        return None
    engine = make_engine(settings.database_url)
    try:
        current = migrate.is_current(engine, settings.database_url)
    finally:
        engine.dispose()
    if not current:
        print("aware: the database schema is not current; run `aware db upgrade`", file=sys.stderr)
        return 2
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run until SIGTERM/SIGINT (0) or until the lease is lost (3: let the supervisor restart
    us, we then wait like any other process)."""
    try:
        settings = finalize(load_settings())
    except ConfigError as exc:
        print(f"aware: {exc}", file=sys.stderr)
        return 2
    from aware.app import configure_logging, notifier_for
    from aware.db import make_engine, make_sessionmaker

    configure_logging(settings)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    refused = _prepare_schema(settings)
    if refused is not None:
        return refused

    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    engine = make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    sessions = make_sessionmaker(engine)
    holder = holder_id()
    lease = lease_for(engine, holder, settings.scheduler_lease_s)
    log.info("scheduler %s starting", holder)

    from aware.alarms.escalation import chain_to_data, default_chain, parse_chain
    from aware.alarms.escalator import EscalatingPublisher, Escalator

    default_escalation = chain_to_data(
        default_chain(settings.escalation_after_s, settings.escalation_phones)
    )
    queue_publisher = publisher_for(settings)
    notifier = notifier_for(settings)
    # Every scheduler process escalates, waiting or not: due escalation work is in the
    # database, so alarms raised by a web process that died still go out on time.
    escalator = Escalator(
        sessions,
        notifier,
        queue_publisher,
        parse_chain(default_escalation),
        utcnow,
        public_url=settings.public_url,
    ).start()
    log.info("scheduler %s escalating: polling for due escalations", holder)
    if not _wait_for_lease(lease, stop):
        escalator.stop()
        engine.dispose()
        return 0
    log.info("scheduler %s holds the lease: running jobs", holder)
    ctx = JobContext(
        sessions=sessions,
        settings=settings,
        publisher=EscalatingPublisher(queue_publisher, escalator),
        holder=holder,
        default_escalation=default_escalation,
        may_run=lease.valid,
        jobs=list(job_registry.JOBS),
        notifier=notifier,
    )
    job_registry.set_context(ctx)
    scheduler = build_scheduler(engine)
    schedule_jobs(scheduler, engine, ctx.jobs, settings)
    scheduler.start()
    code = 0
    renew_every = min(settings.scheduler_lease_s / 3, 5.0)
    while not stop.wait(renew_every):
        try:
            renewed = lease.renew()
        except Exception:
            log.exception("renewing the lease failed")
            renewed = lease.valid()
        if not renewed:
            log.error("scheduler %s lost the lease: stopping its jobs", holder)
            code = 3
            break
    scheduler.shutdown(wait=True)
    escalator.stop()
    job_registry.set_context(None)
    if code == 0:
        lease.release()
        log.info("scheduler %s stopped; lease released", holder)
    engine.dispose()
    return code


def _wait_for_lease(lease: Lease, stop: threading.Event) -> bool:
    """Poll until this process holds the lease (True) or is told to stop (False)."""
    told: str | None = "-"
    while not stop.is_set():
        try:
            if lease.try_acquire():
                return True
            current = lease.current_holder()
        except Exception:
            log.warning("trying the lease failed; retrying", exc_info=True)
            current = None
        if current != told:
            log.info("waiting: the scheduler lease is held by %s", current or "nobody (expiring)")
            told = current
        stop.wait(WAIT_POLL_S)
    return False
