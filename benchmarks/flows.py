"""Part 2: core calls and latency of each 2FA flow, for each alternative.

Every alternative runs the same journey per user, over HTTP through its FastAPI app
(in-process, :class:`httpx.ASGITransport`) against the development core:

sign-up -> TOTP enrolment -> e-mail code, first use -> security key enrolment -> sign-in
-> 2FA status -> TOTP code -> sign-in -> e-mail code -> sign-in -> recovery code -> sign-in
-> security key (options, then the answer).

Steps an alternative does not offer are skipped; a step that fails is reported with its
error (and the steps that need it are skipped). Each measured step is timed on the client
and its core calls are read from the development core's request log. After each second
factor the journey checks that a ``verify_session()`` route lets the session through.

The SDK is process-wide, so alternatives take turns: in each round every alternative (in
a rotated order) is set up, warmed up (an unmeasured sign-up and protected request: the
SDK's first calls fetch the core's API version and JWKS), then runs ``journeys`` measured
journeys.

Each alternative can also run in other :class:`Setup` s: over HTTPS (a local TLS endpoint in
front of the core) and with :func:`st_twofactor.speedups.reuse_core_connections` on; every
(alternative, setup) pair is one more variant taking turns in the same rounds.
"""

from __future__ import annotations

import asyncio
import cProfile
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ._common import BASE, Setup, Stopwatch, Tokens, core_calls, median, sdk_as_shipped
from .alternatives import ALTERNATIVES, FLOWS, Alternative, User
from .profiles import Row, library_seconds, rows, total

NEEDS = {
    "totp-verify": "totp-enrol",
    "recovery-code": "totp-enrol",
    "email-verify": "email-enrol",
    "webauthn-options": "webauthn-enrol",
    "webauthn-verify": "webauthn-options",
}
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

    def only(self, keys: dict[str, str]) -> FlowResults:
        """The results of some variants, renamed (``{variant key: new key}``)."""
        return FlowResults(
            titles={new: self.titles[old].split(" [")[0] for old, new in keys.items()},
            samples={new: self.samples[old] for old, new in keys.items()},
            unsupported={new: self.unsupported[old] for old, new in keys.items()},
            failed={new: self.failed[old] for old, new in keys.items()},
            journeys=self.journeys,
        )


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
        await self.step("webauthn-enrol", lambda: alt.webauthn_enrol(user, tokens), tokens)
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
        if not self.skipped("webauthn-verify"):
            again = await alt.sign_in(user)
            await self.step("webauthn-options", lambda: alt.webauthn_options(user, again))
            await self.step("webauthn-verify", lambda: alt.webauthn_verify(user, again), again)


async def _turn(
    alt: Alternative, record: dict[str, FlowSamples], failed: dict[str, str], journeys: int
) -> None:
    async with alt.started():
        await alt.warm_up()
        for _ in range(journeys):
            await _Journey(alt, record, failed).run()


def make_alternatives(
    cores: dict[bool, tuple[Any, Callable[[], str]]],
    setups: tuple[Setup, ...] = (BASE,),
    https: dict[bool, Callable[[str], str]] | None = None,
) -> list[Alternative]:
    """One of each alternative per setup, each on a new app of the core it needs.

    :param cores: for ``licensed`` False and True: the development core and a function
        that makes a new app on it and returns its connection URI.
    :param https: for ``licensed`` False and True: the URI of an app through the TLS
        endpoint in front of that core (needed by HTTPS setups).
    """
    alts = []
    for setup in setups:
        for kind in ALTERNATIVES:
            core, new_app = cores[kind.licensed]
            uri = new_app()
            if setup.https:
                assert https is not None, "an HTTPS setup needs the TLS endpoints"
                uri = https[kind.licensed](uri)
            alt = kind(core, uri)
            alt.setup = setup
            if setup != BASE:
                alt.key = kind.key + setup.suffix  # type: ignore[misc]
                alt.title = f"{kind.title} [{setup.suffix}]"  # type: ignore[misc]
            alts.append(alt)
    return alts


def measure_flows(alts: list[Alternative], *, rounds: int, journeys: int) -> FlowResults:
    """Run ``rounds`` x ``journeys`` measured journeys of each alternative, interleaved."""
    samples = {alt.key: {flow: FlowSamples() for flow, _ in FLOWS} for alt in alts}
    failed: dict[str, dict[str, str]] = {alt.key: {} for alt in alts}
    with sdk_as_shipped():
        for round_no in range(rounds):
            shift = round_no % len(alts)
            for alt in alts[shift:] + alts[:shift]:
                alt.setup.apply()
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
class FlowCpu:
    """CPU time of one flow on the app's thread (the event loop the requests run on), and
    the library's own part of it."""

    seconds: list[float] = field(default_factory=list)
    """Thread CPU time per flow, without the profiler: the client's requests and the
    app's whole handling (SDK, web framework, library); the core runs on other threads."""
    library: float = 0.0
    """Profiled seconds in the library's own code (:func:`library_seconds`), summed."""
    profiled: float = 0.0
    """All profiled seconds of the flow, summed."""

    @property
    def share(self) -> float:
        """The library's part of the flow's CPU time, from the profiled runs."""
        return self.library / self.profiled if self.profiled else 0.0

    @property
    def library_ms(self) -> float:
        """The library's own CPU time per flow, in ms: the share applied to the median CPU
        time measured without the profiler (whose overhead would inflate it)."""
        return 1e3 * median(self.seconds) * self.share if self.seconds else 0.0


class _CpuJourney(_Journey):
    """A journey that records each flow's thread CPU time, or profiles each flow."""

    def __init__(self, alt: Alternative, cpu: dict[str, FlowCpu], *, profile: bool) -> None:
        super().__init__(alt, None, {})
        self.cpu = cpu
        self.profile = profile

    async def step(
        self, flow: str, action: Callable[[], Awaitable[Any]], check: Tokens | None = None
    ) -> Any:
        record = self.cpu.setdefault(flow, FlowCpu())
        profiler = cProfile.Profile(time.thread_time) if self.profile else None

        async def measured() -> Any:
            started = time.thread_time()
            if profiler is not None:
                profiler.enable()
            try:
                return await action()
            finally:
                if profiler is not None:
                    profiler.disable()
                    own, whole = library_seconds(profiler)
                    record.library += own
                    record.profiled += whole
                else:
                    record.seconds.append(time.thread_time() - started)

        return await super().step(flow, measured, check)


def measure_flow_cpu(alts: list[Alternative], *, journeys: int) -> dict[str, dict[str, FlowCpu]]:
    """Per alternative (by key) and flow: its CPU time on the app's thread, and the
    library's share of it. Each alternative runs ``journeys`` journeys timed with
    :func:`time.thread_time` and as many under :mod:`cProfile` (thread CPU timer),
    alternately, after a warm-up."""
    found: dict[str, dict[str, FlowCpu]] = {alt.key: {} for alt in alts}

    async def turn(alt: Alternative) -> None:
        async with alt.started():
            await alt.warm_up()
            await _Journey(alt, None, {}).run()
            for index in range(2 * journeys):
                await _CpuJourney(alt, found[alt.key], profile=index % 2 == 1).run()

    with sdk_as_shipped():
        for alt in alts:
            alt.setup.apply()
            asyncio.run(turn(alt))
    return found


@dataclass
class CallCost:
    """What one core call costs the app, in seconds (medians), over one transport."""

    through_sdk: float
    """One call through the SDK (``get_user_metadata``): it opens a new HTTP client."""
    reused_client: float
    """The same request on a kept-alive :class:`httpx.AsyncClient`."""
    new_client: float
    """Making an :class:`httpx.AsyncClient` (its TLS context loads the CA bundle)."""
    through_sdk_reuse: float = 0.0
    """One call through the SDK with ``speedups.reuse_core_connections()`` on."""
    transport: str = "HTTP"


def measure_call_cost(alt: Alternative, *, samples: int = 15, per_block: int = 5) -> CallCost:
    """Time one core call made the SDK's way, with and without the speed-up, and its parts.

    ``samples`` rounds, each of two event loops in turn: one with the speed-up off (SDK
    calls, kept-alive client calls, new clients interleaved), one with it on (SDK calls
    on the shared TLS context, a new connection each). Each loop makes one unmeasured call
    first.
    """
    import httpx
    from supertokens_python.recipe.usermetadata.asyncio import get_user_metadata

    sdk: list[float] = []
    sdk_reuse: list[float] = []
    reused: list[float] = []
    created: list[float] = []
    url = f"{alt.connection_uri}/recipe/user/metadata"

    async def block(reuse: bool) -> None:
        await get_user_metadata("call-cost")
        async with httpx.AsyncClient() as client:
            await client.get(url, params={"userId": "call-cost"})
            for _ in range(per_block):
                with Stopwatch() as watch:
                    await get_user_metadata("call-cost")
                (sdk_reuse if reuse else sdk).append(watch.seconds)
                if reuse:
                    continue
                with Stopwatch() as watch:
                    (await client.get(url, params={"userId": "call-cost"})).raise_for_status()
                reused.append(watch.seconds)
                with Stopwatch() as watch:
                    httpx.AsyncClient()
                created.append(watch.seconds)

    async def started(reuse: bool) -> None:
        async with alt.started():
            await alt.warm_up()
            await block(reuse)

    with sdk_as_shipped():
        for _ in range(samples):
            for setup in (Setup(https=alt.setup.https), Setup(https=alt.setup.https, reuse=True)):
                setup.apply()
                asyncio.run(started(setup.reuse))
    return CallCost(
        median(sdk),
        median(reused),
        median(created),
        median(sdk_reuse),
        "HTTPS" if alt.setup.https else "HTTP",
    )


def measure_password_hash(samples: int = 5) -> float:
    """Seconds for one password hash as the development core does it (every sign-in has one)."""
    import hashlib

    from st_twofactor.devcore import _emailpassword as ep

    times = []
    for _ in range(samples):
        with Stopwatch() as watch:
            hashlib.scrypt(
                b"password",
                salt=b"s" * 16,
                n=ep._SCRYPT_N,
                r=ep._SCRYPT_R,
                p=ep._SCRYPT_P,
                maxmem=0,
                dklen=ep._SCRYPT_LEN,
            )
        times.append(watch.seconds)
    return median(times)
