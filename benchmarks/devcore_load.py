"""Part 3: the development core under load: session create, verify and refresh.

For each database size (users and sessions already stored), a SQLite file is seeded
**directly through the core's** :class:`~st_twofactor.devcore._db.Database` (bulk SQL
inserts into its ``users``, ``user_tenants``, ``sessions`` and
``session_refresh_tokens`` tables; this bypasses HTTP and is only a fast way to make
the tables big). Then the core runs in its own process (``python -m
st_twofactor.devcore --db FILE``), as an app would run it, and 1, 4 or 16 client threads
of this process send requests over loopback HTTP/1.1 keep-alive connections for a fixed
time:

- create: ``POST /recipe/session`` for a random stored user;
- verify: ``POST /recipe/session/verify`` with ``checkDatabase: true`` (each client its
  own session);
- refresh: ``POST /recipe/session/refresh``, each client following its own chain of
  refresh tokens.

Each (size, operation, clients) cell runs ``repeats`` times; the cores of all sizes run
at once and take turns cell by cell. Throughput is the median over repeats, latency
percentiles are over every request.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from ._common import latency_summary, median

OPERATIONS = ("create", "verify", "refresh")


@dataclass
class Cell:
    """One (size, operation, clients) measurement."""

    rates: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def rate(self) -> float:
        return median(self.rates)


@dataclass
class LoadResults:
    sizes: tuple[int, ...]
    clients: tuple[int, ...]
    seconds_per_cell: float
    repeats: int
    seed_seconds: dict[int, float]
    cells: dict[tuple[int, str, int], Cell]


# -- seeding --


def seed(path: str, size: int, *, batch: int = 10_000) -> list[str]:
    """Create the core's schema in ``path`` and store ``size`` users, each with a session.

    Returns the user ids. Rows go straight into the core's tables (no HTTP).
    """
    from st_twofactor.devcore import DevCore

    core = DevCore(path)  # makes the schema; never started
    now = int(time.time() * 1000)
    expiry = now + 100 * 24 * 3600 * 1000
    user_ids = [str(uuid.uuid4()) for _ in range(size)]
    try:
        for start in range(0, size, batch):
            chunk = user_ids[start : start + batch]
            handles = [str(uuid.uuid4()) for _ in chunk]
            with core.db.transaction() as conn:
                conn.executemany(
                    "INSERT INTO users (app_id, user_id, recipe_id, email, time_joined)"
                    " VALUES ('public', ?, 'emailpassword', ?, ?)",
                    ((uid, f"{uid}@seed.example", now) for uid in chunk),
                )
                conn.executemany(
                    "INSERT INTO user_tenants (app_id, tenant_id, user_id)"
                    " VALUES ('public', 'public', ?)",
                    ((uid,) for uid in chunk),
                )
                conn.executemany(
                    "INSERT INTO sessions (app_id, session_handle, tenant_id, user_id,"
                    " recipe_user_id, refresh_hash2, user_data_jwt, user_data_db, created_ms,"
                    " expiry_ms, use_static_key) VALUES ('public', ?, 'public', ?, ?, ?,"
                    " '{}', '{}', ?, ?, 0)",
                    (
                        (handle, uid, uid, secrets.token_hex(32), now, expiry)
                        for handle, uid in zip(handles, chunk, strict=True)
                    ),
                )
                conn.executemany(
                    "INSERT INTO session_refresh_tokens (app_id, token_hash2, session_handle)"
                    " VALUES ('public', ?, ?)",
                    ((secrets.token_hex(32), handle) for handle in handles),
                )
    finally:
        core.close()
    return user_ids


# -- the core in its own process --


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def core_process(db_path: str) -> Iterator[int]:
    """Run ``python -m st_twofactor.devcore --db db_path`` on a free port; yields the port."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "st_twofactor.devcore", "--port", str(port), "--db", db_path],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if "listening" not in line:
            raise RuntimeError(f"the development core did not start: {line!r}")
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- clients --


class _Client:
    """One keep-alive connection to the core, speaking its JSON API."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = self.conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status} {data[:200]!r}")
        answer: dict[str, Any] = json.loads(data)
        if answer.get("status") != "OK":
            raise RuntimeError(f"{path}: {answer}")
        return answer

    def new_session(self, user_id: str) -> dict[str, Any]:
        return self.call(
            "/recipe/session",
            {
                "userId": user_id,
                "userDataInJWT": {},
                "userDataInDatabase": {},
                "enableAntiCsrf": False,
                "useDynamicSigningKey": True,
            },
        )

    def close(self) -> None:
        self.conn.close()


def _operation(client: _Client, operation: str, user_ids: list[str]) -> Callable[[], None]:
    """Prepare one client for ``operation``; returns the call to repeat."""
    if operation == "create":
        return lambda: client.new_session(secrets.choice(user_ids))
    session = client.new_session(secrets.choice(user_ids))
    if operation == "verify":
        verify = {
            "accessToken": session["accessToken"]["token"],
            "doAntiCsrfCheck": False,
            "enableAntiCsrf": False,
            "checkDatabase": True,
        }
        return lambda: client.call("/recipe/session/verify", verify) and None
    refresh_token = [session["refreshToken"]["token"]]

    def refresh() -> None:
        answer = client.call(
            "/recipe/session/refresh",
            {
                "refreshToken": refresh_token[0],
                "enableAntiCsrf": False,
                "useDynamicSigningKey": True,
            },
        )
        refresh_token[0] = answer["refreshToken"]["token"]

    return refresh


def run_cell(port: int, operation: str, clients: int, seconds: float, user_ids: list[str]) -> Cell:
    """``clients`` threads repeat ``operation`` for ``seconds``; one :class:`Cell` sample."""
    cell = Cell()
    lock = threading.Lock()
    ready = threading.Barrier(clients + 1)
    start_at: list[float] = []

    def worker() -> None:
        client = _Client(port)
        try:
            action = _operation(client, operation, user_ids)
            latencies: list[float] = []
            errors = 0
            ready.wait()
            clock = time.perf_counter
            deadline = start_at[0] + seconds
            while (sent := clock()) < deadline:
                try:
                    action()
                except (RuntimeError, OSError, http.client.HTTPException):
                    errors += 1
                    client.close()
                    continue
                latencies.append(clock() - sent)
            with lock:
                cell.latencies.extend(latencies)
                cell.errors += errors
        finally:
            client.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    start_at.append(time.perf_counter())
    ready.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start_at[0]
    cell.rates.append(len(cell.latencies) / elapsed)
    return cell


def measure_core(
    *,
    sizes: tuple[int, ...],
    clients: tuple[int, ...],
    seconds: float,
    repeats: int,
    workdir: str | None = None,
) -> LoadResults:
    """Seed one database per size, run one core per database, and measure every cell.

    All the cores run at once (an idle one costs nothing) so that the sizes can take
    turns cell by cell: a change of machine load hits every size alike.
    """
    cells: dict[tuple[int, str, int], Cell] = {}
    seed_seconds: dict[int, float] = {}
    user_ids: dict[int, list[str]] = {}
    with tempfile.TemporaryDirectory(dir=workdir) as tmp, ExitStack() as running:
        ports: dict[int, int] = {}
        for size in sizes:
            path = os.path.join(tmp, f"core-{size}.sqlite3")
            started = time.perf_counter()
            user_ids[size] = seed(path, size)
            seed_seconds[size] = time.perf_counter() - started
            ports[size] = running.enter_context(core_process(path))
            for operation in OPERATIONS:  # the first session makes the signing keys
                run_cell(ports[size], operation, 1, min(seconds, 0.2), user_ids[size])
        turn = 0
        for _ in range(repeats):
            for operation in OPERATIONS:
                for n in clients:
                    shift = turn % len(sizes)
                    turn += 1
                    for size in sizes[shift:] + sizes[:shift]:
                        sample = run_cell(ports[size], operation, n, seconds, user_ids[size])
                        cell = cells.setdefault((size, operation, n), Cell())
                        cell.rates.extend(sample.rates)
                        cell.latencies.extend(sample.latencies)
                        cell.errors += sample.errors
    return LoadResults(
        sizes=sizes,
        clients=clients,
        seconds_per_cell=seconds,
        repeats=repeats,
        seed_seconds=seed_seconds,
        cells=cells,
    )


def summary(results: LoadResults) -> dict[tuple[int, str, int], dict[str, float]]:
    return {
        key: {"rps": cell.rate, **latency_summary(cell.latencies), "errors": cell.errors}
        for key, cell in results.cells.items()
    }
