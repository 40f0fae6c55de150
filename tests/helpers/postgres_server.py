"""A throwaway PostgreSQL server for tests: its own free loopback port, its own temp dir.

The ``postgres_server`` fixture (``tests/conftest.py``, session scope) starts one server
for the whole run (for each xdist worker) and stops it at the end; tests isolate
themselves with their own table (:func:`unique_table`, :func:`create_sql_table`). A test that
stops the server (fault tests) must use :class:`PostgresServer` directly, or call
:meth:`PostgresServer.start` again before it returns.

The binaries come from Debian's ``postgresql`` package (``.ci/run`` installs it), under
``/usr/lib/postgresql/<version>/bin``. They refuse to run as root, so when the tests run
as root the server runs as the ``postgres`` user (``runuser``), in a temp dir it owns.
Without them the PostgreSQL tests are skipped, except under CI (``CI`` set), where they
fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
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

__all__ = ["PostgresServer", "create_sql_table", "start_or_skip", "unique_table"]

USER = "st2fa"
DATABASE = "st2fa"


def unique_table() -> str:
    """A table name no other test uses."""
    return f"st2fa_test_{secrets.token_hex(4)}"


def find_bin_dir() -> Path:
    """The newest installed ``/usr/lib/postgresql/<version>/bin`` with ``initdb``."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if not found:
        raise FileNotFoundError("initdb")
    return Path(found[-1]).parent


class PostgresServer:
    """One ``postgres`` process on 127.0.0.1, with a trust-authenticated user and database.

    :meth:`stop` ends it (fast shutdown, then SIGKILL); :meth:`start` starts it again on
    the same port and data directory, so clients that were given :attr:`url` reconnect
    and find their data. :meth:`pause` / :meth:`resume` freeze it (SIGSTOP / SIGCONT).
    """

    def __init__(self) -> None:
        self.bin_dir = find_bin_dir()
        self.port = free_port()
        self._dir = Path(tempfile.mkdtemp(prefix="st2fa-postgres-"))
        self._data = self._dir / "data"
        self._sockets = self._dir / "sockets"
        self._sockets.mkdir()
        self._runas: list[str] = []
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")  # KeyError: no such user
            for path in (self._dir, self._sockets):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            self._runas = ["runuser", "-u", "postgres", "--"]
        self._process: subprocess.Popen[bytes] | None = None
        self._initialised = False

    @property
    def url(self) -> str:
        """An SQLAlchemy URL (asyncpg driver) for the test database."""
        return f"postgresql+asyncpg://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, tool: str, *arguments: str) -> None:
        subprocess.run(
            [*self._runas, str(self.bin_dir / tool), *arguments],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=120,
        )

    def _initialise(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self._data),
            "-U",
            USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        self._initialised = True

    def start(self, timeout: float = 30.0) -> PostgresServer:
        if self._process is not None:
            return self
        if not self._initialised:
            self._initialise()
        log = open(self._dir / "postgres.log", "ab")  # noqa: SIM115 (closed with the process)
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self._sockets),
            "fsync": "off",  # a test server: speed over crash safety
            "full_page_writes": "off",
            "synchronous_commit": "off",
            "max_connections": "100",
            "shared_buffers": "16MB",
        }
        arguments = [item for name, value in settings.items() for item in ("-c", f"{name}={value}")]
        self._process = subprocess.Popen(
            [*self._runas, str(self.bin_dir / "postgres"), "-D", str(self._data), *arguments],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                raise RuntimeError(f"postgres exited at start: {self.log_tail()}")
            if self._ready():
                if not (self._data / ".st2fa-db").exists():
                    self._run(
                        "createdb",
                        "-h",
                        str(self._sockets),
                        "-p",
                        str(self.port),
                        "-U",
                        USER,
                        DATABASE,
                    )
                    self._touch_marker()
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"postgres did not accept connections within {timeout} s: {self.log_tail()}"
        )

    def _touch_marker(self) -> None:
        marker = self._data / ".st2fa-db"
        marker.touch()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        self._process = process
        self.resume()  # a paused server cannot act on SIGINT
        self._process = None
        # The postmaster is runuser's child: signal the whole process group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)  # fast shutdown: cuts client connections
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        self._wait_port_free()

    def pause(self) -> None:
        """Freeze the server and every backend (each runs in a session of its own)."""
        for pid in self._tree():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        for pid in self._tree():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def _tree(self) -> list[int]:
        """The process started (runuser), the postmaster and all their descendants."""
        assert self._process is not None
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    parents[int(entry.name)] = int(fields[1])
        tree = [self._process.pid]
        for pid in tree:
            tree += [child for child, parent in parents.items() if parent == pid]
        return tree

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self._dir / "postgres.log").read_text(errors="replace")[-2000:]
        return ""

    def _ready(self) -> bool:
        result = subprocess.run(
            [str(self.bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        return result.returncode == 0

    def _wait_port_free(self) -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.05)


def start_or_skip() -> PostgresServer:
    """A started server, or skip the test (fail under CI) when PostgreSQL is missing."""
    try:
        return PostgresServer().start()
    except (FileNotFoundError, KeyError):
        message = "PostgreSQL is not installed (apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def create_sql_table(database: PostgresServer) -> str:
    """A new SQLStore table on ``database`` (a name no other test uses), created."""
    from st_twofactor.stores.sql import SQLStore

    table = unique_table()

    async def create() -> None:
        store = SQLStore(database.url, table=table)
        await store.create_table()
        await store.aclose()

    asyncio.run(create())
    return table
