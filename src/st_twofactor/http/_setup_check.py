"""Say so at start-up when the 2FA claim is enforced but nothing can complete it.

``override_session_functions()`` alone makes every ``verify_session()`` route answer 403
until the second factor is done, and the second factor is done only through the
library's routes: the plugin (:func:`~st_twofactor.twofactor_plugin`) or its e-mail/SMS
code endpoints (the passwordless override). An app that installs the claim without
either locks every user out with no hint why, so the check runs once ``init()`` has
finished (a SuperTokens post-init callback) and logs an ERROR naming the fix.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from supertokens_python.post_init_callbacks import PostSTInitCallbacks

if TYPE_CHECKING:
    from st_twofactor.config import TwoFactorConfig

log = logging.getLogger("st_twofactor")

COMPLETES_2FA = "_st_twofactor_completes_2fa"
"""Set on a recipe's API implementation whose routes can complete the 2FA claim."""

NOTHING_COMPLETES = (
    "st-twofactor: the 2FA claim is enforced (override_session_functions) but no route "
    "can complete it, so every verify_session() route answers 403 to every user. Mount "
    "the 2FA routes: init(..., experimental=SupertokensExperimentalConfig("
    "plugins=[twofactor_plugin(config)])), with "
    "'from supertokens_python import SupertokensExperimentalConfig' and "
    "'from st_twofactor import twofactor_plugin' "
    "(see docs/howto/fastapi.md, 'Drop into an existing app')"
)


PLUGIN_MISSING = (
    "st-twofactor: the factors {factors} are enabled but their routes are not mounted "
    "(GET /auth/2fa and /auth/2fa/... answer 404): only e-mail/SMS codes can complete 2FA. "
    "Add init(..., experimental=SupertokensExperimentalConfig("
    "plugins=[twofactor_plugin(config)])), with 'from st_twofactor import twofactor_plugin'"
)


REVOKES_ON_NEW_PASSWORD = "_st_twofactor_revokes_on_new_password"
"""Set on an emailpassword recipe implementation that revokes remembered devices."""

REMEMBERED_NOT_REVOKED = (
    "st-twofactor: remember_device is on, but a changed password does not revoke the "
    "user's remembered devices: the app's emailpassword.init lacks the library's override. "
    "Pass emailpassword.init(override=EmailPasswordOverrideConfig("
    "functions=override_emailpassword_functions(config))), with "
    "'from st_twofactor import override_emailpassword_functions' (build_recipe_list does it)"
)


def mark_revoking(recipe_implementation: object) -> None:
    """Record that ``recipe_implementation`` revokes remembered devices on a new password."""
    setattr(recipe_implementation, REVOKES_ON_NEW_PASSWORD, True)


def mark_completing(api_implementation: object) -> None:
    """Record that ``api_implementation``'s routes can complete the claim."""
    setattr(api_implementation, COMPLETES_2FA, True)


PAID_RECIPES_TOO = (
    "st-twofactor: the SDK's own {recipes} recipe is initialised beside st-twofactor. "
    "st-twofactor serves the endpoints of SuperTokens' MFA and TOTP frontend recipes "
    "itself (PUT /auth/mfa/info, /auth/totp/...) and writes the 'st-mfa' claim; the SDK's "
    "recipes would answer the same routes, write the same claim by other rules, and need "
    "a license key. Remove {inits} from the recipe_list"
)


def refuse_paid_recipes() -> None:
    """Raise :class:`~st_twofactor.errors.ConfigurationError` (failing ``init()``) when
    the SDK's own ``multifactorauth`` or ``totp`` recipe is initialised too."""
    from supertokens_python.supertokens import Supertokens

    from st_twofactor.errors import ConfigurationError

    ids = [m.get_recipe_id() for m in Supertokens.get_instance().recipe_modules]  # type: ignore[no-untyped-call]
    found = [r for r in ("multifactorauth", "totp") if r in ids]
    if found:
        raise ConfigurationError(
            PAID_RECIPES_TOO.format(
                recipes=" and ".join(found), inits=" and ".join(f"{r}.init()" for r in found)
            )
        )


def check_after_init(config: TwoFactorConfig | None = None) -> None:
    """Run :func:`report_if_nothing_completes` once the SDK's ``init()`` is done, and
    refuse the SDK's own MFA recipes (:func:`refuse_paid_recipes`)."""
    PostSTInitCallbacks.add_post_init_callback(refuse_paid_recipes)
    PostSTInitCallbacks.add_post_init_callback(lambda: report_if_nothing_completes(config))
    PostSTInitCallbacks.add_post_init_callback(lambda: report_unrevoked_remembered(config))


def report_unrevoked_remembered(config: TwoFactorConfig | None) -> None:
    """Log :data:`REMEMBERED_NOT_REVOKED` (a WARNING) when ``config`` remembers devices and
    the app's emailpassword recipe does not revoke them on a new password."""
    if config is None or not config.remember_device:
        return
    from supertokens_python.recipe.emailpassword.recipe import EmailPasswordRecipe
    from supertokens_python.supertokens import Supertokens

    for module in Supertokens.get_instance().recipe_modules:
        if isinstance(module, EmailPasswordRecipe) and not getattr(
            module.recipe_implementation, REVOKES_ON_NEW_PASSWORD, False
        ):
            log.warning(REMEMBERED_NOT_REVOKED)


def report_if_nothing_completes(config: TwoFactorConfig | None = None) -> None:
    """Log :data:`NOTHING_COMPLETES` unless the plugin or a code recipe is mounted, and
    :data:`PLUGIN_MISSING` when only the code recipe is, while ``config`` enables factors
    that need the plugin's routes (TOTP, recovery codes)."""
    from supertokens_python.supertokens import Supertokens

    from st_twofactor.ids import PLUGIN_ID

    instance = Supertokens.get_instance()
    if any(h.plugin_id == PLUGIN_ID for h in instance.plugin_route_handlers):
        return
    apis = (getattr(module, "api_implementation", None) for module in instance.recipe_modules)
    if not any(getattr(api, COMPLETES_2FA, False) for api in apis):
        log.error(NOTHING_COMPLETES)
        return
    need_plugin = [f for f in (config.factors if config else ()) if f not in CODE_FACTORS]
    if need_plugin:
        log.error(PLUGIN_MISSING.format(factors=", ".join(need_plugin)))


CODE_FACTORS = ("otp-email", "otp-phone")
"""Factors completed through the passwordless recipe's own routes, without the plugin."""
