"""The 2FA HTTP API, served by the SuperTokens middleware as a plugin.

Pass :func:`twofactor_plugin` to ``init(experimental=SupertokensExperimentalConfig(
plugins=[...]))`` and every framework the SDK supports (FastAPI, Flask, Django) serves
these routes under the API base path, with no routing code in the app:

====================================  ==========================================
``GET  {base}/2fa``                   state of the session's 2FA
``POST {base}/2fa/totp/device``       start enrolling an authenticator app
``POST {base}/2fa/totp/device/verify`` activate it with a first code
``POST {base}/2fa/totp/verify``       complete 2FA with a TOTP code
``POST {base}/2fa/totp/device/remove`` remove a device (fresh 2FA)
``POST {base}/2fa/recovery-code/verify`` complete 2FA with a recovery code
``POST {base}/2fa/recovery-codes``    new recovery codes (fresh 2FA)
====================================  ==========================================

With ``"webauthn"`` in ``config.factors`` (:data:`WEBAUTHN_ROUTES`, off by default):

=================================================  =====================================
``GET  {base}/2fa/webauthn/register/options``      options to add a key (``?deviceName=``)
``POST {base}/2fa/webauthn/register/verify``       add it (``deviceName``, ``credential``)
``GET  {base}/2fa/webauthn/authenticate/options``  options to complete 2FA with a key
``POST {base}/2fa/webauthn/authenticate/verify``   complete 2FA (``credential``)
``POST {base}/2fa/webauthn/device/remove``         remove a key (fresh 2FA)
=================================================  =====================================

Every route needs a session (401 without) but not a completed 2FA. Expected outcomes
answer 200 with a ``status``; malformed input answers 400 with a ``message`` and
changes nothing; a stale 2FA where a fresh one is needed answers 403 with the SDK's
invalid-claim body.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn, cast

from supertokens_python.framework.request import BaseRequest
from supertokens_python.framework.response import BaseResponse
from supertokens_python.plugins import (
    OverrideGlobalClaimValidatorsFunction,
    PluginRouteHandler,
    PluginRouteHandlerFunction,
    PluginRouteHandlerFunctionOkResponse,
    PluginRouteHandlerHandlerFunction,
    SuperTokensPlugin,
    VerifySessionOptions,
)
from supertokens_python.recipe.session.claims import BooleanClaim
from supertokens_python.recipe.session.exceptions import ClaimValidationError, InvalidClaimsError
from supertokens_python.recipe.session.interfaces import SessionContainer
from supertokens_python.types.base import UserContext

from st_twofactor.claim import SecondFactorClaim, stale_reason
from st_twofactor.config import TwoFactorConfig
from st_twofactor.errors import ConfigurationError, DecryptionError
from st_twofactor.factors._device_names import earlier_device_name
from st_twofactor.factors._service import (
    DEFAULT_DEVICE_NAME,
    AccountContacts,
    StepUpRequired,
    TwoFactorService,
    valid_device_name,
)
from st_twofactor.factors.base import CODE_FACTORS, FactorId
from st_twofactor.factors.recovery_codes import codes as recovery_codes
from st_twofactor.http._body import MAX_BODY_BYTES, BodyTooLarge, MalformedBody, read_json
from st_twofactor.http._outage import outage_message
from st_twofactor.kernel.revocation import bind_session
from st_twofactor.session_override import is_2fa_required, without_2fa

if TYPE_CHECKING:
    from st_twofactor.factors.webauthn.flows import WebAuthnFlows

log = logging.getLogger("st_twofactor")

PLUGIN_ID = "st-twofactor"
MAX_CODE_LENGTH = 64

Answer = Mapping[str, object]
"""A route's JSON body: a flow's typed result (:mod:`st_twofactor.results`), possibly
with what completing the session added."""

FlowHandler = Callable[["_Call"], Awaitable[Answer]]


class BadInput(Exception):
    """A malformed request: answered 400 with ``message``; nothing is changed."""


class _UnreadableSecrets:
    """The 503 answer when a stored TOTP secret cannot be decrypted, logged once per key.

    The usual cause is a key taken out of ``secret_keys`` while secrets encrypted under
    it remain: no code can be checked until it is put back, so the answer is "unavailable"
    (nothing is counted or changed), not a 500, and the log says what to fix.
    """

    def __init__(self, service: TwoFactorService) -> None:
        self._configured = service.box.key_ids
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


class _Call:
    """What a route handler needs: the session, the parsed body, the service."""

    def __init__(
        self,
        service: TwoFactorService,
        session: SessionContainer,
        body: dict[str, Any],
        request: BaseRequest,
        response: BaseResponse,
        user_context: dict[str, Any],
    ) -> None:
        self.service = service
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
        return _checked_name(name)

    def totp_code(self) -> str:
        code = self.string("code", required=True)
        assert code is not None
        digits = self.service.config.totp_digits
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

    def require_fresh(self) -> None:
        if not self.service.is_fresh(self.payload):
            self.refuse_stale()

    def refuse_stale(self) -> NoReturn:
        """403 with the same invalid-claim body as ``require_2fa(max_age=...)`` routes."""
        service = self.service
        reason = stale_reason(
            self.payload,
            service.config.step_up_window,
            now=service.config.clock(),
            claim=service.claim,
        ) or {"message": "expired", "maxAgeInSeconds": service.config.step_up_window}
        raise InvalidClaimsError("invalid claim", [ClaimValidationError(service.claim.key, reason)])

    async def completed(self, factor: FactorId) -> dict[str, object]:
        """Complete the session's 2FA by ``factor`` (:mod:`~st_twofactor.kernel.completion`),
        remembering the device when the body asks for it."""
        token = await self.service.completion.complete(
            self.session,
            factor,
            remember=self.flag("rememberDevice"),
            request=self.request,
            response=self.response,
            user_context=self.user_context,
        )
        return {"status": "OK"} if token is None else {"status": "OK", "rememberDeviceToken": token}


# -- the flows, one per route --


async def _overview(call: _Call) -> Answer:
    service = call.service
    state = await service.store.load(call.user_id, call.user_context)
    required = await is_2fa_required(
        service.config, call.user_id, call.session.get_tenant_id(), call.user_context
    )
    account = None
    if any(f in service.config.factors for f in CODE_FACTORS):
        account = await _account_contacts(call.session, call.user_context)
    overview = service.overview(state, call.payload, required, account)
    if "webauthn" in overview["next"]:  # the key's options, from the state read above
        options = _webauthn(call).options_for(state, call.user_id, call.session.get_handle())
        if options is not None:
            overview["webauthnOptions"] = options
    return overview


async def _account_contacts(
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


async def _create_device(call: _Call) -> Answer:
    name = call.device_name()
    account = await _account_name(call.user_id, call.user_context)
    try:  # S8: a recent 2FA, unless this is a first enrolment
        return await call.service.create_totp_device(
            call.user_id, account, name, call.user_context, session_payload=call.payload
        )
    except StepUpRequired:
        call.refuse_stale()


async def _verify_device(call: _Call) -> Answer:
    name = call.device_name()
    code = call.totp_code()
    call.flag("rememberDevice")
    try:  # S8, as for a new device
        result = await call.service.verify_totp_device(
            call.user_id, name, code, call.user_context, session_payload=call.payload
        )
    except StepUpRequired:
        call.refuse_stale()
    if result["status"] != "OK":
        return result
    return {**result, **await call.completed("totp")}


async def _verify_totp(call: _Call) -> Answer:
    code = call.totp_code()
    call.flag("rememberDevice")
    result = await call.service.verify_totp(call.user_id, code, call.user_context)
    if result["status"] != "OK":
        return result
    return await call.completed("totp")


async def _remove_device(call: _Call) -> Answer:
    name = call.device_name(required=True, lookup_only=True)
    call.require_fresh()
    return await call.service.remove_totp_device(call.user_id, name, call.user_context)


async def _verify_recovery_code(call: _Call) -> Answer:
    code = call.recovery_code()
    call.flag("rememberDevice")
    result = await call.service.verify_recovery_code(call.user_id, code, call.user_context)
    if result["status"] != "OK":
        return result
    return {**result, **await call.completed("recovery-code")}


async def _regenerate(call: _Call) -> Answer:
    call.require_fresh()
    return await call.service.regenerate_recovery_codes(call.user_id, call.user_context)


# -- security keys and passkeys (served only when "webauthn" is in config.factors) --


def _webauthn(call: _Call) -> WebAuthnFlows:
    flows: WebAuthnFlows = call.service.webauthn
    return flows


def _checked_name(name: object) -> str:
    """A new device or key name (S16), as stored: given, in its composed form (NFC)."""
    if not valid_device_name(name):
        raise BadInput(
            "'deviceName' must be 1 to 64 printable characters, without invisible or "
            "control characters, double spaces or a word mixing alphabets"
        )
    assert isinstance(name, str)
    return unicodedata.normalize("NFC", name)


def _key_name(value: object, *, lookup_only: bool = False) -> str:
    """A security key's name, by the rule of device names (``lookup_only``: to find a key,
    so one named under the earlier, looser rule can still be removed)."""
    from st_twofactor.factors.webauthn.flows import DEFAULT_KEY_NAME

    name = DEFAULT_KEY_NAME if value is None else value
    if lookup_only and earlier_device_name(name):
        assert isinstance(name, str)
        return name
    return _checked_name(name)


def _credential(call: _Call) -> dict[str, Any]:
    """``credential``: the browser's ``PublicKeyCredential`` as a JSON object (its
    contents are checked by the ceremony, which refuses anything malformed)."""
    value = call.body.get("credential")
    if not isinstance(value, dict):
        raise BadInput("'credential' must be the browser's PublicKeyCredential as JSON")
    return value


async def _webauthn_register_options(call: _Call) -> Answer:
    name = _key_name(call.request.get_query_param("deviceName"))
    account = await _account_name(call.user_id, call.user_context)
    try:  # S8: a recent 2FA, unless this is a first enrolment
        return await _webauthn(call).registration_options(
            call.user_id,
            account,
            name,
            call.session.get_handle(),
            call.payload,
            call.user_context,
        )
    except StepUpRequired:
        call.refuse_stale()


async def _webauthn_register(call: _Call) -> Answer:
    name = _key_name(call.body.get("deviceName"))
    credential = _credential(call)
    call.flag("rememberDevice")
    try:  # S8, as for the options
        result = await _webauthn(call).register(
            call.user_id,
            name,
            credential,
            call.session.get_handle(),
            call.payload,
            call.user_context,
        )
    except StepUpRequired:
        call.refuse_stale()
    if result["status"] != "OK":
        return result
    return {**result, **await call.completed("webauthn")}


async def _webauthn_authenticate_options(call: _Call) -> Answer:
    return await _webauthn(call).authentication_options(
        call.user_id, call.session.get_handle(), call.user_context
    )


async def _webauthn_authenticate(call: _Call) -> Answer:
    credential = _credential(call)
    call.flag("rememberDevice")
    result = await _webauthn(call).authenticate(
        call.user_id, credential, call.session.get_handle(), call.user_context
    )
    if result["status"] != "OK":
        return result
    return await call.completed("webauthn")


async def _webauthn_remove(call: _Call) -> Answer:
    value = call.string("deviceName", required=True)
    name = _key_name(value, lookup_only=True)
    call.require_fresh()
    return await _webauthn(call).remove(call.user_id, name, call.user_context)


ROUTES: tuple[tuple[str, str, FlowHandler], ...] = (
    ("get", "/2fa", _overview),
    ("post", "/2fa/totp/device", _create_device),
    ("post", "/2fa/totp/device/verify", _verify_device),
    ("post", "/2fa/totp/verify", _verify_totp),
    ("post", "/2fa/totp/device/remove", _remove_device),
    ("post", "/2fa/recovery-code/verify", _verify_recovery_code),
    ("post", "/2fa/recovery-codes", _regenerate),
)
"""Each route of the HTTP API, defined once: method, path under the API base, flow."""

WEBAUTHN_ROUTES: tuple[tuple[str, str, FlowHandler], ...] = (
    ("get", "/2fa/webauthn/register/options", _webauthn_register_options),
    ("post", "/2fa/webauthn/register/verify", _webauthn_register),
    ("get", "/2fa/webauthn/authenticate/options", _webauthn_authenticate_options),
    ("post", "/2fa/webauthn/authenticate/verify", _webauthn_authenticate),
    ("post", "/2fa/webauthn/device/remove", _webauthn_remove),
)
"""The security-key routes, as :data:`ROUTES`; served only when ``"webauthn"`` is in
``config.factors`` (the factor is off by default, and so are its routes)."""


def _served(config: TwoFactorConfig) -> tuple[tuple[str, str, FlowHandler], ...]:
    """The routes ``config`` serves."""
    return ROUTES + WEBAUTHN_ROUTES if "webauthn" in config.factors else ROUTES


async def _account_name(user_id: str, user_context: dict[str, Any]) -> str:
    """What authenticator apps show under the issuer: the user's e-mail, else the id."""
    from supertokens_python.asyncio import get_user

    user = await get_user(user_id, user_context)
    if user is not None and user.emails:
        return user.emails[0]
    return user_id


async def _read_body(request: BaseRequest, method: str) -> dict[str, Any]:
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


def _handler(
    service: TwoFactorService, method: str, flow: FlowHandler, unreadable: _UnreadableSecrets
) -> PluginRouteHandlerHandlerFunction:
    async def handle(
        request: BaseRequest,
        response: BaseResponse,
        session: SessionContainer | None,
        user_context: UserContext,
    ) -> BaseResponse:
        assert session is not None  # session_required=True: the SDK answered 401 already
        try:
            body = await _read_body(request, method)
            result = await flow(_Call(service, session, body, request, response, user_context))
            response.set_status_code(200)
        except BadInput as error:
            result = {"message": str(error)}
            response.set_status_code(400)
        except DecryptionError as error:
            result = {"message": unreadable.message(error)}
            response.set_status_code(503)
        except BodyTooLarge as error:
            result = {"message": str(error)}
            response.set_status_code(413)
        except Exception as error:
            message = outage_message(error)
            if message is None:
                raise
            result = {"message": message}
            response.set_status_code(503)
        response.set_json_content(dict(result))
        return response

    return handle


def _check_webauthn_after_init(service: TwoFactorService) -> None:
    """Derive the WebAuthn policy once ``init()`` is done (app_info known), so a policy
    that cannot be derived fails at start-up with a ConfigurationError, not per request."""
    from supertokens_python.post_init_callbacks import PostSTInitCallbacks

    def derive() -> None:
        _ = service.webauthn.policy

    PostSTInitCallbacks.add_post_init_callback(derive)


def twofactor_plugin(
    config: TwoFactorConfig,
    *,
    api_base_path: str = "/auth",
    claim: BooleanClaim = SecondFactorClaim,
) -> SuperTokensPlugin:
    """The SuperTokens plugin that serves the 2FA HTTP API for ``config``.

    Use the same ``config`` (and claim) as for :func:`~st_twofactor.build_recipe_list`,
    so both share one state store.

    :param api_base_path: the ``api_base_path`` of the app's ``InputAppInfo`` (with its
        ``api_gateway_path`` in front, if it has one). The SDK does not tell plugins its
        app info, so it is passed here; the default matches the SDK's default.
    """
    if not api_base_path.startswith("/"):
        raise ConfigurationError("api_base_path must start with '/', e.g. '/auth'")
    base = api_base_path.rstrip("/")
    service = TwoFactorService(config, claim=claim)
    unreadable = _UnreadableSecrets(service)
    skip_2fa = cast(OverrideGlobalClaimValidatorsFunction, without_2fa(claim))

    def route_handlers(
        config: Any, all_plugins: Any, sdk_version: str
    ) -> PluginRouteHandlerFunctionOkResponse:
        if "webauthn" in service.config.factors:  # called by init(): app_info comes next
            _check_webauthn_after_init(service)
        options = VerifySessionOptions(
            session_required=True,
            check_database=False,
            override_global_claim_validators=skip_2fa,
        )
        return PluginRouteHandlerFunctionOkResponse(
            route_handlers=[
                PluginRouteHandler(
                    method=method,
                    path=base + path,
                    handler=_handler(service, method, flow, unreadable),
                    verify_session_options=options,
                )
                for method, path, flow in _served(service.config)
            ]
        )

    return SuperTokensPlugin(
        id=PLUGIN_ID,
        compatible_sdk_versions=">=0.31.4,<0.32",
        route_handlers=cast(PluginRouteHandlerFunction, route_handlers),
        exports={"service": service},
    )


__all__ = ["PLUGIN_ID", "ROUTES", "WEBAUTHN_ROUTES", "twofactor_plugin"]
