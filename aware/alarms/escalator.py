"""Escalation timers in the web process: unacknowledged alarms are texted and called about.

One thread keeps a heap of due firings. A firing loads the alarm, acts only if it is still open
and still carries the token the timer was armed with (`escalation.should_fire`), sends through
the notifier outside any transaction (retrying with backoff), records what happened on the
timeline, and arms the next firing. After a restart `rearm` rebuilds the heap from the database.
Intake never waits on any of this.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import select, update

from aware import metrics
from aware.adapters.notify import Notifier, NotSent
from aware.alarms import escalation as esc
from aware.alarms.models import Alarm, AlarmLogEntry
from aware.alarms.phone import gather_twiml
from aware.alarms.services import Actor, alarm_dicts, log_entry, next_seq
from aware.risk.models import Case

log = logging.getLogger(__name__)
SYSTEM = Actor("system", None, "escalatie")
RETRY_DELAYS_S = (1.0, 2.0, 4.0)
# Approach alarms that text the victim of a case that opted in (Case.victim_sms).
VICTIM_ALARM_TYPES = frozenset({"proximity_warning", "proximity_violation"})
VICTIM_ACTIONS = ("victim_notified", "victim_notification_failed", "victim_notification_not_sent")
# No names, distances or anything about the perpetrator: the phone may not be hers alone.
VICTIM_TEXT = (
    "AWARE: mogelijk is de persoon met een contactverbod in de buurt. Zoek een veilige plek. "
    "Bij direct gevaar: druk op uw alarmknop of bel 112."
)
VICTIM_SMS = "victim"  # heap entries of this kind text the victim instead of escalating
VICTIM_SMS_FRESH_S = 600  # after a restart, only warnings younger than this still text her
_PHONE_LIKE = re.compile(r"\+?\d[\d ()-]{6,}\d")


class Escalator:
    """Arms, fires and re-arms escalation timers for open alarms."""

    def __init__(
        self,
        sessions: Callable[[], Any],
        notifier: Notifier,
        publisher: Any,
        default_chain: esc.Chain,
        clock: Callable[[], dt.datetime],
        retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S,
        public_url: str | None = None,
        workers: int = 8,
    ):
        self.sessions = sessions
        self.notifier = notifier
        self.publisher = publisher
        self.default_chain = default_chain
        self.clock = clock
        self.retry_delays_s = retry_delays_s
        self.public_url = public_url
        # (due, tie-breaker, alarm id, firing number, token, kind)
        self._heap: list[tuple[dt.datetime, int, int, int, str | None, str]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        # Sends (with their retries) run on workers, so one slow or failing provider call never
        # holds up another alarm's escalation; the same firing is never in flight twice.
        self._workers = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="aware-esc")
        self._in_flight: set[tuple[int, int, str]] = set()

    def arm(
        self,
        alarm_id: int,
        due: dt.datetime,
        number: int,
        token: str | None,
        kind: str = "escalation",
    ) -> None:
        """Arm the firing `number` of an alarm at `due`, carrying the alarm's escalation token
        (None for a first firing armed straight after raising: the alarm's own is used).
        Kind VICTIM_SMS instead texts the victim of the alarm's case (if she opted in)."""
        with self._cond:
            heapq.heappush(self._heap, (due, next(self._order), alarm_id, number, token, kind))
            self._cond.notify()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="aware-escalation", daemon=True
                )
                self._thread.start()

    def arm_new(self, alarm: dict[str, Any]) -> None:
        """After an alarm is committed: arm the first firing of its own (copied) chain; none
        when that chain never escalates."""
        due = alarm.get("escalation_due_at")
        if due is not None:
            self.arm(alarm["id"], _parse_time(due), 0, None)
        if alarm.get("type") in VICTIM_ALARM_TYPES and alarm.get("case_id") is not None:
            # Whether she opted in is read on the escalation thread, never on intake's.
            self.arm(alarm["id"], self.clock(), 0, None, VICTIM_SMS)

    def rearm(self) -> int:
        """After a restart: arm the next firing of every open alarm still carrying a token."""
        with self.sessions() as session:
            rows = session.execute(
                select(
                    Alarm.id,
                    Alarm.received_at,
                    Alarm.escalation,
                    Alarm.escalations_fired,
                    Alarm.escalation_token,
                ).where(Alarm.status == "open", Alarm.escalation_token.is_not(None))
            ).all()
        for alarm_id, received_at, chain_data, fired, token in rows:
            firing = esc.next_firing(self._chain(chain_data), received_at, fired)
            if firing is not None:
                self.arm(alarm_id, firing.at, firing.number, token)
        self._rearm_victim_texts()
        return len(rows)

    def _rearm_victim_texts(self) -> None:
        """A victim text that a crash interrupted is sent after the restart, but only while
        the warning is still fresh: an old warning would only frighten her."""
        since = self.clock() - dt.timedelta(seconds=VICTIM_SMS_FRESH_S)
        texted = select(AlarmLogEntry.alarm_id).where(AlarmLogEntry.action.in_(VICTIM_ACTIONS))
        with self.sessions() as session:
            pending = session.scalars(
                select(Alarm.id)
                .join(Case, Case.id == Alarm.case_id)
                .where(
                    Alarm.type.in_(VICTIM_ALARM_TYPES),
                    Alarm.received_at >= since,
                    Alarm.status != "resolved",
                    Case.victim_sms.is_(True),
                    Alarm.id.not_in(texted),
                )
            ).all()
        for alarm_id in pending:
            self.arm(alarm_id, self.clock(), 0, None, VICTIM_SMS)

    def _chain(self, data: dict[str, Any] | None) -> esc.Chain:
        try:
            return esc.parse_chain(data) if data else self.default_chain
        except esc.ChainInvalid:
            return self.default_chain

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][0] > self.clock():
                    timeout = None
                    if self._heap:
                        timeout = max(0.0, (self._heap[0][0] - self.clock()).total_seconds())
                    self._cond.wait(timeout)
                due, _, alarm_id, number, token, kind = heapq.heappop(self._heap)
                key = (alarm_id, number, kind)
                if key in self._in_flight:
                    continue  # a duplicate timer of a firing already under way
                self._in_flight.add(key)
            self._workers.submit(self._work, key, token)

    def _work(self, key: tuple[int, int, str], token: str | None) -> None:
        alarm_id, number, kind = key
        try:
            if kind == VICTIM_SMS:
                self.notify_victim(alarm_id)
            else:
                self.fire(alarm_id, number, token)
        except Exception:  # a broken firing must not stop the others
            log.exception("%s %s of alarm %s failed", kind, number, alarm_id)
        finally:
            with self._cond:
                self._in_flight.discard(key)

    def fire(self, alarm_id: int, number: int, timer_token: str | None) -> None:
        """Carry out firing `number` if the alarm still needs it."""
        with self.sessions() as session:
            alarm = session.get(Alarm, alarm_id)
            if alarm is None or alarm.escalations_fired != number:
                return  # gone, or this firing already happened (a duplicate timer)
            token = alarm.escalation_token
            if timer_token is None:
                timer_token = token or ""  # first firing, armed before the token was known
            if not esc.should_fire(alarm.status, token, timer_token):
                return
            chain = self._chain(alarm.escalation)
            received_at = alarm.received_at
            firing = esc.next_firing(chain, received_at, number)
            text = _message(alarm)
            if firing is None:
                session.rollback()
                return
            # Claim the firing before sending: of several processes holding a timer for it
            # (a web process and a scheduler after restarts, or two web processes), exactly
            # one sends. A crash between claim and send skips this step, never the chain:
            # the restart re-arms the next one.
            claimed = session.execute(
                update(Alarm)
                .where(
                    Alarm.id == alarm_id,
                    Alarm.escalations_fired == number,
                    Alarm.status == "open",
                    Alarm.escalation_token == token,
                )
                .values(escalations_fired=number + 1)
            ).rowcount
            session.commit()
        if claimed != 1:
            return
        outcomes = self._send(firing, text, alarm_id)
        metrics.count_escalations(outcomes)
        with self.sessions() as session:
            alarm = session.execute(
                select(Alarm).where(Alarm.id == alarm_id).with_for_update()
            ).scalar_one()
            if alarm.escalation_token != token:
                session.rollback()  # acknowledged while we were sending: record nothing more
                return
            now = self.clock()
            for action, detail in outcomes:
                log_entry(session, alarm_id, action, SYSTEM, now, detail)
            session.execute(
                update(Alarm)
                .where(Alarm.id == alarm_id)
                .values(
                    escalation_status=outcome_status(outcomes),
                    seq=next_seq(session.connection()),
                )
            )
            session.refresh(alarm)
            (published,) = alarm_dicts(session.connection(), [alarm], now)
            session.commit()
        self.publisher.alarm_updated(published)
        following = esc.next_firing(chain, received_at, number + 1)
        if following is not None:
            self.arm(alarm_id, following.at, following.number, token)

    def notify_victim(self, alarm_id: int) -> None:
        """Text the victim once about an approach alarm, if her case opted in and has her
        number. The timeline records the outcome, never the number; opted out: nothing at
        all is sent or recorded."""
        with self.sessions() as session:
            alarm = session.get(Alarm, alarm_id)
            if alarm is None or alarm.type not in VICTIM_ALARM_TYPES or alarm.case_id is None:
                return
            case = session.get(Case, alarm.case_id)
            if case is None or not case.victim_sms:
                return
            done = session.scalar(
                select(AlarmLogEntry.id)
                .where(AlarmLogEntry.alarm_id == alarm_id, AlarmLogEntry.action.in_(VICTIM_ACTIONS))
                .limit(1)
            )
            phone = case.victim_phone
            session.rollback()
        if done is not None:
            return  # already texted (or tried): once per alarm
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
