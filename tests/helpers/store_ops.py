"""Read-modify-write operations for the store tests, each one ``Store.update``.

They check and change the state the way the library's flows do (a TOTP step used once, a
recovery code consumed once, attempts counted), so that the tests can race them against a
store and see whether its ``update`` is atomic.
"""

from __future__ import annotations

from typing import Any

from st_twofactor.kernel import throttle
from st_twofactor.kernel.throttle import Decision, ThrottlePolicy
from st_twofactor.stores import Store, TwoFactorState


async def use_totp_step(
    store: Store, user_id: str, step: int, user_context: dict[str, Any] | None = None
) -> bool:
    """Record ``step`` as used; ``False`` if it (or a later step) already was."""
    return await store.update(user_id, lambda state: state.use_totp_step(step), user_context)


async def consume_recovery_code(
    store: Store, user_id: str, code_hash: str, user_context: dict[str, Any] | None = None
) -> bool:
    """Remove the stored hash ``code_hash``; ``False`` if it was no longer there."""
    return await store.update(
        user_id, lambda state: state.remove_recovery_code(code_hash), user_context
    )


async def begin_attempt(
    store: Store,
    user_id: str,
    factor: str,
    policy: ThrottlePolicy,
    now: float,
    user_context: dict[str, Any] | None = None,
) -> Decision:
    """:func:`~st_twofactor.kernel.throttle.begin_attempt`: check and count in advance."""

    def begin(state: TwoFactorState) -> Decision:
        state.throttle, decision = throttle.begin_attempt(policy, state.throttle, factor, now)
        return decision

    return await store.update(user_id, begin, user_context)


async def record_failure(
    store: Store,
    user_id: str,
    factor: str,
    policy: ThrottlePolicy,
    now: float,
    user_context: dict[str, Any] | None = None,
) -> Decision:
    """Count a failure that was not counted in advance; returns what is allowed next."""

    def record(state: TwoFactorState) -> Decision:
        state.throttle = throttle.after_failure(policy, state.throttle, factor, now)
        return throttle.check(policy, state.throttle, factor, now)

    return await store.update(user_id, record, user_context)


async def reset_failures(
    store: Store,
    user_id: str,
    factor: str,
    attempt_at: float | None = None,
    user_context: dict[str, Any] | None = None,
) -> None:
    """:func:`~st_twofactor.kernel.throttle.after_success` for ``factor``."""

    def reset(state: TwoFactorState) -> None:
        state.throttle = throttle.after_success(state.throttle, factor, attempt_at=attempt_at)

    await store.update(user_id, reset, user_context)
