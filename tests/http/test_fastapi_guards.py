"""st_twofactor.fastapi: require_2fa (with step-up) and verify_session_without_2fa."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from supertokens_python import RecipeInit
from supertokens_python.recipe import emailpassword, session
from supertokens_python.recipe.session import SessionContainer, SessionOverrideConfig
from supertokens_python.recipe.session.framework.fastapi import verify_session

from st_twofactor import mark_completed, override_session_functions
from st_twofactor.fastapi import require_2fa, verify_session_without_2fa

from ..helpers.sdk import API_DOMAIN, Tokens, invalid_claim_ids, jwt_payload, sign_up

MakeApp = Callable[[list[RecipeInit]], FastAPI]


def make_client(make: MakeApp, *, install_override: bool = True) -> TestClient:
    """An app with ``/plain``, ``/guarded``, ``/fresh`` (max_age=300), ``/open``,
    ``/maybe`` (session optional) and ``/complete?age=S`` (2FA completed S seconds ago)."""
    override = SessionOverrideConfig(functions=override_session_functions())
    app = make(
        [emailpassword.init(), session.init(override=override if install_override else None)]
    )
    plain = Depends(verify_session())
    guarded = Depends(require_2fa())
    fresh = Depends(require_2fa(max_age=300))
    opened = Depends(verify_session_without_2fa())
    maybe = Depends(verify_session_without_2fa(session_required=False))

    @app.get("/plain")
    async def plain_route(s: SessionContainer = plain) -> dict[str, Any]:
        return {"user": s.get_user_id()}

    @app.get("/guarded")
    async def guarded_route(s: SessionContainer = guarded) -> dict[str, Any]:
        assert isinstance(s, SessionContainer)
        return {"user": s.get_user_id()}

    @app.get("/fresh")
    async def fresh_route(s: SessionContainer = fresh) -> dict[str, Any]:
        return {"user": s.get_user_id()}

    @app.get("/open")
    async def open_route(s: SessionContainer = opened) -> dict[str, Any]:
        return {"user": s.get_user_id()}

    @app.get("/maybe")
    async def maybe_route(s: SessionContainer | None = maybe) -> dict[str, Any]:
        return {"user": s.get_user_id() if s else None}

    @app.post("/complete")
    async def complete(age: float = 0.0, s: SessionContainer = opened) -> None:
        await mark_completed(s, now=lambda: time.time() - age)

    return TestClient(app, base_url=API_DOMAIN)


def signed_up(client: TestClient) -> tuple[str, Tokens]:
    answer = sign_up(client, "ada@example.com")
    return answer.json()["user"]["id"], Tokens.of(answer)


def complete(client: TestClient, tokens: Tokens, age: float = 0.0) -> Tokens:
    answer = client.post("/complete", params={"age": age}, headers=tokens.auth())
    assert answer.status_code == 200
    return Tokens.of(answer)


@pytest.mark.slow
def test_require_2fa_gives_the_session_only_after_2fa(fastapi_app: MakeApp) -> None:
    client = make_client(fastapi_app)
    user_id, tokens = signed_up(client)

    assert invalid_claim_ids(client.get("/guarded", headers=tokens.auth())) == [
        "2fa-completed",
        "st-mfa",
    ]
    assert client.get("/open", headers=tokens.auth()).json() == {"user": user_id}

    done = complete(client, tokens)
    assert client.get("/guarded", headers=done.auth()).json() == {"user": user_id}


def test_no_session_is_401(fastapi_app: MakeApp) -> None:
    client = make_client(fastapi_app)
    for path in ("/guarded", "/fresh", "/open"):
        assert client.get(path).status_code == 401, path
    assert client.get("/maybe").json() == {"user": None}


def test_require_2fa_protects_even_without_the_global_override(fastapi_app: MakeApp) -> None:
    client = make_client(fastapi_app, install_override=False)
    user_id, tokens = signed_up(client)
    assert "2fa-completed" not in jwt_payload(tokens.access or "")

    assert client.get("/plain", headers=tokens.auth()).status_code == 200
    assert invalid_claim_ids(client.get("/guarded", headers=tokens.auth())) == [
        "2fa-completed",
        "st-mfa",
    ]
    assert invalid_claim_ids(client.get("/fresh", headers=tokens.auth())) == [
        "2fa-completed",
        "st-mfa",
    ]

    done = complete(client, tokens)
    assert client.get("/guarded", headers=done.auth()).json() == {"user": user_id}


def test_step_up_refuses_an_old_2fa_on_that_route_only(fastapi_app: MakeApp) -> None:
    client = make_client(fastapi_app)
    _, tokens = signed_up(client)

    stale = complete(client, tokens, age=301)
    refused = client.get("/fresh", headers=stale.auth())
    assert invalid_claim_ids(refused) == ["2fa-completed"]
    reason = refused.json()["claimValidationErrors"][0]["reason"]
    assert reason["message"] == "expired" and reason["maxAgeInSeconds"] == 300
    assert 300 < reason["ageInSeconds"] < 330
    assert refused.headers.get("st-access-token") is None  # the session was not rewritten

    # the same session still passes everywhere else, before and after the refusal
    for path in ("/guarded", "/plain", "/fresh", "/guarded"):
        answer = client.get(path, headers=stale.auth())
        assert answer.status_code == (403 if path == "/fresh" else 200), path
        assert answer.headers.get("st-access-token") is None

    fresh = complete(client, stale, age=0)
    assert client.get("/fresh", headers=fresh.auth()).status_code == 200


def test_step_up_without_2fa_is_refused_as_wrong_value(fastapi_app: MakeApp) -> None:
    client = make_client(fastapi_app)
    _, tokens = signed_up(client)
    refused = client.get("/fresh", headers=tokens.auth())
    assert invalid_claim_ids(refused) == ["2fa-completed", "st-mfa"]
    assert refused.json()["claimValidationErrors"][0]["reason"]["message"] == "wrong value"


def test_step_up_with_an_injected_clock(fastapi_app: MakeApp) -> None:
    clock = [time.time()]
    app = fastapi_app(
        [
            emailpassword.init(),
            session.init(override=SessionOverrideConfig(functions=override_session_functions())),
        ]
    )
    fresh = Depends(require_2fa(max_age=60, now=lambda: clock[0]))
    opened = Depends(verify_session_without_2fa())

    @app.get("/fresh")
    async def fresh_route(s: SessionContainer = fresh) -> None:
        return None

    @app.post("/complete")
    async def complete_route(s: SessionContainer = opened) -> None:
        await mark_completed(s, now=lambda: clock[0])

    client = TestClient(app, base_url=API_DOMAIN)
    _, tokens = signed_up(client)
    done = Tokens.of(client.post("/complete", headers=tokens.auth()))
    assert client.get("/fresh", headers=done.auth()).status_code == 200
    clock[0] += 61
    assert invalid_claim_ids(client.get("/fresh", headers=done.auth())) == ["2fa-completed"]
