"""Revoked sessions change nothing: the check every state access for a session passes.

Revoking all of a user's sessions (an admin reset, "sign out everywhere", a password
change that signs out everywhere) ends them in the core, but an access token stays valid
until it expires, and the 2FA routes do not ask the core about the session on every
request (that would cost a core call each). So the revocation is also recorded in the
user's 2FA state (:meth:`~st_twofactor.state.TwoFactorState.revoke_sessions`, a time),
and each session carries when it started in its claim (``"s"``, see
:mod:`st_twofactor.claim`). A session that started at or before the user's last
revocation is refused with 401 by any read or change of the state made on its behalf.

How the check cannot be forgotten: the session override records, in the request's
``user_context``, every session the SDK hands out (:func:`bind_session`); the flows
reach the state only through :class:`SessionCheckingStore`, which checks the bound
session inside the store's atomic update, before the change is made. A refused request
so writes nothing, and a revocation that lands between two requests of a flow is seen by
the next one. Requests without a session (sign-in, admin functions, the CLI) are not
checked: they act for no session.

Sessions are compared by time: the time is the library's clock (``config.clock``) on
every worker, so workers' clocks must agree to well within the time a core call takes
(NTP does). The revocation is recorded *before* the core revokes the sessions, so a
session that passes the check after it was recorded was made after it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from supertokens_python.recipe.session.claims import BooleanClaim
from supertokens_python.recipe.session.exceptions import UnauthorisedError
from supertokens_python.recipe.session.interfaces import SessionContainer

from .claim import SecondFactorClaim, session_started
from .state import TwoFactorState
from .store import Store, Transaction

__all__ = ["SessionCheckingStore", "bind_session", "is_revoked"]

T = TypeVar("T")

_BOUND = "_st2fa_session"
"""The ``user_context`` key of the session a request acts for."""


def bind_session(user_context: dict[str, Any], session: SessionContainer) -> None:
    """Record that this request acts for ``session``: every state access it makes
    through a :class:`SessionCheckingStore` is then checked against revocation."""
    user_context[_BOUND] = session


def is_revoked(
    state: TwoFactorState, payload: dict[str, Any], claim: BooleanClaim = SecondFactorClaim
) -> bool:
    """Whether the session with this access token payload was revoked by a revocation of
    all the user's sessions recorded in ``state``.

    A session that does not say when it started (made before the library recorded it)
    counts as revoked once any revocation is recorded: the safe side.
    """
    revoked_at = state.sessions_revoked_at
    if revoked_at is None:
        return False
    started = session_started(payload, claim=claim)
    return started is None or started <= revoked_at


class SessionRevoked(UnauthorisedError):
    """A revoked session asked to read or change the 2FA state: answered 401 by the SDK,
    with the tokens cleared (the frontend signs the user out)."""

    def __init__(self) -> None:
        super().__init__("the session was revoked", clear_tokens=True)


class SessionCheckingStore:
    """A :class:`~st_twofactor.store.Store` that refuses every access made on behalf of a
    revoked session (see the module doc); otherwise the wrapped store, unchanged."""

    def __init__(self, store: Store, claim: BooleanClaim = SecondFactorClaim) -> None:
        self.store = store
        self.claim = claim

    def _check(
        self, user_id: str, user_context: dict[str, Any] | None, state: TwoFactorState
    ) -> None:
        session = (user_context or {}).get(_BOUND)
        if not isinstance(session, SessionContainer) or session.get_user_id() != user_id:
            return
        if is_revoked(state, session.get_access_token_payload(), self.claim):
            raise SessionRevoked

    def _checked(
        self, user_id: str, user_context: dict[str, Any] | None, fn: Callable[[TwoFactorState], T]
    ) -> Callable[[TwoFactorState], T]:
        def checked(state: TwoFactorState) -> T:
            self._check(user_id, user_context, state)  # raises before fn changes anything
            return fn(state)

        return checked

    async def load(
        self, user_id: str, user_context: dict[str, Any] | None = None
    ) -> TwoFactorState:
        state = await self.store.load(user_id, user_context)
        self._check(user_id, user_context, state)
        return state

    async def update(
        self,
        user_id: str,
        fn: Callable[[TwoFactorState], T],
        user_context: dict[str, Any] | None = None,
    ) -> T:
        return await self.store.update(
            user_id, self._checked(user_id, user_context, fn), user_context
        )

    @contextlib.asynccontextmanager
    async def transaction(
        self, user_id: str, user_context: dict[str, Any] | None = None
    ) -> AsyncIterator[Transaction]:
        async with self.store.transaction(user_id, user_context) as inner:
            yield _CheckedTransaction(self, inner, user_id, user_context)


class _CheckedTransaction:
    """A transaction of a :class:`SessionCheckingStore`: every call checked the same way."""

    def __init__(
        self,
        store: SessionCheckingStore,
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
        return state

    async def update(self, fn: Callable[[TwoFactorState], T]) -> T:
        return await self._inner.update(self._store._checked(self._user_id, self._user_context, fn))
