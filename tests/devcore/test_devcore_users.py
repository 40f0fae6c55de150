"""The development core's user routes (get, list, count, find, delete), through the SDK."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from supertokens_python.asyncio import (
    delete_user,
    get_user,
    get_user_count,
    get_users_newest_first,
    get_users_oldest_first,
    list_users_by_account_info,
)
from supertokens_python.recipe.emailpassword.asyncio import (
    create_reset_password_token,
    sign_in,
    sign_up,
)
from supertokens_python.recipe.emailpassword.interfaces import SignUpOkResult
from supertokens_python.recipe.emailverification.asyncio import (
    create_email_verification_token,
    is_email_verified,
    verify_email_using_token,
)
from supertokens_python.recipe.emailverification.interfaces import (
    CreateEmailVerificationTokenOkResult,
)
from supertokens_python.recipe.session.asyncio import (
    create_new_session_without_request_response,
    get_all_session_handles_for_user,
    refresh_session_without_request_response,
)
from supertokens_python.recipe.session.exceptions import UnauthorisedError
from supertokens_python.recipe.thirdparty.asyncio import manually_create_or_update_user
from supertokens_python.recipe.thirdparty.interfaces import ManuallyCreateOrUpdateUserOkResult
from supertokens_python.recipe.thirdparty.types import ThirdPartyInfo
from supertokens_python.recipe.usermetadata.asyncio import get_user_metadata, update_user_metadata
from supertokens_python.recipe.userroles.asyncio import (
    add_role_to_user,
    create_new_role_or_add_permissions,
    get_roles_for_user,
)
from supertokens_python.types import RecipeUserId, User
from supertokens_python.types.base import AccountInfoInput

from st_twofactor.devcore import DevCore

from ..helpers.devcore_recipes import JSON_TYPE, CapturedEmails, app_id_of, init_sdk, rows


@pytest.fixture
def sdk(devcore_app: str) -> Iterator[str]:
    init_sdk(devcore_app, CapturedEmails())
    yield devcore_app


async def _sign_up(email: str, tenant: str = "public") -> User:
    result = await sign_up(tenant, email, "pass-word-1")
    assert isinstance(result, SignUpOkResult)
    return result.user


async def _third_party(user_id: str, email: str, verified: bool = False) -> User:
    result = await manually_create_or_update_user("public", "fake", user_id, email, verified)
    assert isinstance(result, ManuallyCreateOrUpdateUserOkResult)
    return result.user


def _expected_order(users: list[User], newest_first: bool = False) -> list[str]:
    """The real core's order: by time joined, ties broken by user id descending."""
    by_id = sorted(users, key=lambda u: u.id, reverse=True)
    return [u.id for u in sorted(by_id, key=lambda u: u.time_joined, reverse=newest_first)]


def _core_get(connection_uri: str, path: str, **params: Any) -> requests.Response:
    return requests.get(connection_uri + path, params=params, timeout=5)


async def test_get_user_by_id(sdk: str) -> None:
    created = await _sign_up("a@example.com")
    found = await get_user(created.id)
    assert found is not None and found.to_json() == created.to_json()
    assert await get_user("no-such-user") is None


@pytest.mark.slow
async def test_users_are_paged_oldest_and_newest_first(sdk: str) -> None:
    users = [await _sign_up(f"p{i}@example.com") for i in range(5)]
    users.append(await _third_party("tp-1", "p9@example.com"))

    async def all_pages(newest_first: bool, recipes: list[str] | None = None) -> list[str]:
        listing = get_users_newest_first if newest_first else get_users_oldest_first
        seen: list[str] = []
        token = None
        while True:
            page = await listing("public", 2, token, recipes)
            assert len(page.users) <= 2
            seen += [u.id for u in page.users]
            token = page.next_pagination_token
            if token is None:
                return seen

    assert await all_pages(False) == _expected_order(users)
    assert await all_pages(True) == _expected_order(users, newest_first=True)
    assert await all_pages(False, ["thirdparty"]) == [users[-1].id]


async def test_user_count_per_recipe_and_tenant(sdk: str) -> None:
    created = requests.put(
        f"{sdk}/recipe/multitenancy/tenant/v2", json={"tenantId": "other"}, timeout=5
    )
    assert created.json()["status"] == "OK"
    await _sign_up("c1@example.com")
    await _sign_up("c2@example.com")
    await _sign_up("c3@example.com", tenant="other")
    await _third_party("tp-c", "c4@example.com")
    assert await get_user_count() == 4
    assert await get_user_count(tenant_id="public") == 3
    assert await get_user_count(tenant_id="other") == 1
    assert await get_user_count(["thirdparty"]) == 1
    assert await get_user_count(["emailpassword", "thirdparty"], tenant_id="public") == 3


async def test_list_users_by_account_info(sdk: str) -> None:
    by_password = await _sign_up("shared@example.com")
    by_provider = await _third_party("tp-s", "shared@example.com")
    await _sign_up("else@example.com")
    email = AccountInfoInput(email="Shared@Example.com")
    assert [u.id for u in await list_users_by_account_info("public", email)] == [
        by_password.id,
        by_provider.id,
    ]
    provider = AccountInfoInput(third_party=ThirdPartyInfo("tp-s", "fake"))
    assert [u.id for u in await list_users_by_account_info("public", provider)] == [by_provider.id]
    both = AccountInfoInput(email="else@example.com", third_party=ThirdPartyInfo("tp-s", "fake"))
    assert await list_users_by_account_info("public", both) == []
    union = await list_users_by_account_info("public", both, do_union_of_account_info=True)
    assert len(union) == 2


@pytest.mark.slow
def test_search_tags_match_prefixes_and_domains(sdk: str) -> None:
    for email in ("alice@one.test", "bob@two.test", "carol@alice.test"):
        answer = requests.post(
            f"{sdk}/public/recipe/signup", json={"email": email, "password": "pw-123"}, timeout=5
        )
        assert answer.json()["status"] == "OK"

    def emails_found(**params: str) -> list[str]:
        answer = _core_get(sdk, "/public/users", **params)
        assert answer.status_code == 200, answer.text
        return sorted(u["emails"][0] for u in answer.json()["users"])

    assert emails_found(email="ali") == ["alice@one.test", "carol@alice.test"]
    assert emails_found(email="BOB;two") == ["bob@two.test"]
    assert emails_found(email="%") == []
    assert emails_found(provider="fake") == []


@pytest.mark.slow
async def test_deleting_a_user_removes_everything_keyed_by_it(sdk: str, devcore: DevCore) -> None:
    doomed = await _sign_up("doomed@example.com")
    kept = await _sign_up("kept@example.com")
    refresh_tokens: dict[str, str] = {}
    for user in (doomed, kept):
        rid = RecipeUserId(user.id)
        await update_user_metadata(user.id, {"theme": "dark"})
        await create_new_role_or_add_permissions("admin", ["write"])
        await add_role_to_user("public", user.id, "admin")
        token = await create_email_verification_token("public", rid, user.emails[0])
        assert isinstance(token, CreateEmailVerificationTokenOkResult)
        await verify_email_using_token("public", token.token)
        await create_email_verification_token("public", rid, "second@example.com")
        await create_reset_password_token("public", user.id, user.emails[0])
        session = await create_new_session_without_request_response("public", rid)
        refresh_tokens[user.id] = session.get_all_session_tokens_dangerously()["refreshToken"]

    await delete_user(doomed.id)

    assert await get_user(doomed.id) is None
    assert (await get_user_metadata(doomed.id)).metadata == {}
    assert (await get_roles_for_user("public", doomed.id)).roles == []
    assert not await is_email_verified(RecipeUserId(doomed.id), "doomed@example.com")
    assert await get_all_session_handles_for_user(doomed.id) == []
    with pytest.raises(UnauthorisedError):
        await refresh_session_without_request_response(refresh_tokens[doomed.id], True)
    app_id = app_id_of(sdk)
    for table in ("email_verification_tokens", "password_reset_tokens", "users", "user_tenants"):
        left = rows(devcore, f"SELECT user_id FROM {table} WHERE app_id=?", app_id)
        assert {r["user_id"] for r in left} == {kept.id}, table
    assert (await get_user_metadata(kept.id)).metadata == {"theme": "dark"}
    assert len(await get_all_session_handles_for_user(kept.id)) == 1


def test_delete_reaches_tables_the_user_module_does_not_know() -> None:
    with DevCore() as core:
        with core.db.transaction() as conn:
            conn.execute("CREATE TABLE extension_data (app_id TEXT, user_id TEXT, note TEXT)")
            conn.execute("INSERT INTO extension_data VALUES ('public', 'u1', 'x')")
            conn.execute("INSERT INTO extension_data VALUES ('public', 'u2', 'y')")
            conn.execute("INSERT INTO extension_data VALUES ('other', 'u1', 'z')")
        signed_up = requests.post(
            f"{core.url}/public/recipe/signup",
            json={"email": "x@example.com", "password": "pw-123"},
            timeout=5,
        ).json()
        user_id = signed_up["user"]["id"]
        with core.db.transaction() as conn:
            conn.execute("UPDATE extension_data SET user_id=? WHERE user_id='u1'", (user_id,))
        answer = requests.post(f"{core.url}/user/remove", json={"userId": user_id}, timeout=5)
        assert answer.json() == {"status": "OK"}
        left = rows(core, "SELECT app_id, note FROM extension_data ORDER BY note")
        assert [tuple(r) for r in left] == [("public", "y"), ("other", "z")]


def _link(core: DevCore, app_id: str, primary: str, *members: str) -> None:
    """Link recipe users under a primary user, as the account-linking module stores it."""
    with core.db.transaction() as conn:
        for member in (primary, *members):
            conn.execute("INSERT INTO user_links VALUES (?,?,?)", (app_id, member, primary))


async def test_linked_users_are_listed_counted_and_deleted_as_one(
    sdk: str, devcore: DevCore
) -> None:
    first = await _sign_up("l1@example.com")
    second = await _third_party("tp-l", "l2@example.com")
    alone = await _sign_up("l3@example.com")
    _link(devcore, app_id_of(sdk), first.id, second.id)

    page = await get_users_oldest_first("public")
    assert [u.id for u in page.users] == [first.id, alone.id]
    assert page.users[0].is_primary_user and len(page.users[0].login_methods) == 2
    assert await get_user_count() == 2
    both = AccountInfoInput(email="l1@example.com", third_party=ThirdPartyInfo("tp-l", "fake"))
    assert [u.id for u in await list_users_by_account_info("public", both)] == [first.id]
    await update_user_metadata(first.id, {"k": 1})

    await delete_user(first.id, remove_all_linked_accounts=False)
    remaining = await get_user(second.id)
    assert remaining is not None and remaining.id == first.id
    assert [m.recipe_id for m in remaining.login_methods] == ["thirdparty"]
    assert (await get_user_metadata(first.id)).metadata == {"k": 1}

    await delete_user(second.id)
    assert await get_user(second.id) is None and await get_user(first.id) is None
    assert (await get_user_metadata(first.id)).metadata == {}
    assert await get_user_count() == 1


@pytest.mark.slow
async def test_apps_are_isolated(devcore: DevCore) -> None:
    app_a, app_b = devcore.create_app(), devcore.create_app()
    init_sdk(app_a, CapturedEmails())
    user = await _sign_up("iso@example.com")
    await update_user_metadata(user.id, {"app": "a"})
    init_sdk(app_b, CapturedEmails())
    assert await get_user(user.id) is None
    assert await get_user_count() == 0
    assert (await get_users_oldest_first("public")).users == []
    assert (
        await list_users_by_account_info("public", AccountInfoInput(email="iso@example.com")) == []
    )
    assert (await get_user_metadata(user.id)).metadata == {}
    assert not isinstance(await sign_in("public", "iso@example.com", "pass-word-1"), SignUpOkResult)
    await delete_user(user.id)
    init_sdk(app_a, CapturedEmails())
    assert await get_user(user.id) is not None


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/user/id", {}),
        ("/public/users", {"limit": "many"}),
        ("/public/users", {"limit": "0"}),
        ("/public/users", {"limit": "1_0"}),
        ("/public/users", {"limit": "\u0665"}),
        ("/public/users", {"limit": "501"}),
        ("/public/users", {"timeJoinedOrder": "SIDEWAYS"}),
        ("/public/users", {"paginationToken": "not base64!"}),
        ("/public/users", {"paginationToken": "bm90LWEtdG9rZW4="}),
        ("/public/users", {"includeRecipeIds": "emailpassword,nonsense"}),
        ("/public/users/count", {"includeRecipeIds": "nonsense"}),
        ("/public/users/by-accountinfo", {"email": "a@example.com"}),
        ("/public/users/by-accountinfo", {"doUnionOfAccountInfo": "yes"}),
        ("/public/users/by-accountinfo", {"doUnionOfAccountInfo": "true", "thirdPartyId": "x"}),
    ],
)
def test_bad_queries_are_400(devcore_app: str, path: str, params: dict[str, str]) -> None:
    answer = _core_get(devcore_app, path, **params)
    assert answer.status_code == 400, answer.text


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b'{"userId": 7}', b'{"userId": "u", "removeAllLinkedAccounts": "yes"}'],
)
def test_bad_remove_requests_are_400(devcore_app: str, body: bytes) -> None:
    answer = requests.post(f"{devcore_app}/user/remove", data=body, headers=JSON_TYPE, timeout=5)
    assert answer.status_code == 400, answer.text


@pytest.mark.slow
def test_legacy_recipe_user_getters_follow_the_rid_header(sdk: str) -> None:
    signed_up = requests.post(
        f"{sdk}/public/recipe/signup",
        json={"email": "legacy@example.com", "password": "pw-123"},
        timeout=5,
    ).json()
    user_id = signed_up["user"]["id"]
    by_email = _core_get(sdk, "/public/recipe/user", email="LEGACY@example.com").json()
    assert by_email["status"] == "OK" and by_email["user"]["id"] == user_id
    assert _core_get(sdk, "/recipe/user", userId="nobody").json() == {
        "status": "UNKNOWN_USER_ID_ERROR"
    }
    assert _core_get(sdk, "/recipe/user", email="x@example.com").json() == {
        "status": "UNKNOWN_EMAIL_ERROR"
    }
    as_third_party = requests.get(
        f"{sdk}/recipe/user", params={"userId": user_id}, headers={"rid": "thirdparty"}, timeout=5
    )
    assert as_third_party.json() == {"status": "UNKNOWN_USER_ID_ERROR"}
    assert _core_get(sdk, "/recipe/user").status_code == 400


async def test_users_by_phone_number(sdk: str) -> None:
    created = requests.post(
        f"{sdk}/public/recipe/signinup/code",
        json={"phoneNumber": "+1 555 010 0000"},
        headers={"rid": "passwordless"},
        timeout=5,
    ).json()
    consumed = requests.post(
        f"{sdk}/public/recipe/signinup/code/consume",
        json={
            "preAuthSessionId": created["preAuthSessionId"],
            "deviceId": created["deviceId"],
            "userInputCode": created["userInputCode"],
        },
        headers={"rid": "passwordless"},
        timeout=5,
    ).json()
    assert consumed["status"] == "OK", consumed
    found = await list_users_by_account_info(
        "public", AccountInfoInput(phone_number="+15550100000")
    )
    assert [u.id for u in found] == [consumed["user"]["id"]]
    search = _core_get(sdk, "/public/users", phone="+1555").json()
    assert [u["id"] for u in search["users"]] == [consumed["user"]["id"]]


def test_search_tags_are_listed(devcore_app: str) -> None:
    answer = _core_get(devcore_app, "/user/search/tags").json()
    assert answer == {"status": "OK", "tags": ["email", "phone", "provider"]}
