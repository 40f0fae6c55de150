"""The SDK initialised for a test, and its HTTP API driven the way a frontend does.

- :func:`sdk_init` resets the SDK and calls ``supertokens_python.init()``: the one place
  the tests do (the fixtures of ``tests/conftest.py``, the test app of
  :mod:`tests.helpers.twofactor_app` and the tests with a set-up of their own all call it).
- :func:`share_one_tls_context`: the SDK's core calls on one TLS context (speed only).
- :func:`fake_provider`: a third-party provider whose OAuth calls are faked (no network).
- ``sign_up`` / ``sign_in`` / ``third_party_sign_in``, :class:`Tokens` and the JWT helpers
  drive the SDK's HTTP API with header-based tokens (``st-auth-mode: header``) through
  any framework's test client.

The API domain is ``http://localhost`` so the SDK never consults the public suffix list.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import supertokens_python
from supertokens_python import (
    InputAppInfo,
    RecipeInit,
    SupertokensConfig,
    SupertokensExperimentalConfig,
)
from supertokens_python.recipe.thirdparty.provider import (
    Provider,
    ProviderClientConfig,
    ProviderConfig,
    ProviderInput,
    RedirectUriInfo,
)
from supertokens_python.recipe.thirdparty.types import UserInfo, UserInfoEmail

from st_twofactor.testing import reset_supertokens

os.environ.setdefault("SUPERTOKENS_TLDEXTRACT_DISABLE_HTTP", "1")

API_DOMAIN = "http://localhost"
HEADER_MODE = {"st-auth-mode": "header"}
PASSWORD = "correct-horse-battery-1"

Framework = Literal["fastapi", "flask", "django"]


def sdk_init(
    connection_uri: str,
    recipe_list: list[RecipeInit],
    *,
    framework: Framework = "fastapi",
    app_name: str = "st-twofactor tests",
    api_domain: str = API_DOMAIN,
    website_domain: str | None = None,
    plugins: Sequence[Any] | None = None,
    api_key: str | None = None,
    network_interceptor: Any = None,
    debug: bool = False,
) -> None:
    """Reset the SDK, then ``init()`` it against ``connection_uri`` with ``recipe_list``.

    ASGI for FastAPI, WSGI otherwise; no telemetry; the API under ``/auth``; the website
    on the API's domain unless ``website_domain`` says otherwise. ``plugins`` (the 2FA
    plugin) go to the SDK's experimental config, which is left out when ``None``."""
    reset_supertokens()
    supertokens_python.init(
        app_info=InputAppInfo(
            app_name=app_name,
            api_domain=api_domain,
            website_domain=website_domain or api_domain,
            api_base_path="/auth",
        ),
        supertokens_config=SupertokensConfig(
            connection_uri=connection_uri,
            api_key=api_key,
            network_interceptor=network_interceptor,
        ),
        framework=framework,
        mode="asgi" if framework == "fastapi" else "wsgi",
        telemetry=False,
        debug=debug,
        recipe_list=recipe_list,
        experimental=(
            None if plugins is None else SupertokensExperimentalConfig(plugins=list(plugins))
        ),
    )


class InitSupertokens(Protocol):
    """The ``init_supertokens`` fixture: :func:`sdk_init` on this test's core app."""

    def __call__(self, recipe_list: list[RecipeInit], *, framework: Framework = ...) -> None: ...


def share_one_tls_context() -> Callable[[], None]:
    """Speed only: the SDK makes a new httpx client, and so a new TLS context (about
    25-60 ms of CA loading), for every core call. The tests only talk plain HTTP to the
    development core on loopback, so one shared context changes nothing else.
    Returns the function that puts the SDK's own client class back."""
    import ssl
    from functools import partial

    import httpx
    import supertokens_python.querier as querier

    original = querier.AsyncClient
    querier.AsyncClient = partial(httpx.AsyncClient, verify=ssl.create_default_context())  # type: ignore[misc]

    def undo() -> None:
        querier.AsyncClient = original  # type: ignore[misc]

    return undo


# -- a third-party provider with faked OAuth calls --

FAKE_PROVIDER_ID = "fake-oauth"


@dataclass
class FakeProvider:
    """A provider for ``thirdparty.init``; the client's ``code`` is ``"<user id>:<email>"``."""

    input: ProviderInput
    calls: list[str]


def fake_provider() -> FakeProvider:
    """A new :class:`FakeProvider` (``calls`` lists the faked OAuth calls it answered)."""
    calls: list[str] = []

    def override(original: Provider) -> Provider:
        async def exchange_auth_code_for_oauth_tokens(
            redirect_uri_info: RedirectUriInfo, user_context: dict[str, Any]
        ) -> dict[str, Any]:
            calls.append("exchange_auth_code_for_oauth_tokens")
            return {"access_token": redirect_uri_info.redirect_uri_query_params["code"]}

        async def get_user_info(
            oauth_tokens: dict[str, Any], user_context: dict[str, Any]
        ) -> UserInfo:
            calls.append("get_user_info")
            user_id, email = str(oauth_tokens["access_token"]).split(":", 1)
            return UserInfo(third_party_user_id=user_id, email=UserInfoEmail(email, True))

        original.exchange_auth_code_for_oauth_tokens = exchange_auth_code_for_oauth_tokens  # type: ignore[method-assign]
        original.get_user_info = get_user_info  # type: ignore[method-assign]
        return original

    provider = ProviderInput(
        config=ProviderConfig(
            third_party_id=FAKE_PROVIDER_ID,
            clients=[ProviderClientConfig(client_id="client", client_secret="secret")],
            authorization_endpoint="https://provider.invalid/authorize",
            token_endpoint="https://provider.invalid/token",
        ),
        override=override,
    )
    return FakeProvider(input=provider, calls=calls)


# -- driving the SDK's HTTP API (FastAPI TestClient, Flask and Django test clients) --


def body(response: Any) -> Any:
    """The JSON body of a FastAPI/httpx, Flask or Django test response."""
    if hasattr(response, "get_json"):
        return response.get_json()
    return response.json()


def status(response: Any) -> int:
    return int(getattr(response, "status_code", 0))


def sign_up(client: Any, email: str, password: str = PASSWORD, **headers: str) -> Any:
    """POST /auth/signup (emailpassword) with header-based tokens unless told otherwise."""
    return client.post(
        "/auth/signup",
        json={
            "formFields": [{"id": "email", "value": email}, {"id": "password", "value": password}]
        },
        headers={**HEADER_MODE, **headers},
    )


def sign_in(client: Any, email: str, password: str = PASSWORD, **headers: str) -> Any:
    """POST /auth/signin (emailpassword)."""
    return client.post(
        "/auth/signin",
        json={
            "formFields": [{"id": "email", "value": email}, {"id": "password", "value": password}]
        },
        headers={**HEADER_MODE, **headers},
    )


def third_party_sign_in(client: Any, user_id: str, email: str) -> Any:
    """POST /auth/signinup with the fake provider (see :func:`fake_provider`)."""
    return client.post(
        "/auth/signinup",
        json={
            "thirdPartyId": FAKE_PROVIDER_ID,
            "redirectURIInfo": {
                "redirectURIOnProviderDashboard": f"{API_DOMAIN}/callback",
                "redirectURIQueryParams": {"code": f"{user_id}:{email}"},
            },
        },
        headers=HEADER_MODE,
    )


@dataclass
class Tokens:
    """Header-based session tokens from a response (``None`` when not sent)."""

    access: str | None
    refresh: str | None

    @classmethod
    def of(cls, response: Any) -> Tokens:
        return cls(
            access=response.headers.get("st-access-token"),
            refresh=response.headers.get("st-refresh-token"),
        )

    def auth(self) -> dict[str, str]:
        """Headers that present the access token."""
        assert self.access is not None, "no access token"
        return {"Authorization": f"Bearer {self.access}", **HEADER_MODE}

    def refresh_auth(self) -> dict[str, str]:
        assert self.refresh is not None, "no refresh token"
        return {"Authorization": f"Bearer {self.refresh}", **HEADER_MODE}


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def jwt_payload(token: str) -> dict[str, Any]:
    """The (unverified) payload of a JWT such as an access token."""
    payload: dict[str, Any] = json.loads(_b64decode(token.split(".")[1]))
    return payload


def with_payload(token: str, payload: dict[str, Any]) -> str:
    """``token`` with its payload replaced and its signature kept (i.e. forged)."""
    header, _, signature = token.split(".")
    encoded = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"{header}.{encoded}.{signature}"


def invalid_claim_ids(response: Any) -> list[str]:
    """The claim ids of a 403 ``INVALID_CLAIMS`` answer from the SDK."""
    assert status(response) == 403, (status(response), body(response))
    answer = body(response)
    assert answer["message"] == "invalid claim"
    return [error["id"] for error in answer["claimValidationErrors"]]
