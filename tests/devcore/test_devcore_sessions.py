"""The development core's session recipe and signing keys, driven through the unmodified SDK.

Most tests run a FastAPI app with the SDK's middleware against a fresh app of the
session-wide core (``devcore_app``). Tests that move time use their own core with an
injected clock; the SDK checks ``iat``/``exp`` against the real clock, so such a clock
starts in the past and never runs ahead of real time when the SDK verifies tokens.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import jwt
import pytest
import requests
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from supertokens_python.framework.fastapi import get_middleware
from supertokens_python.recipe import session
from supertokens_python.recipe.session import SessionContainer
from supertokens_python.recipe.session import jwks as sdk_jwks
from supertokens_python.recipe.session.asyncio import create_new_session
from supertokens_python.recipe.session.framework.fastapi import verify_session
from supertokens_python.recipe.session.syncio import (
    get_all_session_handles_for_user,
    get_session_information,
    merge_into_access_token_payload,
    revoke_all_sessions_for_user,
    revoke_session,
    update_session_data_in_database,
)
from supertokens_python.types import RecipeUserId

from st_twofactor.devcore import DevCore
from st_twofactor.testing import reset_supertokens

from ..helpers.devcore_recipes import JSON_TYPE as JSON
from ..helpers.sdk import sdk_init

API_DOMAIN = "http://localhost"
HOUR = 3600
Verified = Annotated[SessionContainer, Depends(verify_session())]
Checked = Annotated[SessionContainer, Depends(verify_session(check_database=True))]


# -- fixtures and helpers --


class FakeClock:
    """Seconds since the epoch, moved by the test."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _fresh_sdk(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The SDK refuses to refetch the JWKS for an unknown kid within 500 ms of the
    # last fetch; tests mint keys faster than that.
    monkeypatch.setattr(sdk_jwks, "JWKS_REFETCH_COOLDOWN_MS", 0)
    reset_supertokens()
    yield
    reset_supertokens()


@pytest.fixture
def clocked() -> Iterator[tuple[DevCore, FakeClock]]:
    """A core of its own whose clock starts two days ago."""
    clock = FakeClock(time.time() - 48 * HOUR)
    with DevCore(clock=clock) as core:
        yield core, clock


def init_sdk(
    connection_uri: str,
    *,
    transfer: str = "header",
    anti_csrf: str = "NONE",
    dynamic_keys: bool = True,
) -> None:
    sdk_init(
        connection_uri,
        [
            session.init(
                anti_csrf=anti_csrf,  # type: ignore[arg-type]
                get_token_transfer_method=lambda _req, _create, _ctx: transfer,  # type: ignore[arg-type,return-value]
                use_dynamic_access_token_signing_key=dynamic_keys,
            )
        ],
        app_name="devcore sessions",
    )


def make_app() -> FastAPI:
    """An app with a sign-in route and protected routes, as an app using the SDK has."""
    app = FastAPI()
    app.add_middleware(get_middleware())

    @app.post("/login")
    async def login(request: Request) -> dict[str, Any]:
        body = await request.json()
        container = await create_new_session(
            request,
            "public",
            RecipeUserId(body["userId"]),
            body.get("payload"),
            body.get("data"),
        )
        return {"handle": container.get_handle()}

    def describe(s: SessionContainer) -> dict[str, Any]:
        return {
            "userId": s.get_user_id(),
            "handle": s.get_handle(),
            "payload": s.get_access_token_payload(),
        }

    @app.get("/me")
    async def me(s: Verified) -> dict[str, Any]:
        return describe(s)

    @app.post("/me")
    async def me_post(s: Verified) -> dict[str, Any]:
        return describe(s)

    @app.get("/me/db")
    async def me_db(s: Checked) -> dict[str, Any]:
        return describe(s)

    @app.post("/payload")
    async def payload(request: Request, s: Verified) -> dict[str, Any]:
        await s.merge_into_access_token_payload(await request.json())
        return describe(s)

    return app


class HeaderClient:
    """Plays the frontend SDK in header mode: keeps the latest tokens it is given."""

    def __init__(self, app: FastAPI) -> None:
        self.http = TestClient(app, base_url=API_DOMAIN)
        self.access: str | None = None
        self.refresh_token: str | None = None

    def _keep(self, response: Any) -> Any:
        access = response.headers.get("st-access-token")
        refresh = response.headers.get("st-refresh-token")
        if access is not None:
            self.access = access or None
        if refresh is not None:
            self.refresh_token = refresh or None
        return response

    def login(self, user_id: str, **body: Any) -> Any:
        return self._keep(self.http.post("/login", json={"userId": user_id, **body}))

    def call(self, method: str, path: str, *, token: str | None = None, **kw: Any) -> Any:
        token = token or self.access
        headers = {"authorization": f"Bearer {token}"}
        return self._keep(self.http.request(method, path, headers=headers, **kw))

    def refresh(self, token: str | None = None) -> Any:
        token = token or self.refresh_token
        headers = {"authorization": f"Bearer {token}"}
        return self._keep(self.http.post("/auth/session/refresh", headers=headers))


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def header(token: str) -> dict[str, Any]:
    return jwt.get_unverified_header(token)


def core_post(uri: str, path: str, body: Any) -> Any:
    response = requests.post(uri + path, json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def raw_session(uri: str, user_id: str = "raw-user", **extra: Any) -> dict[str, Any]:
    body = {
        "userId": user_id,
        "userDataInJWT": {},
        "userDataInDatabase": {},
        "enableAntiCsrf": False,
        "useDynamicSigningKey": True,
        **extra,
    }
    result: dict[str, Any] = core_post(uri, "/public/recipe/session", body)
    assert result["status"] == "OK"
    return result


def raw_verify(uri: str, token: str, **extra: Any) -> dict[str, Any]:
    body = {"accessToken": token, "doAntiCsrfCheck": False, "enableAntiCsrf": False, **extra}
    result: dict[str, Any] = core_post(uri, "/recipe/session/verify", body)
    return result


def raw_refresh(uri: str, token: str, **extra: Any) -> dict[str, Any]:
    body = {"refreshToken": token, "enableAntiCsrf": False, "useDynamicSigningKey": True, **extra}
    result: dict[str, Any] = core_post(uri, "/recipe/session/refresh", body)
    return result


def jwks_kids(uri: str) -> list[str]:
    keys = requests.get(uri + "/.well-known/jwks.json", timeout=10).json()["keys"]
    return [k["kid"] for k in keys]


# -- create, verify, refresh --


def test_create_and_verify_a_version_5_access_token(devcore_app: str) -> None:
    init_sdk(devcore_app)
    client = HeaderClient(make_app())
    login = client.login("user-1", payload={"role": "admin"})
    assert login.status_code == 200
    assert client.access and client.refresh_token

    head, body = header(client.access), claims(client.access)
    assert head["alg"] == "RS256" and head["version"] == "5" and head["kid"].startswith("d-")
    assert body["sub"] == body["rsub"] == "user-1"
    assert body["tId"] == "public"
    assert body["sessionHandle"] == login.json()["handle"]
    assert body["parentRefreshTokenHash1"] is None
    assert body["role"] == "admin"
    assert body["exp"] - body["iat"] == HOUR
    assert head["kid"] in jwks_kids(devcore_app)

    me = client.call("GET", "/me")
    assert me.status_code == 200
    assert me.json()["userId"] == "user-1"
    assert me.json()["payload"]["role"] == "admin"
    assert client.call("GET", "/me/db").status_code == 200
    assert client.call("GET", "/me", token="not-a-token").status_code == 401


def test_refresh_rotates_tokens_and_the_child_is_promoted_on_first_use(
    devcore_app: str,
) -> None:
    init_sdk(devcore_app)
    client = HeaderClient(make_app())
    client.login("user-1", payload={"plan": "pro"})
    old_access, old_refresh = client.access, client.refresh_token
    assert old_access and old_refresh

    assert client.refresh().status_code == 200
    new_access = client.access
    assert new_access and client.refresh_token
    assert new_access != old_access and client.refresh_token != old_refresh
    child = claims(new_access)
    assert child["parentRefreshTokenHash1"] is not None
    assert child["plan"] == "pro"
    assert child["sessionHandle"] == claims(old_access)["sessionHandle"]

    # The old access token stays valid until it expires.
    assert client.call("GET", "/me", token=old_access).status_code == 200
    # The first use of the child's access token promotes it: the core re-mints it
    # without the parent hash and the SDK hands the new token to the client.
    first = client.call("GET", "/me", token=new_access)
    assert first.status_code == 200
    promoted = first.headers.get("st-access-token")
    assert promoted and promoted != new_access
    assert claims(promoted)["parentRefreshTokenHash1"] is None
    assert claims(promoted)["refreshTokenHash1"] == child["refreshTokenHash1"]
    assert client.call("GET", "/me/db").status_code == 200


def test_refresh_with_the_current_token_can_be_retried(devcore_app: str) -> None:
    """Until a child is used, the parent may refresh again (a lost answer is not theft)."""
    init_sdk(devcore_app)
    client = HeaderClient(make_app())
    client.login("user-1")
    parent = client.refresh_token
    assert client.refresh(parent).status_code == 200
    assert client.refresh(parent).status_code == 200
    child = client.refresh_token
    assert child is not None
    assert client.refresh(child).status_code == 200  # promotes the child, rotates again
    assert client.call("GET", "/me/db").status_code == 200


def test_reusing_a_stale_refresh_token_is_token_theft(devcore_app: str) -> None:
    init_sdk(devcore_app)
    client = HeaderClient(make_app())
    handle = client.login("user-1").json()["handle"]
    stolen = client.refresh_token
    assert client.refresh().status_code == 200
    assert client.call("GET", "/me").status_code == 200  # uses the child: promotes it
    current_access = client.access

    theft = client.refresh(stolen)
    assert theft.status_code == 401
    assert theft.json() == {"message": "token theft detected"}
    # The SDK revoked the session: the database check refuses its tokens.
    assert get_session_information(handle) is None
    assert get_all_session_handles_for_user("user-1") == []
    assert client.call("GET", "/me/db", token=current_access).status_code == 401


def test_core_answers_token_theft_with_the_session(devcore_app: str) -> None:
    first = raw_session(devcore_app, "user-t")
    rt0 = first["refreshToken"]["token"]
    child = raw_refresh(devcore_app, rt0)
    assert raw_refresh(devcore_app, child["refreshToken"]["token"])["status"] == "OK"
    theft = raw_refresh(devcore_app, rt0)
    assert theft == {
        "status": "TOKEN_THEFT_DETECTED",
        "session": {
            "handle": first["session"]["handle"],
            "userId": "user-t",
            "recipeUserId": "user-t",
        },
    }
    assert raw_refresh(devcore_app, "no-such-token")["status"] == "UNAUTHORISED"


def test_revoked_session_is_refused_when_the_database_is_checked(devcore_app: str) -> None:
    init_sdk(devcore_app)
    client = HeaderClient(make_app())
    handle = client.login("user-1").json()["handle"]
    access = client.access
    assert revoke_session(handle) is True
    assert revoke_session(handle) is False

    # A JWT stays valid on its own until it expires; the database check sees the revocation.
    assert client.call("GET", "/me", token=access).status_code == 200
    assert client.call("GET", "/me/db", token=access).status_code == 401
    assert client.refresh().status_code == 401
    verdict = raw_verify(devcore_app, str(access), checkDatabase=True)
    assert verdict == {
        "status": "UNAUTHORISED",
        "message": "Either the session has ended or has been blacklisted",
    }


def test_refresh_after_revocation_of_all_user_sessions(devcore_app: str) -> None:
    init_sdk(devcore_app)
    client = HeaderClient(make_app())
    handles = {client.login("user-1").json()["handle"] for _ in range(3)}
    other = HeaderClient(make_app())
    other.login("user-2")
    assert set(get_all_session_handles_for_user("user-1")) == handles
    assert set(revoke_all_sessions_for_user("user-1")) == handles
    assert get_all_session_handles_for_user("user-1") == []
    assert client.refresh().status_code == 401
    assert other.call("GET", "/me/db").status_code == 200


# -- anti-CSRF (cookies) --


def test_anti_csrf_via_token_with_cookies(devcore_app: str) -> None:
    init_sdk(devcore_app, transfer="cookie", anti_csrf="VIA_TOKEN")
    http = TestClient(make_app(), base_url=API_DOMAIN)
    login = http.post("/login", json={"userId": "user-1"})
    anti_csrf = login.headers["anti-csrf"]
    assert claims(http.cookies["sAccessToken"])["antiCsrfToken"] == anti_csrf

    assert http.get("/me").status_code == 200  # GET: no anti-CSRF check
    assert http.post("/me").status_code == 401
    assert http.post("/me", headers={"anti-csrf": "wrong"}).status_code == 401
    assert http.post("/me", headers={"anti-csrf": anti_csrf}).status_code == 200

    refreshed = http.post("/auth/session/refresh", headers={"anti-csrf": anti_csrf})
    assert refreshed.status_code == 200
    new_anti_csrf = refreshed.headers["anti-csrf"]
    assert new_anti_csrf != anti_csrf
    # The child's first use goes through the core, which checks the token too.
    assert http.post("/me", headers={"anti-csrf": new_anti_csrf}).status_code == 200
    assert http.post("/auth/session/refresh").status_code == 401  # no anti-CSRF token


def test_core_checks_anti_csrf_on_verify_and_refresh(devcore_app: str) -> None:
    created = raw_session(devcore_app, enableAntiCsrf=True)
    anti_csrf = created["antiCsrfToken"]
    child = raw_refresh(
        devcore_app, created["refreshToken"]["token"], enableAntiCsrf=True, antiCsrfToken=anti_csrf
    )
    assert child["status"] == "OK"
    token, child_csrf = child["accessToken"]["token"], child["antiCsrfToken"]
    check = {"doAntiCsrfCheck": True, "enableAntiCsrf": True}
    assert raw_verify(devcore_app, token, **check)["status"] == "TRY_REFRESH_TOKEN"
    wrong = raw_verify(devcore_app, token, antiCsrfToken="x", **check)
    assert wrong == {"status": "TRY_REFRESH_TOKEN", "message": "anti-csrf check failed"}
    assert raw_verify(devcore_app, token, antiCsrfToken="é", **check)["status"] == (
        "TRY_REFRESH_TOKEN"
    )
    ok = raw_verify(devcore_app, token, antiCsrfToken=child_csrf, **check)
    assert ok["status"] == "OK" and "accessToken" in ok
    refused = raw_refresh(
        devcore_app, child["refreshToken"]["token"], enableAntiCsrf=True, antiCsrfToken="x"
    )
    assert refused == {
        "status": "UNAUTHORISED",
        "message": "Anti CSRF token missing, or not matching",
    }
    without = raw_session(devcore_app)
    assert "antiCsrfToken" not in without
    assert claims(without["accessToken"]["token"])["antiCsrfToken"] is None


# -- signing keys --


def test_dynamic_key_rotation_keeps_old_tokens_valid(
    clocked: tuple[DevCore, FakeClock],
) -> None:
    core, clock = clocked
    clock.now = time.time() - 2 * HOUR
    uri = core.create_app(
        access_token_dynamic_signing_key_update_interval=1, access_token_validity=24 * HOUR
    )
    init_sdk(uri)
    first = HeaderClient(make_app())
    first.login("user-1")
    old_kid = header(str(first.access))["kid"]

    clock.now += HOUR + 1
    second = HeaderClient(make_app())
    second.login("user-2")
    new_kid = header(str(second.access))["kid"]
    assert new_kid != old_kid and new_kid.startswith("d-")
    assert jwks_kids(uri)[:2] == [new_kid, old_kid]

    assert first.call("GET", "/me").json()["userId"] == "user-1"
    assert first.call("GET", "/me/db").status_code == 200
    assert second.call("GET", "/me").json()["userId"] == "user-2"
    assert first.refresh().status_code == 200
    assert header(str(first.access))["kid"] == new_kid


def test_new_key_is_published_before_it_signs_and_old_keys_expire(
    clocked: tuple[DevCore, FakeClock],
) -> None:
    core, clock = clocked
    uri = core.create_app(
        access_token_dynamic_signing_key_update_interval=1, access_token_validity=2 * HOUR
    )
    start = clock.now
    token = raw_session(uri)["accessToken"]["token"]
    k1 = header(token)["kid"]

    clock.now = start + HOUR - 30  # inside the last minute: successor published, not used
    kids = jwks_kids(uri)
    assert len([k for k in kids if k.startswith("d-")]) == 2
    assert kids[1] == k1
    k2 = kids[0]
    assert header(raw_session(uri)["accessToken"]["token"])["kid"] == k1

    clock.now = start + HOUR + 1
    assert header(raw_session(uri)["accessToken"]["token"])["kid"] == k2
    assert raw_verify(uri, token)["status"] == "OK"

    # Kept for the update interval plus twice the access token validity, then dropped.
    clock.now = start + HOUR + 4 * HOUR - 1
    assert k1 in jwks_kids(uri)
    clock.now = start + HOUR + 4 * HOUR + 1
    assert k1 not in jwks_kids(uri)
    assert raw_verify(uri, token) == {"status": "TRY_REFRESH_TOKEN", "message": "Key not found"}


def test_static_key_sessions(devcore_app: str) -> None:
    init_sdk(devcore_app, dynamic_keys=False)
    client = HeaderClient(make_app())
    client.login("user-1")
    kid = header(str(client.access))["kid"]
    assert kid.startswith("s-")
    assert kid in jwks_kids(devcore_app)
    assert client.call("GET", "/me").status_code == 200
    assert client.refresh().status_code == 200
    assert header(str(client.access))["kid"] == kid
    assert client.call("GET", "/me").status_code == 200  # promotes: re-minted with s- too
    assert header(str(client.access))["kid"] == kid
    # The same app's dynamic-key sessions verify alongside.
    init_sdk(devcore_app, dynamic_keys=True)
    dynamic = HeaderClient(make_app())
    dynamic.login("user-2")
    assert header(str(dynamic.access))["kid"].startswith("d-")
    assert dynamic.call("GET", "/me").status_code == 200


def test_app_config_chooses_the_static_key_when_the_request_does_not(devcore: DevCore) -> None:
    uri = devcore.create_app(access_token_signing_key_dynamic=False)
    body = {"userId": "u", "userDataInJWT": {}, "userDataInDatabase": {}, "enableAntiCsrf": False}
    created = core_post(uri, "/public/recipe/session", body)
    assert header(created["accessToken"]["token"])["kid"].startswith("s-")
    chosen = core_post(uri, "/public/recipe/session", {**body, "useDynamicSigningKey": True})
    assert header(chosen["accessToken"]["token"])["kid"].startswith("d-")


def test_jwks_keys_verify_the_tokens(devcore_app: str) -> None:
    created = raw_session(devcore_app, userDataInJWT={"x": [1, 2]})
    token = created["accessToken"]["token"]
    for path in ("/.well-known/jwks.json", "/recipe/jwt/jwks"):
        keys = requests.get(devcore_app + path, timeout=10).json()["keys"]
        assert all(k["kty"] == "RSA" and k["alg"] == "RS256" and k["use"] == "sig" for k in keys)
        jwk = next(k for k in keys if k["kid"] == header(token)["kid"])
        assert len(base64.urlsafe_b64decode(jwk["n"] + "==")) == 256  # 2048 bits
        key = jwt.PyJWK(jwk).key
        assert jwt.decode(token, key, algorithms=["RS256"])["x"] == [1, 2]


def test_tampered_token_is_refused(devcore_app: str) -> None:
    token = raw_session(devcore_app, "user-1")["accessToken"]["token"]
    head, _, signature = token.split(".")
    forged_claims = {**claims(token), "sub": "admin"}
    forged_body = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=")
    forged = f"{head}.{forged_body.decode()}.{signature}"
    assert raw_verify(devcore_app, forged) == {
        "status": "TRY_REFRESH_TOKEN",
        "message": "JWT verification failed",
    }


def test_create_jwt_with_the_static_key(devcore_app: str) -> None:
    body = {
        "payload": {"scope": "read"},
        "algorithm": "RS256",
        "jwksDomain": "http://localhost/auth",
        "validity": 60,
    }
    made = core_post(devcore_app, "/recipe/jwt", body)
    assert made["status"] == "OK"
    assert header(made["jwt"])["kid"].startswith("s-")
    keys = requests.get(devcore_app + "/.well-known/jwks.json", timeout=10).json()
    key = jwt.PyJWKSet.from_dict(keys)[header(made["jwt"])["kid"]].key
    decoded = jwt.decode(made["jwt"], key, algorithms=["RS256"])
    assert decoded["scope"] == "read" and decoded["iss"] == "http://localhost/auth"
    assert decoded["exp"] - decoded["iat"] == 60
    dynamic = core_post(devcore_app, "/recipe/jwt", {**body, "useStaticSigningKey": False})
    assert header(dynamic["jwt"])["kid"].startswith("d-")
    unsupported = core_post(devcore_app, "/recipe/jwt", {**body, "algorithm": "HS256"})
    assert unsupported == {"status": "UNSUPPORTED_ALGORITHM_ERROR"}


# -- isolation, expiry, durability --


def test_apps_are_isolated(devcore: DevCore) -> None:
    app_a, app_b = devcore.create_app(), devcore.create_app()
    created = raw_session(app_a, "user-a")
    handle = created["session"]["handle"]
    token = created["accessToken"]["token"]
    assert not set(jwks_kids(app_a)) & set(jwks_kids(app_b))

    assert raw_verify(app_b, token)["status"] == "TRY_REFRESH_TOKEN"
    assert raw_refresh(app_b, created["refreshToken"]["token"])["status"] == "UNAUTHORISED"
    missing = requests.get(app_b + "/recipe/session", params={"sessionHandle": handle}, timeout=10)
    assert missing.json()["status"] == "UNAUTHORISED"
    removed = core_post(app_b, "/public/recipe/session/remove", {"sessionHandles": [handle]})
    assert removed["sessionHandlesRevoked"] == []
    assert raw_verify(app_a, token, checkDatabase=True)["status"] == "OK"

    init_sdk(app_b)
    client = HeaderClient(make_app())
    assert client.call("GET", "/me", token=token).status_code == 401


def test_access_token_expiry_asks_for_a_refresh(clocked: tuple[DevCore, FakeClock]) -> None:
    core, clock = clocked
    uri = core.create_app(access_token_validity=60)
    created = raw_session(uri)
    clock.now += 61
    expired = raw_verify(uri, created["accessToken"]["token"])
    assert expired == {"status": "TRY_REFRESH_TOKEN", "message": "Access token expired"}
    assert raw_refresh(uri, created["refreshToken"]["token"])["status"] == "OK"


def test_expired_sessions_are_gone(clocked: tuple[DevCore, FakeClock]) -> None:
    core, clock = clocked
    uri = core.create_app(refresh_token_validity=1, access_token_validity=30)
    unused = raw_session(uri, "user-x")
    created = raw_session(uri, "user-x")
    handle = created["session"]["handle"]

    def state(session_handle: str) -> str:
        query = {"sessionHandle": session_handle}
        info = requests.get(uri + "/recipe/session", params=query, timeout=10).json()
        return str(info["status"])

    clock.now += 50
    child = raw_refresh(uri, created["refreshToken"]["token"])  # the session is unchanged
    clock.now += 5
    assert raw_verify(uri, child["accessToken"]["token"])["status"] == "OK"  # promotes
    clock.now += 10  # 65 s after creation: the unused session is gone, the other extended
    assert state(unused["session"]["handle"]) == "UNAUTHORISED"
    assert raw_refresh(uri, unused["refreshToken"]["token"])["status"] == "UNAUTHORISED"
    assert state(handle) == "OK"
    clock.now += 51  # 61 s after the promotion
    assert state(handle) == "UNAUTHORISED"
    assert raw_refresh(uri, child["refreshToken"]["token"])["status"] == "UNAUTHORISED"
    assert raw_verify(uri, child["accessToken"]["token"], checkDatabase=True)["status"] in (
        "UNAUTHORISED",
        "TRY_REFRESH_TOKEN",
    )
    handles = requests.get(
        uri + "/public/recipe/session/user", params={"userId": "user-x"}, timeout=10
    ).json()
    assert handles == {"status": "OK", "sessionHandles": []}


def test_sessions_and_keys_survive_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "core.db")
    first = DevCore(path).start()
    try:
        uri = first.create_app()
        port = int(first.url.rsplit(":", 1)[1])
        init_sdk(uri)
        client = HeaderClient(make_app())
        client.login("user-1", payload={"k": "v"})
        assert client.refresh().status_code == 200
        kids = jwks_kids(uri)
    finally:
        first.close()

    second = DevCore(path, port=port).start()
    try:
        sdk_jwks.reset_jwks_cache()
        assert jwks_kids(uri) == kids
        me = client.call("GET", "/me")  # verified with the stored keys, then promoted
        assert me.status_code == 200 and me.json()["payload"]["k"] == "v"
        assert client.call("GET", "/me/db").status_code == 200
        assert client.refresh().status_code == 200
        assert client.call("GET", "/me/db").status_code == 200
    finally:
        second.close()


# -- payload and session data --


def test_update_access_token_payload_and_session_data(devcore_app: str) -> None:
    init_sdk(devcore_app)
    client = HeaderClient(make_app())
    handle = client.login("user-1", payload={"a": 1}, data={"note": "x"}).json()["handle"]

    updated = client.call("POST", "/payload", json={"b": 2})
    assert updated.status_code == 200
    assert claims(str(client.access))["b"] == 2
    assert client.call("GET", "/me").json()["payload"]["a"] == 1

    info = get_session_information(handle)
    assert info is not None
    assert info.session_data_in_database == {"note": "x"}
    assert info.custom_claims_in_access_token_payload["b"] == 2
    assert update_session_data_in_database(handle, {"note": "y"}) is True
    assert update_session_data_in_database("no-such-handle", {}) is False

    stale = client.access
    assert merge_into_access_token_payload(handle, {"c": 3}) is True
    info = get_session_information(handle)
    assert info is not None
    assert info.session_data_in_database == {"note": "y"}
    assert info.custom_claims_in_access_token_payload["c"] == 3
    # A database check sees the token's payload is stale and answers a new token.
    fresh = client.call("GET", "/me/db", token=stale)
    assert fresh.status_code == 200
    assert fresh.json()["payload"]["c"] == 3
    assert claims(str(client.access))["c"] == 3


def test_regenerate_keeps_expiry_and_refuses_unknown_tokens(
    clocked: tuple[DevCore, FakeClock],
) -> None:
    core, clock = clocked
    uri = core.create_app(access_token_validity=60)
    created = raw_session(uri, userDataInJWT={"a": 1})
    token = created["accessToken"]["token"]
    clock.now += 5
    again = core_post(
        uri, "/recipe/session/regenerate", {"accessToken": token, "userDataInJWT": {"b": 2}}
    )
    assert again["status"] == "OK"
    assert again["session"]["userDataInJWT"] == {"b": 2}
    assert again["accessToken"]["expiry"] == created["accessToken"]["expiry"]
    assert claims(again["accessToken"]["token"])["b"] == 2
    assert "a" not in claims(again["accessToken"]["token"])

    clock.now += 60
    late = core_post(uri, "/recipe/session/regenerate", {"accessToken": token})
    assert late["status"] == "OK" and "accessToken" not in late
    assert late["session"]["userDataInJWT"] == {"b": 2}
    for bad in ("x", "a.b.c", token[:-4] + "AAAA"):
        refused = core_post(uri, "/recipe/session/regenerate", {"accessToken": bad})
        assert refused["status"] == "UNAUTHORISED"


# -- concurrency --


def test_concurrent_refreshes_of_different_sessions(devcore_app: str) -> None:
    created = [raw_session(devcore_app, f"user-{i}") for i in range(20)]
    barrier = threading.Barrier(20)

    def cycle(session_json: dict[str, Any]) -> tuple[str, str]:
        barrier.wait()
        child = raw_refresh(devcore_app, session_json["refreshToken"]["token"])
        promoted = raw_verify(devcore_app, child["accessToken"]["token"])
        theft = raw_refresh(devcore_app, session_json["refreshToken"]["token"])
        return promoted["status"] + ("+token" if "accessToken" in promoted else ""), theft["status"]

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(cycle, created))
    assert results == [("OK+token", "TOKEN_THEFT_DETECTED")] * 20


def test_concurrent_refreshes_with_one_token_are_not_theft(devcore_app: str) -> None:
    created = raw_session(devcore_app)
    barrier = threading.Barrier(10)

    def refresh(_: int) -> str:
        barrier.wait()
        return str(raw_refresh(devcore_app, created["refreshToken"]["token"])["status"])

    with ThreadPoolExecutor(max_workers=10) as pool:
        assert list(pool.map(refresh, range(10))) == ["OK"] * 10


def test_concurrent_sdk_requests(devcore_app: str) -> None:
    init_sdk(devcore_app)
    app = make_app()
    clients = [HeaderClient(app) for _ in range(8)]
    for i, client in enumerate(clients):
        client.login(f"user-{i}")

    def work(client: HeaderClient) -> list[int]:
        codes = [client.refresh().status_code]
        codes.append(client.call("GET", "/me").status_code)
        codes.append(client.call("GET", "/me/db").status_code)
        return codes

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(work, clients)) == [[200, 200, 200]] * 8


# -- bad input: 400, never 500, and nothing written --

_SESSION = {
    "userId": "bad-user",
    "userDataInJWT": {},
    "userDataInDatabase": {},
    "enableAntiCsrf": False,
    "useDynamicSigningKey": True,
}
_VERIFY = {"accessToken": "x", "doAntiCsrfCheck": False, "enableAntiCsrf": False}
_REFRESH = {"refreshToken": "x", "enableAntiCsrf": False, "useDynamicSigningKey": True}
_BAD_REQUESTS: list[tuple[str, str, Any]] = [
    ("POST", "/public/recipe/session", "not json"),
    ("POST", "/public/recipe/session", [1]),
    ("POST", "/public/recipe/session", {**_SESSION, "userId": 5}),
    ("POST", "/public/recipe/session", {**_SESSION, "userDataInJWT": []}),
    ("POST", "/public/recipe/session", {**_SESSION, "userDataInJWT": {"sub": "x"}}),
    ("POST", "/public/recipe/session", {**_SESSION, "userDataInJWT": {"tId": "x"}}),
    ("POST", "/public/recipe/session", {**_SESSION, "userDataInDatabase": None}),
    ("POST", "/public/recipe/session", {**_SESSION, "enableAntiCsrf": "yes"}),
    ("POST", "/public/recipe/session", {**_SESSION, "useDynamicSigningKey": 1}),
    ("POST", "/recipe/session/verify", {}),
    ("POST", "/recipe/session/verify", {**_VERIFY, "accessToken": 1}),
    ("POST", "/recipe/session/verify", {**_VERIFY, "checkDatabase": "true"}),
    ("POST", "/recipe/session/verify", {"accessToken": "x"}),
    ("POST", "/recipe/session/refresh", {**_REFRESH, "useDynamicSigningKey": None}),
    ("POST", "/recipe/session/refresh", {**_REFRESH, "refreshToken": []}),
    ("POST", "/recipe/session/refresh", {**_REFRESH, "antiCsrfToken": 7}),
    ("POST", "/recipe/session/regenerate", {"accessToken": "x", "userDataInJWT": "y"}),
    ("POST", "/recipe/session/regenerate", {"accessToken": "x", "userDataInJWT": {"rsub": 1}}),
    ("POST", "/public/recipe/session/remove", {}),
    ("POST", "/public/recipe/session/remove", {"userId": "u", "sessionHandles": []}),
    ("POST", "/public/recipe/session/remove", {"sessionHandles": [1]}),
    ("POST", "/public/recipe/session/remove", {"sessionHandles": "h"}),
    (
        "POST",
        "/public/recipe/session/remove",
        {"sessionHandles": [], "revokeAcrossAllTenants": True},
    ),
    ("POST", "/public/recipe/session/remove", {"userId": "u", "revokeAcrossAllTenants": "no"}),
    ("GET", "/recipe/session", None),
    ("GET", "/public/recipe/session/user", None),
    ("PUT", "/recipe/session/data", {"sessionHandle": "h", "userDataInDatabase": "x"}),
    ("PUT", "/recipe/session/data", {"userDataInDatabase": {}}),
    ("PUT", "/recipe/jwt/data", {"sessionHandle": "h", "userDataInJWT": {"exp": 1}}),
    ("PUT", "/public/recipe/jwt/data", {"sessionHandle": 5, "userDataInJWT": {}}),
    (
        "POST",
        "/recipe/jwt",
        {"payload": {}, "algorithm": "RS256", "jwksDomain": "d", "validity": 0},
    ),
    (
        "POST",
        "/recipe/jwt",
        {"payload": {}, "algorithm": "RS256", "jwksDomain": "d", "validity": "1"},
    ),
    ("POST", "/recipe/jwt", {"payload": {}, "algorithm": "RS256", "validity": 1}),
]


@pytest.mark.parametrize(("method", "path", "body"), _BAD_REQUESTS)
def test_bad_input_is_a_400(devcore_app: str, method: str, path: str, body: Any) -> None:
    data = body if isinstance(body, str) else json.dumps(body) if body is not None else None
    response = requests.request(method, devcore_app + path, data=data, headers=JSON, timeout=10)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("text/plain")
    handles = requests.get(
        devcore_app + "/public/recipe/session/user", params={"userId": "bad-user"}, timeout=10
    ).json()
    assert handles["sessionHandles"] == []


def test_tenant_scoping(devcore_app: str) -> None:
    tenant = requests.put(
        devcore_app + "/recipe/multitenancy/tenant/v2", json={"tenantId": "t1"}, timeout=10
    )
    assert tenant.json()["status"] == "OK"
    public = raw_session(devcore_app, "u")["session"]["handle"]
    body = {**_SESSION, "userId": "u"}
    in_t1 = core_post(devcore_app, "/t1/recipe/session", body)
    t1 = in_t1["session"]["handle"]
    assert t1.endswith("_t1") and in_t1["session"]["tenantId"] == "t1"
    assert claims(in_t1["accessToken"]["token"])["tId"] == "t1"
    assert raw_verify(devcore_app, in_t1["accessToken"]["token"])["session"]["tenantId"] == "t1"

    def listed(tenant_id: str, across: str) -> requests.Response:
        query = {"userId": "u", "fetchAcrossAllTenants": across}
        url = f"{devcore_app}/{tenant_id}/recipe/session/user"
        return requests.get(url, params=query, timeout=10)

    assert set(listed("public", "true").json()["sessionHandles"]) == {public, t1}
    assert listed("t1", "false").json()["sessionHandles"] == [t1]
    assert listed("public", "false").json()["sessionHandles"] == [public]
    assert listed("t1", "true").status_code == 403
    removed = core_post(
        devcore_app, "/t1/recipe/session/remove", {"userId": "u", "revokeAcrossAllTenants": False}
    )
    assert removed["sessionHandlesRevoked"] == [t1]
    assert listed("public", "true").json()["sessionHandles"] == [public]
    assert (
        requests.post(
            devcore_app + "/t1/recipe/session/remove", json={"userId": "u"}, timeout=10
        ).status_code
        == 403
    )
    # As in the real core, an app-level route takes the public tenant in its path
    # (here it reaches the route, which refuses the empty body) and refuses any other.
    public_verify = requests.post(
        devcore_app + "/public/recipe/session/verify", headers=JSON, timeout=10
    )
    assert (public_verify.status_code, public_verify.text) == (400, "Invalid Json Input\n")
    t1_verify = requests.post(devcore_app + "/t1/recipe/session/verify", headers=JSON, timeout=10)
    assert t1_verify.status_code == 403
    assert t1_verify.text == "Only public tenantId can call this app specific API\n"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(token=st.text(st.characters(blacklist_categories=["Cs"]), max_size=300))
def test_any_access_token_text_is_answered(devcore_app: str, token: str) -> None:
    result = raw_verify(devcore_app, token)
    assert result["status"] == "TRY_REFRESH_TOKEN"
    refreshed = raw_refresh(devcore_app, token)
    assert refreshed["status"] == "UNAUTHORISED"


@pytest.mark.parametrize("segments", ["e30.e30.AA", "eyJraWQiOjF9.e30.AA", "W10.e30.AA", "%%%.a.b"])
def test_malformed_jwts_ask_for_a_refresh(devcore_app: str, segments: str) -> None:
    assert raw_verify(devcore_app, segments)["status"] == "TRY_REFRESH_TOKEN"
