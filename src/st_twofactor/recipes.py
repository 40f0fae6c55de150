"""One-call setup: the ``recipe_list`` of an app with password/social first factors and 2FA.

::

    init(
        app_info=...,
        supertokens_config=...,
        framework="fastapi",
        recipe_list=build_recipe_list(config=TwoFactorConfig(...), providers=[...]),
    )

What it returns, in order:

- ``emailpassword`` and ``thirdparty`` (the first factors; the modern form of the legacy
  guide's ``thirdpartyemailpassword``), with the app's providers;
- ``passwordless`` as a second factor only (flow ``USER_INPUT_CODE``; contact method from
  the enabled factors: ``otp-email`` -> EMAIL, ``otp-phone`` -> PHONE, both ->
  EMAIL_OR_PHONE), left out when neither is enabled;
- ``usermetadata`` (where users' 2FA state lives by default);
- ``session`` with :func:`~st_twofactor.session_override.override_session_functions`.

Every recipe takes the app's own options and overrides; ours are applied first and the
app's wrap them, so the app's code sees (and may extend) what the library did.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar

from supertokens_python import RecipeInit
from supertokens_python.ingredients.emaildelivery.types import (
    EmailDeliveryConfig,
    EmailDeliveryInterface,
)
from supertokens_python.ingredients.smsdelivery.types import (
    SMSDeliveryConfig,
    SMSDeliveryInterface,
)
from supertokens_python.post_init_callbacks import PostSTInitCallbacks
from supertokens_python.recipe import (
    emailpassword,
    passwordless,
    session,
    thirdparty,
    usermetadata,
)
from supertokens_python.recipe.emailpassword import EmailPasswordOverrideConfig, InputSignUpFeature
from supertokens_python.recipe.emailpassword.interfaces import (
    APIInterface as EmailPasswordAPIInterface,
)
from supertokens_python.recipe.emailpassword.types import (
    EmailTemplateVars as PasswordResetEmailVars,
)
from supertokens_python.recipe.passwordless import (
    ContactConfig,
    ContactEmailOnlyConfig,
    ContactEmailOrPhoneConfig,
    ContactPhoneOnlyConfig,
    PasswordlessOverrideConfig,
)
from supertokens_python.recipe.passwordless.types import (
    EmailTemplateVars as CodeEmailVars,
)
from supertokens_python.recipe.passwordless.types import (
    SMSTemplateVars as CodeSMSVars,
)
from supertokens_python.recipe.session import SessionOverrideConfig
from supertokens_python.recipe.session.claims import BooleanClaim
from supertokens_python.recipe.thirdparty import ProviderInput, ThirdPartyOverrideConfig
from supertokens_python.recipe.thirdparty.utils import SignInAndUpFeature
from supertokens_python.recipe.usermetadata import UserMetadataOverrideConfig

from ._request_guard import guard_sdk_routes
from .claim import SecondFactorClaim
from .config import TwoFactorConfig
from .errors import ConfigurationError
from .otp import override_passwordless_apis
from .session_override import override_session_functions

__all__ = ["build_recipe_list"]

log = logging.getLogger("st_twofactor")

_T = TypeVar("_T")
ContactMethod = Literal["EMAIL", "PHONE", "EMAIL_OR_PHONE"]

_SESSION_OPTIONS = frozenset(inspect.signature(session.init).parameters) - {"override"}


def build_recipe_list(
    *,
    config: TwoFactorConfig,
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
) -> list[RecipeInit]:
    """Build the ``recipe_list`` for ``supertokens_python.init()``.

    :param config: the library's :class:`~st_twofactor.config.TwoFactorConfig`.
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
    :raises ConfigurationError: (a ``ValueError``) an option is invalid; the message says
        what to change.
    """
    if not isinstance(config, TwoFactorConfig):
        raise ConfigurationError("config must be a TwoFactorConfig, e.g. TwoFactorConfig(...)")
    _check_providers(providers)
    _check_type("sign_up_feature", sign_up_feature, InputSignUpFeature)
    _check_type("emailpassword_override", emailpassword_override, EmailPasswordOverrideConfig)
    _check_type("emailpassword_email_delivery", emailpassword_email_delivery, EmailDeliveryConfig)
    _check_type("thirdparty_override", thirdparty_override, ThirdPartyOverrideConfig)
    _check_type("session_override", session_override, SessionOverrideConfig)
    _check_type("usermetadata_override", usermetadata_override, UserMetadataOverrideConfig)
    _check_type("passwordless_override", passwordless_override, PasswordlessOverrideConfig)
    _check_type("passwordless_contact_config", passwordless_contact_config, ContactConfig)
    _check_type("email_delivery", email_delivery, EmailDeliveryConfig)
    _check_type("sms_delivery", sms_delivery, SMSDeliveryConfig)
    session_options = _check_session_config(session_config)

    if emailpassword_email_delivery is None and config.development:
        emailpassword_email_delivery = EmailDeliveryConfig(service=_LogPasswordResetEmail())
    recipes: list[RecipeInit] = [
        emailpassword.init(
            sign_up_feature=sign_up_feature,
            override=_emailpassword_override(emailpassword_override),
            email_delivery=emailpassword_email_delivery,
        ),
        thirdparty.init(
            sign_in_and_up_feature=SignInAndUpFeature(providers=list(providers)),
            override=thirdparty_override,
        ),
    ]
    contact_method = _contact_method(config.factors)
    if contact_method is not None:
        recipes.append(
            _passwordless_recipe(
                config,
                contact_method,
                claim=claim,
                override=passwordless_override,
                contact_config=passwordless_contact_config,
                email_delivery=email_delivery,
                sms_delivery=sms_delivery,
            )
        )
    elif any(
        option is not None
        for option in (
            passwordless_override,
            passwordless_contact_config,
            email_delivery,
            sms_delivery,
        )
    ):
        raise ConfigurationError(
            "passwordless options were given but neither 'otp-email' nor 'otp-phone' is in "
            "config.factors: enable one of them or drop the passwordless options"
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
    return SessionOverrideConfig(functions=_then(ours, app.functions), apis=app.apis)


def _emailpassword_override(app: EmailPasswordOverrideConfig | None) -> EmailPasswordOverrideConfig:
    """The app's emailpassword override, and the library's checks of first-factor request
    bodies (:mod:`st_twofactor._request_guard`: a 400 for what the SDK would answer 500),
    installed when the SDK initialises the recipe."""

    def install_body_checks(original: EmailPasswordAPIInterface) -> EmailPasswordAPIInterface:
        PostSTInitCallbacks.add_post_init_callback(guard_sdk_routes)
        return original

    if app is None:
        return EmailPasswordOverrideConfig(apis=install_body_checks)
    return EmailPasswordOverrideConfig(
        functions=app.functions, apis=_then(install_body_checks, app.apis)
    )


def _passwordless_override(
    config: TwoFactorConfig, claim: BooleanClaim, app: PasswordlessOverrideConfig | None
) -> PasswordlessOverrideConfig:
    """The library's passwordless API override (:mod:`st_twofactor.otp`: a second factor
    only), wrapped by the app's; the app's ``functions`` are used as they are."""
    ours = override_passwordless_apis(config, claim=claim)
    if app is None:
        return PasswordlessOverrideConfig(apis=ours)
    return PasswordlessOverrideConfig(functions=app.functions, apis=_then(ours, app.apis))


def _passwordless_recipe(
    config: TwoFactorConfig,
    contact_method: ContactMethod,
    *,
    claim: BooleanClaim,
    override: PasswordlessOverrideConfig | None,
    contact_config: ContactConfig | None,
    email_delivery: EmailDeliveryConfig[CodeEmailVars] | None,
    sms_delivery: SMSDeliveryConfig[CodeSMSVars] | None,
) -> RecipeInit:
    if contact_config is None:
        contact_config = _default_contact_config(contact_method)
    elif contact_config.contact_method != contact_method:
        raise ConfigurationError(
            f"passwordless_contact_config has contact method {contact_config.contact_method!r} "
            f"but the enabled factors need {contact_method!r}: pass a matching ContactConfig "
            "or change config.factors"
        )
    uses_email = contact_method in ("EMAIL", "EMAIL_OR_PHONE")
    uses_phone = contact_method in ("PHONE", "EMAIL_OR_PHONE")
    if not uses_email and email_delivery is not None:
        raise ConfigurationError("email_delivery was given but 'otp-email' is not enabled")
    if not uses_phone and sms_delivery is not None:
        raise ConfigurationError("sms_delivery was given but 'otp-phone' is not enabled")
    if uses_email and email_delivery is None:
        if not config.development:
            raise ConfigurationError(
                "'otp-email' is enabled: pass email_delivery=EmailDeliveryConfig(service=...) "
                "(e.g. passwordless.SMTPService) so codes are sent by your mail service"
            )
        email_delivery = EmailDeliveryConfig(service=_LogCodeEmail())
    if uses_phone and sms_delivery is None:
        if not config.development:
            raise ConfigurationError(
                "'otp-phone' is enabled: pass sms_delivery=SMSDeliveryConfig(service=...) "
                "(e.g. passwordless.TwilioService) so codes are sent by your SMS provider"
            )
        sms_delivery = SMSDeliveryConfig(service=_LogCodeSMS())
    return passwordless.init(
        contact_config=contact_config,
        flow_type="USER_INPUT_CODE",
        override=_passwordless_override(config, claim, override),
        email_delivery=email_delivery,
        sms_delivery=sms_delivery,
    )


def _contact_method(factors: Sequence[str]) -> ContactMethod | None:
    email, phone = "otp-email" in factors, "otp-phone" in factors
    if email and phone:
        return "EMAIL_OR_PHONE"
    if email:
        return "EMAIL"
    if phone:
        return "PHONE"
    return None


def _default_contact_config(method: ContactMethod) -> ContactConfig:
    if method == "EMAIL":
        return ContactEmailOnlyConfig()
    if method == "PHONE":
        return ContactPhoneOnlyConfig()
    return ContactEmailOrPhoneConfig()


def _then(first: Callable[[_T], _T], second: Callable[[_T], _T] | None) -> Callable[[_T], _T]:
    """Compose two overrides: ``first`` wraps the original, ``second`` wraps ``first``."""
    if second is None:
        return first
    return lambda original_implementation: second(first(original_implementation))


def _check_type(name: str, value: object, expected: type) -> None:
    if value is not None and not isinstance(value, expected):
        raise ConfigurationError(
            f"{name} must be a {expected.__name__} (or None); got {type(value).__name__}"
        )


def _check_providers(providers: Sequence[ProviderInput]) -> None:
    if isinstance(providers, (str, bytes)) or not isinstance(providers, Sequence):
        raise ConfigurationError("providers must be a list of thirdparty.ProviderInput")
    seen: set[str] = set()
    for provider in providers:
        if not isinstance(provider, ProviderInput):
            raise ConfigurationError(
                "providers must be a list of thirdparty.ProviderInput; "
                f"got {type(provider).__name__}"
            )
        third_party_id = provider.config.third_party_id
        if third_party_id in seen:
            raise ConfigurationError(
                f"providers has two entries for {third_party_id!r}: keep one per third_party_id "
                "(several clients go in its ProviderConfig.clients)"
            )
        seen.add(third_party_id)


def _check_session_config(options: Mapping[str, Any] | None) -> dict[str, Any]:
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ConfigurationError("session_config must be a dict of session.init options")
    if "override" in options:
        raise ConfigurationError(
            "pass the session override as session_override=SessionOverrideConfig(...), "
            "not in session_config, so it is composed with the library's"
        )
    unknown = sorted(set(options) - _SESSION_OPTIONS)
    if unknown:
        raise ConfigurationError(
            f"unknown session.init option(s) {unknown} in session_config; "
            f"valid: {sorted(_SESSION_OPTIONS)}"
        )
    return dict(options)


class _LogCodeEmail(EmailDeliveryInterface[CodeEmailVars]):
    """Development delivery: write e-mailed 2FA codes to the log instead of sending them."""

    async def send_email(self, template_vars: CodeEmailVars, user_context: dict[str, Any]) -> None:
        log.warning(
            "st-twofactor (development): e-mail code for %s: %s (valid %d s)",
            template_vars.email,
            template_vars.user_input_code,
            template_vars.code_life_time // 1000,
        )


class _LogCodeSMS(SMSDeliveryInterface[CodeSMSVars]):
    """Development delivery: write SMS 2FA codes to the log instead of sending them."""

    async def send_sms(self, template_vars: CodeSMSVars, user_context: dict[str, Any]) -> None:
        log.warning(
            "st-twofactor (development): SMS code for %s: %s (valid %d s)",
            template_vars.phone_number,
            template_vars.user_input_code,
            template_vars.code_life_time // 1000,
        )


class _LogPasswordResetEmail(EmailDeliveryInterface[PasswordResetEmailVars]):
    """Development delivery: write password-reset links to the log instead of e-mailing."""

    async def send_email(
        self, template_vars: PasswordResetEmailVars, user_context: dict[str, Any]
    ) -> None:
        log.warning(
            "st-twofactor (development): password reset link for %s: %s",
            template_vars.user.email,
            template_vars.password_reset_link,
        )
