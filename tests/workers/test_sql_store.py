"""SQLStore: what is particular to it (configuration, the table, garbage, giving up under
contention, listing users) and failing closed when the database is down. The Store
contract, atomicity across tasks, threads and processes included, is in
``test_store_contract``."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import create_async_engine

from st_twofactor.config import TwoFactorConfig
from st_twofactor.errors import ConfigurationError, MalformedDataError, StoreUnavailableError
from st_twofactor.stores import Store, TwoFactorState
from st_twofactor.stores.sql import DEFAULT_TABLE, SQLStore

from ..helpers.ports import free_port
from ..helpers.postgres_server import PostgresServer, unique_table
from ..helpers.postgres_server import start_or_skip as start_postgres_or_skip
from ..helpers.store_ops import consume_recovery_code, use_totp_step

DOCUMENTED_POSTGRESQL_DDL = """CREATE TABLE st_twofactor_state (
    user_id VARCHAR(255) NOT NULL,
    state TEXT NOT NULL,
    version BIGINT NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (user_id)
)"""


@pytest.fixture
async def store(postgres_server: PostgresServer) -> AsyncIterator[SQLStore]:
    made = SQLStore(postgres_server.url, table=unique_table())
    await made.create_table()
    yield made
    await made.aclose()


async def raw(store: SQLStore, sql: str, **params: Any) -> list[Any]:
    """Run ``sql`` on the store's table (``{table}`` in it) with a connection of its own."""
    engine = create_async_engine(store._url or "")
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(sql.format(table=store.table.name)), params)
            return list(result) if result.returns_rows else []
    finally:
        await engine.dispose()


# -- configuration --


def test_is_a_store_and_selectable_in_the_config(tmp_path: Path) -> None:
    store: Store = SQLStore(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    config = TwoFactorConfig(development=True, store=store)
    assert config.state_store is store


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "exactly one of"),
        (("sqlite+aiosqlite:///x.db",), {"engine": object()}, "exactly one of"),
        (("not a url",), {}, "SQLAlchemy URL"),
        ((5,), {}, "url must be a string"),
        (("sqlite+aiosqlite://",), {}, "SQLite needs a file"),
        (("sqlite+aiosqlite:///:memory:",), {}, "SQLite needs a file"),
        (("sqlite+aiosqlite:///x.db",), {"table": ""}, "table"),
        (("sqlite+aiosqlite:///x.db",), {"schema": ""}, "schema"),
        (("sqlite+aiosqlite:///x.db",), {"timeout": 0}, "timeout"),
        (("sqlite+aiosqlite:///x.db",), {"max_attempts": 0}, "max_attempts"),
    ],
)
def test_bad_arguments_say_what_to_change(
    args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        SQLStore(*args, **kwargs)


# -- the table --


def _words(sql: str) -> str:
    return " ".join(sql.split())


def test_the_documented_ddl_is_the_table() -> None:
    """The DDL in the docs (version 1) is what create_table makes: it never drifts."""
    store = SQLStore("postgresql+asyncpg://app@db/app")
    assert store.table.name == DEFAULT_TABLE
    assert _words(store.ddl()) == _words(DOCUMENTED_POSTGRESQL_DDL)
    for path in ("src/st_twofactor/stores/sql.py", "docs/howto/stores.md"):
        source = (Path(__file__).resolve().parents[2] / path).read_text()
        assert _words(DOCUMENTED_POSTGRESQL_DDL) in _words(source), path
    assert "CREATE TABLE st_twofactor_state" in SQLStore("sqlite+aiosqlite:///x.db").ddl()
    assert "CREATE TABLE st_twofactor_state" in store.ddl("mysql")


async def test_create_table_is_idempotent_and_uses_the_name(store: SQLStore) -> None:
    await store.create_table()
    await store.update("u", lambda s: setattr(s, "epoch", 3))
    await store.create_table()  # an existing table is kept, rows and all
    rows = await raw(store, "SELECT user_id, version FROM {table}")
    assert [(r[0], r[1]) for r in rows] == [("u", 1)]
    assert (await store.load("u")).epoch == 3


RACING_WORKERS = 6


def _create_table_worker(url: str, table: str, barrier: Any, results: Any) -> None:
    """One worker's ``create_table()``, held between its "no such table" check and its
    ``CREATE TABLE`` until every worker got there (or 10 s passed)."""

    def wait_for_the_others(*args: Any, **kwargs: Any) -> None:
        # A broken barrier: some worker never got this far, so go on alone.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=10)

    async def run() -> str:
        store = SQLStore(url, table=table)
        event.listen(store.table, "before_create", wait_for_the_others)
        try:
            await store.create_table()
            return "created"
        except Exception as exc:  # reported to the test, which shows it
            return f"{type(exc).__name__}: {exc}"
        finally:
            await store.aclose()

    results.put(asyncio.run(run()))


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_workers_creating_the_table_at_once_all_succeed(
    dialect: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Several workers starting together each call create_table(): each one saw no
    table, then all issue CREATE TABLE at once (a barrier holds them between the check
    and the statement). Every call succeeds and the one table works afterwards."""
    if dialect == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'state.db'}"
    else:
        url = request.getfixturevalue("postgres_server").url
    table = unique_table()
    # fork: separate processes, each with its own engine and connections, like workers.
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(RACING_WORKERS)
    results = context.Queue()
    workers = [
        context.Process(target=_create_table_worker, args=(url, table, barrier, results))
        for _ in range(RACING_WORKERS)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    assert outcomes == ["created"] * RACING_WORKERS

    async def use_it() -> None:
        store = SQLStore(url, table=table)
        assert await use_totp_step(store, "u", 5) is True
        assert await use_totp_step(store, "u", 5) is False
        assert (await store.load("u")).last_totp_step == 5
        await store.aclose()

    asyncio.run(use_it())


async def test_create_table_still_fails_closed(postgres_server: PostgresServer) -> None:
    """An error that leaves no table (here: no such schema) is not taken for a lost race."""
    store = SQLStore(postgres_server.url, table=unique_table(), schema=unique_table())
    with pytest.raises(StoreUnavailableError, match="cannot create the table"):
        await store.create_table()
    await store.aclose()


async def test_a_table_in_its_own_schema(postgres_server: PostgresServer) -> None:
    schema = unique_table()
    engine = create_async_engine(postgres_server.url)
    async with engine.begin() as connection:
        await connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        store = SQLStore(postgres_server.url, table="twofactor", schema=schema)
        await store.create_table()
        await use_totp_step(store, "u", 5)
        async with engine.connect() as connection:
            rows = list(await connection.execute(text(f"SELECT user_id FROM {schema}.twofactor")))
        assert [r[0] for r in rows] == ["u"]
        assert f"CREATE TABLE {schema}.twofactor" in store.ddl()
        await store.aclose()
    finally:
        async with engine.begin() as connection:
            await connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        await engine.dispose()


async def test_each_change_bumps_the_version(store: SQLStore) -> None:
    await use_totp_step(store, "u", 1)
    await use_totp_step(store, "u", 2)
    assert await use_totp_step(store, "u", 2) is False  # no change, no write
    rows = await raw(store, "SELECT version, state, updated_at FROM {table}")
    assert rows[0][0] == 2
    assert '"last_totp_step": 2' in rows[0][1]
    assert rows[0][2] is not None


async def test_unchanged_state_is_not_written(store: SQLStore) -> None:
    assert await store.update("u", lambda s: s.epoch) == 0
    assert await raw(store, "SELECT user_id FROM {table}") == []


async def test_garbage_in_the_table_fails_closed(store: SQLStore) -> None:
    for garbage in ["not json", "[]", '{"v": 99}', '{"recovery_codes": 5}']:
        await raw(store, "DELETE FROM {table}")
        await raw(
            store,
            "INSERT INTO {table} VALUES (:u, :s, 7, now())",
            u="u",
            s=garbage,
        )
        with pytest.raises(MalformedDataError):
            await store.load("u")
        with pytest.raises(MalformedDataError):
            await store.update("u", lambda s: setattr(s, "epoch", 1))
        rows = await raw(store, "SELECT state, version FROM {table}")
        assert [(r[0], r[1]) for r in rows] == [(garbage, 7)]


async def test_gives_up_when_the_state_keeps_changing(postgres_server: PostgresServer) -> None:
    store = SQLStore(postgres_server.url, table=unique_table(), max_attempts=3)
    await store.create_table()
    await store.update("u", lambda s: setattr(s, "epoch", 1))
    other = SQLStore(postgres_server.url, table=store.table.name)
    calls = 0
    bumps: list[asyncio.Task[None]] = []

    def interfered(state: TwoFactorState) -> None:
        nonlocal calls
        calls += 1
        state.epoch += 1

    async def bump_meanwhile() -> None:
        await other.update("u", lambda s: setattr(s, "epoch", s.epoch + 100))

    original_write = store._write

    async def write_after_another(*args: Any) -> bool:
        bumps.append(asyncio.create_task(bump_meanwhile()))
        await bumps[-1]  # another worker writes between our read and our write
        return await original_write(*args)

    store._write = write_after_another  # type: ignore[method-assign]
    with pytest.raises(StoreUnavailableError, match="kept changing"):
        await store.update("u", interfered)
    assert calls == 3
    assert (await other.load("u")).epoch == 301  # only the other worker's writes landed
    await store.aclose()
    await other.aclose()


async def test_user_ids_lists_every_user_in_pages_and_resumes(store: SQLStore) -> None:
    names = [f"user-{i:03d}" for i in range(23)]
    for name in names:
        await store.update(name, lambda s: setattr(s, "epoch", 1))
    assert [u async for u in store.user_ids(batch=5)] == names
    assert [u async for u in store.user_ids(after="user-019", batch=5)] == names[20:]


async def test_an_existing_engine_can_be_passed(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    store = SQLStore(engine=engine)
    await store.create_table()
    await use_totp_step(store, "u", 3)
    assert (await store.load("u")).last_totp_step == 3
    await store.aclose()
    async with engine.connect() as connection:  # still the caller's, still open
        assert (
            await connection.execute(text("SELECT count(*) FROM st_twofactor_state"))
        ).scalar() == 1
    await engine.dispose()


# -- the database down: fail closed, recover when it is back --


async def test_no_table_fails_closed(postgres_server: PostgresServer) -> None:
    store = SQLStore(postgres_server.url, table=unique_table())
    with pytest.raises(StoreUnavailableError, match="cannot read"):
        await store.load("u")
    await store.aclose()


async def test_database_down_fails_closed_and_recovers() -> None:
    server = start_postgres_or_skip()
    try:
        store = SQLStore(server.url, table=unique_table(), timeout=2.0)
        await store.create_table()
        await store.update("u", lambda s: setattr(s, "recovery_codes", ["h1", "h2"]))
        server.stop()
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError, match="SQL database") as caught:
            await store.load("u")
        with pytest.raises(StoreUnavailableError):
            await use_totp_step(store, "u", 1)
        with pytest.raises(StoreUnavailableError):
            await consume_recovery_code(store, "u", "h1")
        assert time.monotonic() - started < 10, "an unreachable database fails fast"
        assert "h1" not in str(caught.value) and "recovery_codes" not in str(caught.value)

        server.start()
        # Back by itself (the pool drops dead connections), with its data.
        assert (await store.load("u")).recovery_codes == ["h1", "h2"]
        assert await use_totp_step(store, "u", 1) is True
        assert await consume_recovery_code(store, "u", "h1") is True
        await store.aclose()
    finally:
        server.close()


async def test_unreachable_server_fails_closed_quickly() -> None:
    store = SQLStore(f"postgresql+asyncpg://x@127.0.0.1:{free_port()}/x", timeout=1.0)
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match="cannot read"):
        await store.load("u")
    with pytest.raises(StoreUnavailableError):
        await use_totp_step(store, "u", 1)
    assert time.monotonic() - started < 5
    await store.aclose()


async def test_frozen_database_fails_closed_within_the_timeout() -> None:
    """A stuck server (SIGSTOP): connections stay open and statements hang; the store
    answers StoreUnavailableError after about ``timeout`` seconds, then works again."""
    server = start_postgres_or_skip()
    try:
        store = SQLStore(server.url, table=unique_table(), timeout=1.0)
        await store.create_table()
        await use_totp_step(store, "u", 1)
        server.pause()
        try:
            for attempt in (lambda: store.load("u"), lambda: use_totp_step(store, "u", 2)):
                started = time.monotonic()
                with pytest.raises(StoreUnavailableError):
                    await attempt()
                assert time.monotonic() - started < 5, "hung on a frozen database"
        finally:
            server.resume()
        assert await use_totp_step(store, "u", 1) is False  # the state is intact
        assert await use_totp_step(store, "u", 2) is True
        await store.aclose()
    finally:
        server.close()
