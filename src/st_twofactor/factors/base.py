"""What every second factor shares: the factor contract and the rules that are the same
for all, held once so that the factors cannot drift apart.

Each factor is a class on :class:`FactorBase`, in a package of its own under
:mod:`st_twofactor.factors`, registered in :data:`st_twofactor.factors.registry.FACTORS`.
Its flows (enrol, verify, remove) change the user's state only through the base's rules:

- **Freshness** (:meth:`FactorBase.check_change`, :meth:`FactorBase.check_removal`): a user
  who has a factor may add one, pin a contact or get new recovery codes only with a second
  factor presented in this session within the step-up window (S8); a removal always needs
  one. Checked inside the store update that makes the change, so a refused change writes
  nothing. The rule itself is :func:`~st_twofactor.claim.stale_reason`.
- **Failure** (:meth:`FactorBase.count`, then :meth:`FactorBase.failed`): an attempt is
  counted *before* its code is checked, in the same atomic store update, so parallel
  guesses cannot pass the limit (S2). A wrong code answers the attempts left; the wrong
  code that locks the factor, and any attempt at a locked factor, answers :class:`Locked`
  with the wait the throttle reports (milliseconds, rounded up). The events follow from
  the same outcome.
- **Success** (:meth:`FactorBase.succeeded`): a right code of *any* factor resets the
  failure counts and lockouts of *all* the user's factors (the user just proved who they are).
- **Recovery codes** come with the first real factor (:meth:`FactorBase.give_recovery_codes`)
  and go with the last one (:meth:`FactorBase.drop_orphaned_recovery_codes`).
- **Revocation** and the known-device failure count are applied by the store every flow
  uses (:class:`~st_twofactor.kernel.request_store.RequestStore`).
- **Completing the session**: :mod:`~st_twofactor.kernel.completion`, once a flow says ``OK``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeAlias

from supertokens_python.recipe.session.claims import BooleanClaim

from st_twofactor import events
from st_twofactor.claim import completed_within
from st_twofactor.factors.recovery_codes import codes as recovery_codes
from st_twofactor.factors.recovery_codes.codes import NewSet
from st_twofactor.ids import FactorId
from st_twofactor.kernel import throttle
from st_twofactor.kernel.throttle import Allowed, Decision, Refused, ThrottlePolicy
from st_twofactor.results import CodeRefused, DeviceRemoved

if TYPE_CHECKING:
    from st_twofactor.config import TwoFactorConfig
    from st_twofactor.kernel.completion import SessionCompletion
    from st_twofactor.kernel.crypto import SecretBox
    from st_twofactor.kernel.request_store import RequestStore
    from st_twofactor.stores.state import TwoFactorState

__all__ = [
    "Counted",
    "Factor",
    "FactorBase",
    "FactorView",
    "Failure",
    "Kernel",
    "Locked",
    "StepUpRequired",
    "WrongCode",
    "count_attempt",
    "failure",
    "needs_step_up",
    "record_success",
]


# -- the contract --


@dataclass(frozen=True)
class FactorView:
    """What ``GET /auth/2fa`` knows when it asks a factor about itself.

    :param state: the user's 2FA state.
    :param enabled: whether the app enabled this factor (``config.factors``).
    :param fresh: whether this session presented a factor within the step-up window.
    :param email: where an e-mail code would go now, if anywhere.
    :param phone: where an SMS code would go now, if anywhere.
    """

    state: TwoFactorState
    enabled: bool
    fresh: bool
    email: str | None = None
    phone: str | None = None


class Factor(Protocol):
    """One second factor, as ``GET /auth/2fa`` and the registry see it.

    Its flows (enrol, verify, remove) are methods of its class, on :class:`FactorBase`;
    what it stores is its part of :class:`~st_twofactor.stores.state.TwoFactorState`.
    """

    id: ClassVar[FactorId]

    @staticmethod
    def can_complete(view: FactorView) -> bool:
        """Whether it can complete 2FA now (``next``), a lockout aside."""
        ...

    @staticmethod
    def can_enrol(view: FactorView) -> bool:
        """Whether the user may enrol it now (``enrollable``); asked only while the
        user may add a factor (no factor yet, or a fresh 2FA) and the app enabled it."""
        ...

    @staticmethod
    def describe(state: TwoFactorState) -> dict[str, Any]:
        """What ``GET /auth/2fa`` shows of it (devices, keys, codes left); never secrets."""
        ...


class Kernel(Protocol):
    """What a factor's flows need from the runtime (:class:`~st_twofactor.runtime.TwoFactor`)."""

    config: TwoFactorConfig
    claim: BooleanClaim
    store: RequestStore
    box: SecretBox
    completion: SessionCompletion

    @property
    def emit(self) -> Callable[[events.Event, dict[str, Any] | None], Awaitable[None]]: ...


class StepUpRequired(Exception):
    """A factor change was refused: it needs a factor presented in this session within the
    step-up window (S8). Raised from inside the store update, so nothing is stored."""


class FactorBase:
    """The shared rules of the module doc, for the flows of one factor (or, for the code
    factors, two: each call names the factor)."""

    id: ClassVar[FactorId]

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.config = kernel.config
        self.claim = kernel.claim
        self.store = kernel.store
        self.throttle_policy: ThrottlePolicy = kernel.config.throttle_policy

    def now(self) -> float:
        return self.config.clock()

    # -- freshness --

    def is_fresh(self, payload: dict[str, Any]) -> bool:
        """Whether the session presented a factor within the step-up window."""
        window = self.config.step_up_window
        return completed_within(payload, window, now=self.now(), claim=self.claim)

    def may_change(self, state: TwoFactorState, payload: dict[str, Any]) -> bool:
        """A change that adds (a device, a key, a contact, new recovery codes) is allowed
        to a user with no factor yet, else only to a fresh session."""
        return not needs_step_up(
            state, payload, window=self.config.step_up_window, now=self.now(), claim=self.claim
        )

    def check_change(self, state: TwoFactorState, payload: dict[str, Any] | None) -> None:
        """Raise :class:`StepUpRequired` unless :meth:`may_change`. ``payload`` is the
        session's access token payload; ``None`` only for an operator (admin functions,
        the CLI), who has no session and is not asked for one."""
        if payload is not None and not self.may_change(state, payload):
            raise StepUpRequired

    def check_removal(self, payload: dict[str, Any] | None) -> None:
        """Raise :class:`StepUpRequired` unless the session is fresh: removing a factor
        (or replacing the recovery codes) always needs one. ``None``: an operator."""
        if payload is not None and not self.is_fresh(payload):
            raise StepUpRequired

    # -- removal --

    async def remove_device(
        self,
        user_id: str,
        device_name: str,
        user_context: dict[str, Any],
        *,
        session_payload: dict[str, Any] | None = None,
    ) -> DeviceRemoved:
        """Remove the factor's device (or key) called ``device_name``, the same way for
        every factor that has devices: only for a fresh session (``session_payload``;
        ``None`` for an operator), in one update that also revokes remembered devices and
        drops recovery codes left without a factor."""

        def remove(state: TwoFactorState) -> bool:
            self.check_removal(session_payload)
            if not self.take_device(state, device_name):
                return False
            state.bump_epoch()
            self.drop_orphaned_recovery_codes(state)
            return True

        existed = await self.store.update(user_id, remove, user_context)
        if existed:
            event = events.FactorRemoved(
                user_id=user_id, at=self.now(), factor=self.id, device_name=device_name
            )
            await self.emit(event, user_context)
        return {"status": "OK", "didDeviceExist": existed}

    def take_device(self, state: TwoFactorState, device_name: str) -> bool:
        """Take the device called ``device_name`` out of ``state``; whether there was one.
        Factors with devices say how; the others have none to remove."""
        return False

    # -- failure and success --

    def count(self, state: TwoFactorState, now: float, factor: FactorId | None = None) -> Counted:
        """Count an attempt at ``factor`` (default: this factor) before its code is checked."""
        return count_attempt(self.throttle_policy, state, factor or self.id, now)

    def attempts_left(self, state: TwoFactorState, now: float) -> int:
        """What the throttle still allows for this factor, counting nothing."""
        decision = throttle.check(self.throttle_policy, state.throttle, self.id, now)
        return decision.attempts_left if isinstance(decision, Allowed) else 0

    @staticmethod
    def succeeded(state: TwoFactorState, now: float) -> None:
        record_success(state, now)

    async def failed(
        self,
        user_id: str,
        counted: Counted,
        *,
        factor: FactorId | None = None,
        reason: str | None = None,
        user_context: dict[str, Any] | None = None,
    ) -> Failure:
        """The answer to a counted attempt that did not succeed; its events emitted."""
        answer, happened = failure(
            counted, user_id=user_id, factor=factor or self.id, now=self.now(), reason=reason
        )
        for event in happened:
            await self.emit(event, user_context)
        return answer

    async def refused_code(
        self, user_id: str, counted: Counted, user_context: dict[str, Any] | None = None
    ) -> CodeRefused:
        """A wrong code as the library's own API answers it: ``INVALID_CODE_ERROR`` with
        the attempts left, or ``LIMIT_REACHED_ERROR`` with the wait when the factor is
        locked (also by this very failure)."""
        answer = await self.failed(user_id, counted, user_context=user_context)
        if isinstance(answer, Locked):
            return {"status": "LIMIT_REACHED_ERROR", "retryAfterMs": answer.retry_after_ms}
        return {"status": "INVALID_CODE_ERROR", "attemptsLeft": answer.attempts_left}

    async def emit(self, event: events.Event, user_context: dict[str, Any] | None = None) -> None:
        """To the app's hook and the security e-mails (the request's ``user_context``)."""
        await self.kernel.emit(event, user_context)

    # -- recovery codes --

    def new_recovery_codes(
        self, user_id: str, *, only_if_used: bool = False
    ) -> tuple[list[str], NewSet]:
        """A new set of codes for ``user_id`` and what to store for it (keyed digests and
        their sealed key, no slow hash), made before the update that may store it.
        ``only_if_used``: none when the app does not enable recovery codes."""
        if only_if_used and "recovery-code" not in self.config.factors:
            return [], NewSet()
        return recovery_codes.new_set(self.kernel.box, user_id, self.config.recovery_code_count)

    @staticmethod
    def give_recovery_codes(state: TwoFactorState, new: NewSet) -> bool:
        """Store the set ``new`` as the user's recovery codes if they have none (the first
        real factor brings them); whether it was stored."""
        if state.recovery_codes or not new.stored:
            return False
        new.put(state)
        return True

    @staticmethod
    def drop_orphaned_recovery_codes(state: TwoFactorState) -> None:
        """Recovery codes are a fallback for a factor: without one left, they go too."""
        if not has_real_factor(state):
            state.recovery_codes = []


def has_real_factor(state: TwoFactorState) -> bool:
    """Whether the user has a factor other than recovery codes."""
    return any(f != "recovery-code" for f in state.factor_ids())


# -- step-up --


def needs_step_up(
    state: TwoFactorState,
    payload: dict[str, Any],
    *,
    window: float,
    now: float,
    claim: BooleanClaim,
) -> bool:
    """Whether changing factors needs a fresh 2FA first (S8): the user has a factor and
    the session with ``payload`` presented none within ``window`` seconds of ``now``."""
    return bool(state.factor_ids()) and not completed_within(payload, window, now=now, claim=claim)


# -- failure --


@dataclass(frozen=True)
class Counted:
    """An attempt, counted before its code is checked (S2).

    :param decision: the throttle's decision; on :class:`~st_twofactor.kernel.throttle.Allowed`,
        ``attempts_left`` is what remains if this attempt fails.
    :param locks_for_ms: if this attempt fails, the factor is locked for this long (the
        throttle's own figure); ``None`` when a failure would not lock it.
    """

    decision: Decision
    locks_for_ms: int | None = None


def count_attempt(
    policy: ThrottlePolicy, state: TwoFactorState, factor: FactorId, now: float
) -> Counted:
    """Check ``factor`` and, if it may be tried, count the attempt as a failure in
    ``state`` (call inside the store update that also checks the code)."""
    state.throttle, decision = throttle.begin_attempt(policy, state.throttle, factor, now)
    if isinstance(decision, Allowed) and decision.attempts_left == 0:
        after = throttle.check(policy, state.throttle, factor, now)
        if isinstance(after, Refused):
            return Counted(decision, locks_for_ms=after.retry_after_ms)
    return Counted(decision)


def record_success(state: TwoFactorState, now: float) -> None:
    """A right code at ``now``: take back the failure counted in advance, and clear the
    failure counts and lockouts of every factor of the user: they just proved who they are."""
    state.throttle = throttle.after_verified(state.throttle, attempt_at=now)


@dataclass(frozen=True)
class WrongCode:
    """A wrong code; ``attempts_left`` more may be tried before the factor is locked."""

    attempts_left: int


@dataclass(frozen=True)
class Locked:
    """The factor is locked for ``retry_after_ms`` milliseconds: by this failure, or it
    already was and the code was not checked."""

    retry_after_ms: int


Failure: TypeAlias = WrongCode | Locked


def failure(
    counted: Counted,
    *,
    user_id: str,
    factor: FactorId,
    now: float,
    reason: str | None = None,
) -> tuple[Failure, list[events.Event]]:
    """The answer to a counted attempt that did not succeed, and the events it causes.

    A refused attempt: :class:`Locked` and ``LockedOut``. A wrong code:
    ``VerificationFailed`` (with ``reason``, when the factor knows why), plus
    ``LockedOut`` and :class:`Locked` when this failure locks the factor, else
    :class:`WrongCode`.
    """
    decision = counted.decision
    if isinstance(decision, Refused):
        wait = decision.retry_after_ms
        locked = events.LockedOut(
            user_id=user_id, at=now, factor=factor, retry_after_ms=wait, just_locked=False
        )
        return Locked(wait), [locked]
    failed: list[events.Event] = [
        events.VerificationFailed(
            user_id=user_id,
            at=now,
            factor=factor,
            attempts_left=decision.attempts_left,
            reason=reason,
        )
    ]
    if counted.locks_for_ms is None:
        return WrongCode(decision.attempts_left), failed
    wait = counted.locks_for_ms
    failed.append(events.LockedOut(user_id=user_id, at=now, factor=factor, retry_after_ms=wait))
    return Locked(wait), failed
