"""A bulk upload (a store-and-forward buffer, or a tracker flooding) is stored in short
transactions of at most BULK_CHUNK events, so an SOS never waits for a whole 1,000-event
batch; to the device it is still one request with one answer."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from aware.devices import views
from aware.devices.models import DeviceEvent
from tests.conftest import now


def _fixes(n: int, bad: set[int]) -> list[dict]:
    t0 = now() - dt.timedelta(hours=2)
    return [
        {
            "event_id": f"b-{i}",
            "type": "position",
            "occurred_at": (t0 + dt.timedelta(seconds=5 * i)).isoformat(),
            "position": {"lat": 95.0 if i in bad else 52.09, "lon": 5.12, "accuracy_m": 8},
        }
        for i in range(n)
    ]


@pytest.fixture
def commits(monkeypatch):
    """The number of events of each transaction intake stores."""
    sizes: list[int] = []
    real = views._ingest_once

    def counting(*args, **kwargs):
        sizes.append(len(args[1]))
        return real(*args, **kwargs)

    monkeypatch.setattr(views, "_ingest_once", counting)
    return sizes


def test_a_bulk_upload_is_stored_in_chunks_and_answered_once(client, device, session, commits):
    n = 2 * views.BULK_CHUNK + 50
    bad = {7, views.BULK_CHUNK + 3, n - 1}
    r = client.post("/api/v1/ingest", json={"events": _fixes(n, bad)}, headers=device["headers"])
    assert r.status_code == 202, r.get_json()
    body = r.get_json()
    # The three broken fixes are refused while parsing; the rest go in three transactions.
    assert commits == [views.BULK_CHUNK, views.BULK_CHUNK, 50 - len(bad)]
    assert body["accepted"] == n - len(bad) and body["duplicates"] == 0
    assert [x["index"] for x in body["rejected"]] == sorted(bad)
    assert [x["event_id"] for x in body["rejected"]] == [f"b-{i}" for i in sorted(bad)]
    stored = session.scalar(
        select(func.count()).select_from(DeviceEvent).where(DeviceEvent.device_id == device["id"])
    )
    assert stored == n - len(bad)
    # The device retries the whole buffer (say the answer was lost): nothing is stored twice.
    again = client.post(
        "/api/v1/ingest", json={"events": _fixes(n, bad)}, headers=device["headers"]
    ).get_json()
    assert again["accepted"] == 0 and again["duplicates"] == n - len(bad)


def test_a_batch_with_an_alarm_event_is_one_transaction(client, device, commits):
    events = _fixes(views.BULK_CHUNK + 20, set())
    events.append({"event_id": "sos-1", "type": "sos", "occurred_at": now().isoformat()})
    r = client.post("/api/v1/ingest", json={"events": events}, headers=device["headers"])
    assert r.status_code == 202 and len(r.get_json()["alarm_ids"]) == 1
    assert commits == [len(events)]
