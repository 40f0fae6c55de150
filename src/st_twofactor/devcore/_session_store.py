"""The session recipe's tables and the row operations on them.

The core keeps a session's current refresh token only as ``hash2 = sha256(sha256(token))``
and, per refresh token it issued, the hash, the session it belongs to, the ``hash1`` of
its parent (the token it was refreshed from) and the hash of its anti-CSRF token.

Kept apart from the routes so that the token lifecycle (:mod:`._sessions`), the
session data routes (:mod:`._session_data`) and revocation (:mod:`._session_revoke`)
share one reading of the rows, and each of them reads as what it answers.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from dataclasses import dataclass
from typing import Any

from ._db import sha256_hex

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    app_id TEXT NOT NULL,
    session_handle TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    recipe_user_id TEXT NOT NULL,
    refresh_hash2 TEXT NOT NULL,
    user_data_jwt TEXT NOT NULL,
    user_data_db TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expiry_ms INTEGER NOT NULL,
    use_static_key INTEGER NOT NULL,
    PRIMARY KEY (app_id, session_handle)
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (app_id, recipe_user_id);
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (app_id, expiry_ms);
CREATE TABLE IF NOT EXISTS session_refresh_tokens (
    app_id TEXT NOT NULL,
    token_hash2 TEXT NOT NULL,
    session_handle TEXT NOT NULL,
    parent_hash1 TEXT,
    anti_csrf_hash TEXT,
    PRIMARY KEY (app_id, token_hash2),
    FOREIGN KEY (app_id, session_handle)
        REFERENCES sessions (app_id, session_handle) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS session_refresh_tokens_session
    ON session_refresh_tokens (app_id, session_handle);
"""

JWT_DATA = "user_data_jwt"
DB_DATA = "user_data_db"


class Unauthorised(Exception):
    """The session is gone (or never was): the client must sign in again."""


def unauthorised(message: str) -> dict[str, Any]:
    """The answer that tells the SDK the session is gone."""
    return {"status": "UNAUTHORISED", "message": message}


@dataclass(frozen=True)
class Session:
    """One stored session."""

    handle: str
    tenant_id: str
    user_id: str
    recipe_user_id: str
    refresh_hash2: str
    jwt_data: dict[str, Any]
    db_data: dict[str, Any]
    created_ms: int
    expiry_ms: int
    use_static_key: bool


def _row_to_session(row: sqlite3.Row) -> Session:
    return Session(
        handle=row["session_handle"],
        tenant_id=row["tenant_id"],
        user_id=row["user_id"],
        recipe_user_id=row["recipe_user_id"],
        refresh_hash2=row["refresh_hash2"],
        jwt_data=json.loads(row["user_data_jwt"]),
        db_data=json.loads(row["user_data_db"]),
        created_ms=row["created_ms"],
        expiry_ms=row["expiry_ms"],
        use_static_key=bool(row["use_static_key"]),
    )


def load(conn: sqlite3.Connection, app_id: str, handle: str, now: int) -> Session | None:
    """The session if it exists and has not expired."""
    row = conn.execute(
        "SELECT * FROM sessions WHERE app_id=? AND session_handle=? AND expiry_ms > ?",
        (app_id, handle, now),
    ).fetchone()
    return None if row is None else _row_to_session(row)


def purge_expired(conn: sqlite3.Connection, app_id: str, now: int) -> None:
    """Expired sessions are gone, with their refresh tokens (ON DELETE CASCADE)."""
    conn.execute("DELETE FROM sessions WHERE app_id=? AND expiry_ms <= ?", (app_id, now))


def insert(conn: sqlite3.Connection, app_id: str, session: Session) -> None:
    conn.execute(
        "INSERT INTO sessions (app_id, session_handle, tenant_id, user_id, recipe_user_id,"
        " refresh_hash2, user_data_jwt, user_data_db, created_ms, expiry_ms, use_static_key)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            app_id,
            session.handle,
            session.tenant_id,
            session.user_id,
            session.recipe_user_id,
            session.refresh_hash2,
            json.dumps(session.jwt_data),
            json.dumps(session.db_data),
            session.created_ms,
            session.expiry_ms,
            int(session.use_static_key),
        ),
    )


def new_refresh_token() -> str:
    return secrets.token_urlsafe(48)


def store_refresh_token(
    conn: sqlite3.Connection,
    app_id: str,
    token: str,
    handle: str,
    *,
    parent_hash1: str | None,
    anti_csrf: str | None,
) -> None:
    """Remember a refresh token of a session: only its hash and its lineage."""
    conn.execute(
        "INSERT INTO session_refresh_tokens"
        " (app_id, token_hash2, session_handle, parent_hash1, anti_csrf_hash)"
        " VALUES (?, ?, ?, ?, ?)",
        (
            app_id,
            sha256_hex(sha256_hex(token)),
            handle,
            parent_hash1,
            None if anti_csrf is None else sha256_hex(anti_csrf),
        ),
    )


def refresh_token_row(conn: sqlite3.Connection, app_id: str, hash2: str) -> sqlite3.Row | None:
    """The session, parent and anti-CSRF hash of a refresh token, by its ``hash2``."""
    row: sqlite3.Row | None = conn.execute(
        "SELECT session_handle, parent_hash1, anti_csrf_hash FROM session_refresh_tokens"
        " WHERE app_id=? AND token_hash2=?",
        (app_id, hash2),
    ).fetchone()
    return row


def promote(conn: sqlite3.Connection, app_id: str, handle: str, hash2: str, expiry: int) -> None:
    """Make a child refresh token the session's current one; this extends the session."""
    conn.execute(
        "UPDATE sessions SET refresh_hash2=?, expiry_ms=? WHERE app_id=? AND session_handle=?",
        (hash2, expiry, app_id, handle),
    )


def set_static_key(conn: sqlite3.Connection, app_id: str, handle: str, static: bool) -> None:
    """Whether the session's access tokens are signed with the static key from now on."""
    conn.execute(
        "UPDATE sessions SET use_static_key=? WHERE app_id=? AND session_handle=?",
        (int(static), app_id, handle),
    )


def update_data(
    conn: sqlite3.Connection, app_id: str, handle: str, column: str, data: dict[str, Any]
) -> None:
    """Replace the session's JWT payload (``JWT_DATA``) or its database data (``DB_DATA``)."""
    if column not in (JWT_DATA, DB_DATA):
        raise ValueError(column)
    conn.execute(
        f"UPDATE sessions SET {column}=? WHERE app_id=? AND session_handle=?",  # noqa: S608
        (json.dumps(data), app_id, handle),
    )


def user_handles(
    conn: sqlite3.Connection, app_id: str, user_id: str, tenant_id: str | None
) -> list[str]:
    """The handles of a user's sessions, oldest first: in ``tenant_id``, or every tenant."""
    query = "SELECT session_handle FROM sessions WHERE app_id=? AND recipe_user_id=?"
    args: tuple[str, ...] = (app_id, user_id)
    if tenant_id is not None:
        query += " AND tenant_id=?"
        args += (tenant_id,)
    rows = conn.execute(query + " ORDER BY created_ms, session_handle", args).fetchall()
    return [r["session_handle"] for r in rows]


def delete(conn: sqlite3.Connection, app_id: str, handle: str) -> bool:
    """Delete a session (and its refresh tokens); False when there was none."""
    cursor = conn.execute(
        "DELETE FROM sessions WHERE app_id=? AND session_handle=?", (app_id, handle)
    )
    return cursor.rowcount == 1
