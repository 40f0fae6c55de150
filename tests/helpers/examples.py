"""Run an example app as its own process, with its one command, on a free port.

``run_example("fastapi_app", data_dir)`` starts ``python -m examples.fastapi_app`` from the
repository root with ``PORT`` set (``"django_asgi"``: the Django example under uvicorn,
``uvicorn examples.django_app.asgi:application``), waits until it serves ``/``, yields an
:class:`ExampleServer`, and stops it (terminate, wait, kill on timeout). The process's
output goes to a file, so the test can read the e-mailed codes that development mode logs.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from .ports import free_port

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = ("fastapi_app", "flask_app", "django_app")
DJANGO_ASGI = "django_asgi"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


@dataclass
class ExampleServer:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        """The last match of ``pattern`` in the output, waiting for it to be written."""
        deadline = time.monotonic() + timeout
        while True:
            matches = list(re.finditer(pattern, self.log()))
            if matches:
                return matches[-1]
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} not in the log of {self.name}:\n{self.log()}")
            time.sleep(0.1)


def example_env(data_dir: Path, port: int, **overrides: str) -> dict[str, str]:
    """The environment of an example process: a fresh development setup unless overridden."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ST2FA_", "SUPERTOKENS_"))}
    env.update(
        HOST="127.0.0.1",
        PORT=str(port),
        ST2FA_DATA_DIR=str(data_dir),
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


@contextmanager
def run_example(name: str, data_dir: Path, **env: str) -> Iterator[ExampleServer]:
    port = free_port()
    log_path = data_dir.parent / f"{name}-{port}.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command(name, port),
            cwd=REPO,
            env=example_env(data_dir, port, **env),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = ExampleServer(name, f"http://127.0.0.1:{port}", process, log_path)
    try:
        _wait_until_serving(server)
        yield server
    finally:
        stop(process)


def command(name: str, port: int) -> list[str]:
    """The command that serves example ``name`` (``python -m examples.<name>``)."""
    if name == DJANGO_ASGI:  # as docs/django.md runs it; HOST and PORT in the environment
        app = "examples.django_app.asgi:application"
        return [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    return [sys.executable, "-m", f"examples.{name}"]


def _wait_until_serving(server: ExampleServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"{server.name} exited early:\n{server.log()}")
        try:
            if httpx.get(server.url + "/", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{server.name} did not serve within {START_TIMEOUT} s:\n{server.log()}")


def stop(process: subprocess.Popen[bytes]) -> int:
    """Stop the process: SIGTERM, then SIGKILL if it has not ended within the timeout."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)
    return process.returncode
