"""Configs for the ``st-twofactor`` command tests, loaded with
``--config tests.helpers.cli_config:...``.

Set from the environment by the test that runs the command: ``ST2FA_CLI_KEYS`` (secret
keys, comma-separated, first one first), ``ST2FA_CLI_SQL_URL`` (use an SQLStore),
``ST2FA_CLI_CORE`` (for the configs that initialise the SDK themselves, as an app's
module does when it is imported).
"""

from __future__ import annotations

import os
from typing import Any

from st_twofactor.config import TwoFactorConfig


def _store() -> Any:
    url = os.environ.get("ST2FA_CLI_SQL_URL")
    if not url:
        return None
    from st_twofactor.stores.sql import SQLStore

    return SQLStore(url)


def _keys() -> list[str]:
    return [k for k in os.environ.get("ST2FA_CLI_KEYS", "").split(",") if k]


config = TwoFactorConfig(secret_keys=_keys(), factors=("totp", "recovery-code"), store=_store())
"""The plain case: the command initialises the SDK itself."""

development = TwoFactorConfig(development=True, factors=("totp", "recovery-code"))

with_codes = TwoFactorConfig(secret_keys=_keys(), factors=("totp", "otp-email", "recovery-code"))
"""E-mailed codes on, in a module that does not initialise the SDK."""


def make_config() -> TwoFactorConfig:
    """A function that returns the config also works."""
    return config


not_a_config = "a string"


def _initialise(with_plugin: bool) -> TwoFactorConfig:
    """What an app's module does on import: the config, then ``init()`` with both halves."""
    import supertokens_python
    from supertokens_python import InputAppInfo, SupertokensConfig, SupertokensExperimentalConfig
    from supertokens_python.ingredients.emaildelivery.types import (
        EmailDeliveryConfig,
        EmailDeliveryInterface,
    )

    from st_twofactor import build_recipe_list
    from st_twofactor.http.routes import twofactor_plugin

    class Outbox(EmailDeliveryInterface[Any]):
        async def send_email(self, template_vars: Any, user_context: dict[str, Any]) -> None:
            return None

    made = TwoFactorConfig(secret_keys=_keys(), factors=("totp", "otp-email", "recovery-code"))
    supertokens_python.init(
        app_info=InputAppInfo(
            app_name="cli test", api_domain="http://localhost", website_domain="http://localhost"
        ),
        supertokens_config=SupertokensConfig(connection_uri=os.environ["ST2FA_CLI_CORE"]),
        framework="fastapi",
        mode="asgi",
        telemetry=False,
        recipe_list=build_recipe_list(
            config=made,
            email_delivery=EmailDeliveryConfig(service=Outbox()),
            emailpassword_email_delivery=EmailDeliveryConfig(service=Outbox()),
        ),
        experimental=SupertokensExperimentalConfig(
            plugins=[twofactor_plugin(made)] if with_plugin else []
        ),
    )
    return made


def initialised_app() -> TwoFactorConfig:
    return _initialise(with_plugin=True)


def initialised_without_plugin() -> TwoFactorConfig:
    return _initialise(with_plugin=False)


def _own_recipes(passwordless: str) -> TwoFactorConfig:
    """An app that calls ``emailpassword.init`` (and ``passwordless.init``) itself:
    ``passwordless`` is ``"with-override"``, ``"without-override"`` or ``"none"``."""
    import supertokens_python
    from supertokens_python import InputAppInfo, SupertokensConfig, SupertokensExperimentalConfig
    from supertokens_python.ingredients.emaildelivery.types import (
        EmailDeliveryConfig,
        EmailDeliveryInterface,
    )
    from supertokens_python.recipe import emailpassword, session
    from supertokens_python.recipe import passwordless as pl
    from supertokens_python.recipe.passwordless import (
        ContactEmailOnlyConfig,
        PasswordlessOverrideConfig,
    )
    from supertokens_python.recipe.session import SessionOverrideConfig

    from st_twofactor import override_passwordless_apis, override_session_functions
    from st_twofactor.http.routes import twofactor_plugin

    class Outbox(EmailDeliveryInterface[Any]):
        async def send_email(self, template_vars: Any, user_context: dict[str, Any]) -> None:
            return None

    made = TwoFactorConfig(secret_keys=_keys(), factors=("totp", "otp-email", "recovery-code"))
    recipes = [
        emailpassword.init(),
        session.init(override=SessionOverrideConfig(functions=override_session_functions(made))),
    ]
    if passwordless != "none":
        override = (
            PasswordlessOverrideConfig(apis=override_passwordless_apis(made))
            if passwordless == "with-override"
            else None
        )
        recipes.append(
            pl.init(
                contact_config=ContactEmailOnlyConfig(),
                flow_type="USER_INPUT_CODE",
                email_delivery=EmailDeliveryConfig(service=Outbox()),
                override=override,
            )
        )
    supertokens_python.init(
        app_info=InputAppInfo(
            app_name="cli test", api_domain="http://localhost", website_domain="http://localhost"
        ),
        supertokens_config=SupertokensConfig(connection_uri=os.environ["ST2FA_CLI_CORE"]),
        framework="fastapi",
        mode="asgi",
        telemetry=False,
        recipe_list=recipes,
        experimental=SupertokensExperimentalConfig(plugins=[twofactor_plugin(made)]),
    )
    return made


def own_passwordless_app() -> TwoFactorConfig:
    return _own_recipes("with-override")


def own_passwordless_without_override() -> TwoFactorConfig:
    return _own_recipes("without-override")


def own_recipes_without_passwordless() -> TwoFactorConfig:
    return _own_recipes("none")
