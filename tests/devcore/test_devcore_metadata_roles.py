"""The development core's usermetadata and userroles recipes, through the SDK."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import requests
from supertokens_python.recipe.emailpassword.asyncio import sign_up
from supertokens_python.recipe.emailpassword.interfaces import SignUpOkResult
from supertokens_python.recipe.session.asyncio import create_new_session_without_request_response
from supertokens_python.recipe.usermetadata.asyncio import (
    clear_user_metadata,
    get_user_metadata,
    update_user_metadata,
)
from supertokens_python.recipe.userroles.asyncio import (
    add_role_to_user,
    create_new_role_or_add_permissions,
    delete_role,
    get_all_roles,
    get_permissions_for_role,
    get_roles_for_user,
    get_roles_that_have_permission,
    get_users_that_have_role,
    remove_permissions_from_role,
    remove_user_role,
)
from supertokens_python.recipe.userroles.interfaces import (
    AddRoleToUserOkResult,
    GetPermissionsForRoleOkResult,
    GetUsersThatHaveRoleOkResult,
    RemoveUserRoleOkResult,
    UnknownRoleError,
)
from supertokens_python.types import RecipeUserId

from ..helpers.devcore_recipes import JSON_TYPE, CapturedEmails, init_sdk


@pytest.fixture
def sdk(devcore_app: str) -> Iterator[str]:
    init_sdk(devcore_app, CapturedEmails())
    yield devcore_app


# -- metadata --


async def test_metadata_is_merged_shallowly_and_null_deletes(sdk: str) -> None:
    assert (await get_user_metadata("m1")).metadata == {}
    await update_user_metadata(
        "m1", {"preferences": {"theme": "dark"}, "notifications": {"email": True}, "todos": [1]}
    )
    merged = await update_user_metadata("m1", {"notifications": {"sms": True}, "todos": None})
    expected = {"preferences": {"theme": "dark"}, "notifications": {"sms": True}}
    assert merged.metadata == expected
    assert (await get_user_metadata("m1")).metadata == expected
    assert (await get_user_metadata("m2")).metadata == {}
    await clear_user_metadata("m1")
    assert (await get_user_metadata("m1")).metadata == {}


def test_concurrent_metadata_updates_lose_nothing(devcore_app: str) -> None:
    def update(key: str) -> None:
        for round_ in range(3):
            answer = requests.put(
                f"{devcore_app}/recipe/user/metadata",
                json={"userId": "busy", "metadataUpdate": {f"{key}-{round_}": round_}},
                timeout=5,
            )
            assert answer.status_code == 200

    threads = [threading.Thread(target=update, args=(f"k{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = requests.get(
        f"{devcore_app}/recipe/user/metadata", params={"userId": "busy"}, timeout=5
    ).json()
    assert len(stored["metadata"]) == 24


@pytest.mark.parametrize(
    "body",
    [
        b'{"userId": "u"}',
        b'{"userId": "u", "metadataUpdate": [1]}',
        b'{"userId": "u", "metadataUpdate": "x"}',
        b'{"metadataUpdate": {"a": 1}}',
        b'{"userId": 5, "metadataUpdate": {"a": 1}}',
    ],
)
def test_bad_metadata_updates_are_400_and_store_nothing(devcore_app: str, body: bytes) -> None:
    answer = requests.put(
        f"{devcore_app}/recipe/user/metadata", data=body, headers=JSON_TYPE, timeout=5
    )
    assert answer.status_code == 400, answer.text
    stored = requests.get(
        f"{devcore_app}/recipe/user/metadata", params={"userId": "u"}, timeout=5
    ).json()
    assert stored == {"status": "OK", "metadata": {}}


# -- roles --


async def test_roles_and_permissions(sdk: str) -> None:
    created = await create_new_role_or_add_permissions("editor", ["read", "write"])
    assert created.created_new_role
    extended = await create_new_role_or_add_permissions("editor", ["publish"])
    assert not extended.created_new_role
    await create_new_role_or_add_permissions("viewer", ["read"])
    permissions = await get_permissions_for_role("editor")
    assert isinstance(permissions, GetPermissionsForRoleOkResult)
    assert sorted(permissions.permissions) == ["publish", "read", "write"]
    assert sorted((await get_roles_that_have_permission("read")).roles) == ["editor", "viewer"]
    await remove_permissions_from_role("editor", ["write"])
    permissions = await get_permissions_for_role("editor")
    assert isinstance(permissions, GetPermissionsForRoleOkResult)
    assert sorted(permissions.permissions) == ["publish", "read"]
    assert isinstance(await get_permissions_for_role("ghost"), UnknownRoleError)
    assert isinstance(await remove_permissions_from_role("ghost", ["x"]), UnknownRoleError)
    assert sorted((await get_all_roles()).roles) == ["editor", "viewer"]


@pytest.mark.slow
async def test_user_roles_per_tenant(sdk: str) -> None:
    created = requests.put(
        f"{sdk}/recipe/multitenancy/tenant/v2", json={"tenantId": "other"}, timeout=5
    )
    assert created.json()["status"] == "OK"
    await create_new_role_or_add_permissions("admin", [])
    assert isinstance(await add_role_to_user("public", "u1", "ghost"), UnknownRoleError)
    first = await add_role_to_user("public", "u1", "admin")
    assert isinstance(first, AddRoleToUserOkResult) and not first.did_user_already_have_role
    second = await add_role_to_user("public", "u1", "admin")
    assert isinstance(second, AddRoleToUserOkResult) and second.did_user_already_have_role
    assert (await get_roles_for_user("public", "u1")).roles == ["admin"]
    assert (await get_roles_for_user("other", "u1")).roles == []
    users = await get_users_that_have_role("public", "admin")
    assert isinstance(users, GetUsersThatHaveRoleOkResult) and users.users == ["u1"]
    removed = await remove_user_role("public", "u1", "admin")
    assert isinstance(removed, RemoveUserRoleOkResult) and removed.did_user_have_role
    removed = await remove_user_role("public", "u1", "admin")
    assert isinstance(removed, RemoveUserRoleOkResult) and not removed.did_user_have_role


async def test_deleting_a_role_takes_it_from_every_user(sdk: str) -> None:
    await create_new_role_or_add_permissions("temp", ["p"])
    await add_role_to_user("public", "u2", "temp")
    assert (await delete_role("temp")).did_role_exist
    assert not (await delete_role("temp")).did_role_exist
    assert (await get_roles_for_user("public", "u2")).roles == []
    assert (await get_roles_that_have_permission("p")).roles == []
    assert isinstance(await get_users_that_have_role("public", "temp"), UnknownRoleError)


async def test_roles_and_permissions_reach_the_access_token(sdk: str) -> None:
    user = await sign_up("public", "r@example.com", "pass-word-1")
    assert isinstance(user, SignUpOkResult)
    await create_new_role_or_add_permissions("auditor", ["read-logs"])
    await add_role_to_user("public", user.user.id, "auditor")
    session = await create_new_session_without_request_response(
        "public", RecipeUserId(user.user.id)
    )
    payload = session.get_access_token_payload()
    assert payload["st-role"]["v"] == ["auditor"]
    assert payload["st-perm"]["v"] == ["read-logs"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/recipe/role", b'{"role": "   "}'),
        ("PUT", "/recipe/role", b'{"role": "r", "permissions": "read"}'),
        ("PUT", "/recipe/role", b'{"role": "r", "permissions": [1]}'),
        ("PUT", "/recipe/role", b'{"role": "r", "permissions": [" "]}'),
        ("PUT", "/public/recipe/user/role", b'{"role": "r"}'),
        ("POST", "/public/recipe/user/role/remove", b'{"userId": "u", "role": ""}'),
        ("POST", "/recipe/role/remove", b"{}"),
        ("POST", "/recipe/role/permissions/remove", b'{"role": 7}'),
    ],
)
def test_bad_role_input_is_400_and_creates_nothing(
    devcore_app: str, method: str, path: str, body: bytes
) -> None:
    answer = requests.request(method, devcore_app + path, data=body, headers=JSON_TYPE, timeout=5)
    assert answer.status_code == 400, answer.text
    roles = requests.get(f"{devcore_app}/recipe/roles", timeout=5).json()
    assert roles == {"status": "OK", "roles": []}


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/recipe/role/permissions", {}),
        ("/recipe/role/permissions", {"role": " "}),
        ("/recipe/permission/roles", {}),
        ("/public/recipe/user/roles", {}),
        ("/public/recipe/role/users", {}),
    ],
)
def test_bad_role_queries_are_400(devcore_app: str, path: str, params: dict[str, str]) -> None:
    answer = requests.get(devcore_app + path, params=params, timeout=5)
    assert answer.status_code == 400, answer.text
