"""The passwordless recipe: one-time codes and magic links sent to an e-mail or phone.

A *device* is one sign-in attempt: the client holds its ``deviceId`` (32 random
bytes), the core keeps only its SHA-256 (``preAuthSessionId``) and a random salt.
Each code of the device has a ``linkCode`` = HMAC-SHA256(deviceId + salt, user
input code); the core stores only the link code's hash. So a database dump gives
neither working link codes nor the user input codes, and since the salt never
leaves the core, a client cannot turn a guessed 6-digit code into a link code to
dodge the attempt limit.

Failed code inputs count per device; reaching ``passwordless_max_code_input_attempts``
deletes the device (``RESTART_FLOW_ERROR``). A successful consume deletes every
device of that e-mail or phone number, so each code works once. ``/code/check``
runs the same checks and counts failures but, as in the real core, leaves the
device in place on success: the following consume is what uses the code up.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import sqlite3
import uuid
from dataclasses import dataclass
from typing import Any

from . import _users
from ._http import Request, Routes, bad_request
from ._normalise import normalise_email, normalise_phone
from ._user_routes import recipe_user_handler

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

routes = Routes()

USER_INPUT_CODE_DIGITS = 6
EXPIRED_DEVICE_GRACE_MS = 3_600_000
"""Devices whose codes all expired longer ago than this are swept, like the real core's cron."""


# -- encodings, as the real core's (so ids look and parse alike) --


def _b64url(data: bytes, *, pad: bool) -> str:
    text = base64.urlsafe_b64encode(data).decode("ascii")
    return text if pad else text.rstrip("=")


def _device_id_hash(device_id: bytes) -> str:
    return _b64url(hashlib.sha256(device_id).digest(), pad=False)


def _link_code(device_id: bytes, salt: bytes, user_input_code: str) -> bytes:
    return hmac.new(device_id + salt, user_input_code.encode(), hashlib.sha256).digest()


def _link_code_hash(link_code: bytes) -> str:
    return _b64url(hashlib.sha256(link_code).digest(), pad=True)


def _decode_device_id(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request("Input encoding error in deviceId") from None


def _decode_link_code(text: str) -> bytes:
    try:
        padded = text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise bad_request("Input encoding error in linkCode") from None


def _new_user_input_code() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(USER_INPUT_CODE_DIGITS))


# -- inputs --


def _exactly_one(message: str, *values: object) -> None:
    if sum(v is not None for v in values) != 1:
        raise bad_request(message)


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


# -- storage helpers --


def _config(req: Request) -> tuple[int, int]:
    config = req.core.app_config(req.app_id)
    return int(config["passwordless_code_lifetime"]), int(
        config["passwordless_max_code_input_attempts"]
    )


def _get_device(conn: sqlite3.Connection, req: Request, id_hash: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM passwordless_devices WHERE app_id=? AND tenant_id=? AND device_id_hash=?",
        (req.app_id, req.tenant_id, id_hash),
    ).fetchone()
    return row


def _delete_device(conn: sqlite3.Connection, req: Request, id_hash: str) -> None:
    conn.execute(
        "DELETE FROM passwordless_devices WHERE app_id=? AND tenant_id=? AND device_id_hash=?",
        (req.app_id, req.tenant_id, id_hash),
    )


def _delete_devices_of(
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


def _code_by_link_hash(
    conn: sqlite3.Connection, req: Request, link_hash: str
) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM passwordless_codes WHERE app_id=? AND tenant_id=? AND link_code_hash=?",
        (req.app_id, req.tenant_id, link_hash),
    ).fetchone()
    return row


def _sweep_expired_devices(conn: sqlite3.Connection, req: Request, lifetime: int) -> None:
    """Forget devices whose every code expired over an hour ago (the real core's cron)."""
    cutoff = req.core.now_ms() - lifetime - EXPIRED_DEVICE_GRACE_MS
    conn.execute(
        "DELETE FROM passwordless_devices WHERE app_id=? AND tenant_id=? AND NOT EXISTS ("
        " SELECT 1 FROM passwordless_codes c WHERE c.app_id=passwordless_devices.app_id"
        " AND c.tenant_id=passwordless_devices.tenant_id"
        " AND c.device_id_hash=passwordless_devices.device_id_hash AND c.created_at>=?)",
        (req.app_id, req.tenant_id, cutoff),
    )


def _device_json(device: sqlite3.Row) -> dict[str, Any]:
    result: dict[str, Any] = {
        "preAuthSessionId": device["device_id_hash"],
        "failedCodeInputAttemptCount": device["failed_attempts"],
    }
    if device["email"] is not None:
        result["email"] = device["email"]
    if device["phone_number"] is not None:
        result["phoneNumber"] = device["phone_number"]
    return result


# -- create code --


@routes.post("/recipe/signinup/code", tenant=True)
def create_code(req: Request) -> dict[str, Any]:
    email = req.str_field("email", required=False)
    phone = req.str_field("phoneNumber", required=False)
    device_id = req.str_field("deviceId", required=False)
    _exactly_one(
        "Please provide exactly one of email, phoneNumber or deviceId", email, phone, device_id
    )
    user_input_code = req.str_field("userInputCode", required=False)
    if user_input_code == "":
        raise bad_request("userInputCode cannot be an empty string.")
    lifetime, _ = _config(req)
    with req.core.db.transaction() as conn:
        _sweep_expired_devices(conn, req, lifetime)
        if device_id is not None:
            return _new_code_for_device(conn, req, _decode_device_id(device_id), user_input_code)
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
        (req.app_id, req.tenant_id, _device_id_hash(device_id), email, phone, salt.hex()),
    )
    result = _insert_code(conn, req, device_id, salt, user_input_code)
    assert result is not None  # a fresh device cannot hold the link code already
    return result


def _new_code_for_device(
    conn: sqlite3.Connection, req: Request, device_id: bytes, user_input_code: str | None
) -> dict[str, Any]:
    device = _get_device(conn, req, _device_id_hash(device_id))
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
    code = user_input_code if user_input_code is not None else _new_user_input_code()
    link_code = _link_code(device_id, salt, code)
    link_hash = _link_code_hash(link_code)
    if _code_by_link_hash(conn, req, link_hash) is not None:
        return None
    code_id = str(uuid.uuid4())
    now = req.core.now_ms()
    id_hash = _device_id_hash(device_id)
    conn.execute(
        "INSERT INTO passwordless_codes (app_id, tenant_id, code_id, device_id_hash,"
        " link_code_hash, created_at) VALUES (?,?,?,?,?,?)",
        (req.app_id, req.tenant_id, code_id, id_hash, link_hash, now),
    )
    lifetime, _ = _config(req)
    return {
        "status": "OK",
        "preAuthSessionId": id_hash,
        "codeId": code_id,
        "deviceId": base64.b64encode(device_id).decode("ascii"),
        "userInputCode": code,
        "linkCode": _b64url(link_code, pad=False),
        "timeCreated": now,
        "codeLifetime": lifetime,
    }


# -- check and consume --


def _resolve(conn: sqlite3.Connection, req: Request, given: _CodeInput) -> tuple[str, str] | None:
    """The device id hash and link code hash the input names; None means restart the flow."""
    lifetime, _ = _config(req)
    if given.link_code is not None:
        link_hash = _link_code_hash(_decode_link_code(given.link_code))
        code = _code_by_link_hash(conn, req, link_hash)
        if code is None or code["created_at"] < req.core.now_ms() - lifetime:
            return None
        id_hash = str(code["device_id_hash"])
    else:
        assert given.device_id is not None and given.user_input_code is not None
        device_id = _decode_device_id(given.device_id)
        id_hash = _device_id_hash(device_id)
        device = _get_device(conn, req, id_hash)
        if device is None:
            return None
        salt = bytes.fromhex(device["link_code_salt"])
        link_hash = _link_code_hash(_link_code(device_id, salt, given.user_input_code))
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
    lifetime, max_attempts = _config(req)
    resolved = _resolve(conn, req, given)
    if resolved is None:
        return {"status": "RESTART_FLOW_ERROR"}
    id_hash, link_hash = resolved
    device = _get_device(conn, req, id_hash)
    if device is None:
        return {"status": "RESTART_FLOW_ERROR"}
    failed = int(device["failed_attempts"])
    if failed >= max_attempts:
        _delete_device(conn, req, id_hash)
        return {"status": "RESTART_FLOW_ERROR"}
    code = _code_by_link_hash(conn, req, link_hash)
    if code is None or code["created_at"] < req.core.now_ms() - lifetime:
        if given.device_id is None:
            return {"status": "RESTART_FLOW_ERROR"}
        if failed + 1 >= max_attempts:
            _delete_device(conn, req, id_hash)
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
        _delete_devices_of(
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
    return {"status": "OK", "consumedDevice": _device_json(outcome)}


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
        _delete_devices_of(
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
        return {"status": "OK", "createdNewUser": False, "consumedDevice": _device_json(device)}
    if email is not None:
        # Receiving the code proves the address: mark it verified, as the real core does.
        _users.mark_email_verified(conn, req.app_id, user_id, email)
    return {
        "status": "OK",
        "createdNewUser": created,
        "user": _users.user_json(conn, req.app_id, user_id),
        "recipeUserId": user_id,
        "consumedDevice": _device_json(device),
    }


# -- revoke and list --


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
            _delete_device(conn, req, pre_auth_session_id)
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
        _delete_device(conn, req, code["device_id_hash"])


@routes.post("/recipe/signinup/codes/remove", tenant=True)
def revoke_all_codes(req: Request) -> dict[str, Any]:
    email = req.str_field("email", required=False)
    phone = req.str_field("phoneNumber", required=False)
    _exactly_one("Please provide exactly one of email or phoneNumber", email, phone)
    with req.core.db.transaction() as conn:
        _delete_devices_of(
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
    _exactly_one(
        "Please provide exactly one of email, phoneNumber, deviceId or preAuthSessionId",
        email,
        phone,
        device_id,
        id_hash,
    )
    if device_id is not None:
        id_hash = _device_id_hash(_decode_device_id(device_id))
    lifetime, _ = _config(req)
    with req.core.db.transaction() as conn:
        if id_hash is not None:
            device = _get_device(conn, req, id_hash)
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
    result = _device_json(device)
    result["codes"] = [
        {"codeId": c["code_id"], "timeCreated": c["created_at"], "codeLifetime": lifetime}
        for c in codes
    ]
    return result


# -- update a passwordless user (PUT /recipe/user with rid "passwordless") --


@dataclass(frozen=True)
class _Contacts:
    email: str | None
    phone: str | None


def _contact_update(req: Request, name: str, current: str | None) -> str | None:
    """The value after the update: unchanged when absent, cleared by JSON null."""
    body = req.json()
    if name not in body:
        return current
    if body[name] is None:
        return None
    value = req.str_field(name)
    return normalise_email(value) if name == "email" else normalise_phone(value)


@recipe_user_handler("PUT", "passwordless")
def update_user(req: Request) -> dict[str, Any]:
    user_id = req.str_field("recipeUserId")
    for name in ("email", "phoneNumber"):
        _contact_update(req, name, None)  # a 400 for a wrong type, before any lookup
    with req.core.db.transaction() as conn:
        row = _users.get_row(conn, req.app_id, user_id)
        if row is None or row["recipe_id"] != "passwordless":
            return {"status": "UNKNOWN_USER_ID_ERROR"}
        old = _Contacts(row["email"], row["phone_number"])
        new = _Contacts(
            _contact_update(req, "email", old.email),
            _contact_update(req, "phoneNumber", old.phone),
        )
        if new.email is None and new.phone is None:
            raise bad_request("You cannot clear both email and phone number of a user")
        problem = _update_conflict(conn, req.app_id, user_id, old, new)
        if problem is not None:
            return problem
        conn.execute(
            "UPDATE users SET email=?, phone_number=? WHERE app_id=? AND user_id=?",
            (new.email, new.phone, req.app_id, user_id),
        )
        _forget_devices_after_update(conn, req.app_id, user_id, old, new)
    return {"status": "OK"}


_SAME_CONTACT_IN_TENANTS = (
    "SELECT 1 FROM users u JOIN user_tenants t ON t.app_id=u.app_id AND t.user_id=u.user_id"
    " WHERE u.app_id=? AND u.recipe_id='passwordless' AND u.user_id<>?"
    " AND (u.email=? OR u.phone_number=?) AND t.tenant_id IN"
    " (SELECT tenant_id FROM user_tenants WHERE app_id=? AND user_id=?)"
)

_CONTACT_OF_OTHER_PRIMARY = (
    "SELECT 1 FROM users u JOIN user_links l ON l.app_id=u.app_id AND l.user_id=u.user_id"
    " JOIN user_tenants t ON t.app_id=u.app_id AND t.user_id=u.user_id"
    " WHERE u.app_id=? AND l.primary_user_id<>? AND (u.email=? OR u.phone_number=?)"
    " AND t.tenant_id IN (SELECT tenant_id FROM user_tenants WHERE app_id=? AND user_id=?)"
)


def _update_conflict(
    conn: sqlite3.Connection, app_id: str, user_id: str, old: _Contacts, new: _Contacts
) -> dict[str, Any] | None:
    """The status refusing the update, or None.

    Passwordless contacts are unique per tenant; a linked user may not take a
    contact that another primary user of its tenants has.
    """
    email = new.email if new.email != old.email else None
    phone = new.phone if new.phone != old.phone else None
    primary = _users.primary_user_id(conn, app_id, user_id)
    checks = (
        (email, None, "EMAIL_ALREADY_EXISTS_ERROR", "EMAIL_CHANGE_NOT_ALLOWED_ERROR", "email"),
        (
            None,
            phone,
            "PHONE_NUMBER_ALREADY_EXISTS_ERROR",
            "PHONE_NUMBER_CHANGE_NOT_ALLOWED_ERROR",
            "phone number",
        ),
    )
    for by_email, by_phone, taken, not_allowed, what in checks:
        if by_email is None and by_phone is None:
            continue
        args = (app_id, user_id, by_email, by_phone, app_id, user_id)
        if conn.execute(_SAME_CONTACT_IN_TENANTS, args).fetchone() is not None:
            return {"status": taken}
        if primary is None:
            continue
        args = (app_id, primary, by_email, by_phone, app_id, user_id)
        if conn.execute(_CONTACT_OF_OTHER_PRIMARY, args).fetchone() is not None:
            return {
                "status": not_allowed,
                "reason": f"New {what} is associated with another primary user ID",
            }
    return None


def _forget_devices_after_update(
    conn: sqlite3.Connection, app_id: str, user_id: str, old: _Contacts, new: _Contacts
) -> None:
    """Pending sign-ins of the old and the new contact are void once a contact changes."""
    changed_emails = [e for e in (old.email, new.email) if e is not None and old.email != new.email]
    changed_phones = [p for p in (old.phone, new.phone) if p is not None and old.phone != new.phone]
    for tenant in _users.tenant_ids(conn, app_id, user_id):
        for email in changed_emails:
            _delete_devices_of(conn, app_id, tenant, email=email)
        for phone in changed_phones:
            _delete_devices_of(conn, app_id, tenant, phone=phone)
