"""Asking for a code (``signinup/code``, ``.../resend``): may one go to this contact, the
send quota, the pending device, and decoys. A destination other than the user's (not the
pinned one; before an e-mail address is pinned, not one of the account's) gets a *decoy*:
the same answer and id formats as a real code, a pending device metered like a real send,
in about the same time (:mod:`~st_twofactor.factors.codes._timing`); but nothing is made
in the core or sent, and every code typed for it is wrong. So asking for codes does not
tell anyone holding a session which contact is pinned; guessing is bounded by the quota.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from supertokens_python.exceptions import raise_bad_input_exception
from supertokens_python.recipe.passwordless.interfaces import (
    APIOptions,
    CreateCodeOkResult,
    CreateCodePostOkResult,
    ResendCodePostOkResult,
    ResendCodePostRestartFlowError,
)
from supertokens_python.recipe.session import SessionContainer
from supertokens_python.types.response import GeneralErrorResponse

from st_twofactor import events
from st_twofactor.claim import session_started
from st_twofactor.factors.codes._delivery import deliver, second_factor_options
from st_twofactor.factors.codes._devices import HandedOut, core_device_id, decoy, hand_out
from st_twofactor.factors.codes._inputs import (
    DeviceRef,
    normalise_email,
    pending_key,
    refuse_mismatch,
)
from st_twofactor.factors.codes.flows import (
    EMAIL,
    MAX_PENDING_CODES,
    NO_EMAIL,
    NOT_ENABLED,
    PHONE,
    SIGNED_IN_WITH,
    CodeFlows,
    Contact,
    CreateCodePostResult,
    Factor,
    LimitReachedResponse,
    ResendCodePostResult,
    SendLimitResponse,
    account_emails,
    counts_as_pinned,
    own_pending,
    pending_contact,
    pinned_contact,
    same_contact,
    signed_in_with,
)
from st_twofactor.kernel import send_quota, throttle
from st_twofactor.kernel.throttle import Refused
from st_twofactor.stores.base import Transaction
from st_twofactor.stores.state import PendingCode, TwoFactorState

Destination = Literal["real", "decoy"]
"""What a code asked for gets: a real code, to the user's destination, or a decoy."""

OriginalResend = Callable[..., Awaitable[ResendCodePostResult]]
"""The SDK's ``resend_code_post``, called with keyword arguments."""


@dataclass(frozen=True)
class Resendable:
    """A pending device a new code may be sent for, with the core's id of it."""

    pending: PendingCode
    core_device_id: str
    pre_auth_session_id: str


@dataclass(frozen=True)
class _Made:
    """A code made in the core (``None`` for a decoy) and the ids handed to the client."""

    code: CreateCodeOkResult | None
    handed: HandedOut


class CodeSending(CodeFlows):
    """Sending codes: the checks and state changes behind ``signinup/code`` and resend."""

    def requested_contact(self, email: str | None, phone_number: str | None) -> Contact:
        """The destination the client asked for; 400 unless exactly one is a string."""
        if isinstance(email, str) and phone_number is None:
            contact = Contact(EMAIL, normalise_email(email))
        elif isinstance(phone_number, str) and email is None:
            contact = Contact(PHONE, phone_number.strip())
        else:
            raise_bad_input_exception("Please provide exactly one of email or phoneNumber")
        if not contact.value or len(contact.value) > 256:
            raise_bad_input_exception("Please provide a valid email or phoneNumber")
        return contact

    async def may_send(
        self,
        held: Transaction,
        session: SessionContainer,
        contact: Contact,
        user_context: dict[str, Any],
    ) -> GeneralErrorResponse | Destination:
        """Why no code may be asked for ``contact`` now, or where it goes.

        A wrong destination is decided last, after every check a right one goes through
        (the same quota, the same step-up rule), so both get the same refusals.
        """
        if contact.factor not in self.config.factors:
            return GeneralErrorResponse(NOT_ENABLED[contact.factor])
        if self.first_factor and await signed_in_with(session, contact, user_context):
            return GeneralErrorResponse(SIGNED_IN_WITH[contact.factor])
        state = await held.load()
        decision = throttle.check(self.throttle_policy, state.throttle, contact.factor, self.now())
        if isinstance(decision, Refused):
            return LimitReachedResponse(decision.retry_after_ms)
        over_quota = self._over_quota(
            state, contact.factor, session, pinned=counts_as_pinned(state, contact)
        )
        if over_quota is not None:
            return over_quota
        pinned = pinned_contact(state, contact.factor)
        if pinned is not None:
            return "real" if same_contact(pinned, contact) else "decoy"
        destination: Destination = "real"
        if contact.factor == EMAIL:
            emails = await account_emails(session, user_context)
            if not emails:
                return GeneralErrorResponse(NO_EMAIL)
            if contact.value not in emails:
                destination = "decoy"
        if not self._may_pin(state, session):
            return GeneralErrorResponse(self._step_up_message(contact.factor))
        return destination

    async def send_code(
        self,
        session: SessionContainer,
        contact: Contact,
        api_options: APIOptions,
        user_context: dict[str, Any],
    ) -> CreateCodePostResult:
        """Make a code for ``contact`` if :meth:`may_send` allows it, record its device as
        pending for this session, and send it; or, for a destination that is not the
        user's, a decoy (see the module doc).

        The check, the code and the record are one store transaction: the state is read
        once, and no other request of this process changes it in between. The code is
        made with the recipe's ``create_code`` (app overrides of the recipe apply) and
        sent through the recipe's delivery, as the SDK's ``create_code_post`` would, minus
        its sign-in/up checks (see the module doc), once the transaction is over. Only the
        user input code is sent, never a magic link. The client gets a handle as the
        ``deviceId``, never the core's (:mod:`st_twofactor.factors.codes._devices`).
        """
        tenant_id = session.get_tenant_id()
        now = self.now()
        make_code = api_options.config.get_custom_user_input_code
        user_input_code = None if make_code is None else await make_code(tenant_id, user_context)
        made: _Made | SendLimitResponse | None = None
        async with self.store.transaction(session.get_user_id(), user_context) as held:
            decided = await self.may_send(held, session, contact, user_context)
            if decided == "real":
                made = await self._create_code(
                    held, session, contact, user_input_code, api_options, now, user_context
                )
            elif decided == "decoy":
                made = await self._make_decoy(held, session, contact, now)
        refused = decided if isinstance(decided, GeneralErrorResponse) else made
        if isinstance(refused, GeneralErrorResponse):
            await self.report_refused_send(session, refused)
            return refused
        assert isinstance(made, _Made)
        operation = f"deliver:{contact.factor}"
        if made.code is None:
            await self.durations.imitate(operation)
        else:
            async with self.durations.timed(operation):
                await deliver(
                    api_options,
                    contact,
                    made.code,
                    tenant_id,
                    self.deadline(now),
                    self.now(),
                    user_context,
                )
        handed = made.handed
        return CreateCodePostOkResult(
            handed.device_id, handed.pre_auth_session_id, "USER_INPUT_CODE"
        )

    async def _create_code(
        self,
        held: Transaction,
        session: SessionContainer,
        contact: Contact,
        user_input_code: str | None,
        api_options: APIOptions,
        now: float,
        user_context: dict[str, Any],
    ) -> _Made | SendLimitResponse:
        """Make the code in the core, then record its device and the send in one update.

        The send quota is checked again in that update (a store that does not hold the
        user for the whole transaction may have let a parallel send in): over quota, the
        code just made is revoked and never sent.
        """
        tenant_id = session.get_tenant_id()
        async with self.durations.timed(f"create:{contact.factor}"):
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
        handed = hand_out(code.device_id, code.pre_auth_session_id)
        refused = await held.update(self._add_pending(session, handed, contact, now))
        if refused is not None:
            await api_options.recipe_implementation.revoke_code(
                code_id=code.code_id, tenant_id=tenant_id, user_context=user_context
            )
            return refused
        return _Made(code, handed)

    async def _make_decoy(
        self, held: Transaction, session: SessionContainer, contact: Contact, now: float
    ) -> _Made | SendLimitResponse:
        """A decoy's device, recorded and metered like :meth:`_create_code`'s, in about
        the time the core takes to make a real one; nothing is made in the core."""
        await self.durations.imitate(f"create:{contact.factor}")
        handed = decoy()
        refused = await held.update(self._add_pending(session, handed, contact, now, decoy=True))
        return refused if refused is not None else _Made(None, handed)

    def _over_quota(
        self, state: TwoFactorState, factor: Factor, session: SessionContainer, *, pinned: bool
    ) -> SendLimitResponse | None:
        """The answer when a code to a (pinned or not) destination would exceed a send
        quota (S15), or ``None`` (``session``'s start: see ``send_quota.check_send``)."""
        quota = self.config.send_quota
        started = session_started(session.get_access_token_payload(), claim=self.claim)
        refused = send_quota.check_send(
            quota, state.code_sends, pinned=pinned, now=self.now(), session_started=started
        )
        return None if refused is None else SendLimitResponse(refused.retry_after_ms, factor)

    def _count_send(
        self, state: TwoFactorState, contact: Contact, session: SessionContainer
    ) -> SendLimitResponse | None:
        """Check the send quota and, within it, record a send to ``contact`` (one update)."""
        is_pinned = counts_as_pinned(state, contact)
        refused = self._over_quota(state, contact.factor, session, pinned=is_pinned)
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
            await self.emit(
                events.CodeSendRefused(
                    user_id=session.get_user_id(),
                    at=self.now(),
                    factor=refusal.factor,
                    retry_after_ms=refusal.retry_after_ms,
                )
            )

    def _add_pending(
        self,
        session: SessionContainer,
        handed: HandedOut,
        contact: Contact,
        now: float,
        *,
        decoy: bool = False,
    ) -> Callable[[TwoFactorState], SendLimitResponse | None]:
        """Count the send and record a new device for the user; expired and the oldest
        extra devices are dropped. Over a send quota, nothing changes."""
        key = pending_key(handed.pre_auth_session_id)

        def add(state: TwoFactorState) -> SendLimitResponse | None:
            refused = self._count_send(state, contact, session)
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
                device_mask=handed.mask,
                decoy=decoy,
            )
            state.otp_pending = kept
            return None

        return add

    async def resendable(
        self, session: SessionContainer, device: DeviceRef, user_context: dict[str, Any]
    ) -> Resendable | ResendCodePostRestartFlowError | GeneralErrorResponse:
        """The pending device to send a new code for, or why not. A resend is a send:
        the quota is checked and the send counted in the same update (S15). A decoy is
        resendable like a real device. 400 when ``deviceId`` is not the device's handle."""
        now = self.now()
        key = device.key

        def check(
            state: TwoFactorState,
        ) -> Resendable | ResendCodePostRestartFlowError | GeneralErrorResponse | None:
            pending = own_pending(state, key, session)
            if pending is None:
                return ResendCodePostRestartFlowError()
            core_id = core_device_id(pending, key, device.handle)
            if core_id is None:
                return None  # not this device's handle; nothing changed
            decision = throttle.check(self.throttle_policy, state.throttle, pending.factor, now)
            if isinstance(decision, Refused):
                return LimitReachedResponse(decision.retry_after_ms)
            if self.deadline(pending.created_at) <= now:
                return ResendCodePostRestartFlowError()
            contact = pending_contact(pending)
            pinned = pinned_contact(state, pending.factor)
            if not pending.decoy and pinned is not None and not same_contact(pinned, contact):
                return ResendCodePostRestartFlowError()
            return self._count_send(state, contact, session) or Resendable(
                pending, core_id, device.pre_auth_session_id
            )

        found = await self.store.update(session.get_user_id(), check, user_context)
        if found is None:
            refuse_mismatch()
        return found

    async def resend(
        self,
        found: Resendable,
        session: SessionContainer,
        api_options: APIOptions,
        original_resend: OriginalResend,
        user_context: dict[str, Any],
    ) -> ResendCodePostResult:
        """Send a new code for a :meth:`resendable` device with the SDK's own resend (as a
        second factor, with the device's deadline); for a decoy, only its time."""
        pending = found.pending
        operation = f"resend:{pending.factor}"
        if pending.decoy:
            await self.durations.imitate(operation)
            return ResendCodePostOkResult()
        async with self.durations.timed(operation):
            return await original_resend(
                device_id=found.core_device_id,
                pre_auth_session_id=found.pre_auth_session_id,
                session=None,
                should_try_linking_with_session_user=False,
                tenant_id=session.get_tenant_id(),
                api_options=second_factor_options(
                    api_options, deadline=self.deadline(pending.created_at), clock=self.config.clock
                ),
                user_context=user_context,
            )
