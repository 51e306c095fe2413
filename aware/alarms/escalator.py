"""Escalation of unacknowledged alarms (texts and calls), carried out by any live process.

What is due lives in the database, not in one process's memory: `alarms.escalation_next_at`
(indexed) is never later than the alarm's next firing, and the victim's text about an approach
alarm is claimed in `alarms.victim_sms_claimed_at`. Every escalating process (each `aware serve`
and `aware scheduler`) runs an Escalator:

- the process that raised an alarm holds a local timer for it (`arm_new`), so its firings go out
  on the dot;
- a poller (every POLL_INTERVAL_S, one indexed query) finds due alarms this process holds no
  timer for: raised by `aware demo`, the scheduler, another process, or one that died;
- work on an alarm loads it, claims in one transaction what is due (the victim text: column set
  from NULL; a firing: `escalation_sending` set from NULL while `escalations_fired` is still n
  and the alarm open with the same token; the firing counts once its outcome is recorded) or
  plans the exact due time, and sends only what it claimed, outside any transaction, retrying
  with backoff. A firing is claimed LEAD_S before it falls due and sent on the dot, so waiting
  for the database (SQLite's write lock during an intake flood) does not make it late.
  Whoever claims sends; the others do nothing. Until the outcome is recorded,
  `escalation_next_at` is the sender's lease (`escalation_sending` names the firing): if the
  sender dies mid-send, another process sends that firing once the lease has run out (at least
  once, never lost);
- work runs on WORKERS threads, highest priority then oldest alarm first, with at most
  DEVICE_CAP alarms of one device in flight: a flood from one tracker never holds up another
  device's SOS.

Intake never waits on any of this.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import heapq
import itertools
import logging
import re
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Select, Table, and_, case, func, or_, select, update

from aware import db, metrics
from aware.adapters.notify import Notifier, NotSent
from aware.alarms import escalation as esc
from aware.alarms.models import Alarm
from aware.alarms.phone import gather_twiml
from aware.alarms.services import Actor, alarm_dicts, log_entry, next_seq
from aware.devices.deferred import reader_sessions
from aware.risk.models import Case

log = logging.getLogger(__name__)
SYSTEM = Actor("system", None, "escalatie")
RETRY_DELAYS_S = (1.0, 2.0, 4.0)
# Approach alarms that text the victim of a case that opted in (Case.victim_sms).
VICTIM_ALARM_TYPES = frozenset({"proximity_warning", "proximity_violation"})
# No names, distances or anything about the perpetrator: the phone may not be hers alone.
VICTIM_TEXT = (
    "AWARE: mogelijk is de persoon met een contactverbod in de buurt. Zoek een veilige plek. "
    "Bij direct gevaar: druk op uw alarmknop of bel 112."
)
VICTIM_SMS_FRESH_S = 600  # only warnings younger than this still text her (e.g. after a crash)
POLL_INTERVAL_S = 0.5  # due work another process left is found within this (plus the query)
WORKERS = 16  # sends (with their retries) and claims in flight at once in one process
DEVICE_CAP = 3  # ... of which at most this many for the alarms of one device
POLL_PER_DEVICE = 16  # due alarms one poll takes from one device (the rest: later polls)
POLL_LIMIT = 1000
# A firing is claimed this long before it falls due (then sent on the dot): waiting for the
# database (SQLite's write lock under an intake flood) happens before the due time, not after.
LEAD_S = 2.0
# How long after its due time a claimed firing may stay unrecorded before another process takes
# its sender for dead and sends it: long enough for a normal send with its retries, short enough
# that a sender dying between its claim and the send costs at most this much delay (a send slower
# than this, e.g. Twilio timing out again and again, may go out twice: at least once, never lost).
SEND_LEASE_S = 30.0
LATE_WARNING_S = 0.25  # a firing sent later than this after its due time is logged
_PHONE_LIKE = re.compile(r"\+?\d[\d ()-]{6,}\d")
_ALARMS = cast(Table, Alarm.__table__)


@dataclass(frozen=True)
class _Send:
    """A claimed firing to send at `at`; `then` is when the alarm falls due next."""

    at: dt.datetime
    run: Callable[[], None]
    then: dt.datetime | None


@dataclass(order=True)
class _Job:
    """Work on one alarm: highest priority (1) first, then the oldest alarm. `device` is the
    lane whose in-flight work DEVICE_CAP limits. With `send`, the work is sending a firing
    already claimed; without, finding and claiming what is due."""

    priority: int
    received_at: dt.datetime
    order: int
    alarm_id: int = field(compare=False)
    device_id: int | None = field(compare=False)
    device: Hashable = field(compare=False)
    send: _Send | None = field(compare=False, default=None)


def _lane(alarm_id: int, device_id: int | None, victim_text: bool = False) -> Hashable:
    # Alarms without a device (an outage) each count as a device of their own; so does an
    # approach alarm whose text to the victim is still to go: it never waits behind the
    # tracker's other alarms.
    if device_id is None or victim_text:
        return ("alarm", alarm_id)
    return device_id


def due_alarms_query(
    now: dt.datetime, per_device: int = POLL_PER_DEVICE, limit: int = POLL_LIMIT
) -> Select[tuple[int, int, int | None, dt.datetime, bool]]:
    """Alarms with escalation work due at `now`, highest priority then oldest first, at most
    `per_device` of one device (so one device's flood cannot hide another's SOS)."""
    a = _ALARMS.c
    # An approach alarm whose text to the victim may still be due: a lane of its own (_lane).
    victim_text = and_(
        a.type.in_(sorted(VICTIM_ALARM_TYPES)),
        a.case_id.is_not(None),
        a.victim_sms_claimed_at.is_(None),
    )
    lane = case((victim_text, -a.id), else_=func.coalesce(a.device_id, -a.id))
    ranked = (
        select(
            a.id,
            a.priority,
            a.device_id,
            a.received_at,
            victim_text.label("victim_text"),
            func.row_number()
            .over(partition_by=lane, order_by=(a.priority, a.received_at, a.id))
            .label("rn"),
        )
        .where(a.escalation_next_at <= now)
        .subquery()
    )
    return (
        select(
            ranked.c.id,
            ranked.c.priority,
            ranked.c.device_id,
            ranked.c.received_at,
            ranked.c.victim_text,
        )
        .where(ranked.c.rn <= per_device)
        .order_by(ranked.c.priority, ranked.c.received_at, ranked.c.id)
        .limit(limit)
    )


class Escalator:
    """Finds, claims and carries out due escalation work (see the module docstring)."""

    def __init__(
        self,
        sessions: Callable[[], Any],
        notifier: Notifier,
        publisher: Any,
        default_chain: esc.Chain,
        clock: Callable[[], dt.datetime],
        retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S,
        public_url: str | None = None,
        workers: int = WORKERS,
        device_cap: int = DEVICE_CAP,
        poll_interval_s: float = POLL_INTERVAL_S,
        send_lease_s: float | None = None,
        lead_s: float = LEAD_S,
    ):
        self.sessions = sessions
        self.notifier = notifier
        self.publisher = publisher
        self.default_chain = default_chain
        self.clock = clock
        self.retry_delays_s = retry_delays_s
        self.public_url = public_url
        self.workers = workers
        self.device_cap = device_cap
        self.poll_interval_s = poll_interval_s
        self.send_lease_s = SEND_LEASE_S if send_lease_s is None else send_lease_s
        self.lead = dt.timedelta(seconds=lead_s)
        self._cond = threading.Condition()
        self._order = itertools.count()
        # Local timers: (due, order, job); a timer whose order is no longer the alarm's current
        # one in _timer_of was replaced and is skipped.
        self._timers: list[tuple[dt.datetime, int, _Job]] = []
        self._timer_of: dict[int, int] = {}
        # Alarms this process holds: a timer armed, work queued or running. The poller leaves
        # them alone; everything else that is due it takes on.
        self._held: dict[int, str] = {}
        self._queues: dict[Hashable, list[_Job]] = {}
        self._running: dict[Hashable, int] = {}
        self._threads: list[threading.Thread] = []
        self._poller: threading.Thread | None = None
        self._stop = threading.Event()
        self._reader: Callable[[], Any] | None = None

    # --- arming and finding work ---------------------------------------------------------

    def arm(
        self,
        alarm_id: int,
        due: dt.datetime,
        priority: int = 1,
        received_at: dt.datetime | None = None,
        device_id: int | None = None,
        victim_text: bool = False,
    ) -> None:
        """Hold a local timer: look at the alarm at `due` (replacing an earlier timer)."""
        job = self._job(alarm_id, priority, received_at or due, device_id, victim_text)
        with self._cond:
            if self._held.get(alarm_id) in ("queued", "running", "send"):
                return  # already being worked on; that work arms what follows
            self._arm_locked(job, due)
        self._ensure_threads()

    def _arm_locked(self, job: _Job, due: dt.datetime) -> None:
        self._timer_of[job.alarm_id] = job.order
        self._held[job.alarm_id] = "send" if job.send is not None else "timer"
        heapq.heappush(self._timers, (due, job.order, job))
        self._cond.notify_all()

    def _job(
        self,
        alarm_id: int,
        priority: int,
        received_at: dt.datetime,
        device_id: int | None,
        victim_text: bool = False,
    ) -> _Job:
        lane = _lane(alarm_id, device_id, victim_text)
        return _Job(priority, received_at, next(self._order), alarm_id, device_id, lane)

    def arm_new(self, alarm: dict[str, Any]) -> None:
        """After an alarm is committed (in the raising process): hold a timer for its first
        firing; an approach alarm is looked at at once (the victim's text). Nothing here
        touches the database: intake's thread never waits."""
        now = self.clock()
        due = alarm.get("escalation_due_at")
        victim = alarm.get("type") in VICTIM_ALARM_TYPES and alarm.get("case_id") is not None
        if victim:
            at = now  # whether she opted in is read on a worker, never on intake's thread
        elif due is not None:
            at = _parse_time(due) - self.lead
        else:
            at = now  # never escalates: a worker clears its due time
        received = alarm.get("received_at")
        self.arm(
            alarm["id"],
            at,
            alarm.get("priority", 1),
            _parse_time(received) if received else now,
            alarm.get("device_id"),
            victim,
        )

    def poll(self) -> int:
        """One look in the database: queue every due alarm this process holds nothing for.
        Returns how many were queued."""
        now = self.clock()
        with self._readers()() as session:
            rows = session.execute(due_alarms_query(now + self.lead)).all()
            session.rollback()
        queued = 0
        with self._cond:
            for alarm_id, priority, device_id, received_at, victim_text in rows:
                if alarm_id in self._held:
                    continue
                job = self._job(alarm_id, priority, received_at, device_id, bool(victim_text))
                self._queue_locked(job)
                queued += 1
        if queued:
            self._ensure_threads()
        return queued

    def _readers(self) -> Callable[[], Any]:
        # On SQLite every session of the app begins IMMEDIATE (the write lock): the poll reads
        # on a connection of its own instead, so it never holds up intake.
        if self._reader is None:
            bind = getattr(self.sessions, "kw", {}).get("bind")
            self._reader = (
                reader_sessions(bind, cast(Any, self.sessions))
                if bind is not None
                else self.sessions
            )
        return self._reader

    def rearm(self) -> int:
        """After a (re)start: take on every due alarm now (the poller does so from then on)."""
        return self.poll()

    def start(self) -> Escalator:
        """Run the poller (every POLL_INTERVAL_S) besides the timers and workers."""
        self._ensure_threads()
        with self._cond:
            if self._poller is None:
                self._poller = threading.Thread(
                    target=self._poll_loop, name="aware-escalation-poll", daemon=True
                )
                self._poller.start()
        return self

    def stop(self) -> None:
        """Stop polling and working (work under way finishes its current send)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._reader is not None and self._reader is not self.sessions:
            bind = getattr(self._reader, "kw", {}).get("bind")
            if bind is not None:
                bind.dispose()  # the poll's own SQLite connection

    def _ensure_threads(self) -> None:
        with self._cond:
            if self._threads or self._stop.is_set():
                return
            self._threads.append(
                threading.Thread(target=self._timer_loop, name="aware-escalation", daemon=True)
            )
            for i in range(self.workers):
                self._threads.append(
                    threading.Thread(target=self._work_loop, name=f"aware-esc-{i}", daemon=True)
                )
            for thread in self._threads:
                thread.start()

    def _poll_loop(self) -> None:
        failing = False
        while not self._stop.wait(self.poll_interval_s):
            try:
                self.poll()
                if failing:
                    log.info("escalation poll works again")
                failing = False
            except Exception:
                if not failing:  # once per outage, not twice a second
                    log.exception("escalation poll failed; retrying")
                failing = True

    def _timer_loop(self) -> None:
        with self._cond:
            while not self._stop.is_set():
                if not self._timers:
                    self._cond.wait()
                    continue
                due, order, job = self._timers[0]
                wait = (due - self.clock()).total_seconds()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._timers)
                if self._timer_of.get(job.alarm_id) != order:
                    continue  # replaced by a later arm
                del self._timer_of[job.alarm_id]
                self._queue_locked(job)

    def _queue_locked(self, job: _Job) -> None:
        self._held[job.alarm_id] = "queued"
        self._timer_of.pop(job.alarm_id, None)
        heapq.heappush(self._queues.setdefault(job.device, []), job)
        self._cond.notify_all()

    def _next_job_locked(self) -> _Job | None:
        """The most urgent queued job of a device below its cap."""
        best: _Job | None = None
        for device, queue in self._queues.items():
            below_cap = self._running.get(device, 0) < self.device_cap
            if queue and below_cap and (best is None or queue[0] < best):
                best = queue[0]
        if best is None:
            return None
        heapq.heappop(self._queues[best.device])
        if not self._queues[best.device]:
            del self._queues[best.device]
        self._running[best.device] = self._running.get(best.device, 0) + 1
        self._held[best.alarm_id] = "running"
        return best

    def _work_loop(self) -> None:
        while True:
            with self._cond:
                job = self._next_job_locked()
                while job is None:
                    if self._stop.is_set():
                        return
                    self._cond.wait()
                    job = self._next_job_locked()
            again: dt.datetime | None = None
            send: _Send | None = None
            try:
                if job.send is not None:
                    job.send.run()
                    again = job.send.then
                else:
                    # Claiming a priority-1 firing queues for SQLite's writer like an SOS.
                    urgent = db.ALARM if job.priority <= 1 else db.NORMAL
                    with db.write_priority(urgent):
                        again, send = self._claim_due(job.alarm_id)
            except Exception:  # a broken alarm must not stop the others
                log.exception("escalation work on alarm %s failed", job.alarm_id)
            with self._cond:
                left = self._running[job.device] - 1
                if left:
                    self._running[job.device] = left
                else:
                    del self._running[job.device]
                self._held.pop(job.alarm_id, None)
                follow = self._job(job.alarm_id, job.priority, job.received_at, job.device_id)
                if self._stop.is_set():
                    pass  # what was claimed and not sent goes to another process (its lease)
                elif send is not None:
                    # Claimed ahead: sent on the dot, no worker (or lane) held meanwhile.
                    follow = dataclasses.replace(follow, send=send)
                    if send.at > self.clock():
                        self._arm_locked(follow, send.at)
                    else:
                        self._queue_locked(follow)
                elif again is not None:
                    # What follows is escalation only: back in the device's lane.
                    self._arm_locked(follow, again - self.lead)
                self._cond.notify_all()

    # --- the work on one alarm -----------------------------------------------------------

    def handle(self, alarm_id: int) -> dt.datetime | None:
        """Claim and carry out what is due for an alarm, here and now (waiting for a firing
        claimed ahead to fall due); returns when to look again (the next firing), None when
        nothing more is pending here."""
        again, send = self._claim_due(alarm_id)
        if send is None:
            return again
        send.run()
        return send.then

    def _claim_due(self, alarm_id: int) -> tuple[dt.datetime | None, _Send | None]:
        """Claim what is due within LEAD_S (the victim's text is sent at once); returns when to
        look again and the claimed firing to send, if any."""
        now = self.clock()
        phone: str | None = None
        with self.sessions() as session:
            alarm = session.get(Alarm, alarm_id)
            if alarm is None:
                session.rollback()
                return None, None
            victim = False
            if (
                alarm.type in VICTIM_ALARM_TYPES
                and alarm.case_id is not None
                and alarm.victim_sms_claimed_at is None
                and alarm.status != "resolved"
                and alarm.received_at >= now - dt.timedelta(seconds=VICTIM_SMS_FRESH_S)
            ):
                her_case = session.get(Case, alarm.case_id)
                if her_case is not None and her_case.victim_sms:
                    phone = her_case.victim_phone
                    victim = _claim(
                        session,
                        update(_ALARMS)
                        .where(_ALARMS.c.id == alarm_id, _ALARMS.c.victim_sms_claimed_at.is_(None))
                        .values(victim_sms_claimed_at=now),
                    )
            fired, token = alarm.escalations_fired, alarm.escalation_token
            sending, planned = alarm.escalation_sending, alarm.escalation_next_at
            firing: esc.Firing | None = None
            next_at: dt.datetime | None = None
            resend = False
            escalating = esc.should_fire(alarm.status, token, token or "")
            if escalating and sending is not None:
                if planned is None or planned > now:
                    session.commit()  # keeps the victim claim; a live process is sending
                    if victim:
                        self._notify_victim(alarm_id, phone)
                    return None, None
                # The process that claimed this firing died before recording it: send it.
                chain = self._chain(alarm.escalation)
                firing = esc.next_firing(chain, alarm.received_at, sending)
                following = esc.next_firing(chain, alarm.received_at, sending + 1)
                next_at = following.at if following is not None else None
                resend = firing is not None
            elif escalating:
                chain = self._chain(alarm.escalation)
                horizon = now + self.lead  # claimed a little early, sent on the dot
                firing, next_at = esc.due_firing(chain, alarm.received_at, fired, horizon)
            text = _message(alarm)
            claimed = False
            same = [_ALARMS.c.id == alarm_id, _ALARMS.c.escalations_fired == fired]
            if firing is not None:
                # Of several processes finding this firing due, exactly one sends; until it has
                # recorded the outcome, escalation_next_at is its lease.
                lease = max(now, firing.at) + dt.timedelta(seconds=self.send_lease_s)
                mine = _ALARMS.c.escalation_token == token
                claim = (
                    update(_ALARMS)
                    .where(
                        *same,
                        mine,
                        _ALARMS.c.escalation_sending == sending,
                        _ALARMS.c.escalation_next_at == planned,
                    )
                    .values(escalation_next_at=lease)
                    if resend
                    else update(_ALARMS)
                    .where(
                        *same,
                        mine,
                        _ALARMS.c.status == "open",
                        _ALARMS.c.escalation_sending.is_(None),
                    )
                    .values(escalation_sending=firing.number, escalation_next_at=lease)
                )
                claimed = _claim(session, claim)
            elif planned != next_at:
                # Plan the exact time (or nothing more), unless the alarm changed meanwhile.
                guard = (
                    _ALARMS.c.escalation_token == token
                    if token is not None and alarm.status == "open"
                    else or_(_ALARMS.c.status != "open", _ALARMS.c.escalation_token.is_(None))
                )
                session.execute(
                    update(_ALARMS).where(*same, guard).values(escalation_next_at=next_at)
                )
            session.commit()
        if victim:
            self._notify_victim(alarm_id, phone)
        if firing is None:
            return next_at, None
        if not claimed:
            return None, None  # another process sends it and holds what follows
        skipped = 0 if resend else firing.number - fired
        claimed_in = (self.clock() - now).total_seconds()
        run = functools.partial(
            self._escalate, alarm_id, firing, skipped, text, token, next_at, resend, claimed_in
        )
        return None, _Send(firing.at, run, next_at)

    def _still_due(self, alarm_id: int, token: str | None) -> bool:
        with self._readers()() as session:
            current = session.scalar(
                select(_ALARMS.c.escalation_token).where(_ALARMS.c.id == alarm_id)
            )
            session.rollback()
        return current is not None and current == token

    def _chain(self, data: dict[str, Any] | None) -> esc.Chain:
        try:
            return esc.parse_chain(data) if data else self.default_chain
        except esc.ChainInvalid:
            return self.default_chain

    def _escalate(
        self,
        alarm_id: int,
        firing: esc.Firing,
        skipped: int,
        text: str,
        token: str | None,
        next_at: dt.datetime | None,
        resend: bool,
        claimed_in: float = 0.0,
    ) -> None:
        early = (firing.at - self.clock()).total_seconds()
        if early > 0:
            time.sleep(early)  # claimed ahead: never sent before it is due
        elif not resend and -early > LATE_WARNING_S:
            log.warning(
                "escalation %s of alarm %s goes out %.2f s late (claiming it took %.2f s)",
                firing.number,
                alarm_id,
                -early,
                claimed_in,
            )
        # Acknowledged since the claim: nothing goes out (the record step below sees it).
        outcomes = self._send(firing, text, alarm_id) if self._still_due(alarm_id, token) else []
        for _, detail in outcomes:
            if skipped:
                detail["skipped"] = skipped  # missed repeats sent once, as this one
            if resend:
                detail["resent"] = True  # its first sender died before recording it
        metrics.count_escalations(outcomes)
        with self.sessions() as session:
            alarm = session.execute(
                select(Alarm).where(Alarm.id == alarm_id).with_for_update()
            ).scalar_one()
            if alarm.escalation_sending == firing.number:
                # Done: the lease ends; the firing counts, the next one is what falls due.
                alarm.escalation_sending = None
                alarm.escalations_fired = firing.number + 1
                alarm.escalation_next_at = next_at if alarm.escalation_token == token else None
            if alarm.escalation_token != token:
                session.commit()  # acknowledged meanwhile: record nothing more
                return
            now = self.clock()
            for action, detail in outcomes:
                log_entry(session, alarm_id, action, SYSTEM, now, detail)
            alarm.escalation_status = outcome_status(outcomes)
            alarm.seq = next_seq(session.connection())
            (published,) = alarm_dicts(session.connection(), [alarm], now)
            session.commit()
        self.publisher.alarm_updated(published)

    def _notify_victim(self, alarm_id: int, phone: str | None) -> None:
        """Text the victim about an approach alarm (claimed: once). The timeline records the
        outcome, never the number."""
        if not phone:
            outcome = ("victim_notification_not_sent", {"reason": "no victim phone number"})
        else:
            outcome = self._text_victim(phone)
        with self.sessions() as session:
            alarm = session.execute(
                select(Alarm).where(Alarm.id == alarm_id).with_for_update()
            ).scalar_one()
            now = self.clock()
            log_entry(session, alarm_id, outcome[0], SYSTEM, now, outcome[1])
            alarm.seq = next_seq(session.connection())
            (published,) = alarm_dicts(session.connection(), [alarm], now)
            session.commit()
        self.publisher.alarm_updated(published)

    def _text_victim(self, phone: str) -> tuple[str, dict[str, Any]]:
        errors: list[str] = []
        for attempt, delay in enumerate((0.0, *self.retry_delays_s)):
            if delay:
                time.sleep(delay)
            try:
                sid = self.notifier.send_sms(phone, VICTIM_TEXT)
                return ("victim_notified", {"channel": "sms", "sid": sid, "attempts": attempt + 1})
            except NotSent as exc:
                message = _PHONE_LIKE.sub("[nummer]", str(exc).replace(phone, "[nummer]"))
                if "not configured" in message:
                    return ("victim_notification_not_sent", {"reason": message})
                errors.append(message)
        return ("victim_notification_failed", {"errors": errors, "attempts": len(errors)})

    def _send(
        self, firing: esc.Firing, text: str, alarm_id: int
    ) -> list[tuple[str, dict[str, Any]]]:
        outcomes: list[tuple[str, dict[str, Any]]] = []
        if not firing.to:
            return [
                (
                    "escalation_not_sent",
                    {"reason": "no escalation numbers configured", "firing": firing.number},
                )
            ]
        for to in firing.to:
            for channel in firing.channels:
                outcomes.append(self._send_one(channel, to, text, firing.number, alarm_id))
        return outcomes

    def _send_one(
        self, channel: str, to: str, text: str, number: int, alarm_id: int
    ) -> tuple[str, dict[str, Any]]:
        errors: list[str] = []
        for attempt, delay in enumerate((0.0, *self.retry_delays_s)):
            if delay:
                time.sleep(delay)
            try:
                if channel == "sms":
                    sid = self.notifier.send_sms(to, text)
                else:
                    action = (
                        f"{self.public_url}/twilio/gather?alarm={alarm_id}"
                        if self.public_url
                        else None
                    )
                    status = (
                        f"{self.public_url}/twilio/status?alarm={alarm_id}"
                        if self.public_url
                        else None
                    )
                    sid = self.notifier.call(to, gather_twiml(text, action), status)
                return (
                    "escalated",
                    {
                        "channel": channel,
                        "to": to,
                        "sid": sid,
                        "attempts": attempt + 1,
                        "firing": number,
                    },
                )
            except NotSent as exc:
                errors.append(str(exc))
                if "not configured" in str(exc):
                    break  # no point retrying a missing configuration
        return (
            "escalation_failed",
            {
                "channel": channel,
                "to": to,
                "errors": errors,
                "attempts": len(errors),
                "firing": number,
            },
        )


def _claim(session: Any, statement: Any) -> bool:
    """Run a conditional UPDATE; True when it changed the row (this process holds the claim)."""
    return bool(session.execute(statement).rowcount == 1)


def outcome_status(outcomes: list[tuple[str, dict[str, Any]]]) -> str:
    """One word for a firing's outcomes: "sent" when every message and call went out,
    "not_sent" when nothing could be sent (no numbers, SMS/voice not configured), else
    "failed" (at least one send failed: someone should look)."""
    if outcomes and all(action == "escalated" for action, _ in outcomes):
        return "sent"
    unconfigured = all(
        action == "escalation_not_sent"
        or (
            action == "escalation_failed"
            and all("not configured" in e for e in detail.get("errors", []))
        )
        for action, detail in outcomes
    )
    return "not_sent" if unconfigured else "failed"


def _parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _message(alarm: Alarm) -> str:
    kind = {
        "sos": "NOODKNOP",
        "zone_violation": "GEBIEDSVERBOD",
        "tamper": "SABOTAGE",
        "proximity_violation": "CONTACTVERBOD",
    }.get(alarm.type, alarm.type.upper())
    return (
        f"AWARE alarm {alarm.id} ({kind}, prio {alarm.priority}) is niet geaccepteerd. "
        "Open de meldkamerconsole."
    )


class EscalatingPublisher:
    """Publishes like the wrapped publisher and arms escalation for every new alarm."""

    def __init__(self, inner: Any, escalator: Escalator):
        self.inner = inner
        self.escalator = escalator

    def alarm_new(self, alarm: dict[str, Any]) -> None:
        self.inner.alarm_new(alarm)
        self.escalator.arm_new(alarm)

    def alarm_updated(self, alarm: dict[str, Any]) -> None:
        self.inner.alarm_updated(alarm)
