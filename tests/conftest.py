"""Shared fixtures and helpers: the SDK initialised against the development core.

- ``init_supertokens(recipe_list, framework=...)`` resets the SDK and calls ``init()``
  against this test's app on the development core (``devcore_app``).
- ``fastapi_app(recipe_list)`` / ``flask_app(recipe_list)`` do that and return an app
  with the SDK's middleware, ready for routes and a test client.
- ``fake_provider`` is a third-party provider whose OAuth calls are faked (no network):
  the authorisation ``code`` sent by the client names the user it signs in.
- Helpers drive the SDK's HTTP API with header-based tokens (``st-auth-mode: header``)
  and read the access token's payload.

The API domain is ``http://localhost`` so the SDK never consults the public suffix list.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

import pytest
import supertokens_python
from supertokens_python import InputAppInfo, RecipeInit, SupertokensConfig
from supertokens_python.recipe.thirdparty.provider import (
    Provider,
    ProviderClientConfig,
    ProviderConfig,
    ProviderInput,
    RedirectUriInfo,
)
from supertokens_python.recipe.thirdparty.types import UserInfo, UserInfoEmail

from st_twofactor.testing import reset_supertokens

from .servers import CoreProcess

if TYPE_CHECKING:
    from fastapi import FastAPI
    from flask import Flask

os.environ.setdefault("SUPERTOKENS_TLDEXTRACT_DISABLE_HTTP", "1")


SPEEDUPS = os.environ.get("ST2FA_TEST_SPEEDUPS") == "1"
"""``ST2FA_TEST_SPEEDUPS=1``: run the session with ``speedups.reuse_core_connections()`` on."""


@pytest.fixture(scope="session", autouse=True)
def _reuse_one_tls_context() -> Iterator[None]:
    """Speed only: the SDK makes a new httpx client, and so a new TLS context (about
    25-60 ms of CA loading), for every core call. The tests only talk plain HTTP to
    the development core on loopback, so one shared context changes nothing else.

    With ``ST2FA_TEST_SPEEDUPS=1`` the library's own opt-in does it instead (one TLS
    context and pooled clients), so the whole suite also runs with it on."""
    import ssl
    from functools import partial

    import httpx
    import supertokens_python.querier as querier

    if SPEEDUPS:
        from st_twofactor import speedups

        assert speedups.reuse_core_connections(), "ST2FA_TEST_SPEEDUPS=1 but it stayed off"
        yield
        speedups.stop_reusing_core_connections()
        return
    original = querier.AsyncClient
    querier.AsyncClient = partial(httpx.AsyncClient, verify=ssl.create_default_context())  # type: ignore[misc]
    yield
    querier.AsyncClient = original  # type: ignore[misc]


API_DOMAIN = "http://localhost"
HEADER_MODE = {"st-auth-mode": "header"}
PASSWORD = "correct-horse-battery-1"

Framework = Literal["fastapi", "flask", "django"]


class InitSupertokens(Protocol):
    def __call__(self, recipe_list: list[RecipeInit], *, framework: Framework = ...) -> None: ...


@pytest.fixture
def init_supertokens(devcore_app: str) -> Iterator[InitSupertokens]:
    """Call ``supertokens_python.init()`` for this test's core app (reset before and after)."""

    def init(recipe_list: list[RecipeInit], *, framework: Framework = "fastapi") -> None:
        reset_supertokens()
        supertokens_python.init(
            app_info=InputAppInfo(
                app_name="st-twofactor tests",
                api_domain=API_DOMAIN,
                website_domain=API_DOMAIN,
                api_base_path="/auth",
            ),
            supertokens_config=SupertokensConfig(connection_uri=devcore_app),
            framework=framework,
            mode="asgi" if framework == "fastapi" else "wsgi",
            telemetry=False,
            recipe_list=recipe_list,
        )

    yield init
    reset_supertokens()


@pytest.fixture
def fastapi_app(init_supertokens: InitSupertokens) -> Callable[[list[RecipeInit]], FastAPI]:
    """A factory: init the SDK with ``recipe_list`` and return a FastAPI app with its middleware."""

    def make(recipe_list: list[RecipeInit]) -> FastAPI:
        from fastapi import FastAPI
        from supertokens_python.framework.fastapi import get_middleware

        init_supertokens(recipe_list, framework="fastapi")
        app = FastAPI()
        app.add_middleware(get_middleware())
        return app

    return make


@pytest.fixture
def flask_app(init_supertokens: InitSupertokens) -> Callable[[list[RecipeInit]], Flask]:
    """A factory: init the SDK with ``recipe_list`` and return a Flask app with its middleware."""

    def make(recipe_list: list[RecipeInit]) -> Flask:
        from flask import Flask
        from supertokens_python.framework.flask import Middleware

        init_supertokens(recipe_list, framework="flask")
        app = Flask(__name__)
        Middleware(app)
        return app

    return make


# -- a third-party provider with faked OAuth calls --

FAKE_PROVIDER_ID = "fake-oauth"


@dataclass
class FakeProvider:
    """A provider for ``thirdparty.init``; the client's ``code`` is ``"<user id>:<email>"``."""

    input: ProviderInput
    calls: list[str]


@pytest.fixture
def core() -> Iterator[CoreProcess]:
    """The development core as its own process (the load, fault and worker tests)."""
    process = CoreProcess()
    process.start()
    yield process
    process.close()


@pytest.fixture
def fake_provider() -> FakeProvider:
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
