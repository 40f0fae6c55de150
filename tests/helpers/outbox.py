"""A captured outbox for e-mailed and SMS codes: the test double of a mail/SMS service.

Used by the tests of the passwordless second factor and the attack, load and fault
tests' app, so that codes are read from what the app "sent" and never from the network.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from supertokens_python.ingredients.emaildelivery.types import EmailDeliveryInterface
from supertokens_python.ingredients.smsdelivery.types import SMSDeliveryInterface
from supertokens_python.recipe.emailpassword.types import EmailTemplateVars as PasswordResetVars
from supertokens_python.recipe.passwordless.types import EmailTemplateVars, SMSTemplateVars

from st_twofactor.kernel.send_quota import SendQuota

UNMETERED = SendQuota(
    cooldown=0, per_10_minutes=1000, per_hour=1000, per_day=1000, unpinned_per_day=1000
)
"""The send quota of the test apps whose tests are not about quotas (they send many codes
within seconds); tests of the quotas pass ``send_quota=`` themselves."""


@dataclass
class Sent:
    """One captured e-mail or SMS."""

    to: str
    code: str
    pre_auth_session_id: str
    lifetime_ms: int
    first_factor: bool


class CapturedEmail(EmailDeliveryInterface[EmailTemplateVars]):
    """``delay``: seconds each send takes, like a mail service's API call."""

    def __init__(self, outbox: list[Sent], delay: float = 0.0) -> None:
        self.outbox = outbox
        self.delay = delay

    async def send_email(
        self, template_vars: EmailTemplateVars, user_context: dict[str, Any]
    ) -> None:
        await asyncio.sleep(self.delay)
        assert template_vars.user_input_code is not None
        assert template_vars.url_with_link_code is None  # no magic links for 2FA
        self.outbox.append(
            Sent(
                template_vars.email,
                template_vars.user_input_code,
                template_vars.pre_auth_session_id,
                template_vars.code_life_time,
                template_vars.is_first_factor,
            )
        )


class CapturedSMS(SMSDeliveryInterface[SMSTemplateVars]):
    """``delay``: seconds each send takes, like an SMS provider's API call."""

    def __init__(self, outbox: list[Sent], delay: float = 0.0) -> None:
        self.outbox = outbox
        self.delay = delay

    async def send_sms(self, template_vars: SMSTemplateVars, user_context: dict[str, Any]) -> None:
        await asyncio.sleep(self.delay)
        assert template_vars.user_input_code is not None
        self.outbox.append(
            Sent(
                template_vars.phone_number,
                template_vars.user_input_code,
                template_vars.pre_auth_session_id,
                template_vars.code_life_time,
                template_vars.is_first_factor,
            )
        )


class CapturedPasswordReset(EmailDeliveryInterface[PasswordResetVars]):
    """Password-reset e-mails: their links, appended to ``links``."""

    def __init__(self, links: list[str]) -> None:
        self.links = links

    async def send_email(
        self, template_vars: PasswordResetVars, user_context: dict[str, Any]
    ) -> None:
        self.links.append(template_vars.password_reset_link)
