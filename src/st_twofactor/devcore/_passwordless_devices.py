"""Passwordless devices and their codes: the tables, the encodings, the rows.

A *device* is one sign-in attempt: the client holds its ``deviceId`` (32 random
bytes), the core keeps only its SHA-256 (``preAuthSessionId``) and a random salt.
Each code of the device has a ``linkCode`` = HMAC-SHA256(deviceId + salt, user
input code); the core stores only the link code's hash. So a database dump gives
neither working link codes nor the user input codes, and since the salt never
leaves the core, a client cannot turn a guessed 6-digit code into a link code to
dodge the attempt limit.

The sign-in routes (:mod:`._passwordless`), the listing and revoking of codes
(:mod:`._passwordless_codes`) and the update of a user's contacts
(:mod:`._passwordless_user`) all read and write devices through this module.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import sqlite3
from typing import Any

from ._http import Request, bad_request

SCHEMA = """
CREATE TABLE IF NOT EXISTS passwordless_devices (
    app_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    device_id_hash TEXT NOT NULL,
    email TEXT,
    phone_number TEXT,
    link_code_salt TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, tenant_id, device_id_hash)
);
CREATE INDEX IF NOT EXISTS passwordless_devices_email
    ON passwordless_devices (app_id, tenant_id, email);
CREATE INDEX IF NOT EXISTS passwordless_devices_phone
    ON passwordless_devices (app_id, tenant_id, phone_number);
CREATE TABLE IF NOT EXISTS passwordless_codes (
    app_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    code_id TEXT NOT NULL,
    device_id_hash TEXT NOT NULL,
    link_code_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, tenant_id, code_id),
    UNIQUE (app_id, tenant_id, link_code_hash),
    FOREIGN KEY (app_id, tenant_id, device_id_hash)
        REFERENCES passwordless_devices (app_id, tenant_id, device_id_hash) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS passwordless_codes_device
    ON passwordless_codes (app_id, tenant_id, device_id_hash);
"""

USER_INPUT_CODE_DIGITS = 6
EXPIRED_DEVICE_GRACE_MS = 3_600_000
"""Devices whose codes all expired longer ago than this are swept, like the real core's cron."""


# -- encodings, as the real core's (so ids look and parse alike) --


def b64url(data: bytes, *, pad: bool) -> str:
    text = base64.urlsafe_b64encode(data).decode("ascii")
    return text if pad else text.rstrip("=")


def device_id_hash(device_id: bytes) -> str:
    return b64url(hashlib.sha256(device_id).digest(), pad=False)


def make_link_code(device_id: bytes, salt: bytes, user_input_code: str) -> bytes:
    return hmac.new(device_id + salt, user_input_code.encode(), hashlib.sha256).digest()


def link_code_hash(link_code: bytes) -> str:
    return b64url(hashlib.sha256(link_code).digest(), pad=True)


def decode_device_id(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request("Input encoding error in deviceId") from None


def decode_link_code(text: str) -> bytes:
    try:
        padded = text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise bad_request("Input encoding error in linkCode") from None


def new_user_input_code() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(USER_INPUT_CODE_DIGITS))


# -- storage helpers --


def code_settings(req: Request) -> tuple[int, int]:
    config = req.core.app_config(req.app_id)
    return int(config["passwordless_code_lifetime"]), int(
        config["passwordless_max_code_input_attempts"]
    )


def get_device(conn: sqlite3.Connection, req: Request, id_hash: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM passwordless_devices WHERE app_id=? AND tenant_id=? AND device_id_hash=?",
        (req.app_id, req.tenant_id, id_hash),
    ).fetchone()
    return row


def delete_device(conn: sqlite3.Connection, req: Request, id_hash: str) -> None:
    conn.execute(
        "DELETE FROM passwordless_devices WHERE app_id=? AND tenant_id=? AND device_id_hash=?",
        (req.app_id, req.tenant_id, id_hash),
    )


def delete_devices_of(
    conn: sqlite3.Connection,
    app_id: str,
    tenant_id: str,
    *,
    email: str | None = None,
    phone: str | None = None,
) -> None:
    """Delete the devices of an e-mail or a phone number (a None never matches)."""
    conn.execute(
        "DELETE FROM passwordless_devices WHERE app_id=? AND tenant_id=?"
        " AND (email=? OR phone_number=?)",
        (app_id, tenant_id, email, phone),
    )


def code_by_link_hash(conn: sqlite3.Connection, req: Request, link_hash: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM passwordless_codes WHERE app_id=? AND tenant_id=? AND link_code_hash=?",
        (req.app_id, req.tenant_id, link_hash),
    ).fetchone()
    return row


def sweep_expired_devices(conn: sqlite3.Connection, req: Request, lifetime: int) -> None:
    """Forget devices whose every code expired over an hour ago (the real core's cron)."""
    cutoff = req.core.now_ms() - lifetime - EXPIRED_DEVICE_GRACE_MS
    conn.execute(
        "DELETE FROM passwordless_devices WHERE app_id=? AND tenant_id=? AND NOT EXISTS ("
        " SELECT 1 FROM passwordless_codes c WHERE c.app_id=passwordless_devices.app_id"
        " AND c.tenant_id=passwordless_devices.tenant_id"
        " AND c.device_id_hash=passwordless_devices.device_id_hash AND c.created_at>=?)",
        (req.app_id, req.tenant_id, cutoff),
    )


def device_json(device: sqlite3.Row) -> dict[str, Any]:
    result: dict[str, Any] = {
        "preAuthSessionId": device["device_id_hash"],
        "failedCodeInputAttemptCount": device["failed_attempts"],
    }
    if device["email"] is not None:
        result["email"] = device["email"]
    if device["phone_number"] is not None:
        result["phoneNumber"] = device["phone_number"]
    return result
