"""Revoked sessions change nothing: the check every state access for a session passes.

Revoking all of a user's sessions (an admin reset, "sign out everywhere", a password
change that signs out everywhere) ends them in the core, but an access token stays valid
until it expires, and the 2FA routes do not ask the core about the session on every
request (that would cost a core call each). So the revocation is also recorded in the
user's 2FA state (:meth:`~st_twofactor.stores.state.TwoFactorState.revoke_sessions`, a time),
and each session carries when it started in its claim (``"s"``, see
:mod:`st_twofactor.claim`). A session that started at or before the user's last
revocation is refused with 401 by any read or change of the state made on its behalf.

How the check cannot be forgotten: the session override records, in the request's
``user_context``, every session the SDK hands out (:func:`bind_session`); the flows
reach the state only through :class:`~st_twofactor.kernel.request_store.RequestStore`, which
checks the bound session inside the store's atomic update, before the change is made.
A refused request so writes nothing, and a revocation that lands between two requests
of a flow is seen by the next one. Requests without a session (sign-in, admin functions,
the CLI) are not checked: they act for no session.

Sessions are compared by time: the time is the library's clock (``config.clock``) on
every worker, so workers' clocks must agree to well within the time a core call takes
(NTP does). The revocation is recorded *before* the core revokes the sessions, so a
session that passes the check after it was recorded was made after it.
"""

from __future__ import annotations

from typing import Any

from supertokens_python.recipe.session.claims import BooleanClaim
from supertokens_python.recipe.session.exceptions import UnauthorisedError
from supertokens_python.recipe.session.interfaces import SessionContainer

from st_twofactor.claim import SecondFactorClaim, session_started
from st_twofactor.stores.state import TwoFactorState

__all__ = ["SessionRevoked", "bind_session", "bound_session", "is_revoked"]

_BOUND = "_st2fa_session"
"""The ``user_context`` key of the session a request acts for."""


def bind_session(user_context: dict[str, Any], session: SessionContainer) -> None:
    """Record that this request acts for ``session``: every state access it makes
    through a :class:`SessionCheckingStore` is then checked against revocation."""
    user_context[_BOUND] = session


def bound_session(user_context: dict[str, Any] | None) -> SessionContainer | None:
    """The session :func:`bind_session` recorded for this request, if any."""
    session = (user_context or {}).get(_BOUND)
    return session if isinstance(session, SessionContainer) else None


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
