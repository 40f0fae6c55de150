"""The store every flow reads and writes a user's state through, for one request.

It wraps the configured store and applies, inside each atomic update, the two rules that
depend on who is asking rather than on what is asked:

- revocation (I2): an access made for a session that was revoked is refused with 401
  before anything changes (:mod:`st_twofactor.kernel.revocation`);
- the device's failure count (I4): a request from one of the user's known devices sees,
  and changes, the known-device throttle; any other request the shared one
  (:mod:`st_twofactor.kernel.known_devices`). The flows read ``state.throttle`` and never need
  to know which.

Requests without a session (sign-in, the admin functions, the CLI) pass unchecked, and
count against the shared throttle.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from supertokens_python.recipe.session.claims import BooleanClaim

from st_twofactor.claim import SecondFactorClaim
from st_twofactor.kernel.known_devices import KnownDevices
from st_twofactor.kernel.revocation import SessionRevoked, bound_session, is_revoked
from st_twofactor.stores.base import Store, Transaction
from st_twofactor.stores.state import TwoFactorState

__all__ = ["RequestStore"]

T = TypeVar("T")


class RequestStore:
    """A :class:`~st_twofactor.stores.base.Store` that applies the per-request rules of the
    module doc; otherwise the wrapped store, unchanged."""

    def __init__(
        self,
        store: Store,
        claim: BooleanClaim = SecondFactorClaim,
        known_devices: KnownDevices | None = None,
    ) -> None:
        self.store = store
        self.claim = claim
        self.known_devices = known_devices

    def _check(
        self, user_id: str, user_context: dict[str, Any] | None, state: TwoFactorState
    ) -> None:
        session = bound_session(user_context)
        if session is None or session.get_user_id() != user_id:
            return
        if is_revoked(state, session.get_access_token_payload(), self.claim):
            raise SessionRevoked

    def _known(self, user_id: str, user_context: dict[str, Any] | None) -> bool:
        devices = self.known_devices
        return devices is not None and devices.is_known(user_id, user_context)

    def _applied(
        self, user_id: str, user_context: dict[str, Any] | None, fn: Callable[[TwoFactorState], T]
    ) -> Callable[[TwoFactorState], T]:
        known = self._known(user_id, user_context)

        def applied(state: TwoFactorState) -> T:
            self._check(user_id, user_context, state)  # raises before fn changes anything
            if not known:
                return fn(state)
            _swap_throttles(state)
            try:
                return fn(state)
            finally:
                _swap_throttles(state)

        return applied

    async def load(
        self, user_id: str, user_context: dict[str, Any] | None = None
    ) -> TwoFactorState:
        state = await self.store.load(user_id, user_context)
        self._check(user_id, user_context, state)
        if self._known(user_id, user_context):
            _swap_throttles(state)  # a snapshot: what this device's attempts would meet
        return state

    async def update(
        self,
        user_id: str,
        fn: Callable[[TwoFactorState], T],
        user_context: dict[str, Any] | None = None,
    ) -> T:
        return await self.store.update(
            user_id, self._applied(user_id, user_context, fn), user_context
        )

    @contextlib.asynccontextmanager
    async def transaction(
        self, user_id: str, user_context: dict[str, Any] | None = None
    ) -> AsyncIterator[Transaction]:
        async with self.store.transaction(user_id, user_context) as inner:
            yield _RequestTransaction(self, inner, user_id, user_context)


class _RequestTransaction:
    """A transaction of a :class:`RequestStore`: every call goes through its rules."""

    def __init__(
        self,
        store: RequestStore,
        inner: Transaction,
        user_id: str,
        user_context: dict[str, Any] | None,
    ) -> None:
        self._store = store
        self._inner = inner
        self._user_id = user_id
        self._user_context = user_context

    async def load(self) -> TwoFactorState:
        state = await self._inner.load()
        self._store._check(self._user_id, self._user_context, state)
        if self._store._known(self._user_id, self._user_context):
            _swap_throttles(state)
        return state

    async def update(self, fn: Callable[[TwoFactorState], T]) -> T:
        return await self._inner.update(self._store._applied(self._user_id, self._user_context, fn))


def _swap_throttles(state: TwoFactorState) -> None:
    state.throttle, state.known_throttle = state.known_throttle, state.throttle
