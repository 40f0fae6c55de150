"""E-mail and SMS codes as a second factor, on the passwordless recipe's own endpoints.

:func:`override_passwordless_apis` overrides the passwordless recipe's APIs so that
SuperTokens' frontend SDKs work unchanged (``POST /auth/signinup/code``, ``.../resend``,
``.../consume``) while passwordless is a *second* factor (unless the app also chose it
as a first factor, ``first_factor=True``):

- Every endpoint needs a session (401 without one; see ``first_factor`` below); the 2FA
  claim itself is not required, since these endpoints are how it gets completed. With a
  session no passwordless user and no new session is ever created: a code is made with
  the recipe's ``create_code`` and sent through the recipe's e-mail or SMS delivery,
  checked with the recipe's ``check_code``, its device's codes are revoked, and the
  claim is set in the session that asked for the code (DESIGN 9). The SDK's own
  ``create_code_post`` is not used: its sign-in/up checks (account lookups, the tenant's
  first factors) are about a passwordless user that is never created here, so they
  decide nothing for a second factor and cost three core calls.
- With ``first_factor=True`` (passwordless is also how users sign in) a request
  *without* a session to ``signinup/code``, ``.../resend`` or ``.../consume`` is handed to
  the SDK's own implementation: the app's ordinary passwordless sign-in/up, whose new
  session gets the claim from the session override (``False`` unless 2FA is not
  required). A request *with* a session is a second factor, as below; the contact of the
  passwordless login method the session signed in with cannot be its second factor (that
  would be the first factor twice). An invalid session is still a 401, never a sign-in.
  A second-factor code used without a session is a sign-in for its contact, which is
  what its owner could do with a sign-in code anyway (the code only ever reaches them).
- Codes go only to the contact pinned for the user (:attr:`TwoFactorState.email` /
  :attr:`~TwoFactorState.phone`), so someone who knows the password cannot have the code
  sent to their own inbox or phone (S6). Until an e-mail is pinned, the default is one of the
  account's own e-mail addresses (its login methods); a phone number has no default. The
  first successful use of a contact pins it, which is an enrolment (epoch bumped,
  :class:`~st_twofactor.events.FactorEnrolled`), allowed only to a user with no factor yet
  or with a 2FA completed within the step-up window (S8). A destination other than the
  pinned one is refused and no code is sent.
- A user whose account has no e-mail address and no pinned e-mail cannot use
  ``otp-email``: the request is answered ``GENERAL_ERROR`` and nothing is sent. That is
  the case of a social login that shared no e-mail, for which the SDK stores a made-up
  ``...@stfakeemail.supertokens.com`` address (never used here). Such users enrol TOTP or
  a phone number instead.
- Each code is bound to the user, the session and the request that made it: the
  ``preAuthSessionId`` of its device is recorded with the session handle in the user's
  state (:attr:`TwoFactorState.otp_pending`, at most :data:`MAX_PENDING_CODES`), the client
  must present the matching ``deviceId``, and a consume or resend naming a device that is
  not pending for this session is a ``RESTART_FLOW_ERROR``. A code works once, also under
  concurrent use (removing the pending entry is the atomic step that decides).
- Every code of a device expires ``config.otp_code_lifetime`` seconds after the device was
  created (10 minutes by default), whatever the core's own lifetime; a resend sends a new
  code but does not extend that deadline. The lifetime in the e-mail or SMS is corrected
  accordingly. At most ``config.otp_max_attempts`` wrong codes per device (then its codes
  are revoked), and the factor is throttled per user across devices and sessions (S2):
  a locked factor is answered ``GENERAL_ERROR`` with the wait in the message and in
  ``retryAfterMs``, and no code is sent or checked.
- Only ``deviceId`` + ``userInputCode`` is accepted: the recipe runs in the
  ``USER_INPUT_CODE`` flow, so no magic link is ever sent, and a ``linkCode`` is refused.
- ``GET /auth/passwordless/email/exists`` and ``.../phonenumber/exists`` need a session
  too: without one they would let anyone probe which contacts have accounts.
- Malformed bodies are a 400 (S13). The SDK's own request handlers read the body before
  any override runs and crash (a 500) on a non-object body or a non-string ``email``, so
  installing the override also installs, once the SDK is initialised, a check of the body's
  shape in front of the passwordless recipe's handlers (:func:`_guard_request_bodies`).

Cost, in core calls with the default user-metadata store: asking for a code takes 4
(the state read; the user, for their e-mail; the code; the state written to record the
device), 3 once the contact is pinned (no user lookup); using it takes 7 (the state read;
the attempt counted; ``check_code``; the device claimed; revoking the codes, since
``check_code`` leaves them in the core; the session's new access token; the user for the
answer). Each request's steps are one store transaction, so the state is read once. The
passwordless recipe's ``create_code`` and ``check_code`` run inside it: an app that
overrides them must not change the same user's 2FA state from there (with the default
store that would wait for the user's lock, and fail after 30 s).

Codes never appear in logs or messages from this module; in development mode
:func:`~st_twofactor.recipes.build_recipe_list` configures a delivery that writes them to
the log, and that is the only place they are logged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, cast

from supertokens_python.asyncio import get_user
from supertokens_python.auth_utils import is_fake_email
from supertokens_python.exceptions import raise_bad_input_exception
from supertokens_python.framework import BaseRequest
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
from supertokens_python.post_init_callbacks import PostSTInitCallbacks
from supertokens_python.recipe.passwordless.constants import (
    CONSUME_CODE_API,
    CREATE_CODE_API,
    RESEND_CODE_API,
)
from supertokens_python.recipe.passwordless.interfaces import (
    APIInterface,
    APIOptions,
    CheckCodeExpiredUserInputCodeError,
    CheckCodeIncorrectUserInputCodeError,
    CheckCodeOkResult,
    ConsumeCodePostExpiredUserInputCodeError,
    ConsumeCodePostIncorrectUserInputCodeError,
    ConsumeCodePostOkResult,
    ConsumeCodePostRestartFlowError,
    CreateCodeOkResult,
    CreateCodePostOkResult,
    EmailExistsGetOkResult,
    PhoneNumberExistsGetOkResult,
    ResendCodePostOkResult,
    ResendCodePostRestartFlowError,
    SignInUpPostNotAllowedResponse,
)
from supertokens_python.recipe.passwordless.recipe import PasswordlessRecipe
from supertokens_python.recipe.passwordless.types import (
    PasswordlessLoginEmailTemplateVars,
    PasswordlessLoginSMSTemplateVars,
)
from supertokens_python.recipe.session import SessionContainer
from supertokens_python.recipe.session.asyncio import get_session
from supertokens_python.recipe.session.claims import BooleanClaim
from supertokens_python.recipe.session.exceptions import UnauthorisedError
from supertokens_python.recipe.session.interfaces import SessionClaimValidator
from supertokens_python.types import User
from supertokens_python.types.response import APIResponse, GeneralErrorResponse
from supertokens_python.utils import get_backwards_compatible_user_info

from . import events, factors, send_quota, throttle
from ._request_guard import RequestCheck, check_types, guard_requests, json_object
from ._setup_check import mark_completing
from .claim import SecondFactorClaim
from .completion import SessionCompletion
from .config import TwoFactorConfig
from .factors import CodeFactor, Counted, Locked, count_attempt, record_success
from .service import remember_tokens
from .store import PendingCode, Transaction, TwoFactorState
from .throttle import Allowed, Refused

__all__ = [
    "MAX_PENDING_CODES",
    "LimitReachedResponse",
    "PasswordlessAPIOverride",
    "SendLimitResponse",
    "override_passwordless_apis",
]

PasswordlessAPIOverride = Callable[[APIInterface], APIInterface]
"""The shape of ``PasswordlessOverrideConfig(apis=...)``."""

Factor = CodeFactor
EMAIL: Factor = "otp-email"
PHONE: Factor = "otp-phone"

MAX_PENDING_CODES = 3
"""Devices (code requests) kept pending per user; a newer request drops the oldest."""

_PRE_AUTH_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,128}={0,2}")
_DEVICE_ID = re.compile(r"[A-Za-z0-9+/]{1,128}={0,2}")
_USER_INPUT_CODE = re.compile(r"[!-~]{1,64}")
"""Printable ASCII only: unicode digits are refused before any comparison (DESIGN 8)."""

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
        super().__init__(f"{what}: try again in {_wait_text(retry_after_ms)}.")
        self.retry_after_ms = retry_after_ms

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "retryAfterMs": self.retry_after_ms}


class SendLimitResponse(LimitReachedResponse):
    """A send quota was reached (S15): ``GENERAL_ERROR`` + ``retryAfterMs``; nothing sent."""

    def __init__(self, retry_after_ms: int, factor: Factor) -> None:
        super().__init__(retry_after_ms, "Too many codes were sent")
        self.factor = factor


def override_passwordless_apis(
    config: TwoFactorConfig,
    *,
    claim: BooleanClaim = SecondFactorClaim,
    first_factor: bool = False,
) -> PasswordlessAPIOverride:
    """Make the override for ``PasswordlessOverrideConfig(apis=...)`` (see the module doc).

    An app that calls ``passwordless.init`` itself composes it with its own override
    (``build_recipe_list(add_passwordless=False, ...)``)::

        ours = override_passwordless_apis(config, first_factor=True)
        PasswordlessOverrideConfig(apis=lambda original: my_apis(ours(original)))

    :param config: the app's :class:`~st_twofactor.config.TwoFactorConfig` (lifetime,
        attempts, throttling, step-up window, store, events, clock).
    :param claim: the second-factor claim set on success; the same one the session
        override uses.
    :param first_factor: ``True`` when passwordless is also how users sign in: a
        request *without* a session to ``signinup/code``, ``.../resend`` or
        ``.../consume`` is then the SDK's ordinary passwordless sign-in/up (its new
        session starts with the claim ``False`` unless 2FA is not required for the
        user), and one *with* a session is a second factor, as always. The contact
        the session signed in with (its passwordless login method) cannot also be its
        second factor. ``False`` (default): a second factor only, 401 without a
        session (S10).
    """
    flows = _CodeFlows(config, claim, first_factor=first_factor)

    def override(original_implementation: APIInterface) -> APIInterface:
        original_create = original_implementation.create_code_post
        original_consume = original_implementation.consume_code_post
        original_resend = original_implementation.resend_code_post
        original_email_exists = original_implementation.email_exists_get
        original_phone_exists = original_implementation.phone_number_exists_get

        async def create_code_post(
            email: str | None,
            phone_number: str | None,
            session: SessionContainer | None,
            should_try_linking_with_session_user: bool | None,
            tenant_id: str,
            api_options: APIOptions,
            user_context: dict[str, Any],
        ) -> CreateCodePostResult:
            session = await _session(api_options.request, user_context, first_factor)
            if session is None:  # a first-factor sign-in/up: the SDK's own
                return await original_create(
                    email=email,
                    phone_number=phone_number,
                    session=None,
                    should_try_linking_with_session_user=False,
                    tenant_id=tenant_id,
                    api_options=api_options,
                    user_context=user_context,
                )
            contact = flows.requested_contact(email, phone_number)
            return await flows.send_code(session, contact, api_options, user_context)

        async def resend_code_post(
            device_id: str,
            pre_auth_session_id: str,
            session: SessionContainer | None,
            should_try_linking_with_session_user: bool | None,
            tenant_id: str,
            api_options: APIOptions,
            user_context: dict[str, Any],
        ) -> ResendCodePostResult:
            session = await _session(api_options.request, user_context, first_factor)
            if session is None:  # a first-factor sign-in/up: the SDK's own
                return await original_resend(
                    device_id=device_id,
                    pre_auth_session_id=pre_auth_session_id,
                    session=None,
                    should_try_linking_with_session_user=False,
                    tenant_id=tenant_id,
                    api_options=api_options,
                    user_context=user_context,
                )
            if _forgotten_device(pre_auth_session_id, device_id):
                return ResendCodePostRestartFlowError()
            key = _device_key(pre_auth_session_id, device_id)
            pending = await flows.resendable(session, key, user_context)
            if not isinstance(pending, PendingCode):
                await flows.report_refused_send(session, pending)
                return pending
            return await original_resend(
                device_id=device_id,
                pre_auth_session_id=pre_auth_session_id,
                session=None,
                should_try_linking_with_session_user=False,
                tenant_id=session.get_tenant_id(),
                api_options=flows.delivery_options(
                    api_options, deadline=flows.deadline(pending.created_at)
                ),
                user_context=user_context,
            )

        async def consume_code_post(
            pre_auth_session_id: str,
            user_input_code: str | None,
            device_id: str | None,
            link_code: str | None,
            session: SessionContainer | None,
            should_try_linking_with_session_user: bool | None,
            tenant_id: str,
            api_options: APIOptions,
            user_context: dict[str, Any],
        ) -> ConsumeCodePostResult:
            session = await _session(api_options.request, user_context, first_factor)
            if session is None:  # a first-factor sign-in/up: the SDK's own
                return await original_consume(
                    pre_auth_session_id=pre_auth_session_id,
                    user_input_code=user_input_code,
                    device_id=device_id,
                    link_code=link_code,
                    session=None,
                    should_try_linking_with_session_user=False,
                    tenant_id=tenant_id,
                    api_options=api_options,
                    user_context=user_context,
                )
            if link_code is not None or device_id is None or user_input_code is None:
                raise_bad_input_exception(
                    "Please provide deviceId and userInputCode: links are not used for 2FA"
                )
            if _forgotten_device(pre_auth_session_id, device_id):
                return ConsumeCodePostRestartFlowError()
            entry = _CodeEntry(
                key=_device_key(pre_auth_session_id, device_id),
                pre_auth_session_id=pre_auth_session_id,
                device_id=device_id,
                code=_user_input_code(user_input_code),
                remember=await _remember_requested(api_options.request),
            )
            return await flows.consume(session, entry, api_options, user_context)

        async def email_exists_get(
            email: str, tenant_id: str, api_options: APIOptions, user_context: dict[str, Any]
        ) -> EmailExistsGetOkResult | GeneralErrorResponse:
            await _require_session(api_options.request, user_context)
            return await original_email_exists(
                email=email, tenant_id=tenant_id, api_options=api_options, user_context=user_context
            )

        async def phone_number_exists_get(
            phone_number: str,
            tenant_id: str,
            api_options: APIOptions,
            user_context: dict[str, Any],
        ) -> PhoneNumberExistsGetOkResult | GeneralErrorResponse:
            await _require_session(api_options.request, user_context)
            return await original_phone_exists(
                phone_number=phone_number,
                tenant_id=tenant_id,
                api_options=api_options,
                user_context=user_context,
            )

        PostSTInitCallbacks.add_post_init_callback(
            lambda: _guard_request_bodies(first_factor=first_factor)
        )
        mark_completing(original_implementation)  # consuming a code completes 2FA
        original_implementation.create_code_post = create_code_post  # type: ignore[method-assign]
        original_implementation.resend_code_post = resend_code_post  # type: ignore[method-assign]
        original_implementation.consume_code_post = consume_code_post  # type: ignore[method-assign]
        original_implementation.email_exists_get = email_exists_get  # type: ignore[method-assign]
        original_implementation.phone_number_exists_get = phone_number_exists_get  # type: ignore[method-assign]
        return original_implementation

    return override


@dataclass(frozen=True)
class _Contact:
    """A requested destination, normalised as the core stores it."""

    factor: Factor
    value: str


@dataclass(frozen=True)
class _CodeEntry:
    """What the user sent to the consume endpoint, checked for shape."""

    key: str
    pre_auth_session_id: str
    device_id: str
    code: str
    remember: bool = False
    """``rememberDevice: true`` in the body: remember this device once 2FA is complete."""


class _RememberedResult(APIResponse):
    """2FA completed by a code and the device remembered, for a header-mode client: the
    SDK's OK answer plus ``rememberDeviceToken`` (:mod:`~st_twofactor.completion`). Its own
    class because the SDK writes the body of a ``ConsumeCodePostOkResult`` itself."""

    status: str = "OK"

    def __init__(
        self,
        *,
        user: User,
        session: SessionContainer,
        request: BaseRequest,
        remember_device_token: str,
        user_context: dict[str, Any],
    ) -> None:
        self.user = user
        self.session = session
        self.request = request
        self.remember_device_token = remember_device_token
        self.user_context = user_context

    def to_json(self) -> dict[str, Any]:
        user_info = get_backwards_compatible_user_info(
            req=self.request,
            user_info=self.user,
            session_container=self.session,
            created_new_recipe_user=False,
            user_context=self.user_context,
        )
        return {
            "status": self.status,
            **user_info,
            "rememberDeviceToken": self.remember_device_token,
        }


@dataclass(frozen=True)
class _Claimed:
    """A right code whose device this request claimed: the session may be completed."""

    factor: Factor
    enrolled: bool


@dataclass(frozen=True)
class _Attempt:
    """What the atomic start of a consume decided."""

    pending: PendingCode | None
    counted: Counted | None = None
    expired: bool = False


class _CodeFlows:
    """The checks and state changes behind the overridden endpoints, for one config."""

    def __init__(
        self, config: TwoFactorConfig, claim: BooleanClaim, *, first_factor: bool = False
    ) -> None:
        self.config = config
        self.claim = claim
        self.first_factor = first_factor
        self.store = config.state_store
        self.policy = config.throttle_policy
        self.completion = SessionCompletion(config, claim, remember_tokens(config))

    def now(self) -> float:
        return self.config.clock()

    def deadline(self, created_at: float) -> float:
        return created_at + self.config.otp_code_lifetime

    # -- sending --

    def requested_contact(self, email: str | None, phone_number: str | None) -> _Contact:
        """The destination the client asked for; 400 unless exactly one is a string."""
        if isinstance(email, str) and phone_number is None:
            contact = _Contact(EMAIL, _normalise_email(email))
        elif isinstance(phone_number, str) and email is None:
            contact = _Contact(PHONE, phone_number.strip())
        else:
            raise_bad_input_exception("Please provide exactly one of email or phoneNumber")
        if not contact.value or len(contact.value) > 256:
            raise_bad_input_exception("Please provide a valid email or phoneNumber")
        return contact

    async def may_send(
        self,
        held: Transaction,
        session: SessionContainer,
        contact: _Contact,
        user_context: dict[str, Any],
    ) -> GeneralErrorResponse | None:
        """Why no code may be sent to ``contact`` for this session's user, or None."""
        if contact.factor not in self.config.factors:
            return GeneralErrorResponse(_NOT_ENABLED[contact.factor])
        if self.first_factor and await _signed_in_with(session, contact, user_context):
            return GeneralErrorResponse(_SIGNED_IN_WITH[contact.factor])
        state = await held.load()
        decision = throttle.check(self.policy, state.throttle, contact.factor, self.now())
        if isinstance(decision, Refused):
            return LimitReachedResponse(decision.retry_after_ms)
        pinned = _pinned(state, contact.factor)
        over_quota = self._over_quota(
            state, contact.factor, pinned=_counts_as_pinned(state, contact)
        )
        if pinned is not None:
            if not _same(pinned, contact):
                return GeneralErrorResponse(_NOT_PINNED[contact.factor])
            return over_quota
        if over_quota is not None:
            return over_quota
        if contact.factor == EMAIL:
            emails = await _account_emails(session, user_context)
            if not emails:
                return GeneralErrorResponse(_NO_EMAIL)
            if contact.value not in emails:
                return GeneralErrorResponse(_NOT_PINNED[EMAIL])
        if not self._may_pin(state, session):
            return GeneralErrorResponse(self._step_up_message(contact.factor))
        return None

    async def send_code(
        self,
        session: SessionContainer,
        contact: _Contact,
        api_options: APIOptions,
        user_context: dict[str, Any],
    ) -> CreateCodePostResult:
        """Make a code for ``contact`` if :meth:`may_send` allows it, record its device as
        pending for this session, and send it.

        The check, the code and the record are one store transaction: the state is read
        once, and no other request of this process changes it in between. The code is
        made with the recipe's ``create_code`` (app overrides of the recipe apply) and
        sent through the recipe's delivery, as the SDK's ``create_code_post`` would, minus
        its sign-in/up checks (see the module doc), once the transaction is over. Only the
        user input code is sent, never a magic link.
        """
        tenant_id = session.get_tenant_id()
        now = self.now()
        make_code = api_options.config.get_custom_user_input_code
        user_input_code = None if make_code is None else await make_code(tenant_id, user_context)
        async with self.store.transaction(session.get_user_id(), user_context) as held:
            refusal = await self.may_send(held, session, contact, user_context)
            if refusal is None:
                code = await self._create_code(
                    held, session, contact, user_input_code, api_options, now, user_context
                )
                refusal = code if isinstance(code, SendLimitResponse) else None
        if refusal is not None:
            await self.report_refused_send(session, refusal)
            return refusal
        assert not isinstance(code, SendLimitResponse)
        await _deliver(
            api_options, contact, code, tenant_id, self.deadline(now), self.now(), user_context
        )
        return CreateCodePostOkResult(code.device_id, code.pre_auth_session_id, "USER_INPUT_CODE")

    async def _create_code(
        self,
        held: Transaction,
        session: SessionContainer,
        contact: _Contact,
        user_input_code: str | None,
        api_options: APIOptions,
        now: float,
        user_context: dict[str, Any],
    ) -> CreateCodeOkResult | SendLimitResponse:
        """Make the code in the core, then record its device and the send in one update.

        The send quota is checked again in that update (a store that does not hold the
        user for the whole transaction may have let a parallel send in): over quota, the
        code just made is revoked and never sent.
        """
        tenant_id = session.get_tenant_id()
        code = await api_options.recipe_implementation.create_code(
            # The normalised contact, so the code goes exactly where it is pinned.
            email=contact.value if contact.factor == EMAIL else None,
            phone_number=contact.value if contact.factor == PHONE else None,
            user_input_code=user_input_code,
            session=None,
            should_try_linking_with_session_user=False,
            tenant_id=tenant_id,
            user_context=user_context,
        )
        refused = await held.update(
            self._add_pending(session, code.pre_auth_session_id, contact, now)
        )
        if refused is not None:
            await api_options.recipe_implementation.revoke_code(
                code_id=code.code_id, tenant_id=tenant_id, user_context=user_context
            )
            return refused
        return code

    def _over_quota(
        self, state: TwoFactorState, factor: Factor, *, pinned: bool
    ) -> SendLimitResponse | None:
        """The answer when a code to a (pinned or not) destination would exceed a send
        quota (S15), or ``None``."""
        quota = self.config.send_quota
        refused = send_quota.check_send(quota, state.code_sends, pinned=pinned, now=self.now())
        return None if refused is None else SendLimitResponse(refused.retry_after_ms, factor)

    def _count_send(self, state: TwoFactorState, contact: _Contact) -> SendLimitResponse | None:
        """Check the send quota and, within it, record a send to ``contact`` (one update)."""
        is_pinned = _counts_as_pinned(state, contact)
        refused = self._over_quota(state, contact.factor, pinned=is_pinned)
        if refused is None:
            state.code_sends = send_quota.record_send(
                state.code_sends, contact.value, pinned=is_pinned, now=self.now()
            )
        return refused

    async def report_refused_send(
        self, session: SessionContainer, refusal: GeneralErrorResponse | object
    ) -> None:
        """Emit :class:`~st_twofactor.events.CodeSendRefused` when ``refusal`` is a quota's."""
        if isinstance(refusal, SendLimitResponse):
            await self._emit(
                events.CodeSendRefused(
                    user_id=session.get_user_id(),
                    at=self.now(),
                    factor=refusal.factor,
                    retry_after_ms=refusal.retry_after_ms,
                )
            )

    def _add_pending(
        self, session: SessionContainer, pre_auth_session_id: str, contact: _Contact, now: float
    ) -> Callable[[TwoFactorState], SendLimitResponse | None]:
        """Count the send and record a new device for the user; expired and the oldest
        extra devices are dropped. Over a send quota, nothing changes."""
        key = _pending_key(pre_auth_session_id)

        def add(state: TwoFactorState) -> SendLimitResponse | None:
            refused = self._count_send(state, contact)
            if refused is not None:
                return refused
            live = {k: p for k, p in state.otp_pending.items() if self.deadline(p.created_at) > now}
            newest = sorted(live.items(), key=lambda item: item[1].created_at)
            kept = dict(newest[-(MAX_PENDING_CODES - 1) :])
            kept[key] = PendingCode(
                factor=contact.factor,
                contact=contact.value,
                created_at=now,
                session_handle=session.get_handle(),
            )
            state.otp_pending = kept
            return None

        return add

    async def resendable(
        self, session: SessionContainer, key: str, user_context: dict[str, Any]
    ) -> PendingCode | ResendCodePostRestartFlowError | GeneralErrorResponse:
        """The pending device to send a new code for, or why not. A resend is a send:
        the quota is checked and the send counted in the same update (S15)."""
        now = self.now()

        def check(
            state: TwoFactorState,
        ) -> PendingCode | ResendCodePostRestartFlowError | GeneralErrorResponse:
            pending = _own(state, key, session)
            if pending is None:
                return ResendCodePostRestartFlowError()
            decision = throttle.check(self.policy, state.throttle, pending.factor, now)
            if isinstance(decision, Refused):
                return LimitReachedResponse(decision.retry_after_ms)
            if self.deadline(pending.created_at) <= now:
                return ResendCodePostRestartFlowError()
            contact = _pending_contact(pending)
            pinned = _pinned(state, pending.factor)
            if pinned is not None and not _same(pinned, contact):
                return ResendCodePostRestartFlowError()
            return self._count_send(state, contact) or pending

        return await self.store.update(session.get_user_id(), check, user_context)

    def delivery_options(self, api_options: APIOptions, *, deadline: float) -> APIOptions:
        """``api_options`` whose deliveries state the real lifetime and a second factor
        (for the SDK's ``resend_code_post``, which builds the message itself)."""
        clock = self.config.clock
        email = _SecondFactorEmail(
            api_options.email_delivery.ingredient_interface_impl, deadline, clock
        )
        sms = _SecondFactorSMS(api_options.sms_delivery.ingredient_interface_impl, deadline, clock)
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

    # -- checking --

    async def consume(
        self,
        session: SessionContainer,
        entry: _CodeEntry,
        api_options: APIOptions,
        user_context: dict[str, Any],
    ) -> ConsumeCodePostResult:
        """Check the code for the user's pending device; complete 2FA if right.

        The attempt's count, the check and what follows from it are one store
        transaction (the state is read once); events go to the app's hook, and the
        session is completed, after it.
        """
        user_id = session.get_user_id()
        now = self.now()
        happened: list[events.Event] = []
        try:
            async with self.store.transaction(user_id, user_context) as held:
                checked = await self._check(
                    held,
                    happened,
                    session,
                    entry,
                    api_options,
                    now,
                    user_context,
                )
        finally:
            for event in happened:
                await self._emit(event)
        if not isinstance(checked, _Claimed):
            return checked
        factor = checked.factor
        if checked.enrolled:
            await self._emit(events.FactorEnrolled(user_id=user_id, at=now, factor=factor))
        await self._emit(events.VerificationSucceeded(user_id=user_id, at=now, factor=factor))
        token = await self.completion.complete(
            session,
            factor,
            remember=entry.remember,
            request=api_options.request,
            response=api_options.response,
            user_context=user_context,
        )
        user = await _session_user(session, user_context)
        if token is None:
            return ConsumeCodePostOkResult(
                created_new_recipe_user=False, user=user, session=session
            )
        remembered = _RememberedResult(
            user=user,
            session=session,
            request=api_options.request,
            remember_device_token=token,
            user_context=user_context,
        )
        # Not one of the SDK's result classes: the SDK sends its to_json() as the body.
        return cast(ConsumeCodePostResult, remembered)

    async def _check(
        self,
        held: Transaction,
        happened: list[events.Event],
        session: SessionContainer,
        entry: _CodeEntry,
        api_options: APIOptions,
        now: float,
        user_context: dict[str, Any],
    ) -> ConsumeCodePostResult | _Claimed:
        """The part of :meth:`consume` inside the transaction: the answer to a wrong,
        expired or refused code, or the device claimed for a right one. Events for the
        app's hook are appended to ``happened``, not sent."""
        user_id = session.get_user_id()
        key = entry.key
        attempt = await held.update(self._begin(key, session, now))
        pending = attempt.pending
        if pending is None:
            return ConsumeCodePostRestartFlowError()
        factor = _pending_contact(pending).factor
        if attempt.expired:
            happened.append(events.VerificationFailed(user_id=user_id, at=now, factor=factor))
            return ConsumeCodePostExpiredUserInputCodeError(
                failed_code_input_attempt_count=pending.failures,
                maximum_code_input_attempts=self.config.otp_max_attempts,
            )
        counted = attempt.counted
        assert counted is not None  # set whenever the device was found and not expired
        if not isinstance(counted.decision, Allowed):
            answer, failed = factors.failure(counted, user_id=user_id, factor=factor, now=now)
            happened.extend(failed)
            assert isinstance(answer, Locked)
            return LimitReachedResponse(answer.retry_after_ms)

        tenant_id = session.get_tenant_id()
        result = await api_options.recipe_implementation.check_code(
            pre_auth_session_id=entry.pre_auth_session_id,
            user_input_code=entry.code,
            device_id=entry.device_id,
            link_code=None,
            tenant_id=tenant_id,
            user_context=user_context,
        )
        if isinstance(result, CheckCodeOkResult):
            device = result.consumed_device
            consumed = device.email if factor == EMAIL else device.phone_number
            if consumed is None or not _same(consumed, _pending_contact(pending)):
                await held.update(self._forget(key))
                await _revoke(api_options, pending, tenant_id, user_context)
                return ConsumeCodePostRestartFlowError()
            return await self._claim(
                held, happened, session, key, pending, now, api_options, user_context
            )

        if isinstance(
            result, (CheckCodeIncorrectUserInputCodeError, CheckCodeExpiredUserInputCodeError)
        ):
            limit = min(self.config.otp_max_attempts, result.maximum_code_input_attempts)
            failures = await held.update(
                self._count_failure(key, result.failed_code_input_attempt_count, limit)
            )
        else:  # the core no longer has the device (used, revoked, or too many attempts)
            limit = self.config.otp_max_attempts
            failures = await held.update(self._forget(key))
        exhausted = failures is None or failures >= limit
        if exhausted and failures is not None:
            await _revoke(api_options, pending, tenant_id, user_context)

        answer, failed = factors.failure(counted, user_id=user_id, factor=factor, now=now)
        happened.extend(failed)
        if isinstance(answer, Locked):  # this failure locked the factor
            return LimitReachedResponse(answer.retry_after_ms)
        if exhausted:
            return ConsumeCodePostRestartFlowError()
        assert failures is not None
        if isinstance(result, CheckCodeExpiredUserInputCodeError):
            return ConsumeCodePostExpiredUserInputCodeError(
                failed_code_input_attempt_count=failures, maximum_code_input_attempts=limit
            )
        return ConsumeCodePostIncorrectUserInputCodeError(
            failed_code_input_attempt_count=failures, maximum_code_input_attempts=limit
        )

    def _begin(
        self, key: str, session: SessionContainer, now: float
    ) -> Callable[[TwoFactorState], _Attempt]:
        """Find the session's pending device, refuse if locked or expired, else count the
        attempt (before the code is checked, so parallel guesses cannot pass the limit)."""

        def begin(state: TwoFactorState) -> _Attempt:
            pending = _own(state, key, session)
            if pending is None:
                return _Attempt(None)
            decision = throttle.check(self.policy, state.throttle, pending.factor, now)
            if isinstance(decision, Refused):
                return _Attempt(pending, Counted(decision))
            if self.deadline(pending.created_at) <= now:
                return _Attempt(pending, expired=True)
            factor = _pending_contact(pending).factor
            return _Attempt(pending, count_attempt(self.policy, state, factor, now))

        return begin

    @staticmethod
    def _count_failure(
        key: str, core_count: int, limit: int
    ) -> Callable[[TwoFactorState], int | None]:
        """Count a wrong code for the device; forget the device at ``limit``."""

        def count(state: TwoFactorState) -> int | None:
            pending = state.otp_pending.get(key)
            if pending is None:
                return None
            pending.failures = max(pending.failures + 1, core_count)
            if pending.failures >= limit:
                del state.otp_pending[key]
            return pending.failures

        return count

    @staticmethod
    def _forget(key: str) -> Callable[[TwoFactorState], None]:
        def forget(state: TwoFactorState) -> None:
            state.otp_pending.pop(key, None)

        return forget

    async def _claim(
        self,
        held: Transaction,
        happened: list[events.Event],
        session: SessionContainer,
        key: str,
        pending: PendingCode,
        now: float,
        api_options: APIOptions,
        user_context: dict[str, Any],
    ) -> ConsumeCodePostResult | _Claimed:
        """The code was right: claim the device, revoke its codes, pin the contact and
        reset the throttle; :meth:`consume` then completes the session.

        Claiming (removing the pending entry) comes first and decides between concurrent
        requests with the same code; revoking before it would make the others' checks
        fail and forget the device under the winner.
        """
        user_id = session.get_user_id()
        contact = _pending_contact(pending)
        factor = contact.factor

        def claim(state: TwoFactorState) -> Literal["OK", "ENROLLED", "REFUSED", "USED"]:
            if state.otp_pending.pop(key, None) is None:
                return "USED"  # a concurrent request with the same code won
            pinned = _pinned(state, factor)
            outcome: Literal["OK", "ENROLLED"] = "OK"
            if pinned is None:
                # Re-checked here: a factor may have been enrolled since the code was sent.
                if not self._may_pin(state, session):
                    return "REFUSED"
                if factor == EMAIL:
                    state.email = contact.value
                else:
                    state.phone = contact.value
                state.bump_epoch()
                outcome = "ENROLLED"
            elif not _same(pinned, contact):
                return "REFUSED"
            record_success(state, now)
            return outcome

        outcome = await held.update(claim)
        if outcome == "USED":
            happened.append(events.VerificationFailed(user_id=user_id, at=now, factor=factor))
            return ConsumeCodePostRestartFlowError()
        await _revoke(api_options, pending, session.get_tenant_id(), user_context)
        if outcome == "REFUSED":
            happened.append(events.VerificationFailed(user_id=user_id, at=now, factor=factor))
            return GeneralErrorResponse(self._step_up_message(factor))
        return _Claimed(factor, enrolled=outcome == "ENROLLED")

    # -- shared --

    def _may_pin(self, state: TwoFactorState, session: SessionContainer) -> bool:
        """A contact may be pinned by a user with no factor, or after a recent 2FA (S8)."""
        return not factors.needs_step_up(
            state,
            session.get_access_token_payload(),
            window=self.config.step_up_window,
            now=self.now(),
            claim=self.claim,
        )

    def _step_up_message(self, factor: Factor) -> str:
        what = "an e-mail address" if factor == EMAIL else "a phone number"
        minutes = _wait_text(math.ceil(self.config.step_up_window * 1000))
        return (
            f"Adding {what} for codes needs a second factor completed in the last {minutes}: "
            "verify with a factor you already have, then try again."
        )

    async def _emit(self, event: events.Event) -> None:
        await events.emit(self.config.on_event, event)


_NOT_ENABLED: dict[Factor, str] = {
    EMAIL: "E-mailed codes are not enabled for two-factor authentication.",
    PHONE: "SMS codes are not enabled for two-factor authentication.",
}
_NOT_PINNED: dict[Factor, str] = {
    EMAIL: "Codes can only be sent to the e-mail address registered for two-factor "
    "authentication on this account.",
    PHONE: "Codes can only be sent to the phone number registered for two-factor "
    "authentication on this account.",
}
_SIGNED_IN_WITH: dict[Factor, str] = {
    EMAIL: "This session signed in with a code sent to this e-mail address, so a code "
    "sent there cannot be its second factor: use another second factor.",
    PHONE: "This session signed in with a code sent to this phone number, so a code "
    "sent there cannot be its second factor: use another second factor.",
}
_NO_EMAIL = (
    "No e-mail address is known for this account, so codes cannot be e-mailed: "
    "use another second factor."
)


# -- delivery --


class _SecondFactorEmail(EmailDeliveryInterface[PasswordlessLoginEmailTemplateVars]):
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


class _SecondFactorSMS(SMSDeliveryInterface[PasswordlessLoginSMSTemplateVars]):
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


async def _deliver(
    api_options: APIOptions,
    contact: _Contact,
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


# -- inputs and helpers --

_BODY_STRINGS: dict[str, tuple[str, ...]] = {
    CREATE_CODE_API: ("email", "phoneNumber"),
    RESEND_CODE_API: ("preAuthSessionId", "deviceId"),
    CONSUME_CODE_API: ("preAuthSessionId", "deviceId", "userInputCode", "linkCode"),
}
"""The string fields of each passwordless POST body, by the SDK's request id."""


def _guard_request_bodies(*, first_factor: bool = False) -> None:
    """Put a body-shape check in front of the passwordless recipe's request handlers.

    Runs once after ``init()``. The SDK's handlers index the body and call ``str`` methods
    on its fields before any API override is called, so a JSON array, number or string as
    the body, or ``{"email": 5}``, would be a 500. Those are answered 400 here, before the
    handler (and before any state is read or changed); everything else goes on unchanged.
    Unless passwordless is a first factor, a request without a session is answered 401
    before its body is looked at.
    """

    def check(fields: tuple[str, ...]) -> RequestCheck:
        async def check_request(request: BaseRequest, user_context: dict[str, Any]) -> None:
            if not first_factor:
                # The session first: without one the answer is 401 whatever the body (S10).
                await _require_session(request, user_context)
            _check_body(await request.json(), fields)

        return check_request

    checks = {request_id: check(fields) for request_id, fields in _BODY_STRINGS.items()}
    guard_requests(PasswordlessRecipe.get_instance(), checks)


def _check_body(body: object, fields: tuple[str, ...]) -> None:
    """400 unless ``body`` is a JSON object whose ``fields`` are strings (or absent/null).

    A null or unparsable body is left to the SDK, which answers it with its own 400.
    """
    checked = json_object(body)
    if checked is not None:
        check_types(checked, dict.fromkeys(fields, str))


def _no_claim_validators(
    global_validators: list[SessionClaimValidator],
    session: SessionContainer,
    user_context: dict[str, Any],
) -> list[SessionClaimValidator]:
    """These endpoints complete the 2FA claim, so no claim may be required for them."""
    return []


async def _require_session(request: BaseRequest, user_context: dict[str, Any]) -> SessionContainer:
    """The request's session; the SDK answers 401 (or try-refresh) without a valid one."""
    session = await get_session(
        request,
        session_required=True,
        override_global_claim_validators=_no_claim_validators,
        user_context=user_context,
    )
    if session is None:  # not reached with session_required=True; keeps the type exact
        raise UnauthorisedError("A session is required for second-factor codes")
    return session


async def _remember_requested(request: BaseRequest) -> bool:
    """``rememberDevice`` in the consume body (the SDK caches the parsed body): ``True``
    or ``False``, absent is ``False``; anything else is a 400."""
    body = await request.json()
    value = body.get("rememberDevice") if isinstance(body, dict) else None
    if value is None:
        return False
    if not isinstance(value, bool):
        raise_bad_input_exception("rememberDevice must be true or false")
    return value


def _forgotten_device(pre_auth_session_id: object, device_id: object) -> bool:
    """Whether the frontend no longer knows its device: an empty id (SuperTokens' web SDK
    sends ``""`` once another tab finished the flow, and expects RESTART_FLOW_ERROR)."""
    return pre_auth_session_id == "" or device_id == ""


async def _session(
    request: BaseRequest, user_context: dict[str, Any], first_factor: bool
) -> SessionContainer | None:
    """The request's session; None only for a first factor without one (else 401).

    A session that is present but invalid (expired, revoked) is still answered 401 or
    try-refresh by the SDK, never taken for a sign-in.
    """
    if not first_factor:
        return await _require_session(request, user_context)
    return await get_session(
        request,
        session_required=False,
        override_global_claim_validators=_no_claim_validators,
        user_context=user_context,
    )


async def _signed_in_with(
    session: SessionContainer, contact: _Contact, user_context: dict[str, Any]
) -> bool:
    """Whether ``contact`` is the passwordless login method this session signed in with
    (a code there would be the first factor again, not a second one)."""
    user = await _session_user(session, user_context)
    recipe_user_id = session.get_recipe_user_id().get_as_string()
    for method in user.login_methods:
        if method.recipe_id != "passwordless":
            continue
        if method.recipe_user_id.get_as_string() != recipe_user_id:
            continue
        value = method.email if contact.factor == EMAIL else method.phone_number
        if value is not None and _same(value, contact):
            return True
    return False


def _device_key(pre_auth_session_id: object, device_id: object) -> str:
    """The pending-device key, after checking that ``device_id`` is that device's id.

    The core answers 400 (a 500 from the SDK) for a malformed or mismatched device id,
    so both are checked here first and refused with a 400 of our own.
    """
    if not isinstance(pre_auth_session_id, str) or not _PRE_AUTH_SESSION_ID.fullmatch(
        pre_auth_session_id
    ):
        raise_bad_input_exception("preAuthSessionId is malformed")
    if not isinstance(device_id, str) or not _DEVICE_ID.fullmatch(device_id):
        raise_bad_input_exception("deviceId is malformed")
    try:
        raw = base64.b64decode(device_id, validate=True)
    except (binascii.Error, ValueError):
        raise_bad_input_exception("deviceId is malformed")
    digest = base64.urlsafe_b64encode(hashlib.sha256(raw).digest()).rstrip(b"=")
    key = _pending_key(pre_auth_session_id)
    if not hmac.compare_digest(digest, key.encode("ascii")):
        raise_bad_input_exception("preAuthSessionId and deviceId do not match")
    return key


def _pending_key(pre_auth_session_id: str) -> str:
    """The key of a pending device in the user's state: its id without base64 padding."""
    return pre_auth_session_id.rstrip("=")


def _user_input_code(code: object) -> str:
    """The code as typed, trimmed; 400 for anything but 1-64 printable ASCII characters."""
    if not isinstance(code, str):
        raise_bad_input_exception("userInputCode must be a string")
    code = code.strip()
    if not _USER_INPUT_CODE.fullmatch(code):
        raise_bad_input_exception("userInputCode is malformed")
    return code


def _normalise_email(email: str) -> str:
    """The core's normalisation: surrounding spaces removed, lower case."""
    return email.strip().lower()


def _same(stored: str, contact: _Contact) -> bool:
    value = _normalise_email(stored) if contact.factor == EMAIL else stored.strip()
    return value == contact.value


def _own(state: TwoFactorState, key: str, session: SessionContainer) -> PendingCode | None:
    """The device ``key`` if this session asked for it (a code is bound to its request)."""
    pending = state.otp_pending.get(key)
    if pending is None or pending.factor not in (EMAIL, PHONE):
        return None
    if pending.session_handle is not None and pending.session_handle != session.get_handle():
        return None
    return pending


def _pending_contact(pending: PendingCode) -> _Contact:
    return _Contact(EMAIL if pending.factor == EMAIL else PHONE, pending.contact)


def _counts_as_pinned(state: TwoFactorState, contact: _Contact) -> bool:
    """Whether a send to ``contact`` counts as one to a pinned destination for the send
    quota (S15). E-mailed codes only ever go to the account's own addresses, so they
    cannot be sprayed and always count as pinned; a phone number counts once it is pinned.
    """
    if contact.factor == EMAIL:
        return True
    pinned = _pinned(state, contact.factor)
    return pinned is not None and _same(pinned, contact)


def _pinned(state: TwoFactorState, factor: str) -> str | None:
    return state.email if factor == EMAIL else state.phone


async def _session_user(session: SessionContainer, user_context: dict[str, Any]) -> User:
    user = await get_user(session.get_user_id(), user_context)
    if user is None:
        raise UnauthorisedError("Session user not found")
    return user


async def _account_emails(session: SessionContainer, user_context: dict[str, Any]) -> set[str]:
    """The real e-mail addresses of the user's login methods (the SDK's fake ones left out)."""
    user = await _session_user(session, user_context)
    return {
        _normalise_email(m.email)
        for m in user.login_methods
        if m.email and not is_fake_email(m.email)
    }


async def _revoke(
    api_options: APIOptions, pending: PendingCode, tenant_id: str, user_context: dict[str, Any]
) -> None:
    """Revoke every code sent to the device's contact (the core's own rule on consume)."""
    await api_options.recipe_implementation.revoke_all_codes(
        email=pending.contact if pending.factor == EMAIL else None,
        phone_number=pending.contact if pending.factor == PHONE else None,
        tenant_id=tenant_id,
        user_context=user_context,
    )


def _wait_text(milliseconds: int) -> str:
    if milliseconds >= 60_000:
        minutes = math.ceil(milliseconds / 60_000)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    seconds = max(1, math.ceil(milliseconds / 1000))
    return f"{seconds} second{'s' if seconds != 1 else ''}"
