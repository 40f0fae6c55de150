"""The enrolment grace period: a user who must do 2FA and has no factor yet may postpone
enrolling one until a deadline.

The deadline counts from the first sign-in at which 2FA was required of the user while
they had no factor (:attr:`~st_twofactor.stores.state.TwoFactorState.grace_started_at`),
and never moves: a later sign-in, a policy change or an admin reset does not start a new
period. Until the deadline such a sign-in completes the session's 2FA with the claim's
``m`` set to ``"grace"`` and ``u`` to the deadline; that completion is never fresh, so it
changes no factor beyond the first one, and past ``u`` the session no longer counts as
completed (:func:`~st_twofactor.claim.is_completed`). Enrolling the first factor presents
it, which completes the session the usual way (fresh, by that factor): that is how a grace
session becomes a normal one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from st_twofactor.stores.state import TwoFactorState

__all__ = ["deadline", "open_until", "start"]


def deadline(state: TwoFactorState, grace: float | None) -> float | None:
    """When the user's grace period ends (seconds since the epoch), or ``None`` when the
    app has none (``grace``) or it has not started."""
    if grace is None or state.grace_started_at is None:
        return None
    return state.grace_started_at + grace


def start(state: TwoFactorState, now: float) -> bool:
    """Start the user's grace period at ``now`` unless it started before; whether it was
    started now (call inside the store update of a sign-in that needs it)."""
    if state.grace_started_at is not None:
        return False
    state.grace_started_at = now
    return True


def open_until(state: TwoFactorState, grace: float | None, now: float) -> float | None:
    """The deadline, while a sign-in at ``now`` may still postpone enrolment: the app has
    a grace period, the user has no factor, and the deadline has not passed."""
    end = deadline(state, grace)
    if end is None or state.factor_ids() or now >= end:
        return None
    return end
