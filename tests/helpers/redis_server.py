"""A throwaway ``redis-server`` for tests: its own free loopback port, its own temp dir.

The ``redis_server`` fixture (``tests/conftest.py``, session scope) starts one server for
the whole run (for each xdist worker) and stops it at the end; tests isolate themselves
with their own key prefix (:func:`unique_prefix`). A test
that stops the server (fault tests) must use :func:`RedisServer` directly, or call
:meth:`RedisServer.start` again before it returns.

``redis-server`` comes from Debian's ``redis-server`` package (``.ci/run`` installs it).
Without it the Redis tests are skipped, except under CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from .ports import free_port

__all__ = ["RedisServer", "start_or_skip", "unique_prefix"]


def unique_prefix() -> str:
    """A key prefix no other test uses."""
    return f"st2fa-test-{secrets.token_hex(4)}:"


class RedisServer:
    """One ``redis-server`` process on 127.0.0.1 (persistent with an fsynced AOF, or not).

    :meth:`stop` ends it (SIGTERM, then SIGKILL); :meth:`start` starts it again on the
    same port and directory, so clients that were given :attr:`url` reconnect (and a
    persistent server has its data back). :meth:`pause` / :meth:`resume` freeze it
    (SIGSTOP / SIGCONT): connections stay open and commands hang, as with a stuck server.
    """

    def __init__(self, executable: str = "redis-server", *, persistent: bool = False) -> None:
        found = shutil.which(executable)
        if found is None:
            raise FileNotFoundError(executable)
        self.executable = found
        self.persistent = persistent
        self.port = free_port()
        self._dir = Path(tempfile.mkdtemp(prefix="st2fa-redis-"))
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        if self._process is not None:
            return self
        log = open(self._dir / "redis.log", "ab")  # noqa: SIM115 (closed with the process)
        options = {
            "bind": "127.0.0.1",
            "port": str(self.port),
            "dir": str(self._dir),
            "save": "",
            # Persistent: every write is fsynced to the append-only file before it is
            # acknowledged, as RedisStore's documentation asks of a production server.
            "appendonly": "yes" if self.persistent else "no",
            "appendfsync": "always",
            "daemonize": "no",
            "protected-mode": "yes",
            "maxmemory-policy": "noeviction",
        }
        arguments = [item for name, value in options.items() for item in (f"--{name}", value)]
        self._process = subprocess.Popen(
            [self.executable, *arguments],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                raise RuntimeError(f"redis-server exited at start: {self.log_tail()}")
            if self._answers_ping():
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not answer within {timeout} s: {self.log_tail()}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.send_signal(signal.SIGCONT)  # a paused server cannot act on SIGTERM
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def pause(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self._dir / "redis.log").read_text(errors="replace")[-2000:]
        return ""

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def start_or_skip(*, persistent: bool = False) -> RedisServer:
    """A started server, or skip the test (fail under CI) when redis-server is missing."""
    try:
        return RedisServer(persistent=persistent).start()
    except FileNotFoundError:
        message = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
