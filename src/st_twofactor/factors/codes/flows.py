"""What the e-mail/SMS code flows share (the passwordless endpoints,
:mod:`st_twofactor.http.passwordless`): the factor's contact, the answers for a locked factor or a
full send quota, the base of the flows
(config, clock, step-up), and helpers over the user's state and account."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias

from supertokens_python.asyncio import get_user
from supertokens_python.auth_utils import is_fake_email
from supertokens_python.recipe.passwordless.interfaces import (
    ConsumeCodePostExpiredUserInputCodeError,
    ConsumeCodePostIncorrectUserInputCodeError,
    ConsumeCodePostOkResult,
    ConsumeCodePostRestartFlowError,
    CreateCodePostOkResult,
    ResendCodePostOkResult,
    ResendCodePostRestartFlowError,
    SignInUpPostNotAllowedResponse,
)
from supertokens_python.recipe.session import SessionContainer
from supertokens_python.recipe.session.exceptions import UnauthorisedError
from supertokens_python.types import User
from supertokens_python.types.response import GeneralErrorResponse

from st_twofactor.factors.base import FactorBase, FactorView, Kernel
from st_twofactor.factors.codes._inputs import normalise_email
from st_twofactor.factors.codes._timing import Durations
from st_twofactor.ids import CodeFactor, FactorId
from st_twofactor.stores.state import PendingCode, TwoFactorState

__all__ = [
    "EMAIL",
    "MAX_PENDING_CODES",
    "NOT_ENABLED",
    "NO_EMAIL",
    "PHONE",
    "SIGNED_IN_WITH",
    "CodeFlows",
    "ConsumeCodePostResult",
    "Contact",
    "CreateCodePostResult",
    "EmailCodeFactor",
    "Factor",
    "LimitReachedResponse",
    "PhoneCodeFactor",
    "ResendCodePostResult",
    "SendLimitResponse",
    "account_emails",
    "counts_as_pinned",
    "own_pending",
    "pending_contact",
    "pinned_contact",
    "same_contact",
    "session_user",
    "signed_in_with",
    "wait_text",
]

Factor = CodeFactor
EMAIL: Factor = "otp-email"
PHONE: Factor = "otp-phone"

MAX_PENDING_CODES = 3
"""Devices (code requests) kept pending per user; a newer request drops the oldest."""


CreateCodePostResult: TypeAlias = (
    CreateCodePostOkResult | SignInUpPostNotAllowedResponse | GeneralErrorResponse
)
ResendCodePostResult: TypeAlias = (
    ResendCodePostOkResult | ResendCodePostRestartFlowError | GeneralErrorResponse
)
ConsumeCodePostResult: TypeAlias = (
    ConsumeCodePostOkResult
    | ConsumeCodePostRestartFlowError
    | GeneralErrorResponse
    | ConsumeCodePostIncorrectUserInputCodeError
    | ConsumeCodePostExpiredUserInputCodeError
    | SignInUpPostNotAllowedResponse
)


class LimitReachedResponse(GeneralErrorResponse):
    """A locked factor: ``GENERAL_ERROR`` with the wait in words, plus ``retryAfterMs``.

    ``GENERAL_ERROR`` because SuperTokens' frontend SDKs show its message on these
    endpoints; the extra field lets custom frontends show a countdown.
    """

    def __init__(self, retry_after_ms: int, what: str = "Too many failed attempts") -> None:
        super().__init__(f"{what}: try again in {wait_text(retry_after_ms)}.")
        self.retry_after_ms = retry_after_ms

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "retryAfterMs": self.retry_after_ms}


class SendLimitResponse(LimitReachedResponse):
    """A send quota was reached (S15): ``GENERAL_ERROR`` + ``retryAfterMs``; nothing sent."""

    def __init__(self, retry_after_ms: int, factor: Factor) -> None:
        super().__init__(retry_after_ms, "Too many codes were sent")
        self.factor = factor


@dataclass(frozen=True)
class Contact:
    """A requested destination, normalised as the core stores it."""

    factor: Factor
    value: str


class CodeFlows(FactorBase):
    """The base of the flows behind the overridden endpoints, for both code factors
    (each call names its factor)."""

    def __init__(self, kernel: Kernel, *, first_factor: bool = False) -> None:
        super().__init__(kernel)
        self.first_factor = first_factor
        self.completion = kernel.completion
        self.durations = Durations()
        """How long real deliveries take, for decoys to take as long."""

    def deadline(self, created_at: float) -> float:
        return created_at + self.config.otp_code_lifetime

    # -- shared --

    def _may_pin(self, state: TwoFactorState, session: SessionContainer) -> bool:
        """A contact may be pinned by a user with no factor, or after a recent 2FA (S8)."""
        return self.may_change(state, session.get_access_token_payload())

    def _step_up_message(self, factor: Factor) -> str:
        what = "an e-mail address" if factor == EMAIL else "a phone number"
        minutes = wait_text(math.ceil(self.config.step_up_window * 1000))
        return (
            f"Adding {what} for codes needs a second factor completed in the last {minutes}: "
            "verify with a factor you already have, then try again."
        )


NOT_ENABLED: dict[Factor, str] = {
    EMAIL: "E-mailed codes are not enabled for two-factor authentication: "
    "use another second factor.",
    PHONE: "SMS codes are not enabled for two-factor authentication: use another second factor.",
}
SIGNED_IN_WITH: dict[Factor, str] = {
    EMAIL: "This session signed in with a code sent to this e-mail address, so a code "
    "sent there cannot be its second factor: use another second factor, or sign out "
    "first to sign in with another account.",
    PHONE: "This session signed in with a code sent to this phone number, so a code "
    "sent there cannot be its second factor: use another second factor, or sign out "
    "first to sign in with another account.",
}
NO_EMAIL = (
    "No e-mail address is known for this account, so codes cannot be e-mailed: "
    "use another second factor."
)


async def signed_in_with(
    session: SessionContainer, contact: Contact, user_context: dict[str, Any]
) -> bool:
    """Whether ``contact`` is the passwordless login method this session signed in with
    (a code there would be the first factor again, not a second one)."""
    user = await session_user(session, user_context)
    recipe_user_id = session.get_recipe_user_id().get_as_string()
    for method in user.login_methods:
        if method.recipe_id != "passwordless":
            continue
        if method.recipe_user_id.get_as_string() != recipe_user_id:
            continue
        value = method.email if contact.factor == EMAIL else method.phone_number
        if value is not None and same_contact(value, contact):
            return True
    return False


def same_contact(stored: str, contact: Contact) -> bool:
    value = normalise_email(stored) if contact.factor == EMAIL else stored.strip()
    return value == contact.value


def own_pending(state: TwoFactorState, key: str, session: SessionContainer) -> PendingCode | None:
    """The device ``key`` if this session asked for it (a code is bound to its request).
    A device an earlier version made in the core (no codes of its own) is not one any
    more: the user asks again."""
    pending = state.otp_pending.get(key)
    if pending is None or pending.factor not in (EMAIL, PHONE) or pending.codes is None:
        return None
    if pending.session_handle is not None and pending.session_handle != session.get_handle():
        return None
    return pending


def pending_contact(pending: PendingCode) -> Contact:
    return Contact(EMAIL if pending.factor == EMAIL else PHONE, pending.contact)


def counts_as_pinned(state: TwoFactorState, contact: Contact) -> bool:
    """Whether a send to ``contact`` counts as one to a pinned destination for the send
    quota (S15). E-mailed codes only ever go to the account's own addresses, so they
    cannot be sprayed and always count as pinned. A phone number counts as pinned once
    one is pinned: codes then go to that number only, and any other number gets a decoy
    (nothing is sent), metered exactly like the pinned number so that the quota's
    answers do not tell the two apart either.
    """
    return contact.factor == EMAIL or pinned_contact(state, contact.factor) is not None


def pinned_contact(state: TwoFactorState, factor: str) -> str | None:
    return state.email if factor == EMAIL else state.phone


async def session_user(session: SessionContainer, user_context: dict[str, Any]) -> User:
    user = await get_user(session.get_user_id(), user_context)
    if user is None:
        raise UnauthorisedError("Session user not found")
    return user


async def account_emails(session: SessionContainer, user_context: dict[str, Any]) -> set[str]:
    """The real e-mail addresses of the user's login methods (the SDK's fake ones left out)."""
    user = await session_user(session, user_context)
    return {
        normalise_email(m.email)
        for m in user.login_methods
        if m.email and not is_fake_email(m.email)
    }


def wait_text(milliseconds: int) -> str:
    if milliseconds >= 60_000:
        minutes = math.ceil(milliseconds / 60_000)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    seconds = max(1, math.ceil(milliseconds / 1000))
    return f"{seconds} second{'s' if seconds != 1 else ''}"


class EmailCodeFactor(FactorBase):
    """Codes e-mailed to the account's (then pinned) address (factor ``"otp-email"``):
    sent by :class:`~st_twofactor.factors.codes._send.CodeSending`, checked by
    :class:`~st_twofactor.factors.codes._check.CodeChecking`."""

    id: ClassVar[FactorId] = "otp-email"

    @staticmethod
    def can_complete(view: FactorView) -> bool:
        """To the pinned address or, while one may be pinned, the account's."""
        return view.enabled and view.email is not None

    @staticmethod
    def can_enrol(view: FactorView) -> bool:
        return view.state.email is None and view.email is not None

    @staticmethod
    def describe(state: TwoFactorState) -> dict[str, Any]:
        return {}


class PhoneCodeFactor(FactorBase):
    """Codes sent by SMS to the pinned number (factor ``"otp-phone"``), as
    :class:`EmailCodeFactor`."""

    id: ClassVar[FactorId] = "otp-phone"

    @staticmethod
    def can_complete(view: FactorView) -> bool:
        return view.enabled and view.phone is not None

    @staticmethod
    def can_enrol(view: FactorView) -> bool:
        return view.state.phone is None

    @staticmethod
    def describe(state: TwoFactorState) -> dict[str, Any]:
        return {}
