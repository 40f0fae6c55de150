"""The development core's emailpassword recipe, driven through the unmodified SDK."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import requests
from supertokens_python.recipe.emailpassword.asyncio import (
    consume_password_reset_token,
    create_reset_password_token,
    sign_in,
    sign_up,
    update_email_or_password,
)
from supertokens_python.recipe.emailpassword.interfaces import (
    ConsumePasswordResetTokenOkResult,
    CreateResetPasswordOkResult,
    EmailAlreadyExistsError,
    PasswordResetTokenInvalidError,
    SignInOkResult,
    SignUpOkResult,
    UnknownUserIdError,
    WrongCredentialsError,
)
from supertokens_python.types import RecipeUserId

from st_twofactor.devcore import DevCore, _emailpassword

from ..helpers.devcore_recipes import CapturedEmails, app_id_of, init_sdk, make_app, rows


@pytest.fixture
def emails(devcore_app: str) -> Iterator[CapturedEmails]:
    captured = CapturedEmails()
    init_sdk(devcore_app, captured)
    yield captured


async def _signs_in(tenant: str, email: str, password: str) -> bool:
    result = await sign_in(tenant, email, password)
    assert isinstance(result, (SignInOkResult, WrongCredentialsError))
    return isinstance(result, SignInOkResult)


async def _sign_up(email: str, password: str = "pass-word-1") -> SignUpOkResult:
    result = await sign_up("public", email, password)
    assert isinstance(result, SignUpOkResult)
    return result


def _form(email: str, password: str) -> dict[str, object]:
    return {"formFields": [{"id": "email", "value": email}, {"id": "password", "value": password}]}


async def test_sign_up_creates_a_user_and_refuses_a_second_with_the_same_email(
    emails: CapturedEmails,
) -> None:
    created = await _sign_up("alice@example.com")
    login = created.user.login_methods[0]
    assert created.user.emails == ["alice@example.com"]
    assert login.recipe_id == "emailpassword" and not login.verified
    assert created.recipe_user_id.get_as_string() == created.user.id
    again = await sign_up("public", " Alice@Example.COM ", "other-pass-1")
    assert isinstance(again, EmailAlreadyExistsError)


async def test_sign_in_checks_the_password(emails: CapturedEmails) -> None:
    created = await _sign_up("bob@example.com", "correct-horse-1")
    ok = await sign_in("public", "BOB@example.com", "correct-horse-1")
    assert isinstance(ok, SignInOkResult) and ok.user.id == created.user.id
    assert isinstance(await sign_in("public", "bob@example.com", "wrong-1"), WrongCredentialsError)
    assert isinstance(
        await sign_in("public", "nobody@example.com", "correct-horse-1"), WrongCredentialsError
    )


async def test_passwords_are_stored_as_salted_hashes(
    emails: CapturedEmails, devcore: DevCore, devcore_app: str
) -> None:
    await _sign_up("c1@example.com", "same-password-1")
    await _sign_up("c2@example.com", "same-password-1")
    stored = rows(
        devcore, "SELECT * FROM users WHERE app_id=? ORDER BY email", app_id_of(devcore_app)
    )
    hashes = [row["password_hash"] for row in stored]
    assert all(h.startswith("scrypt$") and "same-password-1" not in h for h in hashes)
    assert hashes[0] != hashes[1]


async def test_unknown_email_costs_the_same_hashing_as_a_known_one(
    emails: CapturedEmails, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _sign_up("known@example.com")
    await sign_in("public", "warm-up@example.com", "guess-0")  # the core's first dummy hash
    calls: list[str] = []
    real = _emailpassword._scrypt

    def counting(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
        calls.append(password)
        return real(password, salt, n, r, p)

    monkeypatch.setattr(_emailpassword, "_scrypt", counting)
    await sign_in("public", "known@example.com", "guess-1")
    await sign_in("public", "unknown@example.com", "guess-2")
    assert calls == ["guess-1", "guess-2"]


async def test_update_email_and_password(emails: CapturedEmails) -> None:
    first = await _sign_up("d1@example.com", "old-pass-1")
    await _sign_up("d2@example.com")
    rid = first.recipe_user_id
    assert isinstance(
        await update_email_or_password(rid, email="d2@example.com"), EmailAlreadyExistsError
    )
    await update_email_or_password(rid, email="d3@example.com", password="new-pass-1")
    assert not await _signs_in("public", "d1@example.com", "old-pass-1")
    assert not await _signs_in("public", "d3@example.com", "old-pass-1")
    assert await _signs_in("public", "d3@example.com", "new-pass-1")
    missing = await update_email_or_password(RecipeUserId("no-such-user"), password="x-pass-12")
    assert isinstance(missing, UnknownUserIdError)


async def test_reset_tokens_are_single_use_and_stored_hashed(
    emails: CapturedEmails, devcore: DevCore, devcore_app: str
) -> None:
    user = (await _sign_up("e@example.com")).user
    created = await create_reset_password_token("public", user.id, "e@example.com")
    assert isinstance(created, CreateResetPasswordOkResult)
    stored = rows(
        devcore, "SELECT * FROM password_reset_tokens WHERE app_id=?", app_id_of(devcore_app)
    )
    assert len(stored) == 1 and created.token not in str(dict(stored[0]))
    consumed = await consume_password_reset_token("public", created.token)
    assert isinstance(consumed, ConsumePasswordResetTokenOkResult)
    assert (consumed.user_id, consumed.email) == (user.id, "e@example.com")
    again = await consume_password_reset_token("public", created.token)
    assert isinstance(again, PasswordResetTokenInvalidError)
    unknown = await create_reset_password_token("public", "no-such-user", "e@example.com")
    assert isinstance(unknown, UnknownUserIdError)


async def test_reset_tokens_expire(devcore: DevCore) -> None:
    init_sdk(devcore.create_app(password_reset_token_lifetime=1), CapturedEmails())
    user = (await _sign_up("f@example.com")).user
    created = await create_reset_password_token("public", user.id, "f@example.com")
    assert isinstance(created, CreateResetPasswordOkResult)
    time.sleep(0.01)
    expired = await consume_password_reset_token("public", created.token)
    assert isinstance(expired, PasswordResetTokenInvalidError)


async def test_password_reset_through_the_frontend_routes(emails: CapturedEmails) -> None:
    await _sign_up("g@example.com", "before-reset-1")
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://api.example.test") as web:
        sent = await web.post(
            "/auth/user/password/reset/token",
            json={"formFields": [{"id": "email", "value": "g@example.com"}]},
        )
        assert sent.json() == {"status": "OK"}
        link = emails.sent[-1].password_reset_link
        token = parse_qs(urlsplit(link).query)["token"][0]
        body = {
            "method": "token",
            "token": token,
            "formFields": [{"id": "password", "value": "after-reset-1"}],
        }
        reset = await web.post("/auth/user/password/reset", json=body)
        assert reset.json()["status"] == "OK"
        replay = await web.post("/auth/user/password/reset", json=body)
        assert replay.json()["status"] == "RESET_PASSWORD_INVALID_TOKEN_ERROR"
    assert await _signs_in("public", "g@example.com", "after-reset-1")


async def test_sign_up_and_sign_in_through_the_frontend_routes(emails: CapturedEmails) -> None:
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://api.example.test") as web:
        up = await web.post("/auth/signup", json=_form("h@example.com", "front-pass-1"))
        assert up.json()["status"] == "OK", up.text
        dup = await web.post("/auth/signup", json=_form("h@example.com", "front-pass-1"))
        assert dup.json()["status"] == "FIELD_ERROR"
        bad = await web.post("/auth/signin", json=_form("h@example.com", "wrong-pass-1"))
        assert bad.json()["status"] == "WRONG_CREDENTIALS_ERROR"
        good = await web.post("/auth/signin", json=_form("h@example.com", "front-pass-1"))
        assert good.json()["status"] == "OK", good.text
        assert good.json()["user"]["id"] == up.json()["user"]["id"]


async def test_emails_are_unique_per_tenant(emails: CapturedEmails, devcore_app: str) -> None:
    created = requests.put(
        f"{devcore_app}/recipe/multitenancy/tenant/v2",
        json={"tenantId": "other", "firstFactors": ["emailpassword"]},
        timeout=5,
    )
    assert created.json()["status"] == "OK"
    await _sign_up("i@example.com", "public-pass-1")
    other = await sign_up("other", "i@example.com", "other-pass-1")
    assert isinstance(other, SignUpOkResult)
    assert other.user.tenant_ids == ["other"]
    assert not await _signs_in("other", "i@example.com", "public-pass-1")
    assert await _signs_in("other", "i@example.com", "other-pass-1")


def test_concurrent_sign_ups_with_one_email_create_one_user(devcore_app: str) -> None:
    results: list[str] = []

    def attempt() -> None:
        answer = requests.post(
            f"{devcore_app}/public/recipe/signup",
            json={"email": "race@example.com", "password": "race-pass-1"},
            timeout=10,
        )
        results.append(answer.json()["status"])

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["EMAIL_ALREADY_EXISTS_ERROR"] * 5 + ["OK"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/public/recipe/signup", b"{not json"),
        ("/public/recipe/signup", b'["a list"]'),
        ("/public/recipe/signup", b'{"email": "x@example.com"}'),
        ("/public/recipe/signup", b'{"email": 5, "password": "p-1"}'),
        ("/public/recipe/signup", b'{"email": "x@example.com", "password": true}'),
        ("/public/recipe/signup", b'{"email": "x@example.com", "password": ""}'),
        ("/public/recipe/signup", b'{"email": "x@example.com", "password": "\\ud800"}'),
        ("/public/recipe/signup", b"[" * 50_000 + b"]" * 50_000),
        ("/public/recipe/signin", b'{"email": null, "password": "p-1"}'),
        ("/recipe/user", b'{"recipeUserId": "u"}'),
        ("/recipe/user", b'{"recipeUserId": 1, "password": "p-1"}'),
        ("/public/recipe/user/password/reset/token", b'{"userId": "u"}'),
        ("/public/recipe/user/password/reset/token/consume", b'{"token": 12}'),
    ],
)
def test_bad_input_is_a_400_and_creates_nothing(
    devcore_app: str, devcore: DevCore, path: str, body: bytes
) -> None:
    method = "PUT" if path == "/recipe/user" else "POST"
    answer = requests.request(
        method,
        devcore_app + path,
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 400, answer.text
    assert rows(devcore, "SELECT * FROM users WHERE app_id=?", app_id_of(devcore_app)) == []


def test_a_huge_body_is_refused(devcore_app: str, devcore: DevCore) -> None:
    body = b'{"email": "big@example.com", "password": "' + b"p" * 2_000_000 + b'"}'
    try:
        answer = requests.post(f"{devcore_app}/public/recipe/signup", data=body, timeout=10)
        assert answer.status_code == 413
    except requests.ConnectionError:
        pass  # the core may close the connection before the client has sent it all
    assert rows(devcore, "SELECT * FROM users WHERE app_id=?", app_id_of(devcore_app)) == []
