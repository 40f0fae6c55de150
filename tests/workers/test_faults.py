"""Faults: the core killed mid-load and restarted, Redis down, stuck or restarted.

- The development core runs as its own process on a SQLite file. During a load run it
  is SIGKILLed, then restarted on the same file and port. Every write the app had
  acknowledged is still there (users, sessions and their 2FA claim, the 2FA state in
  user metadata). While it is down the app answers clearly (503 "the SuperTokens core
  is unreachable" on the 2FA routes, a 5xx on the SDK's own routes, within seconds),
  completed sessions keep working (access tokens are checked locally), and a refused
  verification leaves no partial state: the same code works once the core is back. The
  app is never restarted: the remaining users complete after the core returns.
- Redis down (stopped, or frozen with SIGSTOP): the RedisStore fails closed with a 503
  that says the 2FA state store is unavailable, quickly; when Redis is back (an fsynced
  AOF, as docs/security.md asks) the state is intact and the same code works.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import httpx
import pytest

from st_twofactor.factors.totp import algorithm as totp
from st_twofactor.testing import reset_supertokens

from ..helpers.load import (
    Client,
    FlowError,
    Journal,
    Stats,
    enrol,
    form,
    journaled_flow,
    lost_writes,
    sign_in,
)
from ..helpers.redis_server import start_or_skip, unique_prefix
from ..helpers.servers import AppProcess, CoreProcess
from ..helpers.twofactor_app import HEADER_MODE, make_harness, user_id_of

USERS = 60
CONCURRENCY = 8
KILL_AFTER = 20
CORE_DOWN = "the SuperTokens core is unreachable; try again later"
STORE_DOWN = "the 2FA state store is unavailable; try again later"


@pytest.mark.slow
def test_core_killed_during_load_loses_no_acknowledged_write(core: CoreProcess) -> None:
    app = AppProcess(core.url)
    app.start()
    try:
        report = asyncio.run(asyncio.wait_for(_kill_during_load(core, app.url), 150))
    finally:
        app.close()
    print(f"\ncore killed during load: {report}")


async def _kill_during_load(core: CoreProcess, app: str) -> dict[str, Any]:
    journal = Journal()
    stats = Stats()
    core_up = asyncio.Event()
    core_up.set()
    gate = asyncio.Semaphore(CONCURRENCY)
    in_flight = 0
    async with httpx.AsyncClient(timeout=30.0) as http:
        client = Client(http, stats)
        # Prepared before the fault: a completed session, and a half-way one with a code.
        token, secret, _ = await enrol(client, app, "probe@example.com")
        half_way = await sign_in(client, app, "probe@example.com")
        probe_code = totp.code_at(secret, time.time() + 30)

        async def one(i: int) -> None:
            nonlocal in_flight
            async with gate:
                await core_up.wait()
                in_flight += 1
                email = f"fault-{i}@example.com"
                try:
                    await journaled_flow(client, app, email, journal)
                except FlowError:
                    journal.failed.add(email)
                finally:
                    in_flight -= 1

        load = asyncio.gather(*(one(i) for i in range(USERS)))
        while len(journal.completed) < KILL_AFTER:
            await asyncio.sleep(0.01)
        core_up.clear()
        core.kill()
        killed_at = time.monotonic()
        while in_flight:
            await asyncio.sleep(0.01)
        errors_before_restart = len(stats.errors)

        # While the core is down.
        down = await _probe_while_down(http, app, token, half_way, probe_code)

        core.start()
        downtime = time.monotonic() - killed_at
        core_up.set()
        await load
        errors_after_restart = stats.errors[errors_before_restart:]

        # The refused verification left nothing behind: the same code works now.
        again = await client.call(
            "POST", f"{app}/auth/2fa/totp/verify", token=half_way, json={"code": probe_code}
        )
        assert again.json() == {"status": "OK"}

        lost = await lost_writes(client, app, journal)
    assert errors_after_restart == [], errors_after_restart[:5]
    assert lost == [], lost[:5]
    interrupted = journal.failed
    completed_after = len(journal.completed)
    assert completed_after == USERS - len(interrupted), (completed_after, interrupted)
    return {
        "users": USERS,
        "completed": completed_after,
        "interrupted by the kill": len(interrupted),
        "core down for": f"{downtime:.1f} s",
        "answers while down": down,
        "acknowledged writes checked": len(journal.signed_up)
        + len(journal.enrolled)
        + len(journal.completed),
    }


async def _probe_while_down(
    http: httpx.AsyncClient, app: str, completed: str, half_way: str, code: str
) -> dict[str, str]:
    """The app's answers with the core down; each must come within a few seconds."""

    async def timed(method: str, path: str, token: str | None, json: Any = None) -> httpx.Response:
        headers = dict(HEADER_MODE)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        started = time.monotonic()
        response = await http.request(method, app + path, headers=headers, json=json)
        assert time.monotonic() - started < 10, (path, "the app hung on the dead core")
        return response

    answers: dict[str, str] = {}
    # A completed session needs no core: access tokens are verified locally.
    assert (await timed("GET", "/api/secret", completed)).status_code == 200
    answers["protected route, completed session"] = "200"
    for path, json in [
        ("/auth/2fa/totp/verify", {"code": code}),
        ("/auth/2fa/recovery-code/verify", {"code": "aaaaa-aaaaa"}),
    ]:
        response = await timed("POST", path, half_way, json)
        assert response.status_code == 503, (path, response.status_code, response.text)
        assert response.json() == {"message": CORE_DOWN}
        answers[path] = f"503 {CORE_DOWN}"
    response = await timed("GET", "/auth/2fa", half_way)
    assert response.status_code == 503 and response.json() == {"message": CORE_DOWN}
    assert (await timed("GET", "/api/secret", half_way)).status_code == 403
    # The SDK's own route, through answer_core_outages()
    response = await timed("POST", "/auth/signin", None, form("probe@example.com"))
    assert response.status_code == 503 and response.json() == {"message": CORE_DOWN}
    answers["/auth/signin (the SDK's route)"] = f"503 {CORE_DOWN}"
    return answers


async def _lost_writes(client: Client, app: str, journal: Journal) -> list[str]:
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


# -- Redis down ------------------------------------------------------------------------------


@pytest.mark.slow
def test_redis_down_fails_closed_with_a_clear_error(devcore_app: str) -> None:
    """Stopped or frozen Redis: 503 'state store unavailable' quickly, nothing accepted,
    completed sessions unaffected; back up, the state is intact and the code works."""
    from st_twofactor.stores.redis import RedisStore

    server = start_or_skip(persistent=True)
    try:
        store = RedisStore(server.url, prefix=unique_prefix(), timeout=1.0)
        h = make_harness(devcore_app, store=store)
        completed = h.signed_up("redis-down@example.com")
        secret, codes = h.enrol_totp(completed)
        h.clock.advance(30)
        session = h.signed_in("redis-down@example.com")
        user_id = user_id_of(session)
        before = h.document(user_id)
        code = h.code(secret)

        for outage in ("stopped", "frozen"):
            if outage == "stopped":
                server.stop()
            else:
                server.pause()
            for tokens, path, payload in [
                (session, "/auth/2fa/totp/verify", {"code": code}),
                (session, "/auth/2fa/recovery-code/verify", {"code": codes[0]}),
                (completed, "/auth/2fa/recovery-codes", {}),
            ]:
                started = time.monotonic()
                response = h.post(path, tokens, payload)
                assert time.monotonic() - started < 5, (outage, path, "hung on Redis")
                assert response.status_code == 503, (outage, path, response.text)
                assert response.json() == {"message": STORE_DOWN}
            assert h.get("/auth/2fa", session).status_code == 503
            assert h.protected(session) == 403
            assert h.protected(completed) == 200  # a completed session needs no store
            if outage == "stopped":
                server.start()
            else:
                server.resume()
            assert h.document(user_id) == before, outage

        assert h.verify_totp(session, code).json() == {"status": "OK"}
        assert h.protected(session) == 200
        assert h.verify_recovery(h.signed_in("redis-down@example.com"), codes[0]).json() == {
            "status": "OK",
            "recoveryCodesLeft": 9,
        }
        with contextlib.suppress(Exception):
            asyncio.run(store.aclose())
    finally:
        reset_supertokens()
        server.close()
