"""The second HTTP dialect: the endpoints SuperTokens' frontend MFA and TOTP recipes call.

SuperTokens' prebuilt MFA screens (auth-react's ``MultiFactorAuth`` and ``TOTP``
recipes, over web-js's ``multifactorauth`` and ``totp``) call these routes, served by the
same plugin as ``/auth/2fa`` under the API base path, with no license key:

===================================  ==================================================
``PUT  {base}/mfa/info``             what the MFA screens show; syncs ``st-mfa``
``POST {base}/totp/device``          start enrolling a device (``deviceName`` optional)
``POST {base}/totp/device/verify``   activate it (``deviceName``, ``totp``)
``POST {base}/totp/verify``          complete 2FA with a code (``totp``)
``GET  {base}/totp/device/list``     the user's devices
``POST {base}/totp/device/remove``   remove a device (``deviceName``; fresh 2FA)
===================================  ==================================================

Each route only translates: it reads the body the SDKs send, calls the same factor as
its ``/auth/2fa`` counterpart (which enforces every rule: throttling, replay, freshness,
revocation, nothing written on refusal), and answers with the statuses and fields the
SDKs expect. Malformed input answers 400, a change that needs a fresh 2FA 403 (invalid
claim), exactly as on ``/auth/2fa``.
"""

from __future__ import annotations

import re
from typing import Any

from st_twofactor.http._call import Answer, BadInput, Call, FlowHandler
from st_twofactor.http._call import account_name as _account_name
from st_twofactor.mfa_claim import in_sync, mfa_entry
from st_twofactor.results import CodeRefused, Overview

__all__ = ["MFA_FACTORS", "MFA_ROUTES", "mfa_info"]

MFA_FACTORS = ("totp", "otp-email", "otp-phone")
"""The factors SuperTokens' prebuilt MFA screens can complete against this library, in
the order they are offered. Security keys are listed as set up when the user has one,
but never offered: the prebuilt UI's passkey screens call endpoints of SuperTokens'
WebAuthn recipe that this library does not serve (use ``/auth/2fa/webauthn``)."""

TOTP_PERIOD = 30
"""Seconds per TOTP time step (RFC 6238's default, the only one the library uses)."""


def mfa_info(overview: Overview, state_factors: list[str], completed: bool) -> dict[str, Any]:
    """``PUT /mfa/info``'s answer, from what ``GET /auth/2fa`` would answer.

    - ``alreadySetup``: the factors the user enrolled (recovery codes are not a factor
      SuperTokens' screens know);
    - ``allowedToSetup``: the ones the user may enrol now (none without a fresh 2FA once
      a factor is enrolled);
    - ``next``: nothing once 2FA is complete; else what can complete it now (a locked
      factor included: its screen shows how long to wait), or, for a user with no
      factor yet, what they may enrol;
    - ``emails`` / ``phoneNumbers``: where a code would go, only when shown in full (a
      pinned phone number stays hidden from a session without a fresh 2FA: the screen
      then asks for it, and only the pinned number gets the code).
    """
    already = [f for f in state_factors if f in (*MFA_FACTORS, "webauthn")]
    allowed = [f for f in overview["enrollable"] if f in MFA_FACTORS]
    if completed:
        upcoming: list[str] = []
    elif any(f in MFA_FACTORS or f == "webauthn" for f in state_factors):
        # A locked factor stays listed: its screen shows the wait (LIMIT_REACHED_ERROR)
        # rather than the prebuilt UI having nowhere to go.
        locked = [f for f in overview["locked"] if f in already]
        upcoming = [f for f in MFA_FACTORS if f in overview["next"] or f in locked]
    else:
        upcoming = allowed
    shown = {f: c["contact"] for f, c in overview["contacts"].items() if not c["masked"]}
    return {
        "status": "OK",
        "factors": {"next": upcoming, "alreadySetup": already, "allowedToSetup": allowed},
        "emails": {"otp-email": [shown["otp-email"]] if "otp-email" in shown else []},
        "phoneNumbers": {"otp-phone": [shown["otp-phone"]] if "otp-phone" in shown else []},
    }


async def _mfa_info(call: Call) -> Answer:
    state, overview = await call.read_overview()
    completed = overview["completed"]  # a grace period past its end is not complete
    if not in_sync(call.payload, completed):  # made before st-mfa existed, or grace over
        entry = mfa_entry(call.payload, completed=completed, factor=None, now=0.0)
        await call.session.merge_into_access_token_payload(entry, call.user_context)
    return mfa_info(overview, state.factor_ids(), completed)


def _totp(call: Call) -> str:
    """The ``totp`` field: the code as the SDKs send it (400 unless it is a code)."""
    code = call.string("totp", required=True)
    assert code is not None
    digits = call.runtime.config.totp_digits
    if not re.fullmatch(rf"[0-9]{{{digits}}}", code.strip()):
        raise BadInput(f"'totp' must be {digits} digits")
    return code.strip()


def _refused(call: Call, result: CodeRefused) -> Answer:
    """A wrong or throttled code, in the SDK's words."""
    if result["status"] == "LIMIT_REACHED_ERROR":
        return result
    most = call.runtime.config.max_failures
    return {
        "status": "INVALID_TOTP_ERROR",
        "currentNumberOfFailedAttempts": max(0, most - result["attemptsLeft"]),
        "maxNumberOfFailedAttempts": most,
    }


async def _create_device(call: Call) -> Answer:
    name = None
    if call.body.get("deviceName") is not None:
        name = call.device_name()
    account = _account_name(call.user_id, call.user_context)  # runs while the device is stored
    result = await call.runtime.totp.create_device(
        call.user_id,
        account,
        name,
        call.user_context,
        session_payload=call.payload,
        qr_code=False,  # the prebuilt UI draws it from qrCodeString
    )
    if result["status"] == "TOO_MANY_DEVICES_ERROR":
        return {"status": "GENERAL_ERROR", "message": "This account has too many devices"}
    if result["status"] != "OK":
        return result
    return {
        "status": "OK",
        "deviceName": result["deviceName"],
        "secret": result["secret"],
        "qrCodeString": result["otpauthUri"],
    }


async def _verify_device(call: Call) -> Answer:
    name = call.device_name(required=True, lookup_only=True)
    code = _totp(call)
    call.flag("rememberDevice")
    result = await call.runtime.totp.verify_device(
        call.user_id, name, code, call.user_context, session_payload=call.payload
    )
    if result["status"] in ("INVALID_CODE_ERROR", "LIMIT_REACHED_ERROR"):
        return _refused(call, result)
    if result["status"] != "OK":
        return result
    answer = dict(await call.completed_if_ok(result, "totp"))
    answer["wasAlreadyVerified"] = bool(result.get("wasAlreadyVerified", False))
    return answer


async def _verify_totp(call: Call) -> Answer:
    code = _totp(call)
    call.flag("rememberDevice")
    result = await call.runtime.totp.verify(call.user_id, code, call.user_context)
    if result["status"] == "TOTP_NOT_ENABLED_ERROR":
        return {"status": "UNKNOWN_USER_ID_ERROR"}  # no verified device: the SDK's answer
    if result["status"] != "OK":
        return _refused(call, result)
    return await call.completed_if_ok(result, "totp")


async def _list_devices(call: Call) -> Answer:
    state = await call.runtime.store.load(call.user_id, call.user_context)
    skew = call.runtime.config.totp_skew
    devices = [
        {"name": d.name, "period": TOTP_PERIOD, "skew": skew, "verified": d.verified}
        for d in state.totp_devices
    ]
    return {"status": "OK", "devices": devices}


async def _remove_device(call: Call) -> Answer:
    name = call.device_name(required=True, lookup_only=True)
    return await call.runtime.totp.remove_device(
        call.user_id, name, call.user_context, session_payload=call.payload
    )


MFA_ROUTES: tuple[tuple[str, str, FlowHandler], ...] = (
    ("put", "/mfa/info", _mfa_info),
    ("post", "/totp/device", _create_device),
    ("post", "/totp/device/verify", _verify_device),
    ("post", "/totp/verify", _verify_totp),
    ("get", "/totp/device/list", _list_devices),
    ("post", "/totp/device/remove", _remove_device),
)
"""The routes of SuperTokens' frontend MFA and TOTP recipes: method, path under the API
base, flow; served by :func:`~st_twofactor.http.routes.twofactor_plugin` by default."""
