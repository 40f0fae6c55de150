"""The development core and the test app as separate processes on loopback ports.

The load and fault tests run the system as it is deployed: a core process (with a file
database, so it can be killed and restarted), one or more app worker processes (uvicorn,
each with its own event loop and state), and clients talking HTTP to them. Each process
writes its output to a log file whose tail is shown when it fails to start.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from .ports import free_port

ROOT = Path(__file__).resolve().parents[2]


class ServerProcess:
    """A process serving HTTP on 127.0.0.1:``port``, ready when ``ready_path`` answers 200."""

    ready_path = "/"

    def __init__(self, name: str, port: int | None = None, workdir: Path | None = None) -> None:
        self.name = name
        self.port = port or free_port()
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix=f"st2fa-{name}-"))
        self.log_path = self.workdir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return {**os.environ, "PYTHONUNBUFFERED": "1"}

    def start(self, timeout: float = 30.0) -> ServerProcess:
        assert self.process is None, f"{self.name} is already running"
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=ROOT,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                raise RuntimeError(f"{self.name} exited at start:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + self.ready_path, timeout=1.0).status_code == 200:
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} not ready within {timeout} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no chance to flush or close anything."""
        process, self.process = self.process, None
        if process is not None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def close(self) -> None:
        """Stop, and remove the working directory (log, database)."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, chars: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""


class CoreProcess(ServerProcess):
    """``python -m st_twofactor.devcore --port P --db FILE``."""

    ready_path = "/hello"

    def __init__(self, db: Path | None = None, port: int | None = None) -> None:
        super().__init__("devcore", port)
        self.db = db or self.workdir / "core.db"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "st_twofactor.devcore",
            "--port",
            str(self.port),
            "--db",
            str(self.db),
        ]


class AppProcess(ServerProcess):
    """The test app (:func:`tests.helpers.twofactor_app.create_app`) in one uvicorn worker."""

    ready_path = "/health"

    def __init__(
        self,
        core_url: str,
        *,
        redis_url: str | None = None,
        prefix: str = "",
        sql_url: str | None = None,
        table: str = "",
        factors: tuple[str, ...] = ("totp", "recovery-code"),
    ) -> None:
        super().__init__("app")
        self.core_url = core_url
        self.factors = factors
        self.redis_url = redis_url
        self.prefix = prefix
        self.sql_url = sql_url
        self.table = table

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "tests.helpers.twofactor_app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]

    def environment(self) -> dict[str, str]:
        env = {
            **super().environment(),
            "ST2FA_CORE_URL": self.core_url,
            "ST2FA_FACTORS": ",".join(self.factors),
            "SUPERTOKENS_TLDEXTRACT_DISABLE_HTTP": "1",
        }
        if self.redis_url:
            env["ST2FA_REDIS_URL"] = self.redis_url
            env["ST2FA_REDIS_PREFIX"] = self.prefix
        if self.sql_url:
            env["ST2FA_SQL_URL"] = self.sql_url
            env["ST2FA_SQL_TABLE"] = self.table
        return env


@contextlib.contextmanager
def app_workers(core_url: str, count: int = 2, **options: Any) -> Iterator[list[str]]:
    """``count`` workers of the test app on one core (``options``: the store they share,
    the factors, as :class:`AppProcess` takes them), started; their URLs; closed after,
    also when one of them fails to start."""
    apps: list[AppProcess] = []
    try:
        for _ in range(count):
            apps.append(AppProcess(core_url, **options))
            apps[-1].start()
        yield [app.url for app in apps]
    finally:
        for app in apps:
            app.close()
