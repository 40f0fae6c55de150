"""Bounded load on loopback: many users through sign-up, enrolment, sign-in and TOTP.

The system runs as deployed: the development core in its own process (SQLite file), the
app in uvicorn worker processes, and an httpx async client with bounded concurrency.

1. One worker, the default store (user metadata): ``USERS`` users, ``CONCURRENCY`` at a
   time, each signs up, is refused the protected route, enrols TOTP, signs in again and
   completes the second factor. Zero errors; every user ends with a completed session.
2. Two workers sharing a RedisStore: the same flow with each user crossing workers
   (sign-up on one, sign-in and TOTP on the other); then, for ``RACES`` users, one TOTP
   code (same time step) and one recovery code are each sent from both workers at once
   (4 requests per worker) and accepted exactly once, and 10 wrong codes sent at once
   across both workers are checked at most 5 times (the shared throttle).

Everything is bounded: a fixed number of users and requests, a timeout per request and
per phase; the processes are stopped at the end. The figures are printed (``-s``).
"""

from __future__ import annotations

import asyncio

import pytest

from ..helpers.load import check_two_workers, run_users
from ..helpers.redis_server import RedisServer, unique_prefix
from ..helpers.servers import AppProcess, CoreProcess, app_workers

USERS = 200


@pytest.mark.slow
def test_many_users_sign_in_with_totp_against_one_worker(core: CoreProcess) -> None:
    """200 users, 8 at a time, against one worker with the default (user metadata) store:
    no error, and every user ends with a completed session."""
    app = AppProcess(core.url)
    app.start()
    try:
        stats = asyncio.run(run_users([app.url], USERS, "one-worker"))
    finally:
        app.close()
    assert stats.errors == [], stats.errors[:5]
    assert stats.completed == USERS
    assert stats.requests == USERS * 7


@pytest.mark.slow
def test_two_workers_sharing_redis(core: CoreProcess, redis_server: RedisServer) -> None:
    """Two workers with one RedisStore: 200 users crossing workers with no error; a TOTP
    code and a recovery code raced from both workers are each accepted exactly once;
    parallel wrong codes across both workers are checked at most 5 times."""
    shared = {"redis_url": redis_server.url, "prefix": unique_prefix()}
    with app_workers(core.url, **shared) as urls:
        check_two_workers(urls, "two-workers", "Redis", users=USERS, race_timeout=60)
