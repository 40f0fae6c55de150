"""SQLite storage for the development core.

One connection, one lock: every request runs its statements inside
:meth:`Database.transaction`, so a request's writes land together or not at all,
and a crash (even SIGKILL) leaves either the old or the new state, never half.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

MEMORY = ":memory:"


def sha256_hex(text: str) -> str:
    """The SHA-256 of ``text`` (UTF-8) as hex, how tokens and codes are stored.

    Any text hashes, even one with a lone surrogate, rather than raising.
    """
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def tables_with_columns(conn: sqlite3.Connection, *columns: str) -> list[str]:
    """Every table that has all of ``columns``, whichever module created it."""
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
    ]
    wanted = set(columns)
    return [
        name
        for name in names
        if wanted <= {c[1] for c in conn.execute(f'PRAGMA table_info("{name}")').fetchall()}
    ]


class Database:
    """A thread-safe SQLite database, in memory or in a file."""

    def __init__(self, path: str = MEMORY) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=30.0
        )
        self._conn.row_factory = sqlite3.Row
        if path != MEMORY:
            # WAL keeps committed transactions safe when the process is killed;
            # synchronous=FULL makes them safe across a power cut as well.
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._depth = 0

    def create_schema(self, script: str) -> None:
        with self._lock:
            self._conn.executescript(script)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run a block atomically; nested calls join the outer transaction."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self._conn
            except BaseException:
                self._depth -= 1
                if outer:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
