"""The SQLite writer queue of a process serves an SOS before a tracker's queued batches."""

from __future__ import annotations

import threading
import time

from aware.db import ALARM, BULK, NORMAL, PriorityLock


def _wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_waiters_go_by_priority_then_arrival():
    lock = PriorityLock()
    assert lock.acquire()
    order: list[str] = []
    threads = []
    for name, prio in (("bulk-1", BULK), ("bulk-2", BULK), ("sos", ALARM), ("ack", NORMAL)):

        def take(name: str = name, prio: int = prio) -> None:
            assert lock.acquire(prio, timeout=30)
            order.append(name)
            lock.release()

        t = threading.Thread(target=take)
        t.start()
        threads.append(t)
        n = len(threads)
        _wait_until(lambda n=n: lock.waiting() == n)  # queued in this arrival order
    lock.release()
    for t in threads:
        t.join(10)
    assert order == ["sos", "ack", "bulk-1", "bulk-2"]


def test_a_waiter_that_times_out_leaves_the_queue_and_the_next_one_goes():
    lock = PriorityLock()
    assert lock.acquire()
    assert lock.acquire(ALARM, timeout=0.05) is False
    assert lock.waiting() == 0
    got = threading.Event()

    def take() -> None:
        if lock.acquire(BULK, timeout=30):
            got.set()
            lock.release()

    t = threading.Thread(target=take)
    t.start()
    _wait_until(lambda: lock.waiting() == 1)
    assert not got.is_set()  # still held
    lock.release()
    t.join(10)
    assert got.is_set()
    assert lock.acquire(timeout=0)  # free again
    lock.release()
