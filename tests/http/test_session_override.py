"""The session override, through the SDK's FastAPI middleware against the development core."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from supertokens_python import RecipeInit
from supertokens_python.recipe import emailpassword, session, thirdparty, usermetadata
from supertokens_python.recipe.session import SessionContainer, SessionOverrideConfig
from supertokens_python.recipe.session.framework.fastapi import verify_session
from supertokens_python.recipe.session.interfaces import RecipeInterface

from st_twofactor import (
    SecondFactorClaim,
    TwoFactorConfig,
    make_second_factor_claim,
    mark_completed,
    override_session_functions,
)
from st_twofactor.fastapi import verify_session_without_2fa
from st_twofactor.session_override import SessionFunctionsOverride, without_2fa
from st_twofactor.stores import InMemoryStore, TwoFactorState

from ..helpers.sdk import (
    API_DOMAIN,
    FakeProvider,
    Tokens,
    invalid_claim_ids,
    jwt_payload,
    sign_in,
    sign_up,
    third_party_sign_in,
    with_payload,
)

MakeApp = Callable[[list[RecipeInit]], FastAPI]


def recipes(
    functions: SessionFunctionsOverride, provider: FakeProvider | None = None
) -> list[RecipeInit]:
    providers = [provider.input] if provider else []
    return [
        emailpassword.init(),
        thirdparty.init(sign_in_and_up_feature=thirdparty.SignInAndUpFeature(providers=providers)),
        usermetadata.init(),
        session.init(override=SessionOverrideConfig(functions=functions)),
    ]


def add_routes(app: FastAPI) -> FastAPI:
    """``/protected`` (plain SDK verify_session), ``/open`` (opted out), ``/complete``."""
    with_session = Depends(verify_session())
    without_2fa_session = Depends(verify_session_without_2fa())

    @app.get("/protected")
    async def protected(s: SessionContainer = with_session) -> dict[str, Any]:
        return {"handle": s.get_handle()}

    @app.get("/open")
    async def open_route(s: SessionContainer = without_2fa_session) -> dict[str, Any]:
        return {"handle": s.get_handle(), "payload": s.get_access_token_payload()}

    @app.post("/complete")  # stands in for a factor route that verified a code
    async def complete(s: SessionContainer = without_2fa_session) -> None:
        await mark_completed(s)

    return app


def client_for(make: MakeApp, recipe_list: list[RecipeInit]) -> TestClient:
    return TestClient(add_routes(make(recipe_list)), base_url=API_DOMAIN)


def claim_of(tokens: Tokens) -> Any:
    assert tokens.access is not None
    return jwt_payload(tokens.access).get("2fa-completed")


# -- first factors start incomplete --


def test_email_password_sign_up_and_sign_in_start_incomplete(fastapi_app: MakeApp) -> None:
    client = client_for(fastapi_app, recipes(override_session_functions()))

    signed_up = sign_up(client, "ada@example.com")
    assert signed_up.json()["status"] == "OK"
    up_claim = claim_of(Tokens.of(signed_up))
    assert up_claim["v"] is False and isinstance(up_claim["t"], int)

    signed_in = sign_in(client, "ada@example.com")
    assert signed_in.json()["status"] == "OK"
    assert claim_of(Tokens.of(signed_in))["v"] is False


def test_third_party_sign_in_starts_incomplete(
    fastapi_app: MakeApp, fake_provider: FakeProvider
) -> None:
    client = client_for(fastapi_app, recipes(override_session_functions(), fake_provider))

    for _ in range(2):  # sign-up, then sign-in of the same provider user
        answer = third_party_sign_in(client, "gh-1", "grace@example.com")
        assert answer.json()["status"] == "OK", answer.json()
        assert claim_of(Tokens.of(answer))["v"] is False
    assert answer.json()["createdNewRecipeUser"] is False
    assert fake_provider.calls.count("get_user_info") == 2


# -- enforcement, opting out, completion in the same session --


def test_protected_route_refuses_until_completed_in_the_same_session(
    fastapi_app: MakeApp,
) -> None:
    client = client_for(fastapi_app, recipes(override_session_functions()))
    tokens = Tokens.of(sign_up(client, "ada@example.com"))
    handle = jwt_payload(tokens.access or "")["sessionHandle"]

    refused = client.get("/protected", headers=tokens.auth())
    assert invalid_claim_ids(refused) == ["2fa-completed", "st-mfa"]
    assert refused.json()["claimValidationErrors"][0]["reason"]["actualValue"] is False

    opted_out = client.get("/open", headers=tokens.auth())
    assert opted_out.status_code == 200
    assert opted_out.json()["handle"] == handle

    completed = client.post("/complete", headers=tokens.auth())
    assert completed.status_code == 200
    new_tokens = Tokens.of(completed)
    assert new_tokens.access is not None and new_tokens.access != tokens.access
    assert new_tokens.refresh is None  # the same session: only the access token changes
    assert claim_of(new_tokens)["v"] is True
    assert jwt_payload(new_tokens.access)["sessionHandle"] == handle

    allowed = client.get("/protected", headers=new_tokens.auth())
    assert allowed.status_code == 200
    assert allowed.json()["handle"] == handle


def test_forged_payload_is_refused(fastapi_app: MakeApp) -> None:
    client = client_for(fastapi_app, recipes(override_session_functions()))
    tokens = Tokens.of(sign_up(client, "ada@example.com"))
    payload = jwt_payload(tokens.access or "")
    payload["2fa-completed"] = {"v": True, "t": payload["2fa-completed"]["t"]}
    forged = Tokens(access=with_payload(tokens.access or "", payload), refresh=None)

    for path in ("/protected", "/open"):
        answer = client.get(path, headers=forged.auth())
        assert answer.status_code == 401, (path, answer.json())


def test_refresh_keeps_the_claim(fastapi_app: MakeApp) -> None:
    client = client_for(fastapi_app, recipes(override_session_functions()))
    tokens = Tokens.of(sign_up(client, "ada@example.com"))

    refreshed = Tokens.of(client.post("/auth/session/refresh", headers=tokens.refresh_auth()))
    assert claim_of(refreshed)["v"] is False
    assert invalid_claim_ids(client.get("/protected", headers=refreshed.auth()))

    completed = Tokens.of(client.post("/complete", headers=refreshed.auth()))
    completed.refresh = refreshed.refresh
    again = Tokens.of(client.post("/auth/session/refresh", headers=completed.refresh_auth()))
    assert claim_of(again) == claim_of(completed)
    assert client.get("/protected", headers=again.auth()).status_code == 200


def test_session_made_before_install_is_not_completed(fastapi_app: MakeApp) -> None:
    """A session without the claim (made without the override) is refused, not let through."""
    before = TestClient(
        add_routes(fastapi_app([emailpassword.init(), session.init()])), base_url=API_DOMAIN
    )
    tokens = Tokens.of(sign_up(before, "old@example.com"))
    assert "2fa-completed" not in jwt_payload(tokens.access or "")
    assert before.get("/protected", headers=tokens.auth()).status_code == 200

    after = client_for(fastapi_app, recipes(override_session_functions()))  # same core app
    refused = after.get("/protected", headers=tokens.auth())
    assert invalid_claim_ids(refused) == ["2fa-completed", "st-mfa"]
    assert after.get("/open", headers=tokens.auth()).status_code == 200


def test_cookie_based_session(fastapi_app: MakeApp) -> None:
    client = client_for(fastapi_app, recipes(override_session_functions()))
    answer = client.post(
        "/auth/signup",
        json={
            "formFields": [
                {"id": "email", "value": "ada@example.com"},
                {"id": "password", "value": "correct-horse-battery-1"},
            ]
        },
        headers={"st-auth-mode": "cookie"},
    )
    assert answer.status_code == 200
    access = client.cookies.get("sAccessToken")
    assert access is not None and jwt_payload(access)["2fa-completed"]["v"] is False

    assert invalid_claim_ids(client.get("/protected")) == ["2fa-completed", "st-mfa"]
    assert client.get("/open").status_code == 200
    assert client.post("/complete").status_code == 200
    assert jwt_payload(client.cookies["sAccessToken"])["2fa-completed"]["v"] is True
    assert client.get("/protected").status_code == 200


# -- composing with the app's own override --


def app_override(log: list[str]) -> SessionFunctionsOverride:
    """An app's session override: adds its own claim and records that it ran."""

    def override(original: RecipeInterface) -> RecipeInterface:
        original_create = original.create_new_session
        original_validators = original.get_global_claim_validators

        async def create_new_session(
            user_id: str,
            recipe_user_id: Any,
            access_token_payload: dict[str, Any] | None,
            session_data_in_database: dict[str, Any] | None,
            disable_anti_csrf: bool | None,
            tenant_id: str,
            user_context: dict[str, Any],
        ) -> SessionContainer:
            log.append("create_new_session")
            payload = {**(access_token_payload or {}), "role": "reader"}
            return await original_create(
                user_id=user_id,
                recipe_user_id=recipe_user_id,
                access_token_payload=payload,
                session_data_in_database=session_data_in_database,
                disable_anti_csrf=disable_anti_csrf,
                tenant_id=tenant_id,
                user_context=user_context,
            )

        def get_global_claim_validators(
            tenant_id: str,
            user_id: str,
            recipe_user_id: Any,
            claim_validators_added_by_other_recipes: list[Any],
            user_context: dict[str, Any],
        ) -> Any:
            log.append("get_global_claim_validators")
            validators = original_validators(
                tenant_id=tenant_id,
                user_id=user_id,
                recipe_user_id=recipe_user_id,
                claim_validators_added_by_other_recipes=claim_validators_added_by_other_recipes,
                user_context=user_context,
            )
            assert isinstance(validators, list), "the library's override must stay synchronous"
            return validators

        original.create_new_session = create_new_session  # type: ignore[method-assign]
        original.get_global_claim_validators = get_global_claim_validators  # type: ignore[method-assign]
        return original

    return override


@pytest.mark.parametrize("ours_inside", [True, False], ids=["app-wraps-ours", "ours-wraps-app"])
def test_app_override_still_runs_in_either_order(fastapi_app: MakeApp, ours_inside: bool) -> None:
    log: list[str] = []
    ours, theirs = override_session_functions(), app_override(log)
    if ours_inside:
        functions: SessionFunctionsOverride = lambda impl: theirs(ours(impl))  # noqa: E731
    else:
        functions = lambda impl: ours(theirs(impl))  # noqa: E731
    client = client_for(fastapi_app, recipes(functions))

    tokens = Tokens.of(sign_up(client, "ada@example.com"))
    payload = jwt_payload(tokens.access or "")
    assert payload["role"] == "reader" and payload["2fa-completed"]["v"] is False
    assert invalid_claim_ids(client.get("/protected", headers=tokens.auth()))
    assert log == ["create_new_session", "get_global_claim_validators"]

    completed = Tokens.of(client.post("/complete", headers=tokens.auth()))
    assert jwt_payload(completed.access or "")["role"] == "reader"
    assert client.get("/protected", headers=completed.auth()).status_code == 200


def test_a_payload_given_by_the_caller_cannot_pre_complete(fastapi_app: MakeApp) -> None:
    def pre_complete(original: RecipeInterface) -> RecipeInterface:
        create = original.create_new_session

        async def create_new_session(
            user_id: str,
            recipe_user_id: Any,
            access_token_payload: dict[str, Any] | None,
            session_data_in_database: dict[str, Any] | None,
            disable_anti_csrf: bool | None,
            tenant_id: str,
            user_context: dict[str, Any],
        ) -> SessionContainer:
            return await create(
                user_id=user_id,
                recipe_user_id=recipe_user_id,
                access_token_payload={"2fa-completed": {"v": True, "t": 1}},
                session_data_in_database=session_data_in_database,
                disable_anti_csrf=disable_anti_csrf,
                tenant_id=tenant_id,
                user_context=user_context,
            )

        original.create_new_session = create_new_session  # type: ignore[method-assign]
        return original

    ours = override_session_functions()
    client = client_for(fastapi_app, recipes(lambda impl: pre_complete(ours(impl))))
    tokens = Tokens.of(sign_up(client, "ada@example.com"))
    assert claim_of(tokens)["v"] is False
    assert invalid_claim_ids(client.get("/protected", headers=tokens.auth()))


# -- policy: who must do 2FA --


def test_not_required_and_no_factor_passes(fastapi_app: MakeApp) -> None:
    config = TwoFactorConfig(required=False, development=True)
    client = client_for(fastapi_app, recipes(override_session_functions(config)))
    tokens = Tokens.of(sign_up(client, "ada@example.com"))
    assert claim_of(tokens)["v"] is True
    assert client.get("/protected", headers=tokens.auth()).status_code == 200


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_required_per_user_by_callable(fastapi_app: MakeApp, kind: str) -> None:
    seen: list[tuple[str, str, bool]] = []

    def decide(user_id: str, tenant_id: str, user_context: dict[str, Any]) -> bool:
        seen.append((user_id, tenant_id, isinstance(user_context, dict)))
        return user_id in admins

    async def decide_async(user_id: str, tenant_id: str, user_context: dict[str, Any]) -> bool:
        return decide(user_id, tenant_id, user_context)

    admins: set[str] = set()
    config = TwoFactorConfig(required=decide if kind == "sync" else decide_async, development=True)
    client = client_for(fastapi_app, recipes(override_session_functions(config)))

    user = sign_up(client, "user@example.com")
    assert client.get("/protected", headers=Tokens.of(user).auth()).status_code == 200

    admin_id = sign_up(client, "admin@example.com").json()["user"]["id"]
    admins.add(admin_id)
    admin = sign_in(client, "admin@example.com")
    assert invalid_claim_ids(client.get("/protected", headers=Tokens.of(admin).auth()))
    assert seen[-1] == (admin_id, "public", True)


def test_policy_answer_other_than_false_means_required(fastapi_app: MakeApp) -> None:
    config = TwoFactorConfig(required=lambda *_: None, development=True)  # type: ignore[arg-type,return-value]
    client = client_for(fastapi_app, recipes(override_session_functions(config)))
    tokens = Tokens.of(sign_up(client, "ada@example.com"))
    assert claim_of(tokens)["v"] is False


def test_not_required_but_enrolled_user_must_do_2fa(fastapi_app: MakeApp) -> None:
    store = InMemoryStore()
    config = TwoFactorConfig(required=False, development=True, store=store)
    client = client_for(fastapi_app, recipes(override_session_functions(config)))
    user_id = sign_up(client, "ada@example.com").json()["user"]["id"]

    enrol_factor(store, user_id)
    tokens = Tokens.of(sign_in(client, "ada@example.com"))
    assert claim_of(tokens)["v"] is False
    assert invalid_claim_ids(client.get("/protected", headers=tokens.auth()))


def enrol_factor(store: InMemoryStore, user_id: str) -> None:
    def pin_email(state: TwoFactorState) -> None:
        state.email = "ada@example.com"

    asyncio.run(store.update(user_id, pin_email))


# -- a claim with another key --


def test_claim_with_another_key(fastapi_app: MakeApp) -> None:
    claim = make_second_factor_claim("mfa-done")
    app = add_routes(fastapi_app(recipes(override_session_functions(claim=claim))))

    without_custom_claim = Depends(
        verify_session(override_global_claim_validators=without_2fa(claim))
    )

    @app.get("/open-custom")
    async def open_custom(s: SessionContainer = without_custom_claim) -> None:
        await mark_completed(s, claim=claim)

    client = TestClient(app, base_url=API_DOMAIN)
    tokens = Tokens.of(sign_up(client, "ada@example.com"))
    payload = jwt_payload(tokens.access or "")
    assert payload["mfa-done"]["v"] is False and "2fa-completed" not in payload
    assert invalid_claim_ids(client.get("/protected", headers=tokens.auth())) == [
        "mfa-done",
        "st-mfa",
    ]
    # opting out of the default claim does not opt out of this one
    assert invalid_claim_ids(client.get("/open", headers=tokens.auth())) == ["mfa-done"]
    completed = Tokens.of(client.get("/open-custom", headers=tokens.auth()))
    assert client.get("/protected", headers=completed.auth()).status_code == 200


# -- the override's shape, without the core --


class FakeImplementation:
    """Just the functions the override wraps."""

    def __init__(self, validators: Any) -> None:
        self._validators = validators

    async def create_new_session(self, **kwargs: Any) -> Any:
        return kwargs

    async def get_session(self, **kwargs: Any) -> Any:
        return None

    async def revoke_all_sessions_for_user(self, **kwargs: Any) -> Any:
        return []

    def get_global_claim_validators(self, **kwargs: Any) -> Any:
        return self._validators(kwargs["claim_validators_added_by_other_recipes"])


def call_validators(impl: Any) -> Any:
    return impl.get_global_claim_validators(
        tenant_id="public",
        user_id="u",
        recipe_user_id=None,
        claim_validators_added_by_other_recipes=[],
        user_context={},
    )


def test_validators_stay_sync_and_are_added_once() -> None:
    override = override_session_functions()
    impl = override(override(FakeImplementation(lambda given: given)))  # type: ignore[arg-type]
    validators = call_validators(impl)
    assert isinstance(validators, list)
    assert [v.id for v in validators] == ["2fa-completed", "st-mfa"]
    assert validators[0].claim is SecondFactorClaim


async def test_validators_stay_async_when_the_original_is() -> None:
    async def later(given: list[Any]) -> list[Any]:
        return given

    impl = override_session_functions()(FakeImplementation(later))  # type: ignore[arg-type]
    validators = await call_validators(impl)
    assert [v.id for v in validators] == ["2fa-completed", "st-mfa"]
