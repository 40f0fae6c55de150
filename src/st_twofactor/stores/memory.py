"""A store in a dict of this process: for tests and single-process development.

It keeps each state as the stored text (:mod:`st_twofactor.stores.state_codec`), like
every other store, so that what passes here passes there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from st_twofactor.stores.base import BaseStore
from st_twofactor.stores.state import TwoFactorState
from st_twofactor.stores.state_codec import decode_state, encode_state

__all__ = ["InMemoryStore"]

T = TypeVar("T")


class InMemoryStore(BaseStore):
    """Keeps states in a dict, as JSON documents. Atomic across tasks and threads of one
    process (``fn`` runs under a lock, with no ``await`` inside); nothing is persisted."""

    def __init__(self) -> None:
        self._documents: dict[str, str] = {}
        self._lock = threading.Lock()

    async def load(
        self, user_id: str, user_context: dict[str, Any] | None = None
    ) -> TwoFactorState:
        with self._lock:
            return self._read(user_id)

    async def update(
        self,
        user_id: str,
        fn: Callable[[TwoFactorState], T],
        user_context: dict[str, Any] | None = None,
    ) -> T:
        with self._lock:
            state = self._read(user_id)
            result = fn(state)
            self._documents[user_id] = encode_state(state)
        return result

    def _read(self, user_id: str) -> TwoFactorState:
        return decode_state(self._documents.get(user_id))
