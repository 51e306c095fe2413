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

import redis
import socketio
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

NAMESPACE = "/dispatch"
ROOM = "consoles"
STATUS_EVENT = "service.status"  # {"redis": "up" | "down"} to consoles
RESYNC_EVENT = "aware.resync"  # between processes only: send your consoles a fresh snapshot
LISTEN_RETRY_S = 1.0


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
        self.health: RedisHealth | None = None

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
            try:
                # The manager hands the message to this process's consoles first, then to Redis.
                self.socketio.emit(event, alarm, namespace=NAMESPACE, to=ROOM)
                if self.health is not None:
                    self.health.mark_publish(True)
            except Exception:
                # Redis is down. This process's consoles have it already; the consoles of the
                # other processes get it from the fresh snapshot every process sends its
                # consoles once Redis is back (RESYNC). Retrying here would only repeat it.
                log.error("publishing %s of alarm %s to Redis failed", event, alarm.get("id"))
                if self.health is not None:
                    self.health.mark_publish(False)

    def status_changed(self, status: str) -> None:
        """Redis went down or came back: tell this process's consoles; once back, have every
        process send its consoles a fresh snapshot (what they missed meanwhile)."""
        try:
            self.socketio.server.emit(
                STATUS_EVENT, {"redis": status}, namespace=NAMESPACE, to=ROOM, ignore_queue=True
            )
        except Exception:
            log.exception("could not tell consoles that Redis is %s", status)
        if status == "up":
            self._publish(RESYNC_EVENT, {})

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


class RedisHealth:
    """Whether this process can publish to and listen on Redis.

    Down as soon as a publish or the listener fails, or a ping (every `interval_s`) does not
    answer; up again once Redis answers, the listener is subscribed again and nothing failed
    since. Each change is handed to `on_change` ("up" | "down") from one place at a time.
    """

    def __init__(self, url: str, interval_s: float = 0.5):
        self.client = redis.Redis.from_url(
            url, socket_timeout=2, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0)
        )
        self.interval_s = interval_s
        self.on_change: Callable[[str], None] | None = None
        self._listening = True
        self._publish_failed = False
        self._ping_ok = True
        self._status = "up"
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def status(self) -> str:
        """ "up" or "down"."""
        return self._status

    def start(self) -> None:
        """Start the ping thread (once)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="aware-redis-health", daemon=True
                )
                self._thread.start()

    def mark_listening(self, ok: bool) -> None:
        self._listening = ok
        self._evaluate()

    def mark_publish(self, ok: bool) -> None:
        if not ok:
            self._publish_failed = True
            self._evaluate()
        elif self._publish_failed:
            self._publish_failed = False
            self._evaluate()

    def _watch(self) -> None:
        while True:
            try:
                self.client.ping()
                ok = True
            except Exception:
                ok = False
            self._ping_ok = ok
            if ok and self._publish_failed and self._status == "down":
                # Redis answers again: the next publish shows whether it takes messages.
                self._publish_failed = False
            self._evaluate()
            time.sleep(self.interval_s)

    def _evaluate(self) -> None:
        with self._lock:
            up = self._ping_ok and self._listening and not self._publish_failed
            status = "up" if up else "down"
            if status == self._status:
                return
            self._status = status
            if status == "down":
                log.error("Redis is down: alarms reach this process's consoles only")
            else:
                log.warning("Redis is back: consoles are sent a fresh snapshot")
            if self.on_change is not None:
                self.on_change(status)


def dispatch_redis_manager(url: str, channel: str) -> Any:
    """A Socket.IO Redis manager whose processes deliver alarms to their own consoles through
    the publisher's per-console emit, so every process records first deliveries too.

    Unlike python-socketio's own, a failed publish raises (the publisher must know Redis is
    down), publishing has timeouts, and the listener retries every second (not with a backoff
    up to a minute), reporting to `health`; RESYNC_EVENT messages call `on_resync`.
    """

    class DispatchRedisManager(socketio.RedisManager):
        local_emit: Callable[[str, dict[str, Any]], None] | None = None
        on_resync: Callable[[], None] | None = None
        health: RedisHealth | None = None

        def _handle_emit(self, message: dict[str, Any]) -> None:
            data = message.get("data")
            if message.get("namespace") == NAMESPACE and message.get("event") == RESYNC_EVENT:
                if self.on_resync is not None:
                    self.on_resync()
                return
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

        def _publish(self, data: Any) -> Any:
            client = self.health.client if self.health is not None else None
            if client is None:
                return super()._publish(data)
            return client.publish(self.channel, self.json.dumps(data))

        def _redis_listen_with_retries(self) -> Any:
            subscribed = False
            while True:
                try:
                    if not subscribed:
                        self._redis_connect()
                        self.pubsub.subscribe(self.channel)
                        subscribed = True
                        if self.health is not None:
                            self.health.mark_listening(True)
                    yield from self.pubsub.listen()
                except Exception as exc:
                    if subscribed or self.health is None or self.health.status() == "up":
                        log.error("Redis listener: %s; retrying every %.0f s", exc, LISTEN_RETRY_S)
                    subscribed = False
                    if self.health is not None:
                        self.health.mark_listening(False)
                    time.sleep(LISTEN_RETRY_S)

    # No silent reconnect inside redis-py: the listener must notice every outage, so that it
    # subscribes again before this process's consoles get their fresh snapshot.
    return DispatchRedisManager(
        url, channel=channel, redis_options={"retry": Retry(NoBackoff(), 0)}
    )


def wire_redis(
    manager: Any, publisher: SocketIOPublisher, resync: Callable[[], None]
) -> RedisHealth:
    """Connect the Redis manager, the publisher and the consoles' resync; start watching."""
    health = RedisHealth(manager.redis_url)
    manager.local_emit = publisher.emit_local
    manager.on_resync = resync
    manager.health = health
    publisher.health = health
    health.on_change = publisher.status_changed
    health.start()
    return health
