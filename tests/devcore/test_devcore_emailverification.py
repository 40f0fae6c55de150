"""The development core's emailverification recipe, through the SDK."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import requests
from supertokens_python.recipe.emailpassword.asyncio import sign_up
from supertokens_python.recipe.emailpassword.interfaces import SignUpOkResult
from supertokens_python.recipe.emailverification.asyncio import (
    create_email_verification_token,
    is_email_verified,
    revoke_email_verification_tokens,
    unverify_email,
    verify_email_using_token,
)
from supertokens_python.recipe.emailverification.interfaces import (
    CreateEmailVerificationTokenEmailAlreadyVerifiedError,
    CreateEmailVerificationTokenOkResult,
    VerifyEmailUsingTokenInvalidTokenError,
    VerifyEmailUsingTokenOkResult,
)
from supertokens_python.types import RecipeUserId

from st_twofactor.devcore import DevCore

from ..helpers.devcore_recipes import JSON_TYPE, CapturedEmails, app_id_of, init_sdk, make_app, rows


@pytest.fixture
def emails(devcore_app: str) -> Iterator[CapturedEmails]:
    captured = CapturedEmails()
    init_sdk(devcore_app, captured)
    yield captured


async def _new_user(email: str) -> RecipeUserId:
    created = await sign_up("public", email, "pass-word-1")
    assert isinstance(created, SignUpOkResult)
    return created.recipe_user_id


async def _token(user: RecipeUserId, email: str) -> str:
    created = await create_email_verification_token("public", user, email)
    assert isinstance(created, CreateEmailVerificationTokenOkResult)
    return created.token


async def test_verify_with_a_token_then_unverify(emails: CapturedEmails) -> None:
    user = await _new_user("v@example.com")
    assert not await is_email_verified(user, "v@example.com")
    verified = await verify_email_using_token("public", await _token(user, "v@example.com"))
    assert isinstance(verified, VerifyEmailUsingTokenOkResult)
    assert verified.user.email == "v@example.com"
    assert verified.user.recipe_user_id.get_as_string() == user.get_as_string()
    assert await is_email_verified(user, "v@example.com")
    again = await create_email_verification_token("public", user, "v@example.com")
    assert isinstance(again, CreateEmailVerificationTokenEmailAlreadyVerifiedError)
    await unverify_email(user, "v@example.com")
    assert not await is_email_verified(user, "v@example.com")


async def test_tokens_are_single_use_revocable_and_stored_hashed(
    emails: CapturedEmails, devcore: DevCore, devcore_app: str
) -> None:
    user = await _new_user("w@example.com")
    first = await _token(user, "w@example.com")
    second = await _token(user, "w@example.com")
    stored = rows(
        devcore, "SELECT * FROM email_verification_tokens WHERE app_id=?", app_id_of(devcore_app)
    )
    assert len(stored) == 2 and not any(
        t in str([dict(r) for r in stored]) for t in (first, second)
    )
    assert isinstance(
        await verify_email_using_token("public", first), VerifyEmailUsingTokenOkResult
    )
    spent = await verify_email_using_token("public", second)
    assert isinstance(spent, VerifyEmailUsingTokenInvalidTokenError)
    await unverify_email(user, "w@example.com")
    revoked = await _token(user, "w@example.com")
    await revoke_email_verification_tokens("public", user, "w@example.com")
    gone = await verify_email_using_token("public", revoked)
    assert isinstance(gone, VerifyEmailUsingTokenInvalidTokenError)
    assert not await is_email_verified(user, "w@example.com")


async def test_tokens_expire(devcore: DevCore) -> None:
    init_sdk(devcore.create_app(email_verification_token_lifetime=1), CapturedEmails())
    user = await _new_user("x@example.com")
    token = await _token(user, "x@example.com")
    time.sleep(0.01)
    expired = await verify_email_using_token("public", token)
    assert isinstance(expired, VerifyEmailUsingTokenInvalidTokenError)
    assert not await is_email_verified(user, "x@example.com")


@pytest.mark.slow
async def test_verification_through_the_frontend_routes(emails: CapturedEmails) -> None:
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://api.example.test") as web:
        form = [{"id": "email", "value": "y@example.com"}, {"id": "password", "value": "pw-12345"}]
        up = await web.post(
            "/auth/signup", json={"formFields": form}, headers={"st-auth-mode": "header"}
        )
        assert up.json()["status"] == "OK", up.text
        auth = {"Authorization": "Bearer " + up.headers["st-access-token"]}
        sent = await web.post("/auth/user/email/verify/token", headers=auth)
        assert sent.json()["status"] == "OK", sent.text
        token = parse_qs(urlsplit(emails.sent[-1].email_verify_link).query)["token"][0]
        verified = await web.post(
            "/auth/user/email/verify", json={"method": "token", "token": token}
        )
        assert verified.json()["status"] == "OK", verified.text
        replay = await web.post("/auth/user/email/verify", json={"method": "token", "token": token})
        assert replay.json()["status"] == "EMAIL_VERIFICATION_INVALID_TOKEN_ERROR"
    user = RecipeUserId(up.json()["user"]["id"])
    assert await is_email_verified(user, "y@example.com")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/public/recipe/user/email/verify/token", b'{"userId": "u"}'),
        ("/public/recipe/user/email/verify/token", b'{"userId": 1, "email": "a@example.com"}'),
        ("/public/recipe/user/email/verify", b'{"method": "token"}'),
        ("/public/recipe/user/email/verify", b'{"method": "magic", "token": "t"}'),
        ("/recipe/user/email/verify/remove", b'{"email": "a@example.com"}'),
        ("/public/recipe/user/email/verify/token/remove", b"[]"),
    ],
)
def test_bad_input_is_400(devcore_app: str, path: str, body: bytes) -> None:
    answer = requests.post(devcore_app + path, data=body, headers=JSON_TYPE, timeout=5)
    assert answer.status_code == 400, answer.text


def test_is_verified_needs_both_parameters(devcore_app: str) -> None:
    answer = requests.get(
        f"{devcore_app}/recipe/user/email/verify", params={"userId": "u"}, timeout=5
    )
    assert answer.status_code == 400
