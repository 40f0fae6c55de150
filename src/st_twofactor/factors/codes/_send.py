"""Asking for a code (``signinup/code``, ``.../resend``): may one go to this contact, the
send quota, the pending device and its code, and decoys. A destination other than the
user's (not the pinned one; before an e-mail address is pinned, not one of the
account's) gets a *decoy*: the same answer and id formats as a real code, a pending
device metered like a real send, in about the same time
(:mod:`~st_twofactor.factors.codes._timing`); but nothing is sent, and every code typed
for it is wrong. So asking for codes does not tell anyone holding a session which
contact is pinned; guessing is bounded by the quota.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from supertokens_python.exceptions import raise_bad_input_exception
from supertokens_python.recipe.passwordless.interfaces import (
    APIOptions,
    CreateCodePostOkResult,
    ResendCodePostOkResult,
    ResendCodePostRestartFlowError,
)
from supertokens_python.recipe.session import SessionContainer
from supertokens_python.types.response import GeneralErrorResponse

from st_twofactor import events
from st_twofactor.claim import session_started
from st_twofactor.factors.codes._delivery import deliver
from st_twofactor.factors.codes._devices import (
    CODES_PER_DEVICE,
    Device,
    is_device_id_of,
    new_code,
    new_device,
    seal_code,
)
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


@dataclass(frozen=True)
class Resendable:
    """A pending device a new code is sent for (``code``; ``None`` for a decoy)."""

    pending: PendingCode
    code: str | None
    pre_auth_session_id: str


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
        """Make a code for ``contact`` if :meth:`may_send` allows it, record it (sealed)
        with its new device as pending for this session, and send it; or, for a
        destination that is not the user's, a decoy (see the module doc).

        The check and the record are one store transaction: the state is read once, and
        no other request of this process changes it in between. The code is the app's
        ``get_custom_user_input_code`` when it has one, else six random digits; it is sent
        through the recipe's delivery once the transaction is over (a typed code, never a
        magic link). Nothing is made in the core: the SDK's ``create_code_post`` is not
        used, since its sign-in/up checks are about a passwordless user that is never
        created here (:mod:`st_twofactor.factors.codes._devices`).
        """
        user_id = session.get_user_id()
        tenant_id = session.get_tenant_id()
        now = self.now()
        code = await self._new_code(api_options, tenant_id, user_context)
        device = new_device()
        key = pending_key(device.pre_auth_session_id)
        refused: GeneralErrorResponse | None = None
        async with self.store.transaction(user_id, user_context) as held:
            decided = await self.may_send(held, session, contact, user_context)
            if isinstance(decided, GeneralErrorResponse):
                refused = decided
            else:
                decoy = decided == "decoy"
                sealed = [] if decoy else [seal_code(self.kernel.box, user_id, key, code)]
                add = self._add_pending(session, device, contact, now, sealed, decoy)
                refused = await held.update(add)
        if refused is not None:
            await self.report_refused_send(session, refused)
            return refused
        real = None if decided == "decoy" else code
        await self._deliver(
            api_options, contact, real, device.pre_auth_session_id, tenant_id, now, user_context
        )
        return CreateCodePostOkResult(
            device.device_id, device.pre_auth_session_id, "USER_INPUT_CODE"
        )

    @staticmethod
    async def _new_code(
        api_options: APIOptions, tenant_id: str, user_context: dict[str, Any]
    ) -> str:
        """The app's ``get_custom_user_input_code`` if it has one, else six random digits."""
        make_code = api_options.config.get_custom_user_input_code
        return new_code(None if make_code is None else await make_code(tenant_id, user_context))

    async def _deliver(
        self,
        api_options: APIOptions,
        contact: Contact,
        code: str | None,
        pre_auth_session_id: str,
        tenant_id: str,
        created_at: float,
        user_context: dict[str, Any],
    ) -> None:
        """Send ``code`` of the device made at ``created_at`` (with the time it has left),
        timed; for a decoy (``code`` is ``None``), wait about as long instead."""
        operation = f"deliver:{contact.factor}"
        if code is None:
            await self.durations.imitate(operation)
            return
        lifetime_ms = int((self.deadline(created_at) - self.now()) * 1000)
        async with self.durations.timed(operation):
            await deliver(
                api_options,
                contact,
                code,
                pre_auth_session_id,
                tenant_id,
                lifetime_ms,
                user_context,
            )

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
        device: Device,
        contact: Contact,
        now: float,
        sealed_codes: list[str],
        decoy: bool,
    ) -> Callable[[TwoFactorState], SendLimitResponse | None]:
        """Count the send and record a new device with its code for the user; expired and
        the oldest extra devices are dropped. Over a send quota, nothing changes."""
        key = pending_key(device.pre_auth_session_id)

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
                codes=sealed_codes,
                before_pin=pinned_contact(state, contact.factor) is None,
                decoy=decoy,
            )
            state.otp_pending = kept
            return None

        return add

    async def resendable(
        self,
        session: SessionContainer,
        device: DeviceRef,
        api_options: APIOptions,
        user_context: dict[str, Any],
    ) -> Resendable | ResendCodePostRestartFlowError | GeneralErrorResponse:
        """The pending device to send a new code for, or why not. A resend is a send:
        the quota is checked and the send counted in the same update (S15), which also
        adds the new code (sealed) to the device's (at most :data:`CODES_PER_DEVICE`). A
        decoy is resendable like a real device; once a contact of the factor is pinned,
        no device made before is. 400 when ``deviceId`` is not the one handed out with
        the device."""
        now = self.now()
        key = device.key
        user_id = session.get_user_id()
        code = await self._new_code(api_options, session.get_tenant_id(), user_context)
        sealed = seal_code(self.kernel.box, user_id, key, code)

        def check(
            state: TwoFactorState,
        ) -> Resendable | ResendCodePostRestartFlowError | GeneralErrorResponse | None:
            pending = own_pending(state, key, session)
            if pending is None or pending.factor not in self.config.factors:
                return ResendCodePostRestartFlowError()
            if not is_device_id_of(key, device.handle):
                return None  # not the id handed out with this device; nothing changed
            decision = throttle.check(self.throttle_policy, state.throttle, pending.factor, now)
            if isinstance(decision, Refused):
                return LimitReachedResponse(decision.retry_after_ms)
            if self.deadline(pending.created_at) <= now:
                return ResendCodePostRestartFlowError()
            contact = pending_contact(pending)
            pinned = pinned_contact(state, pending.factor)
            if pinned is not None and (
                pending.before_pin or (not pending.decoy and not same_contact(pinned, contact))
            ):
                # A contact was pinned since the device was made: every device made before
                # restarts, real or decoy, whichever contact was pinned, so that which
                # devices go on does not tell the asker which contact that is.
                return ResendCodePostRestartFlowError()
            refused = self._count_send(state, contact, session)
            if refused is not None:
                return refused
            if pending.decoy:
                return Resendable(pending, None, device.pre_auth_session_id)
            pending.codes = [*(pending.codes or []), sealed][-CODES_PER_DEVICE:]
            return Resendable(pending, code, device.pre_auth_session_id)

        found = await self.store.update(user_id, check, user_context)
        if found is None:
            refuse_mismatch()
        return found

    async def resend(
        self,
        found: Resendable,
        session: SessionContainer,
        api_options: APIOptions,
        user_context: dict[str, Any],
    ) -> ResendCodePostResult:
        """Send the new code of a :meth:`resendable` device (it expires with the device's
        first code: a resend does not extend the deadline); for a decoy, only its time."""
        pending = found.pending
        await self._deliver(
            api_options,
            pending_contact(pending),
            found.code,
            found.pre_auth_session_id,
            session.get_tenant_id(),
            pending.created_at,
            user_context,
        )
        return ResendCodePostOkResult()
