"""Sending codes as a second factor through the passwordless recipe's e-mail and SMS
deliveries, with the code's real remaining lifetime
(:mod:`st_twofactor.http.passwordless`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from supertokens_python.ingredients.emaildelivery import EmailDeliveryIngredient
from supertokens_python.ingredients.emaildelivery.types import (
    EmailDeliveryConfigWithService,
    EmailDeliveryInterface,
)
from supertokens_python.ingredients.smsdelivery import SMSDeliveryIngredient
from supertokens_python.ingredients.smsdelivery.types import (
    SMSDeliveryConfigWithService,
    SMSDeliveryInterface,
)
from supertokens_python.recipe.passwordless.interfaces import (
    APIOptions,
    CreateCodeOkResult,
)
from supertokens_python.recipe.passwordless.types import (
    PasswordlessLoginEmailTemplateVars,
    PasswordlessLoginSMSTemplateVars,
)

from st_twofactor.factors.codes.flows import EMAIL, PHONE, Contact
from st_twofactor.stores.state import PendingCode


class SecondFactorEmail(EmailDeliveryInterface[PasswordlessLoginEmailTemplateVars]):
    """Wraps the app's e-mail delivery: the code's real remaining lifetime, not first factor."""

    def __init__(
        self,
        inner: EmailDeliveryInterface[PasswordlessLoginEmailTemplateVars],
        deadline: float,
        clock: Callable[[], float],
    ) -> None:
        self._inner = inner
        self.deadline = deadline
        self.clock = clock

    async def send_email(
        self, template_vars: PasswordlessLoginEmailTemplateVars, user_context: dict[str, Any]
    ) -> None:
        _as_second_factor(template_vars, self.deadline, self.clock())
        await self._inner.send_email(template_vars, user_context)


class SecondFactorSMS(SMSDeliveryInterface[PasswordlessLoginSMSTemplateVars]):
    """Wraps the app's SMS delivery: the code's real remaining lifetime, not first factor."""

    def __init__(
        self,
        inner: SMSDeliveryInterface[PasswordlessLoginSMSTemplateVars],
        deadline: float,
        clock: Callable[[], float],
    ) -> None:
        self._inner = inner
        self.deadline = deadline
        self.clock = clock

    async def send_sms(
        self, template_vars: PasswordlessLoginSMSTemplateVars, user_context: dict[str, Any]
    ) -> None:
        _as_second_factor(template_vars, self.deadline, self.clock())
        await self._inner.send_sms(template_vars, user_context)


async def deliver(
    api_options: APIOptions,
    contact: Contact,
    code: CreateCodeOkResult,
    tenant_id: str,
    deadline: float,
    now: float,
    user_context: dict[str, Any],
) -> None:
    """Send a new code through the recipe's e-mail or SMS delivery, as a second factor."""
    lifetime_ms = _remaining_ms(code.code_life_time, deadline, now)
    if contact.factor == EMAIL:
        email = PasswordlessLoginEmailTemplateVars(
            tenant_id=tenant_id,
            code_life_time=lifetime_ms,
            pre_auth_session_id=code.pre_auth_session_id,
            email=contact.value,
            is_first_factor=False,
            user_input_code=code.user_input_code,
        )
        await api_options.email_delivery.ingredient_interface_impl.send_email(email, user_context)
    else:
        sms = PasswordlessLoginSMSTemplateVars(
            tenant_id=tenant_id,
            code_life_time=lifetime_ms,
            pre_auth_session_id=code.pre_auth_session_id,
            phone_number=contact.value,
            is_first_factor=False,
            user_input_code=code.user_input_code,
        )
        await api_options.sms_delivery.ingredient_interface_impl.send_sms(sms, user_context)


def _as_second_factor(
    template_vars: PasswordlessLoginEmailTemplateVars | PasswordlessLoginSMSTemplateVars,
    deadline: float,
    now: float,
) -> None:
    """Tell the message template the truth: a second factor, and the time really left."""
    template_vars.is_first_factor = False
    template_vars.code_life_time = _remaining_ms(template_vars.code_life_time, deadline, now)


def _remaining_ms(core_lifetime_ms: int, deadline: float, now: float) -> int:
    """The lifetime to tell the user: the core's or ours, whichever ends first."""
    return max(0, min(int(core_lifetime_ms), int((deadline - now) * 1000)))


async def revoke_codes(
    api_options: APIOptions, pending: PendingCode, tenant_id: str, user_context: dict[str, Any]
) -> None:
    """Revoke every code sent to the device's contact (the core's own rule on consume)."""
    await api_options.recipe_implementation.revoke_all_codes(
        email=pending.contact if pending.factor == EMAIL else None,
        phone_number=pending.contact if pending.factor == PHONE else None,
        tenant_id=tenant_id,
        user_context=user_context,
    )


def second_factor_options(
    api_options: APIOptions, *, deadline: float, clock: Callable[[], float]
) -> APIOptions:
    """``api_options`` whose deliveries state the real lifetime and a second factor
    (for the SDK's ``resend_code_post``, which builds the message itself)."""
    email = SecondFactorEmail(api_options.email_delivery.ingredient_interface_impl, deadline, clock)
    sms = SecondFactorSMS(api_options.sms_delivery.ingredient_interface_impl, deadline, clock)
    return APIOptions(
        request=api_options.request,
        response=api_options.response,
        recipe_id=api_options.recipe_id,
        # A second-factor code is typed, never a link, whatever the sign-in flow is.
        config=api_options.config.model_copy(update={"flow_type": "USER_INPUT_CODE"}),
        recipe_implementation=api_options.recipe_implementation,
        app_info=api_options.app_info,
        email_delivery=EmailDeliveryIngredient(EmailDeliveryConfigWithService(service=email)),
        sms_delivery=SMSDeliveryIngredient(SMSDeliveryConfigWithService(service=sms)),
    )
