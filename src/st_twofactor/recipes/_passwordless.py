"""The passwordless recipe: e-mail and SMS codes as a second factor, and optionally as a
first factor too.

The contact method follows the enabled code factors (``otp-email`` -> EMAIL,
``otp-phone`` -> PHONE, both -> EMAIL_OR_PHONE), so a code can only be sent where a
factor allows it. Each enabled code factor needs a delivery outside development: the
SDK's default would send through SuperTokens' hosted service. In development, codes and
sign-in links go to the log.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

from supertokens_python import RecipeInit
from supertokens_python.ingredients.emaildelivery.types import (
    EmailDeliveryConfig,
    EmailDeliveryInterface,
)
from supertokens_python.ingredients.smsdelivery.types import (
    SMSDeliveryConfig,
    SMSDeliveryInterface,
)
from supertokens_python.recipe import passwordless
from supertokens_python.recipe.passwordless import (
    ContactConfig,
    ContactEmailOnlyConfig,
    ContactEmailOrPhoneConfig,
    ContactPhoneOnlyConfig,
    PasswordlessOverrideConfig,
)
from supertokens_python.recipe.passwordless.types import EmailTemplateVars as CodeEmailVars
from supertokens_python.recipe.passwordless.types import SMSTemplateVars as CodeSMSVars
from supertokens_python.recipe.session.claims import BooleanClaim

from st_twofactor.config import TwoFactorConfig
from st_twofactor.errors import ConfigurationError
from st_twofactor.http.passwordless import override_passwordless_apis
from st_twofactor.recipes._checks import FlowType
from st_twofactor.recipes._compose import then

log = logging.getLogger("st_twofactor")

ContactMethod = Literal["EMAIL", "PHONE", "EMAIL_OR_PHONE"]


def needed_contact_method(factors: Sequence[str]) -> ContactMethod | None:
    """The contact method the enabled code factors need; ``None`` without one."""
    email, phone = "otp-email" in factors, "otp-phone" in factors
    if email and phone:
        return "EMAIL_OR_PHONE"
    if email:
        return "EMAIL"
    if phone:
        return "PHONE"
    return None


def passwordless_recipe(
    config: TwoFactorConfig,
    needed: ContactMethod | None,
    *,
    first_factor: bool,
    flow_type: FlowType,
    claim: BooleanClaim,
    override: PasswordlessOverrideConfig | None,
    contact_config: ContactConfig | None,
    email_delivery: EmailDeliveryConfig[CodeEmailVars] | None,
    sms_delivery: SMSDeliveryConfig[CodeSMSVars] | None,
) -> RecipeInit:
    """The passwordless recipe. ``needed``: the contact method the enabled code factors
    need (None: no code factor, passwordless is only a first factor)."""
    if contact_config is None:
        contact_config = _default_contact_config(needed or "EMAIL")
    elif not _covers(contact_config.contact_method, needed, first_factor=first_factor):
        raise ConfigurationError(
            f"passwordless_contact_config has contact method {contact_config.contact_method!r} "
            f"but the enabled factors need {needed!r}: pass a matching ContactConfig "
            "or change config.factors"
        )
    method: ContactMethod = contact_config.contact_method
    uses_email = method in ("EMAIL", "EMAIL_OR_PHONE")
    uses_phone = method in ("PHONE", "EMAIL_OR_PHONE")
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
        flow_type=flow_type,
        override=_passwordless_override(config, claim, override, first_factor=first_factor),
        email_delivery=email_delivery,
        sms_delivery=sms_delivery,
    )


def _passwordless_override(
    config: TwoFactorConfig,
    claim: BooleanClaim,
    app: PasswordlessOverrideConfig | None,
    *,
    first_factor: bool,
) -> PasswordlessOverrideConfig:
    """The library's passwordless API override (:mod:`st_twofactor.http.passwordless`),
    wrapped by the app's; the app's ``functions`` are used as they are."""
    ours = override_passwordless_apis(config, claim=claim, first_factor=first_factor)
    if app is None:
        return PasswordlessOverrideConfig(apis=ours)
    return PasswordlessOverrideConfig(functions=app.functions, apis=then(ours, app.apis))


def _covers(method: str, needed: ContactMethod | None, *, first_factor: bool) -> bool:
    """Whether a contact config's method suits the code factors: exactly, for a second
    factor only; for a first factor too, any method that includes what they need."""
    if method == needed:
        return True
    if not first_factor:
        return False
    return needed is None or method == "EMAIL_OR_PHONE"


def _default_contact_config(method: ContactMethod) -> ContactConfig:
    if method == "EMAIL":
        return ContactEmailOnlyConfig()
    if method == "PHONE":
        return ContactPhoneOnlyConfig()
    return ContactEmailOrPhoneConfig()


def _log_code(kind: str, to: str, code: str | None, link: str | None, lifetime_ms: int) -> None:
    """Write a development code, or a sign-in link (a first factor), to the log."""
    if code is not None:
        log.warning(
            "st-twofactor (development): %s code for %s: %s (valid %d s)",
            kind,
            to,
            code,
            lifetime_ms // 1000,
        )
    if link is not None:
        log.warning(
            "st-twofactor (development): sign-in link for %s: %s (valid %d s)",
            to,
            link,
            lifetime_ms // 1000,
        )


class _LogCodeEmail(EmailDeliveryInterface[CodeEmailVars]):
    """Development delivery: write e-mailed 2FA codes to the log instead of sending them."""

    async def send_email(self, template_vars: CodeEmailVars, user_context: dict[str, Any]) -> None:
        _log_code(
            "e-mail",
            template_vars.email,
            template_vars.user_input_code,
            template_vars.url_with_link_code,
            template_vars.code_life_time,
        )


class _LogCodeSMS(SMSDeliveryInterface[CodeSMSVars]):
    """Development delivery: write SMS 2FA codes to the log instead of sending them."""

    async def send_sms(self, template_vars: CodeSMSVars, user_context: dict[str, Any]) -> None:
        _log_code(
            "SMS",
            template_vars.phone_number,
            template_vars.user_input_code,
            template_vars.url_with_link_code,
            template_vars.code_life_time,
        )
