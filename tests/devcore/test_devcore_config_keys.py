"""Core config as the real core reads it, and dynamic signing keys rotating on it, via the SDK.

The SDK's own test setups create apps with ``coreConfig`` values given as strings,
and key-rotation flows use ``access_token_dynamic_signing_key_update_interval:
"0.0014"`` (hours, about 5 s). Tests that move time use a core of their own whose
clock starts a minute in the past, so the SDK (which checks ``exp`` against the real
clock) still accepts the tokens after the test moves the core's clock by seconds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import requests
from supertokens_python.recipe import session
from supertokens_python.recipe.jwt.interfaces import CreateJwtOkResult
from supertokens_python.recipe.session import jwks as sdk_jwks
from supertokens_python.recipe.session.asyncio import (
    create_jwt,
    create_new_session_without_request_response,
    get_session_information,
    get_session_without_request_response,
    refresh_session_without_request_response,
)
from supertokens_python.recipe.session.exceptions import TryRefreshTokenError
from supertokens_python.types import RecipeUserId

from st_twofactor.devcore import DevCore
from st_twofactor.testing import reset_supertokens

from ..helpers.sdk import sdk_init

INTERVAL_HOURS = "0.0014"
INTERVAL_S = 0.0014 * 3600  # 5.04 s
OVERLAP_S = INTERVAL_S / 5  # under a minute: a fifth of the interval, as the real core


class FakeClock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _fresh_sdk(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The SDK refetches the JWKS for an unknown kid at most every 500 ms; keys change faster here.
    monkeypatch.setattr(sdk_jwks, "JWKS_REFETCH_COOLDOWN_MS", 0)
    reset_supertokens()
    yield
    reset_supertokens()


@pytest.fixture
def clocked() -> Iterator[tuple[DevCore, FakeClock]]:
    clock = FakeClock(time.time() - 60)
    with DevCore(clock=clock) as core:
        yield core, clock


def init_sdk(connection_uri: str, *, dynamic_keys: bool = True) -> None:
    sdk_init(
        connection_uri,
        [session.init(use_dynamic_access_token_signing_key=dynamic_keys)],
        app_name="devcore config",
    )


def put_app(core: DevCore, app_id: str, core_config: dict[str, Any]) -> requests.Response:
    """Create an app the way the SDK's own test setups do: raw JSON over HTTP."""
    body = {"appId": app_id, "coreConfig": core_config}
    return requests.put(core.url + "/recipe/multitenancy/app/v2", json=body, timeout=10)


def kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def jwks_kids(uri: str) -> list[str]:
    keys = requests.get(uri + "/.well-known/jwks.json", timeout=10).json()["keys"]
    return [k["kid"] for k in keys]


async def new_session(user_id: str = "user-1") -> Any:
    return await create_new_session_without_request_response(
        "public", RecipeUserId(user_id), {"role": "reader"}, {}
    )


# -- config values --


async def test_numbers_given_as_strings_and_fractions_are_read(devcore: DevCore) -> None:
    config = {
        "access_token_validity": "7200",
        "refresh_token_validity": "90.5",  # minutes
        "access_token_dynamic_signing_key_update_interval": INTERVAL_HOURS,
        "access_token_signing_key_dynamic": "true",
        "passwordless_max_code_input_attempts": "3",
    }
    response = put_app(devcore, "strings", config)
    assert response.json() == {"status": "OK", "createdNew": True}
    effective = devcore.app_config("strings")
    assert effective["access_token_validity"] == 7200
    assert effective["refresh_token_validity"] == 90.5
    assert effective["access_token_dynamic_signing_key_update_interval"] == 0.0014
    assert effective["access_token_signing_key_dynamic"] is True
    assert effective["passwordless_max_code_input_attempts"] == 3

    init_sdk(devcore.app_url("strings"))
    created = await new_session()
    payload = created.get_access_token_payload()
    assert payload["exp"] - payload["iat"] == 7200
    info = await get_session_information(created.get_handle())
    assert info is not None
    assert info.expiry - info.time_created == 90.5 * 60_000


def test_create_app_takes_the_same_strings(devcore: DevCore) -> None:
    devcore.create_app("py-strings", access_token_validity="60", refresh_token_validity="1.5")
    assert devcore.app_config("py-strings")["access_token_validity"] == 60
    assert devcore.app_config("py-strings")["refresh_token_validity"] == 1.5


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("access_token_validity", "abc"),
        ("access_token_validity", "7200.5"),
        ("access_token_validity", "0"),
        ("access_token_validity", 86_400_001),
        ("refresh_token_validity", "-1"),
        ("refresh_token_validity", "NaN"),
        ("refresh_token_validity", "inf"),
        ("access_token_dynamic_signing_key_update_interval", True),
        ("access_token_dynamic_signing_key_update_interval", [1]),
        ("access_token_signing_key_dynamic", "yes"),
        ("access_token_signing_key_dynamic", 1),
        ("no_such_setting", 1),
    ],
)
def test_bad_values_are_a_400_and_change_nothing(devcore: DevCore, key: str, value: Any) -> None:
    devcore.create_app("unchanged", access_token_validity=100)
    response = put_app(devcore, "unchanged", {key: value})
    assert response.status_code == 400
    assert response.text.startswith("Invalid core config: ") and response.text.endswith("\n")
    assert key in response.text
    config = devcore.app_config("unchanged")
    assert config["access_token_validity"] == 100
    assert config["refresh_token_validity"] == 60 * 2400
    assert config["access_token_signing_key_dynamic"] is True


# -- dynamic keys rotating on a fractional interval --


@pytest.mark.slow
async def test_dynamic_keys_rotate_on_a_five_second_interval(
    clocked: tuple[DevCore, FakeClock],
) -> None:
    core, clock = clocked
    start = clock.now
    assert put_app(
        core, "rotating", {"access_token_dynamic_signing_key_update_interval": INTERVAL_HOURS}
    ).ok
    uri = core.app_url("rotating")
    init_sdk(uri)
    first = await new_session("user-1")
    k1 = kid(first.get_access_token())
    assert k1.startswith("d-")

    # Inside the overlap before k1's interval ends: k2 is published but k1 still signs.
    clock.now = start + INTERVAL_S - OVERLAP_S / 2
    kids = jwks_kids(uri)
    k2 = kids[0]
    assert k2 != k1 and k2.startswith("d-") and kids[1] == k1
    assert kid((await new_session("user-2")).get_access_token()) == k1

    # After the interval k2 signs; k1's tokens still verify, in the SDK and in the core.
    clock.now = start + INTERVAL_S + 0.1
    third = await new_session("user-3")
    assert kid(third.get_access_token()) == k2
    checked = await get_session_without_request_response(
        first.get_access_token(), check_database=True
    )
    assert checked is not None and checked.get_user_id() == "user-1"
    fetched = await get_session_without_request_response(third.get_access_token())
    assert fetched is not None and fetched.get_user_id() == "user-3"

    # Another interval on: k3 signs, and the JWKS serves every key that still verifies.
    clock.now = start + 2 * INTERVAL_S + 0.1
    k3 = kid((await new_session("user-4")).get_access_token())
    assert k3 not in (k1, k2)
    assert [k for k in jwks_kids(uri) if k.startswith("d-")] == [k3, k2, k1]

    # k1 lives for the interval plus twice the access token validity (3600 s), then goes.
    clock.now = start + INTERVAL_S + 2 * 3600 + 1
    assert k1 not in jwks_kids(uri)
    with pytest.raises(TryRefreshTokenError):
        await get_session_without_request_response(first.get_access_token(), check_database=True)


# -- JWTs of the JWT recipe, and the signing key kind --


async def test_create_jwt_with_the_dynamic_key_is_a_session_token(devcore_app: str) -> None:
    init_sdk(devcore_app)
    created = await new_session()
    payload = created.get_access_token_payload()
    made = await create_jwt({**payload, "extra": 1}, 3600, use_static_signing_key=False)
    assert isinstance(made, CreateJwtOkResult)
    assert kid(made.jwt).startswith("d-")
    assert "version" not in jwt.get_unverified_header(made.jwt)  # read as the latest version

    verified = await get_session_without_request_response(made.jwt, check_database=True)
    assert verified is not None
    assert verified.get_handle() == created.get_handle()
    # The core answers the session's own payload (the JWT's extra claims are not stored).
    assert verified.get_access_token_payload()["role"] == "reader"
    assert "extra" not in verified.get_access_token_payload()


async def test_a_token_of_the_other_key_kind_asks_for_a_refresh(devcore_app: str) -> None:
    init_sdk(devcore_app)
    created = await new_session()
    made = await create_jwt(created.get_access_token_payload(), 3600, use_static_signing_key=True)
    assert isinstance(made, CreateJwtOkResult) and kid(made.jwt).startswith("s-")
    # The SDK refuses a static-key token when it signs with dynamic keys...
    with pytest.raises(TryRefreshTokenError):
        await get_session_without_request_response(made.jwt, check_database=True)
    # ...while the core itself, like the real one, verifies any of its keys.
    verify = {
        "accessToken": made.jwt,
        "doAntiCsrfCheck": False,
        "enableAntiCsrf": False,
        "checkDatabase": True,
    }
    answer = requests.post(devcore_app + "/recipe/session/verify", json=verify, timeout=10).json()
    assert answer["status"] == "OK"
    assert answer["session"]["handle"] == created.get_handle()


async def test_switching_the_key_kind_moves_the_session_on_refresh(devcore_app: str) -> None:
    init_sdk(devcore_app, dynamic_keys=True)
    created = await new_session()
    tokens = created.get_all_session_tokens_dangerously()
    assert kid(tokens["accessToken"]).startswith("d-")

    init_sdk(devcore_app, dynamic_keys=False)
    with pytest.raises(TryRefreshTokenError):
        await get_session_without_request_response(tokens["accessToken"])
    refreshed = await refresh_session_without_request_response(tokens["refreshToken"])
    new_access = refreshed.get_access_token()
    assert kid(new_access).startswith("s-")
    verified = await get_session_without_request_response(new_access, check_database=True)
    assert verified is not None and verified.get_handle() == created.get_handle()
    # The session now re-mints with the static key when the core renews its token.
    again = await get_session_without_request_response(
        verified.get_access_token(), check_database=True
    )
    assert again is not None and kid(again.get_access_token()).startswith("s-")
