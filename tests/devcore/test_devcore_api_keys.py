"""A development core with API keys, as the real core checks them, through the SDK.

The SDK sends ``api-key`` on its core calls but fetches the public JWKS without it,
and the real core's hello, JWKS and not-found answers need no key; so a core with
API keys must still let the SDK verify sessions.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from supertokens_python.recipe import session
from supertokens_python.recipe.session import jwks as sdk_jwks
from supertokens_python.recipe.session.asyncio import (
    create_new_session_without_request_response,
    get_session_without_request_response,
)
from supertokens_python.types import RecipeUserId

from st_twofactor.devcore import DevCore
from st_twofactor.testing import reset_supertokens

from ..helpers.sdk import sdk_init

KEY = "a-long-enough-api-key-for-tests"


@pytest.fixture(scope="module")
def keyed_core() -> Iterator[DevCore]:
    with DevCore(api_keys=[KEY]) as core:
        yield core


def init_sdk(connection_uri: str, api_key: str | None) -> None:
    sdk_init(
        connection_uri,
        [session.init()],
        app_name="devcore api keys",
        api_key=api_key,
    )


async def test_the_sdk_verifies_sessions_on_a_core_with_api_keys(
    keyed_core: DevCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sdk_jwks, "JWKS_REFETCH_COOLDOWN_MS", 0)
    init_sdk(keyed_core.url, KEY)
    try:
        created = await create_new_session_without_request_response(
            "public", RecipeUserId("user-1"), {"role": "reader"}, {}
        )
        verified = await get_session_without_request_response(created.get_access_token())
        assert verified is not None and verified.get_user_id() == "user-1"

        init_sdk(keyed_core.url, "wrong-key")
        with pytest.raises(Exception) as raised:
            await create_new_session_without_request_response(
                "public", RecipeUserId("user-2"), {}, {}
            )
        assert "with status code: 401 and message: Invalid API key\n" in str(raised.value)
    finally:
        reset_supertokens()


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/hello", {}, 200),
        ("GET", "/.well-known/jwks.json", {}, 200),
        ("GET", "/no/such/route", {}, 404),
        ("GET", "/recipe/jwt/jwks", {}, 401),
        ("GET", "/apiversion", {}, 401),
        ("GET", "/apiversion", {"api-key": "wrong"}, 401),
        ("GET", "/apiversion", {"api-key": "caf\u00e9"}, 401),  # non-ASCII: a 401, not a 500
        ("GET", "/apiversion", {"api-key": KEY}, 200),
        ("PUT", "/recipe/session/verify", {}, 401),
    ],
)
def test_which_routes_need_the_key(
    keyed_core: DevCore, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    encoded = {k: v.encode("latin-1") for k, v in headers.items()}
    response = requests.request(method, keyed_core.url + path, headers=encoded, timeout=10)
    assert response.status_code == status, response.text
