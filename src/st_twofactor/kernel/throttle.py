"""Throttling of second-factor attempts, as pure functions over a user's throttle state.

Policy (S2): after ``max_failures`` consecutive failures of one factor, that factor is
refused for ``lockout`` seconds; then the count starts again. Independently, an account
never gets more than ``max_failures_per_hour`` failed attempts in any sliding hour, over
all its factors together. A success resets the factor's count and lifts its lockout;
a verified second factor (:func:`after_verified`) does so for every factor of the user.

Concurrency: checking first and counting the failure after the code was found wrong lets
N parallel requests all pass the check. :func:`begin_attempt` therefore counts the attempt
as a failure *before* the code is verified, in the same atomic store update as the check
(see ``Store.begin_attempt``); :func:`after_success` then takes it back.

Times are Unix seconds passed in by the caller (from its injected clock), so the functions
never read the wall clock.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TypeAlias

from st_twofactor.errors import ConfigurationError

__all__ = [
    "HOUR",
    "Allowed",
    "Decision",
    "FactorCounter",
    "Refused",
    "ThrottlePolicy",
    "ThrottleState",
    "after_failure",
    "after_success",
    "after_verified",
    "begin_attempt",
    "check",
]

log = logging.getLogger("st_twofactor")

HOUR = 3600.0


@dataclass(frozen=True, kw_only=True)
class ThrottlePolicy:
    """Limits on failed attempts; the defaults are the security requirements.

    :param max_failures: consecutive failures of a factor that trigger a lockout (5).
    :param lockout: seconds a locked factor stays refused (900).
    :param max_failures_per_hour: failed attempts an account may make, all factors
        together, in any sliding hour (100).

    Tightening is silent; loosening beyond a default is allowed but logged as a warning.
    """

    max_failures: int = 5
    lockout: float = 900.0
    max_failures_per_hour: int = 100

    def __post_init__(self) -> None:
        for name in ("max_failures", "max_failures_per_hour"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"{name} must be a positive integer; got {value!r}")
        lockout = self.lockout
        number = isinstance(lockout, (int, float)) and not isinstance(lockout, bool)
        if not (number and math.isfinite(lockout) and lockout > 0):
            raise ConfigurationError(
                f"lockout must be a positive number of seconds; got {lockout!r}"
            )
        loosened = []
        if self.max_failures > 5:
            loosened.append(f"max_failures={self.max_failures} (default 5)")
        if lockout < 900:
            loosened.append(f"lockout={lockout} (default 900)")
        if self.max_failures_per_hour > 100:
            loosened.append(f"max_failures_per_hour={self.max_failures_per_hour} (default 100)")
        if loosened:
            log.warning("st-twofactor: throttling loosened: %s", ", ".join(loosened))


@dataclass(frozen=True)
class FactorCounter:
    """Throttle counters of one factor of one user."""

    consecutive_failures: int = 0
    locked_until: float = 0.0
    """Unix time until which the factor is refused; 0 when not locked."""


@dataclass(frozen=True)
class ThrottleState:
    """A user's throttle counters: per factor, plus the account's failures of the last hour.

    Treat it as immutable: the functions below return new states and never mutate one.
    """

    factors: Mapping[str, FactorCounter] = field(default_factory=dict)
    recent_failures: tuple[float, ...] = ()
    """Times of the account's failed attempts in the last hour, oldest first (bounded)."""


@dataclass(frozen=True)
class Allowed:
    """An attempt may be made; ``attempts_left`` more may follow if it fails."""

    attempts_left: int


@dataclass(frozen=True)
class Refused:
    """Attempts are refused for ``retry_after_ms`` milliseconds (``LIMIT_REACHED_ERROR``)."""

    retry_after_ms: int


Decision: TypeAlias = Allowed | Refused


def check(policy: ThrottlePolicy, state: ThrottleState, factor: str, now: float) -> Decision:
    """May ``factor`` be tried at ``now``? Read-only.

    ``Allowed.attempts_left`` here counts the attempts that may be made now (at least 1).
    """
    counter = state.factors.get(factor, FactorCounter())
    recent = _recent(state.recent_failures, now)
    waits = []
    if counter.locked_until > now:
        waits.append(counter.locked_until - now)
    cap = policy.max_failures_per_hour
    if len(recent) >= cap:
        waits.append(recent[len(recent) - cap] + HOUR - now)  # until enough have aged out
    if waits:
        return Refused(max(1, math.ceil(max(waits) * 1000)))
    left = min(policy.max_failures - counter.consecutive_failures, cap - len(recent))
    return Allowed(max(left, 1))


def after_failure(
    policy: ThrottlePolicy, state: ThrottleState, factor: str, now: float
) -> ThrottleState:
    """The state after a failed attempt at ``now``; locks the factor at the limit."""
    counter = state.factors.get(factor, FactorCounter())
    consecutive = counter.consecutive_failures + 1
    locked_until = counter.locked_until
    if consecutive >= policy.max_failures:
        locked_until = max(locked_until, now + policy.lockout)
        consecutive = 0
    factors = {**state.factors, factor: FactorCounter(consecutive, locked_until)}
    recent = (*_recent(state.recent_failures, now), now)
    recent = tuple(sorted(recent)[-policy.max_failures_per_hour :])
    return ThrottleState(factors=factors, recent_failures=recent)


def after_success(
    state: ThrottleState, factor: str, *, attempt_at: float | None = None
) -> ThrottleState:
    """The state after a success: the factor's count and lockout are cleared.

    Pass the ``now`` given to :func:`begin_attempt` as ``attempt_at`` to take back the
    failure it counted in advance (and drop failures older than an hour).
    """
    factors = {name: c for name, c in state.factors.items() if name != factor}
    recent = list(state.recent_failures)
    if attempt_at is not None:
        recent = list(_recent(state.recent_failures, attempt_at))
        if attempt_at in recent:
            recent.remove(attempt_at)
    return replace(state, factors=factors, recent_failures=tuple(recent))


def after_verified(state: ThrottleState, *, attempt_at: float) -> ThrottleState:
    """The state after a second factor was verified: every factor's count and lockout are
    cleared (the user proved who they are, whichever factor they used), and the failure
    :func:`begin_attempt` counted in advance at ``attempt_at`` is taken back."""
    return replace(after_success(state, "", attempt_at=attempt_at), factors={})


def begin_attempt(
    policy: ThrottlePolicy, state: ThrottleState, factor: str, now: float
) -> tuple[ThrottleState, Decision]:
    """Check and, if allowed, count the attempt as a failure in advance.

    Returns the new state (unchanged when refused) and the decision. On ``Allowed``,
    ``attempts_left`` is what remains if this attempt fails: the value for ``attemptsLeft``
    in ``INVALID_CODE_ERROR``. After a success call :func:`after_success`.
    """
    decision = check(policy, state, factor, now)
    if isinstance(decision, Refused):
        return state, decision
    counted = after_failure(policy, state, factor, now)
    after = check(policy, counted, factor, now)
    return counted, Allowed(after.attempts_left if isinstance(after, Allowed) else 0)


def _recent(times: tuple[float, ...], now: float) -> tuple[float, ...]:
    return tuple(sorted(t for t in times if t > now - HOUR))
