"""Load: many users signing in and completing their second factor through one app worker.

``python -m benchmarks.load`` (or the ``load`` part of ``python -m benchmarks``). Each
alternative of :mod:`benchmarks.alternatives` is served by its own app worker: one
uvicorn process, one event loop, with ``reuse_core_connections()`` on, on loopback. The
development cores (free and licensed) run in processes of their own, and this process
only drives the load, so the app worker's work is the only thing its event loop does.

In each round, every alternative in turn (rotated order): ``users`` new users are signed
up and given their second factor (not measured), then they all sign in and complete it,
``concurrency`` at a time (measured): a TOTP code for st-twofactor and SuperTokens' paid
recipes, an e-mailed code for the legacy overrides (which have no TOTP; the benchmark
reads the code from the worker's captured mail, outside the measured requests). Each
user's sign-in and second factor form one journey. Measured: journeys and requests per
second, latency percentiles, the worker's CPU time per journey, and the lag of its event
loop (a task that asks to wake up every millisecond records how late it is).

The app worker is also ``python -m benchmarks.load --serve KEY --core URI --port N``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from ._common import HEADER_MODE, Tokens, credentials, median, ok, post
from .alternatives import ALTERNATIVES, Alternative, LegacyOverrides, User

LAG_TICK = 0.001
"""How often the worker's lag probe asks to wake up, in seconds."""
STARTUP_SECONDS = 60.0
"""How long a core or a worker may take to answer its first request."""


@dataclass
class LoadSamples:
    """What one alternative measured, over all rounds."""

    journey_seconds: list[float] = field(default_factory=list)
    request_seconds: list[float] = field(default_factory=list)
    journey_rates: list[float] = field(default_factory=list)
    """Journeys per second, one per round."""
    request_rates: list[float] = field(default_factory=list)
    cpu_per_journey: list[float] = field(default_factory=list)
    """The app worker's CPU seconds per journey, one per round."""
    lags: list[float] = field(default_factory=list)
    """The worker's event-loop lag samples during the measured phases, in seconds."""
    errors: list[str] = field(default_factory=list)


@dataclass
class LoadRun:
    """The load benchmark's results, per alternative key."""

    titles: dict[str, str]
    samples: dict[str, LoadSamples]
    users: int
    concurrency: int
    rounds: int
    second_factor: dict[str, str]


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` percentile (nearest rank) of ``values``; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


# -- the app worker ------------------------------------------------------------------------


def serve(key: str, core: str, port: int) -> None:
    """Serve alternative ``key`` against the core at ``core`` on 127.0.0.1:``port``."""
    import uvicorn

    from st_twofactor import speedups

    from ._common import fastapi_app, init_sdk

    kind = next(k for k in ALTERNATIVES if k.key == key)
    alt = kind(None, core)
    assert speedups.reuse_core_connections(), "the speed-up stayed off"
    init_sdk(core, alt.recipe_list(), plugins=alt.plugins())
    lags: list[float] = []

    async def probe() -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(LAG_TICK)
            lags.append(max(0.0, time.perf_counter() - started - LAG_TICK))

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        task = asyncio.create_task(probe())
        yield
        task.cancel()

    app = fastapi_app()
    app.router.lifespan_context = lifespan
    alt.add_protected_route(app)

    @app.get("/bench/ready")
    async def ready() -> dict[str, bool]:
        return {"ready": True}

    @app.get("/bench/mailbox/{email}")
    async def mailbox(email: str) -> dict[str, str]:
        return {"code": alt.mailbox.take(email)}

    @app.post("/bench/reset")
    async def reset() -> dict[str, float]:
        """Start a measured phase: no lag samples yet; the CPU time so far."""
        lags.clear()
        return {"cpu": time.process_time()}

    @app.get("/bench/stats")
    async def stats() -> dict[str, Any]:
        """End a measured phase: its lag samples and the CPU time so far."""
        return {"cpu": time.process_time(), "lags": list(lags)}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)


# -- processes -----------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _processes(commands: list[list[str]]) -> Iterator[None]:
    """Run ``commands`` (this interpreter, this import path); stop them all at the end."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    started = [
        subprocess.Popen(
            [sys.executable, *command],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=None if os.environ.get("BENCH_LOAD_DEBUG") else subprocess.DEVNULL,
        )
        for command in commands
    ]
    try:
        yield
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    async with httpx.AsyncClient() as client:
        while True:
            try:
                if (await client.get(url)).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {STARTUP_SECONDS:g} s")
            await asyncio.sleep(0.1)


async def _all_ready(urls: list[str]) -> None:
    await asyncio.gather(*(_wait_ready(url) for url in urls))


# -- the load ------------------------------------------------------------------------------


class _Driver:
    """Drives one alternative's worker: its users, their journeys, the timings."""

    def __init__(self, alt: Alternative, base_url: str, samples: LoadSamples) -> None:
        self.alt = alt
        self.samples = samples
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
        self.client = httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60)
        alt.client = self.client
        self.requests = 0

    async def prepare(self, user: User) -> None:
        """Sign up and give the user their second factor (not measured)."""
        tokens = await self.alt.sign_up(user)
        if isinstance(self.alt, LegacyOverrides):
            await self._email_code(user, tokens, timed=False)
        else:
            await self.alt.totp_enrol(user, tokens)

    async def journey(self, user: User) -> None:
        """Sign in and complete the second factor (measured)."""
        started = time.perf_counter()
        tokens = await self._timed(self._sign_in(user))
        if isinstance(self.alt, LegacyOverrides):
            await self._email_code(user, tokens, timed=True)
        else:
            await self._timed(self.alt.totp_verify(user, tokens))
        self.samples.journey_seconds.append(time.perf_counter() - started)

    async def _sign_in(self, user: User) -> Tokens:
        response = await self.client.post(
            "/auth/signin", json=credentials(user.email), headers=HEADER_MODE
        )
        ok(response)
        return Tokens.of(response)

    async def _timed(self, request: Any) -> Any:
        started = time.perf_counter()
        result = await request
        self.samples.request_seconds.append(time.perf_counter() - started)
        self.requests += 1
        return result

    async def _email_code(self, user: User, tokens: Tokens, *, timed: bool) -> None:
        extra = self.alt.code_request_fields
        ask = post(self.client, "/auth/signinup/code", tokens, {"email": user.email, **extra})
        created = await (self._timed(ask) if timed else ask)
        code = (await self.client.get(f"/bench/mailbox/{user.email}")).json()["code"]
        body = {
            "preAuthSessionId": created["preAuthSessionId"],
            "deviceId": created["deviceId"],
            "userInputCode": code,
            **extra,
        }
        enter = post(self.client, "/auth/signinup/code/consume", tokens, body)
        await (self._timed(enter) if timed else enter)

    async def round(self, users: int, concurrency: int) -> None:
        """One round: new users prepared, then their journeys measured."""
        people = [User(f"load-{time.time_ns()}-{i}@example.com") for i in range(users)]
        gate = asyncio.Semaphore(concurrency)

        async def limited(action: Any) -> None:
            async with gate:
                try:
                    await action
                except Exception as error:  # reported with the results
                    self.samples.errors.append(f"{type(error).__name__}: {error}"[:200])

        await asyncio.gather(*(limited(self.prepare(u)) for u in people))
        before = (await self.client.post("/bench/reset")).json()
        self.requests = 0
        started = time.perf_counter()
        await asyncio.gather(*(limited(self.journey(u)) for u in people))
        elapsed = time.perf_counter() - started
        after = (await self.client.get("/bench/stats")).json()
        self.samples.journey_rates.append(users / elapsed)
        self.samples.request_rates.append(self.requests / elapsed)
        self.samples.cpu_per_journey.append((after["cpu"] - before["cpu"]) / users)
        self.samples.lags.extend(after["lags"])

    async def aclose(self) -> None:
        await self.client.aclose()


def measure_load(*, users: int, concurrency: int, rounds: int) -> LoadRun:
    """Serve each alternative from its own worker and load them in turn, ``rounds`` times."""
    cores = {False: _free_port(), True: _free_port()}
    ports = {kind.key: _free_port() for kind in ALTERNATIVES}
    cores_at = {licensed: f"http://127.0.0.1:{port}" for licensed, port in cores.items()}
    uris = {licensed: f"{url}/appid-public" for licensed, url in cores_at.items()}
    core_commands = [
        ["-m", "st_twofactor.devcore", "--port", str(port), *(["--licensed"] if lic else [])]
        for lic, port in cores.items()
    ]
    worker_commands = [
        ["-m", "benchmarks.load", "--serve", k.key, "--core", uris[k.licensed], "--port", str(p)]
        for k, p in ((k, ports[k.key]) for k in ALTERNATIVES)
    ]
    samples = {kind.key: LoadSamples() for kind in ALTERNATIVES}

    async def run() -> None:
        urls = {key: f"http://127.0.0.1:{port}" for key, port in ports.items()}
        await asyncio.gather(*(_wait_ready(f"{url}/bench/ready") for url in urls.values()))
        drivers = [
            _Driver(kind(None, uris[kind.licensed]), urls[kind.key], samples[kind.key])
            for kind in ALTERNATIVES
        ]
        try:
            for driver in drivers:  # a warm-up round of two users, not kept
                await driver.round(2, 2)
                kept = samples[driver.alt.key]
                errors = list(kept.errors)
                samples[driver.alt.key] = LoadSamples(errors=errors)
                driver.samples = samples[driver.alt.key]
            for number in range(rounds):
                shift = number % len(drivers)
                for driver in drivers[shift:] + drivers[:shift]:
                    await driver.round(users, concurrency)
        finally:
            for driver in drivers:
                await driver.aclose()

    with _processes(core_commands):  # the workers' recipes may call the core at start-up
        asyncio.run(_all_ready([f"{url}/hello" for url in cores_at.values()]))
        with _processes(worker_commands):
            asyncio.run(run())
    return LoadRun(
        titles={kind.key: kind.title for kind in ALTERNATIVES},
        samples=samples,
        users=users,
        concurrency=concurrency,
        rounds=rounds,
        second_factor={
            kind.key: "e-mailed code" if issubclass(kind, LegacyOverrides) else "TOTP code"
            for kind in ALTERNATIVES
        },
    )


def table(run: LoadRun) -> list[str]:
    """The markdown table of ``run``: one row per alternative."""
    header = [
        "alternative",
        "second factor",
        "sign-ins + 2FA / s",
        "requests / s",
        "journey p50 ms",
        "journey p99 ms",
        "request p99 ms",
        "worker CPU ms / journey",
        "event-loop lag p99 ms",
        "lag max ms",
        "errors",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key, s in run.samples.items():
        cells = [
            run.titles[key],
            run.second_factor[key],
            f"{median(s.journey_rates):.1f}" if s.journey_rates else "",
            f"{median(s.request_rates):.1f}" if s.request_rates else "",
            f"{1e3 * percentile(s.journey_seconds, 0.5):.0f}",
            f"{1e3 * percentile(s.journey_seconds, 0.99):.0f}",
            f"{1e3 * percentile(s.request_seconds, 0.99):.0f}",
            f"{1e3 * median(s.cpu_per_journey):.1f}" if s.cpu_per_journey else "",
            f"{1e3 * percentile(s.lags, 0.99):.2f}",
            f"{1e3 * max(s.lags, default=0.0):.1f}",
            str(len(s.errors)),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__)
    parser.add_argument("--users", type=int, default=96, help="users per alternative and round")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--core", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.core, args.port)
        return 0
    run = measure_load(users=args.users, concurrency=args.concurrency, rounds=args.rounds)
    print("\n".join(table(run)))
    for key, s in run.samples.items():
        for error in s.errors[:3]:
            print(f"{key}: {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
