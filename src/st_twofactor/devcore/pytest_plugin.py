"""pytest fixtures for testing against the development core (a registered pytest plugin).

- ``devcore``: one core for the whole test session, in memory.
- ``devcore_app``: the connection URI of a fresh, isolated app on that core, per test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from . import DevCore


@pytest.fixture(scope="session")
def devcore() -> Iterator[DevCore]:
    """A development core serving on 127.0.0.1 for the whole test session."""
    with DevCore() as core:
        yield core


@pytest.fixture
def devcore_app(devcore: DevCore) -> str:
    """A connection URI to a new app of the session's core, so tests never share users."""
    return devcore.create_app()
