"""The load tests' driver: users through sign-up, enrolment, sign-in and TOTP over HTTP.

:class:`Client` sends requests with header-based tokens to the test app run as worker
processes (:mod:`tests.helpers.servers`), checks each answer and counts it in
:class:`Stats`; :func:`run_users` runs many users with bounded concurrency;
:func:`check_two_workers` is the load and the races of a two-worker test. The fault
tests record what the app acknowledged in a :class:`Journal` (:func:`journaled_flow`)
and read it back after the fault (:func:`lost_writes`).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from st_twofactor.factors.totp import algorithm as totp

from .race import race_async
from .sdk import HEADER_MODE, PASSWORD

CONCURRENCY = 8
RACES = 8
PER_WORKER = 4
PHASE_TIMEOUT = 150.0
REQUEST_TIMEOUT = 30.0


class FlowError(Exception):
    """A request answered something the flow did not expect (already recorded)."""


@dataclass
class Stats:
    """What one phase measured."""

    requests: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    completed: int = 0
    started: float = field(default_factory=time.monotonic)

    def summary(self, label: str, users: int) -> str:
        duration = time.monotonic() - self.started
        ordered = sorted(self.latencies) or [0.0]
        p95 = ordered[int(0.95 * (len(ordered) - 1))]
        return (
            f"{label}: {users} users, concurrency {CONCURRENCY}, {self.requests} requests, "
            f"{len(self.errors)} errors, {self.completed} completed sessions, "
            f"{duration:.1f} s ({self.requests / duration:.0f} req/s), latency median "
            f"{statistics.median(ordered) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"
        )


class Client:
    """Requests with header-based tokens, checked and counted."""

    def __init__(self, http: httpx.AsyncClient, stats: Stats) -> None:
        self.http = http
        self.stats = stats

    async def call(
        self,
        method: str,
        url: str,
        *,
        token: str | None = None,
        json: Any = None,
        expect: int = 200,
        status: str | None = "OK",
    ) -> httpx.Response:
        headers = dict(HEADER_MODE)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        started = time.monotonic()
        self.stats.requests += 1
        try:
            response = await self.http.request(method, url, headers=headers, json=json)
        except httpx.HTTPError as error:
            self.stats.errors.append(f"{method} {url}: {type(error).__name__}")
            raise FlowError from error
        self.stats.latencies.append(time.monotonic() - started)
        answer = (
            response.json()
            if response.headers.get("content-type", "").startswith("application/json")
            else {}
        )
        if response.status_code != expect or (status and answer.get("status") != status):
            self.stats.errors.append(
                f"{method} {url}: {response.status_code} {response.text[:200]}"
            )
            raise FlowError
        return response


def form(email: str) -> dict[str, Any]:
    return {"formFields": [{"id": "email", "value": email}, {"id": "password", "value": PASSWORD}]}


async def enrol(client: Client, app: str, email: str) -> tuple[str, str, list[str]]:
    """Sign up at ``app``, check the half-way session is refused, enrol TOTP.

    Returns the completed session's access token, the secret and the recovery codes.
    The code is for the current time step; later codes use the next one (never reused).
    """
    signed_up = await client.call("POST", f"{app}/auth/signup", json=form(email))
    token = signed_up.headers["st-access-token"]
    await client.call("GET", f"{app}/api/secret", token=token, expect=403, status=None)
    created = await client.call("POST", f"{app}/auth/2fa/totp/device", token=token, json={})
    secret = created.json()["secret"]
    code = totp.code_at(secret, time.time())
    verified = await client.call(
        "POST", f"{app}/auth/2fa/totp/device/verify", token=token, json={"code": code}
    )
    return verified.headers["st-access-token"], secret, verified.json()["recoveryCodes"]


async def sign_in(client: Client, app: str, email: str) -> str:
    response = await client.call("POST", f"{app}/auth/signin", json=form(email))
    return response.headers["st-access-token"]


async def user_flow(client: Client, first: str, second: str, email: str) -> None:
    """Sign up and enrol on ``first``; sign in and verify TOTP on ``second``; the new
    session then passes the protected route on ``first``."""
    _, secret, _ = await enrol(client, first, email)
    token = await sign_in(client, second, email)
    next_step = totp.code_at(secret, time.time() + 30)
    verified = await client.call(
        "POST", f"{second}/auth/2fa/totp/verify", token=token, json={"code": next_step}
    )
    token = verified.headers["st-access-token"]
    await client.call("GET", f"{first}/api/secret", token=token, status=None)
    client.stats.completed += 1


async def run_users(
    apps: list[str], users: int, label: str, timeout: float = PHASE_TIMEOUT
) -> Stats:
    stats = Stats()
    gate = asyncio.Semaphore(CONCURRENCY)
    limits = httpx.Limits(max_connections=CONCURRENCY * 2)
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT, limits=limits) as http:
        client = Client(http, stats)

        async def one(i: int) -> None:
            first, second = apps[i % len(apps)], apps[(i + 1) % len(apps)]
            async with gate:
                with contextlib.suppress(FlowError):  # recorded in stats.errors
                    await user_flow(client, first, second, f"{label}-{i}@example.com")

        await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(users))), timeout)
    print("\n" + stats.summary(label, users))
    return stats


async def raced_statuses(calls: list[Callable[[], Awaitable[httpx.Response]]]) -> list[str]:
    """Start every call at once; the ``status`` of each answer."""
    responses = await race_async(len(calls), lambda i: calls[i]())
    return [str(r.json().get("status")) for r in responses]


async def races_across_workers(apps: list[str], stats: Stats) -> dict[str, int]:
    """For RACES users: a TOTP code, a recovery code and 10 wrong codes, raced from both
    workers. Returns how many of each were accepted in total."""
    won = {"totp": 0, "recovery": 0, "checked wrong codes": 0}
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as http:
        client = Client(http, stats)
        for i in range(RACES):
            email = f"race-{i}@example.com"
            _, secret, codes = await enrol(client, apps[0], email)
            sessions = [(app, await sign_in(client, app, email)) for app in apps for _ in range(2)]
            code = totp.code_at(secret, time.time() + 30)

            def post(app: str, token: str, path: str, body: dict[str, Any]) -> Any:
                return lambda: http.post(
                    f"{app}{path}",
                    json=body,
                    headers={**HEADER_MODE, "Authorization": f"Bearer {token}"},
                )

            per_worker = PER_WORKER // 2  # two sessions per worker, two requests each
            totp_calls = [
                post(app, token, "/auth/2fa/totp/verify", {"code": code})
                for app, token in sessions
                for _ in range(per_worker)
            ]
            results = await raced_statuses(totp_calls)
            # The others are replays: refused, and counted as failures (so the last
            # ones may already meet the lockout).
            assert results.count("OK") == 1, (i, results)
            assert set(results) <= {"OK", "INVALID_CODE_ERROR", "LIMIT_REACHED_ERROR"}, results
            won["totp"] += results.count("OK")

            recovery_calls = [
                post(app, token, "/auth/2fa/recovery-code/verify", {"code": codes[0]})
                for app, token in sessions
                for _ in range(per_worker)
            ]
            results = await raced_statuses(recovery_calls)
            assert results.count("OK") == 1, (i, results)
            won["recovery"] += results.count("OK")

            # A user of their own for the throttle (the races above used up 5 failures).
            other = f"throttle-{i}@example.com"
            _, other_secret, _ = await enrol(client, apps[1], other)
            other_sessions = [await sign_in(client, app, other) for app in apps]
            wrong = f"{(int(totp.code_at(other_secret, time.time())) + 1) % 10**6:06d}"
            wrong_calls = [
                post(apps[j % 2], other_sessions[j % 2], "/auth/2fa/totp/verify", {"code": wrong})
                for j in range(10)
            ]
            results = await raced_statuses(wrong_calls)
            # Five checked: four wrong, and the fifth, which locks, answers with the wait
            # like the refused ones (issue 12).
            wrong_answers = results.count("INVALID_CODE_ERROR")
            assert wrong_answers == 4 and results.count("LIMIT_REACHED_ERROR") == 6, (i, results)
            checked = wrong_answers + 1
            won["checked wrong codes"] += checked
            stats.requests += len(totp_calls) + len(recovery_calls) + len(wrong_calls)
    return won


def check_two_workers(
    urls: list[str], label: str, store: str, *, users: int, race_timeout: float
) -> None:
    """The load and races of a two-worker test: ``users`` users crossing the workers
    ``urls`` with no error, then each race won exactly once and wrong codes checked 5
    times per racing user."""
    stats = asyncio.run(run_users(urls, users, label))
    race_stats = Stats()
    won = asyncio.run(asyncio.wait_for(races_across_workers(urls, race_stats), race_timeout))
    print(f"\nraces across workers ({store}): {RACES} users, {race_stats.requests} requests")
    assert stats.errors == [], stats.errors[:5]
    assert stats.completed == users
    assert race_stats.errors == [], race_stats.errors[:5]
    assert won == {"totp": RACES, "recovery": RACES, "checked wrong codes": 5 * RACES}


class Journal:
    """What the app acknowledged for each user (the writes that must survive)."""

    def __init__(self) -> None:
        self.signed_up: set[str] = set()
        self.enrolled: set[str] = set()
        self.completed: dict[str, str] = {}  # email -> refresh token of a completed session
        self.failed: set[str] = set()


async def journaled_flow(client: Client, app: str, email: str, journal: Journal) -> None:
    """The load test's user flow, recording each acknowledged step."""
    response = await client.call("POST", f"{app}/auth/signup", json=form(email))
    journal.signed_up.add(email)
    token = response.headers["st-access-token"]
    created = await client.call("POST", f"{app}/auth/2fa/totp/device", token=token, json={})
    secret = created.json()["secret"]
    code = totp.code_at(secret, time.time())
    await client.call(
        "POST", f"{app}/auth/2fa/totp/device/verify", token=token, json={"code": code}
    )
    journal.enrolled.add(email)
    signed_in = await client.call("POST", f"{app}/auth/signin", json=form(email))
    token, refresh = signed_in.headers["st-access-token"], signed_in.headers["st-refresh-token"]
    code = totp.code_at(secret, time.time() + 30)
    verified = await client.call(
        "POST", f"{app}/auth/2fa/totp/verify", token=token, json={"code": code}
    )
    await client.call(
        "GET", f"{app}/api/secret", token=verified.headers["st-access-token"], status=None
    )
    journal.completed[email] = refresh


async def lost_writes(client: Client, app: str, journal: Journal) -> list[str]:
    """Every acknowledged write, read back after the restart; what is missing."""
    lost: list[str] = []
    for email in sorted(journal.signed_up):
        try:
            token = await sign_in(client, app, email)
        except FlowError:
            lost.append(f"user {email}")
            continue
        overview = (await client.call("GET", f"{app}/auth/2fa", token=token)).json()
        devices = overview["devices"]
        verified = any(d["verified"] for d in devices)
        if email in journal.enrolled and not verified:
            lost.append(f"enrolment of {email}")
        # No partial state: a verified device always comes with its recovery codes.
        if verified and overview["recoveryCodesLeft"] != 10:
            lost.append(f"recovery codes of {email}: {overview['recoveryCodesLeft']}")
    for email, refresh in sorted(journal.completed.items()):
        response = await client.http.post(
            f"{app}/auth/session/refresh",
            headers={**HEADER_MODE, "Authorization": f"Bearer {refresh}"},
        )
        if response.status_code != 200:
            lost.append(f"session of {email}: {response.status_code}")
            continue
        access = response.headers["st-access-token"]
        if (await client.http.get(f"{app}/api/secret", headers=_auth(access))).status_code != 200:
            lost.append(f"completed 2FA claim of {email}")
    return lost


def _auth(token: str) -> dict[str, str]:
    return {**HEADER_MODE, "Authorization": f"Bearer {token}"}
