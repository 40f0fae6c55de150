"""How :func:`build_recipe_list` puts the recipes together, after checking every option.

A wrong option fails here, at start-up, with a message naming the fix, rather than as a
500 at a user's request later. The list is, in order: the first factors the app chose,
passwordless (codes), ``usermetadata``, ``session``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from supertokens_python import RecipeInit
from supertokens_python.ingredients.emaildelivery.types import EmailDeliveryConfig
from supertokens_python.ingredients.smsdelivery.types import SMSDeliveryConfig
from supertokens_python.recipe import emailpassword, session, thirdparty, usermetadata
from supertokens_python.recipe.emailpassword import EmailPasswordOverrideConfig, InputSignUpFeature
from supertokens_python.recipe.emailpassword.types import (
    EmailTemplateVars as PasswordResetEmailVars,
)
from supertokens_python.recipe.passwordless import ContactConfig, PasswordlessOverrideConfig
from supertokens_python.recipe.passwordless.types import EmailTemplateVars as CodeEmailVars
from supertokens_python.recipe.passwordless.types import SMSTemplateVars as CodeSMSVars
from supertokens_python.recipe.session import SessionOverrideConfig
from supertokens_python.recipe.session.claims import BooleanClaim
from supertokens_python.recipe.thirdparty import ProviderInput, ThirdPartyOverrideConfig
from supertokens_python.recipe.thirdparty.utils import SignInAndUpFeature
from supertokens_python.recipe.usermetadata import UserMetadataOverrideConfig

from st_twofactor.claim import SecondFactorClaim
from st_twofactor.config import TwoFactorConfig
from st_twofactor.errors import ConfigurationError
from st_twofactor.recipes._checks import (
    CODE_EMAIL,
    CODE_SMS,
    DEFAULT_FIRST_FACTORS,
    EMAILPASSWORD,
    FLOW_TYPES,
    FlowType,
    check_delivery,
    check_first_factors,
    check_left_out,
    check_providers,
    check_session_config,
    check_type,
)
from st_twofactor.recipes._compose import then
from st_twofactor.recipes._emailpassword import LogPasswordResetEmail, emailpassword_override_config
from st_twofactor.recipes._passwordless import needed_contact_method, passwordless_recipe
from st_twofactor.recipes._thirdparty import thirdparty_override_config
from st_twofactor.session_override import override_session_functions


def build_recipe_list(
    *,
    config: TwoFactorConfig,
    first_factors: Sequence[str] = DEFAULT_FIRST_FACTORS,
    providers: Sequence[ProviderInput] = (),
    claim: BooleanClaim = SecondFactorClaim,
    sign_up_feature: InputSignUpFeature | None = None,
    emailpassword_override: EmailPasswordOverrideConfig | None = None,
    emailpassword_email_delivery: EmailDeliveryConfig[PasswordResetEmailVars] | None = None,
    thirdparty_override: ThirdPartyOverrideConfig | None = None,
    session_config: Mapping[str, Any] | None = None,
    session_override: SessionOverrideConfig | None = None,
    usermetadata_override: UserMetadataOverrideConfig | None = None,
    passwordless_override: PasswordlessOverrideConfig | None = None,
    passwordless_contact_config: ContactConfig | None = None,
    email_delivery: EmailDeliveryConfig[CodeEmailVars] | None = None,
    sms_delivery: SMSDeliveryConfig[CodeSMSVars] | None = None,
    passwordless_flow_type: FlowType = "USER_INPUT_CODE",
    add_passwordless: bool = True,
) -> list[RecipeInit]:
    """Build the ``recipe_list`` for ``supertokens_python.init()``.

    :param config: the library's :class:`~st_twofactor.config.TwoFactorConfig`.
    :param first_factors: how users sign in, from
        :data:`~st_twofactor.recipes.FIRST_FACTORS`; default
        ``("emailpassword", "thirdparty")``. Only these recipes are initialised (and
        so only their routes exist). With ``"passwordless"`` a request without a
        session to the passwordless endpoints is the app's ordinary passwordless
        sign-in/up (its session starts with the claim ``False`` unless 2FA is not
        required for the user) and one with a session is a second factor.
    :param providers: third-party providers (``ProviderInput``), as for ``thirdparty.init``;
        none by default (providers may also be configured per tenant in the core).
    :param claim: the second-factor claim (default ``"2fa-completed"``).
    :param sign_up_feature: ``emailpassword.init(sign_up_feature=...)``.
    :param emailpassword_override: the app's ``EmailPasswordOverrideConfig``.
    :param emailpassword_email_delivery: delivery of password-reset e-mails; in development
        mode, when not given, the reset link is written to the ``st_twofactor`` log.
    :param thirdparty_override: the app's ``ThirdPartyOverrideConfig``.
    :param session_config: other ``session.init`` options by name, e.g.
        ``{"cookie_secure": True, "get_token_transfer_method": ...}``.
    :param session_override: the app's ``SessionOverrideConfig``; its ``functions`` wrap
        the library's session override, its ``apis`` are used as they are.
    :param usermetadata_override: the app's ``UserMetadataOverrideConfig``.
    :param passwordless_override: the app's ``PasswordlessOverrideConfig``; its ``apis``
        wrap the library's second-factor API override.
    :param passwordless_contact_config: a ``ContactConfig`` (e.g. with custom
        validators); its method must match the enabled factors.
    :param email_delivery: how e-mailed codes are sent (``otp-email``).
    :param sms_delivery: how SMS codes are sent (``otp-phone``). Outside development
        mode each enabled OTP factor needs its delivery: the SDK's default would send
        through SuperTokens' hosted service. In development, codes go to the log.
    :param passwordless_flow_type: the passwordless recipe's ``flow_type`` for sign-in
        (``"MAGIC_LINK"`` or ``"USER_INPUT_CODE_AND_MAGIC_LINK"`` only with
        ``"passwordless"`` in ``first_factors``); second-factor codes never carry a link.
    :param add_passwordless: ``False`` when the app calls ``passwordless.init`` itself:
        compose :func:`~st_twofactor.http.passwordless.override_passwordless_apis` into
        its override
        (the passwordless options above must then be left out).
    :raises ConfigurationError: (a ``ValueError``) an option is invalid; the message says
        what to change.
    """
    if not isinstance(config, TwoFactorConfig):
        raise ConfigurationError("config must be a TwoFactorConfig, e.g. TwoFactorConfig(...)")
    chosen = check_first_factors(first_factors)
    check_providers(providers)
    check_type("sign_up_feature", sign_up_feature, InputSignUpFeature)
    check_type("emailpassword_override", emailpassword_override, EmailPasswordOverrideConfig)
    check_type("emailpassword_email_delivery", emailpassword_email_delivery, EmailDeliveryConfig)
    check_type("thirdparty_override", thirdparty_override, ThirdPartyOverrideConfig)
    check_type("session_override", session_override, SessionOverrideConfig)
    check_type("usermetadata_override", usermetadata_override, UserMetadataOverrideConfig)
    check_type("passwordless_override", passwordless_override, PasswordlessOverrideConfig)
    check_type("passwordless_contact_config", passwordless_contact_config, ContactConfig)
    check_type("email_delivery", email_delivery, EmailDeliveryConfig)
    check_type("sms_delivery", sms_delivery, SMSDeliveryConfig)
    check_delivery("emailpassword_email_delivery", emailpassword_email_delivery, EMAILPASSWORD)
    check_delivery("email_delivery", email_delivery, CODE_EMAIL)
    check_delivery("sms_delivery", sms_delivery, CODE_SMS)
    session_options = check_session_config(session_config)
    if passwordless_flow_type not in FLOW_TYPES:
        raise ConfigurationError(f"passwordless_flow_type must be one of {FLOW_TYPES}")
    if not isinstance(add_passwordless, bool):
        raise ConfigurationError("add_passwordless must be True or False")
    passwordless_first = "passwordless" in chosen
    check_left_out(
        "emailpassword" in chosen,
        "emailpassword",
        sign_up_feature=sign_up_feature,
        emailpassword_override=emailpassword_override,
        emailpassword_email_delivery=emailpassword_email_delivery,
    )
    check_left_out(
        "thirdparty" in chosen,
        "thirdparty",
        providers=providers or None,
        thirdparty_override=thirdparty_override,
    )
    if passwordless_flow_type != "USER_INPUT_CODE" and not passwordless_first:
        raise ConfigurationError(
            f"passwordless_flow_type={passwordless_flow_type!r} sends sign-in links: add "
            "'passwordless' to first_factors (second-factor codes never use links)"
        )

    # Body checks are installed by the first of these recipes the app has (once).
    body_checks_installed = False
    recipes: list[RecipeInit] = []
    if "emailpassword" in chosen:
        if emailpassword_email_delivery is None and config.development:
            emailpassword_email_delivery = EmailDeliveryConfig(service=LogPasswordResetEmail())
        recipes.append(
            emailpassword.init(
                sign_up_feature=sign_up_feature,
                override=emailpassword_override_config(config, claim, emailpassword_override),
                email_delivery=emailpassword_email_delivery,
            )
        )
        body_checks_installed = True
    if "thirdparty" in chosen:
        recipes.append(
            thirdparty.init(
                sign_in_and_up_feature=SignInAndUpFeature(providers=list(providers)),
                override=thirdparty_override_config(
                    thirdparty_override, body_checks=not body_checks_installed
                ),
            )
        )
    contact_method = needed_contact_method(config.factors)
    passwordless_options = (
        passwordless_override,
        passwordless_contact_config,
        email_delivery,
        sms_delivery,
    )
    if not add_passwordless:
        if any(option is not None for option in passwordless_options) or (
            passwordless_flow_type != "USER_INPUT_CODE"
        ):
            raise ConfigurationError(
                "add_passwordless=False: configure passwordless in your own passwordless.init "
                "(its override composed with override_passwordless_apis), not here"
            )
    elif contact_method is not None or passwordless_first:
        recipes.append(
            passwordless_recipe(
                config,
                contact_method,
                first_factor=passwordless_first,
                flow_type=passwordless_flow_type,
                claim=claim,
                override=passwordless_override,
                contact_config=passwordless_contact_config,
                email_delivery=email_delivery,
                sms_delivery=sms_delivery,
            )
        )
    elif any(option is not None for option in passwordless_options):
        raise ConfigurationError(
            "passwordless options were given but neither 'otp-email' nor 'otp-phone' is in "
            "config.factors: enable one of them or drop the passwordless options"
        )
    if "emailpassword" in chosen and emailpassword_email_delivery is None:
        raise ConfigurationError(
            "password-reset e-mails need a delivery outside development: pass "
            "emailpassword_email_delivery=EmailDeliveryConfig(service=...) (e.g. "
            "supertokens_python.recipe.emailpassword.SMTPService); without one the SDK "
            "would send them through SuperTokens' hosted e-mail service"
        )
    recipes.append(usermetadata.init(override=usermetadata_override))

    recipes.append(
        session.init(**session_options, override=_session_override(config, claim, session_override))
    )
    return recipes


def _session_override(
    config: TwoFactorConfig, claim: BooleanClaim, app: SessionOverrideConfig | None
) -> SessionOverrideConfig:
    """The library's session override, wrapped by the app's; the app's APIs as they are."""
    ours = override_session_functions(config, claim=claim)
    if app is None:
        return SessionOverrideConfig(functions=ours)
    # The SDK's override configs refuse an explicit None: pass only what is set.
    return SessionOverrideConfig(functions=then(ours, app.functions), apis=app.apis)
