"""Opt-in: faster calls to the SuperTokens core (supertokens-python 0.31).

supertokens-python 0.31 sends every core call through a new ``httpx.AsyncClient``
(``Querier.api_request``: ``async with AsyncClient(timeout=30.0) as client``). Making
one builds a new TLS context, which loads the whole CA bundle: about 20 ms per call, even
for a plain-HTTP core. :func:`reuse_core_connections` makes that context once::

    from st_twofactor.speedups import reuse_core_connections

    reuse_core_connections()  # once, at start-up

**What it replaces, exactly:** one name, ``supertokens_python.querier.AsyncClient``
(the SDK's core client class; nothing else in the SDK is touched, so its social-login
and e-mail/SMS delivery calls are unchanged). The replacement, called as the SDK calls
it (``AsyncClient(timeout=30.0)``), returns a new ``httpx.AsyncClient`` with the same
settings on one shared TLS context; called with settings it does not know (a future
SDK), it returns the SDK's own client. The shared context is made by
``httpx.create_ssl_context()``, the function httpx itself uses for ``verify=True``: it
honours ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` (re-read on every call: a change makes a
new context) and otherwise uses certifi's bundle.

**Connections are not kept alive.** Each core call still has its own client and its own
connection, closed when the call ends, as without the speed-up. HTTP/1.1 ties a reply to
its request only by order, so on a connection kept for the next call one reply too many
from the core or a proxy in front of it (sent along with a reply, or held back and sent
just before the next one) would be read as the answer to the next call, which may be
another user's; no check before reusing a connection can see a reply that arrives after
the next request was sent. With a connection per call such a reply is dropped with its
connection. The same goes for retries: nothing is ever sent twice, so a core that did
the work and then hung up is never asked to do it again. The connection costs a TCP
handshake (and a TLS handshake for an HTTPS core), a small part of what the shared TLS
context saves (docs/benchmarks.md has the figures).

Everything else stays as without it: the URL, headers and body of every call (the SDK's
network interceptor runs before the client is asked for), the 30 s timeouts, the
exceptions of a down or slow core (so the SDK's retries and next-host logic, and this
library's 503 answers, are unchanged), the 429 retries, proxy settings read per call (when
no environment variable can hold one, its name says so, and httpx's slower scan of the
whole environment is skipped), no cookies kept between calls, no connection limit across
calls.

It checks the SDK first and does nothing (and logs why) when the SDK is not 0.31.x, when
``Querier.api_request`` no longer makes a client per call or already passes its own TLS
settings, or when something else has already replaced ``querier.AsyncClient``.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
import urllib.request
from types import CodeType
from typing import Any

import httpx

__all__ = [
    "KNOWN_SDK",
    "reuse_core_connections",
    "shared_tls_context",
    "stop_reusing_core_connections",
]

log = logging.getLogger("st_twofactor")

KNOWN_SDK = (0, 31)
"""The supertokens-python minor version whose querier this module knows."""

_lock = threading.Lock()


def reuse_core_connections() -> bool:
    """Make the SDK's core calls share one TLS context instead of building one per call.

    The name is kept from when calls also shared kept-alive connections; they no longer
    do (see the module's documentation for why). Call once at start-up (before or after
    ``supertokens_python.init``). Returns True when the speed-up is on (also when it
    already was), False when it left the SDK as it is (the reason is logged as a warning).
    """
    querier = _querier_module()
    with _lock:
        if querier.AsyncClient is _core_client:
            return True
        reason = _why_not(querier)
        if reason is not None:
            log.warning("st-twofactor: reuse_core_connections() does nothing: %s", reason)
            return False
        querier.AsyncClient = _core_client
    log.info("st-twofactor: the SDK's core calls now share one TLS context")
    return True


def stop_reusing_core_connections() -> None:
    """Undo :func:`reuse_core_connections`: the SDK builds a TLS context per core call again.

    A call in flight finishes on its client.
    """
    querier = _querier_module()
    with _lock:
        if querier.AsyncClient is _core_client:
            querier.AsyncClient = httpx.AsyncClient  # what it was: reuse_core_connections() checks


def _querier_module() -> Any:
    """``supertokens_python.querier``, the SDK module whose ``AsyncClient`` name is replaced."""
    import supertokens_python.querier

    return supertokens_python.querier


def _why_not(querier: Any) -> str | None:
    """Why the speed-up cannot be applied to this SDK, or None when it can."""
    from supertokens_python.constants import VERSION

    if _minor_version(VERSION) != KNOWN_SDK:
        return f"supertokens-python {VERSION} is not a version it knows (0.31.x)"
    if querier.AsyncClient is not httpx.AsyncClient:
        return "supertokens_python.querier.AsyncClient is already replaced"
    if not hasattr(httpx, "create_ssl_context"):
        return f"httpx {httpx.__version__} has no create_ssl_context()"
    code = querier.Querier.api_request.__code__
    if "AsyncClient" not in code.co_names:
        return "this SDK does not make a client per core call"
    if "verify" in _keyword_names(code):
        return "this SDK already passes its own TLS settings to its client"
    return None


def _minor_version(version: str) -> tuple[int, int] | None:
    parts = version.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None


def _keyword_names(code: CodeType) -> set[str]:
    """The keyword-argument names the function's calls use (kept as tuples of constants)."""
    names: set[str] = set()
    for const in code.co_consts:
        if isinstance(const, tuple):
            names.update(c for c in const if isinstance(c, str))
        elif isinstance(const, CodeType):
            names |= _keyword_names(const)
    return names


# -- the TLS context --

_tls: tuple[tuple[str | None, str | None], ssl.SSLContext] | None = None


def shared_tls_context() -> ssl.SSLContext:
    """The verifying TLS context ``httpx.AsyncClient()`` would build, made once per CA setting."""
    global _tls
    key = (os.environ.get("SSL_CERT_FILE") or None, os.environ.get("SSL_CERT_DIR") or None)
    cached = _tls
    if cached is not None and cached[0] == key:
        return cached[1]
    context = httpx.create_ssl_context()
    _tls = (key, context)
    return context


# -- the client the SDK gets --


def _core_client(*args: Any, **kwargs: Any) -> httpx.AsyncClient:
    """What ``supertokens_python.querier.AsyncClient(...)`` returns while the speed-up is on:
    a new client, as before, whose connections close with it (no keep-alive between calls)."""
    if args or not set(kwargs) <= {"timeout"}:
        return httpx.AsyncClient(*args, **kwargs)  # settings it does not know: as before
    if _no_proxy_settings():
        # What trust_env would add is nothing: no proxy, and the TLS context is given.
        return httpx.AsyncClient(verify=shared_tls_context(), trust_env=False, **kwargs)
    return httpx.AsyncClient(verify=shared_tls_context(), **kwargs)


def _no_proxy_settings() -> bool:
    """Whether httpx would find no proxy settings if it read them now.

    httpx reads them through ``urllib.request.getproxies()`` for every new client: on
    Linux and the other POSIX systems but macOS, only from variables whose name ends in
    ``_proxy`` (any case), and it scans the whole environment twice to find them, the
    largest part of making a client. No such name means nothing to find. Read on every
    call, so a proxy set while the app runs is used by the next call, as without the
    speed-up; where Python also reads the system's settings, this says False and httpx
    reads them.
    """
    if urllib.request.getproxies is not urllib.request.getproxies_environment:
        return False
    return not any(name.lower().endswith("_proxy") for name in os.environ)
