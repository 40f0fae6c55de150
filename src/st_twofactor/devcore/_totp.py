"""The TOTP recipe (a paid MFA feature): devices per user, and the routes that check codes.

A device holds a base32 secret (20 random bytes), a period and a skew; codes are
6-digit RFC 6238 codes over HMAC-SHA1, accepted within ``skew`` periods either
side of now. Secrets are kept as the real core keeps them (they must be read back
to check codes); this is a development core, not a place for production secrets.

How a code is checked (replay refusal, the failed-attempt limit) is in :mod:`._totp_codes`.
"""

from __future__ import annotations

import base64
import secrets
import sqlite3
from typing import Any

from ._http import Request, Routes, bad_request
from ._paid import require_mfa
from ._totp_codes import check_and_store

SCHEMA = """
CREATE TABLE IF NOT EXISTS totp_users (
    app_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (app_id, user_id)
);
CREATE TABLE IF NOT EXISTS totp_devices (
    app_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    device_name TEXT NOT NULL,
    secret TEXT NOT NULL,
    period INTEGER NOT NULL,
    skew INTEGER NOT NULL,
    verified INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, user_id, device_name),
    FOREIGN KEY (app_id, user_id) REFERENCES totp_users (app_id, user_id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS totp_used_codes (
    app_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    is_valid INTEGER NOT NULL,
    expiry_time INTEGER NOT NULL,
    created_time INTEGER NOT NULL,
    FOREIGN KEY (app_id, user_id) REFERENCES totp_users (app_id, user_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS totp_used_codes_user
    ON totp_used_codes (app_id, tenant_id, user_id, created_time);
"""

routes = Routes()

MAX_SKEW = 1000
"""Larger skews are refused: each code check computes ``2 * skew + 1`` codes."""
MAX_PERIOD = 2**31 - 1


def _new_secret() -> str:
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")


# -- inputs --


def _user_id(req: Request) -> str:
    user_id = str(req.str_field("userId"))
    if not user_id:
        raise bad_request("userId cannot be empty")
    return user_id


def _name(req: Request, field: str, *, required: bool = True) -> str | None:
    value = req.field(field, str, required=required)
    if value is None:
        return None
    if not value:
        raise bad_request(f"{field} cannot be empty")
    return str(value)


def _int(req: Request, field: str, low: int, high: int, rule: str) -> int:
    value = int(req.field(field, int))
    if not low <= value <= high:
        raise bad_request(f"{field} must be {rule}")
    return value


# -- storage --


def _devices(conn: sqlite3.Connection, app_id: str, user_id: str) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM totp_devices WHERE app_id=? AND user_id=? ORDER BY created_at, device_name",
        (app_id, user_id),
    ).fetchall()


def _device(conn: sqlite3.Connection, app_id: str, user_id: str, name: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM totp_devices WHERE app_id=? AND user_id=? AND device_name=?",
        (app_id, user_id, name),
    ).fetchone()
    return row


# -- devices --


@routes.post("/recipe/totp/device")
def create_device(req: Request) -> dict[str, Any]:
    user_id = _user_id(req)
    name = _name(req, "deviceName", required=False)
    skew = _int(req, "skew", 0, MAX_SKEW, f">= 0 and <= {MAX_SKEW}")
    period = _int(req, "period", 1, MAX_PERIOD, "> 0")
    require_mfa(req)
    secret = _new_secret()
    with req.core.db.transaction() as conn:
        if name is None:
            name = _free_default_name(conn, req.app_id, user_id)
        existing = _device(conn, req.app_id, user_id, name)
        if existing is not None and existing["verified"]:
            return {"status": "DEVICE_ALREADY_EXISTS_ERROR"}
        # An unverified device of that name is replaced: the user is enrolling again.
        conn.execute(
            "INSERT OR IGNORE INTO totp_users (app_id, user_id) VALUES (?,?)",
            (req.app_id, user_id),
        )
        conn.execute(
            "INSERT OR REPLACE INTO totp_devices (app_id, user_id, device_name, secret, period,"
            " skew, verified, created_at) VALUES (?,?,?,?,?,?,0,?)",
            (req.app_id, user_id, name, secret, period, skew, req.core.now_ms()),
        )
    return {"status": "OK", "deviceName": name, "secret": secret}


def _free_default_name(conn: sqlite3.Connection, app_id: str, user_id: str) -> str:
    """``TOTP Device <n>``: n counts verified devices, skipping names held by verified ones."""
    devices = _devices(conn, app_id, user_id)
    verified = {d["device_name"] for d in devices if d["verified"]}
    number = len(verified)
    while f"TOTP Device {number}" in verified:
        number += 1
    return f"TOTP Device {number}"


@routes.put("/recipe/totp/device")
def rename_device(req: Request) -> dict[str, Any]:
    user_id = _user_id(req)
    old = _name(req, "existingDeviceName")
    new = _name(req, "newDeviceName")
    with req.core.db.transaction() as conn:
        if _device(conn, req.app_id, user_id, str(old)) is None:
            return {"status": "UNKNOWN_DEVICE_ERROR"}
        if new != old and _device(conn, req.app_id, user_id, str(new)) is not None:
            return {"status": "DEVICE_ALREADY_EXISTS_ERROR"}
        conn.execute(
            "UPDATE totp_devices SET device_name=? WHERE app_id=? AND user_id=? AND device_name=?",
            (new, req.app_id, user_id, old),
        )
    return {"status": "OK"}


@routes.get("/recipe/totp/device/list")
def list_devices(req: Request) -> dict[str, Any]:
    user_id = str(req.param("userId"))
    if not user_id:
        raise bad_request("userId cannot be empty")
    with req.core.db.transaction() as conn:
        devices = _devices(conn, req.app_id, user_id)
    return {
        "status": "OK",
        "devices": [
            {
                "name": d["device_name"],
                "period": d["period"],
                "skew": d["skew"],
                "verified": bool(d["verified"]),
            }
            for d in devices
        ],
    }


@routes.post("/recipe/totp/device/remove")
def remove_device(req: Request) -> dict[str, Any]:
    user_id = _user_id(req)
    name = _name(req, "deviceName")
    with req.core.db.transaction() as conn:
        deleted = conn.execute(
            "DELETE FROM totp_devices WHERE app_id=? AND user_id=? AND device_name=?",
            (req.app_id, user_id, name),
        ).rowcount
        if deleted and not _devices(conn, req.app_id, user_id):
            # The last device is gone: so is the TOTP user and its code history.
            conn.execute(
                "DELETE FROM totp_users WHERE app_id=? AND user_id=?", (req.app_id, user_id)
            )
    return {"status": "OK", "didDeviceExist": deleted > 0}


# -- verifying a device, checking a code --


@routes.post("/recipe/totp/device/verify", tenant=True)
def verify_device(req: Request) -> dict[str, Any]:
    user_id = _user_id(req)
    name = str(_name(req, "deviceName"))
    code = str(req.str_field("totp"))
    with req.core.db.transaction() as conn:
        device = _device(conn, req.app_id, user_id, name)
        if device is None:
            return {"status": "UNKNOWN_DEVICE_ERROR"}
        if device["verified"]:
            return {"status": "OK", "wasAlreadyVerified": True}
        error = check_and_store(conn, req, user_id, [device], code)
        if error is not None:
            return error
        conn.execute(
            "UPDATE totp_devices SET verified=1 WHERE app_id=? AND user_id=? AND device_name=?",
            (req.app_id, user_id, name),
        )
    return {"status": "OK", "wasAlreadyVerified": False}


@routes.post("/recipe/totp/verify", tenant=True)
def verify_code(req: Request) -> dict[str, Any]:
    user_id = _user_id(req)
    code = str(req.str_field("totp"))
    # Like the real core, unverified devices never count (allowUnverifiedDevices is ignored).
    req.field("allowUnverifiedDevices", bool, required=False)
    require_mfa(req)
    with req.core.db.transaction() as conn:
        devices = _devices(conn, req.app_id, user_id)
        if not devices:
            return {"status": "UNKNOWN_USER_ID_ERROR"}
        verified = [d for d in devices if d["verified"]]
        error = check_and_store(conn, req, user_id, verified, code)
    return {"status": "OK"} if error is None else error
