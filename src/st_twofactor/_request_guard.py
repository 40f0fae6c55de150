"""Body-shape checks in front of the SDK's request handlers, so bad input is a 400 (S13).

The SDK's handlers for sign-in, sign-up, password reset and third-party sign-in index the
JSON body and its fields before any API override runs: a body that is a JSON array,
number or string, or ``formFields`` holding numbers, makes them raise, which the
framework answers with a 500. The checks here run first and answer those requests 400
with a message, before anything is read or written; every other request goes on
unchanged. :func:`~st_twofactor.recipes.build_recipe_list` installs them (once the SDK is
initialised) for the recipes it sets up; the passwordless endpoints have their own
(:mod:`st_twofactor.otp`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from supertokens_python.exceptions import GeneralError, raise_bad_input_exception
from supertokens_python.framework import BaseRequest, BaseResponse
from supertokens_python.normalised_url_path import NormalisedURLPath
from supertokens_python.recipe.emailpassword.constants import (
    SIGNIN,
    SIGNUP,
    USER_PASSWORD_RESET,
    USER_PASSWORD_RESET_TOKEN,
)
from supertokens_python.recipe.emailpassword.recipe import EmailPasswordRecipe
from supertokens_python.recipe.thirdparty.constants import SIGNINUP
from supertokens_python.recipe.thirdparty.recipe import ThirdPartyRecipe

log = logging.getLogger("st_twofactor")

RequestCheck = Callable[[BaseRequest, dict[str, Any]], Awaitable[None]]
"""``(request, user_context)``: raises the SDK's bad-input error (a 400) to refuse."""

_GUARDED = "st_twofactor_guard"


def guard_requests(recipe: Any, checks: Mapping[str, RequestCheck]) -> None:
    """Run ``checks[request_id]`` before ``recipe``'s handler for that request id.

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
        check = checks.get(request_id)
        if check is not None:
            await check(request, user_context)
        result: BaseResponse | None = await original(
            request_id, tenant_id, request, path, method, response, user_context
        )
        return result

    setattr(handle_api_request, _GUARDED, True)
    recipe.handle_api_request = handle_api_request


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


async def _email_password_body(request: BaseRequest, user_context: dict[str, Any]) -> None:
    body = json_object(await request.json())
    if body is None:
        return
    check_types(body, {"formFields": list, "token": str, "shouldTryLinkingWithSessionUser": bool})
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


def guard_first_factor_bodies() -> None:
    """Install the checks on the emailpassword and thirdparty recipes that are initialised."""
    for recipe_class, checks in (
        (
            EmailPasswordRecipe,
            {
                request_id: _email_password_body
                for request_id in (SIGNIN, SIGNUP, USER_PASSWORD_RESET_TOKEN, USER_PASSWORD_RESET)
            },
        ),
        (ThirdPartyRecipe, {SIGNINUP: _third_party_body}),
    ):
        try:
            recipe = recipe_class.get_instance()
        except GeneralError:  # the app left this recipe out of its init()
            log.debug("st-twofactor: %s is not initialised; no body checks", recipe_class.__name__)
            continue
        guard_requests(recipe, checks)
