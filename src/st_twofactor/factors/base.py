"""What every second factor shares: its id, and the rules that are the same for all.

A factor is verified by its own module (:mod:`~st_twofactor.factors.totp.algorithm` and the TOTP
flows in
:mod:`~st_twofactor.factors._service`, e-mailed and SMS codes in
:mod:`~st_twofactor.factors.codes.passwordless`,
:mod:`~st_twofactor.factors.recovery_codes.codes`, security keys and passkeys in
:mod:`~st_twofactor.factors.webauthn.flows`). Whatever the factor, its flows use these rules, and
only these, so that the factors cannot drift apart (DESIGN 10.1):

- **Step-up** (:func:`needs_step_up`): a user who has a factor may change factors (add a
  device, pin a contact, new recovery codes) only with a second factor presented in this
  session within the step-up window (S8); the rule itself is
  :func:`~st_twofactor.claim.stale_reason`.
- **Failure** (:func:`count_attempt`, then :func:`failure`): an attempt is counted *before*
  its code is checked, in the same atomic store update, so parallel guesses cannot pass the
  limit (S2). A wrong code answers the attempts left; the wrong code that locks the factor,
  and any attempt at a locked factor, answers :class:`Locked` with the wait the throttle
  reports (milliseconds, rounded up). The events follow from the same outcome.
- **Success** (:func:`record_success`): a right code of *any* factor resets the failure
  counts and lockouts of *all* the user's factors: the user has just proved who they are.
- **Completing the session**: :mod:`~st_twofactor.kernel.completion` (claim, remember-device,
  events).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias, TypeGuard

from supertokens_python.recipe.session.claims import BooleanClaim

from st_twofactor import events
from st_twofactor.claim import completed_within
from st_twofactor.kernel import throttle
from st_twofactor.kernel.throttle import Allowed, Decision, Refused, ThrottlePolicy

if TYPE_CHECKING:
    from st_twofactor.stores.state import TwoFactorState

__all__ = [
    "CODE_FACTORS",
    "FACTOR_IDS",
    "CodeFactor",
    "Counted",
    "Factor",
    "FactorId",
    "FactorView",
    "Failure",
    "Locked",
    "WrongCode",
    "count_attempt",
    "failure",
    "is_factor_id",
    "needs_step_up",
    "record_success",
]

FactorId: TypeAlias = Literal["totp", "otp-email", "otp-phone", "recovery-code", "webauthn"]
"""A second factor's id, in SuperTokens' naming."""

FACTOR_IDS: tuple[FactorId, ...] = ("totp", "otp-email", "otp-phone", "recovery-code", "webauthn")
"""Every factor id st-twofactor knows, in the order ``GET /auth/2fa`` lists them.
``"webauthn"`` (security keys and passkeys) is off unless the app lists it."""


def is_factor_id(value: object) -> TypeGuard[FactorId]:
    """Whether ``value`` is one of :data:`FACTOR_IDS` (e.g. an id read from stored state)."""
    return value in FACTOR_IDS


CodeFactor: TypeAlias = Literal["otp-email", "otp-phone"]
"""The factors whose codes are sent (by e-mail or SMS) through the passwordless recipe."""

CODE_FACTORS: tuple[CodeFactor, ...] = ("otp-email", "otp-phone")


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
    """One second factor, as the code shared by all factors sees it (DESIGN 10.1).

    Its flows (enrol, verify, remove) live in its own module and use the rules below;
    what it stores is its part of :class:`~st_twofactor.stores.base.TwoFactorState`. Adding a
    factor means one more implementation, registered in
    :data:`st_twofactor.factors._service.FACTORS`.
    """

    @property
    def id(self) -> FactorId:
        """The factor's id."""
        ...

    def can_complete(self, view: FactorView) -> bool:
        """Whether it can complete 2FA now (``next``), a lockout aside."""
        ...

    def can_enrol(self, view: FactorView) -> bool:
        """Whether the user may enrol it now (``enrollable``); asked only while the
        user may add a factor (no factor yet, or a fresh 2FA) and the app enabled it."""
        ...


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
    failure counts and lockouts of every factor of the user (issue 11, item 7)."""
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
        locked = events.LockedOut(user_id=user_id, at=now, factor=factor, retry_after_ms=wait)
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
