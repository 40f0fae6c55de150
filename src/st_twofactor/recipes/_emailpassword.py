"""The emailpassword first factor: a changed password ends the user's remembered devices.

A remember-device token lets a browser skip the second factor. Someone who copied one
before the owner recovered their account (a password reset, or the app's own "change
password") must not keep that shortcut, so a new password revokes every remember-device
token of the user. Also the development delivery of password-reset links (to the log).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from supertokens_python.asyncio import get_user
from supertokens_python.ingredients.emaildelivery.types import EmailDeliveryInterface
from supertokens_python.recipe.emailpassword import EmailPasswordOverrideConfig
from supertokens_python.recipe.emailpassword.interfaces import (
    RecipeInterface as EmailPasswordRecipeInterface,
)
from supertokens_python.recipe.emailpassword.interfaces import (
    UpdateEmailOrPasswordOkResult,
)
from supertokens_python.recipe.emailpassword.types import (
    EmailTemplateVars as PasswordResetEmailVars,
)
from supertokens_python.recipe.session.claims import BooleanClaim
from supertokens_python.types import RecipeUserId

from st_twofactor.claim import SecondFactorClaim
from st_twofactor.config import TwoFactorConfig
from st_twofactor.http._setup_check import mark_revoking
from st_twofactor.recipes._compose import install_body_checks, then
from st_twofactor.runtime import TwoFactor

log = logging.getLogger("st_twofactor")


def emailpassword_override_config(
    config: TwoFactorConfig, claim: BooleanClaim, app: EmailPasswordOverrideConfig | None
) -> EmailPasswordOverrideConfig:
    """The app's emailpassword override around the library's: checks of first-factor
    request bodies, and remember-device tokens revoked when a password changes."""
    ours = override_emailpassword_functions(config, claim=claim)
    if app is None:
        return EmailPasswordOverrideConfig(functions=ours, apis=install_body_checks)
    return EmailPasswordOverrideConfig(
        functions=then(ours, app.functions), apis=then(install_body_checks, app.apis)
    )


def override_emailpassword_functions(
    config: TwoFactorConfig, *, claim: BooleanClaim = SecondFactorClaim
) -> Callable[[EmailPasswordRecipeInterface], EmailPasswordRecipeInterface]:
    """An emailpassword functions override: a password that changes (a password reset, or
    the app's own "change password") revokes the user's remember-device tokens, so a token
    copied before an account recovery no longer skips the second factor.

    :func:`~st_twofactor.recipes.build_recipe_list` installs it. An app with its own
    ``emailpassword.init`` and ``remember_device`` on passes it as
    ``EmailPasswordOverrideConfig(functions=...)``, composed with its own override in
    either order; without it a start-up WARNING says so.

    :param claim: the second-factor claim, the one given to the session override (a
        session that changes its password is checked against revocation by it).
    """
    runtime = TwoFactor.of(config, claim)

    def override(original: EmailPasswordRecipeInterface) -> EmailPasswordRecipeInterface:
        mark_revoking(original)
        original_update = original.update_email_or_password

        async def update_email_or_password(
            recipe_user_id: RecipeUserId,
            email: str | None,
            password: str | None,
            apply_password_policy: bool | None,
            tenant_id_for_password_policy: str,
            user_context: dict[str, Any],
        ) -> Any:
            result = await original_update(
                recipe_user_id=recipe_user_id,
                email=email,
                password=password,
                apply_password_policy=apply_password_policy,
                tenant_id_for_password_policy=tenant_id_for_password_policy,
                user_context=user_context,
            )
            if password is not None and isinstance(result, UpdateEmailOrPasswordOkResult):
                user = await get_user(recipe_user_id.get_as_string(), user_context)
                user_id = user.id if user is not None else recipe_user_id.get_as_string()
                await runtime.revoke_remembered_devices(user_id, user_context)
            return result

        original.update_email_or_password = update_email_or_password  # type: ignore[method-assign]
        return original

    return override


class LogPasswordResetEmail(EmailDeliveryInterface[PasswordResetEmailVars]):
    """Development delivery: write password-reset links to the log instead of e-mailing."""

    async def send_email(
        self, template_vars: PasswordResetEmailVars, user_context: dict[str, Any]
    ) -> None:
        log.warning(
            "st-twofactor (development): password reset link for %s: %s",
            template_vars.user.email,
            template_vars.password_reset_link,
        )
