"""The user model shared by the auth recipes (emailpassword, thirdparty, passwordless).

The free core has no account linking, so every user has exactly one login method
and its recipe user id is its user id. With a license, account linking groups
recipe users under a primary user (table ``user_links``: one row per linked recipe
user, the primary user's own row pointing at itself); such a user is answered as
the primary user with one login method per linked recipe user.
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    app_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    recipe_id TEXT NOT NULL,
    email TEXT,
    phone_number TEXT,
    third_party_id TEXT,
    third_party_user_id TEXT,
    password_hash TEXT,
    time_joined INTEGER NOT NULL,
    PRIMARY KEY (app_id, user_id)
);
CREATE INDEX IF NOT EXISTS users_email ON users (app_id, email);
CREATE INDEX IF NOT EXISTS users_phone ON users (app_id, phone_number);
CREATE INDEX IF NOT EXISTS users_time ON users (app_id, time_joined);
CREATE TABLE IF NOT EXISTS user_tenants (
    app_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (app_id, tenant_id, user_id)
);
CREATE TABLE IF NOT EXISTS user_links (
    app_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    primary_user_id TEXT NOT NULL,
    PRIMARY KEY (app_id, user_id)
);
CREATE INDEX IF NOT EXISTS user_links_primary ON user_links (app_id, primary_user_id);
CREATE TABLE IF NOT EXISTS verified_emails (
    app_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    email TEXT NOT NULL,
    PRIMARY KEY (app_id, user_id, email)
);
"""


def new_user_id() -> str:
    return str(uuid.uuid4())


def insert_user(
    conn: sqlite3.Connection,
    *,
    app_id: str,
    tenant_id: str,
    recipe_id: str,
    time_joined: int,
    email: str | None = None,
    phone_number: str | None = None,
    third_party_id: str | None = None,
    third_party_user_id: str | None = None,
    password_hash: str | None = None,
    user_id: str | None = None,
) -> str:
    """Insert a user with its single login method; returns the new user id."""
    user_id = user_id or new_user_id()
    conn.execute(
        "INSERT INTO users (app_id, user_id, recipe_id, email, phone_number, third_party_id,"
        " third_party_user_id, password_hash, time_joined) VALUES (?,?,?,?,?,?,?,?,?)",
        (
            app_id,
            user_id,
            recipe_id,
            email,
            phone_number,
            third_party_id,
            third_party_user_id,
            password_hash,
            time_joined,
        ),
    )
    conn.execute(
        "INSERT INTO user_tenants (app_id, tenant_id, user_id) VALUES (?,?,?)",
        (app_id, tenant_id, user_id),
    )
    return user_id


def get_row(conn: sqlite3.Connection, app_id: str, user_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM users WHERE app_id=? AND user_id=?", (app_id, user_id)
    ).fetchone()
    return row


def tenant_ids(conn: sqlite3.Connection, app_id: str, user_id: str) -> list[str]:
    rows = conn.execute(
        "SELECT tenant_id FROM user_tenants WHERE app_id=? AND user_id=? ORDER BY tenant_id",
        (app_id, user_id),
    ).fetchall()
    return [r["tenant_id"] for r in rows]


def is_email_verified(conn: sqlite3.Connection, app_id: str, user_id: str, email: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM verified_emails WHERE app_id=? AND user_id=? AND email=?",
        (app_id, user_id, email),
    ).fetchone()
    return row is not None


def mark_email_verified(conn: sqlite3.Connection, app_id: str, user_id: str, email: str) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO verified_emails (app_id, user_id, email) VALUES (?,?,?)",
        (app_id, user_id, email),
    )


def primary_user_id(conn: sqlite3.Connection, app_id: str, user_id: str) -> str | None:
    """The primary user a recipe user belongs to (itself if primary), or None if unlinked."""
    row = conn.execute(
        "SELECT primary_user_id FROM user_links WHERE app_id=? AND user_id=?", (app_id, user_id)
    ).fetchone()
    return None if row is None else str(row["primary_user_id"])


def contact_taken_in_its_tenants(
    conn: sqlite3.Connection,
    app_id: str,
    user_id: str,
    recipe_id: str,
    *,
    email: str | None = None,
    phone: str | None = None,
) -> bool:
    """Whether another ``recipe_id`` user, in a tenant of ``user_id``, has the e-mail or
    the phone number (a None never matches): a recipe's contacts are unique per tenant."""
    row = conn.execute(
        "SELECT 1 FROM users u JOIN user_tenants t ON t.app_id=u.app_id AND t.user_id=u.user_id"
        " WHERE u.app_id=? AND u.recipe_id=? AND u.user_id<>? AND (u.email=? OR u.phone_number=?)"
        " AND t.tenant_id IN (SELECT tenant_id FROM user_tenants WHERE app_id=? AND user_id=?)",
        (app_id, recipe_id, user_id, email, phone, app_id, user_id),
    ).fetchone()
    return row is not None


def contact_of_another_primary_user(
    conn: sqlite3.Connection,
    app_id: str,
    user_id: str,
    *,
    email: str | None = None,
    phone: str | None = None,
) -> bool:
    """Whether a linked user's new e-mail or phone number (a None never matches) already
    belongs to another primary user in the tenants of the user.

    With account linking the real core refuses such a change
    (``EMAIL_CHANGE_NOT_ALLOWED_ERROR`` and the like); an unlinked user is never
    refused for this reason.
    """
    own_primary = primary_user_id(conn, app_id, user_id)
    if own_primary is None:
        return False
    row = conn.execute(
        "SELECT 1 FROM users u JOIN user_links l ON l.app_id=u.app_id AND l.user_id=u.user_id"
        " JOIN user_tenants t ON t.app_id=u.app_id AND t.user_id=u.user_id"
        " WHERE u.app_id=? AND l.primary_user_id<>? AND (u.email=? OR u.phone_number=?)"
        " AND t.tenant_id IN (SELECT tenant_id FROM user_tenants WHERE app_id=? AND user_id=?)",
        (app_id, own_primary, email, phone, app_id, user_id),
    ).fetchone()
    return row is not None


def linked_rows(conn: sqlite3.Connection, app_id: str, primary_id: str) -> list[sqlite3.Row]:
    """The recipe users linked to a primary user, oldest first."""
    return conn.execute(
        "SELECT u.* FROM users u JOIN user_links l ON l.app_id=u.app_id AND l.user_id=u.user_id"
        " WHERE u.app_id=? AND l.primary_user_id=? ORDER BY u.time_joined, u.user_id",
        (app_id, primary_id),
    ).fetchall()


def user_json(conn: sqlite3.Connection, app_id: str, user_id: str) -> dict[str, Any] | None:
    """The user as the core's ``authRecipeUser`` JSON, or None when unknown.

    A linked recipe user id answers its primary user, as the real core does.
    """
    row = get_row(conn, app_id, user_id)
    if row is not None:
        return row_to_json(conn, row)
    # A primary user whose own login method was unlinked (deleted) lives on in its links.
    members = linked_rows(conn, app_id, user_id)
    return _primary_json(conn, user_id, members) if members else None


def row_to_json(conn: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
    primary_id = primary_user_id(conn, row["app_id"], row["user_id"])
    if primary_id is None:
        method = _login_method_json(conn, row)
        return _user_with_methods(row["user_id"], False, [method])
    return _primary_json(conn, primary_id, linked_rows(conn, row["app_id"], primary_id))


def _primary_json(
    conn: sqlite3.Connection, primary_id: str, members: list[sqlite3.Row]
) -> dict[str, Any]:
    methods = [_login_method_json(conn, member) for member in members]
    return _user_with_methods(primary_id, True, methods)


def _user_with_methods(
    user_id: str, is_primary: bool, methods: list[dict[str, Any]]
) -> dict[str, Any]:
    def distinct(key: str) -> list[Any]:
        values: list[Any] = []
        for method in methods:
            if key in method and method[key] not in values:
                values.append(method[key])
        return values

    tenants = sorted({t for method in methods for t in method["tenantIds"]})
    return {
        "id": user_id,
        "isPrimaryUser": is_primary,
        "tenantIds": tenants,
        "timeJoined": min(method["timeJoined"] for method in methods),
        "emails": distinct("email"),
        "phoneNumbers": distinct("phoneNumber"),
        "thirdParty": distinct("thirdParty"),
        "webauthn": {"credentialIds": []},
        "loginMethods": methods,
    }


def _login_method_json(conn: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
    app_id, user_id = row["app_id"], row["user_id"]
    tenants = tenant_ids(conn, app_id, user_id)
    email, phone = row["email"], row["phone_number"]
    third_party = None
    if row["third_party_id"] is not None:
        third_party = {"id": row["third_party_id"], "userId": row["third_party_user_id"]}
    verified = email is not None and is_email_verified(conn, app_id, user_id, email)
    if row["recipe_id"] == "passwordless":
        # Passwordless proves ownership of the contact it signed in with.
        verified = True
    login_method: dict[str, Any] = {
        "tenantIds": tenants,
        "recipeUserId": user_id,
        "verified": verified,
        "timeJoined": row["time_joined"],
        "recipeId": row["recipe_id"],
    }
    if email is not None:
        login_method["email"] = email
    if phone is not None:
        login_method["phoneNumber"] = phone
    if third_party is not None:
        login_method["thirdParty"] = third_party
    return login_method
