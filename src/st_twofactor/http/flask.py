"""Flask helpers: view decorators that require, or skip, the second factor.

::

    from st_twofactor.http.flask import get_session, require_2fa, verify_session_without_2fa

    @app.get("/api/orders")
    @require_2fa()
    def orders():
        user_id = get_session().get_user_id()
        ...

    @app.post("/api/transfer")
    @require_2fa(max_age=300)  # step-up: 2FA done in the last 5 minutes
    def transfer(): ...

    @app.get("/api/2fa-setup")
    @verify_session_without_2fa()  # works before 2FA is complete
    def setup(): ...

As with the SDK's ``verify_session``, the session is in ``flask.g.supertokens`` (read it
with :func:`get_session`); failures answer 401 without a session and 403 with
``claimValidationErrors`` when the 2FA is missing or too old.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from flask import Flask, Response, g, jsonify
from supertokens_python.recipe.session import SessionContainer
from supertokens_python.recipe.session.claims import BooleanClaim
from supertokens_python.recipe.session.framework.flask import verify_session
from supertokens_python.recipe.session.interfaces import SessionClaimValidator
from werkzeug.exceptions import InternalServerError

from st_twofactor.claim import SecondFactorClaim
from st_twofactor.http._outage import outage_message
from st_twofactor.session_override import with_2fa, without_2fa

__all__ = ["answer_core_outages", "get_session", "require_2fa", "verify_session_without_2fa"]

_View = TypeVar("_View", bound=Callable[..., Any])


def require_2fa(
    max_age: float | None = None,
    *,
    claim: BooleanClaim = SecondFactorClaim,
    anti_csrf_check: bool | None = None,
    check_database: bool = False,
    now: Callable[[], float] = time.time,
    also: Sequence[SessionClaimValidator] = (),
) -> Callable[[_View], _View]:
    """A view decorator that lets through only sessions that completed 2FA.

    :param max_age: step-up: also require the 2FA to be at most this many seconds old
        (403 on this view only; the session stays valid elsewhere).
    :param claim: the app's claim, when not :data:`SecondFactorClaim`.
    :param anti_csrf_check: passed to the SDK's ``verify_session``.
    :param check_database: passed to the SDK's ``verify_session``.
    :param now: the clock used for ``max_age``: pass the config's (``now=config.clock``),
        so that a test clock moves both the time 2FA is recorded and this check.
    :param also: more claim validators the route requires besides 2FA (a role, say:
        ``UserRoleClaim.validators.includes("admin")``); the app's global validators
        still apply too.
    """
    return verify_session(
        anti_csrf_check=anti_csrf_check,
        session_required=True,
        check_database=check_database,
        override_global_claim_validators=with_2fa(max_age, claim=claim, now=now, also=also),
    )


def verify_session_without_2fa(
    *,
    session_required: bool = True,
    claim: BooleanClaim = SecondFactorClaim,
    anti_csrf_check: bool | None = None,
    check_database: bool = False,
) -> Callable[[_View], _View]:
    """Like the SDK's ``verify_session()``, without the second-factor check.

    For views that must work between the first and the second factor: enrolment,
    the 2FA status, sign-out. Every other claim validator still applies.
    """
    return verify_session(
        anti_csrf_check=anti_csrf_check,
        session_required=session_required,
        check_database=check_database,
        override_global_claim_validators=without_2fa(claim),
    )


def get_session() -> SessionContainer:
    """The session verified for the current request by one of these decorators.

    :raises RuntimeError: no session was verified (the view is not decorated, or
        ``session_required=False`` and the request had none).
    """
    session: SessionContainer | None = getattr(g, "supertokens", None)
    if session is None:
        raise RuntimeError(
            "no verified session: decorate the view with require_2fa() or "
            "verify_session_without_2fa()"
        )
    return session


def answer_core_outages(app: Flask) -> None:
    """Answer 503 ``{"message": "the SuperTokens core is unreachable; try again later"}``
    when a request fails because the core cannot be reached, on every view: the SDK's
    own routes (sign-in, sign-up, session refresh) included, which would otherwise give
    a 500.

    It handles Flask's 500 (``InternalServerError``); a 500 handler the app registered
    before still answers every other error. Flask logs the error, as it logs every
    unhandled one, before the handler answers; in debug or testing mode Flask raises it
    instead.
    """
    previous = app.error_handler_spec.get(None, {}).get(500, {}).get(InternalServerError)

    def handle(error: InternalServerError) -> Any:
        cause = error.original_exception
        message = None if cause is None else outage_message(cause)
        if message is None:
            return error if previous is None else previous(error)
        response: Response = jsonify(message=message)
        response.status_code = 503
        return response

    app.register_error_handler(InternalServerError, handle)
