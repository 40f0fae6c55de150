"""Part "stores": core calls and time per flow with :class:`SQLStore` beside the default
store (user metadata in the core).

The same journeys as part 2 (:mod:`benchmarks.flows`) with st-twofactor only, twice: as
configured by default, and with its state in an SQL table: SQLite in a temp file, so
that nothing but Python is needed, or the database at ``ST2FA_BENCH_SQL_URL`` (e.g.
``postgresql+asyncpg://user@127.0.0.1:5432/db``; the table is made if missing). With
SQLStore the state no longer goes through the core, so each flow makes fewer core calls;
the time shows what the database costs instead.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from .alternatives import FACTORS, SECRET_KEY, TwoFactorLibrary
from .flows import FlowResults, measure_flows


class TwoFactorLibraryOnSQL(TwoFactorLibrary):
    """st-twofactor with ``store=SQLStore(...)`` on an SQLite file."""

    key = "st-twofactor-sql"
    title = "st-twofactor, SQLStore"

    def __init__(self, core: Any, connection_uri: str) -> None:
        super().__init__(core, connection_uri)
        from sqlalchemy.engine import make_url

        from st_twofactor.config import TwoFactorConfig
        from st_twofactor.stores.sql import SQLStore

        url = os.environ.get("ST2FA_BENCH_SQL_URL")
        if not url:
            directory = Path(tempfile.mkdtemp(prefix="st2fa-bench-sql-"))
            url = f"sqlite+aiosqlite:///{directory / 'state.db'}"
        self.store = SQLStore(url)
        self.title = f"st-twofactor, SQLStore ({make_url(url).get_backend_name()})"
        self.config = TwoFactorConfig(
            secret_keys=[SECRET_KEY],
            factors=FACTORS,
            on_event=lambda event: None,
            store=self.store,
            send_quota=self.config.send_quota,  # the parent's: no cooldown (see there)
        )

    @asynccontextmanager
    async def started(self) -> AsyncIterator[httpx.AsyncClient]:
        await self.store.create_table()
        try:
            async with super().started() as client:
                yield client
        finally:
            await self.store.aclose()  # its engine belongs to this turn's event loop


def measure_stores(
    new_app: Callable[[], str], core: Any, *, rounds: int, journeys: int
) -> FlowResults:
    """The journeys with the default store and with SQLStore, interleaved."""
    alts = [TwoFactorLibrary(core, new_app()), TwoFactorLibraryOnSQL(core, new_app())]
    return measure_flows(alts, rounds=rounds, journeys=journeys)
