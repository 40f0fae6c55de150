"""The suite's groups, and the fixtures every group may use.

Each test file lives in the directory of its group, which says what it needs; the
group's marker is set from the directory here, so a new file cannot forget it:

- ``unit``: no server, no SDK ``init()``;
- ``http``: the HTTP API through the frameworks (FastAPI, Flask, Django) against the
  development core in this process;
- ``browser``: headless Chromium against the examples run as processes;
- ``workers``: several processes (the core, app workers, Redis, PostgreSQL, the
  command line, the examples), load and faults;
- ``devcore``: the development core itself;
- ``attacks``: the attack matrix, hostile input and the model test;
- ``docs``: the blocks of the documentation, run.

``slow`` marks the individually slow tests; ``speedups_off`` the tests left out of
the second pass with ``ST2FA_TEST_SPEEDUPS=1`` (see ``CONTRIBUTING.md``).

Fixtures (helpers to import are in :mod:`tests.helpers`):

- ``init_supertokens(recipe_list, framework=...)`` resets the SDK and calls ``init()``
  against this test's app on the development core (``devcore_app``).
- ``fastapi_app(recipe_list)`` / ``flask_app(recipe_list)`` do that and return an app
  with the SDK's middleware, ready for routes and a test client.
- ``fake_provider``: a third-party provider whose OAuth calls are faked (no network).
- ``core``: the development core as its own process; ``redis_server`` and
  ``postgres_server``: one server each for a worker's session (tests isolate themselves
  by key prefix or table).

Under ``pytest -n`` (pytest-xdist) each worker runs its own session: its own
development core, Redis and PostgreSQL, on ports the OS picked.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

TESTS = Path(__file__).resolve().parent
GROUPS = ("unit", "http", "browser", "workers", "devcore", "attacks", "docs")
"""The group directories; each is also the marker of the tests in it."""

DOCS_NOT_YET_MOVED = {
    "test_readme.py",
    "test_integrating.py",
    "test_docs_django.py",
    "test_migrate_docs.py",
}
"""The documentation tests still directly in ``tests/``, on their way to ``tests/docs/``."""

SPEEDUPS_OFF_GROUPS = {"browser"}
SPEEDUPS_OFF_FILES = {
    # Load, faults, workers, commands and the examples: the SDK runs in other processes
    # (the examples run with the speed-up on in the first pass anyway).
    "test_load.py",
    "test_faults.py",
    "test_sql_workers.py",
    "test_webauthn_workers.py",
    "test_cli.py",
    "test_migrate_legacy.py",
    "test_examples.py",
    "test_benchmarks_smoke.py",
    "test_benchmarks_stores.py",
    # The opt-in's own tests turn it on and off themselves.
    "test_speedups.py",
    # No core call of the SDK: the development core's connections, the docs' projects.
    "test_devcore_connections.py",
    "test_readme.py",
    "test_docs_django.py",
    "test_migrate_docs.py",
}
"""The tests marked ``speedups_off``: the second CI pass (``ST2FA_TEST_SPEEDUPS=1``) checks
the SDK's core calls in this process with the speed-up on, and leaves these out."""

XDIST_GROUPS = {
    # They run mypy with the repository's .mypy_cache: never two at once.
    "test_readme.py": "mypy-cache",
    "test_integrating.py": "mypy-cache",
    "test_docs_django.py": "mypy-cache",
    "test_migrate_docs.py": "mypy-cache",
    # One benchmark run (a minute) shared by the module's tests: made once, not per worker.
    "test_benchmarks_smoke.py": "benchmarks-smoke",
}
"""Test files whose tests must run on one xdist worker (see ``pytest_xdist_make_scheduler``)."""


def _group(path: Path) -> str:
    """The group of a test file: its directory under ``tests/``."""
    parts = path.relative_to(TESTS).parts
    if len(parts) > 1 and parts[0] in GROUPS:
        return parts[0]
    if parts[-1] in DOCS_NOT_YET_MOVED:
        return "docs"
    raise pytest.UsageError(
        f"tests/{'/'.join(parts)}: a test file belongs in a group directory: {', '.join(GROUPS)}"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test with its group (from its directory) and, from the table above,
    ``speedups_off``; then put the files with slow tests first (each file's tests kept
    together and in order, for its module fixtures), so that under ``-n`` the long tests
    start early and the short ones fill the workers up at the end."""
    for item in items:
        path = Path(str(item.path))
        group = _group(path)
        item.add_marker(getattr(pytest.mark, group))
        if group in SPEEDUPS_OFF_GROUPS or path.name in SPEEDUPS_OFF_FILES:
            item.add_marker(pytest.mark.speedups_off)
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under ``-n`` (``--dist load``): each test is a unit of work sent to the next free
    worker, except that the tests of each file in ``XDIST_GROUPS`` make one unit together.

    pytest-xdist's own way (``xdist_group`` marks with ``--dist loadgroup``) rewrites node
    ids, which pytest 9.2 no longer reads: it groups nothing, silently."""
    if config.getoption("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FileGroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
            return XDIST_GROUPS.get(file, nodeid)

    return FileGroupScheduling(config, log)


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
