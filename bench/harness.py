"""What the benches share: servers as subprocesses on free loopback ports, and their setup.

The benches are run as `python bench/<name>.py`, so this folder is on sys.path and they import
this module as `harness`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PASSWORD = "bench-password-123"
READY_TIMEOUT_S = 60.0


class BenchError(Exception):
    """The bench could not set up or keep running a target."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def aware_command() -> list[str]:
    script = Path(sys.executable).with_name("aware")
    return [str(script)] if script.exists() else [sys.executable, "-m", "aware"]


def aware_serve_argv(port: int) -> list[str]:
    """`aware serve` on HOST:port."""
    return [*aware_command(), "serve", "--host", HOST, "--port", str(port)]


def clean_env(instance: Path) -> dict[str, str]:
    """The caller's environment without any AWARE_/TWILIO_ setting, plus the bench's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWARE_", "TWILIO_"))}
    env["AWARE_INSTANCE_PATH"] = str(instance)
    env["AWARE_LOG_LEVEL"] = "WARNING"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_checked(argv: list[str], env: dict[str, str], what: str) -> None:
    proc = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise BenchError(f"{what} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")


class Server:
    """A server subprocess with its output in a log file, ready once GET /readyz gives 200."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int, log: Path):
        self.name = name
        self.argv = argv
        self.env = env
        self.port = port
        self.base_url = f"http://{HOST}:{port}"
        self.log_path = log
        self.proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def aware(cls, name: str, env: dict[str, str], log: Path) -> Server:
        """`aware serve` on a free port."""
        port = free_port()
        return cls(name, aware_serve_argv(port), env, port, log)

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.argv, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if not self.alive():
                raise BenchError(f"{self.name} exited on start:\n{self.log_tail()}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.base_url}/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise BenchError(f"{self.name} not ready after {READY_TIMEOUT_S:.0f}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    @contextlib.contextmanager
    def running(self) -> Iterator[Server]:
        """Started and ready inside the block, stopped after it (also when start fails)."""
        try:
            self.start()
            self.wait_ready()
            yield self
        finally:
            self.stop()

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
