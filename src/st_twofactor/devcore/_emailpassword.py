"""The emailpassword recipe: sign up, sign in, update, password reset tokens.

Passwords are stored only as scrypt hashes with a random salt, and hashed
outside the database transaction (which holds the core's one lock). Sign-in
does the same hashing work whether or not the e-mail is known, so the response
time does not tell an attacker which e-mails have accounts. Reset tokens are
random, stored as SHA-256 hashes, single use, and expire after the app's
``password_reset_token_lifetime``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import sqlite3
from typing import Any

from ._db import sha256_hex
from ._http import Request, Routes, bad_request, exactly_one
from ._normalise import normalise_email
from ._user_routes import recipe_user_handler
from ._users import (
    contact_of_another_primary_user,
    contact_taken_in_its_tenants,
    get_row,
    insert_user,
    user_json,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS password_reset_tokens (
    app_id TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    user_id TEXT NOT NULL,
    email TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, token_hash)
);
CREATE INDEX IF NOT EXISTS password_reset_tokens_user
    ON password_reset_tokens (app_id, user_id);
"""

routes = Routes()

RECIPE_ID = "emailpassword"

# scrypt cost: 16 MiB of memory and some tens of milliseconds per hash.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P, _SCRYPT_LEN = 2**14, 8, 1, 32


# -- password hashing --


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=0, dklen=_SCRYPT_LEN)


def hash_password(password: str) -> str:
    """A salted scrypt hash, as ``scrypt$n$r$p$salt$hash`` (salt and hash in base64)."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


@functools.cache
def _dummy_hash() -> str:
    """Compared against when the e-mail is unknown, so that both paths cost one scrypt."""
    return hash_password(secrets.token_urlsafe(16))


def verify_password(password: str, stored: str | None) -> bool:
    """Check ``password`` against a stored hash in constant time; None checks a dummy."""
    _, n, r, p, salt, digest = (stored or _dummy_hash()).split("$")
    computed = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    return hmac.compare_digest(computed, base64.b64decode(digest)) and stored is not None


# -- queries --


def _user_by_email(
    conn: sqlite3.Connection, app_id: str, tenant_id: str, email: str
) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT u.* FROM users u JOIN user_tenants t ON t.app_id=u.app_id AND t.user_id=u.user_id"
        " WHERE u.app_id=? AND t.tenant_id=? AND u.recipe_id=? AND u.email=?",
        (app_id, tenant_id, RECIPE_ID, email),
    ).fetchone()
    return row


def _credentials(req: Request) -> tuple[str, str]:
    email = normalise_email(req.str_field("email"))
    password = req.str_field("password")
    return email, password


# -- routes --


@routes.post("/recipe/signup", tenant=True)
def sign_up(req: Request) -> dict[str, Any]:
    email, password = _credentials(req)
    if password == "":
        raise bad_request("Password cannot be an empty string")
    password_hash = hash_password(password)
    with req.core.db.transaction() as conn:
        if _user_by_email(conn, req.app_id, req.tenant_id, email) is not None:
            return {"status": "EMAIL_ALREADY_EXISTS_ERROR"}
        user_id = insert_user(
            conn,
            app_id=req.app_id,
            tenant_id=req.tenant_id,
            recipe_id=RECIPE_ID,
            time_joined=req.core.now_ms(),
            email=email,
            password_hash=password_hash,
        )
        user = user_json(conn, req.app_id, user_id)
    return {"status": "OK", "user": user, "recipeUserId": user_id}


@routes.post("/recipe/signin", tenant=True)
def sign_in(req: Request) -> dict[str, Any]:
    email, password = _credentials(req)
    with req.core.db.transaction() as conn:
        row = _user_by_email(conn, req.app_id, req.tenant_id, email)
    stored = row["password_hash"] if row is not None else None
    if not verify_password(password, stored) or row is None:
        return {"status": "WRONG_CREDENTIALS_ERROR"}
    with req.core.db.transaction() as conn:
        user = user_json(conn, req.app_id, row["user_id"])
    if user is None:  # deleted while we were hashing
        return {"status": "WRONG_CREDENTIALS_ERROR"}
    return {"status": "OK", "user": user, "recipeUserId": row["user_id"]}


@recipe_user_handler("PUT", RECIPE_ID)
def update_user(req: Request) -> dict[str, Any]:
    """Change the e-mail and/or the password of an emailpassword user."""
    user_id = req.str_field("recipeUserId")
    email = req.str_field("email", required=False)
    password = req.str_field("password", required=False)
    if email is None and password is None:
        raise bad_request("You have to provide either email or password.")
    email = normalise_email(email) if email is not None else None
    password_hash = hash_password(password) if password is not None else None
    with req.core.db.transaction() as conn:
        row = get_row(conn, req.app_id, user_id)
        if row is None or row["recipe_id"] != RECIPE_ID:
            return {"status": "UNKNOWN_USER_ID_ERROR"}
        if email is not None:
            if contact_taken_in_its_tenants(conn, req.app_id, user_id, RECIPE_ID, email=email):
                return {"status": "EMAIL_ALREADY_EXISTS_ERROR"}
            if contact_of_another_primary_user(conn, req.app_id, user_id, email=email):
                return {
                    "status": "EMAIL_CHANGE_NOT_ALLOWED_ERROR",
                    "reason": "New email is associated with another primary user ID",
                }
            conn.execute(
                "UPDATE users SET email=? WHERE app_id=? AND user_id=?",
                (email, req.app_id, user_id),
            )
        if password_hash is not None:
            conn.execute(
                "UPDATE users SET password_hash=? WHERE app_id=? AND user_id=?",
                (password_hash, req.app_id, user_id),
            )
    return {"status": "OK"}


@recipe_user_handler("GET", RECIPE_ID)
def get_user(req: Request) -> dict[str, Any]:
    """The deprecated getter: by ``userId`` (any tenant) or by ``email`` (this tenant)."""
    user_id = req.param("userId", required=False)
    email = req.param("email", required=False)
    exactly_one("Please provide exactly one of userId or email", user_id, email)
    with req.core.db.transaction() as conn:
        if user_id is not None:
            row = get_row(conn, req.app_id, user_id)
            if row is None or row["recipe_id"] != RECIPE_ID:
                return {"status": "UNKNOWN_USER_ID_ERROR"}
        else:
            row = _user_by_email(conn, req.app_id, req.tenant_id, normalise_email(str(email)))
            if row is None:
                return {"status": "UNKNOWN_EMAIL_ERROR"}
        return {"status": "OK", "user": user_json(conn, req.app_id, row["user_id"])}


@routes.post("/recipe/user/password/reset/token", tenant=True)
def create_reset_token(req: Request) -> dict[str, Any]:
    user_id = req.str_field("userId")
    email = req.str_field("email")
    token = secrets.token_urlsafe(48)
    expires_at = (
        req.core.now_ms() + req.core.app_config(req.app_id)["password_reset_token_lifetime"]
    )
    with req.core.db.transaction() as conn:
        if get_row(conn, req.app_id, user_id) is None:
            return {"status": "UNKNOWN_USER_ID_ERROR"}
        conn.execute(
            "INSERT INTO password_reset_tokens (app_id, token_hash, user_id, email, expires_at)"
            " VALUES (?,?,?,?,?)",
            (req.app_id, sha256_hex(token), user_id, email, expires_at),
        )
    return {"status": "OK", "token": token}


@routes.post("/recipe/user/password/reset/token/consume", tenant=True)
def consume_reset_token(req: Request) -> dict[str, Any]:
    """Spend a reset token: all of the user's tokens go with it, even when it expired."""
    token = req.str_field("token")
    with req.core.db.transaction() as conn:
        row = conn.execute(
            "SELECT * FROM password_reset_tokens WHERE app_id=? AND token_hash=?",
            (req.app_id, sha256_hex(token)),
        ).fetchone()
        if row is None:
            return {"status": "RESET_PASSWORD_INVALID_TOKEN_ERROR"}
        conn.execute(
            "DELETE FROM password_reset_tokens WHERE app_id=? AND user_id=?",
            (req.app_id, row["user_id"]),
        )
        if row["expires_at"] < req.core.now_ms():
            return {"status": "RESET_PASSWORD_INVALID_TOKEN_ERROR"}
    return {"status": "OK", "userId": row["user_id"], "email": row["email"]}
