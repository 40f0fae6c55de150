"""The development core's thirdparty recipe, through the SDK with a faked provider."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import requests
from supertokens_python.asyncio import get_user
from supertokens_python.recipe.emailverification.asyncio import is_email_verified
from supertokens_python.recipe.thirdparty.asyncio import manually_create_or_update_user
from supertokens_python.recipe.thirdparty.interfaces import ManuallyCreateOrUpdateUserOkResult
from supertokens_python.types import RecipeUserId

from st_twofactor.devcore import DevCore

from ..helpers.devcore_recipes import (
    FAKE_PROVIDER,
    FAKE_PROVIDER_USERS,
    JSON_TYPE,
    CapturedEmails,
    app_id_of,
    init_sdk,
    make_app,
    rows,
)


@pytest.fixture
def sdk(devcore_app: str) -> Iterator[str]:
    init_sdk(devcore_app, CapturedEmails())
    yield devcore_app


async def _sign_in_up(
    user_id: str, email: str, verified: bool = False, tenant: str = "public"
) -> ManuallyCreateOrUpdateUserOkResult:
    result = await manually_create_or_update_user(tenant, FAKE_PROVIDER, user_id, email, verified)
    assert isinstance(result, ManuallyCreateOrUpdateUserOkResult)
    return result


@pytest.mark.slow
async def test_first_sign_in_creates_the_user_and_later_ones_find_it(sdk: str) -> None:
    first = await _sign_in_up("tp-1", "One@Example.com")
    assert first.created_new_recipe_user
    method = first.user.login_methods[0]
    assert method.recipe_id == "thirdparty" and method.email == "one@example.com"
    assert method.third_party is not None and method.third_party.user_id == "tp-1"
    again = await _sign_in_up("tp-1", "one@example.com")
    assert not again.created_new_recipe_user and again.user.id == first.user.id
    other = await _sign_in_up("tp-2", "one@example.com")
    assert other.created_new_recipe_user and other.user.id != first.user.id


async def test_a_new_email_from_the_provider_replaces_the_stored_one(sdk: str) -> None:
    first = await _sign_in_up("tp-3", "old@example.com")
    moved = await _sign_in_up("tp-3", "new@example.com")
    assert moved.user.id == first.user.id and moved.user.emails == ["new@example.com"]
    stored = await get_user(first.user.id)
    assert stored is not None and stored.emails == ["new@example.com"]


async def test_a_verified_email_is_marked_verified(sdk: str) -> None:
    unverified = await _sign_in_up("tp-4", "u@example.com", verified=False)
    assert not unverified.user.login_methods[0].verified
    verified = await _sign_in_up("tp-4", "u@example.com", verified=True)
    assert verified.user.login_methods[0].verified
    assert await is_email_verified(RecipeUserId(verified.user.id), "u@example.com")


@pytest.mark.slow
async def test_provider_users_are_per_tenant(sdk: str) -> None:
    created = requests.put(
        f"{sdk}/recipe/multitenancy/tenant/v2", json={"tenantId": "other"}, timeout=5
    )
    assert created.json()["status"] == "OK"
    public = await _sign_in_up("tp-5", "t@example.com")
    other = await _sign_in_up("tp-5", "t@example.com", tenant="other")
    assert other.created_new_recipe_user and other.user.id != public.user.id
    assert other.user.tenant_ids == ["other"]


async def test_sign_in_up_through_the_frontend_route(sdk: str) -> None:
    FAKE_PROVIDER_USERS["code-front"] = ("tp-front", "front@example.com", True)
    body = {
        "thirdPartyId": FAKE_PROVIDER,
        "redirectURIInfo": {
            "redirectURIOnProviderDashboard": "http://app.example.test/callback",
            "redirectURIQueryParams": {"code": "code-front"},
        },
    }
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://api.example.test") as web:
        first = await web.post("/auth/signinup", json=body)
        assert first.status_code == 200 and first.json()["status"] == "OK", first.text
        assert first.json()["createdNewRecipeUser"] is True
        assert first.json()["user"]["loginMethods"][0]["verified"] is True
        again = await web.post("/auth/signinup", json=body)
        assert again.json()["createdNewRecipeUser"] is False
        assert again.json()["user"]["id"] == first.json()["user"]["id"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"thirdPartyId": "g", "thirdPartyUserId": "1"}',
        b'{"thirdPartyId": "g", "thirdPartyUserId": "1", "email": "a@example.com"}',
        b'{"thirdPartyId": "g", "thirdPartyUserId": "1", "email": {"id": "a@example.com"}}',
        b'{"thirdPartyId": "g", "thirdPartyUserId": "1", "email": {"isVerified": true}}',
        b'{"thirdPartyId": "g", "thirdPartyUserId": "1",'
        b' "email": {"id": "a@example.com", "isVerified": "yes"}}',
        b'{"thirdPartyId": 3, "thirdPartyUserId": "1",'
        b' "email": {"id": "a@example.com", "isVerified": true}}',
        b'{"thirdPartyUserId": "1", "email": {"id": "a@example.com", "isVerified": true}}',
    ],
)
def test_bad_sign_in_up_input_is_400_and_creates_nothing(
    devcore_app: str, devcore: DevCore, body: bytes
) -> None:
    answer = requests.post(
        f"{devcore_app}/public/recipe/signinup", data=body, headers=JSON_TYPE, timeout=5
    )
    assert answer.status_code == 400, answer.text
    assert rows(devcore, "SELECT * FROM users WHERE app_id=?", app_id_of(devcore_app)) == []
