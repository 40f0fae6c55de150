"""The dashboard recipe: the users who may sign in to the user management dashboard.

``dashboard.init()`` apps sign their admins in with ``POST /auth/dashboard/api/signin``,
which the SDK turns into ``POST /recipe/dashboard/signin``; every dashboard page then
presents the session id, checked with ``POST /recipe/dashboard/session/verify``.
Dashboard users are created, changed and removed on the core itself (``curl`` in
SuperTokens' guide), so those routes are here too. As in the real core:

- passwords are hashed (scrypt here, as for emailpassword users) and must be 8-99
  characters with a letter and a digit; e-mails are trimmed and lower-cased;
- a session lasts 30 days; changing a user's e-mail or password ends its sessions;
- without a license only the first three dashboard users (oldest first) count: a
  fourth cannot be created (402), and users beyond three are "suspended".

Session ids are stored as issued, because ``GET /recipe/dashboard/user/sessions``
answers them, as the real core does. Dashboard users are not auth users: their
table has no ``user_id`` column, so removing an auth user never touches them.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from typing import Any

from . import _config
from ._emailpassword import hash_password, verify_password
from ._http import CoreError, Request, Routes, bad_request
from ._normalise import normalise_email

# Every route here is app-level: the router refuses them under any tenant but public (403).

SCHEMA = """
CREATE TABLE IF NOT EXISTS dashboard_users (
    app_id TEXT NOT NULL,
    dashboard_user_id TEXT NOT NULL,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    time_joined INTEGER NOT NULL,
    PRIMARY KEY (app_id, dashboard_user_id),
    UNIQUE (app_id, email)
);
CREATE TABLE IF NOT EXISTS dashboard_sessions (
    app_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    dashboard_user_id TEXT NOT NULL,
    time_created INTEGER NOT NULL,
    expiry INTEGER NOT NULL,
    PRIMARY KEY (app_id, session_id),
    FOREIGN KEY (app_id, dashboard_user_id)
        REFERENCES dashboard_users (app_id, dashboard_user_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS dashboard_sessions_user
    ON dashboard_sessions (app_id, dashboard_user_id);
"""

routes = Routes()

SESSION_DURATION_MS = 30 * 24 * 3600 * 1000
FREE_USERS = 3
FREE_USER_LIMIT = (
    "Free user limit reached. Please subscribe to a SuperTokens core license key to allow more"
    " users to access the dashboard."
)
SUSPENDED_ON_SIGN_IN = (
    "User is currently suspended, please sign in with another account, or reactivate the"
    " SuperTokens core license key"
)
_EMAIL = re.compile(r"^.+@(\[[0-9]{1,3}(\.[0-9]{1,3}){3}\]|([A-Za-z0-9-]+\.)+[A-Za-z]{2,})$")


# -- inputs --


def _text(value: str | None, name: str) -> str | None:
    """A string parameter trimmed, or a 400 when it is empty (the real core's rule)."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        raise bad_request(f"Field name '{name}' cannot be an empty String")
    return value


def _password_problem(password: str) -> str | None:
    if len(password) < 8:
        return "Password must contain at least 8 characters, including a number"
    if len(password) >= 100:
        return "Password's length must be lesser than 100 characters"
    if not any(c.isascii() and c.isalpha() for c in password):
        return "Password must contain at least one alphabet"
    if not any(c.isascii() and c.isdigit() for c in password):
        return "Password must contain at least one number"
    return None


def _check_new_credentials(email: str | None, password: str | None) -> dict[str, Any] | None:
    """The answer refusing a new e-mail or password, or None when both are acceptable."""
    if email is not None and not _EMAIL.match(email):
        return {"status": "INVALID_EMAIL_ERROR"}
    if password is not None:
        problem = _password_problem(password)
        if problem is not None:
            return {"status": "PASSWORD_WEAK_ERROR", "message": problem}
    return None


# -- storage --


def _user_json(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "userId": row["dashboard_user_id"],
        "email": row["email"],
        "timeJoined": row["time_joined"],
    }


def _all_users(conn: sqlite3.Connection, app_id: str) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM dashboard_users WHERE app_id=? ORDER BY time_joined, rowid", (app_id,)
    ).fetchall()


def _user_by(conn: sqlite3.Connection, app_id: str, column: str, value: str) -> sqlite3.Row | None:
    if column not in ("email", "dashboard_user_id"):
        raise ValueError(column)
    row: sqlite3.Row | None = conn.execute(
        f"SELECT * FROM dashboard_users WHERE app_id=? AND {column}=?",  # noqa: S608
        (app_id, value),
    ).fetchone()
    return row


def _suspended(req: Request, conn: sqlite3.Connection, user_id: str) -> bool:
    """Without a license, only the three oldest dashboard users may sign in."""
    if req.core.licensed:
        return False
    allowed = [r["dashboard_user_id"] for r in _all_users(conn, req.app_id)[:FREE_USERS]]
    return user_id not in allowed


def _live_session(req: Request, conn: sqlite3.Connection, session_id: str) -> sqlite3.Row | None:
    conn.execute(
        "DELETE FROM dashboard_sessions WHERE app_id=? AND expiry <= ?",
        (req.app_id, req.core.now_ms()),
    )
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM dashboard_sessions WHERE app_id=? AND session_id=?", (req.app_id, session_id)
    ).fetchone()
    return row


# -- sign in, verify, sign out --


@routes.post("/recipe/dashboard/signin")
def sign_in(req: Request) -> dict[str, Any]:
    email = normalise_email(str(_text(req.str_field("email"), "email")))
    password = str(_text(req.str_field("password"), "password"))
    with req.core.db.transaction() as conn:
        user = _user_by(conn, req.app_id, "email", email)
        if user is not None and _suspended(req, conn, user["dashboard_user_id"]):
            return {"status": "USER_SUSPENDED_ERROR", "message": SUSPENDED_ON_SIGN_IN}
    # Hash outside the transaction (the database lock is global); a dummy hash when unknown.
    if not verify_password(password, None if user is None else user["password_hash"]):
        return {"status": "INVALID_CREDENTIALS_ERROR"}
    assert user is not None
    session_id = str(uuid.uuid4())
    now = req.core.now_ms()
    with req.core.db.transaction() as conn:
        if _user_by(conn, req.app_id, "dashboard_user_id", user["dashboard_user_id"]) is None:
            return {"status": "INVALID_CREDENTIALS_ERROR"}  # removed while we were hashing
        conn.execute(
            "INSERT INTO dashboard_sessions"
            " (app_id, session_id, dashboard_user_id, time_created, expiry) VALUES (?,?,?,?,?)",
            (req.app_id, session_id, user["dashboard_user_id"], now, now + SESSION_DURATION_MS),
        )
    return {"status": "OK", "sessionId": session_id}


@routes.post("/recipe/dashboard/session/verify")
def verify_session(req: Request) -> dict[str, Any]:
    session_id = str(_text(req.str_field("sessionId"), "sessionId"))
    with req.core.db.transaction() as conn:
        session = _live_session(req, conn, session_id)
        if session is None:
            return {"status": "INVALID_SESSION_ERROR"}
        if _suspended(req, conn, session["dashboard_user_id"]):
            return {"status": "USER_SUSPENDED_ERROR", "message": "User is suspended."}
        user = _user_by(conn, req.app_id, "dashboard_user_id", session["dashboard_user_id"])
    if user is None:
        return {"status": "INVALID_SESSION_ERROR"}
    return {"status": "OK", "email": user["email"]}


@routes.delete("/recipe/dashboard/session")
def revoke_session(req: Request) -> dict[str, Any]:
    session_id = str(_text(req.param("sessionId"), "sessionId"))
    with req.core.db.transaction() as conn:
        conn.execute(
            "DELETE FROM dashboard_sessions WHERE app_id=? AND session_id=?",
            (req.app_id, session_id),
        )
    return {"status": "OK"}


# -- dashboard users --


@routes.post("/recipe/dashboard/user")
def create_user(req: Request) -> dict[str, Any]:
    email = normalise_email(str(_text(req.str_field("email"), "email")))
    refused = _check_new_credentials(email, None)
    if refused is not None:
        return refused
    password = str(_text(req.str_field("password"), "password"))
    refused = _check_new_credentials(None, password)
    if refused is not None:
        return refused
    password_hash = hash_password(password)
    user_id = str(uuid.uuid4())
    with req.core.db.transaction() as conn:
        if _user_by(conn, req.app_id, "email", email) is not None:
            return {"status": "EMAIL_ALREADY_EXISTS_ERROR"}
        if not req.core.licensed and len(_all_users(conn, req.app_id)) >= FREE_USERS:
            raise CoreError(402, FREE_USER_LIMIT)
        conn.execute(
            "INSERT INTO dashboard_users"
            " (app_id, dashboard_user_id, email, password_hash, time_joined) VALUES (?,?,?,?,?)",
            (req.app_id, user_id, email, password_hash, req.core.now_ms()),
        )
        user = _user_by(conn, req.app_id, "dashboard_user_id", user_id)
    assert user is not None
    return {"status": "OK", "user": _user_json(user)}


@routes.put("/recipe/dashboard/user")
def update_user(req: Request) -> dict[str, Any]:
    """Change a user's e-mail and/or password (by ``userId`` or ``email``); ends its sessions."""
    new_email = _text(req.field("newEmail", str, required=False), "newEmail")
    new_email = None if new_email is None else normalise_email(new_email)
    new_password = _text(req.field("newPassword", str, required=False), "newPassword")
    refused = _check_new_credentials(new_email, new_password)
    if refused is not None:
        return refused
    user_id = _text(req.field("userId", str, required=False), "userId")
    email = _text(req.field("email", str, required=False), "email")
    if user_id is None and email is None:
        raise bad_request("Either field 'email' or 'userId' must be present")
    password_hash = None if new_password is None else hash_password(new_password)
    with req.core.db.transaction() as conn:
        if user_id is not None:
            user = _user_by(conn, req.app_id, "dashboard_user_id", user_id)
        else:
            user = _user_by(conn, req.app_id, "email", normalise_email(str(email)))
        if user is None:
            return {"status": "UNKNOWN_USER_ERROR"}
        key = (req.app_id, user["dashboard_user_id"])
        if new_email is not None and new_email != user["email"]:
            if _user_by(conn, req.app_id, "email", new_email) is not None:
                return {"status": "EMAIL_ALREADY_EXISTS_ERROR"}
            conn.execute(
                "UPDATE dashboard_users SET email=? WHERE app_id=? AND dashboard_user_id=?",
                (new_email, *key),
            )
        if password_hash is not None:
            conn.execute(
                "UPDATE dashboard_users SET password_hash=? WHERE app_id=? AND dashboard_user_id=?",
                (password_hash, *key),
            )
        conn.execute("DELETE FROM dashboard_sessions WHERE app_id=? AND dashboard_user_id=?", key)
        updated = _user_by(conn, req.app_id, "dashboard_user_id", user["dashboard_user_id"])
    assert updated is not None
    return {"status": "OK", "user": _user_json(updated)}


@routes.delete("/recipe/dashboard/user")
def remove_user(req: Request) -> dict[str, Any]:
    user_id = _text(req.param("userId", required=False), "userId")
    email = _text(req.param("email", required=False), "email")
    if user_id is None and email is None:
        raise bad_request("Either field 'email' or 'userId' must be present")
    with req.core.db.transaction() as conn:
        if user_id is not None:
            user = _user_by(conn, req.app_id, "dashboard_user_id", user_id)
        else:
            user = _user_by(conn, req.app_id, "email", normalise_email(str(email)))
        if user is not None:
            conn.execute(
                "DELETE FROM dashboard_users WHERE app_id=? AND dashboard_user_id=?",
                (req.app_id, user["dashboard_user_id"]),
            )
    return {"status": "OK", "didUserExist": user is not None}


@routes.get("/recipe/dashboard/users")
def list_users(req: Request) -> dict[str, Any]:
    """The dashboard users, oldest first; without a license only the three that count."""
    with req.core.db.transaction() as conn:
        rows = _all_users(conn, req.app_id)
    if not req.core.licensed:
        rows = rows[:FREE_USERS]
    return {"status": "OK", "users": [_user_json(r) for r in rows]}


@routes.get("/recipe/dashboard/user/sessions")
def user_sessions(req: Request) -> dict[str, Any]:
    user_id = str(_text(req.param("userId"), "userId"))
    with req.core.db.transaction() as conn:
        conn.execute(
            "DELETE FROM dashboard_sessions WHERE app_id=? AND expiry <= ?",
            (req.app_id, req.core.now_ms()),
        )
        rows = conn.execute(
            "SELECT * FROM dashboard_sessions WHERE app_id=? AND dashboard_user_id=?"
            " ORDER BY time_created, session_id",
            (req.app_id, user_id),
        ).fetchall()
    sessions = [
        {
            "sessionId": r["session_id"],
            "userId": r["dashboard_user_id"],
            "timeCreated": r["time_created"],
            "expiry": r["expiry"],
        }
        for r in rows
    ]
    return {"status": "OK", "sessions": sessions}


# -- the tenant page --


@routes.get("/recipe/dashboard/tenant/core-config", tenant=True)
def tenant_core_config(req: Request) -> dict[str, Any]:
    """The core config the dashboard shows for a tenant: the app's, the same for every tenant."""
    effective = req.core.app_config(req.app_id)
    fields = [
        {
            "key": key,
            "valueType": "boolean" if kind is bool else "number",
            "value": effective[key],
            "description": _config.DESCRIPTIONS[key],
            "isDifferentAcrossTenants": False,
            "possibleValues": None,
            "isNullable": False,
            "defaultValue": default,
            "isPluginProperty": False,
            "isPluginPropertyEditable": False,
        }
        for key, (default, kind) in _config.DEFAULTS.items()
    ]
    return {"status": "OK", "config": fields}
