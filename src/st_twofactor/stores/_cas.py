"""The optimistic update of the stores shared between processes: the one compare-and-set loop.

:class:`~st_twofactor.stores.redis.RedisStore` and :class:`~st_twofactor.stores.sql.SQLStore`
hold no lock while ``fn`` runs. Each reads the document with a version (the document
itself, or a row version), runs ``fn`` on the state, and writes the result only if the
version is still the one read; a write that loses the race reads again and re-runs ``fn``
after a short random pause, so that two workers do not collide again in step. A user whose
state keeps changing under every attempt gets :class:`StoreUnavailableError` (callers fail
closed) rather than an endless wait. Each store brings its own read and write; this
module is the loop, written once so that both stores retry and give up alike.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from st_twofactor.errors import ConfigurationError, StoreUnavailableError
from st_twofactor.stores.state import TwoFactorState
from st_twofactor.stores.state_codec import decode_state, encode_state

__all__ = ["DEFAULT_MAX_ATTEMPTS", "checked_max_attempts", "update_optimistically"]

T = TypeVar("T")
V = TypeVar("V")

DEFAULT_MAX_ATTEMPTS = 50
"""How many times an update tries before giving up, unless the store is told otherwise."""

_BACKOFF_STEP_SECONDS = 0.002
"""The pause after a lost write is random, up to this many seconds per attempt so far..."""
_BACKOFF_MAX_STEPS = 10
"""...counting at most this many attempts (so at most 20 ms)."""


def checked_max_attempts(value: object) -> int:
    """``value`` as a store's ``max_attempts``; anything but a positive integer is a
    :class:`ConfigurationError`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError("max_attempts must be a positive integer")
    return value


async def update_optimistically(
    fn: Callable[[TwoFactorState], T],
    *,
    read: Callable[[], Awaitable[tuple[str | bytes | None, V]]],
    write_if_unchanged: Callable[[V, str], Awaitable[bool]],
    max_attempts: int,
    where: str,
) -> T:
    """Apply ``fn`` to a user's state with compare-and-set, retrying on contention.

    ``read()`` gives the stored document (``None``: nothing stored) and its version;
    ``write_if_unchanged(version, document)`` stores ``document`` if the version is still
    the one read, and says whether it did. ``fn`` may run once per attempt, so it must be
    free of side effects. ``where`` names the store in the error about a bad document.
    Nothing is written when ``fn`` changed nothing.
    """
    for attempt in range(max_attempts):
        document, version = await read()
        state = decode_state(document, where=where)
        before = encode_state(state)
        result = fn(state)
        after = encode_state(state)
        if after == before:
            # Nothing to write: the result is that of the state as read, which was
            # current when it was read.
            return result
        if await write_if_unchanged(version, after):
            return result
        # Another worker changed the state since we read it: back off and redo.
        steps = min(attempt + 1, _BACKOFF_MAX_STEPS)
        await asyncio.sleep(random.uniform(0, _BACKOFF_STEP_SECONDS * steps))
    raise StoreUnavailableError(
        f"the user's 2FA state kept changing during {max_attempts} attempts to update it"
    )
