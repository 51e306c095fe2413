"""Publishing alarm changes to dispatch consoles.

Services call a `Publisher` only after their commit. The Socket.IO implementation emits to each
connected console separately with an acknowledgement callback, so the first console that
confirms receipt can be recorded on the alarm's timeline.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

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


DeliveredCallback = Callable[[int, str], None]


class SocketIOPublisher:
    """Emits `alarm.new` / `alarm.updated` to every console in the dispatch room."""

    def __init__(self, socketio: Any, on_delivered: DeliveredCallback | None = None):
        self.socketio = socketio
        self.on_delivered = on_delivered
        # Alarms whose first delivery is already recorded: later acks need no database write.
        self._delivered: set[int] = set()
        self._lock = threading.Lock()

    def alarm_new(self, alarm: dict[str, Any]) -> None:
        self._emit("alarm.new", alarm)

    def alarm_updated(self, alarm: dict[str, Any]) -> None:
        self._emit("alarm.updated", alarm)

    def _emit(self, event: str, alarm: dict[str, Any]) -> None:
        server = self.socketio.server
        try:
            participants = list(server.manager.get_participants(NAMESPACE, ROOM))
        except KeyError:  # nobody has ever joined the room
            participants = []
        for sid, _eio_sid in participants:
            try:
                self.socketio.emit(
                    event,
                    alarm,
                    namespace=NAMESPACE,
                    to=sid,
                    callback=self._ack_callback(alarm["id"], sid),
                )
            except Exception:  # one broken console must not keep the alarm from the others
                log.exception("emit %s of alarm %s to a console failed", event, alarm["id"])

    def _ack_callback(self, alarm_id: int, sid: str) -> Callable[..., None]:
        def ack(*_args: Any) -> None:
            with self._lock:
                if alarm_id in self._delivered:
                    return
                self._delivered.add(alarm_id)
                if len(self._delivered) > 100_000:
                    self._delivered.clear()
            if self.on_delivered is not None:
                self.socketio.start_background_task(self.on_delivered, alarm_id, sid)

        return ack
