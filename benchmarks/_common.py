"""What every benchmark part shares: statistics, the SDK's setup, HTTP helpers, core-call counts."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

# The SDK must never reach the network (tldextract's public suffix list).
os.environ.setdefault("SUPERTOKENS_TLDEXTRACT_DISABLE_HTTP", "1")

API_DOMAIN = "http://localhost"
HEADER_MODE = {"st-auth-mode": "header"}
PASSWORD = "correct-horse-battery-1"
SECRET_KEY = "benchmark-secret-key-0123456789abcdef"


# -- statistics --


def percentile(samples: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile of ``samples`` (nearest rank on the sorted samples)."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[rank]


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples) if samples else float("nan")


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50 / p90 / p99 in milliseconds."""
    return {f"p{p}": percentile(seconds, p) * 1000 for p in (50, 90, 99)}


# -- the SDK --


def init_sdk(
    connection_uri: str,
    recipe_list: list[Any],
    *,
    plugins: Sequence[Any] = (),
    app_name: str = "Benchmark",
) -> None:
    """Reset the SDK's singletons and ``init()`` it for a FastAPI app against ``connection_uri``."""
    import supertokens_python
    from supertokens_python import InputAppInfo, SupertokensConfig, SupertokensExperimentalConfig

    from st_twofactor.testing import reset_supertokens

    reset_supertokens()
    supertokens_python.init(
        app_info=InputAppInfo(
            app_name=app_name,
            api_domain=API_DOMAIN,
            website_domain=API_DOMAIN,
            api_base_path="/auth",
        ),
        supertokens_config=SupertokensConfig(connection_uri=connection_uri),
        framework="fastapi",
        mode="asgi",
        telemetry=False,
        recipe_list=recipe_list,
        experimental=SupertokensExperimentalConfig(plugins=list(plugins)) if plugins else None,
    )


def fastapi_app() -> Any:
    """A FastAPI app with the SDK's middleware (call after :func:`init_sdk`)."""
    from fastapi import FastAPI
    from supertokens_python.framework.fastapi import get_middleware

    app = FastAPI()
    app.add_middleware(get_middleware())
    return app


def asgi_client(app: Any) -> httpx.AsyncClient:
    """An HTTP client that drives ``app`` in-process through the whole ASGI stack."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=API_DOMAIN)


# -- sessions over HTTP (header-based tokens) --


@dataclass
class Tokens:
    """The session tokens a client holds; updated from every response that sends new ones."""

    access: str
    refresh: str | None = None

    @classmethod
    def of(cls, response: httpx.Response) -> Tokens:
        access = response.headers.get("st-access-token")
        if not access:
            raise AssertionError(
                f"no session in the answer: {response.status_code} {response.text}"
            )
        return cls(access, response.headers.get("st-refresh-token"))

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}", **HEADER_MODE}

    def update(self, response: httpx.Response) -> None:
        if response.headers.get("st-access-token"):
            self.access = response.headers["st-access-token"]


def ok(response: httpx.Response) -> dict[str, Any]:
    """The JSON body of a 200 answer with ``status: OK``; anything else is a benchmark bug."""
    if response.status_code != 200:
        raise AssertionError(f"{response.request.url.path}: {response.status_code} {response.text}")
    body: dict[str, Any] = response.json()
    if body.get("status") != "OK":
        raise AssertionError(f"{response.request.url.path}: {body}")
    return body


def credentials(email: str) -> dict[str, Any]:
    return {"formFields": [{"id": "email", "value": email}, {"id": "password", "value": PASSWORD}]}


async def email_password(client: httpx.AsyncClient, path: str, email: str) -> Tokens:
    """POST /auth/signup or /auth/signin; returns the new session's tokens."""
    response = await client.post(path, json=credentials(email), headers=HEADER_MODE)
    ok(response)
    return Tokens.of(response)


async def post(
    client: httpx.AsyncClient, path: str, tokens: Tokens, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """POST with the session; keeps ``tokens`` up to date; returns the OK body."""
    response = await client.post(path, json=body or {}, headers=tokens.headers())
    tokens.update(response)
    return ok(response)


# -- e-mail codes, captured instead of sent --


@dataclass
class Mailbox:
    """The last code e-mailed to each address (an ``EmailDeliveryInterface`` feeds it)."""

    codes: dict[str, str] = field(default_factory=dict)

    def delivery(self) -> Any:
        from supertokens_python.ingredients.emaildelivery.types import (
            EmailDeliveryConfig,
            EmailDeliveryInterface,
        )

        mailbox = self

        class Capture(EmailDeliveryInterface[Any]):
            async def send_email(self, template_vars: Any, user_context: dict[str, Any]) -> None:
                mailbox.codes[template_vars.email] = template_vars.user_input_code

        return EmailDeliveryConfig(service=Capture())

    def take(self, email: str) -> str:
        return self.codes.pop(email)


# -- counting core calls --


@dataclass
class CoreCalls:
    """The core requests one block of code caused (filled when the block ends)."""

    requests: list[str] = field(default_factory=list)


def settled_log_length(core: Any, app_id: str, *, quiet: float = 0.02, limit: float = 1.0) -> int:
    """The length of the core's request log for ``app_id`` once no entry came for ``quiet`` s.

    The core logs a request after it has sent the answer, so the client can go on before
    the entry exists; waiting for a quiet moment attributes every call to the right flow.
    """
    deadline = time.monotonic() + limit
    length = len(core.requests(app_id))
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(quiet / 4)
        now_length = len(core.requests(app_id))
        if now_length != length:
            length, quiet_since = now_length, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet:
            break
    return length


@contextmanager
def core_calls(core: Any, app_id: str) -> Iterator[CoreCalls]:
    """Record the requests ``core`` answers for ``app_id`` while the block runs.

    Reads the development core's request log; the block must be the only client of
    that app while it runs (the benchmarks run their flows one at a time). Waiting for
    the log to settle happens outside the block, so it never counts in its time.
    """
    before = settled_log_length(core, app_id)
    calls = CoreCalls()
    try:
        yield calls
    finally:
        after = settled_log_length(core, app_id)
        calls.requests = [f"{e.method} {e.path}" for e in core.requests(app_id)[before:after]]


def app_id_of(connection_uri: str) -> str:
    return connection_uri.rsplit("/appid-", 1)[1]


class Stopwatch:
    """``with Stopwatch() as t: ...`` then ``t.seconds``."""

    seconds: float = 0.0

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start


# -- how the SDK reaches the core --


@dataclass(frozen=True)
class Setup:
    """How the SDK reaches the core in a variant."""

    https: bool = False
    """Through the local TLS endpoint (its CA given by ``SSL_CERT_FILE``), else plain HTTP."""
    reuse: bool = False
    """With ``speedups.reuse_core_connections()`` on."""

    @property
    def suffix(self) -> str:
        return ("/https" if self.https else "") + ("+reuse" if self.reuse else "")

    def apply(self) -> None:
        from st_twofactor import speedups

        if self.reuse:
            assert speedups.reuse_core_connections(), "the speed-up stayed off"
        else:
            speedups.stop_reusing_core_connections()


@contextmanager
def sdk_as_shipped() -> Iterator[None]:
    """The SDK's own core client for the block (a test session may have replaced it), so
    :meth:`Setup.apply` can switch the speed-up; what was there is put back after."""
    import supertokens_python.querier as querier

    from st_twofactor import speedups

    saved = querier.AsyncClient
    speedups.stop_reusing_core_connections()
    querier.AsyncClient = httpx.AsyncClient  # type: ignore[misc]
    try:
        yield
    finally:
        speedups.stop_reusing_core_connections()
        querier.AsyncClient = saved  # type: ignore[misc]


BASE = Setup()
SETUPS = (BASE, Setup(reuse=True), Setup(https=True), Setup(https=True, reuse=True))


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines
