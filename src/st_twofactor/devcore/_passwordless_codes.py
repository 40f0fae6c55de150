"""Pending passwordless codes: list them, and revoke one code, one device or all of a contact.

Apart from the sign-in (:mod:`._passwordless`): these routes let the backend see and
cancel sign-ins in progress, and never sign anyone in.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ._http import Request, Routes, bad_request, exactly_one
from ._normalise import normalise_email, normalise_phone
from ._passwordless_devices import (
    code_settings,
    decode_device_id,
    delete_device,
    delete_devices_of,
    device_id_hash,
    device_json,
    get_device,
)

routes = Routes()


@routes.post("/recipe/signinup/code/remove", tenant=True)
def revoke_code(req: Request) -> dict[str, Any]:
    code_id = req.str_field("codeId", required=False)
    pre_auth_session_id = req.str_field("preAuthSessionId", required=False)
    if code_id is None and pre_auth_session_id is None:
        raise bad_request("Please provide either 'codeId' or 'preAuthSessionId'")
    if code_id is not None and pre_auth_session_id is not None:
        raise bad_request("Please provide only one of 'codeId' or 'preAuthSessionId'")
    with req.core.db.transaction() as conn:
        if pre_auth_session_id is not None:
            delete_device(conn, req, pre_auth_session_id)
        else:
            _remove_code(conn, req, str(code_id))
    return {"status": "OK"}


def _remove_code(conn: sqlite3.Connection, req: Request, code_id: str) -> None:
    """Delete one code; a device left without codes goes with it."""
    code = conn.execute(
        "SELECT device_id_hash FROM passwordless_codes"
        " WHERE app_id=? AND tenant_id=? AND code_id=?",
        (req.app_id, req.tenant_id, code_id),
    ).fetchone()
    if code is None:
        return
    conn.execute(
        "DELETE FROM passwordless_codes WHERE app_id=? AND tenant_id=? AND code_id=?",
        (req.app_id, req.tenant_id, code_id),
    )
    left = conn.execute(
        "SELECT 1 FROM passwordless_codes WHERE app_id=? AND tenant_id=? AND device_id_hash=?",
        (req.app_id, req.tenant_id, code["device_id_hash"]),
    ).fetchone()
    if left is None:
        delete_device(conn, req, code["device_id_hash"])


@routes.post("/recipe/signinup/codes/remove", tenant=True)
def revoke_all_codes(req: Request) -> dict[str, Any]:
    email = req.str_field("email", required=False)
    phone = req.str_field("phoneNumber", required=False)
    exactly_one("Please provide exactly one of email or phoneNumber", email, phone)
    with req.core.db.transaction() as conn:
        delete_devices_of(
            conn,
            req.app_id,
            req.tenant_id,
            email=None if email is None else normalise_email(email),
            phone=None if phone is None else normalise_phone(phone),
        )
    return {"status": "OK"}


@routes.get("/recipe/signinup/codes", tenant=True)
def list_codes(req: Request) -> dict[str, Any]:
    email = req.param("email", required=False)
    phone = req.param("phoneNumber", required=False)
    device_id = req.param("deviceId", required=False)
    id_hash = req.param("preAuthSessionId", required=False)
    exactly_one(
        "Please provide exactly one of email, phoneNumber, deviceId or preAuthSessionId",
        email,
        phone,
        device_id,
        id_hash,
    )
    if device_id is not None:
        id_hash = device_id_hash(decode_device_id(device_id))
    lifetime, _ = code_settings(req)
    with req.core.db.transaction() as conn:
        if id_hash is not None:
            device = get_device(conn, req, id_hash)
            devices = [] if device is None else [device]
        else:
            devices = conn.execute(
                "SELECT * FROM passwordless_devices WHERE app_id=? AND tenant_id=?"
                " AND (email=? OR phone_number=?) ORDER BY rowid",
                (
                    req.app_id,
                    req.tenant_id,
                    None if email is None else normalise_email(email),
                    None if phone is None else normalise_phone(phone),
                ),
            ).fetchall()
        return {"status": "OK", "devices": [_device_with_codes(conn, d, lifetime) for d in devices]}


def _device_with_codes(
    conn: sqlite3.Connection, device: sqlite3.Row, lifetime: int
) -> dict[str, Any]:
    codes = conn.execute(
        "SELECT code_id, created_at FROM passwordless_codes WHERE app_id=? AND tenant_id=?"
        " AND device_id_hash=? ORDER BY created_at, code_id",
        (device["app_id"], device["tenant_id"], device["device_id_hash"]),
    ).fetchall()
    result = device_json(device)
    result["codes"] = [
        {"codeId": c["code_id"], "timeCreated": c["created_at"], "codeLifetime": lifetime}
        for c in codes
    ]
    return result
