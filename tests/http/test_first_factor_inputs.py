"""Malformed bodies on the first-factor routes that build_recipe_list() wires: a 400, not a 500.

The SDK's own handlers for sign-in, sign-up, password reset and third-party sign-in crash
on a body that is not a JSON object, or on ``formFields`` holding numbers (a 500 from the
framework). The library checks the body's shape in front of them (``_request_guard``).
Each case here answered 500 before that check; the hypothesis test sends arbitrary JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from flask import Flask
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from supertokens_python import RecipeInit

from st_twofactor import TwoFactorConfig, build_recipe_list

from ..helpers.sdk import (
    FAKE_PROVIDER_ID,
    HEADER_MODE,
    FakeProvider,
    body,
    sign_in,
    sign_up,
    status,
)

# Development mode: a password-reset e-mail goes to the log, never to SuperTokens' service.
CONFIG = TwoFactorConfig(development=True, factors=("totp", "recovery-code"))
GOOD_FIELDS = [
    {"id": "email", "value": "eve@example.com"},
    {"id": "password", "value": "correct-horse-battery-1"},
]
CASES: list[tuple[str, Any]] = [
    ("/auth/signin", []),
    ("/auth/signin", "a string"),
    ("/auth/signin", {"formFields": [1, 2]}),
    ("/auth/signin", {"formFields": ["email", "password"]}),
    ("/auth/signup", [None]),
    ("/auth/signup", {"formFields": [None, {"id": "password", "value": "x"}]}),
    ("/auth/user/password/reset/token", 0),
    ("/auth/user/password/reset/token", {"formFields": [False]}),
    ("/auth/user/password/reset", -1),
    ("/auth/user/password/reset", {"formFields": [None], "token": "t"}),
    ("/auth/signinup", []),
    ("/auth/signinup", 0),
    (
        "/auth/signinup",
        {
            "thirdPartyId": FAKE_PROVIDER_ID,
            "redirectURIInfo": {"redirectURIOnProviderDashboard": "x", "redirectURIQueryParams": 5},
        },
    ),
    (
        "/auth/signinup",
        {
            "thirdPartyId": FAKE_PROVIDER_ID,
            "redirectURIInfo": {
                "redirectURIOnProviderDashboard": "x",
                "redirectURIQueryParams": {"code": ["u:e@example.com"]},
            },
        },
    ),
]


def _recipes(fake_provider: FakeProvider) -> list[RecipeInit]:
    return build_recipe_list(config=CONFIG, providers=[fake_provider.input])


@pytest.fixture(params=["fastapi", "flask"])
def client(
    request: pytest.FixtureRequest,
    fastapi_app: Callable[[list[RecipeInit]], FastAPI],
    flask_app: Callable[[list[RecipeInit]], Flask],
    fake_provider: FakeProvider,
) -> Any:
    if request.param == "fastapi":
        return TestClient(fastapi_app(_recipes(fake_provider)), raise_server_exceptions=False)
    app = flask_app(_recipes(fake_provider))
    return app.test_client()


def _post(client: Any, path: str, payload: Any) -> Any:
    headers = {**HEADER_MODE, "content-type": "application/json"}
    data = json.dumps(payload)
    if isinstance(client, TestClient):
        return client.post(path, content=data, headers=headers)
    return client.post(path, data=data, headers=headers)


@pytest.mark.parametrize(("path", "payload"), CASES, ids=[f"{p} {json.dumps(b)}" for p, b in CASES])
def test_a_malformed_body_is_a_400_with_a_message(client: Any, path: str, payload: Any) -> None:
    response = _post(client, path, payload)
    assert status(response) == 400, (
        status(response),
        response.text if hasattr(response, "text") else response.data,
    )
    assert isinstance(body(response)["message"], str) and body(response)["message"]


def test_well_formed_requests_still_work(client: Any) -> None:
    """The checks refuse only what the SDK cannot handle: nothing else changes."""
    assert body(sign_up(client, "eve@example.com"))["status"] == "OK"
    assert body(sign_in(client, "eve@example.com"))["status"] == "OK"
    wrong = _post(
        client, "/auth/signin", {"formFields": [GOOD_FIELDS[0], {"id": "password", "value": 5}]}
    )
    assert status(wrong) == 400  # the SDK's own check, as before
    assert (
        body(_post(client, "/auth/user/password/reset/token", {"formFields": GOOD_FIELDS[:1]}))[
            "status"
        ]
        == "OK"
    )


any_character = st.characters(codec=None, exclude_categories=()) | st.sampled_from(
    ["\ud800", "\udfff", "\x00", "\x1f", "\x85", "\u200b", "\u202e"]
)
"""Every code point, surrogates (JSON escapes once dumped) and controls included."""


def any_text(**bounds: int) -> st.SearchStrategy[str]:
    """Strings of :data:`any_character`, joined from a list: ``st.text()`` leaves
    surrogates out even when its alphabet has them."""
    return st.lists(any_character, **bounds).map("".join)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | any_text(max_size=12)
    | st.sampled_from(["a\udfff@example.com", "e@example.com", "pass\ud800word-1"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(any_text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)
form_field = st.fixed_dictionaries(
    {}, optional={"id": st.sampled_from(["email", "password"]) | json_values, "value": json_values}
)
plausible_form_fields = st.builds(
    lambda local, password: [
        {"id": "email", "value": f"{local}@example.com"},
        {"id": "password", "value": f"{password}Pass-word-1"},
    ],
    any_text(min_size=1, max_size=8),
    any_text(max_size=12),
)
"""An e-mail and a password that pass the SDK's own field checks, holding any characters:
these reach the core (a lone surrogate there was a 500)."""
email_password_bodies = st.fixed_dictionaries(
    {},
    optional={
        "formFields": plausible_form_fields
        | plausible_form_fields
        | st.lists(form_field | json_values, max_size=3)
        | json_values,
        "token": json_values,
        "shouldTryLinkingWithSessionUser": json_values,
    },
)
third_party_bodies = st.fixed_dictionaries(
    {},
    optional={
        "thirdPartyId": st.just("unknown-provider") | json_values,
        "clientType": json_values,
        "redirectURIInfo": st.fixed_dictionaries(
            {},
            optional={
                "redirectURIOnProviderDashboard": json_values,
                "redirectURIQueryParams": json_values,
                "pkceCodeVerifier": json_values,
            },
        )
        | json_values,
        "oAuthTokens": json_values,
        "shouldTryLinkingWithSessionUser": json_values,
    },
)
BODIES = {
    "/auth/signin": email_password_bodies,
    "/auth/signup": email_password_bodies,
    "/auth/user/password/reset/token": email_password_bodies,
    "/auth/user/password/reset": email_password_bodies,
    "/auth/signinup": third_party_bodies,
}


@pytest.mark.slow
@pytest.mark.parametrize("path", list(BODIES))
@settings(max_examples=100, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_any_json_body_is_never_a_500(
    fastapi_app: Callable[[list[RecipeInit]], FastAPI],
    fake_provider: FakeProvider,
    path: str,
    data: st.DataObject,
) -> None:
    payload = data.draw(BODIES[path] | json_values, label="body")
    client = _client_once(fastapi_app, fake_provider)
    response = _post(client, path, payload)
    event(f"{response.status_code}")
    assert response.status_code < 500, (path, payload, response.text[:200])
    if response.status_code == 200:
        assert isinstance(response.json().get("status"), str)


_CLIENTS: dict[int, TestClient] = {}


def _client_once(
    fastapi_app: Callable[[list[RecipeInit]], FastAPI], fake_provider: FakeProvider
) -> TestClient:
    """One app per test function (hypothesis runs the body many times with one fixture)."""
    key = id(fastapi_app)
    if key not in _CLIENTS:
        _CLIENTS.clear()
        _CLIENTS[key] = TestClient(
            fastapi_app(_recipes(fake_provider)), raise_server_exceptions=False
        )
    return _CLIENTS[key]
