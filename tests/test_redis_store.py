"""RedisStore against a real ``redis-server``: the Store contract, atomicity across tasks,
threads and processes, and failing closed when Redis is down."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from st_twofactor.config import TwoFactorConfig
from st_twofactor.errors import ConfigurationError, MalformedDataError, StoreUnavailableError
from st_twofactor.redis_store import DEFAULT_PREFIX, RedisStore
from st_twofactor.store import Store, TotpDevice, TwoFactorState, UserMetadataStore
from st_twofactor.throttle import Allowed, Refused, ThrottlePolicy

from .redis_server import RedisServer, redis_server, start_or_skip, unique_prefix
from .store_ops import (
    begin_attempt,
    consume_recovery_code,
    record_failure,
    reset_failures,
    use_totp_step,
)

__all__ = ["redis_server"]  # the fixture, for pytest

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


# -- the Store contract --


async def test_unknown_user_has_a_fresh_state(store: RedisStore) -> None:
    assert await store.load("nobody") == TwoFactorState()


async def test_update_persists_and_returns(store: RedisStore) -> None:
    def enrol(state: TwoFactorState) -> str:
        state.totp_devices.append(TotpDevice("phone", "sealed", True, T0))
        state.recovery_codes = ["h1", "h2"]
        return "done"

    assert await store.update("u", enrol) == "done"
    loaded = await store.load("u")
    assert loaded.factor_ids() == ["totp", "recovery-code"]
    assert loaded.device("phone") == TotpDevice("phone", "sealed", True, T0)


async def test_a_failing_fn_changes_nothing(store: RedisStore) -> None:
    await store.update("u", lambda s: setattr(s, "epoch", 1))

    def boom(state: TwoFactorState) -> None:
        state.epoch = 99
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        await store.update("u", boom)
    assert (await store.load("u")).epoch == 1


async def test_non_json_state_is_refused_and_not_stored(store: RedisStore) -> None:
    def bad(state: TwoFactorState) -> None:
        state.email = object()  # type: ignore[assignment]

    with pytest.raises(MalformedDataError):
        await store.update("u", bad)
    assert await store.load("u") == TwoFactorState()


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


async def test_specific_operations(store: RedisStore) -> None:
    assert await use_totp_step(store, "u", 10) is True
    assert await use_totp_step(store, "u", 10) is False
    assert await use_totp_step(store, "u", 9) is False
    assert await use_totp_step(store, "u", 11) is True

    await store.update("u", lambda s: setattr(s, "recovery_codes", ["a", "b"]))
    assert await consume_recovery_code(store, "u", "a") is True
    assert await consume_recovery_code(store, "u", "a") is False
    assert (await store.load("u")).recovery_codes == ["b"]

    for i in range(5):
        decision = await begin_attempt(store, "u", "totp", POLICY, T0 + i)
        assert isinstance(decision, Allowed)
    assert isinstance(await begin_attempt(store, "u", "totp", POLICY, T0 + 5), Refused)
    await reset_failures(store, "u", "totp")
    assert isinstance(await begin_attempt(store, "u", "totp", POLICY, T0 + 6), Allowed)
    decision = await record_failure(store, "u", "recovery-code", POLICY, T0 + 7)
    assert isinstance(decision, Allowed)


# -- atomicity --


async def test_concurrent_updates_from_one_loop_all_land(store: RedisStore) -> None:
    calls = 0

    def bump(state: TwoFactorState) -> int:
        nonlocal calls
        calls += 1
        state.epoch += 1
        return state.epoch

    results = await asyncio.gather(*(store.update("u", bump) for _ in range(40)))
    assert sorted(results) == list(range(1, 41))
    assert (await store.load("u")).epoch == 40
    assert calls > 40, "fn is re-run after a conflict (the race really happened)"


async def test_concurrent_replays_and_redemptions_have_one_winner(store: RedisStore) -> None:
    await store.update("u", lambda s: setattr(s, "recovery_codes", ["a", "b", "c"]))
    steps = await asyncio.gather(*(use_totp_step(store, "u", 1000) for _ in range(20)))
    codes = await asyncio.gather(*(consume_recovery_code(store, "u", "b") for _ in range(20)))
    assert steps.count(True) == 1
    assert codes.count(True) == 1
    assert (await store.load("u")).recovery_codes == ["a", "c"]


async def test_concurrent_attempts_never_exceed_the_limit(store: RedisStore) -> None:
    decisions = await asyncio.gather(
        *(begin_attempt(store, "u", "totp", POLICY, T0) for _ in range(30))
    )
    assert sum(isinstance(d, Allowed) for d in decisions) == POLICY.max_failures


def test_threads_with_their_own_event_loops(redis_server: RedisServer) -> None:
    """Sync Flask/Django views run one event loop per thread; one store serves them all."""
    store = RedisStore(redis_server.url, prefix=unique_prefix())
    barrier = threading.Barrier(6)
    wins: list[bool] = []

    def worker() -> None:
        loop = asyncio.new_event_loop()
        try:
            barrier.wait()
            for _ in range(10):
                loop.run_until_complete(store.update("u", _bump_epoch))
            wins.append(loop.run_until_complete(use_totp_step(store, "u", 5)))
        finally:
            loop.run_until_complete(store.aclose())
            loop.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert asyncio.run(store.load("u")).epoch == 60
    assert wins.count(True) == 1


def _bump_epoch(state: TwoFactorState) -> None:
    state.epoch += 1


def _process_worker(url: str, prefix: str, start: Any, results: Any) -> None:
    async def run() -> tuple[int, bool, bool]:
        store = RedisStore(url, prefix=prefix)
        start.wait(timeout=30)
        for _ in range(25):
            await store.update("u", _bump_epoch)
        step = await use_totp_step(store, "u", 123)
        code = await consume_recovery_code(store, "u", "the-hash")
        await store.aclose()
        return 25, step, code

    results.put(asyncio.run(run()))


def test_atomic_across_processes(redis_server: RedisServer) -> None:
    """Four worker processes race: no lost update, one replay winner, one code winner."""
    prefix = unique_prefix()
    store = RedisStore(redis_server.url, prefix=prefix)
    asyncio.run(store.update("u", lambda s: setattr(s, "recovery_codes", ["the-hash", "x"])))
    # fork: the workers start at once with the modules already imported (spawn would
    # spend seconds importing the SDK in each); they use no state of this process.
    context = multiprocessing.get_context("fork")
    start = context.Event()
    results = context.Queue()
    workers = [
        context.Process(target=_process_worker, args=(redis_server.url, prefix, start, results))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    start.set()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    state = asyncio.run(store.load("u"))
    assert state.epoch == sum(n for n, _, _ in outcomes) == 100
    assert [step for _, step, _ in outcomes].count(True) == 1
    assert [code for _, _, code in outcomes].count(True) == 1
    assert state.recovery_codes == ["x"]


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
    from .redis_server import free_port

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


async def test_two_workers_with_redis_accept_once_and_lose_nothing(
    redis_server: RedisServer,
) -> None:
    """The same races with one RedisStore per worker: one winner, both updates kept."""
    prefix = unique_prefix()
    workers = [RedisStore(redis_server.url, prefix=prefix) for _ in "ab"]
    await workers[0].update("u", lambda s: setattr(s, "recovery_codes", ["old-1", "old-2"]))

    steps = await asyncio.gather(*(use_totp_step(w, "u", 7) for w in workers))
    assert sorted(steps) == [False, True]

    await asyncio.gather(
        workers[0].update("u", _regenerate),
        begin_attempt(workers[1], "u", "totp", POLICY, T0),
    )
    state = await workers[1].load("u")
    assert state.recovery_codes == ["new-1", "new-2"]
    assert state.throttle.factors["totp"].consecutive_failures == 1
    for worker in workers:
        await worker.aclose()
