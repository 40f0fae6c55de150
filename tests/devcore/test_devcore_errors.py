"""The development core's error answers, as the real core gives them, seen through the SDK.

- An unknown app or tenant is a 400 naming the (connection URI domain, app, tenant)
  triple, not a 404; ``GET /recipe/multitenancy/tenant/v2`` alone answers
  ``TENANT_NOT_FOUND_ERROR`` instead. Ids in paths are read lower-cased, as the real
  core reads them, so a tenant spelt with capitals is that tenant (or the same 400).
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
from supertokens_python.recipe.emailpassword.asyncio import (
    create_reset_password_token,
    sign_in,
    sign_up,
)
from supertokens_python.recipe.emailpassword.interfaces import SignInOkResult, SignUpOkResult
from supertokens_python.recipe.multitenancy.asyncio import create_or_update_tenant, get_tenant
from supertokens_python.recipe.multitenancy.interfaces import TenantConfigCreateOrUpdate

from st_twofactor.devcore import DevCore
from st_twofactor.devcore._http import Routes
from st_twofactor.testing import reset_supertokens

from ..helpers.devcore_recipes import JSON_TYPE, CapturedEmails, app_id_of, init_sdk

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


@pytest.mark.slow
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


@pytest.mark.parametrize(
    "path",
    ["/recipe/user/password/reset/token", "/recipe/user/password/reset/token/consume"],
)
def test_a_mixed_case_unknown_tenant_is_the_400_naming_it_in_lower_case(
    devcore_app: str, path: str
) -> None:
    # The real core reads ids in paths case-blind: an unknown tenant spelt with capitals
    # (the SDK sends the id as the app gave it) is the unknown-tenant 400, not a 404.
    response = requests.post(
        devcore_app + "/invalidTenantId" + path, json={"userId": "u"}, timeout=10
    )
    expected = NOT_FOUND + f"(, {app_id_of(devcore_app)}, invalidtenantid)\n"
    assert (response.status_code, response.text) == (400, expected)


async def test_reset_token_for_an_unknown_tenant_is_a_400_the_sdk_passes_on(sdk: str) -> None:
    with pytest.raises(Exception) as raised:
        await create_reset_password_token("invalidTenantId", "u", "a@example.com")
    expected = NOT_FOUND + f"(, {app_id_of(sdk)}, invalidtenantid)\n"
    path = "/invalidTenantId/recipe/user/password/reset/token"
    assert str(raised.value) == _core_error(path, "POST", 400, expected)


@pytest.mark.slow
async def test_tenant_and_app_ids_are_case_blind_as_in_the_real_core(sdk: str) -> None:
    # Created as "Shop", the tenant is "shop"; requests naming it either way reach it.
    await create_or_update_tenant("Shop", TenantConfigCreateOrUpdate())
    tenant = await get_tenant("shop")
    assert tenant is not None
    assert isinstance(await sign_up("SHOP", "a@example.com", "password-1"), SignUpOkResult)
    assert isinstance(await sign_in("shop", "a@example.com", "password-1"), SignInOkResult)
    # The app prefix and the route itself are read case-blind too.
    app_id = app_id_of(sdk)
    upper = sdk.replace("/appid-" + app_id, "/appid-" + app_id.upper())
    answer = requests.post(
        upper + "/Shop/RECIPE/signin",
        json={"email": "a@example.com", "password": "password-1"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "OK"


@pytest.mark.parametrize(
    ("tenant_id", "text"),
    [
        (" ", "tenantId should not be an empty String\n"),
        ("appid-x", "tenantId must not start with 'appid-'\n"),
        ("t_1", "tenantId can only contain letters, numbers and hyphens\n"),
        ("t1\n", None),  # trimmed, as the real core does: a valid id
        ("x" * 65, "tenantId must be at most 64 characters\n"),
    ],
)
def test_tenant_ids_are_trimmed_lower_cased_and_checked(
    devcore_app: str, tenant_id: str, text: str | None
) -> None:
    response = requests.put(
        devcore_app + "/recipe/multitenancy/tenant/v2", json={"tenantId": tenant_id}, timeout=10
    )
    if text is None:
        assert response.json() == {"status": "OK", "createdNew": True}
    else:
        assert (response.status_code, response.text) == (400, text)


def test_a_route_with_capitals_cannot_be_defined() -> None:
    # Requests are routed on their lower-cased path, so such a route could never be reached.
    with pytest.raises(ValueError, match="must be lower case"):
        Routes().post("/recipe/Signin")
