"""Using a code (``signinup/code/consume``): the attempt counted, the code checked, the
device claimed and the contact pinned, all in one store update; then the session
completed (:mod:`st_twofactor.http.passwordless`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

from supertokens_python.framework import BaseRequest
from supertokens_python.recipe.passwordless.interfaces import (
    APIOptions,
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
from st_twofactor.factors.base import Counted, Locked, failure
from st_twofactor.factors.codes._devices import code_matches, is_device_id_of
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
from st_twofactor.kernel.throttle import Refused
from st_twofactor.stores.state import TwoFactorState


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


Outcome = Literal["restart", "mismatch", "expired", "refused", "wrong", "used-up", "step-up"]
"""How an attempt ended, when not with a right code (see :class:`_Attempt`)."""


@dataclass(frozen=True)
class _Attempt:
    """What the one update of a consume decided.

    ``outcome`` is ``None`` for a right code (the device is claimed: ``enrolled`` when
    this pinned the contact). Otherwise: ``restart`` (no such device for this session, or
    its factor is no longer enabled), ``mismatch`` (the ``deviceId`` is not the device's;
    nothing changed), ``expired``, ``refused`` (the factor is locked; nothing checked),
    ``wrong`` (counted), ``used-up`` (wrong, and the device's last attempt: it is gone),
    ``step-up`` (a right code that may not pin its contact now; the device is gone, the
    attempt counted).
    """

    outcome: Outcome | None
    factor: Factor | None = None
    counted: Counted | None = None
    failures: int = 0
    enrolled: bool = False


class CodeChecking(CodeFlows):
    """Checking codes: the checks and state changes behind ``signinup/code/consume``."""

    async def consume(
        self,
        session: SessionContainer,
        entry: CodeEntry,
        api_options: APIOptions,
        user_context: dict[str, Any],
    ) -> ConsumeCodePostResult:
        """Check the code for the user's pending device; complete 2FA if right.

        Counting the attempt, checking the code against the device's sealed codes and
        claiming the device are one store update (the attempt is counted before the code
        is compared, in the same atomic step, so parallel guesses cannot pass the limit,
        and of parallel requests with the right code only one claims the device). Events
        go to the app's hook, and the session is completed, after it.
        """
        user_id = session.get_user_id()
        now = self.now()
        attempt = await self.store.update(user_id, self._attempt(entry, session, now), user_context)
        if attempt.outcome is not None:
            return await self._refusal(attempt, user_id, now, user_context)
        assert attempt.factor is not None
        factor = attempt.factor
        if attempt.enrolled:
            enrolled = events.FactorEnrolled(user_id=user_id, at=now, factor=factor)
            await self.emit(enrolled, user_context)
        await self.emit(events.VerificationSucceeded(user_id=user_id, at=now, factor=factor))
        # The answer carries the user: read while the session is completed (two core
        # calls, neither waiting for the other).
        token, user = await asyncio.gather(
            self.completion.complete(
                session,
                factor,
                remember=entry.remember,
                request=api_options.request,
                response=api_options.response,
                user_context=user_context,
            ),
            session_user(session, user_context),
        )
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

    def _attempt(
        self, entry: CodeEntry, session: SessionContainer, now: float
    ) -> Callable[[TwoFactorState], _Attempt]:
        """The update of :meth:`consume` (see :class:`_Attempt`)."""
        key = entry.device.key
        user_id = session.get_user_id()

        def attempt(state: TwoFactorState) -> _Attempt:
            pending = own_pending(state, key, session)
            if pending is None or pending.factor not in self.config.factors:
                return _Attempt("restart")  # none, or its factor is no longer enabled
            if not is_device_id_of(key, entry.device.handle):
                return _Attempt("mismatch")
            contact = pending_contact(pending)
            factor = contact.factor
            decision = throttle.check(self.throttle_policy, state.throttle, factor, now)
            if isinstance(decision, Refused):
                return _Attempt("refused", factor, Counted(decision))
            if self.deadline(pending.created_at) <= now:
                return _Attempt("expired", factor, failures=pending.failures)
            counted = self.count(state, now, factor)
            if isinstance(counted.decision, Refused):
                return _Attempt("refused", factor, counted)
            sealed = pending.codes or []
            if not code_matches(self.kernel.box, user_id, key, sealed, entry.code):
                pending.failures += 1
                if pending.failures < self.config.otp_max_attempts:
                    return _Attempt("wrong", factor, counted, pending.failures)
                del state.otp_pending[key]
                return _Attempt("used-up", factor, counted, pending.failures)
            del state.otp_pending[key]  # a code works once
            pinned = pinned_contact(state, factor)
            enrolled = False
            if pinned is None:
                # A contact is pinned by its first right code, only by a user with no
                # factor yet or a fresh session (S8), as for adding any factor.
                if not self._may_pin(state, session):
                    return _Attempt("step-up", factor, counted)
                if factor == EMAIL:
                    state.email = contact.value
                else:
                    state.phone = contact.value
                state.bump_epoch()
                enrolled = True
            elif not same_contact(pinned, contact):
                return _Attempt("step-up", factor, counted)  # another was pinned since
            self.succeeded(state, now)
            return _Attempt(None, factor, enrolled=enrolled)

        return attempt

    async def _refusal(
        self, attempt: _Attempt, user_id: str, now: float, user_context: dict[str, Any]
    ) -> ConsumeCodePostResult:
        """The answer, and the app's events, for an attempt that did not complete 2FA."""
        outcome, factor = attempt.outcome, attempt.factor
        if outcome == "restart":
            return ConsumeCodePostRestartFlowError()
        if outcome == "mismatch":
            refuse_mismatch()  # nothing was counted or changed
        assert factor is not None
        limit = self.config.otp_max_attempts
        if outcome == "expired":
            failed = events.VerificationFailed(user_id=user_id, at=now, factor=factor)
            await self.emit(failed, user_context)
            return ConsumeCodePostExpiredUserInputCodeError(
                failed_code_input_attempt_count=attempt.failures, maximum_code_input_attempts=limit
            )
        assert attempt.counted is not None
        answer, happened = failure(attempt.counted, user_id=user_id, factor=factor, now=now)
        for event in happened:  # a right code refused for step-up stays counted, too
            await self.emit(event, user_context)
        if outcome == "step-up":
            return GeneralErrorResponse(self._step_up_message(factor))
        if isinstance(answer, Locked):  # locked before, or by this very failure
            return LimitReachedResponse(answer.retry_after_ms)
        if outcome == "used-up":
            return ConsumeCodePostRestartFlowError()
        return ConsumeCodePostIncorrectUserInputCodeError(
            failed_code_input_attempt_count=attempt.failures, maximum_code_input_attempts=limit
        )
