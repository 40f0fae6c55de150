"""The core client of ``speedups.reuse_core_connections()`` and proxy settings.

httpx reads proxy settings from the environment every time a client is made; the SDK makes
one per core call. The speed-up's client keeps reading them per call, but when no variable
can hold one it skips httpx's reading (a scan of the whole environment, twice: the largest
part of making a client). These tests check that the client it makes is the one httpx would
make in every case, and that the reading is skipped only when it would find nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from st_twofactor import speedups

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start each test with no proxy variable in the environment, whatever the machine has."""
    import os

    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)


@pytest.fixture
def proxy_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts httpx's reads of the environment's proxy settings."""
    import httpx._utils as httpx_utils

    reads: list[int] = []
    original = httpx_utils.getproxies

    def counted() -> dict[str, str]:
        reads.append(1)
        return original()

    monkeypatch.setattr(httpx_utils, "getproxies", counted)
    yield reads


def mounts_of(client: httpx.AsyncClient) -> dict[str, Any]:
    """The client's proxy routes: URL pattern to the proxy's URL, or None for "no proxy"."""
    routes = client._mounts  # httpx keeps them here, sorted as it matches them
    return {pattern.pattern: proxy_of(transport) for pattern, transport in routes.items()}


def proxy_of(transport: Any) -> str | None:
    if transport is None:
        return None
    url = transport._pool._proxy_url
    return f"{url.scheme.decode()}://{url.host.decode()}:{url.port}"


def as_httpx_makes_it() -> httpx.AsyncClient:
    return httpx.AsyncClient(verify=speedups.shared_tls_context(), timeout=30.0)


def test_without_proxy_variables_the_environment_is_not_scanned(proxy_reads: list[int]) -> None:
    client = speedups._core_client(timeout=30.0)
    assert proxy_reads == [], "no variable can hold a proxy: nothing to read"
    assert mounts_of(client) == {} == mounts_of(as_httpx_makes_it())
    assert client.timeout == httpx.Timeout(30.0)
    assert client._transport._pool._ssl_context is speedups.shared_tls_context()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "variables",
    [
        {"HTTPS_PROXY": "http://proxy.example:3128"},
        {"https_proxy": "proxy.example:3128"},
        {"HTTP_PROXY": "http://proxy.example:3128", "NO_PROXY": "localhost,127.0.0.1,.internal"},
        {"Https_Proxy": "http://mixed-case.example:3128"},
        {"ALL_PROXY": "http://proxy.example:3128"},
        {"NO_PROXY": "*", "HTTPS_PROXY": "http://proxy.example:3128"},
        {"no_proxy": "core.internal"},
        {"HTTPS_PROXY": ""},
    ],
)
def test_proxy_variables_are_read_on_every_call_as_httpx_reads_them(
    monkeypatch: pytest.MonkeyPatch, proxy_reads: list[int], variables: dict[str, str]
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    client = speedups._core_client(timeout=30.0)
    assert proxy_reads, "a proxy variable is set: httpx reads the settings"
    assert mounts_of(client) == mounts_of(as_httpx_makes_it())
    assert client._transport._pool._ssl_context is speedups.shared_tls_context()  # type: ignore[attr-defined]


def test_a_proxy_set_while_running_is_used_by_the_next_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert mounts_of(speedups._core_client(timeout=30.0)) == {}
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert mounts_of(speedups._core_client(timeout=30.0)) == {
        "https://": "http://proxy.example:3128"
    }
    monkeypatch.delenv("HTTPS_PROXY")
    assert mounts_of(speedups._core_client(timeout=30.0)) == {}


def test_where_the_system_holds_proxy_settings_they_are_always_read(
    monkeypatch: pytest.MonkeyPatch, proxy_reads: list[int]
) -> None:
    """On macOS and Windows, Python also reads the system's proxy settings, which no
    environment variable shows: there every client reads them, as httpx does."""
    import urllib.request

    monkeypatch.setattr(urllib.request, "getproxies", lambda: {})  # not the environment's
    speedups._core_client(timeout=30.0)
    assert proxy_reads == [1]
