"""The development core's error answers, as the real core gives them, seen through the SDK.

- An unknown app or tenant is a 400 naming the (connection URI domain, app, tenant)
  triple, not a 404; ``GET /recipe/multitenancy/tenant/v2`` alone answers
  ``TENANT_NOT_FOUND_ERROR`` instead.
- Plain-text error bodies end with a newline (the real core writes them with
  ``println``), and the SDK passes them on verbatim in its exception message.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import requests
from supertokens_python.asyncio import get_user_count
from supertokens_python.normalised_url_path import NormalisedURLPath
from supertokens_python.querier import Querier
from supertokens_python.recipe.emailpassword.asyncio import sign_up
from supertokens_python.recipe.emailpassword.interfaces import SignUpOkResult
from supertokens_python.recipe.multitenancy.asyncio import create_or_update_tenant, get_tenant
from supertokens_python.recipe.multitenancy.interfaces import TenantConfigCreateOrUpdate

from st_twofactor.devcore import DevCore
from st_twofactor.testing import reset_supertokens

from .devcore_recipes import JSON_TYPE, CapturedEmails, app_id_of, init_sdk

NOT_FOUND = (
    "AppId or tenantId not found => Tenant with the following connectionURIDomain, appId"
    " and tenantId combination not found: "
)


@pytest.fixture
def sdk(devcore_app: str) -> Iterator[str]:
    init_sdk(devcore_app, CapturedEmails())
    yield devcore_app
    reset_supertokens()


def _core_error(path: str, method: str, status: int, text: str) -> str:
    """The SDK's exception message for a core error answer."""
    return (
        f"SuperTokens core threw an error for a {method} request to path: '{path}'"
        f" with status code: {status} and message: {text}"
    )


async def test_unknown_tenant_is_a_400_the_sdk_passes_on(sdk: str) -> None:
    app_id = app_id_of(sdk)
    with pytest.raises(Exception) as raised:
        await sign_up("nope", "a@example.com", "password-1")
    expected = NOT_FOUND + f"(, {app_id}, nope)\n"
    assert str(raised.value) == _core_error("/nope/recipe/signup", "POST", 400, expected)
    # A known tenant of the same app works, so it was the tenant that was unknown.
    await create_or_update_tenant("known", TenantConfigCreateOrUpdate())
    assert isinstance(await sign_up("known", "a@example.com", "password-1"), SignUpOkResult)


async def test_unknown_tenant_reads_as_none_through_get_tenant(sdk: str) -> None:
    assert await get_tenant("nope") is None
    await create_or_update_tenant("known", TenantConfigCreateOrUpdate())
    tenant = await get_tenant("known")
    assert tenant is not None


async def test_unknown_app_is_a_400_the_sdk_passes_on(devcore: DevCore) -> None:
    app_id = "missing" + secrets.token_hex(4)
    init_sdk(devcore.app_url(app_id), CapturedEmails())
    try:
        with pytest.raises(Exception) as raised:
            await get_user_count(None)
    finally:
        reset_supertokens()
    # The SDK's first call is /apiversion, which the real core answers for known apps only.
    assert str(raised.value).endswith(
        "with status code: 400 and message: " + NOT_FOUND + f"(, {app_id}, public)\n"
    )


async def test_app_level_route_under_a_tenant_is_a_403_with_a_newline(sdk: str) -> None:
    # The SDK never puts a tenant on an app-level route itself; its querier can.
    await create_or_update_tenant("t1", TenantConfigCreateOrUpdate())
    querier = Querier.get_instance()
    path = NormalisedURLPath("/t1/recipe/user/metadata")
    with pytest.raises(Exception) as raised:
        await querier.send_get_request(path, {"userId": "u"}, user_context={})
    expected = "Only public tenantId can call this app specific API\n"
    assert str(raised.value) == _core_error("/t1/recipe/user/metadata", "GET", 403, expected)
    public = NormalisedURLPath("/public/recipe/user/metadata")
    answer = await querier.send_get_request(public, {"userId": "u"}, user_context={})
    assert (answer["status"], answer["metadata"]) == ("OK", {})


@pytest.mark.parametrize(
    ("method", "path", "status", "text"),
    [
        ("POST", "/recipe/session/verify", 400, "Invalid Json Input\n"),
        ("GET", "/no/such/route", 404, "Not found\n"),
        ("PUT", "/recipe/session/verify", 405, "Method not supported\n"),
        ("POST", "/nope/recipe/signup", 400, None),
        ("GET", "/hello", 200, "Hello\n"),
    ],
)
def test_plain_text_answers_end_with_a_newline(
    devcore_app: str, method: str, path: str, status: int, text: str | None
) -> None:
    response = requests.request(method, devcore_app + path, headers=JSON_TYPE, timeout=10)
    expected = text or NOT_FOUND + f"(, {app_id_of(devcore_app)}, nope)\n"
    assert (response.status_code, response.text) == (status, expected)


def test_unknown_app_on_an_unknown_route_is_the_400(devcore: DevCore) -> None:
    response = requests.get(devcore.app_url("missing-app") + "/no/such/route", timeout=10)
    assert (response.status_code, response.text) == (400, NOT_FOUND + "(, missing-app, public)\n")
