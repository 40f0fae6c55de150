"""TOTP code checks: the RFC 6238 codes, replay refusal and the failed-attempt limit.

Every checked code is remembered per tenant and user (as a SHA-256, with whether
it was valid): a valid code is refused while it could still be valid (replay),
and ``totp_max_attempts`` invalid codes in a row lock the user out for
``totp_rate_limit_cooldown_sec`` (``LIMIT_REACHED_ERROR`` with ``retryAfterMs``).
These two settings use the real core's defaults (5 and 900 s) unless the app's
config sets them.

Apart from the device routes (:mod:`._totp`), which call :func:`check_and_store`,
because this is where a guess is counted and a code is accepted or not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import sqlite3
from dataclasses import dataclass
from typing import Any

from ._db import sha256_hex
from ._http import Request

DIGITS = 6
MAX_CODE_LENGTH = 8
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_COOLDOWN_SEC = 900


# -- RFC 6238 --


def _code_at(key: bytes, counter: int) -> str:
    digest = hmac.new(key, counter.to_bytes(8, "big", signed=True), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(value % 10**DIGITS).zfill(DIGITS)


def _matches(device: sqlite3.Row, code: str, now_ms: int) -> bool:
    """Whether ``code`` is the device's code for a period within its skew of now."""
    key = base64.b32decode(device["secret"])
    period_ms = int(device["period"]) * 1000
    given = code.encode()
    found = False
    for shift in range(-int(device["skew"]), int(device["skew"]) + 1):
        counter = (now_ms + shift * period_ms) // period_ms
        if counter >= 0 and hmac.compare_digest(_code_at(key, counter).encode(), given):
            found = True
    return found


# -- code checks --


@dataclass(frozen=True)
class _UsedCode:
    code_hash: str
    is_valid: bool
    expiry_time: int
    created_time: int


def _limits(req: Request) -> tuple[int, int]:
    config = req.core.app_config(req.app_id)
    max_attempts = int(config.get("totp_max_attempts", DEFAULT_MAX_ATTEMPTS))
    cooldown_ms = int(config.get("totp_rate_limit_cooldown_sec", DEFAULT_COOLDOWN_SEC)) * 1000
    return max_attempts, cooldown_ms


def _used_codes(conn: sqlite3.Connection, req: Request, user_id: str) -> list[_UsedCode]:
    rows = conn.execute(
        "SELECT code_hash, is_valid, expiry_time, created_time FROM totp_used_codes"
        " WHERE app_id=? AND tenant_id=? AND user_id=? ORDER BY created_time DESC, rowid DESC",
        (req.app_id, req.tenant_id, user_id),
    ).fetchall()
    return [
        _UsedCode(r["code_hash"], bool(r["is_valid"]), r["expiry_time"], r["created_time"])
        for r in rows
    ]


def _failures_in_a_row(used: list[_UsedCode], max_attempts: int, cooldown_ms: int) -> int:
    """How many of the latest attempts (at most ``max_attempts``) failed, close together."""
    invalid: list[_UsedCode] = []
    for code in used[:max_attempts]:
        if code.is_valid:
            break
        invalid.append(code)
    if not invalid:
        return 0
    latest = invalid[0].created_time
    count = 0
    for code in invalid:
        if code.created_time <= latest - cooldown_ms:
            break
        count += 1
    return count


def check_and_store(
    conn: sqlite3.Connection,
    req: Request,
    user_id: str,
    devices: list[sqlite3.Row],
    code: str,
) -> dict[str, Any] | None:
    """None when ``code`` is a fresh valid code of one of ``devices``, else the error to answer.

    The attempt is recorded before answering, so a wrong code always counts.
    """
    max_attempts, cooldown_ms = _limits(req)
    now = req.core.now_ms()
    used = _used_codes(conn, req, user_id)
    failures = _failures_in_a_row(used, max_attempts, cooldown_ms)
    if failures == max_attempts:
        since = now - used[0].created_time
        if since < cooldown_ms:
            return {
                "status": "LIMIT_REACHED_ERROR",
                "retryAfterMs": cooldown_ms - since,
                "currentNumberOfFailedAttempts": failures,
                "maxNumberOfFailedAttempts": max_attempts,
            }
        failures = 0  # the cool-down is over: a fresh set of attempts
    invalid = {
        "status": "INVALID_TOTP_ERROR",
        "currentNumberOfFailedAttempts": failures + 1,
        "maxNumberOfFailedAttempts": max_attempts,
    }
    if len(code) > MAX_CODE_LENGTH:
        return invalid
    matching = next((d for d in devices if _matches(d, code, now)), None)
    code_hash = sha256_hex(code)
    replayed = any(
        u.is_valid and u.expiry_time > now and hmac.compare_digest(u.code_hash, code_hash)
        for u in used
    )
    valid = matching is not None and not replayed
    lifetimes = [int(d["period"]) * (2 * int(d["skew"]) + 1) for d in devices]
    if matching is not None:
        lifetimes = [int(matching["period"]) * (2 * int(matching["skew"]) + 1)]
    conn.execute(
        "INSERT INTO totp_used_codes (app_id, tenant_id, user_id, code_hash, is_valid,"
        " expiry_time, created_time) VALUES (?,?,?,?,?,?,?)",
        (
            req.app_id,
            req.tenant_id,
            user_id,
            code_hash,
            int(valid),
            now + 1000 * max(lifetimes, default=0),
            now,
        ),
    )
    return None if valid else invalid
