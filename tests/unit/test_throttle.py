from __future__ import annotations

import logging

import pytest

from st_twofactor.errors import ConfigurationError
from st_twofactor.kernel.throttle import (
    HOUR,
    Allowed,
    FactorCounter,
    Refused,
    ThrottlePolicy,
    ThrottleState,
    after_failure,
    after_success,
    after_verified,
    begin_attempt,
    check,
)

POLICY = ThrottlePolicy()
T0 = 1_700_000_000.0


def fail_n(state: ThrottleState, n: int, now: float, factor: str = "totp") -> ThrottleState:
    for _ in range(n):
        state = after_failure(POLICY, state, factor, now)
    return state


def test_defaults_are_the_requirements() -> None:
    assert (POLICY.max_failures, POLICY.lockout, POLICY.max_failures_per_hour) == (5, 900, 100)


def test_fresh_state_is_allowed_with_all_attempts() -> None:
    assert check(POLICY, ThrottleState(), "totp", T0) == Allowed(5)


def test_five_consecutive_failures_lock_for_fifteen_minutes() -> None:
    state = ThrottleState()
    lefts = []
    for _ in range(5):
        state, decision = begin_attempt(POLICY, state, "totp", T0)
        assert isinstance(decision, Allowed)
        lefts.append(decision.attempts_left)
    assert lefts == [4, 3, 2, 1, 0]

    refused_state, decision = begin_attempt(POLICY, state, "totp", T0)
    assert decision == Refused(900_000)
    assert refused_state is state  # a refused attempt changes nothing
    assert check(POLICY, state, "totp", T0 + 899.9) == Refused(100)
    assert check(POLICY, state, "totp", T0 + 900) == Allowed(5)


def test_retry_after_is_rounded_up_and_never_zero() -> None:
    state = fail_n(ThrottleState(), 5, T0)
    assert check(POLICY, state, "totp", T0 + 900 - 0.0001) == Refused(1)


def test_success_resets_the_count_and_lifts_the_lockout() -> None:
    state = fail_n(ThrottleState(), 3, T0)
    assert check(POLICY, state, "totp", T0) == Allowed(2)
    assert check(POLICY, after_success(state, "totp"), "totp", T0) == Allowed(5)

    locked = fail_n(ThrottleState(), 5, T0)
    assert isinstance(check(POLICY, locked, "totp", T0), Refused)
    assert check(POLICY, after_success(locked, "totp"), "totp", T0) == Allowed(5)


def test_a_verified_factor_clears_every_factor() -> None:
    """Issue 11 item 7: a second factor verified by any factor lifts every lockout and
    count, and takes back only the failure counted in advance for its own attempt."""
    state = fail_n(fail_n(ThrottleState(), 5, T0, "totp"), 2, T0, "otp-email")
    state, _ = begin_attempt(POLICY, state, "recovery-code", T0 + 1)
    verified = after_verified(state, attempt_at=T0 + 1)
    for factor in ("totp", "otp-email", "recovery-code"):
        assert check(POLICY, verified, factor, T0 + 1) == Allowed(5)
    assert verified.recent_failures == (T0,) * 7


def test_success_takes_back_the_failure_counted_in_advance() -> None:
    state = fail_n(ThrottleState(), 2, T0 - 10)
    state, _ = begin_attempt(POLICY, state, "totp", T0)
    assert state.recent_failures == (T0 - 10, T0 - 10, T0)
    state = after_success(state, "totp", attempt_at=T0)
    assert state.recent_failures == (T0 - 10, T0 - 10)
    assert "totp" not in state.factors


def test_success_drops_failures_older_than_an_hour() -> None:
    state = fail_n(ThrottleState(), 2, T0 - HOUR - 1)
    state = after_success(state, "otp-email", attempt_at=T0)
    assert state.recent_failures == ()


def test_factors_are_throttled_separately() -> None:
    state = fail_n(ThrottleState(), 5, T0, "totp")
    assert isinstance(check(POLICY, state, "totp", T0), Refused)
    assert check(POLICY, state, "recovery-code", T0) == Allowed(5)
    state = after_success(state, "recovery-code")
    assert isinstance(check(POLICY, state, "totp", T0), Refused)


def test_failures_while_locked_do_not_shorten_the_lock() -> None:
    state = fail_n(ThrottleState(), 5, T0)
    state = fail_n(state, 5, T0 - 600)  # a late write from another process with an older clock
    assert state.factors["totp"].locked_until == T0 + 900


def test_lowered_limit_locks_on_the_next_failure() -> None:
    state = ThrottleState(factors={"totp": FactorCounter(consecutive_failures=7)})
    assert check(POLICY, state, "totp", T0) == Allowed(1)
    state, decision = begin_attempt(POLICY, state, "totp", T0)
    assert decision == Allowed(0)
    assert isinstance(check(POLICY, state, "totp", T0), Refused)


def test_hourly_cap_is_per_account_across_factors() -> None:
    policy = ThrottlePolicy(max_failures=5, max_failures_per_hour=10)
    state = ThrottleState()
    for i in range(10):
        factor = ("totp", "otp-email")[i % 2]
        state, decision = begin_attempt(policy, state, factor, T0 + i)
        assert isinstance(decision, Allowed)
    assert len(state.recent_failures) == 10
    for factor in ("totp", "otp-email", "recovery-code"):
        # the oldest failure (at T0) ages out at T0 + HOUR
        assert check(policy, state, factor, T0 + 20) == Refused(int((HOUR - 20) * 1000))
    assert isinstance(check(policy, state, "recovery-code", T0 + HOUR + 0.5), Allowed)


def test_attempts_left_accounts_for_the_hourly_cap() -> None:
    policy = ThrottlePolicy(max_failures=5, max_failures_per_hour=3)
    state = fail_n(ThrottleState(), 1, T0, "otp-email")
    assert check(policy, state, "totp", T0) == Allowed(2)


def test_never_more_than_the_cap_in_any_sliding_hour() -> None:
    """An attacker retrying every second, on four factors, for three hours."""
    policy = ThrottlePolicy(max_failures=20, lockout=1, max_failures_per_hour=100)
    state = ThrottleState()
    failures: list[float] = []
    for second in range(3 * int(HOUR)):
        now = T0 + second
        for factor in ("totp", "otp-email", "otp-phone", "recovery-code"):
            state, decision = begin_attempt(policy, state, factor, now)
            if isinstance(decision, Allowed):
                failures.append(now)
    assert len([t for t in failures if t < T0 + HOUR]) == 100  # the cap does bind
    for start in failures:
        in_window = [t for t in failures if start <= t < start + HOUR]
        assert len(in_window) <= 100
    assert len(state.recent_failures) <= 100


@pytest.mark.parametrize(
    "options",
    [
        {"max_failures": 0},
        {"max_failures": True},
        {"max_failures": 2.5},
        {"max_failures_per_hour": -1},
        {"lockout": 0},
        {"lockout": float("nan")},
        {"lockout": float("inf")},
        {"lockout": "900"},
    ],
)
def test_bad_policy_is_a_configuration_error(options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        ThrottlePolicy(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "options",
    [{"max_failures": 6}, {"lockout": 60}, {"max_failures_per_hour": 101}],
)
def test_loosening_logs_a_warning(
    options: dict[str, float], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="st_twofactor"):
        ThrottlePolicy(**options)  # type: ignore[arg-type]
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert next(iter(options)) in caplog.records[0].getMessage()


def test_tightening_is_silent(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="st_twofactor"):
        ThrottlePolicy(max_failures=3, lockout=3600, max_failures_per_hour=20)
        ThrottlePolicy()
    assert caplog.records == []
