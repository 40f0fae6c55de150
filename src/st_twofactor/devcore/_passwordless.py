"""The passwordless sign-in: create a code, check it, consume it to sign in or up.

How devices and codes are kept is in :mod:`._passwordless_devices`.

Failed code inputs count per device; reaching ``passwordless_max_code_input_attempts``
deletes the device (``RESTART_FLOW_ERROR``). A successful consume deletes every
device of that e-mail or phone number, so each code works once. ``/code/check``
runs the same checks and counts failures but, as in the real core, leaves the
device in place on success: the following consume is what uses the code up.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import sqlite3
import uuid
from dataclasses import dataclass
from typing import Any

from . import _users
from ._http import Request, Routes, bad_request, exactly_one
from ._normalise import normalise_email, normalise_phone
from ._passwordless_devices import (
    b64url,
    code_by_link_hash,
    code_settings,
    decode_device_id,
    decode_link_code,
    delete_device,
    delete_devices_of,
    device_id_hash,
    device_json,
    get_device,
    link_code_hash,
    make_link_code,
    new_user_input_code,
    sweep_expired_devices,
)

routes = Routes()


# -- inputs --


@dataclass(frozen=True)
class _CodeInput:
    """What ``/code/consume`` and ``/code/check`` are given: a link code or a device and code."""

    pre_auth_session_id: str
    link_code: str | None
    device_id: str | None
    user_input_code: str | None


def _code_input(req: Request) -> _CodeInput:
    body = req.json()
    pre_auth_session_id = req.str_field("preAuthSessionId")
    either = "Please provide exactly one of linkCode or deviceId+userInputCode"
    if "linkCode" in body:
        if "userInputCode" in body or "deviceId" in body:
            raise bad_request(either)
        return _CodeInput(pre_auth_session_id, req.str_field("linkCode"), None, None)
    if "userInputCode" in body and "deviceId" in body:
        return _CodeInput(
            pre_auth_session_id,
            None,
            req.str_field("deviceId"),
            req.str_field("userInputCode"),
        )
    raise bad_request(either)


# -- create code --


@routes.post("/recipe/signinup/code", tenant=True)
def create_code(req: Request) -> dict[str, Any]:
    email = req.str_field("email", required=False)
    phone = req.str_field("phoneNumber", required=False)
    device_id = req.str_field("deviceId", required=False)
    exactly_one(
        "Please provide exactly one of email, phoneNumber or deviceId", email, phone, device_id
    )
    user_input_code = req.str_field("userInputCode", required=False)
    if user_input_code == "":
        raise bad_request("userInputCode cannot be an empty string.")
    lifetime, _ = code_settings(req)
    with req.core.db.transaction() as conn:
        sweep_expired_devices(conn, req, lifetime)
        if device_id is not None:
            return _new_code_for_device(conn, req, decode_device_id(device_id), user_input_code)
        return _new_device(
            conn,
            req,
            None if email is None else normalise_email(email),
            None if phone is None else normalise_phone(phone),
            user_input_code,
        )


def _new_device(
    conn: sqlite3.Connection,
    req: Request,
    email: str | None,
    phone: str | None,
    user_input_code: str | None,
) -> dict[str, Any]:
    device_id = secrets.token_bytes(32)
    salt = secrets.token_bytes(32)
    conn.execute(
        "INSERT INTO passwordless_devices (app_id, tenant_id, device_id_hash, email, phone_number,"
        " link_code_salt) VALUES (?,?,?,?,?,?)",
        (req.app_id, req.tenant_id, device_id_hash(device_id), email, phone, salt.hex()),
    )
    result = _insert_code(conn, req, device_id, salt, user_input_code)
    assert result is not None  # a fresh device cannot hold the link code already
    return result


def _new_code_for_device(
    conn: sqlite3.Connection, req: Request, device_id: bytes, user_input_code: str | None
) -> dict[str, Any]:
    device = get_device(conn, req, device_id_hash(device_id))
    if device is None:
        return {"status": "RESTART_FLOW_ERROR"}
    salt = bytes.fromhex(device["link_code_salt"])
    while True:
        result = _insert_code(conn, req, device_id, salt, user_input_code)
        if result is not None:
            return result
        if user_input_code is not None:
            # The caller chose the code: the same code gives the same link code again.
            return {"status": "USER_INPUT_CODE_ALREADY_USED_ERROR"}


def _insert_code(
    conn: sqlite3.Connection,
    req: Request,
    device_id: bytes,
    salt: bytes,
    user_input_code: str | None,
) -> dict[str, Any] | None:
    """Add a code to the device; None when its link code is already in use."""
    code = user_input_code if user_input_code is not None else new_user_input_code()
    link_code = make_link_code(device_id, salt, code)
    link_hash = link_code_hash(link_code)
    if code_by_link_hash(conn, req, link_hash) is not None:
        return None
    code_id = str(uuid.uuid4())
    now = req.core.now_ms()
    id_hash = device_id_hash(device_id)
    conn.execute(
        "INSERT INTO passwordless_codes (app_id, tenant_id, code_id, device_id_hash,"
        " link_code_hash, created_at) VALUES (?,?,?,?,?,?)",
        (req.app_id, req.tenant_id, code_id, id_hash, link_hash, now),
    )
    lifetime, _ = code_settings(req)
    return {
        "status": "OK",
        "preAuthSessionId": id_hash,
        "codeId": code_id,
        "deviceId": base64.b64encode(device_id).decode("ascii"),
        "userInputCode": code,
        "linkCode": b64url(link_code, pad=False),
        "timeCreated": now,
        "codeLifetime": lifetime,
    }


# -- check and consume --


def _resolve(conn: sqlite3.Connection, req: Request, given: _CodeInput) -> tuple[str, str] | None:
    """The device id hash and link code hash the input names; None means restart the flow."""
    lifetime, _ = code_settings(req)
    if given.link_code is not None:
        link_hash = link_code_hash(decode_link_code(given.link_code))
        code = code_by_link_hash(conn, req, link_hash)
        if code is None or code["created_at"] < req.core.now_ms() - lifetime:
            return None
        id_hash = str(code["device_id_hash"])
    else:
        assert given.device_id is not None and given.user_input_code is not None
        device_id = decode_device_id(given.device_id)
        id_hash = device_id_hash(device_id)
        device = get_device(conn, req, id_hash)
        if device is None:
            return None
        salt = bytes.fromhex(device["link_code_salt"])
        link_hash = link_code_hash(make_link_code(device_id, salt, given.user_input_code))
    if not hmac.compare_digest(
        id_hash.encode(), given.pre_auth_session_id.replace("=", "").encode()
    ):
        raise bad_request("preAuthSessionId and deviceId doesn't match")
    return id_hash, link_hash


def _check(
    conn: sqlite3.Connection, req: Request, given: _CodeInput, *, consume: bool
) -> sqlite3.Row | dict[str, Any]:
    """The device when the code is right, else the status to answer.

    Failure counts are written before answering (the caller's transaction commits
    them), so a wrong guess always costs an attempt.
    """
    lifetime, max_attempts = code_settings(req)
    resolved = _resolve(conn, req, given)
    if resolved is None:
        return {"status": "RESTART_FLOW_ERROR"}
    id_hash, link_hash = resolved
    device = get_device(conn, req, id_hash)
    if device is None:
        return {"status": "RESTART_FLOW_ERROR"}
    failed = int(device["failed_attempts"])
    if failed >= max_attempts:
        delete_device(conn, req, id_hash)
        return {"status": "RESTART_FLOW_ERROR"}
    code = code_by_link_hash(conn, req, link_hash)
    if code is None or code["created_at"] < req.core.now_ms() - lifetime:
        if given.device_id is None:
            return {"status": "RESTART_FLOW_ERROR"}
        if failed + 1 >= max_attempts:
            delete_device(conn, req, id_hash)
            return {"status": "RESTART_FLOW_ERROR"}
        conn.execute(
            "UPDATE passwordless_devices SET failed_attempts=failed_attempts+1"
            " WHERE app_id=? AND tenant_id=? AND device_id_hash=?",
            (req.app_id, req.tenant_id, id_hash),
        )
        status = (
            "EXPIRED_USER_INPUT_CODE_ERROR"
            if code is not None
            else "INCORRECT_USER_INPUT_CODE_ERROR"
        )
        return {
            "status": status,
            "failedCodeInputAttemptCount": failed + 1,
            "maximumCodeInputAttempts": max_attempts,
        }
    if consume:
        delete_devices_of(
            conn, req.app_id, req.tenant_id, email=device["email"], phone=device["phone_number"]
        )
    return device


@routes.post("/recipe/signinup/code/check", tenant=True)
def check_code(req: Request) -> dict[str, Any]:
    given = _code_input(req)
    with req.core.db.transaction() as conn:
        outcome = _check(conn, req, given, consume=False)
    if isinstance(outcome, dict):
        return outcome
    return {"status": "OK", "consumedDevice": device_json(outcome)}


@routes.post("/recipe/signinup/code/consume", tenant=True)
def consume_code(req: Request) -> dict[str, Any]:
    given = _code_input(req)
    create_user = req.field("createRecipeUserIfNotExists", bool, required=False)
    with req.core.db.transaction() as conn:
        outcome = _check(conn, req, given, consume=True)
        if isinstance(outcome, dict):
            return outcome
        return _sign_in_up(conn, req, outcome, create_user is not False)


def _find_user(conn: sqlite3.Connection, req: Request, device: sqlite3.Row) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT u.* FROM users u JOIN user_tenants t ON t.app_id=u.app_id AND t.user_id=u.user_id"
        " WHERE u.app_id=? AND t.tenant_id=? AND u.recipe_id='passwordless'"
        " AND (u.email=? OR u.phone_number=?)",
        (req.app_id, req.tenant_id, device["email"], device["phone_number"]),
    ).fetchone()
    return row


def _sign_in_up(
    conn: sqlite3.Connection, req: Request, device: sqlite3.Row, create_user: bool
) -> dict[str, Any]:
    email, phone = device["email"], device["phone_number"]
    row = _find_user(conn, req, device)
    created = False
    if row is not None:
        user_id = str(row["user_id"])
        # The other contact of the user may have devices of its own: they go too.
        delete_devices_of(
            conn,
            req.app_id,
            req.tenant_id,
            email=row["email"] if row["email"] != email else None,
            phone=row["phone_number"] if row["phone_number"] != phone else None,
        )
    elif create_user:
        user_id = _users.insert_user(
            conn,
            app_id=req.app_id,
            tenant_id=req.tenant_id,
            recipe_id="passwordless",
            time_joined=req.core.now_ms(),
            email=email,
            phone_number=phone,
        )
        created = True
    else:
        return {"status": "OK", "createdNewUser": False, "consumedDevice": device_json(device)}
    if email is not None:
        # Receiving the code proves the address: mark it verified, as the real core does.
        _users.mark_email_verified(conn, req.app_id, user_id, email)
    return {
        "status": "OK",
        "createdNewUser": created,
        "user": _users.user_json(conn, req.app_id, user_id),
        "recipeUserId": user_id,
        "consumedDevice": device_json(device),
    }
