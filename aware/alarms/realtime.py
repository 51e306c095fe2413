"""Socket.IO namespace /dispatch: token-checked consoles, a snapshot on connect, live alarms."""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from typing import Any

from flask import request
from flask_socketio import ConnectionRefusedError, Namespace, emit, join_room
from sqlalchemy import select

from aware import metrics
from aware.adapters.realtime import NAMESPACE, ROOM, STATUS_EVENT
from aware.alarms import services
from aware.alarms.models import Alarm, Counter
from aware.audit import services as audit
from aware.auth.services import user_for_token

log = logging.getLogger(__name__)
DISPATCH_ROLES = ("dispatcher", "admin")


class DispatchNamespace(Namespace):
    """Consoles join the dispatch room after a token check and get every active alarm."""

    def __init__(self, app: Any):
        super().__init__(NAMESPACE)
        self.app = app
        # sid -> username, to name the console on the timeline when it confirms delivery.
        self.consoles: dict[str, str] = {}
        self.recorder = DeliveryRecorder(app)

    def on_connect(self, auth: Any = None) -> None:
        try:
            self._connect(auth)
        except ConnectionRefusedError:
            raise
        except Exception:
            # Logged here: Flask-SocketIO would otherwise retry the handler without `auth`.
            log.exception("console connect failed")
            raise ConnectionRefusedError("internal error") from None

    def _connect(self, auth: Any) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        st = self.app.extensions["aware"]
        with st.sessions() as session:
            user = user_for_token(session, token or "", st.clock())
            if user is None or user.role not in DISPATCH_ROLES:
                raise ConnectionRefusedError("unauthorized: dispatcher or admin token required")
            sid = request.sid  # type: ignore[attr-defined]
            self.consoles[sid] = user.username
            # Join first, then read: an alarm committed in between arrives twice (snapshot and
            # alarm.new) and the console merges it by id and seq; it is never missed.
            join_room(ROOM)
            # The change counter first: a console drops an alarm it holds that is missing from
            # the snapshot only when the alarm's own seq is not newer than this.
            seq = _current_seq(session)
            alarms = services.alarm_dicts(
                session.connection(), services.active_alarms(session), st.clock()
            )
            audit.access(
                session,
                user,
                audit.CONSOLE_SNAPSHOT,
                object_type="alarms",
                case_ids=[a["case_id"] for a in alarms if a["case_id"]],
                detail={"alarms": len(alarms)},
                at=st.clock(),
            )
        # An alarm that reaches a console in the snapshot has been delivered too.
        undelivered = [a["id"] for a in alarms if a["delivered_at"] is None]
        emit(
            "alarms.snapshot",
            {"alarms": alarms, "seq": seq},
            callback=self._snapshot_ack(sid, undelivered),
        )
        health = self.app.extensions.get("aware_redis")
        if health is not None and health.status() != "up":
            emit(STATUS_EVENT, {"redis": health.status()})
        log.info("console connected (%d active alarms sent)", len(alarms))

    def resync(self) -> None:
        """Send every console of this process a fresh snapshot (Redis is back: alarms taken in
        by other processes meanwhile never reached them)."""
        st = self.app.extensions["aware"]
        try:
            with self.app.app_context(), st.sessions() as session:
                seq = _current_seq(session)
                alarms = services.alarm_dicts(
                    session.connection(), services.active_alarms(session), st.clock()
                )
                session.rollback()
            undelivered = [a["id"] for a in alarms if a["delivered_at"] is None]
            server = self.socketio.server
            try:
                participants = list(server.manager.get_participants(NAMESPACE, ROOM))
            except KeyError:
                participants = []
            for sid, _eio_sid in participants:
                server.emit(
                    "alarms.snapshot",
                    {"alarms": alarms, "seq": seq},
                    namespace=NAMESPACE,
                    to=sid,
                    callback=self._snapshot_ack(sid, undelivered),
                    ignore_queue=True,
                )
            log.info("resync: %d consoles sent %d active alarms", len(participants), len(alarms))
        except Exception:
            # Consoles keep what they have; they get a snapshot again on their next connect.
            log.exception("resync of the consoles failed")

    def _snapshot_ack(self, sid: str, alarm_ids: list[int]) -> Any:
        def ack(*_args: Any) -> None:
            at = dt.datetime.now(dt.UTC)
            for alarm_id in alarm_ids:
                self.record_delivery(alarm_id, sid, at)

        return ack

    def on_disconnect(self, reason: Any = None) -> None:
        self.consoles.pop(request.sid, None)  # type: ignore[attr-defined]

    def record_delivery(self, alarm_id: int, sid: str, at: dt.datetime) -> None:
        """Queue the first console confirmation of an alarm for the timeline."""
        self.recorder.add(alarm_id, services.Actor("console", sid, self.consoles.get(sid)), at)


def _current_seq(session: Any) -> int:
    """The newest seq handed out so far (0 before the first alarm)."""
    value = session.execute(select(Counter.value).where(Counter.name == services.SEQ)).scalar()
    return int(value or 0)


class DeliveryRecorder:
    """Writes first deliveries to the timeline in small batches from one background thread.

    Acks arrive on socket threads within milliseconds of each alarm; writing each at once would
    put a second write transaction beside every intake. The time recorded is the ack's own.
    """

    def __init__(self, app: Any, batch_window_s: float = 1.0):
        self.app = app
        self.batch_window_s = batch_window_s
        self._queue: queue.Queue[tuple[int, services.Actor, dt.datetime]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def add(self, alarm_id: int, console: services.Actor, at: dt.datetime) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="aware-delivery", daemon=True
                    )
                    self._thread.start()
        self._queue.put((alarm_id, console, at))

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            time.sleep(self.batch_window_s)
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            self.write(batch)

    def write(self, batch: list[tuple[int, services.Actor, dt.datetime]]) -> None:
        st = self.app.extensions["aware"]
        try:
            with st.sessions() as session:
                waiting = _undelivered_received_at(session, batch)
                services.record_deliveries(session, batch)
            _observe_latency(waiting, batch)
        except Exception:
            # Evidence is not dropped on a database hiccup: back in the queue for the next batch.
            log.exception("could not record delivery of %d alarms; retrying", len(batch))
            for item in batch:
                self._queue.put(item)
            time.sleep(1.0)


def _undelivered_received_at(
    session: Any, batch: list[tuple[int, services.Actor, dt.datetime]]
) -> dict[int, dt.datetime]:
    """received_at of the batch's alarms not yet delivered, locked as record_deliveries locks
    them (same transaction), so each alarm's latency is observed once, by one process."""
    ids = sorted({alarm_id for alarm_id, _console, _at in batch})
    rows = session.execute(
        select(Alarm.id, Alarm.received_at)
        .where(Alarm.id.in_(ids), Alarm.delivered_at.is_(None))
        .with_for_update()
    ).all()
    return {int(alarm_id): received_at for alarm_id, received_at in rows}


def _observe_latency(
    waiting: dict[int, dt.datetime], batch: list[tuple[int, services.Actor, dt.datetime]]
) -> None:
    """Intake-to-console latency: the first console confirmation minus received_at."""
    first: dict[int, dt.datetime] = {}
    for alarm_id, _console, at in batch:
        if alarm_id in waiting and (alarm_id not in first or at < first[alarm_id]):
            first[alarm_id] = at
    for alarm_id, at in first.items():
        metrics.observe_delivery((at - waiting[alarm_id]).total_seconds())
