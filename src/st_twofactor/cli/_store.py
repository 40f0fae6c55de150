"""``st-twofactor store create-table``: the SQLStore's table, created or printed.

The table belongs to the configured store itself (only a SQL store has one), so this
command takes the app's store as configured: the runtime's store wraps what every store
offers (reading and updating a user's state), not a store's own administration.
See :mod:`st_twofactor.cli`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from st_twofactor.cli._output import EXIT_OK, EXIT_USAGE, CommandError, Output, outages

if TYPE_CHECKING:
    from st_twofactor.config import TwoFactorConfig


def _sql_store(config: TwoFactorConfig) -> Any:
    store = config.state_store
    if not hasattr(store, "create_table"):
        raise CommandError(
            EXIT_USAGE, f"the configured store ({type(store).__name__}) has no table to create"
        )
    return store


def create_table_ddl(config: TwoFactorConfig, out: Output) -> int:
    """Print the ``CREATE TABLE`` statement (for a migration tool of the app's own)."""
    ddl = str(_sql_store(config).ddl())
    out.result({"ok": True, "ddl": ddl}, [ddl + ";"])
    return EXIT_OK


async def create_table(config: TwoFactorConfig, out: Output) -> int:
    """Create the table if it is missing."""
    store = _sql_store(config)
    async with outages():
        await store.create_table()
    name = store.table.fullname
    out.result({"ok": True, "table": name}, [f"table {name} is there"])
    return EXIT_OK
