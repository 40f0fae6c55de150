"""Sending second-factor codes through the passwordless recipe's e-mail and SMS deliveries
(the app's configured services), as a second factor, with the code's real remaining
lifetime (:mod:`st_twofactor.http.passwordless`)."""

from __future__ import annotations

from typing import Any

from supertokens_python.recipe.passwordless.interfaces import APIOptions
from supertokens_python.recipe.passwordless.types import (
    PasswordlessLoginEmailTemplateVars,
    PasswordlessLoginSMSTemplateVars,
)

from st_twofactor.factors.codes.flows import EMAIL, Contact


async def deliver(
    api_options: APIOptions,
    contact: Contact,
    code: str,
    pre_auth_session_id: str,
    tenant_id: str,
    lifetime_ms: int,
    user_context: dict[str, Any],
) -> None:
    """Send ``code`` to ``contact`` through the recipe's e-mail or SMS delivery: a typed
    code (never a magic link), marked as not a first factor, with the time it has left."""
    lifetime_ms = max(0, lifetime_ms)
    if contact.factor == EMAIL:
        email = PasswordlessLoginEmailTemplateVars(
            tenant_id=tenant_id,
            code_life_time=lifetime_ms,
            pre_auth_session_id=pre_auth_session_id,
            email=contact.value,
            is_first_factor=False,
            user_input_code=code,
        )
        await api_options.email_delivery.ingredient_interface_impl.send_email(email, user_context)
    else:
        sms = PasswordlessLoginSMSTemplateVars(
            tenant_id=tenant_id,
            code_life_time=lifetime_ms,
            pre_auth_session_id=pre_auth_session_id,
            phone_number=contact.value,
            is_first_factor=False,
            user_input_code=code,
        )
        await api_options.sms_delivery.ingredient_interface_impl.send_sms(sms, user_context)
