"""Using a code (``signinup/code/consume``): the attempt counted, the code checked, the
device claimed, the contact pinned, the session completed
(:mod:`st_twofactor.http.passwordless`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

from supertokens_python.framework import BaseRequest
from supertokens_python.recipe.passwordless.interfaces import (
    APIOptions,
    CheckCodeExpiredUserInputCodeError,
    CheckCodeIncorrectUserInputCodeError,
    CheckCodeOkResult,
    ConsumeCodePostExpiredUserInputCodeError,
    ConsumeCodePostIncorrectUserInputCodeError,
    ConsumeCodePostOkResult,
    ConsumeCodePostRestartFlowError,
)
from supertokens_python.recipe.session import SessionContainer
from supertokens_python.types import User
from supertokens_python.types.response import APIResponse, GeneralErrorResponse
from supertokens_python.utils import get_backwards_compatible_user_info

from st_twofactor import events
from st_twofactor.factors.base import Counted, Kernel, Locked, failure
from st_twofactor.factors.codes._delivery import revoke_codes
from st_twofactor.factors.codes._devices import core_device_id
from st_twofactor.factors.codes._inputs import CodeEntry, refuse_mismatch
from st_twofactor.factors.codes.flows import (
    EMAIL,
    CodeFlows,
    ConsumeCodePostResult,
    Factor,
    LimitReachedResponse,
    own_pending,
    pending_contact,
    pinned_contact,
    same_contact,
    session_user,
)
from st_twofactor.kernel import throttle
from st_twofactor.kernel.throttle import Allowed, Refused
from st_twofactor.stores.base import Transaction
from st_twofactor.stores.state import PendingCode, TwoFactorState


class _RememberedResult(APIResponse):
    """2FA completed by a code and the device remembered, for a header-mode client: the
    SDK's OK answer plus ``rememberDeviceToken`` (:mod:`~st_twofactor.kernel.completion`). Its own
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
    """What the atomic start of a consume decided. ``core_device_id``: the core's id of
    the device, set once the client's handle proved to be the device's."""

    pending: PendingCode | None
    core_device_id: str | None = None
    counted: Counted | None = None
    expired: bool = False


class CodeChecking(CodeFlows):
    """Checking codes: the checks and state changes behind ``signinup/code/consume``."""

    def __init__(self, kernel: Kernel, *, first_factor: bool = False) -> None:
        super().__init__(kernel, first_factor=first_factor)
        self._core_max_attempts: int | None = None
        """The core's own limit of tries per device, as its last answer stated it: a
        decoy's wrong codes are counted against the same limit as a real device's."""

    async def consume(
        self,
        session: SessionContainer,
        entry: CodeEntry,
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
                await self.emit(event, user_context)
        if not isinstance(checked, _Claimed):
            return checked
        factor = checked.factor
        if checked.enrolled:
            enrolled = events.FactorEnrolled(user_id=user_id, at=now, factor=factor)
            await self.emit(enrolled, user_context)
        await self.emit(events.VerificationSucceeded(user_id=user_id, at=now, factor=factor))
        token = await self.completion.complete(
            session,
            factor,
            remember=entry.remember,
            request=api_options.request,
            response=api_options.response,
            user_context=user_context,
        )
        user = await session_user(session, user_context)
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
        entry: CodeEntry,
        api_options: APIOptions,
        now: float,
        user_context: dict[str, Any],
    ) -> ConsumeCodePostResult | _Claimed:
        """The part of :meth:`consume` inside the transaction: the answer to a wrong,
        expired or refused code, or the device claimed for a right one. Events for the
        app's hook are appended to ``happened``, not sent."""
        user_id = session.get_user_id()
        key = entry.device.key
        attempt = await held.update(self._begin(entry, session, now))
        pending = attempt.pending
        if pending is None:
            return ConsumeCodePostRestartFlowError()
        if attempt.core_device_id is None:
            refuse_mismatch()  # nothing was counted or changed
        factor = pending_contact(pending).factor
        if attempt.expired:
            happened.append(events.VerificationFailed(user_id=user_id, at=now, factor=factor))
            return ConsumeCodePostExpiredUserInputCodeError(
                failed_code_input_attempt_count=pending.failures,
                maximum_code_input_attempts=self.config.otp_max_attempts,
            )
        counted = attempt.counted
        assert counted is not None  # set whenever the device was found and not expired
        if not isinstance(counted.decision, Allowed):
            answer, failed = failure(counted, user_id=user_id, factor=factor, now=now)
            happened.extend(failed)
            assert isinstance(answer, Locked)
            return LimitReachedResponse(answer.retry_after_ms)

        tenant_id = session.get_tenant_id()
        if pending.decoy:  # no code exists: every code is wrong, in the time a check takes
            await self.durations.imitate("check")
            limit = self.config.otp_max_attempts
            if self._core_max_attempts is not None:
                limit = min(limit, self._core_max_attempts)
            failures = await held.update(self._count_failure(key, 0, limit))
            expired = False
        else:
            async with self.durations.timed("check"):
                result = await api_options.recipe_implementation.check_code(
                    pre_auth_session_id=entry.device.pre_auth_session_id,
                    user_input_code=entry.code,
                    device_id=attempt.core_device_id,
                    link_code=None,
                    tenant_id=tenant_id,
                    user_context=user_context,
                )
            if isinstance(result, CheckCodeOkResult):
                device = result.consumed_device
                consumed = device.email if factor == EMAIL else device.phone_number
                if consumed is None or not same_contact(consumed, pending_contact(pending)):
                    await held.update(self._forget(key))
                    await revoke_codes(api_options, pending, tenant_id, user_context)
                    return ConsumeCodePostRestartFlowError()
                return await self._claim(
                    held, happened, session, key, pending, now, api_options, user_context
                )
            if isinstance(
                result, (CheckCodeIncorrectUserInputCodeError, CheckCodeExpiredUserInputCodeError)
            ):
                self._core_max_attempts = result.maximum_code_input_attempts
                limit = min(self.config.otp_max_attempts, result.maximum_code_input_attempts)
                failures = await held.update(
                    self._count_failure(key, result.failed_code_input_attempt_count, limit)
                )
            else:  # the core no longer has the device (used, revoked, or too many attempts)
                limit = self.config.otp_max_attempts
                failures = await held.update(self._forget(key))
            expired = isinstance(result, CheckCodeExpiredUserInputCodeError)
        exhausted = failures is None or failures >= limit
        if exhausted and failures is not None:
            if pending.decoy:  # nothing to revoke, in the time revoking takes
                await self.durations.imitate("revoke")
            else:
                async with self.durations.timed("revoke"):
                    await revoke_codes(api_options, pending, tenant_id, user_context)

        answer, failed = failure(counted, user_id=user_id, factor=factor, now=now)
        happened.extend(failed)
        if isinstance(answer, Locked):  # this failure locked the factor
            return LimitReachedResponse(answer.retry_after_ms)
        if exhausted:
            return ConsumeCodePostRestartFlowError()
        assert failures is not None
        if expired:
            return ConsumeCodePostExpiredUserInputCodeError(
                failed_code_input_attempt_count=failures, maximum_code_input_attempts=limit
            )
        return ConsumeCodePostIncorrectUserInputCodeError(
            failed_code_input_attempt_count=failures, maximum_code_input_attempts=limit
        )

    def _begin(
        self, entry: CodeEntry, session: SessionContainer, now: float
    ) -> Callable[[TwoFactorState], _Attempt]:
        """Find the session's pending device and unmask its core id with the client's
        handle (a wrong handle: nothing more is done); refuse if locked or expired, else
        count the attempt (before the code is checked, so parallel guesses cannot pass
        the limit)."""
        key = entry.device.key

        def begin(state: TwoFactorState) -> _Attempt:
            pending = own_pending(state, key, session)
            if pending is None:
                return _Attempt(None)
            core_id = core_device_id(pending, key, entry.device.handle)
            if core_id is None:
                return _Attempt(pending)
            decision = throttle.check(self.throttle_policy, state.throttle, pending.factor, now)
            if isinstance(decision, Refused):
                return _Attempt(pending, core_id, Counted(decision))
            if self.deadline(pending.created_at) <= now:
                return _Attempt(pending, core_id, expired=True)
            factor = pending_contact(pending).factor
            return _Attempt(pending, core_id, self.count(state, now, factor))

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
        contact = pending_contact(pending)
        factor = contact.factor

        def claim(state: TwoFactorState) -> Literal["OK", "ENROLLED", "REFUSED", "USED"]:
            if state.otp_pending.pop(key, None) is None:
                return "USED"  # a concurrent request with the same code won
            pinned = pinned_contact(state, factor)
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
            elif not same_contact(pinned, contact):
                return "REFUSED"
            self.succeeded(state, now)
            return outcome

        outcome = await held.update(claim)
        if outcome == "USED":
            happened.append(events.VerificationFailed(user_id=user_id, at=now, factor=factor))
            return ConsumeCodePostRestartFlowError()
        await revoke_codes(api_options, pending, session.get_tenant_id(), user_context)
        if outcome == "REFUSED":
            happened.append(events.VerificationFailed(user_id=user_id, at=now, factor=factor))
            return GeneralErrorResponse(self._step_up_message(factor))
        return _Claimed(factor, enrolled=outcome == "ENROLLED")
