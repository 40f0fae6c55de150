"""``python -m benchmarks.recovery_codes``: making a set of recovery codes and checking one
code, for sets stored as keyed digests (now) and as PBKDF2 hashes (sets made before),
side by side in one process.

Each round measures every case once, in a rotated order; the table shows the median and
the 90th percentile of ``--rounds`` rounds (default 40), in milliseconds of wall time.

- ``make``: what the factor base runs before the update that stores a new set. PBKDF2 is
  the code that made sets before (ten ``hash_code`` calls in a worker thread); keyed is
  :meth:`~st_twofactor.factors.base.FactorBase.new_recovery_codes`.
- ``check``: :meth:`RecoveryCodeFactor.verify` through an in-memory store, with a right
  code (used up, then put back outside the timing) and a wrong one (the failure count put
  back outside the timing). A PBKDF2 set is still checked the way it always was.
- ``match``: the matching alone (:func:`~st_twofactor.factors.recovery_codes.codes.find_match`
  against ten stored entries, a wrong code; for keyed digests with opening the sealed key).

It needs no core and no network. It is not part of ``python -m benchmarks``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

from st_twofactor.config import TwoFactorConfig
from st_twofactor.factors.recovery_codes import codes as rc
from st_twofactor.factors.totp import algorithm as totp
from st_twofactor.kernel.throttle import ThrottleState
from st_twofactor.runtime import TwoFactor
from st_twofactor.stores import InMemoryStore
from st_twofactor.stores.state import TwoFactorState

KEY = "benchmark-secret-key-0123456789abcdef"
NOW = 1_700_000_000.0
WRONG = "zzzzz-zzzzz"


async def _user(runtime: TwoFactor, user_id: str) -> list[str]:
    created = await runtime.totp.create_device(user_id, "u@example.com", "phone", {})
    assert created["status"] == "OK"
    code = totp.code_at(created["secret"], NOW)
    verified = await runtime.totp.verify_device(user_id, "phone", code, {})
    assert verified["status"] == "OK"
    return list(verified.get("recoveryCodes", []))


async def main(rounds: int) -> None:
    store = InMemoryStore()
    runtime = TwoFactor(
        TwoFactorConfig(
            secret_keys=[KEY],
            store=store,
            factors=("totp", "recovery-code"),
            clock=lambda: NOW,
            on_event=lambda event: None,  # no log line per attempt (the same for both forms)
        )
    )
    factor = runtime.recovery_codes
    codes = {"keyed": await _user(runtime, "keyed"), "pbkdf2": await _user(runtime, "pbkdf2")}
    old_codes = rc.generate()
    old_hashes = [rc.hash_code(code) for code in old_codes]

    def old_form(state: TwoFactorState) -> None:
        state.recovery_codes = list(old_hashes)

    await store.update("pbkdf2", old_form)
    codes["pbkdf2"] = old_codes
    saved = {user: await store.load(user) for user in codes}

    async def put_back(user: str) -> None:
        def restore(state: TwoFactorState) -> None:
            state.recovery_codes = list(saved[user].recovery_codes)
            state.throttle = ThrottleState()

        await store.update(user, restore)

    async def make_pbkdf2() -> None:
        made = rc.generate()
        await asyncio.to_thread(lambda: [rc.hash_code(code) for code in made])

    async def make_keyed() -> None:
        factor.new_recovery_codes("keyed")

    def check(user: str, right: bool) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            answer = await factor.verify(user, codes[user][0] if right else WRONG, {})
            assert answer["status"] == ("OK" if right else "INVALID_CODE_ERROR"), answer

        return run

    keyed_state = saved["keyed"]
    digests = list(keyed_state.recovery_codes)

    async def match_pbkdf2() -> None:
        await asyncio.to_thread(rc.find_match, WRONG, old_hashes)

    async def match_keyed() -> None:
        rc.find_match(WRONG, digests, rc.open_keys(runtime.box, digests, "keyed"))

    cases: list[tuple[str, str, Callable[[], Awaitable[None]], str | None]] = [
        ("make a set", "pbkdf2", make_pbkdf2, None),
        ("make a set", "keyed", make_keyed, None),
        ("check a right code", "pbkdf2", check("pbkdf2", True), "pbkdf2"),
        ("check a right code", "keyed", check("keyed", True), "keyed"),
        ("check a wrong code", "pbkdf2", check("pbkdf2", False), "pbkdf2"),
        ("check a wrong code", "keyed", check("keyed", False), "keyed"),
        ("match only (10 entries)", "pbkdf2", match_pbkdf2, None),
        ("match only (10 entries)", "keyed", match_keyed, None),
    ]
    seconds: dict[tuple[str, str], list[float]] = {(name, form): [] for name, form, _, _ in cases}
    for case in cases:  # warm up
        await case[2]()
        if case[3] is not None:
            await put_back(case[3])
    for round_ in range(rounds):
        shift = round_ % len(cases)
        for name, form, run, restore in cases[shift:] + cases[:shift]:
            start = time.perf_counter()
            await run()
            seconds[(name, form)].append(time.perf_counter() - start)
            if restore is not None:
                await put_back(restore)

    print(f"{rounds} rounds; milliseconds (median / p90)")
    print(f"{'':26}{'PBKDF2 (before)':>20}{'keyed (now)':>20}")
    for name in dict.fromkeys(name for name, _, _, _ in cases):
        row = f"{name:26}"
        for form in ("pbkdf2", "keyed"):
            samples = sorted(seconds[(name, form)])
            p90 = samples[round(0.9 * (len(samples) - 1))]
            row += f"{statistics.median(samples) * 1000:>11.3f} / {p90 * 1000:>6.3f}"
        print(row)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    asyncio.run(main(parser.parse_args().rounds))
