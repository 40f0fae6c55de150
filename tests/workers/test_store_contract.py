"""The store contract: the same tests against every store.

Each test runs on :class:`InMemoryStore`, :class:`UserMetadataStore` (on the fake core
metadata of ``test_store``, and through the SDK on the development core),
:class:`RedisStore` (a real ``redis-server``) and
:class:`SQLStore` on SQLite (a file) and on a real PostgreSQL server. The tests started
for them are on loopback and stopped at the end.

What every store guarantees: ``load`` gives a fresh state for an unknown user and a copy
otherwise; ``update`` stores what ``fn`` changed and returns its result, stores nothing
when ``fn`` raises or leaves a state that is not JSON-safe, and is atomic per user:
concurrent updates all land, a TOTP step is used once and a recovery code redeemed once,
attempts never pass the throttle's limit; a ``transaction`` sees its own updates. The
stores that share state between processes (Redis, SQL) keep these guarantees across
workers and processes too.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from st_twofactor.errors import MalformedDataError
from st_twofactor.kernel.throttle import Allowed, Refused, ThrottlePolicy
from st_twofactor.stores import InMemoryStore, Store, TwoFactorState, UserMetadataStore
from st_twofactor.stores.state import TotpDevice

from ..helpers.fake_metadata import FakeMetadata, metadata_store
from ..helpers.postgres_server import PostgresServer, unique_table
from ..helpers.redis_server import RedisServer, unique_prefix
from ..helpers.sdk import InitSupertokens
from ..helpers.store_ops import (
    begin_attempt,
    consume_recovery_code,
    record_failure,
    reset_failures,
    use_totp_step,
)

T0 = 1_700_000_000.0
POLICY = ThrottlePolicy()
CONCURRENCY = 40


@dataclass
class Backend:
    """One kind of store, and how to make another store on the same data."""

    kind: str
    make: Callable[[], Store]
    """A store on this backend's data: the same object for the single-process stores,
    a new one (as another worker would make) for the shared ones."""
    shared: bool
    """Atomic across processes (and so across several stores on the same data)."""
    optimistic: bool
    """Re-runs ``fn`` after a conflict (compare-and-set) instead of locking."""


KINDS = [
    "in-memory",
    "user-metadata",
    "user-metadata-devcore",
    "redis",
    "sql-sqlite",
    "sql-postgresql",
]
SHARED_KINDS = ["redis", "sql-sqlite", "sql-postgresql"]


def _make_backend(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if kind == "in-memory":
        memory = InMemoryStore()
        return Backend(kind, lambda: memory, shared=False, optimistic=False)
    if kind == "user-metadata":
        metadata = metadata_store(FakeMetadata())
        return Backend(kind, lambda: metadata, shared=False, optimistic=False)
    if kind == "user-metadata-devcore":
        from supertokens_python.recipe import usermetadata

        init_supertokens: InitSupertokens = request.getfixturevalue("init_supertokens")
        init_supertokens([usermetadata.init()])
        in_core = UserMetadataStore()
        return Backend(kind, lambda: in_core, shared=False, optimistic=False)
    if kind == "redis":
        from st_twofactor.stores.redis import RedisStore

        server: RedisServer = request.getfixturevalue("redis_server")
        prefix = unique_prefix()
        return Backend(
            kind, lambda: RedisStore(server.url, prefix=prefix), shared=True, optimistic=True
        )
    from st_twofactor.stores.sql import SQLStore

    if kind == "sql-sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'state.db'}"
    else:
        database: PostgresServer = request.getfixturevalue("postgres_server")
        url = database.url
    table = unique_table()

    async def create() -> None:
        store = SQLStore(url, table=table)
        await store.create_table()
        await store.aclose()

    asyncio.run(create())
    return Backend(kind, lambda: SQLStore(url, table=table), shared=True, optimistic=True)


@pytest.fixture(params=KINDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return _make_backend(request.param, request, tmp_path)


@pytest.fixture(params=SHARED_KINDS)
def shared_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return _make_backend(request.param, request, tmp_path)


async def close(store: Store) -> None:
    """Close what a store opened for the running event loop (Redis, SQL)."""
    aclose = getattr(store, "aclose", None)
    if aclose is not None:
        await aclose()


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    made = backend.make()
    yield made
    await close(made)


def _bump_epoch(state: TwoFactorState) -> None:
    state.epoch += 1


def add_code(code: str) -> Callable[[TwoFactorState], int]:
    def add(state: TwoFactorState) -> int:
        state.recovery_codes.append(code)
        return len(state.recovery_codes)

    return add


# -- load and update ---------------------------------------------------------------------


async def test_unknown_user_has_a_fresh_state(store: Store) -> None:
    assert await store.load("nobody") == TwoFactorState()


async def test_update_persists_changes_and_returns_the_result(store: Store) -> None:
    def enrol(state: TwoFactorState) -> int:
        state.totp_devices.append(TotpDevice(name="phone", secret="c", created_at=T0))
        state.bump_epoch()
        return len(state.totp_devices)

    assert await store.update("u1", enrol) == 1
    assert await store.update("u1", enrol) == 2
    loaded = await store.load("u1")
    assert [d.name for d in loaded.totp_devices] == ["phone", "phone"]
    assert loaded.epoch == 2
    assert await store.load("u2") == TwoFactorState()

    def verify_and_codes(state: TwoFactorState) -> str:
        state.totp_devices = [TotpDevice("phone", "sealed", True, T0)]
        state.recovery_codes = ["h1", "h2"]
        return "done"

    assert await store.update("u3", verify_and_codes) == "done"
    loaded = await store.load("u3")
    assert loaded.factor_ids() == ["totp", "recovery-code"]
    assert loaded.device("phone") == TotpDevice("phone", "sealed", True, T0)


async def test_load_returns_a_copy(store: Store) -> None:
    await store.update("u1", lambda s: setattr(s, "email", "a@example.com"))
    snapshot = await store.load("u1")
    snapshot.email = "mallory@example.com"
    snapshot.recovery_codes.append("x")
    assert (await store.load("u1")).email == "a@example.com"
    assert (await store.load("u1")).recovery_codes == []


async def test_a_failing_fn_changes_nothing(store: Store) -> None:
    await store.update("u1", lambda s: setattr(s, "email", "a@example.com"))
    await store.update("u1", lambda s: setattr(s, "epoch", 1))

    def half_done(state: TwoFactorState) -> None:
        state.email = "mallory@example.com"
        state.epoch = 99
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await store.update("u1", half_done)
    loaded = await store.load("u1")
    assert loaded.email == "a@example.com"
    assert loaded.epoch == 1


async def test_non_json_values_are_refused_and_not_stored(store: Store) -> None:
    def wrong_type(state: TwoFactorState) -> None:
        state.email = 123  # type: ignore[assignment]

    def not_json(state: TwoFactorState) -> None:
        state.phone = object()  # type: ignore[assignment]

    def not_finite(state: TwoFactorState) -> None:
        state.totp_devices.append(TotpDevice(name="a", secret="s", created_at=math.nan))

    for fn in (wrong_type, not_json, not_finite):
        with pytest.raises(MalformedDataError):
            await store.update("u1", fn)
    assert await store.load("u1") == TwoFactorState()


async def test_an_unchanged_state_returns_the_result(store: Store) -> None:
    assert await store.update("u1", lambda s: s.epoch) == 0
    assert await store.load("u1") == TwoFactorState()


# -- the operations of the flows -----------------------------------------------------------


async def test_totp_steps_are_used_once_and_in_order(store: Store) -> None:
    assert await use_totp_step(store, "u1", 100) is True
    assert await use_totp_step(store, "u1", 100) is False
    assert await use_totp_step(store, "u1", 99) is False
    assert await use_totp_step(store, "u1", 101) is True
    assert await use_totp_step(store, "u2", 100) is True  # per user
    assert (await store.load("u1")).last_totp_step == 101


async def test_recovery_codes_are_consumed_once(store: Store) -> None:
    await store.update("u1", lambda s: setattr(s, "recovery_codes", ["h1", "h2", "h3"]))
    assert await consume_recovery_code(store, "u1", "h2") is True
    assert await consume_recovery_code(store, "u1", "h2") is False
    assert await consume_recovery_code(store, "u1", "h") is False
    assert (await store.load("u1")).recovery_codes == ["h1", "h3"]


async def test_throttle_operations(store: Store) -> None:
    decisions = [await begin_attempt(store, "u1", "totp", POLICY, T0) for _ in range(6)]
    assert decisions == [
        Allowed(4),
        Allowed(3),
        Allowed(2),
        Allowed(1),
        Allowed(0),
        Refused(900_000),
    ]
    assert await begin_attempt(store, "u1", "otp-email", POLICY, T0) == Allowed(4)

    await reset_failures(store, "u1", "totp", T0)
    assert await begin_attempt(store, "u1", "totp", POLICY, T0) == Allowed(4)
    await reset_failures(store, "u1", "totp", T0)

    assert await record_failure(store, "u1", "recovery-code", POLICY, T0) == Allowed(4)
    state = await store.load("u1")
    assert "totp" not in state.throttle.factors
    assert state.throttle.factors["recovery-code"].consecutive_failures == 1


async def test_throttle_over_time(store: Store) -> None:
    for i in range(5):
        assert isinstance(await begin_attempt(store, "u", "totp", POLICY, T0 + i), Allowed)
    assert isinstance(await begin_attempt(store, "u", "totp", POLICY, T0 + 5), Refused)
    await reset_failures(store, "u", "totp")
    assert isinstance(await begin_attempt(store, "u", "totp", POLICY, T0 + 6), Allowed)
    assert isinstance(await record_failure(store, "u", "recovery-code", POLICY, T0 + 7), Allowed)


# -- transactions --------------------------------------------------------------------------


async def test_a_transaction_sees_its_own_updates(store: Store) -> None:
    async with store.transaction("u1") as held:
        assert (await held.load()).recovery_codes == []
        assert await held.update(add_code("h1")) == 1
        snapshot = await held.load()
        snapshot.recovery_codes.append("not stored")  # a snapshot, not the held state
        assert await held.update(add_code("h2")) == 2
    assert (await store.load("u1")).recovery_codes == ["h1", "h2"]


async def test_a_failing_fn_in_a_transaction_changes_nothing(store: Store) -> None:
    def broken(state: TwoFactorState) -> None:
        state.recovery_codes.append("half-done")
        raise RuntimeError("boom")

    async with store.transaction("u1") as held:
        await held.update(add_code("h1"))
        with pytest.raises(RuntimeError):
            await held.update(broken)
        assert (await held.load()).recovery_codes == ["h1"]
        await held.update(add_code("h2"))
    assert (await store.load("u1")).recovery_codes == ["h1", "h2"]


async def test_transactions_of_one_user_are_exact_under_concurrency(store: Store) -> None:
    """Concurrent flows, each a transaction of two updates: every update lands once."""

    async def flow(i: int) -> None:
        async with store.transaction("u1") as held:
            await held.update(add_code(f"a{i}"))
            await held.update(_bump_epoch)

    await asyncio.gather(*(flow(i) for i in range(10)))
    state = await store.load("u1")
    assert sorted(state.recovery_codes) == sorted(f"a{i}" for i in range(10))
    assert state.epoch == 10


# -- concurrency: exact, one winner ----------------------------------------------------------


async def test_concurrent_updates_all_land(store: Store, backend: Backend) -> None:
    calls = 0

    def bump(state: TwoFactorState) -> int:
        nonlocal calls
        calls += 1
        state.epoch += 1
        return state.epoch

    results = await asyncio.gather(*(store.update("u", bump) for _ in range(CONCURRENCY)))
    assert sorted(results) == list(range(1, CONCURRENCY + 1))
    assert (await store.load("u")).epoch == CONCURRENCY
    if backend.optimistic:
        assert calls > CONCURRENCY, "fn is re-run after a conflict (the race really happened)"
    else:
        assert calls == CONCURRENCY


async def test_concurrent_replays_of_one_step_have_one_winner(store: Store) -> None:
    results = await asyncio.gather(*(use_totp_step(store, "u1", 1234) for _ in range(CONCURRENCY)))
    assert results.count(True) == 1


async def test_concurrent_redemptions_of_one_code_have_one_winner(store: Store) -> None:
    await store.update("u1", lambda s: setattr(s, "recovery_codes", ["h1", "h2", "h3"]))
    results = await asyncio.gather(
        *(consume_recovery_code(store, "u1", "h2") for _ in range(CONCURRENCY))
    )
    assert results.count(True) == 1
    assert (await store.load("u1")).recovery_codes == ["h1", "h3"]


async def test_concurrent_attempts_never_exceed_the_limit(store: Store) -> None:
    results = await asyncio.gather(
        *(begin_attempt(store, "u1", "totp", POLICY, T0) for _ in range(CONCURRENCY))
    )
    assert sum(isinstance(r, Allowed) for r in results) == POLICY.max_failures


def test_threads_with_their_own_event_loops(backend: Backend) -> None:
    """Sync Flask/Django views run one event loop per thread; one store serves them all."""
    store = backend.make()
    threads_count, steps = 6, 30
    barrier = threading.Barrier(threads_count)
    winners: list[int] = []
    raced: list[bool] = []
    last_steps: list[int | None] = []
    failures: list[BaseException] = []

    def worker() -> None:
        loop = asyncio.new_event_loop()
        try:
            barrier.wait()
            for _ in range(10):
                loop.run_until_complete(store.update("u", _bump_epoch))
            for step in range(steps):
                if loop.run_until_complete(use_totp_step(store, "u", step)):
                    winners.append(step)
            if barrier.wait() == 0:  # every thread is through its steps: one looks
                last_steps.append(loop.run_until_complete(store.load("u")).last_totp_step)
            barrier.wait()  # then all threads race one step at once
            raced.append(loop.run_until_complete(use_totp_step(store, "u", 1000)))
        except BaseException as exc:
            failures.append(exc)
        finally:
            loop.run_until_complete(close(store))
            loop.close()

    threads = [threading.Thread(target=worker) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []

    async def final() -> TwoFactorState:
        try:
            return await store.load("u")
        finally:
            await close(store)

    state = asyncio.run(final())
    assert state.epoch == 10 * threads_count
    assert len(winners) == len(set(winners))  # no step won twice
    assert last_steps == [steps - 1]
    assert raced.count(True) == 1
    assert state.last_totp_step == 1000


# -- several workers (the stores that share state between processes) --------------------------


def _regenerate(state: TwoFactorState) -> None:
    state.recovery_codes = ["new-1", "new-2"]
    state.epoch += 1


async def test_two_workers_accept_once_and_lose_nothing(shared_backend: Backend) -> None:
    """One store per worker on the same data: one winner, both concurrent updates kept
    (with UserMetadataStore the same races double-accept and lose the regeneration: see
    test_redis_store.test_two_workers_with_user_metadata_double_accept_and_lose_updates)."""
    workers = [shared_backend.make() for _ in "ab"]
    await workers[0].update("u", lambda s: setattr(s, "recovery_codes", ["old-1", "old-2"]))

    steps = await asyncio.gather(*(use_totp_step(w, "u", 7) for w in workers))
    assert sorted(steps) == [False, True]
    codes = await asyncio.gather(*(consume_recovery_code(w, "u", "old-1") for w in workers))
    assert sorted(codes) == [False, True]

    await asyncio.gather(
        workers[0].update("u", _regenerate),
        begin_attempt(workers[1], "u", "totp", POLICY, T0),
    )
    state = await workers[1].load("u")
    assert state.recovery_codes == ["new-1", "new-2"]
    assert state.throttle.factors["totp"].consecutive_failures == 1
    for worker in workers:
        await close(worker)


def _process_worker(make: Callable[[], Store], start: Any, results: Any) -> None:
    async def run() -> tuple[int, bool, bool, int]:
        store = make()
        start.wait(timeout=30)
        for _ in range(25):
            await store.update("u", _bump_epoch)
        step = await use_totp_step(store, "u", 123)
        code = await consume_recovery_code(store, "u", "the-hash")
        allowed = 0
        for _ in range(4):
            decision = await begin_attempt(store, "u", "totp", POLICY, T0)
            allowed += isinstance(decision, Allowed)
        await close(store)
        return 25, step, code, allowed

    results.put(asyncio.run(run()))


def test_atomic_across_processes(shared_backend: Backend) -> None:
    """Four worker processes race: no lost update, one replay winner, one code winner,
    and exactly ``max_failures`` attempts allowed in total."""

    async def prepare() -> None:
        store = shared_backend.make()
        await store.update("u", lambda s: setattr(s, "recovery_codes", ["the-hash", "x"]))
        await close(store)

    asyncio.run(prepare())
    # fork: the workers start at once with the modules already imported (spawn would
    # spend seconds importing the SDK in each); each makes its own store and connections.
    context = multiprocessing.get_context("fork")
    start = context.Event()
    results = context.Queue()
    workers = [
        context.Process(target=_process_worker, args=(shared_backend.make, start, results))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    start.set()
    outcomes = [results.get(timeout=90) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)

    async def final() -> TwoFactorState:
        store = shared_backend.make()
        try:
            return await store.load("u")
        finally:
            await close(store)

    state = asyncio.run(final())
    assert state.epoch == sum(n for n, _, _, _ in outcomes) == 100
    assert [step for _, step, _, _ in outcomes].count(True) == 1
    assert [code for _, _, code, _ in outcomes].count(True) == 1
    assert sum(allowed for _, _, _, allowed in outcomes) == POLICY.max_failures
    assert state.recovery_codes == ["x"]


async def test_a_shared_store_lists_its_users_in_order(shared_backend: Backend) -> None:
    """Redis and SQL list the users they hold (``st-twofactor keys rotate`` walks them)."""
    store = shared_backend.make()
    names = ["b", "a*", "c?[x]", "a", "ü"]  # glob characters are plain characters here
    for name in names:
        await store.update(name, _bump_epoch)
    await store.update("unchanged", lambda s: s.epoch)  # nothing changed: nothing stored
    listing = getattr(store, "user_ids")  # noqa: B009 (not part of the Store protocol)
    assert [u async for u in listing()] == sorted(names)
    assert [u async for u in listing(after="a*")] == sorted(names)[2:]
    assert [u async for u in listing(batch=2)] == sorted(names)
    await close(store)
