"""A Redis-backed state store whose updates are atomic across processes and machines.

Install the extra (``pip install 'st-twofactor[redis]'``) and select it in the config::

    TwoFactorConfig(..., store=RedisStore("redis://localhost:6379/0"))

Each user's state is one JSON string at ``<prefix><user id>``. :meth:`RedisStore.update`
is an optimistic transaction: read the document, run ``fn`` on a copy, then write the
result with a Lua compare-and-set that succeeds only if the document is still the one
that was read. Redis runs a script atomically, so of two workers that read the same
document only one write lands; the other reads again and re-runs ``fn`` (which is why
``fn`` must be free of side effects). Every operation of
:class:`~st_twofactor.stores.base.Store` (TOTP step used once, recovery code consumed once,
attempts counted) is built on ``update``, so each holds across every process that
shares the Redis server.

Redis that cannot be reached, or that fails a command, raises
:class:`~st_twofactor.errors.StoreUnavailableError`: callers fail closed (no code is
accepted without its replay and throttle checks) and the HTTP API answers 503.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from st_twofactor.errors import ConfigurationError, StoreUnavailableError
from st_twofactor.stores._cas import (
    DEFAULT_MAX_ATTEMPTS,
    checked_max_attempts,
    update_optimistically,
)
from st_twofactor.stores._per_loop import PerLoop
from st_twofactor.stores.base import BaseStore
from st_twofactor.stores.state import TwoFactorState
from st_twofactor.stores.state_codec import decode_state

try:
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import RedisError
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "RedisStore needs the redis client: pip install 'st-twofactor[redis]'"
    ) from exc

__all__ = ["DEFAULT_PREFIX", "RedisStore"]

T = TypeVar("T")

DEFAULT_PREFIX = "st-twofactor:state:"
"""Keys are ``<prefix><user id>``; change the prefix to share one Redis between apps."""

# KEYS[1]: the user's key. ARGV[1]: "1" if a document was read, "0" if none was;
# ARGV[2]: the document read; ARGV[3]: the new document. Returns 1 if written.
_COMPARE_AND_SET = """
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '0' then
    if current then return 0 end
elseif current ~= ARGV[2] then
    return 0
end
redis.call('SET', KEYS[1], ARGV[3])
return 1
"""


class RedisStore(BaseStore):
    """Users' 2FA state in Redis, updated atomically across processes.

    :param url: a ``redis://`` or ``rediss://`` URL. The store then makes one client per
        event loop that uses it (a client's connections belong to one loop; sync
        Flask/Django views run one loop per thread), with short timeouts so that an
        unreachable server fails a request in about ``timeout`` seconds.
    :param client: an existing ``redis.asyncio.Redis`` instead of a URL. It must be used
        from one event loop only (e.g. one ASGI app) and must not decode responses.
    :param prefix: prepended to each user id to make its key.
    :param timeout: connect and command timeout, in seconds, for clients made from ``url``.
    :param max_attempts: how many times :meth:`update` tries before giving up on a user
        whose state keeps changing under it (then ``StoreUnavailableError``).

    What it guarantees: every :meth:`update` is linearizable per user across all
    processes and machines using the same Redis (a single primary); a change is
    acknowledged only after Redis accepted it. What it needs from Redis: the state is
    the users' enrolled factors, not a cache, so the server must keep it: persistence
    (``appendonly yes``), ``maxmemory-policy noeviction``, and no expiry on the keys.
    Losing a user's document loses their factors, which lets a first factor enrol anew.
    With asynchronous replication, a write acknowledged by a primary that fails before
    replicating it is lost (Redis' own limit; ``WAIT`` is not used).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: aioredis.Redis | None = None,
        prefix: str = DEFAULT_PREFIX,
        timeout: float = 2.0,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> None:
        if (url is None) == (client is None):
            raise ConfigurationError("pass exactly one of url='redis://...' or client=Redis(...)")
        if url is not None and not (isinstance(url, str) and url.startswith(_SCHEMES)):
            raise ConfigurationError("url must be a redis://, rediss:// or unix:// URL")
        if not isinstance(prefix, str):
            raise ConfigurationError("prefix must be a string, e.g. 'myapp:2fa:'")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ConfigurationError("timeout must be a positive number of seconds")
        self._url = url
        self._client = client
        self.prefix = prefix
        self._timeout = float(timeout)
        self._max_attempts = checked_max_attempts(max_attempts)
        self._clients: PerLoop[aioredis.Redis] = PerLoop(self._new_client)

    def key(self, user_id: str) -> str:
        """The Redis key of ``user_id``'s state."""
        return self.prefix + user_id

    async def load(
        self, user_id: str, user_context: dict[str, Any] | None = None
    ) -> TwoFactorState:
        return decode_state(await self._get(self._redis(), self.key(user_id)), where="Redis")

    async def update(
        self,
        user_id: str,
        fn: Callable[[TwoFactorState], T],
        user_context: dict[str, Any] | None = None,
    ) -> T:
        client = self._redis()
        key = self.key(user_id)

        async def read() -> tuple[bytes | None, bytes | None]:
            raw = await self._get(client, key)
            return raw, raw  # the document read is its own version

        async def write(read_raw: bytes | None, document: str) -> bool:
            return await self._write_if_unchanged(client, key, read_raw, document)

        return await update_optimistically(
            fn, read=read, write_if_unchanged=write, max_attempts=self._max_attempts, where="Redis"
        )

    async def user_ids(self, *, after: str | None = None, batch: int = 500) -> AsyncIterator[str]:
        """Every user id with a stored state (a key with this store's prefix), in ascending
        order, from just past ``after`` (to resume a walk that stopped there).

        Redis lists keys in no order, so the ids are gathered (``SCAN``) and sorted first.
        """
        client = self._redis()
        pattern = _glob_escape(self.prefix) + "*"
        found: list[str] = []
        try:
            async for key in client.scan_iter(match=pattern, count=batch):
                found.append(bytes(key).decode("utf-8")[len(self.prefix) :])
        except RedisError as exc:
            raise StoreUnavailableError(f"cannot list the users in Redis: {exc}") from exc
        for user_id in sorted(found):
            if after is None or user_id > after:
                yield user_id

    async def aclose(self) -> None:
        """Close the client this store made for the running event loop and forget those of
        other loops (a client passed in is the caller's to close)."""
        client = self._clients.take_running()
        if client is not None:
            await client.aclose()

    async def _write_if_unchanged(
        self, client: aioredis.Redis, key: str, read_raw: bytes | None, document: str
    ) -> bool:
        """Store ``document`` at ``key`` if it still holds ``read_raw`` (``None``: nothing)."""
        expected = b"" if read_raw is None else read_raw
        try:
            written = await client.eval(
                _COMPARE_AND_SET, 1, key, "0" if read_raw is None else "1", expected, document
            )
        except RedisError as exc:
            raise StoreUnavailableError(f"cannot write the 2FA state to Redis: {exc}") from exc
        return bool(written == 1)

    async def _get(self, client: aioredis.Redis, key: str) -> bytes | None:
        try:
            raw = await client.get(key)
        except RedisError as exc:
            raise StoreUnavailableError(f"cannot read the 2FA state from Redis: {exc}") from exc
        if raw is not None and not isinstance(raw, bytes):
            raise StoreUnavailableError("the Redis client must not decode responses")
        return raw

    def _redis(self) -> aioredis.Redis:
        return self._client if self._client is not None else self._clients.get()

    def _new_client(self) -> aioredis.Redis:
        assert self._url is not None
        return aioredis.Redis.from_url(
            self._url,
            socket_timeout=self._timeout,
            socket_connect_timeout=self._timeout,
            retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), retries=1),
            decode_responses=False,
        )


_SCHEMES = ("redis://", "rediss://", "unix://")


def _glob_escape(text: str) -> str:
    """``text`` matched literally by a Redis glob pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
