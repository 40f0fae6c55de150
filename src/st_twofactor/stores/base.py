"""The contract every store keeps: :class:`Store`, and :class:`BaseStore` to build one on.

A user's state is one small document (:class:`~st_twofactor.stores.state.TwoFactorState`)
and every change to it is a read-modify-write through :meth:`Store.update`: a flow passes
a function that checks and changes the state (use a TOTP step, consume a recovery code,
count an attempt), and the store applies it atomically. A flow of several steps may run
them in one :meth:`Store.transaction`, so that a store that can reads the state once for
all of them.

Every store keeps the state as the text of
:func:`~st_twofactor.stores.state_codec.encode_state`. A store that cannot be reached
raises :class:`~st_twofactor.errors.StoreUnavailableError` and callers fail closed; a
stored document that cannot be parsed raises
:class:`~st_twofactor.errors.MalformedDataError`, never a silent reset.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol, TypeVar

from st_twofactor.stores.state import TwoFactorState

__all__ = ["BaseStore", "Store", "Transaction"]

T = TypeVar("T")


class Store(Protocol):
    """The storage interface for users' 2FA state. Every method is atomic per user."""

    async def load(
        self, user_id: str, user_context: dict[str, Any] | None = None
    ) -> TwoFactorState:
        """A snapshot of the user's state (a fresh state if none is stored)."""
        ...

    async def update(
        self,
        user_id: str,
        fn: Callable[[TwoFactorState], T],
        user_context: dict[str, Any] | None = None,
    ) -> T:
        """Run ``fn`` on the user's state and store what it changed, atomically.

        ``fn`` mutates the state it is given and returns a result, which ``update``
        returns. If ``fn`` raises, nothing is stored. Stores that use optimistic
        concurrency may call ``fn`` more than once: keep it free of side effects.
        """
        ...

    def transaction(
        self, user_id: str, user_context: dict[str, Any] | None = None
    ) -> contextlib.AbstractAsyncContextManager[Transaction]:
        """Several reads and updates of one user's state in one flow, as a context manager.

        Each :meth:`Transaction.update` is as atomic as :meth:`update`. A store may also
        keep the user's state between them, so that a flow reads it once instead of once
        per step (:class:`~st_twofactor.stores.metadata.UserMetadataStore` does, under its
        per-user lock). Only store calls and core calls belong inside: nothing that runs
        the app's code, which could wait for the same user's state.
        """
        ...


class Transaction(Protocol):
    """One user's state within :meth:`Store.transaction`."""

    async def load(self) -> TwoFactorState:
        """A snapshot of the state (changing it changes nothing stored)."""
        ...

    async def update(self, fn: Callable[[TwoFactorState], T]) -> T:
        """:meth:`Store.update` for this user."""
        ...


class _EachCallAlone:
    """A transaction whose every call goes to the store as it would outside one."""

    def __init__(self, store: Store, user_id: str, user_context: dict[str, Any] | None) -> None:
        self._store = store
        self._user_id = user_id
        self._user_context = user_context

    async def load(self) -> TwoFactorState:
        return await self._store.load(self._user_id, self._user_context)

    async def update(self, fn: Callable[[TwoFactorState], T]) -> T:
        return await self._store.update(self._user_id, fn, self._user_context)


class BaseStore(ABC):
    """A :class:`Store` from ``load`` and an atomic ``update``; ``transaction`` runs each
    call on its own unless a store does better."""

    @abstractmethod
    async def load(
        self, user_id: str, user_context: dict[str, Any] | None = None
    ) -> TwoFactorState: ...

    @abstractmethod
    async def update(
        self,
        user_id: str,
        fn: Callable[[TwoFactorState], T],
        user_context: dict[str, Any] | None = None,
    ) -> T: ...

    @contextlib.asynccontextmanager
    async def transaction(
        self, user_id: str, user_context: dict[str, Any] | None = None
    ) -> AsyncIterator[Transaction]:
        """Each call on its own (a store may do better: see :meth:`Store.transaction`)."""
        yield _EachCallAlone(self, user_id, user_context)
