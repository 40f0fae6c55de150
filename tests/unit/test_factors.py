"""The rules every factor shares (st_twofactor.factors.base), as pure functions."""

from __future__ import annotations

import typing

from st_twofactor import FACTOR_IDS, FactorId
from st_twofactor.factors.base import (
    Counted,
    Locked,
    WrongCode,
    count_attempt,
    failure,
    record_success,
)
from st_twofactor.kernel.throttle import Allowed, Refused, ThrottlePolicy
from st_twofactor.stores import TwoFactorState

T0 = 1_700_000_000.0
POLICY = ThrottlePolicy()


def test_the_factor_ids_are_the_literal_type() -> None:
    assert typing.get_args(FactorId) == FACTOR_IDS


def test_a_wrong_code_answers_the_attempts_left() -> None:
    state = TwoFactorState()
    counted = count_attempt(POLICY, state, "totp", T0)
    assert counted == Counted(Allowed(4))
    answer, happened = failure(counted, user_id="u", factor="totp", now=T0)
    assert answer == WrongCode(4)
    assert [(e.kind, e.attempts_left) for e in happened] == [("verification_failed", 4)]  # type: ignore[attr-defined]


def test_the_failure_that_locks_answers_the_throttles_wait_rounded_up() -> None:
    policy = ThrottlePolicy(max_failures=2, lockout=1.0001)
    state = TwoFactorState()
    count_attempt(policy, state, "otp-email", T0)
    counted = count_attempt(policy, state, "otp-email", T0)
    assert counted == Counted(Allowed(0), locks_for_ms=1001)  # ceil, never truncated
    answer, happened = failure(counted, user_id="u", factor="otp-email", now=T0)
    assert answer == Locked(1001)
    assert [e.kind for e in happened] == ["verification_failed", "locked_out"]
    assert happened[-1].retry_after_ms == 1001  # type: ignore[attr-defined]


def test_a_locked_factor_is_not_counted_and_answers_the_wait() -> None:
    state = TwoFactorState()
    for _ in range(5):
        count_attempt(POLICY, state, "recovery-code", T0)
    before = state.throttle
    counted = count_attempt(POLICY, state, "recovery-code", T0 + 100)
    assert counted == Counted(Refused(800_000)) and state.throttle == before
    answer, happened = failure(counted, user_id="u", factor="recovery-code", now=T0 + 100)
    assert answer == Locked(800_000)
    assert [e.kind for e in happened] == ["locked_out"]


def test_the_hourly_cap_reports_its_own_wait() -> None:
    policy = ThrottlePolicy(max_failures=5, lockout=1.0, max_failures_per_hour=3)
    state = TwoFactorState()
    count_attempt(policy, state, "totp", T0)
    count_attempt(policy, state, "otp-phone", T0 + 10)
    counted = count_attempt(policy, state, "totp", T0 + 20)
    assert counted.locks_for_ms == 3580 * 1000  # until the first failure ages out


def test_a_success_clears_every_factor() -> None:
    state = TwoFactorState()
    for _ in range(5):
        count_attempt(POLICY, state, "totp", T0)
    count_attempt(POLICY, state, "recovery-code", T0 + 1)
    record_success(state, T0 + 1)
    assert state.throttle.factors == {}
    assert state.throttle.recent_failures == (T0,) * 5


def test_every_factor_is_registered_under_its_id() -> None:
    """The factor contract: GET /auth/2fa asks each registered factor about itself."""
    from st_twofactor.factors.base import FactorView
    from st_twofactor.factors.registry import FACTORS

    assert tuple(FACTORS) == FACTOR_IDS
    assert all(factor.id == key for key, factor in FACTORS.items())
    nothing = FactorView(TwoFactorState(), enabled=True, fresh=False)
    assert [f for f in FACTOR_IDS if FACTORS[f].can_complete(nothing)] == []
    enrollable = [f for f in FACTOR_IDS if FACTORS[f].can_enrol(nothing)]
    assert enrollable == ["totp", "otp-phone", "webauthn"]
