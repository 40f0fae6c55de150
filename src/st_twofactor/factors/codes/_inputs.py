"""What a request to the passwordless endpoints brings, checked
(:mod:`st_twofactor.http.passwordless`):
its session, the shape of its body, device ids, the typed code, ``rememberDevice``."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any, NoReturn

from supertokens_python.exceptions import raise_bad_input_exception
from supertokens_python.framework import BaseRequest
from supertokens_python.recipe.passwordless.constants import (
    CONSUME_CODE_API,
    CREATE_CODE_API,
    RESEND_CODE_API,
)
from supertokens_python.recipe.passwordless.recipe import PasswordlessRecipe
from supertokens_python.recipe.session import SessionContainer
from supertokens_python.recipe.session.asyncio import get_session
from supertokens_python.recipe.session.exceptions import UnauthorisedError
from supertokens_python.recipe.session.interfaces import SessionClaimValidator

from st_twofactor.http._checks import RequestCheck, check_types, guard_requests, json_object

_PRE_AUTH_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,128}={0,2}")
_DEVICE_ID = re.compile(r"[A-Za-z0-9+/]{1,128}={0,2}")
_USER_INPUT_CODE = re.compile(r"[!-~]{1,64}")
"""Printable ASCII only: unicode digits are refused before any comparison."""

_USE_SESSION = "shouldTryLinkingWithSessionUser"
"""The body field by which SuperTokens' frontends say whether a request is about the
session's user (``true``: a second factor) or not (``false`` or absent: a sign-in)."""


@dataclass(frozen=True)
class DeviceRef:
    """A device as the client names it, checked for shape: the key of the pending device
    and the handle the client holds as its ``deviceId``
    (:mod:`st_twofactor.factors.codes._devices`)."""

    key: str
    pre_auth_session_id: str
    handle: bytes


@dataclass(frozen=True)
class CodeEntry:
    """What the user sent to the consume endpoint, checked for shape."""

    device: DeviceRef
    code: str
    remember: bool = False
    """``rememberDevice: true`` in the body: remember this device once 2FA is complete."""


_BODY_STRINGS: dict[str, tuple[str, ...]] = {
    CREATE_CODE_API: ("email", "phoneNumber"),
    RESEND_CODE_API: ("preAuthSessionId", "deviceId"),
    CONSUME_CODE_API: ("preAuthSessionId", "deviceId", "userInputCode", "linkCode"),
}
"""The string fields of each passwordless POST body, by the SDK's request id."""


def guard_request_bodies(*, first_factor: bool = False) -> None:
    """Put a body-shape check in front of the passwordless recipe's request handlers.

    Runs once after ``init()``. The SDK's handlers index the body and call ``str`` methods
    on its fields before any API override is called, so a JSON array, number or string as
    the body, or ``{"email": 5}``, would be a 500. Those are answered 400 here, before the
    handler (and before any state is read or changed), and so is a
    ``shouldTryLinkingWithSessionUser`` that is not ``true`` or ``false``; everything else
    goes on unchanged. Unless passwordless is a first factor, a request without a session
    is answered 401 before its body is looked at.
    """

    def check(fields: tuple[str, ...]) -> RequestCheck:
        async def check_request(request: BaseRequest, user_context: dict[str, Any]) -> None:
            if not first_factor:
                # The session first: without one the answer is 401 whatever the body (S10).
                await require_session(request, user_context)
            _check_body(await request.json(), fields)

        return check_request

    checks = {request_id: check(fields) for request_id, fields in _BODY_STRINGS.items()}
    guard_requests(PasswordlessRecipe.get_instance(), checks)


def _check_body(body: object, fields: tuple[str, ...]) -> None:
    """400 unless ``body`` is a JSON object whose ``fields`` are strings (or absent/null).

    A null or unparsable body is left to the SDK, which answers it with its own 400.
    """
    checked = json_object(body)
    if checked is not None:
        check_types(checked, {**dict.fromkeys(fields, str), _USE_SESSION: bool})


def _no_claim_validators(
    global_validators: list[SessionClaimValidator],
    session: SessionContainer,
    user_context: dict[str, Any],
) -> list[SessionClaimValidator]:
    """These endpoints complete the 2FA claim, so no claim may be required for them."""
    return []


_VERIFIED = "st_twofactor_code_session"
"""Where :func:`require_session` keeps the session it verified, in the request's
``user_context``: the guard and then the API override both need it."""


async def require_session(request: BaseRequest, user_context: dict[str, Any]) -> SessionContainer:
    """The request's session; the SDK answers 401 (or try-refresh) without a valid one.

    Verified once per request: the guard checks it before the body, the API override
    needs it again, and verifying the access token is the request's costliest CPU step
    after the core calls. Kept in ``user_context`` (one per request) for this request
    object only.
    """
    verified = user_context.get(_VERIFIED)
    if isinstance(verified, tuple) and verified[0] is request:
        kept: SessionContainer = verified[1]
        return kept
    session = await get_session(
        request,
        session_required=True,
        override_global_claim_validators=_no_claim_validators,
        user_context=user_context,
    )
    if session is None:  # not reached with session_required=True; keeps the type exact
        raise UnauthorisedError("A session is required for second-factor codes")
    user_context[_VERIFIED] = (request, session)
    return session


async def remember_requested(request: BaseRequest) -> bool:
    """``rememberDevice`` in the consume body (the SDK caches the parsed body): ``True``
    or ``False``, absent is ``False``; anything else is a 400."""
    body = await request.json()
    value = body.get("rememberDevice") if isinstance(body, dict) else None
    if value is None:
        return False
    if not isinstance(value, bool):
        raise_bad_input_exception("rememberDevice must be true or false")
    return value


def forgotten_device(pre_auth_session_id: object, device_id: object) -> bool:
    """Whether the frontend no longer knows its device: an empty id (SuperTokens' web SDK
    sends ``""`` once another tab finished the flow, and expects RESTART_FLOW_ERROR)."""
    return pre_auth_session_id == "" or device_id == ""


async def request_session(
    request: BaseRequest, user_context: dict[str, Any], first_factor: bool
) -> SessionContainer | None:
    """The session a request is a second factor of; ``None``: the SDK's own sign-in/up.

    Where passwordless is only a second factor, every request is one: a session is
    required (401 without one) whatever the body says. Where passwordless is also a
    first factor, the body decides, with the meaning the SDK gives it: only
    ``"shouldTryLinkingWithSessionUser": true`` makes the request a second factor of its
    session (401, or try-refresh, without a valid one); ``false`` or absent is the
    ordinary sign-in/up, and a session the request carries is not even looked at, so
    such a request can neither complete that session nor change it (a user whose 2FA is
    pending can sign in to another account). The SDK's prebuilt UI sends ``true`` from
    its MFA screens and ``false`` from its sign-in form.
    """
    if first_factor and not await uses_session(request):
        return None
    return await require_session(request, user_context)


async def uses_session(request: BaseRequest) -> bool:
    """``shouldTryLinkingWithSessionUser`` of the body: absent is ``False``; anything but
    ``true`` or ``false`` is a 400 (the SDK caches the parsed body)."""
    body = await request.json()
    value = body.get(_USE_SESSION) if isinstance(body, dict) else None
    if value is None:
        return False
    if not isinstance(value, bool):
        raise_bad_input_exception(f"{_USE_SESSION} must be true or false")
    return value


def device_ref(pre_auth_session_id: object, device_id: object) -> DeviceRef:
    """The device the client names; 400 for malformed ids.

    Whether ``device_id`` is that device's handle is told by the pending device itself
    (:func:`~st_twofactor.factors.codes._devices.core_device_id`); a mismatch is answered with
    :func:`refuse_mismatch`, a 400 too.
    """
    if not isinstance(pre_auth_session_id, str) or not _PRE_AUTH_SESSION_ID.fullmatch(
        pre_auth_session_id
    ):
        raise_bad_input_exception("preAuthSessionId is malformed")
    if not isinstance(device_id, str) or not _DEVICE_ID.fullmatch(device_id):
        raise_bad_input_exception("deviceId is malformed")
    try:
        handle = base64.b64decode(device_id, validate=True)
    except (binascii.Error, ValueError):
        raise_bad_input_exception("deviceId is malformed")
    return DeviceRef(pending_key(pre_auth_session_id), pre_auth_session_id, handle)


def refuse_mismatch() -> NoReturn:
    """400: the ``deviceId`` is not the handle of the device ``preAuthSessionId`` names."""
    raise_bad_input_exception("preAuthSessionId and deviceId do not match")


def pending_key(pre_auth_session_id: str) -> str:
    """The key of a pending device in the user's state: its id without base64 padding."""
    return pre_auth_session_id.rstrip("=")


def checked_code(code: object) -> str:
    """The code as typed, trimmed; 400 for anything but 1-64 printable ASCII characters."""
    if not isinstance(code, str):
        raise_bad_input_exception("userInputCode must be a string")
    code = code.strip()
    if not _USER_INPUT_CODE.fullmatch(code):
        raise_bad_input_exception("userInputCode is malformed")
    return code


def normalise_email(email: str) -> str:
    """The core's normalisation: surrounding spaces removed, lower case."""
    return email.strip().lower()
