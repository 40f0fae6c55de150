"""The development core's passwordless recipe, driven through the unmodified SDK.

Codes and devices are created and consumed with ``supertokens_python.recipe.passwordless.asyncio``;
a few raw HTTP calls check what the SDK hides (code lists, 400s for bad input).
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from supertokens_python.asyncio import get_user
from supertokens_python.ingredients.emaildelivery.types import (
    EmailDeliveryConfig,
    EmailDeliveryInterface,
)
from supertokens_python.ingredients.smsdelivery.types import (
    SMSDeliveryConfig,
    SMSDeliveryInterface,
)
from supertokens_python.recipe import passwordless, session
from supertokens_python.recipe.passwordless import asyncio as pl
from supertokens_python.recipe.passwordless.interfaces import (
    CheckCodeIncorrectUserInputCodeError,
    CheckCodeOkResult,
    ConsumeCodeExpiredUserInputCodeError,
    ConsumeCodeIncorrectUserInputCodeError,
    ConsumeCodeOkResult,
    ConsumeCodeRestartFlowError,
    CreateNewCodeForDeviceOkResult,
    CreateNewCodeForDeviceRestartFlowError,
    CreateNewCodeForDeviceUserInputCodeAlreadyUsedError,
    UpdateUserEmailAlreadyExistsError,
    UpdateUserOkResult,
    UpdateUserPhoneNumberAlreadyExistsError,
    UpdateUserUnknownUserIdError,
)
from supertokens_python.types import RecipeUserId

from st_twofactor.devcore import DevCore

from ..helpers.sdk import sdk_init

T = "public"
HTTP = httpx.Client(timeout=30)
"""One client for raw calls (a new client per call costs ~0.1 s of TLS setup)."""


class Captured(EmailDeliveryInterface[Any], SMSDeliveryInterface[Any]):
    """Keeps e-mails and text messages instead of sending them."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def send_email(self, template_vars: Any, user_context: dict[str, Any]) -> None:
        self.sent.append(template_vars)

    async def send_sms(self, template_vars: Any, user_context: dict[str, Any]) -> None:
        self.sent.append(template_vars)


def init_sdk(connection_uri: str) -> Captured:
    captured = Captured()
    sdk_init(
        connection_uri,
        [
            session.init(),
            passwordless.init(
                contact_config=passwordless.ContactEmailOrPhoneConfig(),
                flow_type="USER_INPUT_CODE",
                email_delivery=EmailDeliveryConfig(service=captured),
                sms_delivery=SMSDeliveryConfig(service=captured),
            ),
        ],
        app_name="pl-tests",
    )
    return captured


@pytest.fixture
def sdk(devcore_app: str) -> str:
    init_sdk(devcore_app)
    return devcore_app


class Clock:
    """A settable clock for a core of our own (seconds since the epoch)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def clocked_core() -> Iterator[tuple[DevCore, Clock]]:
    clock = Clock()
    with DevCore(clock=clock) as core:
        yield core, clock


def post(uri: str, path: str, body: Any, **headers: str) -> httpx.Response:
    content = body if isinstance(body, (bytes, str)) else None
    return HTTP.post(
        uri + path,
        content=content,
        json=None if content is not None else body,
        headers={"rid": "passwordless", "Content-Type": "application/json", **headers},
    )


async def sign_in(email: str | None = None, phone: str | None = None) -> ConsumeCodeOkResult:
    code = await pl.create_code(T, email=email, phone_number=phone)
    result = await pl.consume_code(
        T, code.pre_auth_session_id, code.user_input_code, code.device_id
    )
    assert isinstance(result, ConsumeCodeOkResult)
    return result


# -- create and consume --


async def test_code_signs_up_then_signs_in_and_works_once(sdk: str) -> None:
    code = await pl.create_code(T, email="  Ann@Example.COM ")
    assert len(code.user_input_code) == 6 and code.user_input_code.isdigit()
    assert len(base64.b64decode(code.device_id)) == 32
    assert code.code_life_time == 900_000

    first = await pl.consume_code(T, code.pre_auth_session_id, code.user_input_code, code.device_id)
    assert isinstance(first, ConsumeCodeOkResult)
    assert first.created_new_recipe_user is True
    assert first.user.emails == ["ann@example.com"]
    assert first.user.login_methods[0].recipe_id == "passwordless"
    assert first.consumed_device.email == "ann@example.com"

    again = await pl.consume_code(T, code.pre_auth_session_id, code.user_input_code, code.device_id)
    assert isinstance(again, ConsumeCodeRestartFlowError)

    second = await sign_in(email="ann@example.com")
    assert second.created_new_recipe_user is False
    assert second.user.id == first.user.id


async def test_magic_link_signs_in_and_phone_is_normalised(sdk: str) -> None:
    code = await pl.create_code(T, phone_number="+1 (555) 010-0000")
    result = await pl.consume_code(T, code.pre_auth_session_id, link_code=code.link_code)
    assert isinstance(result, ConsumeCodeOkResult)
    assert result.user.phone_numbers == ["+15550100000"]
    assert result.consumed_device.phone_number == "+15550100000"


async def test_consume_removes_every_device_of_the_contact(sdk: str) -> None:
    one = await pl.create_code(T, email="dev@example.com")
    two = await pl.create_code(T, email="dev@example.com")
    assert len(await pl.list_codes_by_email(T, "dev@example.com")) == 2
    await pl.consume_code(T, one.pre_auth_session_id, one.user_input_code, one.device_id)
    assert await pl.list_codes_by_email(T, "dev@example.com") == []
    late = await pl.consume_code(T, two.pre_auth_session_id, two.user_input_code, two.device_id)
    assert isinstance(late, ConsumeCodeRestartFlowError)


async def test_wrong_code_counts_and_the_limit_restarts_the_flow(
    devcore: DevCore,
) -> None:
    init_sdk(devcore.create_app(passwordless_max_code_input_attempts=3))
    code = await pl.create_code(T, email="limit@example.com")
    wrong = "x" + code.user_input_code
    for count in (1, 2):
        result = await pl.consume_code(T, code.pre_auth_session_id, wrong, code.device_id)
        assert isinstance(result, ConsumeCodeIncorrectUserInputCodeError)
        assert result.failed_code_input_attempt_count == count
        assert result.maximum_code_input_attempts == 3
    third = await pl.consume_code(T, code.pre_auth_session_id, wrong, code.device_id)
    assert isinstance(third, ConsumeCodeRestartFlowError)
    # The device is gone: even the right code no longer works.
    right = await pl.consume_code(T, code.pre_auth_session_id, code.user_input_code, code.device_id)
    assert isinstance(right, ConsumeCodeRestartFlowError)
    assert await pl.list_codes_by_device_id(T, code.device_id) is None


async def test_check_counts_failures_and_leaves_the_device_for_consume(sdk: str) -> None:
    code = await pl.create_code(T, email="check@example.com")
    bad = await pl.check_code(T, code.pre_auth_session_id, "000000x", code.device_id)
    assert isinstance(bad, CheckCodeIncorrectUserInputCodeError)
    assert bad.failed_code_input_attempt_count == 1

    good = await pl.check_code(T, code.pre_auth_session_id, code.user_input_code, code.device_id)
    assert isinstance(good, CheckCodeOkResult)
    assert good.consumed_device.email == "check@example.com"
    assert good.consumed_device.failed_code_input_attempt_count == 1

    # As in the real core, a check does not use the code up; consume does.
    users = HTTP.get(sdk + "/users/count").json()["count"]
    consumed = await pl.consume_code(
        T, code.pre_auth_session_id, code.user_input_code, code.device_id
    )
    assert isinstance(consumed, ConsumeCodeOkResult)
    assert HTTP.get(sdk + "/users/count").json()["count"] == users + 1


async def test_check_creates_no_user(sdk: str) -> None:
    code = await pl.create_code(T, email="nouser@example.com")
    ok = await pl.check_code(T, code.pre_auth_session_id, link_code=code.link_code)
    assert isinstance(ok, CheckCodeOkResult)
    found = HTTP.get(
        sdk + "/public/users/by-accountinfo",
        params={"email": "nouser@example.com", "doUnionOfAccountInfo": "false"},
    ).json()
    assert found["users"] == []


async def test_expired_code_counts_and_a_resent_code_works(
    clocked_core: tuple[DevCore, Clock],
) -> None:
    core, clock = clocked_core
    init_sdk(core.create_app(passwordless_code_lifetime=60_000))
    code = await pl.create_code(T, email="slow@example.com")
    assert code.code_life_time == 60_000
    clock.now += 61
    expired = await pl.consume_code(
        T, code.pre_auth_session_id, code.user_input_code, code.device_id
    )
    assert isinstance(expired, ConsumeCodeExpiredUserInputCodeError)
    assert expired.failed_code_input_attempt_count == 1
    by_link = await pl.consume_code(T, code.pre_auth_session_id, link_code=code.link_code)
    assert isinstance(by_link, ConsumeCodeRestartFlowError)

    resent = await pl.create_new_code_for_device(T, code.device_id)
    assert isinstance(resent, CreateNewCodeForDeviceOkResult)
    assert resent.pre_auth_session_id == code.pre_auth_session_id
    result = await pl.consume_code(
        T, resent.pre_auth_session_id, resent.user_input_code, resent.device_id
    )
    assert isinstance(result, ConsumeCodeOkResult)
    assert result.consumed_device.failed_code_input_attempt_count == 1


async def test_resend_refuses_a_reused_code_and_unknown_devices(sdk: str) -> None:
    code = await pl.create_code(T, email="resend@example.com", user_input_code="424242")
    again = await pl.create_new_code_for_device(T, code.device_id, "424242")
    assert isinstance(again, CreateNewCodeForDeviceUserInputCodeAlreadyUsedError)
    unknown = base64.b64encode(b"\0" * 32).decode()
    gone = await pl.create_new_code_for_device(T, unknown)
    assert isinstance(gone, CreateNewCodeForDeviceRestartFlowError)


def test_the_sdks_own_routes_sign_in_with_a_resent_code(devcore_app: str) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from supertokens_python.framework.fastapi import get_middleware

    captured = init_sdk(devcore_app)
    app = FastAPI()
    app.add_middleware(get_middleware())
    client = TestClient(app)
    headers = {"st-auth-mode": "header"}
    started = client.post("/auth/signinup/code", json={"email": "api@example.com"}, headers=headers)
    assert started.json()["status"] == "OK", started.json()
    device_id, pre_auth = started.json()["deviceId"], started.json()["preAuthSessionId"]
    resent = client.post(
        "/auth/signinup/code/resend",
        json={"deviceId": device_id, "preAuthSessionId": pre_auth},
        headers=headers,
    )
    assert resent.json() == {"status": "OK"}
    assert [m.email for m in captured.sent] == ["api@example.com"] * 2
    first_code, second_code = (m.user_input_code for m in captured.sent)
    assert first_code != second_code
    consumed = client.post(
        "/auth/signinup/code/consume",
        json={"preAuthSessionId": pre_auth, "deviceId": device_id, "userInputCode": second_code},
        headers=headers,
    )
    assert consumed.json()["status"] == "OK", consumed.json()
    assert consumed.json()["createdNewRecipeUser"] is True
    assert consumed.headers["st-access-token"]


# -- revoke and list --


def list_codes(uri: str, **params: str) -> list[dict[str, Any]]:
    response = HTTP.get(uri + "/public/recipe/signinup/codes", params=params)
    assert response.status_code == 200, response.text
    devices: list[dict[str, Any]] = response.json()["devices"]
    return devices


async def test_list_shows_devices_and_codes_by_each_key(sdk: str) -> None:
    code = await pl.create_code(T, email="list@example.com")
    resent = await pl.create_new_code_for_device(T, code.device_id)
    assert isinstance(resent, CreateNewCodeForDeviceOkResult)
    for params in (
        {"email": "LIST@example.com"},
        {"deviceId": code.device_id},
        {"preAuthSessionId": code.pre_auth_session_id},
    ):
        (device,) = list_codes(sdk, **params)
        assert device["preAuthSessionId"] == code.pre_auth_session_id
        assert device["email"] == "list@example.com"
        assert device["failedCodeInputAttemptCount"] == 0
        assert {c["codeId"] for c in device["codes"]} == {code.code_id, resent.code_id}
        assert all(c["codeLifetime"] == 900_000 for c in device["codes"])
    sdk_device = await pl.list_codes_by_pre_auth_session_id(T, code.pre_auth_session_id)
    assert sdk_device is not None and sdk_device.email == "list@example.com"
    await pl.create_code(T, phone_number="+44 20 7946 0000")
    assert len(await pl.list_codes_by_phone_number(T, "+442079460000")) == 1


async def test_revoke_one_code_then_the_last_removes_the_device(sdk: str) -> None:
    code = await pl.create_code(T, email="revoke@example.com")
    resent = await pl.create_new_code_for_device(T, code.device_id)
    assert isinstance(resent, CreateNewCodeForDeviceOkResult)
    await pl.revoke_code(T, code.code_id)
    (device,) = list_codes(sdk, deviceId=code.device_id)
    assert [c["codeId"] for c in device["codes"]] == [resent.code_id]
    revoked = await pl.consume_code(
        T, code.pre_auth_session_id, code.user_input_code, code.device_id
    )
    assert isinstance(revoked, ConsumeCodeIncorrectUserInputCodeError)
    await pl.revoke_code(T, resent.code_id)
    assert list_codes(sdk, deviceId=code.device_id) == []


async def test_revoke_all_codes_of_an_email_or_phone(sdk: str) -> None:
    await pl.create_code(T, email="all@example.com")
    await pl.create_code(T, email="all@example.com")
    await pl.create_code(T, phone_number="+15550100001")
    await pl.revoke_all_codes(T, email="ALL@example.com")
    assert list_codes(sdk, email="all@example.com") == []
    assert len(list_codes(sdk, phoneNumber="+15550100001")) == 1
    await pl.revoke_all_codes(T, phone_number="+15550100001")
    assert list_codes(sdk, phoneNumber="+15550100001") == []


def test_revoke_a_device_by_pre_auth_session_id(devcore_app: str) -> None:
    created = post(devcore_app, "/public/recipe/signinup/code", {"email": "d@example.com"}).json()
    assert post(
        devcore_app,
        "/public/recipe/signinup/code/remove",
        {"preAuthSessionId": created["preAuthSessionId"]},
    ).json() == {"status": "OK"}
    assert list_codes(devcore_app, email="d@example.com") == []


# -- update user --


async def test_update_user_changes_and_clears_contacts(sdk: str) -> None:
    user = (await sign_in(phone="+15550100002")).user
    rid = RecipeUserId(user.id)
    assert isinstance(await pl.update_user(rid, email="New@Example.com"), UpdateUserOkResult)
    updated = await get_user(user.id)
    assert updated is not None
    assert updated.emails == ["new@example.com"]
    assert updated.phone_numbers == ["+15550100002"]
    # The new e-mail now signs in to the same user.
    assert (await sign_in(email="new@example.com")).user.id == user.id

    assert isinstance(await pl.delete_phone_number_for_user(rid), UpdateUserOkResult)
    cleared = await get_user(user.id)
    assert cleared is not None and cleared.phone_numbers == []
    with pytest.raises(Exception, match="400"):
        await pl.delete_email_for_user(rid)  # the last contact cannot go


async def test_update_user_refuses_taken_contacts_and_unknown_users(sdk: str) -> None:
    taken = (await sign_in(email="taken@example.com")).user
    await sign_in(phone="+15550100003")
    mine = (await sign_in(email="mine@example.com")).user
    rid = RecipeUserId(mine.id)
    assert isinstance(
        await pl.update_user(rid, email="taken@example.com"), UpdateUserEmailAlreadyExistsError
    )
    assert isinstance(
        await pl.update_user(rid, phone_number="+15550100003"),
        UpdateUserPhoneNumberAlreadyExistsError,
    )
    unknown = RecipeUserId("00000000-0000-0000-0000-000000000000")
    assert isinstance(
        await pl.update_user(unknown, email="x@example.com"), UpdateUserUnknownUserIdError
    )
    still = await get_user(mine.id)
    assert still is not None and still.emails == ["mine@example.com"]
    assert taken.emails == ["taken@example.com"]


async def test_update_user_voids_pending_codes_of_both_contacts(sdk: str) -> None:
    user = (await sign_in(email="old@example.com")).user
    for_old = await pl.create_code(T, email="old@example.com")
    for_new = await pl.create_code(T, email="fresh@example.com")
    await pl.update_user(RecipeUserId(user.id), email="fresh@example.com")
    for code in (for_old, for_new):
        result = await pl.consume_code(
            T, code.pre_auth_session_id, code.user_input_code, code.device_id
        )
        assert isinstance(result, ConsumeCodeRestartFlowError)


def test_update_of_another_recipes_user_is_unknown(devcore_app: str) -> None:
    response = HTTP.put(
        devcore_app + "/recipe/user",
        json={"recipeUserId": "nobody", "email": "a@example.com"},
        headers={"rid": "passwordless"},
    )
    assert response.json() == {"status": "UNKNOWN_USER_ID_ERROR"}


# -- raw HTTP: storage, isolation, bad input --


def test_only_hashes_are_stored(devcore: DevCore, devcore_app: str) -> None:
    created = post(devcore_app, "/public/recipe/signinup/code", {"email": "h@example.com"}).json()
    with devcore.db.transaction() as conn:
        stored = [
            str(tuple(row))
            for table in ("passwordless_devices", "passwordless_codes")
            for row in conn.execute(f"SELECT * FROM {table}").fetchall()
        ]
    dump = "\n".join(stored)
    assert created["preAuthSessionId"] in dump
    for secret in ("deviceId", "linkCode", "userInputCode"):
        assert created[secret] not in dump


def test_consume_without_creating_a_user(devcore_app: str) -> None:
    def consume(email: str) -> dict[str, Any]:
        code = post(devcore_app, "/public/recipe/signinup/code", {"email": email}).json()
        body = {
            "preAuthSessionId": code["preAuthSessionId"],
            "linkCode": code["linkCode"],
            "createRecipeUserIfNotExists": False,
        }
        answer: dict[str, Any] = post(
            devcore_app, "/public/recipe/signinup/code/consume", body
        ).json()
        return answer

    stranger = consume("stranger@example.com")
    assert stranger["status"] == "OK" and stranger["createdNewUser"] is False
    assert "user" not in stranger
    assert stranger["consumedDevice"]["email"] == "stranger@example.com"
    assert HTTP.get(devcore_app + "/users/count").json()["count"] == 0
    assert list_codes(devcore_app, email="stranger@example.com") == []  # the code is used up

    code = post(devcore_app, "/public/recipe/signinup/code", {"email": "known@example.com"}).json()
    known = post(
        devcore_app,
        "/public/recipe/signinup/code/consume",
        {"preAuthSessionId": code["preAuthSessionId"], "linkCode": code["linkCode"]},
    ).json()
    again = consume("known@example.com")
    assert again["createdNewUser"] is False and again["user"]["id"] == known["user"]["id"]


def test_codes_belong_to_their_tenant(devcore_app: str) -> None:
    created = HTTP.put(devcore_app + "/recipe/multitenancy/tenant/v2", json={"tenantId": "other"})
    assert created.status_code == 200, created.text
    code = post(devcore_app, "/public/recipe/signinup/code", {"email": "t@example.com"}).json()
    body = {
        "preAuthSessionId": code["preAuthSessionId"],
        "deviceId": code["deviceId"],
        "userInputCode": code["userInputCode"],
    }
    assert post(devcore_app, "/other/recipe/signinup/code/consume", body).json() == {
        "status": "RESTART_FLOW_ERROR"
    }
    assert post(devcore_app, "/public/recipe/signinup/code/consume", body).json()["status"] == "OK"


def test_many_threads_consume_one_code_and_exactly_one_wins(devcore_app: str) -> None:
    code = post(devcore_app, "/public/recipe/signinup/code", {"email": "race@example.com"}).json()
    body = {"preAuthSessionId": code["preAuthSessionId"], "linkCode": code["linkCode"]}
    statuses: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(8)
    url = devcore_app + "/public/recipe/signinup/code/consume"

    def consume(client: httpx.Client) -> None:
        start.wait()
        status = client.post(url, json=body).json()["status"]
        with lock:
            statuses.append(status)

    clients = [httpx.Client(timeout=30) for _ in range(8)]
    threads = [threading.Thread(target=consume, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()
    assert sorted(statuses) == ["OK"] + ["RESTART_FLOW_ERROR"] * 7


BAD_CREATE = [
    b"{not json",
    [],
    {},
    {"email": "a@example.com", "phoneNumber": "+15550100000"},
    {"email": 5},
    {"email": "a@example.com", "userInputCode": ""},
    {"email": "a@example.com", "userInputCode": 123456},
    {"deviceId": "***not base64***"},
]


@pytest.mark.parametrize("body", BAD_CREATE)
def test_bad_create_input_is_400_and_stores_nothing(devcore_app: str, body: Any) -> None:
    response = post(devcore_app, "/public/recipe/signinup/code", body)
    assert response.status_code == 400, response.text
    assert list_codes(devcore_app, email="a@example.com") == []


def good_consume_body(uri: str) -> dict[str, Any]:
    code = post(uri, "/public/recipe/signinup/code", {"email": "b@example.com"}).json()
    return {
        "preAuthSessionId": code["preAuthSessionId"],
        "deviceId": code["deviceId"],
        "userInputCode": code["userInputCode"],
        "linkCode": code["linkCode"],
    }


BAD_CONSUME: list[tuple[str, Any]] = [
    ("both link code and device", lambda b: b),
    ("neither", lambda b: {"preAuthSessionId": b["preAuthSessionId"]}),
    ("no preAuthSessionId", lambda b: {"linkCode": b["linkCode"]}),
    (
        "device without code",
        lambda b: {"preAuthSessionId": b["preAuthSessionId"], "deviceId": b["deviceId"]},
    ),
    ("code not a string", lambda b: {**_device_part(b), "userInputCode": 123}),
    ("deviceId not base64", lambda b: {**_device_part(b), "deviceId": "!!"}),
    ("other device", lambda b: {**_device_part(b), "preAuthSessionId": "AAAA"}),
    ("linkCode null", lambda b: {"preAuthSessionId": b["preAuthSessionId"], "linkCode": None}),
    (
        "linkCode not base64",
        lambda b: {"preAuthSessionId": b["preAuthSessionId"], "linkCode": "@@"},
    ),
    ("flag not bool", lambda b: {**_device_part(b), "createRecipeUserIfNotExists": "yes"}),
]


def _device_part(body: dict[str, Any]) -> dict[str, Any]:
    return {k: body[k] for k in ("preAuthSessionId", "deviceId", "userInputCode")}


BAD_CODE_INPUT = [
    (path, case, make)
    for path in ("consume", "check")
    for case, make in BAD_CONSUME
    if path == "consume" or case != "flag not bool"  # check takes no such flag
]


@pytest.mark.parametrize(
    ("path", "case", "make"), BAD_CODE_INPUT, ids=[f"{p}: {c}" for p, c, _ in BAD_CODE_INPUT]
)
def test_bad_consume_input_is_400_and_costs_nothing(
    devcore_app: str, path: str, case: str, make: Any
) -> None:
    good = good_consume_body(devcore_app)
    response = post(devcore_app, f"/public/recipe/signinup/code/{path}", make(good))
    assert response.status_code == 400, (case, response.text)
    (device,) = list_codes(devcore_app, email="b@example.com")
    assert device["failedCodeInputAttemptCount"] == 0
    ok = post(devcore_app, f"/public/recipe/signinup/code/{path}", _device_part(good))
    assert ok.json()["status"] == "OK"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/public/recipe/signinup/codes", None),
        ("GET", "/public/recipe/signinup/codes?email=a@b.c&phoneNumber=%2B1", None),
        ("GET", "/public/recipe/signinup/codes?deviceId=%21%21", None),
        ("POST", "/public/recipe/signinup/code/remove", {}),
        ("POST", "/public/recipe/signinup/code/remove", {"codeId": "x", "preAuthSessionId": "y"}),
        ("POST", "/public/recipe/signinup/code/remove", {"codeId": 5}),
        ("POST", "/public/recipe/signinup/codes/remove", {}),
        ("POST", "/public/recipe/signinup/codes/remove", {"email": "a@b.c", "phoneNumber": "+1"}),
        ("PUT", "/recipe/user", {"email": "a@b.c"}),
        ("PUT", "/recipe/user", {"recipeUserId": "u", "email": 7}),
        ("PUT", "/recipe/user", b"[1, 2"),
    ],
)
def test_other_bad_input_is_400(devcore_app: str, method: str, path: str, body: Any) -> None:
    content = body if isinstance(body, bytes) else None
    response = HTTP.request(
        method,
        devcore_app + path,
        content=content,
        json=None if content is not None or body is None else body,
        headers={"rid": "passwordless", "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
