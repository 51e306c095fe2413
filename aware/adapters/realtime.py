"""Publishing alarm changes to dispatch consoles.

Services call a `Publisher` only after their commit. The Socket.IO implementation emits to each
connected console separately with an acknowledgement callback, so the first console that
confirms receipt can be recorded on the alarm's timeline.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import socketio

log = logging.getLogger(__name__)

NAMESPACE = "/dispatch"
ROOM = "consoles"


class Publisher(Protocol):
    """What services need to tell consoles about alarms."""

    def alarm_new(self, alarm: dict[str, Any]) -> None: ...

    def alarm_updated(self, alarm: dict[str, Any]) -> None: ...


class RecordingPublisher:
    """In-memory publisher for unit and integration tests."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def alarm_new(self, alarm: dict[str, Any]) -> None:
        self.events.append(("alarm.new", alarm))

    def alarm_updated(self, alarm: dict[str, Any]) -> None:
        self.events.append(("alarm.updated", alarm))


class JsonPacket(socketio.packet.Packet):
    """Socket.IO packets of this service carry JSON only: skip the recursive scan for binary
    attachments that the default packet runs on every emit (per console, on the alarm path)."""

    uses_binary_events = False


DeliveredCallback = Callable[[int, str, dt.datetime], None]


class SocketIOPublisher:
    """Emits `alarm.new` / `alarm.updated` to every console in the dispatch room.

    Single process: each console gets its own emit, `alarm.new` with an acknowledgement
    callback whose first answer is recorded as the alarm's delivery. With a message queue
    (AWARE_REDIS_URL), the emit goes to the queue from a background thread, so intake never
    waits on Redis; each process then delivers to its own consoles the same way (see
    `DispatchRedisManager`).
    """

    def __init__(
        self, socketio: Any, on_delivered: DeliveredCallback | None = None, queued: bool = False
    ):
        self.socketio = socketio
        self.on_delivered = on_delivered
        self.queued = queued
        # Alarms whose first delivery is already recorded: later acks need no database write.
        self._delivered: set[int] = set()
        self._lock = threading.Lock()
        self._outbox: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self._sender: threading.Thread | None = None

    def alarm_new(self, alarm: dict[str, Any]) -> None:
        self._publish("alarm.new", alarm)

    def alarm_updated(self, alarm: dict[str, Any]) -> None:
        self._publish("alarm.updated", alarm)

    def _publish(self, event: str, alarm: dict[str, Any]) -> None:
        if not self.queued:
            self.emit_local(event, alarm)
            return
        if self._sender is None:
            with self._lock:
                if self._sender is None:
                    self._sender = threading.Thread(
                        target=self._send_forever, name="aware-publisher", daemon=True
                    )
                    self._sender.start()
        self._outbox.put((event, alarm))

    def _send_forever(self) -> None:
        while True:
            event, alarm = self._outbox.get()
            while True:
                try:
                    self.socketio.emit(event, alarm, namespace=NAMESPACE, to=ROOM)
                    break
                except Exception:  # the queue is down: keep the order, retry, never drop
                    log.exception("publishing %s of alarm %s failed; retrying", event, alarm["id"])
                    time.sleep(1)

    def emit_local(self, event: str, alarm: dict[str, Any]) -> None:
        """Emit to this process's consoles, one by one (a broken one never blocks the rest)."""
        server = self.socketio.server
        try:
            participants = list(server.manager.get_participants(NAMESPACE, ROOM))
        except KeyError:  # nobody has ever joined the room
            participants = []
        want_ack = event == "alarm.new" and alarm["id"] not in self._delivered
        for sid, _eio_sid in participants:
            try:
                server.emit(
                    event,
                    alarm,
                    namespace=NAMESPACE,
                    to=sid,
                    callback=self._ack_callback(alarm["id"], sid) if want_ack else None,
                    ignore_queue=True,
                )
            except Exception:
                log.exception("emit %s of alarm %s to a console failed", event, alarm["id"])

    def _ack_callback(self, alarm_id: int, sid: str) -> Callable[..., None]:
        def ack(*_args: Any) -> None:
            at = dt.datetime.now(dt.UTC)
            with self._lock:
                if alarm_id in self._delivered:
                    return
                self._delivered.add(alarm_id)
                if len(self._delivered) > 100_000:
                    self._delivered.clear()
            if self.on_delivered is not None:
                self.on_delivered(alarm_id, sid, at)

        return ack


def dispatch_redis_manager(url: str, channel: str) -> Any:
    """A Socket.IO Redis manager whose processes deliver alarms to their own consoles through
    the publisher's per-console emit, so every process records first deliveries too."""

    class DispatchRedisManager(socketio.RedisManager):
        local_emit: Callable[[str, dict[str, Any]], None] | None = None

        def _handle_emit(self, message: dict[str, Any]) -> None:
            data = message.get("data")
            if (
                self.local_emit is not None
                and message.get("namespace") == NAMESPACE
                and message.get("room") == ROOM
                and message.get("event") in ("alarm.new", "alarm.updated")
                and isinstance(data, list)
                and len(data) == 1
                and isinstance(data[0], dict)
            ):
                self.local_emit(message["event"], data[0])
                return
            super()._handle_emit(message)

    return DispatchRedisManager(url, channel=channel)
