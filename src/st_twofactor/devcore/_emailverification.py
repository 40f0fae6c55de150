"""The emailverification recipe: tokens, verify, check, unverify.

Verification is per (user id, e-mail) and app-wide, in the ``verified_emails``
table of the user model, so user JSON shows ``verified``. Like the real core it
accepts any user id (verification also serves users the core does not own).
Tokens are random, stored as SHA-256 hashes, tenant-scoped, single use, and
expire after the app's ``email_verification_token_lifetime``.
"""

from __future__ import annotations

import secrets
from typing import Any

from ._db import sha256_hex
from ._http import Request, Routes, bad_request
from ._normalise import normalise_email
from ._users import is_email_verified, mark_email_verified

SCHEMA = """
CREATE TABLE IF NOT EXISTS email_verification_tokens (
    app_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    user_id TEXT NOT NULL,
    email TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, tenant_id, token_hash)
);
CREATE INDEX IF NOT EXISTS email_verification_tokens_user
    ON email_verification_tokens (app_id, tenant_id, user_id, email);
"""

routes = Routes()


def _user_and_email(req: Request) -> tuple[str, str]:
    return req.str_field("userId"), normalise_email(req.str_field("email"))


@routes.post("/recipe/user/email/verify/token", tenant=True)
def create_token(req: Request) -> dict[str, Any]:
    user_id, email = _user_and_email(req)
    token = secrets.token_urlsafe(48)
    lifetime = req.core.app_config(req.app_id)["email_verification_token_lifetime"]
    with req.core.db.transaction() as conn:
        if is_email_verified(conn, req.app_id, user_id, email):
            return {"status": "EMAIL_ALREADY_VERIFIED_ERROR"}
        conn.execute(
            "INSERT INTO email_verification_tokens"
            " (app_id, tenant_id, token_hash, user_id, email, expires_at) VALUES (?,?,?,?,?,?)",
            (
                req.app_id,
                req.tenant_id,
                sha256_hex(token),
                user_id,
                email,
                req.core.now_ms() + lifetime,
            ),
        )
    return {"status": "OK", "token": token}


@routes.post("/recipe/user/email/verify", tenant=True)
def verify(req: Request) -> dict[str, Any]:
    """Spend a token: all tokens of that user and e-mail go with it, even when it expired."""
    method = req.str_field("method")
    token = req.str_field("token")
    if method != "token":
        raise bad_request("Unsupported method for email verification")
    with req.core.db.transaction() as conn:
        row = conn.execute(
            "SELECT * FROM email_verification_tokens"
            " WHERE app_id=? AND tenant_id=? AND token_hash=?",
            (req.app_id, req.tenant_id, sha256_hex(token)),
        ).fetchone()
        if row is None:
            return {"status": "EMAIL_VERIFICATION_INVALID_TOKEN_ERROR"}
        conn.execute(
            "DELETE FROM email_verification_tokens"
            " WHERE app_id=? AND tenant_id=? AND user_id=? AND email=?",
            (req.app_id, req.tenant_id, row["user_id"], row["email"]),
        )
        if row["expires_at"] < req.core.now_ms():
            return {"status": "EMAIL_VERIFICATION_INVALID_TOKEN_ERROR"}
        mark_email_verified(conn, req.app_id, row["user_id"], row["email"])
    return {"status": "OK", "userId": row["user_id"], "email": row["email"]}


@routes.get("/recipe/user/email/verify")
def is_verified(req: Request) -> dict[str, Any]:
    user_id = str(req.param("userId"))
    email = str(req.param("email"))
    with req.core.db.transaction() as conn:
        verified = is_email_verified(conn, req.app_id, user_id, email)
    return {"status": "OK", "isVerified": verified}


@routes.post("/recipe/user/email/verify/remove")
def unverify(req: Request) -> dict[str, Any]:
    user_id, email = _user_and_email(req)
    with req.core.db.transaction() as conn:
        conn.execute(
            "DELETE FROM verified_emails WHERE app_id=? AND user_id=? AND email=?",
            (req.app_id, user_id, email),
        )
    return {"status": "OK"}


@routes.post("/recipe/user/email/verify/token/remove", tenant=True)
def revoke_tokens(req: Request) -> dict[str, Any]:
    user_id, email = _user_and_email(req)
    with req.core.db.transaction() as conn:
        conn.execute(
            "DELETE FROM email_verification_tokens"
            " WHERE app_id=? AND tenant_id=? AND user_id=? AND email=?",
            (req.app_id, req.tenant_id, user_id, email),
        )
    return {"status": "OK"}
