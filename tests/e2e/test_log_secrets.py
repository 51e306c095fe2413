"""A real `aware serve` writes no device token, bearer token, password or position to its log,
whatever the client sends: malformed request lines (an unencoded space), a broken HTTP version,
tokens in headers and query strings of failing requests."""

from __future__ import annotations

import socket
import time

import requests

from tests.e2e.conftest import PASSWORD, Server

LAT, LON = "52.09981", "5.10512"


def _raw(server: Server, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


def _wait_for_log(server: Server, needle: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = server.log.read_text(errors="replace")
        if needle in text or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


def test_malformed_requests_leave_no_secret_in_the_log(server, device_token, tokens):
    person = tokens["dispatcher"]
    # Unencoded space in the query: Werkzeug refuses the request line and logs it.
    answer = _raw(
        server,
        f"GET /osmand?id={device_token}&lat={LAT}&lon={LON}&desc=home base HTTP/1.1\r\n"
        "Host: x\r\n\r\n".encode(),
    )
    assert b"400" in answer.split(b"\r\n", 1)[0]
    line = f"POST /osmand?deviceid={device_token}&location={LAT},{LON} HTTP/9\r\n\r\n"
    _raw(server, line.encode())
    _raw(server, f"GET /api/v1/alarms?token={person} HTTP/1.1 extra\r\n\r\n".encode())
    # A well-formed but refused request carrying secrets in headers and body.
    requests.post(
        server.url + "/api/v1/auth/token",
        json={"username": "disp-e2e", "password": PASSWORD + "x"},
        headers={"Authorization": f"Bearer {person}"},
        timeout=10,
    )
    # A positive control: the malformed lines were logged at all (redacted).
    text = _wait_for_log(server, "Bad request")
    assert "Bad request" in text, text[-2000:]
    assert "/osmand?id=[redacted]" in text
    for secret in (device_token, person, PASSWORD, LAT, LON):
        assert secret not in text, f"{secret[:6]}... in the server log"
