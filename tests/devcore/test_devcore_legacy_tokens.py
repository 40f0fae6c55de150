"""Sessions made by older SDKs (CDI 2.x-3.x) on the development core, verified by today's SDK.

An app upgrading its SDK still has sessions whose tokens an old SDK got: the core
minted them in the version that SDK's CDI version asked for. Those are made here
with raw requests carrying the old ``cdi-version`` header (what the old SDK sent),
then presented to the unmodified supertokens-python 0.31.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from supertokens_python.recipe import session
from supertokens_python.recipe.session import jwks as sdk_jwks
from supertokens_python.recipe.session.asyncio import (
    get_session_without_request_response,
    refresh_session_without_request_response,
)

from st_twofactor.testing import reset_supertokens

from ..helpers.sdk import sdk_init

LEGACY_V2_HEADER = base64.b64encode(b'{"alg":"RS256","typ":"JWT","version":"2"}').decode()


@pytest.fixture
def sdk(devcore_app: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(sdk_jwks, "JWKS_REFETCH_COOLDOWN_MS", 0)
    sdk_init(
        devcore_app,
        [session.init()],
        app_name="devcore legacy",
    )
    yield devcore_app
    reset_supertokens()


def old_sdk(uri: str, path: str, body: dict[str, Any], cdi: str) -> Any:
    response = requests.post(uri + path, json=body, headers={"cdi-version": cdi}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def create(uri: str, cdi: str, **extra: Any) -> Any:
    body = {
        "userId": "old-user",
        "userDataInJWT": {"role": "admin"},
        "userDataInDatabase": {},
        "enableAntiCsrf": False,
        **extra,
    }
    return old_sdk(uri, "/public/recipe/session", body, cdi)


def segments(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    head, body, _ = token.split(".")
    decode = base64.urlsafe_b64decode if "-" in body or "_" in body else base64.b64decode
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    return header, json.loads(decode(body + "=" * (-len(body) % 4)))


async def test_a_cdi_2_8_session_gets_a_version_2_token_that_the_sdk_verifies(sdk: str) -> None:
    created = create(sdk, "2.8")
    token = created["accessToken"]["token"]
    head, body, signature = token.split(".")
    assert head == LEGACY_V2_HEADER  # the exact header the SDK recognises; no kid
    payload = json.loads(base64.b64decode(body))
    assert list(payload) == [
        "userId",
        "expiryTime",
        "timeCreated",
        "sessionHandle",
        "refreshTokenHash1",
        "userData",
    ]
    assert payload["userData"] == {"role": "admin"}
    assert payload["userId"] == "old-user"
    assert payload["expiryTime"] - payload["timeCreated"] == 3600 * 1000
    # What CDI 2.8 answered besides: no tenant or recipe user, an id refresh token, the key.
    assert set(created["session"]) == {"handle", "userId", "userDataInJWT"}
    assert created["idRefreshToken"]["expiry"] == created["refreshToken"]["expiry"]
    assert "jwtSigningPublicKeyList" not in created  # from CDI 2.9 on
    public_key = serialization.load_der_public_key(base64.b64decode(created["jwtSigningPublicKey"]))
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(
        base64.b64decode(signature),
        f"{head}.{body}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )

    # Today's SDK verifies it, locally and with the core, and refreshes it to a version 5 token.
    verified = await get_session_without_request_response(token)
    assert verified is not None
    assert verified.get_user_id() == "old-user"
    assert verified.get_access_token_payload() == {"role": "admin"}
    checked = await get_session_without_request_response(token, check_database=True)
    assert checked is not None and checked.get_handle() == created["session"]["handle"]
    refreshed = await refresh_session_without_request_response(created["refreshToken"]["token"])
    header, claims = segments(refreshed.get_access_token())
    assert header["version"] == "5" and header["kid"].startswith("d-")
    assert claims["role"] == "admin" and claims["rsub"] == "old-user"


async def test_a_renewed_token_keeps_its_version(sdk: str) -> None:
    created = create(sdk, "2.8")
    refresh = {"refreshToken": created["refreshToken"]["token"], "enableAntiCsrf": False}
    child = old_sdk(sdk, "/recipe/session/refresh", refresh, "2.8")  # no useDynamicSigningKey
    child_token = child["accessToken"]["token"]
    assert child_token.split(".")[0] == LEGACY_V2_HEADER
    assert "parentRefreshTokenHash1" in json.loads(base64.b64decode(child_token.split(".")[1]))
    assert "idRefreshToken" in child and "jwtSigningPublicKey" in child

    # The child's first use promotes it; the core renews the token, still version 2.
    verified = await get_session_without_request_response(child_token)
    assert verified is not None
    renewed = verified.get_access_token()
    assert renewed != child_token and renewed.split(".")[0] == LEGACY_V2_HEADER
    assert "parentRefreshTokenHash1" not in json.loads(base64.b64decode(renewed.split(".")[1]))


@pytest.mark.parametrize(
    ("cdi", "version", "claims_absent", "session_keys"),
    [
        ("2.21", "3", {"tId", "rsub"}, {"handle", "userId", "userDataInJWT"}),
        ("3.0", "4", {"rsub"}, {"handle", "userId", "userDataInJWT", "tenantId"}),
        (
            "4.0",
            "5",
            set(),
            {"handle", "userId", "userDataInJWT", "tenantId", "recipeUserId"},
        ),
    ],
)
async def test_each_cdi_version_gets_its_token_version(
    sdk: str, cdi: str, version: str, claims_absent: set[str], session_keys: set[str]
) -> None:
    created = create(sdk, cdi, useDynamicSigningKey=True)
    token = created["accessToken"]["token"]
    header, claims = segments(token)
    assert header["version"] == version and header["kid"].startswith("d-")
    assert claims_absent.isdisjoint(claims)
    assert claims["role"] == "admin" and claims["sub"] == "old-user"
    assert set(created["session"]) == session_keys
    assert "idRefreshToken" not in created and "jwtSigningPublicKey" not in created
    verified = await get_session_without_request_response(token, check_database=True)
    assert verified is not None and verified.get_user_id() == "old-user"
    assert verified.get_access_token_payload()["role"] == "admin"


def test_cdi_2_9_answers_list_the_verifying_keys(devcore_app: str) -> None:
    created = create(devcore_app, "2.9")
    listed = created["jwtSigningPublicKeyList"]
    assert listed[0]["publicKey"] == created["jwtSigningPublicKey"]
    assert all(k["expiryTime"] > k["createdAt"] for k in listed)
    verify = {"accessToken": created["accessToken"]["token"], "doAntiCsrfCheck": False}
    answer = old_sdk(
        devcore_app, "/recipe/session/verify", {**verify, "enableAntiCsrf": False}, "2.9"
    )
    assert answer["status"] == "OK" and "jwtSigningPublicKeyList" in answer
    assert set(answer["session"]) == {"handle", "userId", "userDataInJWT"}


@pytest.mark.parametrize("header", ["two", "2", "2.8.1", "-1.0"])
def test_a_malformed_cdi_version_is_a_400(devcore_app: str, header: str) -> None:
    body = {"userId": "u", "userDataInJWT": {}, "userDataInDatabase": {}, "enableAntiCsrf": False}
    response = requests.post(
        devcore_app + "/public/recipe/session",
        json=body,
        headers={"cdi-version": header},
        timeout=10,
    )
    assert (response.status_code, response.text) == (400, "cdi-version header is invalid\n")
    handles = requests.get(
        devcore_app + "/public/recipe/session/user", params={"userId": "u"}, timeout=10
    ).json()
    assert handles["sessionHandles"] == []
