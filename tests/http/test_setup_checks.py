"""Wrong parts fail at start-up, or with a clear answer, never with a 500 later (issue 11.3).

- A delivery service of the wrong recipe (emailpassword's ``SMTPService`` for codes, an
  e-mail service for SMS) is refused by ``build_recipe_list`` with the right class and
  its import path.
- ``TwoFactorConfig(secret_keys="k1,k2")`` is refused: is it one key or two?
- A TOTP secret encrypted under a key that is no longer configured answers 503 naming
  the key id (logged once), and counts nothing.
- The claim enforced with no route to complete it (a drop-in without the plugin) logs an
  ERROR at start-up naming the fix (issue 11.1).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from supertokens_python.ingredients.emaildelivery.types import (
    EmailDeliveryConfig,
    EmailDeliveryInterface,
    SMTPSettings,
    SMTPSettingsFrom,
)
from supertokens_python.ingredients.smsdelivery.types import (
    SMSDeliveryConfig,
    SMSDeliveryInterface,
)
from supertokens_python.recipe import emailpassword, emailverification, passwordless, session
from supertokens_python.recipe.session import SessionOverrideConfig

from st_twofactor import (
    ConfigurationError,
    TwoFactorConfig,
    build_recipe_list,
    override_session_functions,
    twofactor_plugin,
)
from st_twofactor.http._setup_check import NOTHING_COMPLETES, PLUGIN_MISSING, REMEMBERED_NOT_REVOKED
from st_twofactor.kernel.crypto import SecretBox
from st_twofactor.stores import InMemoryStore
from st_twofactor.testing import reset_supertokens

from ..helpers.sdk import sdk_init
from ..helpers.twofactor_app import SECRET_KEY, make_harness, user_id_of

SMTP = SMTPSettings(host="smtp.invalid", port=587, from_=SMTPSettingsFrom("Shop", "a@b.c"))
CODES = TwoFactorConfig(factors=("totp", "otp-email", "otp-phone"), development=True)
OTHER_KEY = "another-secret-key-0123456789abcdef"


class AppEmails(EmailDeliveryInterface[Any]):
    async def send_email(self, template_vars: Any, user_context: dict[str, Any]) -> None:
        return None


class AppTexts(SMSDeliveryInterface[Any]):
    async def send_sms(self, template_vars: Any, user_context: dict[str, Any]) -> None:
        return None


# -- deliveries of the wrong recipe --


@pytest.mark.parametrize(
    ("option", "delivery", "wanted"),
    [
        (
            "email_delivery",
            EmailDeliveryConfig(service=emailpassword.SMTPService(SMTP)),
            "from supertokens_python.recipe.passwordless import SMTPService",
        ),
        (
            "email_delivery",
            EmailDeliveryConfig(service=emailverification.SMTPService(SMTP)),
            "from supertokens_python.recipe.passwordless import SMTPService",
        ),
        (
            "email_delivery",
            EmailDeliveryConfig(service=AppTexts()),  # type: ignore[arg-type]
            "from supertokens_python.recipe.passwordless import SMTPService",
        ),
        (
            "sms_delivery",
            SMSDeliveryConfig(service=passwordless.SMTPService(SMTP)),  # type: ignore[arg-type]
            "from supertokens_python.recipe.passwordless import TwilioService",
        ),
        (
            "emailpassword_email_delivery",
            EmailDeliveryConfig(service=passwordless.SMTPService(SMTP)),
            "from supertokens_python.recipe.emailpassword import SMTPService",
        ),
    ],
)
def test_a_delivery_of_the_wrong_recipe_is_refused_at_build_time(
    option: str, delivery: Any, wanted: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        build_recipe_list(config=CODES, **{option: delivery})
    message = str(raised.value)
    assert option in message and type(delivery.service).__name__ in message
    assert wanted in message


def test_deliveries_of_the_right_recipe_and_the_apps_own_are_accepted() -> None:
    for email, sms in (
        (passwordless.SMTPService(SMTP), AppTexts()),
        (AppEmails(), AppTexts()),
    ):
        recipes = build_recipe_list(
            config=CODES,
            email_delivery=EmailDeliveryConfig(service=email),
            sms_delivery=SMSDeliveryConfig(service=sms),
            emailpassword_email_delivery=EmailDeliveryConfig(
                service=emailpassword.SMTPService(SMTP)
            ),
        )
        assert len(recipes) == 5


# -- secret_keys as a bare string --


@pytest.mark.parametrize("keys", [SECRET_KEY, f"{SECRET_KEY},{OTHER_KEY}"])
def test_secret_keys_as_one_string_is_refused_with_the_fix(keys: str) -> None:
    with pytest.raises(ConfigurationError, match=r"a list of keys, not a string") as raised:
        TwoFactorConfig(secret_keys=keys)
    assert "secret_keys=[key]" in str(raised.value) and ".split(',')" in str(raised.value)


def test_secret_keys_as_a_list_is_accepted() -> None:
    config = TwoFactorConfig(secret_keys=f"{SECRET_KEY},{OTHER_KEY}".split(","))
    assert config.secret_keys == (SECRET_KEY, OTHER_KEY)


# -- a TOTP secret under a key that is no longer configured --


def test_a_secret_under_a_removed_key_is_a_503_naming_the_key_logged_once(
    devcore_app: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = InMemoryStore()
    before = make_harness(devcore_app, store=store, secret_keys=[SECRET_KEY])
    tokens = before.signed_up("ada@example.com")
    secret, _ = before.enrol_totp(tokens)
    user_id = user_id_of(tokens)
    missing_id = SecretBox([SECRET_KEY]).primary_key_id

    # The app restarts with the old key dropped instead of kept after the new one.
    after = make_harness(devcore_app, store=store, secret_keys=[OTHER_KEY])
    after.clock.advance(60)
    document = after.document(user_id)
    caplog.set_level(logging.ERROR, logger="st_twofactor")
    for _ in range(3):
        response = after.verify_totp(tokens, after.code(secret))
        assert response.status_code == 503, response.text
        assert missing_id in response.json()["message"]
        assert "not configured" in response.json()["message"]
    logged = [r for r in caplog.records if missing_id in r.getMessage()]
    assert len(logged) == 1, [r.getMessage() for r in caplog.records]
    assert "put that key back in secret_keys" in logged[0].getMessage()
    assert after.document(user_id) == document, "no attempt counted, nothing changed"

    # With the old key back (after the new one) the same code works.
    again = make_harness(devcore_app, store=store, secret_keys=[OTHER_KEY, SECRET_KEY])
    again.clock.advance(60)
    assert again.verify_totp(tokens, again.code(secret)).json() == {"status": "OK"}


# -- the claim enforced with nothing to complete it (a drop-in without the plugin) --


def _drop_in(
    core_url: str,
    *,
    plugin: bool,
    recipes: list[Any] | None = None,
    config: TwoFactorConfig | None = None,
) -> None:
    """An existing app's ``init()``: its own recipes, the library's session override."""
    config = config or TwoFactorConfig(secret_keys=[SECRET_KEY])
    sdk_init(
        core_url,
        recipes
        or [
            emailpassword.init(),
            session.init(override=SessionOverrideConfig(functions=override_session_functions())),
        ],
        app_name="Shop",
        plugins=[twofactor_plugin(config)] if plugin else [],
    )


def _setup_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage() == NOTHING_COMPLETES]


def test_a_drop_in_without_the_plugin_logs_an_error_naming_the_fix(
    devcore_app: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="st_twofactor")
    try:
        _drop_in(devcore_app, plugin=False)
    finally:
        reset_supertokens()
    errors = [r for r in caplog.records if r.getMessage() == NOTHING_COMPLETES]
    assert len(errors) == 1 and errors[0].levelno == logging.ERROR
    assert "plugins=[twofactor_plugin(config)]" in NOTHING_COMPLETES
    assert "from st_twofactor import twofactor_plugin" in NOTHING_COMPLETES


def test_a_drop_in_with_the_plugin_logs_no_error(
    devcore_app: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="st_twofactor")
    try:
        _drop_in(devcore_app, plugin=True)
    finally:
        reset_supertokens()
    assert _setup_errors(caplog) == []


def test_codes_without_the_plugin_name_the_factors_that_need_it(
    devcore_app: str, caplog: pytest.LogCaptureFixture
) -> None:
    """E-mail codes can complete the claim, but TOTP and recovery codes, enabled too, have
    no routes without the plugin: that is an ERROR naming them and the fix."""
    caplog.set_level(logging.ERROR, logger="st_twofactor")
    config = TwoFactorConfig(factors=("totp", "otp-email", "recovery-code"), development=True)
    try:
        _drop_in(devcore_app, plugin=False, recipes=build_recipe_list(config=config))
    finally:
        reset_supertokens()
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert messages == [PLUGIN_MISSING.format(factors="totp, recovery-code")]
    assert "plugins=[twofactor_plugin(config)]" in messages[0]


def test_e_mail_codes_alone_can_complete_the_claim_so_no_error(
    devcore_app: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="st_twofactor")
    config = TwoFactorConfig(factors=("otp-email",), development=True)
    try:
        _drop_in(devcore_app, plugin=False, recipes=build_recipe_list(config=config))
    finally:
        reset_supertokens()
    assert _setup_errors(caplog) == []


def _own_emailpassword(core_url: str, config: TwoFactorConfig, override: Any = None) -> None:
    """An existing app with its own ``emailpassword.init`` (``override`` or none)."""
    from supertokens_python.recipe.emailpassword import EmailPasswordOverrideConfig

    own = (
        emailpassword.init(override=EmailPasswordOverrideConfig(functions=override))
        if override is not None
        else emailpassword.init()
    )
    ours = SessionOverrideConfig(functions=override_session_functions(config))
    _drop_in(core_url, plugin=True, recipes=[own, session.init(override=ours)], config=config)


@pytest.mark.parametrize("remember", [True, False])
def test_remember_device_without_the_emailpassword_override_warns(
    devcore_app: str, caplog: pytest.LogCaptureFixture, remember: bool
) -> None:
    """S19 in a drop-in app: with remember-device on and the app's own emailpassword.init
    lacking the library's override, a changed password would not revoke remembered
    devices; a WARNING says so and names the fix. Off, nothing is said."""
    caplog.set_level(logging.WARNING, logger="st_twofactor")
    config = TwoFactorConfig(secret_keys=[SECRET_KEY], remember_device=remember)
    try:
        _own_emailpassword(devcore_app, config)
    finally:
        reset_supertokens()
    warned = [r for r in caplog.records if r.getMessage() == REMEMBERED_NOT_REVOKED]
    assert len(warned) == (1 if remember else 0)
    assert "functions=override_emailpassword_functions(config)" in REMEMBERED_NOT_REVOKED


def test_the_emailpassword_override_revokes_remembered_devices_in_a_drop_in_app(
    devcore_app: str, caplog: pytest.LogCaptureFixture
) -> None:
    """``override_emailpassword_functions(config)`` composed with the app's own override:
    both run, a new password bumps the user's 2FA epoch (every remember token of the
    user stops working), and no warning is logged."""
    from supertokens_python.recipe.emailpassword import asyncio as ep
    from supertokens_python.recipe.emailpassword.interfaces import RecipeInterface
    from supertokens_python.types import RecipeUserId

    from st_twofactor import override_emailpassword_functions

    caplog.set_level(logging.WARNING, logger="st_twofactor")
    store = InMemoryStore()
    config = TwoFactorConfig(secret_keys=[SECRET_KEY], remember_device=True, store=store)
    app_calls: list[str] = []

    def mine(original: RecipeInterface) -> RecipeInterface:
        update = original.update_email_or_password

        async def counted(*args: Any, **kwargs: Any) -> Any:
            app_calls.append("update")
            return await update(*args, **kwargs)

        original.update_email_or_password = counted  # type: ignore[method-assign]
        return original

    ours = override_emailpassword_functions(config)
    try:
        _own_emailpassword(devcore_app, config, lambda impl: mine(ours(impl)))
        signed = asyncio.run(ep.sign_up("public", "drop-in-pw@example.com", "password-123"))
        user_id = signed.user.id  # type: ignore[union-attr]
        before = asyncio.run(store.load(user_id)).epoch
        asyncio.run(ep.update_email_or_password(RecipeUserId(user_id), email="new@example.com"))
        assert asyncio.run(store.load(user_id)).epoch == before  # only a password revokes
        changed = asyncio.run(
            ep.update_email_or_password(RecipeUserId(user_id), password="a-new-password-1")
        )
        assert type(changed).__name__ == "UpdateEmailOrPasswordOkResult"
        assert asyncio.run(store.load(user_id)).epoch == before + 1
    finally:
        reset_supertokens()
    assert app_calls == ["update", "update"]
    assert [r for r in caplog.records if r.getMessage() == REMEMBERED_NOT_REVOKED] == []
