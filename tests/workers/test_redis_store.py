"""RedisStore against a real ``redis-server``: what is particular to it (keys, garbage,
giving up under contention, clients) and failing closed when Redis is down. The Store
contract, atomicity across tasks, threads and processes included, is in
``test_store_contract``."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from st_twofactor.config import TwoFactorConfig
from st_twofactor.errors import ConfigurationError, MalformedDataError, StoreUnavailableError
from st_twofactor.kernel.throttle import ThrottlePolicy
from st_twofactor.stores import Store, TwoFactorState, UserMetadataStore
from st_twofactor.stores.redis import DEFAULT_PREFIX, RedisStore

from ..helpers.redis_server import RedisServer, start_or_skip, unique_prefix
from ..helpers.store_ops import (
    begin_attempt,
    consume_recovery_code,
    use_totp_step,
)

T0 = 1_700_000_000.0
POLICY = ThrottlePolicy()


@pytest.fixture
async def store(redis_server: RedisServer) -> AsyncIterator[RedisStore]:
    made = RedisStore(redis_server.url, prefix=unique_prefix())
    yield made
    await made.aclose()


@pytest.fixture
def sync_redis(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


# -- configuration --


def test_is_a_store_and_selectable_in_the_config(redis_server: RedisServer) -> None:
    store: Store = RedisStore(redis_server.url)
    config = TwoFactorConfig(development=True, store=store)
    assert config.state_store is store


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "exactly one of"),
        (("redis://x",), {"client": object()}, "exactly one of"),
        (("http://localhost:6379",), {}, "redis://"),
        (("redis://x",), {"prefix": None}, "prefix"),
        (("redis://x",), {"timeout": 0}, "timeout"),
        (("redis://x",), {"max_attempts": 0}, "max_attempts"),
    ],
)
def test_bad_arguments_say_what_to_change(
    args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        RedisStore(*args, **kwargs)


async def test_keys_are_prefixed(store: RedisStore, sync_redis: redis.Redis) -> None:
    assert RedisStore("redis://x").key("u1") == DEFAULT_PREFIX + "u1"
    await store.update("u1", lambda s: setattr(s, "epoch", 7))
    assert sync_redis.exists(store.prefix + "u1")
    other = RedisStore(store._url or "", prefix=unique_prefix())
    assert (await other.load("u1")).epoch == 0
    await other.aclose()


# -- what is particular to Redis --


async def test_unchanged_state_is_not_written(store: RedisStore, sync_redis: redis.Redis) -> None:
    assert await store.update("u", lambda s: s.epoch) == 0
    assert not sync_redis.exists(store.key("u"))


async def test_garbage_in_redis_fails_closed(store: RedisStore, sync_redis: redis.Redis) -> None:
    for garbage in [b"not json", b"[]", b'{"v": 99}', b'{"recovery_codes": 5}']:
        sync_redis.set(store.key("u"), garbage)
        with pytest.raises(MalformedDataError):
            await store.load("u")
        with pytest.raises(MalformedDataError):
            await store.update("u", lambda s: setattr(s, "epoch", 1))
        assert sync_redis.get(store.key("u")) == garbage


# -- atomicity --


def _bump_epoch(state: TwoFactorState) -> None:
    state.epoch += 1


async def test_gives_up_when_the_state_keeps_changing(
    redis_server: RedisServer, sync_redis: redis.Redis
) -> None:
    store = RedisStore(redis_server.url, prefix=unique_prefix(), max_attempts=3)
    calls = 0

    def interfered(state: TwoFactorState) -> None:
        nonlocal calls
        calls += 1
        # Another writer changes the document between our read and our write.
        sync_redis.set(store.key("u"), f'{{"epoch": {1000 + calls}}}')
        state.epoch += 1

    with pytest.raises(StoreUnavailableError, match="kept changing"):
        await store.update("u", interfered)
    assert calls == 3
    await store.aclose()


async def test_an_existing_client_can_be_passed(redis_server: RedisServer) -> None:
    client = aioredis.Redis.from_url(redis_server.url)
    store = RedisStore(client=client, prefix=unique_prefix())
    await store.update("u", _bump_epoch)
    assert (await store.load("u")).epoch == 1
    await store.aclose()
    assert await client.ping()
    await client.aclose()


async def test_a_decoding_client_is_refused(redis_server: RedisServer) -> None:
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    store = RedisStore(client=client, prefix=unique_prefix())
    await client.set(store.key("u"), "{}")
    with pytest.raises(StoreUnavailableError, match="decode"):
        await store.load("u")
    await client.aclose()


# -- Redis down: fail closed, recover when it is back --


async def test_redis_down_fails_closed_and_recovers() -> None:
    server = start_or_skip()
    try:
        store = RedisStore(server.url, prefix=unique_prefix(), timeout=1.0)
        await store.update("u", _bump_epoch)
        server.stop()
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError, match="Redis") as caught:
            await store.load("u")
        with pytest.raises(StoreUnavailableError):
            await use_totp_step(store, "u", 1)
        with pytest.raises(StoreUnavailableError):
            await begin_attempt(store, "u", "totp", POLICY, T0)
        assert time.monotonic() - started < 5, "an unreachable Redis fails fast"
        assert "Traceback" not in str(caught.value)

        server.start()
        assert await use_totp_step(store, "u", 1) is True  # no data kept: a fresh server
        await store.aclose()
    finally:
        server.close()


async def test_unreachable_server_fails_closed() -> None:
    from ..helpers.ports import free_port

    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)
    with pytest.raises(StoreUnavailableError, match="cannot read"):
        await store.load("u")
    with pytest.raises(StoreUnavailableError):
        await consume_recovery_code(store, "u", "h")
    await store.aclose()


# -- why: two workers with UserMetadataStore vs RedisStore ----------------------------------


class _SharedMetadata:
    """One core's user metadata, reached by several workers; each call yields, like I/O."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}

    async def get(self, user_id: str, user_context: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0)
        return json.loads(json.dumps(self.data.get(user_id, {})))

    async def update(
        self, user_id: str, update: dict[str, Any], user_context: dict[str, Any]
    ) -> None:
        await asyncio.sleep(0)
        self.data[user_id] = {**self.data.get(user_id, {}), **update}


def _regenerate(state: TwoFactorState) -> None:
    state.recovery_codes = ["new-1", "new-2"]
    state.epoch += 1


async def test_two_workers_with_user_metadata_double_accept_and_lose_updates() -> None:
    """The documented limit of UserMetadataStore (one store per worker, no shared lock):
    one TOTP step accepted by both workers, and a regeneration of recovery codes undone by
    a concurrent throttle update. This is why several workers need RedisStore."""
    core = _SharedMetadata()
    workers = [UserMetadataStore(get_metadata=core.get, update_metadata=core.update) for _ in "ab"]
    await workers[0].update("u", lambda s: setattr(s, "recovery_codes", ["old-1", "old-2"]))

    steps = await asyncio.gather(*(use_totp_step(w, "u", 7) for w in workers))
    assert steps == [True, True], "both workers accepted the same time step"

    await asyncio.gather(
        workers[0].update("u", _regenerate),
        begin_attempt(workers[1], "u", "totp", POLICY, T0),
    )
    assert (await workers[0].load("u")).recovery_codes == ["old-1", "old-2"], "regeneration lost"


async def test_user_ids_are_those_of_its_prefix_only(redis_server: RedisServer) -> None:
    base = unique_prefix()
    starred = RedisStore(redis_server.url, prefix=base + "*:")
    other = RedisStore(redis_server.url, prefix=base + "x:")
    await starred.update("mine", _bump_epoch)
    await other.update("theirs", _bump_epoch)
    assert [u async for u in starred.user_ids()] == ["mine"]
    assert [u async for u in other.user_ids()] == ["theirs"]
    await starred.aclose()
    await other.aclose()
