"""A local stand-in for Twilio's REST API (Messages.json and Calls.json), for the real client.

It checks HTTP basic auth (account sid + auth token) like Twilio does, records every request
(with its wall-clock arrival in "at"), can be told to fail the next N requests with a 500, and
to answer slowly for some numbers (`slow`: To number -> seconds), like a congested provider.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass
class TwilioStandIn:
    account_sid: str = "AC" + "0" * 32
    auth_token: str = "standin-token"
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0
    slow: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._lock = threading.Lock()

    def start(self) -> TwilioStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        response = self._handle(request)
        return response(environ, start_response)

    def _handle(self, request: Request) -> Response:
        auth = request.authorization
        if auth is None or (auth.username, auth.password) != (self.account_sid, self.auth_token):
            return Response(
                '{"code": 20003, "message": "Authenticate", "status": 401}',
                401,
                content_type="application/json",
            )
        prefix = f"/2010-04-01/Accounts/{self.account_sid}/"
        kind = {prefix + "Messages.json": "sms", prefix + "Calls.json": "voice"}.get(request.path)
        if request.method != "POST" or kind is None:
            return Response(
                '{"code": 20404, "message": "Not found", "status": 404}',
                404,
                content_type="application/json",
            )
        arrived = time.time()
        delay = self.slow.get(request.form.get("To", ""), 0.0)
        if delay:
            time.sleep(delay)
        with self._lock:
            self.requests.append({"kind": kind, "at": arrived, **request.form.to_dict()})
            if self.fail_next > 0:
                self.fail_next -= 1
                return Response(
                    '{"code": 20500, "message": "Internal error", "status": 500}',
                    500,
                    content_type="application/json",
                )
        sid = ("SM" if kind == "sms" else "CA") + uuid.uuid4().hex
        body = (
            f'{{"sid": "{sid}", "account_sid": "{self.account_sid}", '
            f'"status": "queued", "to": "{request.form.get("To", "")}"}}'
        )
        return Response(body, 201, content_type="application/json")
