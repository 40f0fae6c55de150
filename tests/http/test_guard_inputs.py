"""``guard_inputs``: the input checks of ``build_recipe_list`` for an app that calls
``emailpassword.init``, ``thirdparty.init`` and ``passwordless.init`` itself.

Without them the SDK answers a sign-in body that is a JSON array with a 500; with them,
400 for malformed bodies and 413 for bodies over the limit, on FastAPI and Flask.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from supertokens_python import RecipeInit
from supertokens_python.ingredients.emaildelivery.types import EmailDeliveryConfig
from supertokens_python.recipe import emailpassword, passwordless, session, thirdparty, usermetadata
from supertokens_python.recipe.emailpassword import EmailPasswordOverrideConfig
from supertokens_python.recipe.passwordless import (
    ContactEmailOnlyConfig,
    PasswordlessOverrideConfig,
)
from supertokens_python.recipe.session import SessionOverrideConfig
from supertokens_python.recipe.thirdparty import ThirdPartyOverrideConfig
from supertokens_python.recipe.thirdparty.utils import SignInAndUpFeature

from st_twofactor import (
    ConfigurationError,
    TwoFactorConfig,
    guard_inputs,
    override_passwordless_apis,
    override_session_functions,
)
from st_twofactor.http._body import MAX_BODY_BYTES

from ..helpers.outbox import CapturedEmail, Sent
from ..helpers.sdk import HEADER_MODE, FakeProvider, body, sign_up, status

CONFIG = TwoFactorConfig(factors=("totp", "otp-email", "recovery-code"), development=True)
HUGE = {"formFields": [{"id": "email", "value": "x" * (MAX_BODY_BYTES + 1)}]}


@pytest.fixture(params=["fastapi", "flask"])
def make_client(
    request: pytest.FixtureRequest,
    fastapi_app: Callable[[list[RecipeInit]], Any],
    flask_app: Callable[[list[RecipeInit]], Any],
) -> Callable[[list[RecipeInit]], Any]:
    """``make_client(recipe_list)``: a test client of an app with those recipes."""

    def make(recipe_list: list[RecipeInit]) -> Any:
        if request.param == "flask":
            return flask_app(recipe_list).test_client()
        from fastapi.testclient import TestClient

        return TestClient(fastapi_app(recipe_list), base_url="http://localhost")

    return make


def own_recipes(
    provider: FakeProvider, outbox: list[Sent], passwordless_apis: Any = guard_inputs
) -> list[RecipeInit]:
    """An app's own recipes, each with ``guard_inputs`` as its APIs override."""
    return [
        emailpassword.init(override=EmailPasswordOverrideConfig(apis=guard_inputs)),
        thirdparty.init(
            sign_in_and_up_feature=SignInAndUpFeature(providers=[provider.input]),
            override=ThirdPartyOverrideConfig(apis=guard_inputs),
        ),
        passwordless.init(
            contact_config=ContactEmailOnlyConfig(),
            flow_type="USER_INPUT_CODE",
            email_delivery=EmailDeliveryConfig(service=CapturedEmail(outbox)),
            override=PasswordlessOverrideConfig(apis=passwordless_apis),
        ),
        usermetadata.init(),
        session.init(override=SessionOverrideConfig(functions=override_session_functions(CONFIG))),
    ]


def post(client: Any, path: str, payload: Any) -> Any:
    return client.post(path, json=payload, headers=HEADER_MODE)


def test_an_own_recipe_app_answers_bad_input_400_and_huge_bodies_413(
    make_client: Callable[[list[RecipeInit]], Any], fake_provider: FakeProvider
) -> None:
    outbox: list[Sent] = []
    client = make_client(own_recipes(fake_provider, outbox))
    for path in ("/auth/signin", "/auth/signup", "/auth/user/password/reset/token"):
        for payload in ([], [1], "x", 5, {"formFields": [1]}, {"formFields": "x"}):
            response = post(client, path, payload)
            assert status(response) == 400, (path, payload, body(response))
            assert body(response)["message"]
        assert status(post(client, path, HUGE)) == 413, path
    for payload in ([], {"thirdPartyId": 5}, {"thirdPartyId": "fake-oauth", "redirectURIInfo": []}):
        assert status(post(client, "/auth/signinup", payload)) == 400, payload
    for payload in (
        [],
        {"email": 5},
        {"email": "a@example.com", "shouldTryLinkingWithSessionUser": 1},
    ):
        assert status(post(client, "/auth/signinup/code", payload)) == 400, payload
    assert status(post(client, "/auth/signinup/code", {"email": "x" * MAX_BODY_BYTES})) == 413
    assert outbox == []

    # Good input goes on unchanged.
    assert body(sign_up(client, "ann@example.com"))["status"] == "OK"
    asked = body(post(client, "/auth/signinup/code", {"email": "pia@example.com"}))
    assert asked["status"] == "OK" and outbox[-1].first_factor is True


@pytest.mark.parametrize("ours_inside", [True, False], ids=["guard-outside", "guard-inside"])
def test_with_the_second_factor_override_a_request_without_a_session_is_still_401(
    make_client: Callable[[list[RecipeInit]], Any],
    fake_provider: FakeProvider,
    ours_inside: bool,
) -> None:
    """On passwordless, the second factor's own checks are kept, whichever way the two
    overrides are composed: without a session every request is a 401, malformed or not."""
    ours = override_passwordless_apis(CONFIG)

    def composed(original: Any) -> Any:
        if ours_inside:
            return guard_inputs(ours(original))
        return ours(guard_inputs(original))

    outbox: list[Sent] = []
    client = make_client(own_recipes(fake_provider, outbox, passwordless_apis=composed))
    for payload in ([], {"email": 5}, {"email": "ann@example.com"}):
        assert status(post(client, "/auth/signinup/code", payload)) == 401, payload
    assert status(post(client, "/auth/signin", [])) == 400
    assert outbox == []


def test_guard_inputs_refuses_what_is_not_a_first_factor_api() -> None:
    with pytest.raises(ConfigurationError, match="apis override of emailpassword"):
        guard_inputs(object())
