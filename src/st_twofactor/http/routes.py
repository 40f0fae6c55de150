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

With ``remember_device`` on (:data:`REMEMBERED_DEVICE_ROUTES`), for a session that
completed 2FA (403 otherwise; a fresh 2FA is not needed):

=============================================  ==========================================
``GET  {base}/2fa/remembered-devices``          the user's remembered devices
``POST {base}/2fa/remembered-devices/remove``   forget one (``id``): ``didExist``
=============================================  ==========================================

Every other route needs a session (401 without) but not a completed 2FA. Expected outcomes
answer 200 with a ``status``; malformed input answers 400 with a ``message`` and
changes nothing; a stale 2FA where a fresh one is needed answers 403 with the SDK's
invalid-claim body.
"""

from __future__ import annotations

from typing import Any, cast

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
from supertokens_python.post_init_callbacks import PostSTInitCallbacks
from supertokens_python.recipe.session.claims import BooleanClaim
from supertokens_python.recipe.session.interfaces import SessionContainer
from supertokens_python.types.base import UserContext

from st_twofactor.claim import SecondFactorClaim
from st_twofactor.config import TwoFactorConfig
from st_twofactor.errors import ConfigurationError, DecryptionError
from st_twofactor.factors.base import StepUpRequired
from st_twofactor.http._body import BodyTooLarge
from st_twofactor.http._call import (
    Answer,
    BadInput,
    Call,
    FlowHandler,
    UnreadableSecrets,
    account_name,
    credential,
    key_name,
    read_body,
)
from st_twofactor.http._outage import outage_message
from st_twofactor.http._setup_check import refuse_paid_recipes
from st_twofactor.http.mfa import MFA_ROUTES
from st_twofactor.ids import PLUGIN_ID
from st_twofactor.runtime import TwoFactor
from st_twofactor.session_override import without_2fa

__all__ = ["REMEMBERED_DEVICE_ROUTES", "ROUTES", "WEBAUTHN_ROUTES", "twofactor_plugin"]


# -- the flows, one per route: each reads its input, calls its factor, answers --


async def _overview(call: Call) -> Answer:
    runtime = call.runtime
    state, overview = await call.read_overview()
    if "webauthn" in overview["next"]:  # the key's options, from the state read above
        options = runtime.webauthn.options_for(state, call.user_id, call.session.get_handle())
        if options is not None:
            overview["webauthnOptions"] = options
    return overview


async def _create_device(call: Call) -> Answer:
    name = call.device_name()
    account = account_name(call.user_id, call.user_context)  # runs while the device is stored
    return await call.runtime.totp.create_device(
        call.user_id, account, name, call.user_context, session_payload=call.payload
    )


async def _verify_device(call: Call) -> Answer:
    name = call.device_name()
    code = call.totp_code()
    call.flag("rememberDevice")
    result = await call.runtime.totp.verify_device(
        call.user_id, name, code, call.user_context, session_payload=call.payload
    )
    return await call.completed_if_ok(result, "totp")


async def _verify_totp(call: Call) -> Answer:
    code = call.totp_code()
    call.flag("rememberDevice")
    result = await call.runtime.totp.verify(call.user_id, code, call.user_context)
    return await call.completed_if_ok(result, "totp")


async def _remove_device(call: Call) -> Answer:
    name = call.device_name(required=True, lookup_only=True)
    return await call.runtime.totp.remove_device(
        call.user_id, name, call.user_context, session_payload=call.payload
    )


async def _verify_recovery_code(call: Call) -> Answer:
    code = call.recovery_code()
    call.flag("rememberDevice")
    result = await call.runtime.recovery_codes.verify(call.user_id, code, call.user_context)
    return await call.completed_if_ok(result, "recovery-code")


async def _regenerate(call: Call) -> Answer:
    return await call.runtime.recovery_codes.regenerate(
        call.user_id, call.user_context, session_payload=call.payload
    )


# -- security keys and passkeys (served only when "webauthn" is in config.factors) --


async def _webauthn_register_options(call: Call) -> Answer:
    name = key_name(call.request.get_query_param("deviceName"))
    account = await account_name(call.user_id, call.user_context)
    return await call.runtime.webauthn.registration_options(
        call.user_id, account, name, call.session.get_handle(), call.payload, call.user_context
    )


async def _webauthn_register(call: Call) -> Answer:
    name = key_name(call.body.get("deviceName"))
    answer = credential(call)
    call.flag("rememberDevice")
    result = await call.runtime.webauthn.register(
        call.user_id, name, answer, call.session.get_handle(), call.payload, call.user_context
    )
    return await call.completed_if_ok(result, "webauthn")


async def _webauthn_authenticate_options(call: Call) -> Answer:
    return await call.runtime.webauthn.authentication_options(
        call.user_id, call.session.get_handle(), call.user_context
    )


async def _webauthn_authenticate(call: Call) -> Answer:
    answer = credential(call)
    call.flag("rememberDevice")
    result = await call.runtime.webauthn.authenticate(
        call.user_id, answer, call.session.get_handle(), call.user_context
    )
    return await call.completed_if_ok(result, "webauthn")


async def _webauthn_remove(call: Call) -> Answer:
    value = call.string("deviceName", required=True)
    name = key_name(value, lookup_only=True)
    return await call.runtime.webauthn.remove_device(
        call.user_id, name, call.user_context, session_payload=call.payload
    )


# -- remembered devices (served only when config.remember_device is on) --


async def _remembered_devices(call: Call) -> Answer:
    call.require_completed()
    devices = await call.runtime.trusted_devices.listed(call.user_id, call.user_context)
    return {"status": "OK", "devices": [device.public() for device in devices]}


async def _forget_remembered_device(call: Call) -> Answer:
    call.require_completed()
    device_id = call.remembered_device_id()
    existed = await call.runtime.trusted_devices.remove(call.user_id, device_id, call.user_context)
    return {"status": "OK", "didExist": existed}


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


REMEMBERED_DEVICE_ROUTES: tuple[tuple[str, str, FlowHandler], ...] = (
    ("get", "/2fa/remembered-devices", _remembered_devices),
    ("post", "/2fa/remembered-devices/remove", _forget_remembered_device),
)
"""The routes of the list of remembered devices; served only with ``remember_device``."""


def _served(config: TwoFactorConfig) -> tuple[tuple[str, str, FlowHandler], ...]:
    """The routes ``config`` serves: the library's own, and those of SuperTokens'
    frontend MFA and TOTP recipes (:mod:`st_twofactor.http.mfa`)."""
    own = ROUTES + WEBAUTHN_ROUTES if "webauthn" in config.factors else ROUTES
    if config.remember_device:
        own = own + REMEMBERED_DEVICE_ROUTES
    return own + MFA_ROUTES


def _handler(
    runtime: TwoFactor, method: str, flow: FlowHandler, unreadable: UnreadableSecrets
) -> PluginRouteHandlerHandlerFunction:
    async def handle(
        request: BaseRequest,
        response: BaseResponse,
        session: SessionContainer | None,
        user_context: UserContext,
    ) -> BaseResponse:
        assert session is not None  # session_required=True: the SDK answered 401 already
        call: Call | None = None
        try:
            body = await read_body(request, method)
            call = Call(runtime, session, body, request, response, user_context)
            result = await flow(call)
            response.set_status_code(200)
        except StepUpRequired:  # a factor change refused by the freshness rule (S8)
            assert call is not None
            call.refuse_stale()
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


def _check_webauthn_after_init(runtime: TwoFactor) -> None:
    """Derive the WebAuthn policy once ``init()`` is done (app_info known), so a policy
    that cannot be derived fails at start-up with a ConfigurationError, not per request."""
    from supertokens_python.post_init_callbacks import PostSTInitCallbacks

    def derive() -> None:
        _ = runtime.webauthn.policy

    PostSTInitCallbacks.add_post_init_callback(derive)


def twofactor_plugin(
    config: TwoFactorConfig,
    *,
    api_base_path: str = "/auth",
    claim: BooleanClaim = SecondFactorClaim,
) -> SuperTokensPlugin:
    """The SuperTokens plugin that serves the 2FA HTTP API for ``config``.

    Use the same ``config`` (and claim) as for :func:`~st_twofactor.build_recipe_list`,
    so both share one runtime (:meth:`~st_twofactor.runtime.TwoFactor.of`).

    :param api_base_path: the ``api_base_path`` of the app's ``InputAppInfo`` (with its
        ``api_gateway_path`` in front, if it has one). The SDK does not tell plugins its
        app info, so it is passed here; the default matches the SDK's default.
    """
    if not api_base_path.startswith("/"):
        raise ConfigurationError("api_base_path must start with '/', e.g. '/auth'")
    base = api_base_path.rstrip("/")
    runtime = TwoFactor.of(config, claim)
    unreadable = UnreadableSecrets(runtime.box)
    skip_2fa = cast(OverrideGlobalClaimValidatorsFunction, without_2fa(claim))

    def route_handlers(
        config: Any, all_plugins: Any, sdk_version: str
    ) -> PluginRouteHandlerFunctionOkResponse:
        if "webauthn" in runtime.config.factors:  # called by init(): app_info comes next
            _check_webauthn_after_init(runtime)
        PostSTInitCallbacks.add_post_init_callback(refuse_paid_recipes)
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
                    handler=_handler(runtime, method, flow, unreadable),
                    verify_session_options=options,
                )
                for method, path, flow in _served(runtime.config)
            ]
        )

    return SuperTokensPlugin(
        id=PLUGIN_ID,
        compatible_sdk_versions=">=0.31.4,<0.32",
        route_handlers=cast(PluginRouteHandlerFunction, route_handlers),
        exports={"runtime": runtime},
    )
