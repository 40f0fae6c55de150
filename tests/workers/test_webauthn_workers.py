"""One security-key answer raced across two worker processes that share the 2FA state.

The development core, two uvicorn workers of the test app (the security-key factor on)
and Redis or PostgreSQL run as separate processes on loopback, as deployed. In each round
a new user adds a key through one worker and signs in through the other, which gives
the options; the key's one answer is then sent 16 times at once, alternating between the
workers: exactly one is accepted (the challenge is used up in the atomic update that
checks the answer, whichever worker runs it). Bounded: 4 rounds of 16 requests, a
timeout on each.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from st_twofactor.testing.webauthn import SoftwareAuthenticator

from ..helpers.postgres_server import PostgresServer, create_sql_table
from ..helpers.redis_server import RedisServer, unique_prefix
from ..helpers.servers import CoreProcess, app_workers
from ..helpers.twofactor_app import HEADER_MODE, PASSWORD
from ..helpers.webauthn_http import (
    AUTHENTICATE,
    AUTHENTICATE_OPTIONS,
    FACTORS,
    ORIGIN,
    REGISTER,
    REGISTER_OPTIONS,
)

ROUNDS = 4
AT_ONCE = 16


class Session:
    """A header-mode session on the test app (the access token follows renewals)."""

    def __init__(self, url: str, path: str, email: str) -> None:
        form = {
            "formFields": [
                {"id": "email", "value": email},
                {"id": "password", "value": PASSWORD},
            ]
        }
        response = httpx.post(url + path, json=form, headers=HEADER_MODE, timeout=30)
        assert response.json()["status"] == "OK", response.text
        self.access = response.headers["st-access-token"]
        self.lock = threading.Lock()

    def call(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.access}", **HEADER_MODE}
        response = httpx.request(method, url, headers=headers, timeout=30, **kwargs)
        assert response.status_code == 200, response.text
        with self.lock:
            self.access = response.headers.get("st-access-token", self.access)
        body: dict[str, Any] = response.json()
        return body


@pytest.mark.slow
@pytest.mark.parametrize("store", ["redis", "postgresql"])
def test_one_answer_is_accepted_once_across_two_workers(
    core: CoreProcess, store: str, request: pytest.FixtureRequest
) -> None:
    if store == "redis":
        redis: RedisServer = request.getfixturevalue("redis_server")
        shared: dict[str, Any] = {"redis_url": redis.url, "prefix": unique_prefix()}
    else:
        database: PostgresServer = request.getfixturevalue("postgres_server")
        shared = {"sql_url": database.url, "table": create_sql_table(database)}
    with app_workers(core.url, factors=FACTORS, **shared) as (first, second):
        accepted = []
        for round_no in range(ROUNDS):  # a user per round: the replays lock the factor
            email = f"two-workers-key-{store}-{round_no}@example.com"
            owner = Session(first, "/auth/signup", email)
            key = SoftwareAuthenticator(counts=False)  # only single use stops a replay
            options = owner.call("GET", first + REGISTER_OPTIONS)["options"]
            credential = key.register(options, origin=ORIGIN)
            added = owner.call("POST", second + REGISTER, json={"credential": credential})
            assert added["status"] == "OK", added
            session = Session(second, "/auth/signin", email)
            asked = session.call("GET", first + AUTHENTICATE_OPTIONS)["options"]
            answer = {"credential": key.assertion(asked, origin=ORIGIN)}
            start = threading.Barrier(AT_ONCE)

            def send(
                i: int, session: Session = session, answer: Any = answer, start: Any = start
            ) -> str:
                start.wait(10)
                worker = (first, second)[i % 2]
                return str(session.call("POST", worker + AUTHENTICATE, json=answer)["status"])

            with ThreadPoolExecutor(AT_ONCE) as pool:
                statuses = list(pool.map(send, range(AT_ONCE)))
            assert set(statuses) <= {"OK", "INVALID_CREDENTIAL_ERROR", "LIMIT_REACHED_ERROR"}
            accepted.append(statuses.count("OK"))
    assert accepted == [1] * ROUNDS, accepted
