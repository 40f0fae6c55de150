"""A state store in the app's own SQL database, atomic across processes and machines.

Install the extra (``pip install 'st-twofactor[sql]'``, SQLAlchemy 2 with the asyncpg and
aiosqlite drivers; add ``aiomysql`` for MySQL/MariaDB) and select it in the config::

    TwoFactorConfig(..., store=SQLStore("postgresql+asyncpg://app@db/app"))

One table, one row per user: the user id, the state document (the JSON text of
:func:`~st_twofactor.stores.state_codec.encode_state`), a version number and when it last
changed. :meth:`SQLStore.update` is an optimistic transaction: read the row, run ``fn``
on a copy, then write with ``UPDATE ... WHERE user_id = ? AND version = ?`` (or an
``INSERT`` for a user without a row). The database applies that statement atomically, so
of two workers that read the same version only one write lands; the other reads again
and re-runs ``fn`` (which is why ``fn`` must be free of side effects). Every operation
of :class:`~st_twofactor.stores.base.Store` (TOTP step used once, recovery code consumed once,
attempts counted) is built on ``update``, so each holds across every process that shares
the database. No row lock is held while ``fn`` runs, and no transaction is left open
between two requests.

A database that cannot be reached or fails a statement raises
:class:`~st_twofactor.errors.StoreUnavailableError`: callers fail closed and the HTTP API
answers 503. The connection pool checks a connection before using it, so the store
recovers by itself once the database is back.

The table (version 1 of its layout; :data:`TABLE_VERSION`) in PostgreSQL::

    CREATE TABLE st_twofactor_state (
        user_id VARCHAR(255) NOT NULL,
        state TEXT NOT NULL,
        version BIGINT NOT NULL,
        updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
        PRIMARY KEY (user_id)
    )

:meth:`SQLStore.create_table` creates it (if missing; every worker may call it at its
start, at once), :meth:`SQLStore.ddl` prints it for any dialect, and
``st-twofactor store create-table`` does it from a shell.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
from collections.abc import AsyncIterator, Callable, Iterator
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
    from sqlalchemy import (
        BigInteger,
        Column,
        DateTime,
        MetaData,
        String,
        Table,
        Text,
        insert,
        inspect,
        select,
        update,
    )
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, SQLAlchemyError
    from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
    from sqlalchemy.schema import CreateTable
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("SQLStore needs SQLAlchemy 2: pip install 'st-twofactor[sql]'") from exc

__all__ = ["DEFAULT_TABLE", "TABLE_VERSION", "SQLStore"]

T = TypeVar("T")

DEFAULT_TABLE = "st_twofactor_state"
"""The table's name unless another is given (``table=``)."""

TABLE_VERSION = 1
"""The layout of the table described in this module's doc. A later layout will come with
its own ``ALTER`` statements in the changelog; this one never changes silently."""

_MAX_USER_ID_LENGTH = 255

_CONNECT_TIMEOUT_ARGUMENT = {
    "asyncpg": "timeout",
    "aiosqlite": "timeout",
    "psycopg": "connect_timeout",
    "aiomysql": "connect_timeout",
    "asyncmy": "connect_timeout",
}


def _state_table(metadata: MetaData, name: str = DEFAULT_TABLE, schema: str | None = None) -> Table:
    """The state table (layout :data:`TABLE_VERSION`) in ``metadata``."""
    return Table(
        name,
        metadata,
        Column("user_id", String(_MAX_USER_ID_LENGTH), primary_key=True),
        Column("state", Text, nullable=False),
        Column("version", BigInteger, nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        schema=schema,
    )


class SQLStore(BaseStore):
    """Users' 2FA state in an SQL table, updated atomically across processes.

    :param url: an SQLAlchemy URL with an async driver, e.g.
        ``postgresql+asyncpg://user:password@host/db``, ``sqlite+aiosqlite:///path.db`` or
        ``mysql+aiomysql://...``. The store then makes one engine per event loop that
        uses it (a connection belongs to one loop; sync Flask/Django views run one loop
        per thread), with a connect timeout of ``timeout`` seconds.
    :param engine: an existing ``AsyncEngine`` instead of a URL; it must be used from one
        event loop only (e.g. one ASGI app).
    :param table: the table's name (default :data:`DEFAULT_TABLE`).
    :param schema: the schema (PostgreSQL) or database (MySQL) that holds the table;
        default: the connection's own.
    :param timeout: connect and statement timeout, in seconds, for engines made from ``url``.
    :param max_attempts: how many times :meth:`update` tries before giving up on a user
        whose state keeps changing under it (then ``StoreUnavailableError``).

    What it guarantees: every :meth:`update` is linearizable per user across all
    processes and machines using the same database (the compare-and-set is one
    statement on one row of the primary); a change is acknowledged only after the
    database committed it, so it is as durable as the database's commits. SQLite works
    within one machine (a file, not ``:memory:``, which each connection sees apart).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        engine: AsyncEngine | None = None,
        table: str = DEFAULT_TABLE,
        schema: str | None = None,
        timeout: float = 5.0,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> None:
        if (url is None) == (engine is None):
            raise ConfigurationError(
                "pass exactly one of url='postgresql+asyncpg://...' or engine=AsyncEngine(...)"
            )
        if url is not None:
            _check_url(url)
        if not isinstance(table, str) or not table:
            raise ConfigurationError("table must be a non-empty name, e.g. 'myapp_2fa_state'")
        if schema is not None and (not isinstance(schema, str) or not schema):
            raise ConfigurationError("schema must be a non-empty name or None")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ConfigurationError("timeout must be a positive number of seconds")
        self._url = url
        self._engine = engine
        self._timeout = float(timeout)
        self._max_attempts = checked_max_attempts(max_attempts)
        self.table = _state_table(MetaData(), table, schema)
        self._engines: PerLoop[AsyncEngine] = PerLoop(self._new_engine)

    # -- the Store protocol --

    async def load(
        self, user_id: str, user_context: dict[str, Any] | None = None
    ) -> TwoFactorState:
        row = await self._read(self._get_engine(), user_id)
        return decode_state(None if row is None else row[0], where="the SQL table")

    async def update(
        self,
        user_id: str,
        fn: Callable[[TwoFactorState], T],
        user_context: dict[str, Any] | None = None,
    ) -> T:
        engine = self._get_engine()

        async def read() -> tuple[str | None, int | None]:
            row = await self._read(engine, user_id)
            return (None, None) if row is None else row

        async def write(version: int | None, document: str) -> bool:
            return await self._write(engine, user_id, document, version)

        return await update_optimistically(
            fn,
            read=read,
            write_if_unchanged=write,
            max_attempts=self._max_attempts,
            where="the SQL table",
        )

    # -- operations --

    async def create_table(self) -> None:
        """Create the table if it does not exist (its schema must exist already).

        Several workers may call it at once, e.g. each at its start: it checks for the
        table, then creates it, so two workers that both found none both send ``CREATE
        TABLE``. The database lets one win; the other gets an error ("already exists",
        or on PostgreSQL a duplicate key in its own catalog while the winner commits).
        The loser then looks again and, finding the table, returns as if it had made it.
        Any other failure (no table after the error) raises ``StoreUnavailableError``.
        """
        engine = self._get_engine()
        with _unavailable("create the table for"):
            try:
                async with engine.begin() as connection:
                    await connection.run_sync(
                        self.table.metadata.create_all, tables=[self.table], checkfirst=True
                    )
            except DBAPIError:
                if not await self._table_exists(engine):
                    raise

    def ddl(self, dialect: str | None = None) -> str:
        """The ``CREATE TABLE`` statement for ``dialect`` (``"postgresql"``, ``"mysql"``,
        ``"sqlite"``; default: the URL's or engine's)."""
        if dialect is None:
            dialect = self._dialect_name()
        module = __import__(f"sqlalchemy.dialects.{dialect}", fromlist=["dialect"])
        return str(CreateTable(self.table).compile(dialect=module.dialect())).strip()

    async def user_ids(self, *, after: str | None = None, batch: int = 500) -> AsyncIterator[str]:
        """Every user id with a stored state, in ascending order, from just past ``after``
        (to resume a walk that stopped there)."""
        engine = self._get_engine()
        column = self.table.c.user_id
        while True:
            query = select(column).order_by(column).limit(batch)
            if after is not None:
                query = query.where(column > after)
            with _unavailable("list the users of"):
                async with engine.connect() as connection:
                    page = [row[0] for row in await connection.execute(query)]
            for user_id in page:
                yield user_id
            if len(page) < batch:
                return
            after = page[-1]

    async def aclose(self) -> None:
        """Dispose of the engine this store made for the running event loop and forget
        those of other loops (an engine passed in is the caller's to dispose of)."""
        engine = self._engines.take_running()
        if engine is not None:
            await engine.dispose()

    # -- inside --

    async def _table_exists(self, engine: AsyncEngine) -> bool:
        table = self.table
        async with engine.connect() as connection:
            return bool(
                await connection.run_sync(
                    lambda sync: inspect(sync).has_table(table.name, schema=table.schema)
                )
            )

    async def _read(self, engine: AsyncEngine, user_id: str) -> tuple[str, int] | None:
        columns = self.table.c
        query = select(columns.state, columns.version).where(columns.user_id == user_id)
        with _unavailable("read"):
            async with engine.connect() as connection:
                row = (await connection.execute(query)).first()
        return None if row is None else (str(row[0]), int(row[1]))

    async def _write(
        self, engine: AsyncEngine, user_id: str, document: str, version: int | None
    ) -> bool:
        """Store ``document`` if the row still has ``version`` (``None``: no row yet)."""
        columns = self.table.c
        now = datetime.datetime.now(datetime.timezone.utc)
        with _unavailable("write"):
            if version is None:
                try:
                    async with engine.begin() as connection:
                        await connection.execute(
                            insert(self.table).values(
                                user_id=user_id, state=document, version=1, updated_at=now
                            )
                        )
                except IntegrityError:
                    return False  # another worker inserted the row first
                return True
            async with engine.begin() as connection:
                written = await connection.execute(
                    update(self.table)
                    .where(columns.user_id == user_id, columns.version == version)
                    .values(state=document, version=version + 1, updated_at=now)
                )
            return written.rowcount == 1

    def _get_engine(self) -> AsyncEngine:
        return self._engine if self._engine is not None else self._engines.get()

    def _new_engine(self) -> AsyncEngine:
        assert self._url is not None
        return _make_engine(self._url, self._timeout)

    def _dialect_name(self) -> str:
        if self._engine is not None:
            return str(self._engine.dialect.name)
        assert self._url is not None
        return str(make_url(self._url).get_backend_name())


def _check_url(url: object) -> None:
    if not isinstance(url, str):
        raise ConfigurationError("url must be a string, e.g. 'postgresql+asyncpg://...'")
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError(
            "url must be an SQLAlchemy URL, e.g. 'postgresql+asyncpg://user@host/db'"
        ) from None
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise ConfigurationError(
            "SQLite needs a file (sqlite+aiosqlite:///path.db): an in-memory database is"
            " not shared between connections"
        )


def _make_engine(url: str, timeout: float) -> AsyncEngine:
    driver = make_url(url).get_driver_name()
    connect_args: dict[str, Any] = {}
    argument = _CONNECT_TIMEOUT_ARGUMENT.get(driver)
    if argument is not None:
        connect_args[argument] = timeout if driver in ("asyncpg", "aiosqlite") else int(timeout)
    if driver == "asyncpg":
        connect_args["command_timeout"] = timeout
    return create_async_engine(
        url, pool_pre_ping=True, pool_timeout=timeout, connect_args=connect_args
    )


@contextlib.contextmanager
def _unavailable(action: str) -> Iterator[None]:
    """Turn a database fault into :class:`StoreUnavailableError` (fail closed).

    The message names the error's type only: an SQL error's text can carry the
    statement's parameters, which hold the state document.
    """
    try:
        yield
    except (SQLAlchemyError, OSError, asyncio.TimeoutError) as exc:
        raise StoreUnavailableError(
            f"cannot {action} the 2FA state in the SQL database ({type(exc).__name__})"
        ) from exc
