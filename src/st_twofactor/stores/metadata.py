"""The default store: each user's state in their SuperTokens user metadata.

It needs no infrastructure beyond the core, but the core's metadata API has no
compare-and-set, so updates are atomic only within one process (a per-user lock shared by
every thread and event loop): see :class:`UserMetadataStore` for what that means with
several workers, and :mod:`st_twofactor.stores.sql` or :mod:`st_twofactor.stores.redis`
for stores that are atomic across processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

from supertokens_python.recipe.usermetadata import asyncio as usermetadata_api

from st_twofactor.errors import StoreUnavailableError
from st_twofactor.stores.base import BaseStore, Transaction
from st_twofactor.stores.state import TwoFactorState
from st_twofactor.stores.state_codec import decode_state, encode_state

__all__ = ["METADATA_KEY", "GetMetadata", "UpdateMetadata", "UserMetadataStore", "uncached"]

T = TypeVar("T")

METADATA_KEY = "st_twofactor"
"""The user-metadata key under which :class:`UserMetadataStore` keeps the state."""

GetMetadata = Callable[[str, dict[str, Any]], Awaitable[Mapping[str, Any]]]
"""``(user_id, user_context) -> metadata``, like the SDK's ``get_user_metadata``."""
UpdateMetadata = Callable[[str, dict[str, Any], dict[str, Any]], Awaitable[object]]
"""``(user_id, metadata_update, user_context)``, like the SDK's ``update_user_metadata``."""


class UserMetadataStore(BaseStore):
    """Keeps each user's state under one key of their SuperTokens user metadata.

    What it guarantees, precisely:

    - Within *one process* (all its threads and event loops: async views and sync
      Flask/Django views alike), :meth:`update` holds a per-user lock around a fresh read
      (never the SDK's per-request cache), ``fn`` and the write, so updates are atomic: a
      TOTP step is accepted once, a recovery code redeemed once, attempts are counted
      exactly.
    - Everywhere: a write acknowledged by the core is durable (it is in the core's
      database), and a reader never sees a half-written document.

    What it does **not** guarantee: nothing serialises updates made from other processes
    or machines (several workers). The core's metadata API has no
    compare-and-set and the state is one document written whole, so the last write wins.
    Two requests for the same user whose read-modify-write windows (milliseconds) overlap
    in two workers can then both accept one TOTP code, recovery code or e-mailed/texted
    code, get more tries than the throttle or a code's own limit allows (up to the limit
    in each worker: e-mailed codes are checked in this state, not by the core), and lose
    one of the two changes, including a factor change: a device added or removed, or
    recovery codes regenerated (the old codes come back), or the epoch bump that revokes
    remembered devices, overwritten by the other request's stale copy. Run one worker process with
    it (threads are fine), or use :class:`~st_twofactor.stores.sql.SQLStore` or
    :class:`~st_twofactor.stores.redis.RedisStore`. User metadata is also app data: app code
    and the SuperTokens dashboard can edit or clear it, which removes the user's factors.
    """

    def __init__(
        self,
        *,
        key: str = METADATA_KEY,
        get_metadata: GetMetadata | None = None,
        update_metadata: UpdateMetadata | None = None,
    ) -> None:
        self._key = key
        self._get = get_metadata or _sdk_get_metadata
        self._put = update_metadata or _sdk_update_metadata
        self._locks = _UserLocks()

    async def load(
        self, user_id: str, user_context: dict[str, Any] | None = None
    ) -> TwoFactorState:
        return await self._read(user_id, {} if user_context is None else user_context)

    async def update(
        self,
        user_id: str,
        fn: Callable[[TwoFactorState], T],
        user_context: dict[str, Any] | None = None,
    ) -> T:
        async with self.transaction(user_id, user_context) as held:
            return await held.update(fn)

    @contextlib.asynccontextmanager
    async def transaction(
        self, user_id: str, user_context: dict[str, Any] | None = None
    ) -> AsyncIterator[Transaction]:
        """Holds the user's lock throughout: the state is read once (afresh, on first
        use) and each update writes it, so a flow of several steps costs one read.

        Within this process nothing else can change the state meanwhile; other processes
        can, as with every update of this store (see the class doc).
        """
        async with self._locks.hold(user_id):
            yield _HeldMetadata(self, user_id, {} if user_context is None else user_context)

    async def _read(self, user_id: str, context: dict[str, Any]) -> TwoFactorState:
        try:
            metadata = await self._get(user_id, context)
        except Exception as exc:
            raise StoreUnavailableError("cannot read the user's 2FA state") from exc
        document = metadata.get(self._key)
        return TwoFactorState() if document is None else TwoFactorState.from_dict(document)

    async def _write(self, user_id: str, document: str, context: dict[str, Any]) -> None:
        try:
            await self._put(user_id, {self._key: json.loads(document)}, context)
        except Exception as exc:
            raise StoreUnavailableError("cannot write the user's 2FA state") from exc


class _HeldMetadata:
    """A :class:`UserMetadataStore` transaction: the user's lock is held by its owner."""

    def __init__(self, store: UserMetadataStore, user_id: str, context: dict[str, Any]) -> None:
        self._store = store
        self._user_id = user_id
        self._context = context
        self._document: str | None = None  # the state as stored, once read

    async def _current(self) -> str:
        if self._document is None:
            # Not from the SDK's per-request cache: a read made before the lock was held
            # (by ``load``, say) may be stale by now.
            state = await self._store._read(self._user_id, uncached(self._context))
            self._document = encode_state(state)
        return self._document

    async def load(self) -> TwoFactorState:
        return decode_state(await self._current())

    async def update(self, fn: Callable[[TwoFactorState], T]) -> T:
        before = await self._current()
        state = decode_state(before)
        result = fn(state)  # if it raises, the held state is unchanged
        after = encode_state(state)
        if after != before:
            self._document = None  # unknown until the core acknowledges the write
            await self._store._write(self._user_id, after, self._context)
            self._document = after
        return result


def uncached(context: dict[str, Any]) -> dict[str, Any]:
    """``context`` without the SDK's per-request cache of core answers.

    supertokens-python caches GET answers in ``user_context["_default"]`` for the rest of
    a request, and a write by *another* request does not invalidate it. A read-modify-write
    must see the state as it is now, so it reads with a copy that carries no cache.
    """
    defaults = context.get("_default")
    if not isinstance(defaults, dict):
        return dict(context)
    fresh = {k: v for k, v in defaults.items() if k not in ("core_call_cache", "global_cache_tag")}
    return {**context, "_default": fresh}


async def _sdk_get_metadata(user_id: str, user_context: dict[str, Any]) -> Mapping[str, Any]:
    # Looked up on the SDK's module at each call, so that a test may replace it there.
    result = await usermetadata_api.get_user_metadata(user_id, user_context)
    metadata = result.metadata
    if not isinstance(metadata, Mapping):
        raise StoreUnavailableError("user metadata is not a JSON object")
    return metadata


async def _sdk_update_metadata(
    user_id: str, metadata_update: dict[str, Any], user_context: dict[str, Any]
) -> object:
    return await usermetadata_api.update_user_metadata(user_id, metadata_update, user_context)


class _UserLocks:
    """One lock per user for the whole process: every thread and event loop shares it.

    A :class:`threading.Lock` taken without blocking and retried after a short sleep, so
    a waiting task never blocks its event loop (the holder may be a task of that same
    loop) and a cancelled waiter leaves nothing held. Sync Flask/Django views each run
    their own loop in their own thread; one process-wide lock serialises them too.
    """

    POLL_SECONDS = 0.002
    TIMEOUT_SECONDS = 30.0

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, user_id: str) -> AsyncIterator[None]:
        with self._guard:
            lock, users = self._locks.get(user_id) or (threading.Lock(), 0)
            self._locks[user_id] = (lock, users + 1)
        try:
            await self._acquire(lock)
            try:
                yield
            finally:
                lock.release()
        finally:
            with self._guard:
                lock, users = self._locks[user_id]
                if users == 1:
                    del self._locks[user_id]
                else:
                    self._locks[user_id] = (lock, users - 1)

    async def _acquire(self, lock: threading.Lock) -> None:
        waited = 0.0
        while not lock.acquire(blocking=False):
            if waited >= self.TIMEOUT_SECONDS:
                raise StoreUnavailableError("the user's 2FA state stayed locked too long")
            await asyncio.sleep(self.POLL_SECONDS)
            waited += self.POLL_SECONDS

    def __len__(self) -> int:
        with self._guard:
            return len(self._locks)
