"""Opt-in: faster calls to the SuperTokens core (supertokens-python 0.31).

supertokens-python 0.31 sends every core call through a new ``httpx.AsyncClient``
(``Querier.api_request``: ``async with AsyncClient(timeout=30.0) as client``). Making
one builds a new TLS context, which loads the whole CA bundle (about 20 ms, even for a
plain-HTTP core), and the call then opens a new connection (a TCP handshake, and a TLS
handshake for an HTTPS core). :func:`reuse_core_connections` removes both costs::

    from st_twofactor.speedups import reuse_core_connections

    reuse_core_connections()  # once, at start-up

**What it replaces, exactly:** one name, ``supertokens_python.querier.AsyncClient``
(the SDK's core client class; nothing else in the SDK is touched, so its social-login
and e-mail/SMS delivery calls are unchanged). The replacement, called as the SDK calls
it (``AsyncClient(timeout=30.0)``), gives the SDK:

- inside a running asyncio event loop, a pooled ``httpx.AsyncClient`` for that loop
  and those settings, made once and kept open (leaving the SDK's ``async with`` does not
  close it), so calls reuse kept-alive connections;
- with no running asyncio loop, a new client as before, on the shared TLS context;
- called with settings it does not know (a future SDK), the SDK's own new client.

Every client verifies TLS with one shared context made by ``httpx.create_ssl_context()``,
the function httpx itself uses for ``verify=True``: it honours ``SSL_CERT_FILE`` and
``SSL_CERT_DIR`` (re-read on every call: a change makes a new context) and otherwise
uses certifi's bundle.

What stays as without it: the URL, headers and body of every call (the SDK's network
interceptor runs before the client is asked for), the 30 s timeouts, the exceptions of a
down or slow core (so the SDK's retries and next-host logic, and this library's 503
answers, are unchanged), the 429 retries, unbounded concurrency (no connection limit).
The pooled client keeps no cookies. A kept-alive connection the core has closed (a
restarted core) is detected before use by httpcore; if one fails anyway before any
answer, the call is sent once more on a new connection, which is what the SDK would have
used.

Event loops: a pooled client belongs to one loop. It is closed when its loop shuts down
(``asyncio.run``, ``asyncio.Runner``, anyio, uvicorn), and forgotten when its loop is
found closed or its thread (e.g. a Flask request thread, whose SDK loop is never closed)
has ended, so its connections are released with it (by the garbage collector, as the
loop cannot run any more). The clients of loops still idle at exit, or when
:func:`stop_reusing_core_connections` undoes the speed-up, are closed by running their
loop once.

It checks the SDK first and does nothing (and logs why) when the SDK is not 0.31.x, when
``Querier.api_request`` no longer makes a client per call or already passes its own TLS
settings, or when something else has already replaced ``querier.AsyncClient``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import http.cookiejar
import logging
import os
import ssl
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from types import CodeType, TracebackType
from typing import Any

import httpx

log = logging.getLogger("st_twofactor")

KNOWN_SDK = (0, 31)
"""The supertokens-python minor version whose querier this module knows."""

_STALE_CONNECTION_ERRORS = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
_lock = threading.Lock()


def reuse_core_connections() -> bool:
    """Make the SDK's core calls reuse one TLS context and, per event loop, one pooled client.

    Call once at start-up (before or after ``supertokens_python.init``). Returns True
    when the speed-up is on (also when it already was), False when it left the SDK
    as it is (the reason is logged as a warning). See the module's documentation for
    what it replaces and what stays the same.
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
    atexit.unregister(_close_idle_pools)  # registered once however often this is called
    atexit.register(_close_idle_pools)
    log.info("st-twofactor: the SDK's core calls now reuse connections and one TLS context")
    return True


def stop_reusing_core_connections() -> None:
    """Undo :func:`reuse_core_connections`: the SDK makes a new client per core call again.

    Pooled clients are forgotten (those of idle loops closed); a call in flight finishes
    on its client.
    """
    querier = _querier_module()
    with _lock:
        if querier.AsyncClient is _core_client:
            querier.AsyncClient = httpx.AsyncClient  # what it was: reuse_core_connections() checks
        dropped = list(_pools.values())
        _pools.clear()
    _release(dropped)


def _close_idle_pools() -> None:
    """At exit: release every pooled client (see :func:`_release`)."""
    with _lock:
        pools = list(_pools.values())
        _pools.clear()
    _release(pools)


def _release(pools: list[_Pool]) -> None:
    """Forget these pools; close the clients of idle loops (the SDK's sync wrappers never
    close theirs) by running the loop once, when no loop runs in this thread."""
    try:
        asyncio.get_running_loop()
        can_run_loops = False
    except RuntimeError:
        can_run_loops = True
    for pool in pools:
        pool.forget()
        if can_run_loops and not (pool.loop.is_closed() or pool.loop.is_running()):
            with contextlib.suppress(Exception):
                pool.loop.run_until_complete(pool.client.aclose())


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


def _core_client(*args: Any, **kwargs: Any) -> Any:
    """What ``supertokens_python.querier.AsyncClient(...)`` returns while the speed-up is on."""
    if args or not set(kwargs) <= {"timeout"}:
        return httpx.AsyncClient(*args, **kwargs)  # settings it does not know: as before
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return httpx.AsyncClient(verify=shared_tls_context(), **kwargs)
    return _Lease(loop, kwargs)


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """A new client per call never sends a cookie it was given; a pooled one must not either."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


@dataclass(eq=False)
class _Pool:
    """The pooled client of one event loop (and one set of client settings)."""

    loop: asyncio.AbstractEventLoop
    client: httpx.AsyncClient
    settings: dict[str, Any]
    tls: ssl.SSLContext
    thread: weakref.ref[threading.Thread]
    forgotten: bool = False
    closer: Any = field(default=None)

    def is_orphaned(self) -> bool:
        """Its loop is closed, or will never run again (its thread ended while it was idle)."""
        if self.loop.is_closed():
            return True
        thread = self.thread()
        return (thread is None or not thread.is_alive()) and not self.loop.is_running()

    def forget(self) -> None:
        """Drop it without awaiting (its loop may be gone); its connections go with it."""
        self.forgotten = True
        closer, self.closer = self.closer, None
        if closer is not None:
            with contextlib.suppress(StopIteration):
                closer.aclose().send(None)  # finishes at once: `forgotten` skips the await


_PoolKey = tuple[asyncio.AbstractEventLoop, tuple[tuple[str, Any], ...], ssl.SSLContext]
_pools: dict[_PoolKey, _Pool] = {}


async def _pool_for(loop: asyncio.AbstractEventLoop, settings: dict[str, Any]) -> _Pool:
    """The loop's pooled client for these settings and the current TLS context (made once)."""
    tls = shared_tls_context()
    key = (loop, tuple(sorted(settings.items())), tls)
    with _lock:
        pool = _pools.get(key)
        orphans = [k for k, p in _pools.items() if p is not pool and p.is_orphaned()]
        dropped = [_pools.pop(k) for k in orphans]
    for old in dropped:
        old.forget()
    if pool is not None:
        return pool
    client = httpx.AsyncClient(
        verify=tls,
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=20),
        cookies=http.cookiejar.CookieJar(policy=_NoCookies()),  # not httpx.Cookies: it copies
        **settings,
    )
    pool = _Pool(loop, client, settings, tls, weakref.ref(threading.current_thread()))
    closer = _close_at_loop_shutdown(pool)
    await closer.__anext__()  # the loop now finalises it in shutdown_asyncgens()
    pool.closer = closer
    with _lock:
        _pools[key] = pool
    return pool


async def _close_at_loop_shutdown(pool: _Pool) -> AsyncIterator[None]:
    """Suspended for the loop's lifetime; the loop's shutdown closes the pooled client."""
    try:
        yield
    finally:
        with _lock:
            for key, value in list(_pools.items()):
                if value is pool:
                    del _pools[key]
        if not pool.forgotten:
            pool.forgotten = True
            await pool.client.aclose()


class _Lease:
    """``async with`` gives the loop's pooled client's calls; leaving it keeps the client open."""

    def __init__(self, loop: asyncio.AbstractEventLoop, settings: dict[str, Any]) -> None:
        self._loop = loop
        self._settings = settings

    async def __aenter__(self) -> _PooledCalls:
        pool = await _pool_for(self._loop, self._settings)
        return _PooledCalls(pool)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None


class _PooledCalls:
    """The four methods the SDK calls, sent on the pooled client."""

    def __init__(self, pool: _Pool) -> None:
        self._pool = pool

    async def get(self, url: str, *args: Any, **kwargs: Any) -> httpx.Response:
        return await self._send("get", url, *args, **kwargs)

    async def post(self, url: str, *args: Any, **kwargs: Any) -> httpx.Response:
        return await self._send("post", url, *args, **kwargs)

    async def put(self, url: str, *args: Any, **kwargs: Any) -> httpx.Response:
        return await self._send("put", url, *args, **kwargs)

    async def delete(self, url: str, *args: Any, **kwargs: Any) -> httpx.Response:
        return await self._send("delete", url, *args, **kwargs)

    async def _send(self, method: str, url: str, *args: Any, **kwargs: Any) -> httpx.Response:
        opened = False

        async def trace(event: str, info: dict[str, Any]) -> None:
            nonlocal opened
            if event == "connection.connect_tcp.started":
                opened = True

        send: Callable[..., Any] = getattr(self._pool.client, method)
        try:
            response: httpx.Response = await send(url, *args, extensions={"trace": trace}, **kwargs)
            return response
        except _STALE_CONNECTION_ERRORS:
            if opened:
                raise  # it failed on a new connection: as without the speed-up
        # A kept-alive connection failed before any answer: send it as the SDK would have.
        async with httpx.AsyncClient(verify=self._pool.tls, **self._pool.settings) as client:
            fresh: httpx.Response = await getattr(client, method)(url, *args, **kwargs)
            return fresh
