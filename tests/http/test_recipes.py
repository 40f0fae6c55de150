"""build_recipe_list: validation, the recipes it makes, and the app's options passed through."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from supertokens_python import RecipeInit, Supertokens
from supertokens_python.ingredients.emaildelivery.types import (
    EmailDeliveryConfig,
    EmailDeliveryInterface,
)
from supertokens_python.ingredients.smsdelivery.types import (
    SMSDeliveryConfig,
    SMSDeliveryInterface,
)
from supertokens_python.recipe.emailpassword import (
    EmailPasswordOverrideConfig,
    InputFormField,
    InputSignUpFeature,
)
from supertokens_python.recipe.emailpassword.interfaces import (
    RecipeInterface as EmailPasswordFunctions,
)
from supertokens_python.recipe.passwordless import (
    ContactEmailOrPhoneConfig,
    ContactPhoneOnlyConfig,
    PasswordlessOverrideConfig,
)
from supertokens_python.recipe.passwordless.interfaces import APIInterface as PasswordlessAPIs
from supertokens_python.recipe.passwordless.recipe import PasswordlessRecipe
from supertokens_python.recipe.passwordless.types import (
    CreateAndSendCustomEmailParameters,
    CreateAndSendCustomTextMessageParameters,
)
from supertokens_python.recipe.session import SessionOverrideConfig
from supertokens_python.recipe.session.interfaces import RecipeInterface as SessionFunctions
from supertokens_python.recipe.thirdparty import ThirdPartyOverrideConfig
from supertokens_python.recipe.thirdparty.interfaces import (
    RecipeInterface as ThirdPartyFunctions,
)
from supertokens_python.recipe.usermetadata import UserMetadataOverrideConfig
from supertokens_python.recipe.usermetadata.interfaces import (
    RecipeInterface as MetadataFunctions,
)

from st_twofactor import ConfigurationError, TwoFactorConfig, build_recipe_list

from ..helpers.outbox import CapturedPasswordReset
from ..helpers.sdk import (
    API_DOMAIN,
    FakeProvider,
    InitSupertokens,
    Tokens,
    invalid_claim_ids,
    jwt_payload,
    sign_up,
    third_party_sign_in,
)

DEV = TwoFactorConfig(development=True)
PROD = TwoFactorConfig(secret_keys=["0123456789abcdef0123"])

MakeApp = Callable[[list[RecipeInit]], FastAPI]


class Emails(EmailDeliveryInterface[Any]):
    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def send_email(self, template_vars: Any, user_context: dict[str, Any]) -> None:
        self.sent.append(template_vars)


class Texts(SMSDeliveryInterface[Any]):
    async def send_sms(self, template_vars: Any, user_context: dict[str, Any]) -> None:
        return None


def recipe_ids() -> list[str]:
    return [module.get_recipe_id() for module in Supertokens.get_instance().recipe_modules]


# -- invalid options fail at once, saying what to change --


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"config": "dev"}, "config must be a TwoFactorConfig"),
        ({"providers": "google"}, "providers must be a list"),
        ({"providers": [object()]}, "providers must be a list of thirdparty.ProviderInput"),
        ({"sign_up_feature": {"form_fields": []}}, "sign_up_feature must be a InputSignUpFeature"),
        (
            {"emailpassword_override": SessionOverrideConfig()},
            "emailpassword_override must be a",
        ),
        ({"session_override": lambda impl: impl}, "session_override must be a"),
        ({"session_config": {"override": SessionOverrideConfig()}}, "session_override="),
        ({"session_config": {"cookieSameSite": "lax"}}, r"unknown session.init option"),
        ({"session_config": ["cookie_secure"]}, "session_config must be a dict"),
        ({"config": PROD}, "pass email_delivery=EmailDeliveryConfig"),
        (
            {"config": TwoFactorConfig(factors=["otp-phone"], secret_keys=["0123456789abcdef"])},
            "pass sms_delivery=SMSDeliveryConfig",
        ),
        (
            {"passwordless_contact_config": ContactPhoneOnlyConfig()},
            "passwordless_contact_config has contact method 'PHONE'",
        ),
        ({"sms_delivery": SMSDeliveryConfig(service=Texts())}, "'otp-phone' is not enabled"),
        (
            {"config": TwoFactorConfig(factors=["totp"], development=True), "email_delivery": 1},
            "email_delivery must be a EmailDeliveryConfig",
        ),
        (
            {
                "config": TwoFactorConfig(factors=["totp"], development=True),
                "email_delivery": EmailDeliveryConfig(service=Emails()),
            },
            "neither 'otp-email' nor 'otp-phone'",
        ),
    ],
)
def test_invalid_options_raise_value_error(options: dict[str, Any], message: str) -> None:
    options = {"config": DEV, **options}
    with pytest.raises(ConfigurationError, match=message) as raised:
        build_recipe_list(**options)
    assert isinstance(raised.value, ValueError)


def test_duplicate_providers_are_refused(fake_provider: FakeProvider) -> None:
    with pytest.raises(ValueError, match="two entries for 'fake-oauth'"):
        build_recipe_list(config=DEV, providers=[fake_provider.input, fake_provider.input])


def test_options_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        build_recipe_list(DEV)  # type: ignore[misc]


def test_production_config_with_deliveries_is_accepted() -> None:
    recipes = build_recipe_list(
        config=TwoFactorConfig(
            factors=["otp-email", "otp-phone"], secret_keys=["0123456789abcdef"]
        ),
        email_delivery=EmailDeliveryConfig(service=Emails()),
        sms_delivery=SMSDeliveryConfig(service=Texts()),
        emailpassword_email_delivery=EmailDeliveryConfig(service=CapturedPasswordReset([])),
    )
    assert len(recipes) == 5


def test_password_reset_e_mails_need_a_delivery_outside_development() -> None:
    """S19 / issue 10: without a delivery the SDK would send password-reset e-mails
    through SuperTokens' hosted service; outside development that is refused."""
    production = TwoFactorConfig(factors=["totp"], secret_keys=["0123456789abcdef"])
    with pytest.raises(ConfigurationError, match="emailpassword_email_delivery="):
        build_recipe_list(config=production)
    assert build_recipe_list(
        config=production,
        emailpassword_email_delivery=EmailDeliveryConfig(service=CapturedPasswordReset([])),
    )
    # an app without the emailpassword first factor sends no password-reset e-mail
    assert build_recipe_list(config=production, first_factors=("thirdparty",))


# -- the recipes it makes --


@pytest.mark.parametrize(
    ("factors", "method"),
    [
        (["totp", "otp-email"], "EMAIL"),
        (["otp-phone", "recovery-code"], "PHONE"),
        (["otp-email", "otp-phone"], "EMAIL_OR_PHONE"),
    ],
)
def test_passwordless_contact_method_follows_the_factors(
    init_supertokens: InitSupertokens, factors: list[str], method: str
) -> None:
    init_supertokens(build_recipe_list(config=TwoFactorConfig(factors=factors, development=True)))
    assert {"emailpassword", "thirdparty", "passwordless", "usermetadata", "session"} <= set(
        recipe_ids()
    )
    config = PasswordlessRecipe.get_instance().config
    assert config.contact_config.contact_method == method
    assert config.flow_type == "USER_INPUT_CODE"


def test_without_otp_factors_there_is_no_passwordless(init_supertokens: InitSupertokens) -> None:
    init_supertokens(build_recipe_list(config=TwoFactorConfig(factors=["totp"], development=True)))
    ids = recipe_ids()
    assert {"emailpassword", "thirdparty", "usermetadata", "session"} <= set(ids)
    assert "passwordless" not in ids


def test_app_contact_config_is_used(init_supertokens: InitSupertokens) -> None:
    contact = ContactEmailOrPhoneConfig()
    init_supertokens(
        build_recipe_list(
            config=TwoFactorConfig(factors=["otp-email", "otp-phone"], development=True),
            passwordless_contact_config=contact,
        )
    )
    assert PasswordlessRecipe.get_instance().config.contact_config is contact


async def test_development_delivery_logs_codes(
    init_supertokens: InitSupertokens, caplog: pytest.LogCaptureFixture
) -> None:
    init_supertokens(
        build_recipe_list(
            config=TwoFactorConfig(factors=["otp-email", "otp-phone"], development=True)
        )
    )
    recipe = PasswordlessRecipe.get_instance()
    caplog.set_level(logging.WARNING, logger="st_twofactor")
    await recipe.email_delivery.ingredient_interface_impl.send_email(
        CreateAndSendCustomEmailParameters(
            tenant_id="public",
            code_life_time=600_000,
            pre_auth_session_id="p",
            email="ada@example.com",
            is_first_factor=False,
            user_input_code="123456",
        ),
        {},
    )
    await recipe.sms_delivery.ingredient_interface_impl.send_sms(
        CreateAndSendCustomTextMessageParameters(
            tenant_id="public",
            code_life_time=600_000,
            pre_auth_session_id="p",
            phone_number="+15555550100",
            is_first_factor=False,
            user_input_code="654321",
        ),
        {},
    )
    logged = [r.getMessage() for r in caplog.records if r.name == "st_twofactor"]
    assert any("ada@example.com" in m and "123456" in m and "600 s" in m for m in logged)
    assert any("+15555550100" in m and "654321" in m for m in logged)


def test_app_delivery_is_used(init_supertokens: InitSupertokens) -> None:
    emails = Emails()
    delivery = EmailDeliveryConfig(service=emails)
    init_supertokens(build_recipe_list(config=DEV, email_delivery=delivery))
    assert PasswordlessRecipe.get_instance().email_delivery.ingredient_interface_impl is emails


# -- through HTTP: the session claim, and the app's options still apply --


def test_one_call_setup_puts_the_claim_in_sessions(
    fastapi_app: MakeApp, fake_provider: FakeProvider
) -> None:
    from fastapi import Depends
    from supertokens_python.recipe.session.framework.fastapi import verify_session

    app = fastapi_app(build_recipe_list(config=DEV, providers=[fake_provider.input]))
    needs_session = Depends(verify_session())

    @app.get("/protected")
    async def protected(s: Any = needs_session) -> None:
        return None

    client = TestClient(app, base_url=API_DOMAIN)
    for answer in (
        sign_up(client, "ada@example.com"),
        third_party_sign_in(client, "gh-1", "grace@example.com"),
    ):
        tokens = Tokens.of(answer)
        assert jwt_payload(tokens.access or "")["2fa-completed"]["v"] is False
        assert invalid_claim_ids(client.get("/protected", headers=tokens.auth()))


def test_the_apps_overrides_and_options_run(
    fastapi_app: MakeApp, fake_provider: FakeProvider
) -> None:
    ran: list[str] = []

    def emailpassword_functions(impl: EmailPasswordFunctions) -> EmailPasswordFunctions:
        original = impl.sign_up

        async def sign_up(*args: Any, **kwargs: Any) -> Any:
            ran.append("emailpassword.sign_up")
            return await original(*args, **kwargs)

        impl.sign_up = sign_up  # type: ignore[method-assign]
        return impl

    def thirdparty_functions(impl: ThirdPartyFunctions) -> ThirdPartyFunctions:
        original = impl.sign_in_up

        async def sign_in_up(*args: Any, **kwargs: Any) -> Any:
            ran.append("thirdparty.sign_in_up")
            return await original(*args, **kwargs)

        impl.sign_in_up = sign_in_up  # type: ignore[method-assign]
        return impl

    def session_functions(impl: SessionFunctions) -> SessionFunctions:
        original = impl.create_new_session

        async def create_new_session(*args: Any, **kwargs: Any) -> Any:
            ran.append("session.create_new_session")
            return await original(*args, **kwargs)

        impl.create_new_session = create_new_session  # type: ignore[method-assign]
        return impl

    def metadata_functions(impl: MetadataFunctions) -> MetadataFunctions:
        original = impl.get_user_metadata

        async def get_user_metadata(*args: Any, **kwargs: Any) -> Any:
            ran.append("usermetadata.get_user_metadata")
            return await original(*args, **kwargs)

        impl.get_user_metadata = get_user_metadata  # type: ignore[method-assign]
        return impl

    def passwordless_apis(apis: PasswordlessAPIs) -> PasswordlessAPIs:
        original = apis.create_code_post
        assert original is not None

        async def create_code_post(*args: Any, **kwargs: Any) -> Any:
            ran.append("passwordless.create_code_post")
            return await original(*args, **kwargs)

        apis.create_code_post = create_code_post
        return apis

    async def validate_password(value: str, tenant_id: str) -> str | None:
        ran.append("sign_up_feature.validate")
        return "too short" if len(value) < 12 else None

    emails = Emails()
    app = fastapi_app(
        build_recipe_list(
            config=TwoFactorConfig(required=False, development=True),
            providers=[fake_provider.input],
            sign_up_feature=InputSignUpFeature(
                form_fields=[InputFormField("password", validate=validate_password)]
            ),
            emailpassword_override=EmailPasswordOverrideConfig(functions=emailpassword_functions),
            emailpassword_email_delivery=EmailDeliveryConfig(service=emails),
            thirdparty_override=ThirdPartyOverrideConfig(functions=thirdparty_functions),
            session_override=SessionOverrideConfig(functions=session_functions),
            session_config={"get_token_transfer_method": lambda request, create, ctx: "header"},
            usermetadata_override=UserMetadataOverrideConfig(functions=metadata_functions),
            passwordless_override=PasswordlessOverrideConfig(apis=passwordless_apis),
        )
    )
    client = TestClient(app, base_url=API_DOMAIN)
    form = {
        "formFields": [
            {"id": "email", "value": "ada@example.com"},
            {"id": "password", "value": "long-enough-password-1"},
        ]
    }

    # no st-auth-mode header: the app's get_token_transfer_method chose headers
    up = client.post("/auth/signup", json=form)
    assert up.json()["status"] == "OK"
    tokens = Tokens.of(up)
    assert tokens.access is not None and "sAccessToken" not in client.cookies
    # required=False and no factor (read through the app's metadata override): passes
    assert jwt_payload(tokens.access)["2fa-completed"]["v"] is True

    third_party_sign_in(client, "gh-1", "grace@example.com")
    client.post("/auth/user/password/reset/token", json={"formFields": form["formFields"][:1]})
    client.post("/auth/signinup/code", json={"email": "ada@example.com"}, headers=tokens.auth())

    assert ran.count("session.create_new_session") == 2
    for name in (
        "sign_up_feature.validate",
        "emailpassword.sign_up",
        "thirdparty.sign_in_up",
        "usermetadata.get_user_metadata",
        "passwordless.create_code_post",
    ):
        assert name in ran, name
    assert [vars_.user.email for vars_ in emails.sent] == ["ada@example.com"]


def test_the_apps_session_override_wraps_the_librarys(fastapi_app: MakeApp) -> None:
    """The app's session functions see the claim the library added, and may add to it."""
    seen: list[Any] = []

    def session_functions(impl: SessionFunctions) -> SessionFunctions:
        original = impl.get_global_claim_validators

        def get_global_claim_validators(*args: Any, **kwargs: Any) -> Any:
            validators = original(*args, **kwargs)
            seen.extend(v.id for v in validators)  # type: ignore[union-attr]
            return validators

        impl.get_global_claim_validators = get_global_claim_validators  # type: ignore[method-assign]
        return impl

    from fastapi import Depends
    from supertokens_python.recipe.session.framework.fastapi import verify_session

    app = fastapi_app(
        build_recipe_list(
            config=DEV, session_override=SessionOverrideConfig(functions=session_functions)
        )
    )
    needs_session = Depends(verify_session())

    @app.get("/protected")
    async def protected(s: Any = needs_session) -> None:
        return None

    client = TestClient(app, base_url=API_DOMAIN)
    tokens = Tokens.of(sign_up(client, "ada@example.com"))
    assert invalid_claim_ids(client.get("/protected", headers=tokens.auth()))
    assert seen == ["2fa-completed", "st-mfa"]


def test_development_password_reset_links_go_to_the_log(
    fastapi_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    client = TestClient(fastapi_app(build_recipe_list(config=DEV)), base_url=API_DOMAIN)
    sign_up(client, "ada@example.com")
    caplog.set_level(logging.WARNING, logger="st_twofactor")
    answer = client.post(
        "/auth/user/password/reset/token",
        json={"formFields": [{"id": "email", "value": "ada@example.com"}]},
    )
    assert answer.json()["status"] == "OK"
    logged = [r.getMessage() for r in caplog.records if r.name == "st_twofactor"]
    assert any("password reset link for ada@example.com" in m and "token=" in m for m in logged)


def test_a_new_password_revokes_remembered_devices_under_the_apps_own_claim(
    init_supertokens: InitSupertokens,
) -> None:
    """An app with its own claim (``claim=make_second_factor_claim(...)``) changes the
    password of a session that started after an earlier "sign out everywhere": the
    remember-device tokens are revoked, as with the default claim. The revocation is read
    with the app's claim, so the session is not taken for a revoked one (which would
    refuse the revocation with 401 after the password had changed)."""
    import asyncio

    from supertokens_python.recipe.emailpassword import asyncio as ep
    from supertokens_python.recipe.session import asyncio as sessions
    from supertokens_python.types import RecipeUserId

    from st_twofactor.claim import make_second_factor_claim
    from st_twofactor.runtime import TwoFactor
    from st_twofactor.stores import InMemoryStore

    now = [1_000_000.0]
    store = InMemoryStore()
    config = TwoFactorConfig(development=True, store=store, clock=lambda: now[0])
    claim = make_second_factor_claim("app-2fa")
    init_supertokens(build_recipe_list(config=config, claim=claim))

    async def scenario() -> tuple[int, int]:
        signed = await ep.sign_up("public", "own-claim@example.com", "password-123")
        user_id = signed.user.id  # type: ignore[union-attr]
        await TwoFactor.of(config, claim).record_revocation(user_id, {})
        now[0] += 60  # a session started after the revocation
        made = await sessions.create_new_session_without_request_response(
            "public", RecipeUserId(user_id)
        )
        user_context: dict[str, Any] = {}  # the app passes its request's context through
        session = await sessions.get_session_without_request_response(
            made.get_access_token(),
            override_global_claim_validators=lambda validators, *_: [],
            user_context=user_context,
        )
        assert session is not None and "app-2fa" in session.get_access_token_payload()
        before = (await store.load(user_id)).epoch
        changed = await ep.update_email_or_password(
            RecipeUserId(user_id), password="a-new-password-1", user_context=user_context
        )
        assert type(changed).__name__ == "UpdateEmailOrPasswordOkResult"
        return before, (await store.load(user_id)).epoch

    before, after = asyncio.run(scenario())
    assert after == before + 1
