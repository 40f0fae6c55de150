"""pytest fixtures for testing against the development core (a registered pytest plugin).

- ``devcore``: one core for the whole test session, in memory.
- ``devcore_app``: the connection URI of a fresh, isolated app on that core, per test.

The core answers the paid features (multi-tenancy, account linking, TOTP/MFA, more
than three dashboard users) with HTTP 402, as a real core without a license key
does. An app built for a licensed production core opts in for its whole test
session with ``devcore_licensed = true`` in its pytest configuration (``[tool.pytest.ini_options]``
or ``pytest.ini``), or with ``pytest --devcore-licensed``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from . import DevCore

__all__ = [
    "LICENSED_HELP",
    "devcore",
    "devcore_app",
    "pytest_addoption",
]

LICENSED_HELP = (
    "serve the development core's paid features (multi-tenancy, account linking, TOTP/MFA,"
    " dashboard users beyond three) as a licensed core does, instead of HTTP 402"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("devcore_licensed", LICENSED_HELP, type="bool", default=False)
    parser.addoption("--devcore-licensed", action="store_true", default=False, help=LICENSED_HELP)


def _licensed(config: pytest.Config) -> bool:
    return bool(config.getoption("--devcore-licensed") or config.getini("devcore_licensed"))


@pytest.fixture(scope="session")
def devcore(request: pytest.FixtureRequest) -> Iterator[DevCore]:
    """A development core serving on 127.0.0.1 for the whole test session
    (licensed when the session opted in)."""
    with DevCore(licensed=_licensed(request.config)) as core:
        yield core


@pytest.fixture
def devcore_app(devcore: DevCore) -> str:
    """A connection URI to a new app of the session's core, so tests never share users."""
    return devcore.create_app()
