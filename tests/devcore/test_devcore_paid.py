"""The development core's paid features: the license gate, TOTP and account linking.

Without ``licensed=True`` the core answers 402 where the real core does without a
license key; with it, the SDK's own ``totp`` and ``multifactorauth`` recipes run a
full second-factor flow against it. TOTP codes come from pyotp at the core's clock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pyotp
import pytest
from fastapi.testclient import TestClient
from supertokens_python import RecipeInit
from supertokens_python.asyncio import get_user
from supertokens_python.recipe import accountlinking, emailpassword, multifactorauth, session, totp
from supertokens_python.recipe.accountlinking import asyncio as al
from supertokens_python.recipe.emailpassword import asyncio as ep
from supertokens_python.recipe.emailpassword.interfaces import SignUpOkResult
from supertokens_python.recipe.totp import asyncio as totp_api
from supertokens_python.recipe.totp.types import (
    CreateDeviceOkResult,
    DeviceAlreadyExistsError,
    InvalidTOTPError,
    LimitReachedError,
    UnknownDeviceError,
    UnknownUserIdError,
    UpdateDeviceOkResult,
    VerifyDeviceOkResult,
    VerifyTOTPOkResult,
)
from supertokens_python.types import RecipeUserId

from st_twofactor.devcore import DevCore

from ..helpers.sdk import sdk_init

T = "public"
HTTP = httpx.Client(timeout=30)
"""One client for raw calls (a new client per call costs ~0.1 s of TLS setup)."""
PASSWORD = "correct-horse-battery-1"


class Clock:
    """A settable clock shared by the licensed core and pyotp (tests move it forward)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def licensed_core(clock: Clock) -> Iterator[DevCore]:
    with DevCore(licensed=True, clock=clock) as core:
        yield core


@pytest.fixture
def licensed_app(licensed_core: DevCore) -> str:
    return licensed_core.create_app()


def init_sdk(connection_uri: str, *extra: RecipeInit) -> None:
    sdk_init(
        connection_uri,
        [
            session.init(),
            emailpassword.init(),
            multifactorauth.init(first_factors=["emailpassword"]),
            totp.init(),
            *extra,
        ],
        app_name="paid-tests",
    )


async def new_user(email: str) -> str:
    result = await ep.sign_up(T, email, PASSWORD)
    assert isinstance(result, SignUpOkResult)
    return result.user.id


def code(secret: str, clock: Clock, shift: int = 0) -> str:
    return pyotp.TOTP(secret).at(clock.now + shift)


# -- without a license --

GATED = [
    ("POST", "/recipe/totp/device", {"userId": "u", "skew": 1, "period": 30}),
    ("POST", "/public/recipe/totp/verify", {"userId": "u", "totp": "123456"}),
    ("POST", "/recipe/accountlinking/user/primary", {"recipeUserId": "u"}),
    ("POST", "/recipe/accountlinking/user/link", {"recipeUserId": "u", "primaryUserId": "p"}),
]


@pytest.mark.parametrize(("method", "path", "body"), GATED)
def test_gated_endpoints_answer_402_without_a_license(
    devcore_app: str, method: str, path: str, body: Any
) -> None:
    response = HTTP.request(method, devcore_app + path, json=body)
    assert response.status_code == 402
    assert "not enabled" in response.text


FREE = [
    ("GET", "/recipe/totp/device/list?userId=u", None, {"status": "OK", "devices": []}),
    (
        "POST",
        "/recipe/totp/device/remove",
        {"userId": "u", "deviceName": "d"},
        {"status": "OK", "didDeviceExist": False},
    ),
    (
        "PUT",
        "/recipe/totp/device",
        {"userId": "u", "existingDeviceName": "d", "newDeviceName": "e"},
        {"status": "UNKNOWN_DEVICE_ERROR"},
    ),
    (
        "POST",
        "/public/recipe/totp/device/verify",
        {"userId": "u", "deviceName": "d", "totp": "123456"},
        {"status": "UNKNOWN_DEVICE_ERROR"},
    ),
    ("GET", "/ee/featureflag", None, {"status": "OK", "features": [], "usageStats": {}}),
]


@pytest.mark.parametrize(("method", "path", "body", "expected"), FREE)
def test_the_real_cores_free_endpoints_stay_free(
    devcore_app: str, method: str, path: str, body: Any, expected: Any
) -> None:
    response = HTTP.request(method, devcore_app + path, json=body)
    assert response.status_code == 200, response.text
    assert response.json() == expected


async def test_unlicensed_sdk_calls_raise_and_checks_work(devcore_app: str) -> None:
    init_sdk(devcore_app)
    user_id = await new_user("free@example.com")
    with pytest.raises(Exception, match="402"):
        await totp_api.create_device(user_id)
    with pytest.raises(Exception, match="402"):
        await totp_api.verify_totp(T, user_id, "123456")
    with pytest.raises(Exception, match="402"):
        await al.create_primary_user(RecipeUserId(user_id))
    check = await al.can_create_primary_user(RecipeUserId(user_id))
    assert check.status == "OK" and check.was_already_a_primary_user is False
    unlinked = await al.unlink_account(RecipeUserId(user_id))
    assert unlinked.was_linked is False


# -- TOTP with a license --


async def test_totp_device_lifecycle(licensed_app: str, clock: Clock) -> None:
    init_sdk(licensed_app)
    user_id = await new_user("totp@example.com")
    created = await totp_api.create_device(user_id)
    assert isinstance(created, CreateDeviceOkResult)
    assert created.device_name == "TOTP Device 0"
    assert len(created.secret) == 32
    assert "totp%40example.com" in created.qr_code_string
    (device,) = (await totp_api.list_devices(user_id)).devices
    assert (device.name, device.period, device.skew, device.verified) == (
        "TOTP Device 0",
        30,
        1,
        False,
    )
    # Unverified devices never let a code through.
    unverified = await totp_api.verify_totp(T, user_id, code(created.secret, clock))
    assert isinstance(unverified, InvalidTOTPError)

    wrong = await totp_api.verify_device(T, user_id, created.device_name, "000000x")
    assert isinstance(wrong, InvalidTOTPError)
    assert wrong.current_number_of_failed_attempts == 2
    assert wrong.max_number_of_failed_attempts == 5
    right = await totp_api.verify_device(
        T, user_id, created.device_name, code(created.secret, clock, 30)
    )
    assert isinstance(right, VerifyDeviceOkResult) and right.was_already_verified is False
    again = await totp_api.verify_device(T, user_id, created.device_name, "nothing")
    assert isinstance(again, VerifyDeviceOkResult) and again.was_already_verified is True
    assert (await totp_api.list_devices(user_id)).devices[0].verified is True

    clock.now += 30
    assert isinstance(
        await totp_api.verify_totp(T, user_id, code(created.secret, clock, 30)), VerifyTOTPOkResult
    )
    renamed = await totp_api.update_device(user_id, created.device_name, "Phone")
    assert isinstance(renamed, UpdateDeviceOkResult)
    # (The SDK cannot read this answer, it expects a secret: ask the core directly.)
    taken = HTTP.post(
        licensed_app + "/recipe/totp/device",
        json={"userId": user_id, "deviceName": "Phone", "skew": 1, "period": 30},
    )
    assert taken.json() == {"status": "DEVICE_ALREADY_EXISTS_ERROR"}
    second = await totp_api.create_device(user_id)
    assert isinstance(second, CreateDeviceOkResult) and second.device_name == "TOTP Device 1"
    assert isinstance(await totp_api.update_device(user_id, "nope", "x"), UnknownDeviceError)
    assert isinstance(
        await totp_api.update_device(user_id, "Phone", "TOTP Device 1"), DeviceAlreadyExistsError
    )

    assert (await totp_api.remove_device(user_id, "Phone")).did_device_exist is True
    assert (await totp_api.remove_device(user_id, "Phone")).did_device_exist is False
    assert (await totp_api.remove_device(user_id, "TOTP Device 1")).did_device_exist is True
    gone = await totp_api.verify_totp(T, user_id, code(created.secret, clock))
    assert isinstance(gone, UnknownUserIdError)


async def test_a_used_code_is_refused_while_it_could_still_be_valid(
    licensed_app: str, clock: Clock
) -> None:
    init_sdk(licensed_app)
    user_id = await new_user("replay@example.com")
    created = await totp_api.create_device(user_id)
    assert isinstance(created, CreateDeviceOkResult)
    first = code(created.secret, clock)
    assert isinstance(
        await totp_api.verify_device(T, user_id, created.device_name, first), VerifyDeviceOkResult
    )
    replay = await totp_api.verify_totp(T, user_id, first)
    assert isinstance(replay, InvalidTOTPError)
    assert replay.current_number_of_failed_attempts == 1
    clock.now += 30
    fresh = await totp_api.verify_totp(T, user_id, code(created.secret, clock))
    assert isinstance(fresh, VerifyTOTPOkResult)


async def test_an_unverified_device_is_replaced_by_a_new_enrolment(licensed_app: str) -> None:
    init_sdk(licensed_app)
    user_id = await new_user("again@example.com")
    first = await totp_api.create_device(user_id, device_name="Phone")
    second = await totp_api.create_device(user_id, device_name="Phone")
    assert isinstance(first, CreateDeviceOkResult) and isinstance(second, CreateDeviceOkResult)
    assert first.secret != second.secret
    assert len((await totp_api.list_devices(user_id)).devices) == 1


async def test_failed_codes_lock_the_user_out_until_the_cooldown_ends(
    licensed_app: str, clock: Clock
) -> None:
    init_sdk(licensed_app)
    user_id = await new_user("limit@example.com")
    created = await totp_api.create_device(user_id, skew=0)
    assert isinstance(created, CreateDeviceOkResult)
    ok = await totp_api.verify_device(T, user_id, created.device_name, code(created.secret, clock))
    assert isinstance(ok, VerifyDeviceOkResult)
    for attempt in range(1, 6):
        clock.now += 1
        wrong = await totp_api.verify_totp(T, user_id, "00000a")
        assert isinstance(wrong, InvalidTOTPError)
        assert wrong.current_number_of_failed_attempts == attempt
    clock.now += 60
    locked = await totp_api.verify_totp(T, user_id, code(created.secret, clock))
    assert isinstance(locked, LimitReachedError)
    assert locked.retry_after_ms == 900_000 - 60_000
    clock.now += 900
    assert isinstance(
        await totp_api.verify_totp(T, user_id, code(created.secret, clock)), VerifyTOTPOkResult
    )


def test_rate_limit_history_is_per_tenant(licensed_app: str, clock: Clock) -> None:
    assert (
        HTTP.put(
            licensed_app + "/recipe/multitenancy/tenant/v2", json={"tenantId": "other"}
        ).status_code
        == 200
    )
    device = HTTP.post(
        licensed_app + "/recipe/totp/device", json={"userId": "u1", "skew": 0, "period": 30}
    ).json()
    for _ in range(5):
        HTTP.post(licensed_app + "/public/recipe/totp/verify", json={"userId": "u1", "totp": "x"})
    locked = HTTP.post(
        licensed_app + "/public/recipe/totp/device/verify",
        json={"userId": "u1", "deviceName": device["deviceName"], "totp": "1"},
    ).json()
    assert locked["status"] == "LIMIT_REACHED_ERROR"
    elsewhere = HTTP.post(
        licensed_app + "/other/recipe/totp/device/verify",
        json={
            "userId": "u1",
            "deviceName": device["deviceName"],
            "totp": code(device["secret"], clock),
        },
    ).json()
    assert elsewhere == {"status": "OK", "wasAlreadyVerified": False}


BAD_TOTP = [
    ("POST", "/recipe/totp/device", {"userId": "u", "period": 30}),
    ("POST", "/recipe/totp/device", {"userId": "u", "skew": 1}),
    ("POST", "/recipe/totp/device", {"userId": "u", "skew": -1, "period": 30}),
    ("POST", "/recipe/totp/device", {"userId": "u", "skew": 1, "period": 0}),
    ("POST", "/recipe/totp/device", {"userId": "u", "skew": True, "period": 30}),
    ("POST", "/recipe/totp/device", {"userId": "u", "skew": 1.5, "period": 30}),
    ("POST", "/recipe/totp/device", {"userId": "u", "skew": 10**9, "period": 30}),
    ("POST", "/recipe/totp/device", {"userId": "", "skew": 1, "period": 30}),
    ("POST", "/recipe/totp/device", {"userId": "u", "deviceName": "", "skew": 1, "period": 30}),
    ("POST", "/recipe/totp/device", b"{"),
    ("PUT", "/recipe/totp/device", {"userId": "u", "existingDeviceName": "a"}),
    ("PUT", "/recipe/totp/device", {"userId": "u", "existingDeviceName": "", "newDeviceName": "b"}),
    ("GET", "/recipe/totp/device/list", None),
    ("GET", "/recipe/totp/device/list?userId=", None),
    ("POST", "/recipe/totp/device/remove", {"userId": "u"}),
    ("POST", "/public/recipe/totp/device/verify", {"userId": "u", "deviceName": "d", "totp": 1}),
    ("POST", "/public/recipe/totp/verify", {"userId": "u"}),
    (
        "POST",
        "/public/recipe/totp/verify",
        {"userId": "u", "totp": "1", "allowUnverifiedDevices": 1},
    ),
    ("POST", "/public/recipe/totp/verify", [1]),
]


@pytest.mark.parametrize("licensed", [True, False], ids=["licensed", "unlicensed"])
@pytest.mark.parametrize(("method", "path", "body"), BAD_TOTP)
def test_bad_totp_input_is_400_before_any_license_check(
    devcore_app: str, licensed_app: str, licensed: bool, method: str, path: str, body: Any
) -> None:
    uri = licensed_app if licensed else devcore_app
    content = body if isinstance(body, bytes) else None
    response = HTTP.request(
        method,
        uri + path,
        content=content,
        json=None if content is not None else body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert HTTP.get(uri + "/recipe/totp/device/list?userId=u").json()["devices"] == []


def test_feature_flag_lists_the_licensed_features(licensed_app: str) -> None:
    answer = HTTP.get(licensed_app + "/ee/featureflag").json()
    assert answer["status"] == "OK"
    assert set(answer["features"]) == {"account_linking", "dashboard_login", "mfa", "multi_tenancy"}


# -- the SDK's MFA + TOTP recipes, end to end --


def sign_up_or_in(client: TestClient, path: str, email: str) -> httpx.Response:
    form = [{"id": "email", "value": email}, {"id": "password", "value": PASSWORD}]
    response = client.post(path, json={"formFields": form}, headers={"st-auth-mode": "header"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "OK", response.json()
    return response


def auth(response: httpx.Response) -> dict[str, str]:
    return {"Authorization": "Bearer " + response.headers["st-access-token"]}


@pytest.fixture(scope="module")
def wall_clock_core() -> Iterator[DevCore]:
    """A licensed core on the wall clock: the SDK checks session token times against it."""
    with DevCore(licensed=True) as core:
        yield core


@pytest.mark.slow
def test_mfa_totp_flow_through_the_sdk(wall_clock_core: DevCore) -> None:
    from fastapi import Depends, FastAPI
    from supertokens_python.framework.fastapi import get_middleware
    from supertokens_python.recipe.session import SessionContainer
    from supertokens_python.recipe.session.framework.fastapi import verify_session

    uri = wall_clock_core.create_app()
    # Every user of the tenant must pass TOTP after the password.
    tenant = HTTP.put(
        uri + "/recipe/multitenancy/tenant/v2",
        json={"tenantId": "public", "requiredSecondaryFactors": ["totp"]},
    )
    assert tenant.status_code == 200, tenant.text
    init_sdk(uri)
    app = FastAPI()
    app.add_middleware(get_middleware())

    @app.get("/protected")
    async def protected(s: SessionContainer = Depends(verify_session())) -> dict[str, str]:
        return {"user": s.get_user_id()}

    client = TestClient(app)
    signed_up = sign_up_or_in(client, "/auth/signup", "mfa@example.com")
    assert client.get("/protected", headers=auth(signed_up)).status_code == 403

    device = client.post("/auth/totp/device", json={}, headers=auth(signed_up))
    assert device.status_code == 200, device.text
    assert device.json()["status"] == "OK", device.json()
    totp_code = pyotp.TOTP(device.json()["secret"])
    now = time.time()
    first = totp_code.at(now)
    verified = client.post(
        "/auth/totp/device/verify",
        json={"deviceName": device.json()["deviceName"], "totp": first},
        headers=auth(signed_up),
    )
    assert verified.json()["status"] == "OK", verified.json()
    assert client.get("/protected", headers=auth(verified)).status_code == 200

    signed_in = sign_up_or_in(client, "/auth/signin", "mfa@example.com")
    assert client.get("/protected", headers=auth(signed_in)).status_code == 403
    replay = client.post("/auth/totp/verify", json={"totp": first}, headers=auth(signed_in))
    assert replay.json()["status"] == "INVALID_TOTP_ERROR", replay.json()
    # The next period's code is within the default skew of one period.
    passed = client.post(
        "/auth/totp/verify", json={"totp": totp_code.at(now + 30)}, headers=auth(signed_in)
    )
    assert passed.json()["status"] == "OK", passed.json()
    assert client.get("/protected", headers=auth(passed)).status_code == 200
    assert (
        client.get("/protected", headers=auth(passed)).json()["user"]
        == (client.get("/protected", headers=auth(verified)).json()["user"])
    )


# -- account linking with a license --


async def test_primary_users_link_and_unlink(licensed_app: str) -> None:
    init_sdk(licensed_app, accountlinking.init())
    first = await new_user("one@example.com")
    second = await new_user("two@example.com")
    third = await new_user("three@example.com")

    created = await al.create_primary_user(RecipeUserId(first))
    assert created.status == "OK" and created.was_already_a_primary_user is False
    assert created.user.is_primary_user is True
    assert (await al.create_primary_user(RecipeUserId(first))).was_already_a_primary_user is True

    check = await al.can_link_accounts(RecipeUserId(second), first)
    assert check.status == "OK" and check.accounts_already_linked is False
    linked = await al.link_accounts(RecipeUserId(second), first)
    assert linked.status == "OK" and linked.accounts_already_linked is False
    user = await get_user(second)
    assert user is not None and user.id == first
    assert sorted(user.emails) == ["one@example.com", "two@example.com"]
    assert {m.recipe_user_id.get_as_string() for m in user.login_methods} == {first, second}

    via_linked = await al.link_accounts(RecipeUserId(third), second)
    assert via_linked.status == "OK" and via_linked.accounts_already_linked is False
    assert (await al.can_create_primary_user(RecipeUserId(second))).status == (
        "RECIPE_USER_ID_ALREADY_LINKED_WITH_PRIMARY_USER_ID_ERROR"
    )

    unlinked = await al.unlink_account(RecipeUserId(third))
    assert unlinked.was_linked is True and unlinked.was_recipe_user_deleted is False
    alone = await get_user(third)
    assert alone is not None and alone.id == third and alone.is_primary_user is False

    # Unlinking the primary user's own login method deletes it; the others keep the id.
    own = await al.unlink_account(RecipeUserId(first))
    assert own.was_recipe_user_deleted is True
    remaining = await get_user(second)
    assert remaining is not None and remaining.id == first
    assert [m.recipe_user_id.get_as_string() for m in remaining.login_methods] == [second]


def test_account_info_cannot_belong_to_two_primary_users(licensed_app: str) -> None:
    users = []
    for email in ("same@example.com", "same@example.com"):
        created = HTTP.post(
            licensed_app + "/public/recipe/signinup/code", json={"email": email}
        ).json()
        consumed = HTTP.post(
            licensed_app + "/public/recipe/signinup/code/consume",
            json={"preAuthSessionId": created["preAuthSessionId"], "linkCode": created["linkCode"]},
        ).json()
        users.append(consumed["user"]["id"])
    ep_user = HTTP.post(
        licensed_app + "/public/recipe/signup",
        json={"email": "same@example.com", "password": PASSWORD},
    ).json()["user"]["id"]
    assert users[0] == users[1]  # passwordless signs in the same user again
    made = HTTP.post(
        licensed_app + "/recipe/accountlinking/user/primary", json={"recipeUserId": users[0]}
    )
    assert made.json()["status"] == "OK"
    clash = HTTP.post(
        licensed_app + "/recipe/accountlinking/user/primary", json={"recipeUserId": ep_user}
    )
    assert clash.json() == {
        "status": "ACCOUNT_INFO_ALREADY_ASSOCIATED_WITH_ANOTHER_PRIMARY_USER_ID_ERROR",
        "primaryUserId": users[0],
        "description": "This user's email is already associated with another user ID",
    }
    # Linking the same e-mail into the primary user that has it is fine.
    link = HTTP.post(
        licensed_app + "/recipe/accountlinking/user/link",
        json={"recipeUserId": ep_user, "primaryUserId": users[0]},
    ).json()
    assert link["status"] == "OK"
    assert link["user"]["isPrimaryUser"] is True and len(link["user"]["loginMethods"]) == 2
    assert link["user"]["emails"] == ["same@example.com"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/recipe/accountlinking/user/primary/check", None),
        ("GET", "/recipe/accountlinking/user/primary/check?recipeUserId=nobody", None),
        ("GET", "/recipe/accountlinking/user/link/check?recipeUserId=nobody", None),
        ("POST", "/recipe/accountlinking/user/primary", {"recipeUserId": "nobody"}),
        ("POST", "/recipe/accountlinking/user/primary", {"recipeUserId": 5}),
        ("POST", "/recipe/accountlinking/user/link", {"recipeUserId": "nobody"}),
        ("POST", "/recipe/accountlinking/user/link", {"recipeUserId": "a", "primaryUserId": "b"}),
        ("POST", "/recipe/accountlinking/user/unlink", {"recipeUserId": "nobody"}),
        ("POST", "/recipe/accountlinking/user/unlink", b"nope"),
    ],
)
def test_bad_account_linking_input_is_400(
    licensed_app: str, method: str, path: str, body: Any
) -> None:
    content = body if isinstance(body, bytes) else None
    response = HTTP.request(
        method,
        licensed_app + path,
        content=content,
        json=None if content is not None else body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text


def test_a_linked_user_cannot_take_another_primary_users_email(licensed_app: str) -> None:
    ep_user = HTTP.post(
        licensed_app + "/public/recipe/signup",
        json={"email": "owner@example.com", "password": PASSWORD},
    ).json()["user"]["id"]
    created = HTTP.post(
        licensed_app + "/public/recipe/signinup/code", json={"phoneNumber": "+15550100009"}
    ).json()
    pl_user = HTTP.post(
        licensed_app + "/public/recipe/signinup/code/consume",
        json={"preAuthSessionId": created["preAuthSessionId"], "linkCode": created["linkCode"]},
    ).json()["user"]["id"]
    update = {"recipeUserId": pl_user, "email": "owner@example.com"}
    headers = {"rid": "passwordless"}
    for user_id in (ep_user, pl_user):
        made = HTTP.post(
            licensed_app + "/recipe/accountlinking/user/primary", json={"recipeUserId": user_id}
        )
        assert made.json()["status"] == "OK"
    refused = HTTP.put(licensed_app + "/recipe/user", json=update, headers=headers).json()
    assert refused == {
        "status": "EMAIL_CHANGE_NOT_ALLOWED_ERROR",
        "reason": "New email is associated with another primary user ID",
    }
    HTTP.post(licensed_app + "/recipe/accountlinking/user/unlink", json={"recipeUserId": pl_user})
    allowed = HTTP.put(licensed_app + "/recipe/user", json=update, headers=headers).json()
    assert allowed == {"status": "OK"}
