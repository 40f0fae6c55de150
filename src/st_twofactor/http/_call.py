"""What every route of the library's own API shares: reading and checking the request
(body, session, names, codes), the 400/403/503 answers, and completing the session."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from supertokens_python.framework.request import BaseRequest
from supertokens_python.framework.response import BaseResponse
from supertokens_python.recipe.session.exceptions import ClaimValidationError, InvalidClaimsError
from supertokens_python.recipe.session.interfaces import SessionContainer

from st_twofactor.claim import completed_at, stale_reason
from st_twofactor.errors import DecryptionError
from st_twofactor.factors._device_names import earlier_device_name
from st_twofactor.factors.overview import AccountContacts
from st_twofactor.factors.recovery_codes import codes as recovery_codes
from st_twofactor.factors.totp.flows import DEFAULT_DEVICE_NAME, valid_device_name
from st_twofactor.factors.webauthn.factor import DEFAULT_KEY_NAME
from st_twofactor.http._body import MAX_BODY_BYTES, MalformedBody, read_json
from st_twofactor.ids import CODE_FACTORS, FactorId
from st_twofactor.kernel.required import is_2fa_required
from st_twofactor.kernel.revocation import bind_session
from st_twofactor.kernel.trusted_devices import MAX_DEVICE_ID_LENGTH
from st_twofactor.mfa_claim import MFA_CLAIM_KEY, NOT_SATISFIED

if TYPE_CHECKING:
    from st_twofactor.kernel.crypto import SecretBox
    from st_twofactor.results import Overview
    from st_twofactor.runtime import TwoFactor
    from st_twofactor.stores.state import TwoFactorState

__all__ = [
    "Answer",
    "BadInput",
    "Call",
    "FlowHandler",
    "UnreadableSecrets",
    "account_contacts",
    "account_name",
    "checked_name",
    "credential",
    "key_name",
    "read_body",
]

log = logging.getLogger("st_twofactor")

MAX_CODE_LENGTH = 64

Answer = Mapping[str, object]
"""A route's JSON body: a flow's typed result (:mod:`st_twofactor.results`), possibly
with what completing the session added."""

FlowHandler = Callable[["Call"], Awaitable[Answer]]


class BadInput(Exception):
    """A malformed request: answered 400 with ``message``; nothing is changed."""


class UnreadableSecrets:
    """The 503 answer when a stored TOTP secret cannot be decrypted, logged once per key.

    The usual cause is a key taken out of ``secret_keys`` while secrets encrypted under
    it remain: no code can be checked until it is put back, so the answer is "unavailable"
    (nothing is counted or changed), not a 500, and the log says what to fix.
    """

    def __init__(self, box: SecretBox) -> None:
        self._configured = box.key_ids
        self._logged: set[str | None] = set()

    def message(self, error: DecryptionError) -> str:
        key_id = error.key_id
        missing = key_id is not None and key_id not in self._configured
        if missing:
            message = (
                f"TOTP codes cannot be checked: a TOTP secret is encrypted under the secret "
                f"key with id {key_id}, which is not configured"
            )
            fix = "put that key back in secret_keys, after the current one"
        else:
            message = "TOTP codes cannot be checked: a stored TOTP secret does not decrypt"
            fix = "the stored secret was altered or belongs to another user's record"
        if key_id not in self._logged:
            self._logged.add(key_id)
            log.error("st-twofactor: %s; %s (logged once)", message, fix)
        return message


class Call:
    """What a route handler needs: the session, the parsed body, the runtime."""

    def __init__(
        self,
        runtime: TwoFactor,
        session: SessionContainer,
        body: dict[str, Any],
        request: BaseRequest,
        response: BaseResponse,
        user_context: dict[str, Any],
    ) -> None:
        self.runtime = runtime
        self.session = session
        self.body = body
        self.request = request
        self.response = response
        self.user_context = user_context
        self.user_id = session.get_user_id()
        self.payload = session.get_access_token_payload()
        bind_session(user_context, session)  # state access checks revocation (I2)

    def string(self, name: str, *, required: bool, default: str | None = None) -> str | None:
        value = self.body.get(name, default)
        if value is None:
            if required:
                raise BadInput(f"'{name}' is required")
            return None
        if not isinstance(value, str):
            raise BadInput(f"'{name}' must be a string")
        return value

    def flag(self, name: str) -> bool:
        value = self.body.get(name, False)
        if not isinstance(value, bool):
            raise BadInput(f"'{name}' must be true or false")
        return value

    def device_name(self, *, required: bool = False, lookup_only: bool = False) -> str:
        """``deviceName``: the default device's name when absent, unless ``required``.

        ``lookup_only``: the name only finds a device (removal), so a device named under
        the earlier, looser rules can still be named (S16).
        """
        default = None if required else DEFAULT_DEVICE_NAME
        name = self.string("deviceName", required=required, default=default)
        if lookup_only and earlier_device_name(name):
            assert name is not None
            return name
        return checked_name(name)

    def totp_code(self) -> str:
        code = self.string("code", required=True)
        assert code is not None
        digits = self.runtime.config.totp_digits
        if not re.fullmatch(rf"[0-9]{{{digits}}}", code):
            raise BadInput(f"'code' must be {digits} digits")
        return code

    def recovery_code(self) -> str:
        code = self.string("code", required=True)
        assert code is not None
        if len(code) > MAX_CODE_LENGTH or recovery_codes.normalise(code) is None:
            # Malformed, not a wrong guess: refused before the store is touched (S13).
            raise BadInput("'code' is not a recovery code")
        return code

    def remembered_device_id(self) -> str:
        """``id`` of a remembered device: the random id the list shows."""
        value = self.string("id", required=True)
        assert value is not None
        if not re.fullmatch(rf"[A-Za-z0-9_-]{{1,{MAX_DEVICE_ID_LENGTH}}}", value):
            raise BadInput("'id' is not the id of a remembered device")
        return value

    def require_completed(self) -> None:
        """403 with the SDK's invalid-claim body (as ``require_2fa()``) unless the
        session completed 2FA, in any way: a fresh 2FA is not needed."""
        claim = self.runtime.claim
        if completed_at(self.payload, claim=claim) is None:
            entry = self.payload.get(claim.key)
            actual = entry.get("v") if isinstance(entry, dict) else None
            reason = {"message": "wrong value", "expectedValue": True, "actualValue": actual}
            errors = [ClaimValidationError(claim.key, reason)]
            errors.append(ClaimValidationError(MFA_CLAIM_KEY, dict(NOT_SATISFIED)))
            raise InvalidClaimsError("invalid claim", errors)

    def refuse_stale(self) -> NoReturn:
        """403 with the same invalid-claim body as ``require_2fa(max_age=...)`` routes
        (naming ``st-mfa`` too when the session has not completed 2FA at all)."""
        runtime = self.runtime
        window = runtime.config.step_up_window
        reason = stale_reason(
            self.payload, window, now=runtime.config.clock(), claim=runtime.claim
        ) or {"message": "expired", "maxAgeInSeconds": window}
        errors = [ClaimValidationError(runtime.claim.key, reason)]
        if runtime.claim.get_value_from_payload(self.payload) is not True:
            # Not even completed: named as SuperTokens' MFA frontends expect too.
            errors.append(ClaimValidationError(MFA_CLAIM_KEY, dict(NOT_SATISFIED)))
        raise InvalidClaimsError("invalid claim", errors)

    async def completed(self, factor: FactorId) -> dict[str, object]:
        """Complete the session's 2FA by ``factor`` (:mod:`~st_twofactor.kernel.completion`),
        remembering the device when the body asks for it."""
        token = await self.runtime.completion.complete(
            self.session,
            factor,
            remember=self.flag("rememberDevice"),
            request=self.request,
            response=self.response,
            user_context=self.user_context,
        )
        return {"status": "OK"} if token is None else {"status": "OK", "rememberDeviceToken": token}

    async def read_overview(self) -> tuple[TwoFactorState, Overview]:
        """The user's state and what ``GET /auth/2fa`` shows of it for this session (the
        policy applied; the account read when a code factor is enabled): what both
        dialects' status routes answer from."""
        runtime = self.runtime
        state = await runtime.store.load(self.user_id, self.user_context)
        required = await is_2fa_required(
            runtime.config, self.user_id, self.session.get_tenant_id(), self.user_context
        )
        account = None
        if any(f in runtime.config.factors for f in CODE_FACTORS):
            account = await account_contacts(self.session, self.user_context)
        return state, runtime.overview(state, self.payload, required, account)

    async def completed_if_ok(self, result: Answer, factor: FactorId) -> Answer:
        """``result`` as it is when the factor refused; else ``result`` plus what
        completing the session by ``factor`` adds (:meth:`completed`)."""
        if result["status"] != "OK":
            return result
        return {**result, **await self.completed(factor)}


async def account_contacts(
    session: SessionContainer, user_context: dict[str, Any]
) -> AccountContacts:
    """The account's real e-mail addresses, and the passwordless contact the session
    signed in with (one core call: the user)."""
    from supertokens_python.asyncio import get_user
    from supertokens_python.auth_utils import is_fake_email

    user = await get_user(session.get_user_id(), user_context)
    if user is None:
        return AccountContacts()
    emails = [
        m.email.strip().lower()
        for m in user.login_methods
        if m.email and not is_fake_email(m.email)
    ]
    recipe_user_id = session.get_recipe_user_id().get_as_string()
    signed_in_with = {
        contact.strip().lower()
        for m in user.login_methods
        if m.recipe_id == "passwordless" and m.recipe_user_id.get_as_string() == recipe_user_id
        for contact in (m.email, m.phone_number)
        if contact
    }
    return AccountContacts(tuple(dict.fromkeys(emails)), frozenset(signed_in_with))


def checked_name(name: object) -> str:
    """A new device or key name (S16), as stored: given, in its composed form (NFC)."""
    if not valid_device_name(name):
        raise BadInput(
            "'deviceName' must be 1 to 64 printable characters, without invisible or "
            "control characters, double spaces or a word mixing alphabets"
        )
    assert isinstance(name, str)
    return unicodedata.normalize("NFC", name)


def key_name(value: object, *, lookup_only: bool = False) -> str:
    """A security key's name, by the rule of device names (``lookup_only``: to find a key,
    so one named under the earlier, looser rule can still be removed)."""
    name = DEFAULT_KEY_NAME if value is None else value
    if lookup_only and earlier_device_name(name):
        assert isinstance(name, str)
        return name
    return checked_name(name)


def credential(call: Call) -> dict[str, Any]:
    """``credential``: the browser's ``PublicKeyCredential`` as a JSON object (its
    contents are checked by the ceremony, which refuses anything malformed)."""
    value = call.body.get("credential")
    if not isinstance(value, dict):
        raise BadInput("'credential' must be the browser's PublicKeyCredential as JSON")
    return value


async def account_name(user_id: str, user_context: dict[str, Any]) -> str:
    """What authenticator apps show under the issuer: the user's e-mail, else the id."""
    from supertokens_python.asyncio import get_user

    user = await get_user(user_id, user_context)
    if user is not None and user.emails:
        return user.emails[0]
    return user_id


async def read_body(request: BaseRequest, method: str) -> dict[str, Any]:
    """The JSON object of a POST (``{}`` when absent), read at most :data:`MAX_BODY_BYTES`
    bytes (413 past that, chunked or not; see :mod:`st_twofactor.http._body`)."""
    if method == "get":
        return {}
    try:
        body = await read_json(request, MAX_BODY_BYTES, strict=True)
    except MalformedBody as error:
        raise BadInput(str(error)) from None
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadInput("the body must be a JSON object")
    return body
