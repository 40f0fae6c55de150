"""The building blocks of request checking, shared by the request guard
(:mod:`st_twofactor.http.guard`) and the passwordless endpoints' own checks: run a check
before a recipe's handler, with the body read under a size limit; refuse a body that is not
a JSON object or whose fields have the wrong types; refuse an unknown tenant."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from supertokens_python.exceptions import raise_bad_input_exception
from supertokens_python.framework import BaseRequest, BaseResponse
from supertokens_python.normalised_url_path import NormalisedURLPath
from supertokens_python.recipe.multitenancy.asyncio import list_all_tenants
from supertokens_python.recipe.multitenancy.constants import DEFAULT_TENANT_ID

from st_twofactor.http._body import BodyTooLarge, MalformedBody, read_json

__all__ = ["RequestCheck", "check_types", "guard_requests", "json_object"]

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
