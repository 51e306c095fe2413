"""The floor of this stack: Flask + Flask-SocketIO that stores one row and emits it.

One endpoint, POST /ingest: insert one row into SQLite (WAL, synchronous=FULL, BEGIN
IMMEDIATE, as aware/db.py does), commit, emit `alarm.new` {"id": rowid} to every client in
the /dispatch room, answer 202. No auth, no validation beyond "a JSON object". Served exactly
as `aware serve` serves: async_mode="threading" on Werkzeug's threaded server.

    python bench/floor_app.py --port 5055 --db /tmp/floor.db
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sqlite3
import threading
from typing import Any

from flask import Flask, request
from flask_socketio import SocketIO, join_room

NAMESPACE = "/dispatch"
ROOM = "consoles"


def create_app(db_path: str) -> tuple[Flask, SocketIO]:
    app = Flask(__name__)
    socketio = SocketIO(
        app,
        async_mode="threading",
        cors_allowed_origins=[],
        logger=False,
        engineio_logger=False,
    )
    # One connection shared by Werkzeug's request threads; the lock serialises writers the way
    # SQLite's single write lock would anyway.
    conn = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None, timeout=10)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS alarm ("
        " id INTEGER PRIMARY KEY,"
        " event_id TEXT NOT NULL,"
        " received_at TEXT NOT NULL,"
        " body TEXT NOT NULL)"
    )
    lock = threading.Lock()

    @app.post("/ingest")
    def ingest() -> Any:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return {"error": {"code": "malformed_json", "message": "expected an object"}}, 400
        received = dt.datetime.now(dt.UTC).isoformat()
        with lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                cur = conn.execute(
                    "INSERT INTO alarm (event_id, received_at, body) VALUES (?, ?, ?)",
                    (str(body.get("event_id", "")), received, json.dumps(body)),
                )
                rowid = cur.lastrowid
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        socketio.emit("alarm.new", {"id": rowid}, namespace=NAMESPACE, to=ROOM)
        return {"accepted": 1, "duplicates": 0, "alarm_ids": [rowid]}, 202

    @app.get("/readyz")
    def readyz() -> Any:
        return {"status": "ready"}

    @socketio.on("connect", namespace=NAMESPACE)
    def on_connect(auth: Any = None) -> None:
        join_room(ROOM)

    return app, socketio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True, help="SQLite file to write to")
    args = parser.parse_args()
    app, socketio = create_app(args.db)
    print(f"floor serving on http://{args.host}:{args.port} (SQLite {args.db})", flush=True)
    socketio.run(app, host=args.host, port=args.port, allow_unsafe_werkzeug=True, log_output=False)


if __name__ == "__main__":
    main()
