"""FastAPI helpers: route dependencies that require, or skip, the second factor.

::

    from st_twofactor.http.fastapi import require_2fa, verify_session_without_2fa

    @app.get("/api/orders")
    async def orders(session: SessionContainer = Depends(require_2fa())): ...

    @app.post("/api/transfer")  # step-up: 2FA done in the last 5 minutes
    async def transfer(session: SessionContainer = Depends(require_2fa(max_age=300))): ...

    @app.get("/api/2fa-setup")  # works before 2FA is complete
    async def setup(session: SessionContainer = Depends(verify_session_without_2fa())): ...

Failures are raised as the SDK's errors and answered by its middleware
(``app.add_middleware(get_middleware())``): 401 without a session, 403 with
``claimValidationErrors`` when the 2FA is missing or too old.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Sequence

from fastapi import Request
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from supertokens_python.recipe.session import SessionContainer
from supertokens_python.recipe.session.claims import BooleanClaim
from supertokens_python.recipe.session.framework.fastapi import verify_session
from supertokens_python.recipe.session.interfaces import SessionClaimValidator

from st_twofactor.claim import SecondFactorClaim
from st_twofactor.http._outage import outage_message
from st_twofactor.session_override import with_2fa, without_2fa

__all__ = ["answer_core_outages", "require_2fa", "verify_session_without_2fa"]


def require_2fa(
    max_age: float | None = None,
    *,
    claim: BooleanClaim = SecondFactorClaim,
    anti_csrf_check: bool | None = None,
    check_database: bool = False,
    now: Callable[[], float] = time.time,
    also: Sequence[SessionClaimValidator] = (),
) -> Callable[[Request], Awaitable[SessionContainer]]:
    """A dependency giving the session of a user who completed 2FA.

    :param max_age: step-up: also require the 2FA to be at most this many seconds old
        (403 on this route only; the session stays valid elsewhere).
    :param claim: the app's claim, when not :data:`SecondFactorClaim`.
    :param anti_csrf_check: passed to the SDK's ``verify_session``.
    :param check_database: passed to the SDK's ``verify_session`` (also catches revoked
        sessions before their access token expires, at the cost of a core call).
    :param now: the clock used for ``max_age``: pass the config's (``now=config.clock``),
        so that a test clock moves both the time 2FA is recorded and this check.
    :param also: more claim validators the route requires besides 2FA (a role, say:
        ``UserRoleClaim.validators.includes("admin")``); the app's global validators
        still apply too.
    """
    verify = verify_session(
        anti_csrf_check=anti_csrf_check,
        session_required=True,
        check_database=check_database,
        override_global_claim_validators=with_2fa(max_age, claim=claim, now=now, also=also),
    )

    async def dependency(request: Request) -> SessionContainer:
        session = await verify(request)
        if session is None:  # cannot happen with session_required=True
            raise RuntimeError("verify_session returned no session")
        return session

    return dependency


def verify_session_without_2fa(
    *,
    session_required: bool = True,
    claim: BooleanClaim = SecondFactorClaim,
    anti_csrf_check: bool | None = None,
    check_database: bool = False,
) -> Callable[[Request], Awaitable[SessionContainer | None]]:
    """A dependency like the SDK's ``verify_session()`` that does not require 2FA.

    For routes that must work between the first and the second factor: enrolment,
    the 2FA status, sign-out. Every other claim validator still applies.
    """
    return verify_session(
        anti_csrf_check=anti_csrf_check,
        session_required=session_required,
        check_database=check_database,
        override_global_claim_validators=without_2fa(claim),
    )


def answer_core_outages(app: Starlette) -> None:
    """Answer 503 ``{"message": "the SuperTokens core is unreachable; try again later"}``
    when a request fails because the core cannot be reached, on every route: the SDK's
    own (sign-in, sign-up, session refresh) included, which would otherwise give a 500.

    Call it after ``app.add_middleware(get_middleware())``, so that it wraps the SDK's
    middleware. Other errors pass through unchanged. ``app`` is a FastAPI app or any
    Starlette app.
    """
    app.add_middleware(_CoreOutages)


class _CoreOutages:
    """ASGI middleware: an outage error raised before any response was started -> 503."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_and_note(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        except Exception as error:
            message = None if started else outage_message(error)
            if message is None:
                raise
            body = json.dumps({"message": message}).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": body})
