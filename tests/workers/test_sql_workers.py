"""Two app workers sharing PostgreSQL through SQLStore, as deployed: load, races, faults.

The development core, two uvicorn worker processes of the test app and a PostgreSQL
server run as separate processes on loopback (the load and fault tests' set-up, with
the state in PostgreSQL instead of Redis or user metadata).

1. Load: users cross workers (sign-up and enrolment on one, sign-in and TOTP on the
   other) with no error; then, raced from both workers at once, one TOTP code and one
   recovery code are each accepted exactly once, and 10 parallel wrong codes are
   checked exactly 5 times (the shared throttle).
2. PostgreSQL stopped in the middle of a load run: while it is down the 2FA routes answer
   503 "the 2FA state store is unavailable" quickly and accept nothing, completed
   sessions keep working; once it is back the workers recover by themselves (no
   restart), the remaining users complete, and no acknowledged write is lost.

Bounded: fixed numbers of users and requests, a timeout per request and per phase.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from st_twofactor.factors.totp import algorithm as totp

from ..helpers.load import (
    Client,
    FlowError,
    Journal,
    Stats,
    check_two_workers,
    enrol,
    journaled_flow,
    lost_writes,
    sign_in,
)
from ..helpers.postgres_server import PostgresServer, create_sql_table
from ..helpers.postgres_server import start_or_skip as start_postgres_or_skip
from ..helpers.servers import CoreProcess, app_workers
from ..helpers.twofactor_app import HEADER_MODE

USERS = 40
CONCURRENCY = 8
STOP_AFTER = 10
STORE_DOWN = "the 2FA state store is unavailable; try again later"


@pytest.mark.slow
def test_two_workers_sharing_postgresql(core: CoreProcess, postgres_server: PostgresServer) -> None:
    """Two workers with one SQLStore table: users crossing workers with no error; a TOTP
    code and a recovery code raced from both workers are each accepted exactly once;
    parallel wrong codes across both workers are checked exactly 5 times."""
    shared = {"sql_url": postgres_server.url, "table": create_sql_table(postgres_server)}
    with app_workers(core.url, **shared) as urls:
        check_two_workers(
            urls, "two-workers-postgresql", "PostgreSQL", users=USERS, race_timeout=90
        )


@pytest.mark.slow
def test_postgresql_stopped_during_load_fails_closed_and_loses_nothing(
    core: CoreProcess,
) -> None:
    database = start_postgres_or_skip()
    try:
        shared = {"sql_url": database.url, "table": create_sql_table(database)}
        with app_workers(core.url, **shared) as urls:
            report = asyncio.run(asyncio.wait_for(_stop_during_load(database, urls), 150))
    finally:
        database.close()
    print(f"\nPostgreSQL stopped during load: {report}")


async def _stop_during_load(database: PostgresServer, apps: list[str]) -> dict[str, Any]:
    journal = Journal()
    stats = Stats()
    up = asyncio.Event()
    up.set()
    gate = asyncio.Semaphore(CONCURRENCY)
    in_flight = 0
    async with httpx.AsyncClient(timeout=30.0) as http:
        client = Client(http, stats)
        # Prepared before the fault: a completed session, and a half-way one with a code.
        token, secret, codes = await enrol(client, apps[0], "probe@example.com")
        half_way = await sign_in(client, apps[1], "probe@example.com")
        probe_code = totp.code_at(secret, time.time() + 30)

        async def one(i: int) -> None:
            nonlocal in_flight
            async with gate:
                await up.wait()
                in_flight += 1
                email = f"pg-fault-{i}@example.com"
                try:
                    await journaled_flow(client, apps[i % 2], email, journal)
                except FlowError:
                    journal.failed.add(email)
                finally:
                    in_flight -= 1

        load = asyncio.gather(*(one(i) for i in range(USERS)))
        while len(journal.completed) < STOP_AFTER:
            await asyncio.sleep(0.01)
        up.clear()
        database.stop()
        stopped_at = time.monotonic()
        while in_flight:
            await asyncio.sleep(0.01)
        errors_before_restart = len(stats.errors)

        down = await _probe_while_down(http, apps, token, half_way, probe_code, codes[0])

        database.start()
        downtime = time.monotonic() - stopped_at
        up.set()
        await load
        errors_after_restart = stats.errors[errors_before_restart:]

        # The refused verifications left nothing behind: the same codes work now.
        again = await client.call(
            "POST", f"{apps[0]}/auth/2fa/totp/verify", token=half_way, json={"code": probe_code}
        )
        assert again.json() == {"status": "OK"}
        recovered = await client.call(
            "POST",
            f"{apps[1]}/auth/2fa/recovery-code/verify",
            token=await sign_in(client, apps[1], "probe@example.com"),
            json={"code": codes[0]},
        )
        assert recovered.json() == {"status": "OK", "recoveryCodesLeft": 9}

        lost = await lost_writes(client, apps[1], journal)
    assert errors_after_restart == [], errors_after_restart[:5]
    assert lost == [], lost[:5]
    assert len(journal.completed) == USERS - len(journal.failed), journal.failed
    return {
        "users": USERS,
        "completed": len(journal.completed),
        "interrupted by the stop": len(journal.failed),
        "database down for": f"{downtime:.1f} s",
        "answers while down": down,
    }


async def _probe_while_down(
    http: httpx.AsyncClient,
    apps: list[str],
    completed: str,
    half_way: str,
    code: str,
    recovery_code: str,
) -> dict[str, str]:
    """Each worker's answers with the database down; each must come within seconds."""

    async def timed(app: str, method: str, path: str, token: str, json: Any = None) -> Any:
        headers = {**HEADER_MODE, "Authorization": f"Bearer {token}"}
        started = time.monotonic()
        response = await http.request(method, app + path, headers=headers, json=json)
        assert time.monotonic() - started < 10, (path, "the app hung on the dead database")
        return response

    answers: dict[str, str] = {}
    for app in apps:
        for path, json in [
            ("/auth/2fa/totp/verify", {"code": code}),
            ("/auth/2fa/recovery-code/verify", {"code": recovery_code}),
        ]:
            response = await timed(app, "POST", path, half_way, json)
            assert response.status_code == 503, (path, response.status_code, response.text)
            assert response.json() == {"message": STORE_DOWN}
            answers[path] = f"503 {STORE_DOWN}"
        response = await timed(app, "GET", "/auth/2fa", half_way)
        assert response.status_code == 503 and response.json() == {"message": STORE_DOWN}
        # A completed session needs no store; a half-way one is still refused.
        assert (await timed(app, "GET", "/api/secret", completed)).status_code == 200
        assert (await timed(app, "GET", "/api/secret", half_way)).status_code == 403
    answers["protected route"] = "200 for a completed session, 403 for a half-way one"
    return answers
