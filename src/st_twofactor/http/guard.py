"""Checks in front of the SDK's request handlers, so bad input is a 4xx, never a 500 (S13, S17).

The SDK's handlers for sign-in, sign-up, password reset and third-party sign-in index the
JSON body and its fields before any API override runs: a body that is a JSON array,
number or string, or ``formFields`` holding numbers, makes them raise, which the
framework answers with a 500. The checks here run first and answer those requests 400
with a message, before anything is read or written; every other request goes on
unchanged. In front of every guarded handler, also:

- the body is read at most :data:`~st_twofactor.http._body.MAX_BODY_BYTES` bytes, counted as
  it arrives (413 past that, chunked or not), and a string with a lone UTF-16 surrogate
  is a 400 (:mod:`st_twofactor.http._body`);
- a tenant other than ``public`` must exist in the core (400, instead of the core's
  error surfacing as a 500);
- ``shouldTryLinkingWithSessionUser: true`` is a 400 unless the app set up account
  linking (the SDK raises a plain exception).

:func:`~st_twofactor.recipes.build_recipe_list` installs them (once the SDK is
initialised) for the recipes it sets up, and switches off the OAuth2 provider routes the
SDK mounts on its own (:func:`guard_sdk_routes`); the passwordless endpoints have their
own body checks (:mod:`st_twofactor.factors.codes.passwordless`), which this module's limits also
wrap. An app
that calls ``emailpassword.init``, ``thirdparty.init`` or ``passwordless.init`` itself
installs the same checks with :func:`guard_inputs`, an ``apis`` override.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any, TypeVar

from supertokens_python.exceptions import GeneralError, raise_bad_input_exception
from supertokens_python.framework import BaseRequest, BaseResponse
from supertokens_python.normalised_url_path import NormalisedURLPath
from supertokens_python.post_init_callbacks import PostSTInitCallbacks
from supertokens_python.recipe.accountlinking.utils import (
    recipe_init_defined_should_do_automatic_account_linking,
)
from supertokens_python.recipe.emailpassword.constants import (
    SIGNIN,
    SIGNUP,
    USER_PASSWORD_RESET,
    USER_PASSWORD_RESET_TOKEN,
)
from supertokens_python.recipe.emailpassword.interfaces import (
    APIInterface as EmailPasswordAPIInterface,
)
from supertokens_python.recipe.emailpassword.recipe import EmailPasswordRecipe
from supertokens_python.recipe.multitenancy.asyncio import list_all_tenants
from supertokens_python.recipe.multitenancy.constants import DEFAULT_TENANT_ID
from supertokens_python.recipe.oauth2provider.recipe import OAuth2ProviderRecipe
from supertokens_python.recipe.passwordless.interfaces import (
    APIInterface as PasswordlessAPIInterface,
)
from supertokens_python.recipe.thirdparty.constants import SIGNINUP
from supertokens_python.recipe.thirdparty.interfaces import (
    APIInterface as ThirdPartyAPIInterface,
)
from supertokens_python.recipe.thirdparty.recipe import ThirdPartyRecipe

from st_twofactor.errors import ConfigurationError
from st_twofactor.http._body import BodyTooLarge, MalformedBody, read_json

log = logging.getLogger("st_twofactor")

RequestCheck = Callable[[BaseRequest, dict[str, Any]], Awaitable[None]]
"""``(request, user_context)``: raises the SDK's bad-input error (a 400) to refuse."""

_GUARDED = "st_twofactor_guard"


def guard_requests(recipe: Any, checks: Mapping[str, RequestCheck]) -> None:
    """Run ``checks[request_id]`` before ``recipe``'s handler for that request id.

    Every request to ``recipe`` must name a known tenant; for the request ids in
    ``checks``, the body (read by the check or the handler through ``request.json()``)
    is read with the size limit and refused when it holds a lone surrogate.
    Installs once per recipe instance: a second call leaves the first guard in place.
    """
    original = recipe.handle_api_request
    if getattr(original, _GUARDED, False):
        return

    async def handle_api_request(
        request_id: str,
        tenant_id: str,
        request: BaseRequest,
        path: NormalisedURLPath,
        method: str,
        response: BaseResponse,
        user_context: dict[str, Any],
    ) -> BaseResponse | None:
        await _require_known_tenant(tenant_id, user_context)
        check = checks.get(request_id)
        if check is None:
            result: BaseResponse | None = await original(
                request_id, tenant_id, request, path, method, response, user_context
            )
            return result

        async def bounded_json() -> Any:
            return await read_json(request)

        request.json = bounded_json  # type: ignore[method-assign]
        try:
            await check(request, user_context)
            result = await original(
                request_id, tenant_id, request, path, method, response, user_context
            )
        except BodyTooLarge as error:
            response.set_status_code(413)
            response.set_json_content({"message": str(error)})
            return response
        except MalformedBody as error:
            raise_bad_input_exception(str(error))
        return result

    setattr(handle_api_request, _GUARDED, True)
    recipe.handle_api_request = handle_api_request


async def _require_known_tenant(tenant_id: str, user_context: dict[str, Any]) -> None:
    """400 unless ``tenant_id`` exists (the SDK would pass the core's refusal on as a 500).

    ``public`` always exists; any other id costs one core call.
    """
    if tenant_id == DEFAULT_TENANT_ID:
        return
    tenants = await list_all_tenants(user_context)
    if not any(tenant.tenant_id == tenant_id for tenant in tenants.tenants):
        raise_bad_input_exception("Unknown tenant")


def json_object(body: object) -> dict[str, Any] | None:
    """``body`` if it is a JSON object; None if absent (left to the SDK); else a 400."""
    if body is None:
        return None
    if not isinstance(body, dict):
        raise_bad_input_exception("The body must be a JSON object")
    return body


def check_types(body: Mapping[str, Any], types: Mapping[str, type], where: str = "") -> None:
    """400 unless each field of ``types`` present in ``body`` (and not null) has its type."""
    for name, kind in types.items():
        value = body.get(name)
        if value is not None and not isinstance(value, kind):
            raise_bad_input_exception(f"{where}{name} must be {_KIND_NAMES[kind]}")


_KIND_NAMES: dict[type, str] = {
    str: "a string",
    bool: "true or false",
    dict: "a JSON object",
    list: "an array",
}


def _refuse_linking_without_account_linking(body: Mapping[str, Any]) -> None:
    """400 for ``shouldTryLinkingWithSessionUser: true`` when the app has no account linking
    (the SDK raises a plain exception for it: a 500)."""
    if body.get("shouldTryLinkingWithSessionUser") is True and not (
        recipe_init_defined_should_do_automatic_account_linking()
    ):
        raise_bad_input_exception(
            "shouldTryLinkingWithSessionUser needs account linking, which this app does not use"
        )


async def _email_password_body(request: BaseRequest, user_context: dict[str, Any]) -> None:
    body = json_object(await request.json())
    if body is None:
        return
    check_types(body, {"formFields": list, "token": str, "shouldTryLinkingWithSessionUser": bool})
    _refuse_linking_without_account_linking(body)
    fields = body.get("formFields") or []
    if not all(isinstance(field, dict) for field in fields):
        raise_bad_input_exception("Each element of formFields must be an object with id and value")


async def _third_party_body(request: BaseRequest, user_context: dict[str, Any]) -> None:
    body = json_object(await request.json())
    if body is None:
        return
    check_types(
        body,
        {
            "thirdPartyId": str,
            "clientType": str,
            "redirectURIInfo": dict,
            "oAuthTokens": dict,
            "shouldTryLinkingWithSessionUser": bool,
        },
    )
    _refuse_linking_without_account_linking(body)
    info = body.get("redirectURIInfo")
    if info is None:
        return
    check_types(
        info,
        {
            "redirectURIOnProviderDashboard": str,
            "redirectURIQueryParams": dict,
            "pkceCodeVerifier": str,
        },
        where="redirectURIInfo.",
    )
    params = info.get("redirectURIQueryParams") or {}
    if not all(isinstance(value, str) for value in params.values()):
        raise_bad_input_exception("redirectURIInfo.redirectURIQueryParams values must be strings")


_FIRST_FACTOR_CHECKS: dict[type, dict[str, RequestCheck]] = {
    EmailPasswordRecipe: {
        request_id: _email_password_body
        for request_id in (SIGNIN, SIGNUP, USER_PASSWORD_RESET_TOKEN, USER_PASSWORD_RESET)
    },
    ThirdPartyRecipe: {SIGNINUP: _third_party_body},
}
"""The checks of each first-factor recipe's handlers, by recipe class."""


def _guard_recipe(recipe_class: type) -> None:
    """Install the checks of ``recipe_class`` when the app initialised that recipe."""
    try:
        recipe = recipe_class.get_instance()  # type: ignore[attr-defined]
    except GeneralError:  # the app left this recipe out of its init()
        log.debug("st-twofactor: %s is not initialised; no body checks", recipe_class.__name__)
        return
    guard_requests(recipe, _FIRST_FACTOR_CHECKS[recipe_class])


def guard_sdk_routes() -> None:
    """Install the checks on the emailpassword and thirdparty recipes that are initialised,
    and switch off the OAuth2 provider routes (:func:`_switch_off_oauth2_provider`)."""
    for recipe_class in _FIRST_FACTOR_CHECKS:
        _guard_recipe(recipe_class)
    _switch_off_oauth2_provider()


_API = TypeVar("_API")


def guard_inputs(original_implementation: _API) -> _API:
    """An ``apis`` override that checks the input of the SDK's own routes of a recipe the
    app initialises itself, as :func:`~st_twofactor.recipes.build_recipe_list` does for
    the recipes it sets up: bad input is a 4xx, never a 500.

    ::

        emailpassword.init(override=EmailPasswordOverrideConfig(apis=guard_inputs))
        thirdparty.init(..., override=ThirdPartyOverrideConfig(apis=guard_inputs))
        passwordless.init(..., override=PasswordlessOverrideConfig(apis=guard_inputs))
        # with an override of your own, in either order:
        EmailPasswordOverrideConfig(apis=lambda original: my_apis(guard_inputs(original)))

    Once the SDK is initialised, in front of that recipe's handlers of sign-in, sign-up,
    password reset, third-party sign-in/up and passwordless codes: a body that is not a
    JSON object, or whose fields have the wrong type, is a 400 (the SDK would answer 500);
    a body over 16 KiB is a 413; a string with a lone UTF-16 surrogate, an unknown tenant,
    and ``shouldTryLinkingWithSessionUser: true`` in an app without account linking on
    the first-factor routes are 400. Every other request goes on unchanged, and the
    override changes nothing else of the recipe.

    On the passwordless recipe,
    :func:`~st_twofactor.factors.codes.passwordless.override_passwordless_apis`
    installs these checks itself (its own, which also answer a request without a session
    401 where passwordless is only a second factor); with both, that one is kept.

    :raises ConfigurationError: ``original_implementation`` is not the ``APIInterface`` of
        emailpassword, thirdparty or passwordless.
    """
    install: Callable[[], None]
    if isinstance(original_implementation, EmailPasswordAPIInterface):
        install = partial(_guard_recipe, EmailPasswordRecipe)
    elif isinstance(original_implementation, ThirdPartyAPIInterface):
        install = partial(_guard_recipe, ThirdPartyRecipe)
    elif isinstance(original_implementation, PasswordlessAPIInterface):
        install = _guard_passwordless
    else:
        raise ConfigurationError(
            "guard_inputs is an apis override of emailpassword, thirdparty or passwordless "
            f"(e.g. EmailPasswordOverrideConfig(apis=guard_inputs)); got "
            f"{type(original_implementation).__name__}"
        )
    PostSTInitCallbacks.add_post_init_callback(install)
    return original_implementation


def _guard_passwordless() -> None:
    """The passwordless body checks as a first factor's, unless the library's own
    passwordless override is installed: it installs its own (stricter) checks."""
    from supertokens_python.recipe.passwordless.recipe import PasswordlessRecipe

    from st_twofactor.factors.codes._inputs import guard_request_bodies
    from st_twofactor.http._setup_check import COMPLETES_2FA

    if getattr(PasswordlessRecipe.get_instance().api_implementation, COMPLETES_2FA, False):
        return
    guard_request_bodies(first_factor=True)


def _switch_off_oauth2_provider() -> None:
    """Unmount the OAuth2 provider routes (``/oauth/auth``, ``/oauth/token``, ...).

    The SDK initialises its OAuth2 provider recipe in every app, also when the app never
    asked for it, and serves its routes under the API base path. Acting as an OAuth2
    provider needs a paid core feature (the free core, and the development core, answer
    those calls with an error, which the SDK turns into a 500), and it is no part of an
    app built with :func:`~st_twofactor.recipes.build_recipe_list`: the routes answer
    404 instead, as any unknown path does.
    """
    recipe = OAuth2ProviderRecipe.get_instance_optional()
    if recipe is None:
        return
    apis = recipe.api_implementation
    for name in list(vars(apis)):
        if name.startswith("disable_"):
            setattr(apis, name, True)
