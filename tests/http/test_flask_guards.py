"""st_twofactor.flask, through the SDK's Flask middleware against the development core."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask, g, request
from flask.testing import FlaskClient
from supertokens_python import RecipeInit
from supertokens_python.async_to_sync_wrapper import sync
from supertokens_python.recipe import emailpassword, session, thirdparty
from supertokens_python.recipe.session import SessionOverrideConfig
from supertokens_python.recipe.session.framework.flask import verify_session

from st_twofactor import mark_completed, override_session_functions
from st_twofactor.flask import get_session, require_2fa, verify_session_without_2fa

from ..helpers.sdk import (
    FakeProvider,
    Tokens,
    invalid_claim_ids,
    jwt_payload,
    sign_in,
    sign_up,
    third_party_sign_in,
    with_payload,
)

MakeApp = Callable[[list[RecipeInit]], Flask]


@pytest.fixture
def client(flask_app: MakeApp, fake_provider: FakeProvider) -> FlaskClient:
    """``/plain``, ``/guarded``, ``/fresh`` (max_age=300), ``/open``, ``/complete?age=S``."""
    app = flask_app(
        [
            emailpassword.init(),
            thirdparty.init(
                sign_in_and_up_feature=thirdparty.SignInAndUpFeature(
                    providers=[fake_provider.input]
                )
            ),
            session.init(override=SessionOverrideConfig(functions=override_session_functions())),
        ]
    )

    @app.get("/plain")
    @verify_session()
    def plain() -> dict[str, Any]:
        return {"user": g.supertokens.get_user_id()}

    @app.get("/guarded")
    @require_2fa()
    def guarded() -> dict[str, Any]:
        return {"user": get_session().get_user_id()}

    @app.get("/fresh")
    @require_2fa(max_age=300)
    def fresh() -> dict[str, Any]:
        return {"user": get_session().get_user_id()}

    @app.get("/open")
    @verify_session_without_2fa()
    def open_route() -> dict[str, Any]:
        return {"user": get_session().get_user_id(), "handle": get_session().get_handle()}

    @app.post("/complete")
    @verify_session_without_2fa()
    def complete() -> dict[str, Any]:
        age = float(request.args.get("age", "0"))
        sync(mark_completed(get_session(), now=lambda: time.time() - age))
        return {}

    return app.test_client()


def complete(client: FlaskClient, tokens: Tokens, age: float = 0.0) -> Tokens:
    answer = client.post(f"/complete?age={age}", headers=tokens.auth())
    assert answer.status_code == 200
    return Tokens.of(answer)


def test_email_password_and_third_party_start_incomplete(
    client: FlaskClient, fake_provider: FakeProvider
) -> None:
    up = sign_up(client, "ada@example.com")
    assert up.get_json()["status"] == "OK"
    assert jwt_payload(Tokens.of(up).access or "")["2fa-completed"]["v"] is False
    signed_in = sign_in(client, "ada@example.com")
    assert jwt_payload(Tokens.of(signed_in).access or "")["2fa-completed"]["v"] is False

    social = third_party_sign_in(client, "gh-7", "grace@example.com")
    assert social.get_json()["status"] == "OK"
    assert jwt_payload(Tokens.of(social).access or "")["2fa-completed"]["v"] is False
    assert "get_user_info" in fake_provider.calls


def test_guards_and_completion_in_the_same_session(client: FlaskClient) -> None:
    up = sign_up(client, "ada@example.com")
    user_id, tokens = up.get_json()["user"]["id"], Tokens.of(up)
    handle = jwt_payload(tokens.access or "")["sessionHandle"]

    assert invalid_claim_ids(client.get("/plain", headers=tokens.auth())) == [
        "2fa-completed",
        "st-mfa",
    ]
    assert invalid_claim_ids(client.get("/guarded", headers=tokens.auth())) == [
        "2fa-completed",
        "st-mfa",
    ]
    assert client.get("/open", headers=tokens.auth()).get_json()["handle"] == handle

    done = complete(client, tokens)
    assert done.refresh is None and jwt_payload(done.access or "")["sessionHandle"] == handle
    assert client.get("/guarded", headers=done.auth()).get_json() == {"user": user_id}
    assert client.get("/plain", headers=done.auth()).status_code == 200


def test_no_session_and_forged_payload_are_401(client: FlaskClient) -> None:
    tokens = Tokens.of(sign_up(client, "ada@example.com"))
    payload = jwt_payload(tokens.access or "")
    payload["2fa-completed"]["v"] = True
    forged = Tokens(access=with_payload(tokens.access or "", payload), refresh=None)
    for path in ("/plain", "/guarded", "/open"):
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers=forged.auth()).status_code == 401, path


def test_refresh_keeps_the_claim(client: FlaskClient) -> None:
    tokens = Tokens.of(sign_up(client, "ada@example.com"))
    done = complete(client, tokens)
    done.refresh = tokens.refresh
    refreshed = Tokens.of(client.post("/auth/session/refresh", headers=done.refresh_auth()))
    assert refreshed.access is not None and refreshed.access != done.access
    assert (
        jwt_payload(refreshed.access)["2fa-completed"]
        == jwt_payload(done.access or "")["2fa-completed"]
    )
    assert client.get("/guarded", headers=refreshed.auth()).status_code == 200


def test_step_up_refuses_an_old_2fa_on_that_route_only(client: FlaskClient) -> None:
    tokens = Tokens.of(sign_up(client, "ada@example.com"))
    stale = complete(client, tokens, age=400)

    refused = client.get("/fresh", headers=stale.auth())
    assert invalid_claim_ids(refused) == ["2fa-completed"]
    assert refused.get_json()["claimValidationErrors"][0]["reason"]["message"] == "expired"
    assert client.get("/guarded", headers=stale.auth()).status_code == 200
    assert client.get("/plain", headers=stale.auth()).status_code == 200

    fresh = complete(client, stale)
    assert client.get("/fresh", headers=fresh.auth()).status_code == 200


def test_get_session_outside_a_guarded_view_is_an_error(flask_app: MakeApp) -> None:
    app = flask_app([emailpassword.init(), session.init()])
    with app.test_request_context("/"), pytest.raises(RuntimeError, match="no verified session"):
        get_session()
