"""Completing the session (st_twofactor.kernel.completion): remember-device the way the app's
cookies work (issue 11 item 6), on every factor's path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from st_twofactor.kernel.completion import REMEMBER_COOKIE, REMEMBER_HEADER
from st_twofactor.testing import reset_supertokens

from ..helpers.twofactor_app import PASSWORD, Harness, Tokens, _form, make_harness

COOKIE_MODE = {"st-auth-mode": "cookie"}


@pytest.fixture
def make(devcore_app: str) -> Iterator[Callable[..., Harness]]:
    yield lambda **options: make_harness(devcore_app, **options)
    reset_supertokens()


def with_totp(h: Harness, email: str) -> str:
    """A user with a TOTP device; its secret. The clock is past the enrolment's step."""
    secret, _ = h.enrol_totp(h.signed_up(email))
    h.clock.advance(30)
    return secret


def remember_cookie(response: Any) -> str:
    """The Set-Cookie header of the remember-device cookie (fails if there is none)."""
    cookies = response.headers.get_list("set-cookie")
    found = [c for c in cookies if c.startswith(f"{REMEMBER_COOKIE}=")]
    assert len(found) == 1, cookies
    return str(found[0])


def test_remember_cookie_is_not_secure_on_http(make: Callable[..., Harness]) -> None:
    """The app's session cookies are not Secure on http (cookie_secure False), so the
    remember cookie is not either: a browser would drop a Secure cookie sent over http."""
    h = make(remember_device=True)
    secret = with_totp(h, "http@example.com")
    answer = h.verify_totp(h.signed_in("http@example.com"), h.code(secret), rememberDevice=True)
    assert answer.json()["status"] == "OK"
    flags = [part.strip().lower() for part in remember_cookie(answer).split(";")]
    assert "secure" not in flags
    assert "httponly" in flags and "samesite=strict" in flags and "path=/" in flags


def test_remember_cookie_is_secure_like_the_session_cookies(
    make: Callable[..., Harness],
) -> None:
    h = make(remember_device=True, session_config={"cookie_secure": True})
    secret = with_totp(h, "https@example.com")
    answer = h.verify_totp(h.signed_in("https@example.com"), h.code(secret), rememberDevice=True)
    assert answer.json()["status"] == "OK"
    flags = [part.strip().lower() for part in remember_cookie(answer).split(";")]
    assert "secure" in flags and "httponly" in flags and "samesite=strict" in flags


def test_cookie_mode_gets_the_token_only_in_the_cookie(make: Callable[..., Harness]) -> None:
    """A browser in cookie mode gets the token only in the HttpOnly cookie (in the body
    any script could read it); the cookie then skips 2FA at its next sign-in."""
    h = make(remember_device=True, remember_device_for=3600)
    secret = with_totp(h, "browser@example.com")
    h.client.cookies.clear()
    client = h.client
    signed_in = client.post(
        "/auth/signin", json=_form("browser@example.com", PASSWORD), headers=COOKIE_MODE
    )
    assert signed_in.json()["status"] == "OK"
    assert client.get("/api/secret").status_code == 403  # 2FA not completed yet
    answer = client.post(
        "/auth/2fa/totp/verify", json={"code": h.code(secret), "rememberDevice": True}
    )
    assert answer.json() == {"status": "OK"}
    token = client.cookies.get(REMEMBER_COOKIE)
    assert token
    assert client.get("/api/secret").status_code == 200

    client.post("/auth/signout")
    again = client.post(
        "/auth/signin", json=_form("browser@example.com", PASSWORD), headers=COOKIE_MODE
    )
    assert again.json()["status"] == "OK"
    assert client.get("/api/secret").status_code == 200  # the remembered device skipped 2FA
    client.cookies.delete(REMEMBER_COOKIE)
    client.post("/auth/signin", json=_form("browser@example.com", PASSWORD), headers=COOKIE_MODE)
    assert client.get("/api/secret").status_code == 403  # without it, 2FA again


def test_header_mode_gets_the_token_in_the_body(make: Callable[..., Harness]) -> None:
    """A client that keeps its tokens itself (Authorization: Bearer) also gets the token
    in the body, and sends it back in the st-2fa-remember header."""
    h = make(remember_device=True)
    secret = with_totp(h, "native@example.com")
    answer = h.verify_totp(h.signed_in("native@example.com"), h.code(secret), rememberDevice=True)
    token = answer.json()["rememberDeviceToken"]
    assert remember_cookie(answer).startswith(f"{REMEMBER_COOKIE}={token};")
    h.client.cookies.clear()
    skipped = h.signed_in("native@example.com", **{REMEMBER_HEADER: token})
    assert h.protected(skipped) == 200


def email_device(h: Harness, tokens: Tokens, email: str) -> tuple[dict[str, Any], str]:
    """Ask for an e-mailed code for ``email``: the device and the code sent."""
    response, sent = h.ask_code(tokens, email=email)
    assert response.json()["status"] == "OK", response.json()
    assert sent is not None
    return response.json(), sent.code


def consume(h: Harness, tokens: Tokens, device: dict[str, Any], code: str, **extra: Any) -> Any:
    body = {
        "preAuthSessionId": device["preAuthSessionId"],
        "deviceId": device["deviceId"],
        "userInputCode": code,
        **extra,
    }
    return h.post("/auth/signinup/code/consume", tokens, body)


def test_remember_device_on_the_email_code_path(make: Callable[..., Harness]) -> None:
    """rememberDevice on the code path, end to end: a later sign-in skips 2FA."""
    h = make(remember_device=True, remember_device_for=3600)
    email = "codes@example.com"
    h.signed_up(email)
    tokens = h.signed_in(email)
    device, code = email_device(h, tokens, email)
    answer = consume(h, tokens, device, code, rememberDevice=True)
    assert answer.json()["status"] == "OK", answer.json()
    token = answer.json()["rememberDeviceToken"]
    assert h.protected(tokens) == 200
    assert remember_cookie(answer).startswith(f"{REMEMBER_COOKIE}={token};")
    assert [e.kind for e in h.seen][-1] == "device_remembered"

    h.client.cookies.clear()
    assert h.protected(h.signed_in(email, **{REMEMBER_HEADER: token})) == 200
    assert h.protected(h.signed_in(email)) == 403


def test_the_code_path_remembers_only_when_asked(make: Callable[..., Harness]) -> None:
    h = make(remember_device=True)
    email = "plain@example.com"
    h.signed_up(email)
    tokens = h.signed_in(email)
    device, code = email_device(h, tokens, email)
    answer = consume(h, tokens, device, code)
    assert answer.json()["status"] == "OK"
    assert "rememberDeviceToken" not in answer.json()
    assert REMEMBER_COOKIE not in answer.headers.get("set-cookie", "")


@pytest.mark.parametrize("value", ["yes", 1, [], {"x": True}])
def test_remember_device_must_be_true_or_false_on_the_code_path(
    make: Callable[..., Harness], value: object
) -> None:
    """A malformed rememberDevice is a 400 before the code is checked: the code still
    works afterwards, and no attempt was counted."""
    h = make(remember_device=True)
    email = "typed@example.com"
    h.signed_up(email)
    tokens = h.signed_in(email)
    device, code = email_device(h, tokens, email)
    refused = consume(h, tokens, device, code, rememberDevice=value)
    assert refused.status_code == 400 and "rememberDevice" in refused.json()["message"]
    assert REMEMBER_COOKIE not in refused.headers.get("set-cookie", "")
    assert consume(h, tokens, device, code).json()["status"] == "OK"
