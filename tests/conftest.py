"""The fixtures every group of tests may use (helpers to import are in :mod:`tests.helpers`).

- ``init_supertokens(recipe_list, framework=...)`` resets the SDK and calls ``init()``
  against this test's app on the development core (``devcore_app``).
- ``fastapi_app(recipe_list)`` / ``flask_app(recipe_list)`` do that and return an app
  with the SDK's middleware, ready for routes and a test client.
- ``fake_provider``: a third-party provider whose OAuth calls are faked (no network).
- ``core``: the development core as its own process; ``redis_server`` and
  ``postgres_server``: one server each for the session (tests isolate themselves by key
  prefix or table).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest
from supertokens_python import RecipeInit

from .helpers import sdk
from .helpers.postgres_server import PostgresServer
from .helpers.postgres_server import start_or_skip as start_postgres_or_skip
from .helpers.redis_server import RedisServer
from .helpers.redis_server import start_or_skip as start_redis_or_skip
from .helpers.sdk import (  # noqa: F401 (the docs tests import these from here)
    API_DOMAIN,
    FAKE_PROVIDER_ID,
    HEADER_MODE,
    PASSWORD,
    FakeProvider,
    InitSupertokens,
    Tokens,
    body,
    invalid_claim_ids,
    jwt_payload,
    sdk_init,
    sign_in,
    sign_up,
    status,
    third_party_sign_in,
    with_payload,
)
from .helpers.servers import CoreProcess

if TYPE_CHECKING:
    from fastapi import FastAPI
    from flask import Flask


SPEEDUPS = os.environ.get("ST2FA_TEST_SPEEDUPS") == "1"
"""``ST2FA_TEST_SPEEDUPS=1``: run the session with ``speedups.reuse_core_connections()`` on."""


@pytest.fixture(scope="session", autouse=True)
def _reuse_one_tls_context() -> Iterator[None]:
    """Speed only: one TLS context for the SDK's core calls (see
    :func:`tests.helpers.sdk.share_one_tls_context`).

    With ``ST2FA_TEST_SPEEDUPS=1`` the library's own opt-in does it instead (one TLS
    context and pooled clients), so the whole suite also runs with it on."""
    if SPEEDUPS:
        from st_twofactor import speedups

        assert speedups.reuse_core_connections(), "ST2FA_TEST_SPEEDUPS=1 but it stayed off"
        yield
        speedups.stop_reusing_core_connections()
        return
    undo = sdk.share_one_tls_context()
    yield
    undo()


@pytest.fixture
def init_supertokens(devcore_app: str) -> Iterator[InitSupertokens]:
    """Call ``supertokens_python.init()`` for this test's core app (reset before and after)."""

    def init(recipe_list: list[RecipeInit], *, framework: sdk.Framework = "fastapi") -> None:
        sdk_init(devcore_app, recipe_list, framework=framework)

    yield init
    sdk.reset_supertokens()


@pytest.fixture
def fastapi_app(init_supertokens: InitSupertokens) -> Callable[[list[RecipeInit]], FastAPI]:
    """A factory: init the SDK with ``recipe_list`` and return a FastAPI app with its middleware."""

    def make(recipe_list: list[RecipeInit]) -> FastAPI:
        from fastapi import FastAPI
        from supertokens_python.framework.fastapi import get_middleware

        init_supertokens(recipe_list, framework="fastapi")
        app = FastAPI()
        app.add_middleware(get_middleware())
        return app

    return make


@pytest.fixture
def flask_app(init_supertokens: InitSupertokens) -> Callable[[list[RecipeInit]], Flask]:
    """A factory: init the SDK with ``recipe_list`` and return a Flask app with its middleware."""

    def make(recipe_list: list[RecipeInit]) -> Flask:
        from flask import Flask
        from supertokens_python.framework.flask import Middleware

        init_supertokens(recipe_list, framework="flask")
        app = Flask(__name__)
        Middleware(app)
        return app

    return make


@pytest.fixture
def fake_provider() -> FakeProvider:
    """A third-party provider whose OAuth calls are faked (see :func:`sdk.fake_provider`)."""
    return sdk.fake_provider()


@pytest.fixture
def core() -> Iterator[CoreProcess]:
    """The development core as its own process (the load, fault and worker tests)."""
    process = CoreProcess()
    process.start()
    yield process
    process.close()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One ``redis-server`` for the session (isolate tests by key prefix). A test that
    stops the server must start one of its own (``start_or_skip``)."""
    server = start_redis_or_skip()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session (isolate tests by table name). A test that
    stops the server must start one of its own (``start_or_skip``)."""
    server = start_postgres_or_skip()
    try:
        yield server
    finally:
        server.close()
