"""Part 2: core calls and latency of each 2FA flow, for each alternative.

Every alternative runs the same journey per user, over HTTP through its FastAPI app
(in-process, :class:`httpx.ASGITransport`) against the development core:

sign-up -> TOTP enrolment -> e-mail code, first use -> sign-in -> 2FA status -> TOTP code
-> sign-in -> e-mail code -> sign-in -> recovery code.

Steps an alternative does not offer are skipped; a step that fails is reported with its
error (and the steps that need it are skipped). Each measured step is timed on the client
and its core calls are read from the development core's request log. After each second
factor the journey checks that a ``verify_session()`` route lets the session through.

The SDK is process-wide, so alternatives take turns: in each round every alternative (in
a rotated order) is set up, warmed up (an unmeasured sign-up and protected request: the
SDK's first calls fetch the core's API version and JWKS), then runs ``journeys`` measured
journeys.
"""

from __future__ import annotations

import asyncio
import cProfile
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ._common import Stopwatch, Tokens, core_calls, median
from .alternatives import ALTERNATIVES, FLOWS, Alternative, User
from .profiles import Row, rows, total

NEEDS = {"totp-verify": "totp-enrol", "recovery-code": "totp-enrol", "email-verify": "email-enrol"}
"""A flow that can only run after another one worked."""


@dataclass
class FlowSamples:
    """What one alternative measured for one flow."""

    seconds: list[float] = field(default_factory=list)
    calls: list[list[str]] = field(default_factory=list)

    @property
    def call_count(self) -> int:
        """The median number of core calls (in practice they do not vary between runs)."""
        return round(median([len(c) for c in self.calls]))

    @property
    def call_range(self) -> tuple[int, int]:
        counts = [len(c) for c in self.calls]
        return min(counts), max(counts)

    @property
    def typical_calls(self) -> list[str]:
        """The most frequent sequence of core calls of this flow."""
        return list(Counter(tuple(c) for c in self.calls).most_common(1)[0][0])


@dataclass
class FlowResults:
    """Per alternative key and flow id: the samples, or why there are none."""

    titles: dict[str, str]
    samples: dict[str, dict[str, FlowSamples]]
    unsupported: dict[str, dict[str, str]]
    failed: dict[str, dict[str, str]]
    journeys: int

    def measured(self, alt: str, flow: str) -> FlowSamples | None:
        s = self.samples[alt][flow]
        return s if s.seconds else None


class _Journey:
    """One user's journey through one alternative."""

    def __init__(
        self, alt: Alternative, record: dict[str, FlowSamples] | None, failed: dict[str, str]
    ) -> None:
        self.alt = alt
        self.record = record
        self.failed = failed

    def skipped(self, flow: str) -> bool:
        needed = NEEDS.get(flow)
        return (
            flow in self.alt.unsupported
            or flow in self.failed
            or (needed is not None and self.skipped(needed))
        )

    async def step(
        self, flow: str, action: Callable[[], Awaitable[Any]], check: Tokens | None = None
    ) -> Any:
        """Run one flow, measured when recording; a failure is noted, not raised."""
        if self.skipped(flow):
            return None
        try:
            with core_calls(self.alt.core, self.alt.app_id) as calls, Stopwatch() as watch:
                result = await action()
            if check is not None and not await self.alt.is_complete(check):
                raise AssertionError("the session's 2FA is not complete afterwards")
        except Exception as error:  # reported in the results with the error text
            self.failed[flow] = f"{type(error).__name__}: {error}"
            return None
        if self.record is not None:
            self.record[flow].seconds.append(watch.seconds)
            self.record[flow].calls.append(calls.requests)
        return result

    async def run(self) -> None:
        alt = self.alt
        user = User(f"bench-{secrets.token_hex(6)}@example.com")
        tokens = await self.step("sign-up", lambda: alt.sign_up(user))
        if tokens is None:
            raise RuntimeError(f"{alt.key}: sign-up failed: {self.failed['sign-up']}")
        await self.step("totp-enrol", lambda: alt.totp_enrol(user, tokens), tokens)
        await self.step("email-enrol", lambda: alt.email_code(user, tokens), tokens)
        tokens = await self.step("sign-in", lambda: alt.sign_in(user))
        if tokens is None:
            raise RuntimeError(f"{alt.key}: sign-in failed: {self.failed['sign-in']}")
        await self.step("status", lambda: alt.status(tokens))
        await self.step("totp-verify", lambda: alt.totp_verify(user, tokens), tokens)
        if not self.skipped("email-verify"):
            again = await alt.sign_in(user)
            await self.step("email-verify", lambda: alt.email_code(user, again), again)
        if not self.skipped("recovery-code"):
            again = await alt.sign_in(user)
            await self.step("recovery-code", lambda: alt.recovery_code(user, again), again)


async def _turn(
    alt: Alternative, record: dict[str, FlowSamples], failed: dict[str, str], journeys: int
) -> None:
    async with alt.started():
        await alt.warm_up()
        for _ in range(journeys):
            await _Journey(alt, record, failed).run()


def make_alternatives(cores: dict[bool, tuple[Any, Callable[[], str]]]) -> list[Alternative]:
    """One of each alternative, each on a new app of the core it needs.

    :param cores: for ``licensed`` False and True: the development core and a function
        that makes a new app on it and returns its connection URI.
    """
    alts = []
    for kind in ALTERNATIVES:
        core, new_app = cores[kind.licensed]
        alts.append(kind(core, new_app()))
    return alts


def measure_flows(alts: list[Alternative], *, rounds: int, journeys: int) -> FlowResults:
    """Run ``rounds`` x ``journeys`` measured journeys of each alternative, interleaved."""
    samples = {alt.key: {flow: FlowSamples() for flow, _ in FLOWS} for alt in alts}
    failed: dict[str, dict[str, str]] = {alt.key: {} for alt in alts}
    for round_no in range(rounds):
        shift = round_no % len(alts)
        for alt in alts[shift:] + alts[:shift]:
            asyncio.run(_turn(alt, samples[alt.key], failed[alt.key], journeys))
    return FlowResults(
        titles={alt.key: alt.title for alt in alts},
        samples=samples,
        unsupported={alt.key: dict(alt.unsupported) for alt in alts},
        failed=failed,
        journeys=rounds * journeys,
    )


def _explains_flow_cost(function: str) -> bool:
    return function.startswith("st_twofactor/") or function.endswith(
        ("querier.py:api_request", "_config.py:create_ssl_context", "_emailpassword.py:_scrypt")
    )


def profile_journeys(alt: Alternative, *, journeys: int = 2) -> list[Row]:
    """Per journey of ``alt`` (warm): the whole journey, then the library's functions and
    the SDK's core calls, by cumulative time (cProfile)."""
    profiler = cProfile.Profile()
    failed: dict[str, str] = {}

    async def run() -> None:
        async with alt.started():
            await alt.warm_up()
            profiler.enable()
            for _ in range(journeys):
                await _Journey(alt, None, failed).run()
            profiler.disable()

    asyncio.run(run())
    whole = Row("(the whole journey, under the profiler)", 1, total(profiler) / journeys)
    return [whole, *rows(profiler, journeys, _explains_flow_cost, top=24)]


@dataclass
class CallCost:
    """What one core call costs the app, in seconds (medians)."""

    through_sdk: float
    """One call through the SDK (``get_user_metadata``): it opens a new HTTP client."""
    reused_client: float
    """The same request on a kept-alive :class:`httpx.AsyncClient`."""
    new_client: float
    """Making an :class:`httpx.AsyncClient` (its TLS context loads the CA bundle)."""


def measure_call_cost(alt: Alternative, *, samples: int = 15) -> CallCost:
    """Time one core call made the SDK's way, and its parts."""
    import httpx
    from supertokens_python.recipe.usermetadata.asyncio import get_user_metadata

    sdk: list[float] = []
    reused: list[float] = []
    created: list[float] = []

    async def run() -> None:
        async with alt.started():
            await alt.warm_up()
            url = f"{alt.connection_uri}/recipe/user/metadata"
            async with httpx.AsyncClient() as client:
                for _ in range(samples):
                    with Stopwatch() as watch:
                        await get_user_metadata("call-cost")
                    sdk.append(watch.seconds)
                    with Stopwatch() as watch:
                        (await client.get(url, params={"userId": "call-cost"})).raise_for_status()
                    reused.append(watch.seconds)
                    with Stopwatch() as watch:
                        httpx.AsyncClient()
                    created.append(watch.seconds)

    asyncio.run(run())
    return CallCost(median(sdk), median(reused), median(created))
