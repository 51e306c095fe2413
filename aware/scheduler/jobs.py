"""The scheduler's jobs, declared as data with fixed ids.

To add a job (meeting reminders, allocation reviews ...), append a `JobSpec` to `JOBS` from
this module or your own (imported here at the bottom so the scheduler sees it):

    JOBS.append(JobSpec("meeting_reminders", send_meeting_reminders,
                        lambda settings: IntervalTrigger(minutes=5)))

- `id` is fixed: it is the key in the job store (APScheduler's `apscheduler_jobs` table), so a
  restart replaces the job instead of adding a second one, and keeps its next run time.
- `func(ctx: JobContext) -> int` does one idempotent pass and returns how many things it
  changed (for the run log). It must be safe to run twice (a take-over may repeat a run) and
  commit once per use case. `ctx` has sessions, settings, the clock and the publisher.
- `trigger(settings)` returns an APScheduler 3 trigger.

Every job runs with coalesce=True, max_instances=1 and no misfire limit: runs missed while no
scheduler was up are done once after the restart, not once per missed time. Each run is
written to `scheduler_runs` (job, holder, start, end, ok/failed).
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import delete, update
from sqlalchemy.orm import Session, sessionmaker

from aware.adapters.realtime import Publisher
from aware.config import Settings
from aware.scheduler import casework, supervision
from aware.scheduler.models import SchedulerRun
from aware.state import utcnow

log = logging.getLogger(__name__)

AMSTERDAM = "Europe/Amsterdam"


@dataclass
class JobContext:
    """What a job needs; set up by the scheduler process (or a test)."""

    sessions: sessionmaker[Session]
    settings: Settings
    publisher: Publisher
    holder: str = "test"
    default_escalation: dict[str, Any] | None = None
    clock: Callable[[], dt.datetime] = utcnow
    # Whether this process may still run jobs (its lease is valid).
    may_run: Callable[[], bool] = lambda: True
    jobs: list[JobSpec] = field(default_factory=list)
    # SMS for reminders (aware.adapters.notify); None: reminders are logged, not sent.
    notifier: Any = None


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: Callable[[JobContext], int]
    trigger: Callable[[Settings], BaseTrigger]


def supervision_tick_s(settings: Settings) -> float:
    """How often supervision looks: a third of the shortest interval, at most every 10 s."""
    shortest = min([settings.supervision_interval_s, *settings.supervision_intervals.values()])
    return max(0.5, min(10.0, shortest / 3))


def _supervise(ctx: JobContext) -> int:
    result = supervision.supervise(
        ctx.sessions,
        ctx.clock(),
        ctx.settings.supervision_interval_for,
        ctx.publisher,
        ctx.default_escalation,
    )
    return len(result.raised) + len(result.cleared)


def _reassessments(ctx: JobContext) -> int:
    with ctx.sessions() as session:
        return casework.reassessments_due(session, ctx.clock())


def _bans_ending(ctx: JobContext) -> int:
    with ctx.sessions() as session:
        return casework.bans_ending(session, ctx.clock())


def _action_deadlines(ctx: JobContext) -> int:
    with ctx.sessions() as session:
        return len(casework.action_deadlines(session, ctx.clock()))


def _allocation_reviews(ctx: JobContext) -> int:
    from aware.coordination import allocation

    with ctx.sessions() as session:
        return allocation.review_due_job(session, ctx.clock())


def _urgent_meetings(ctx: JobContext) -> int:
    from aware.coordination import meetings

    with ctx.sessions() as session:
        return meetings.propose_urgent_meetings(session, ctx.clock())


def _meeting_reminders(ctx: JobContext) -> int:
    from aware.adapters.notify import NotConfigured
    from aware.coordination import meetings

    with ctx.sessions() as session:
        return meetings.send_meeting_reminders(
            session, ctx.clock(), ctx.notifier or NotConfigured()
        )


def _retention_cases(ctx: JobContext) -> int:
    from aware.scheduler import retention

    return retention.anonymise_ended_cases(
        ctx.sessions, ctx.clock(), ctx.settings.retention_case_days
    )


def _retention_positions(ctx: JobContext) -> int:
    from aware.scheduler import retention

    counts = retention.delete_old_positions(
        ctx.sessions, ctx.clock(), ctx.settings.retention_position_days
    )
    return sum(counts.values())


JOBS: list[JobSpec] = [
    JobSpec(
        "device_supervision",
        _supervise,
        lambda s: IntervalTrigger(seconds=supervision_tick_s(s)),
    ),
    # Hourly at a fixed minute: a new due date is picked up within the hour.
    JobSpec(
        "reassessment_due", _reassessments, lambda s: CronTrigger(minute=5, timezone=AMSTERDAM)
    ),
    JobSpec("bans_ending", _bans_ending, lambda s: CronTrigger(minute=10, timezone=AMSTERDAM)),
    JobSpec(
        "action_deadlines", _action_deadlines, lambda s: CronTrigger(minute=15, timezone=AMSTERDAM)
    ),
    # Allocation reviews and term ends: one reminder action per due date.
    JobSpec(
        "allocation_reviews",
        _allocation_reviews,
        lambda s: CronTrigger(minute=20, timezone=AMSTERDAM),
    ),
    # High concern, violations and genuine alarms: an urgent meeting within 48 h.
    JobSpec("urgent_meetings", _urgent_meetings, lambda s: IntervalTrigger(seconds=60)),
    JobSpec("meeting_reminders", _meeting_reminders, lambda s: IntervalTrigger(minutes=5)),
    # Retention, nightly (quiet hours; positions are cleared in short batches regardless).
    JobSpec(
        "retention_cases",
        _retention_cases,
        lambda s: CronTrigger(hour=3, minute=30, timezone=AMSTERDAM),
    ),
    JobSpec(
        "retention_positions",
        _retention_positions,
        lambda s: CronTrigger(hour=3, minute=45, timezone=AMSTERDAM),
    ),
]

_context: JobContext | None = None
RUN_LOG_DAYS = 14  # scheduler_runs keeps two weeks (supervision alone adds ~8,640 rows a day)
_PRUNE_EVERY = 500
_runs_since_prune = 0


def set_context(ctx: JobContext | None) -> None:
    """Install the context jobs run with (the scheduler process does this once)."""
    global _context
    _context = ctx


def run_job(job_id: str) -> int:
    """What the job store schedules (by reference, so it survives pickling and restarts): runs
    the job with this id once, records the run, and never lets an exception escape."""
    ctx = _context
    if ctx is None:
        log.error("job %s: no scheduler context", job_id)
        return 0
    spec = next((j for j in ctx.jobs if j.id == job_id), None)
    if spec is None:
        log.error("job %s is not registered; skipped", job_id)
        return 0
    if not ctx.may_run():
        log.warning("job %s skipped: this process no longer holds the scheduler lease", job_id)
        return 0
    with ctx.sessions() as session:
        run = SchedulerRun(job_id=job_id, holder=ctx.holder, started_at=ctx.clock(), changed=0)
        session.add(run)
        session.commit()
        run_id = run.id
    result, changed, error = "ok", 0, None
    try:
        changed = spec.func(ctx)
    except Exception:
        log.exception("job %s failed", job_id)
        result, error = "failed", traceback.format_exc(limit=5)[-4000:]
    global _runs_since_prune
    _runs_since_prune += 1
    with ctx.sessions() as session:
        session.execute(
            update(SchedulerRun)
            .where(SchedulerRun.id == run_id)
            .values(finished_at=ctx.clock(), result=result, changed=changed, error=error)
        )
        if _runs_since_prune >= _PRUNE_EVERY:
            _runs_since_prune = 0
            cutoff = ctx.clock() - dt.timedelta(days=RUN_LOG_DAYS)
            session.execute(delete(SchedulerRun).where(SchedulerRun.started_at < cutoff))
        session.commit()
    if changed:
        log.info("job %s: %d change(s)", job_id, changed)
    return changed
