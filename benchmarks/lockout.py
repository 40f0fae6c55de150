"""The lockout trade-off, measured on the library's own throttle (``python -m benchmarks.lockout``).

An attacker who has the password signs in as often as they like and sends wrong codes of
one factor at a steady rate. Two figures, for each rate, from the throttle functions the
flows use (:mod:`st_twofactor.kernel.throttle`, default policy: 5 failures in a row lock the
factor for 15 minutes; at most 100 failures an hour per account), over one simulated
year, with no network and no sleeping:

- the attacker's chance to guess a TOTP code in the year: each wrong-code attempt the
  throttle lets through is a guess, right with probability 3 in 10**6 (a 6-digit code,
  the current time step and one step of skew either side);
- the minutes per hour the owner is kept out of that factor (it is locked when the owner
  tries), on average.

The table is the one in docs/security.md ("The lockout trade-off").
"""

from __future__ import annotations

from dataclasses import dataclass

from st_twofactor.kernel.throttle import (
    Allowed,
    ThrottlePolicy,
    ThrottleState,
    begin_attempt,
    check,
)

YEAR = 365 * 24 * 3600.0
P_GUESS = 3 / 10**6
RATES = (4, 12, 20, 60, 100, 1000)
"""Attacker's attempts per hour."""


@dataclass(frozen=True)
class Row:
    rate: int
    guesses: int
    chance: float
    locked_minutes_per_hour: float


def simulate(rate: int, policy: ThrottlePolicy, *, seconds: float = YEAR) -> Row:
    """``rate`` attempts an hour, evenly spread, for ``seconds``; the owner's view is
    sampled once a minute."""
    state = ThrottleState()
    interval = 3600.0 / rate
    guesses = 0
    next_attempt = 0.0
    locked_samples = samples = 0
    now = 0.0
    while now < seconds:
        while next_attempt <= now:
            state, decision = begin_attempt(policy, state, "totp", next_attempt)
            if isinstance(decision, Allowed):
                guesses += 1
            next_attempt += interval
        samples += 1
        if not isinstance(check(policy, state, "totp", now), Allowed):
            locked_samples += 1
        now += 60.0
    chance = 1 - (1 - P_GUESS) ** guesses
    return Row(rate, guesses, chance, 60.0 * locked_samples / samples)


def main() -> None:
    policy = ThrottlePolicy()
    print("| attempts an hour | guesses a year | chance to guess TOTP | owner locked out (min/h) |")
    print("|---:|---:|---:|---:|")
    for rate in RATES:
        row = simulate(rate, policy)
        print(
            f"| {row.rate} | {row.guesses:,} | {row.chance:.1%} | "
            f"{row.locked_minutes_per_hour:.0f} |"
        )


if __name__ == "__main__":
    main()
