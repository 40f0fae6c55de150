"""Django helpers: the middleware, and view decorators that require, or skip, the second
factor.

::

    # settings.py
    MIDDLEWARE = ["st_twofactor.http.django.Middleware", ...]  # in place of the SDK's

    # views.py
    from st_twofactor.http.django import require_2fa, verify_session_without_2fa

    @require_2fa()
    def orders(request):
        user_id = request.supertokens.get_user_id()
        ...

    @require_2fa(max_age=300)  # step-up; async views work too
    async def transfer(request): ...

    @verify_session_without_2fa()  # works before 2FA is complete
    def setup(request): ...

The decorators wrap the SDK's Django ``verify_session`` (sync or async, chosen from the
view), so the session is in ``request.supertokens``, and failures answer 401 without a
session and 403 with ``claimValidationErrors`` when the 2FA is missing or too old. They
need the SDK's middleware: :class:`Middleware`, or the SDK's own
``supertokens_python.framework.django.django_middleware.middleware``.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from supertokens_python.framework.django.django_middleware import middleware as sdk_middleware
from supertokens_python.recipe.session.claims import BooleanClaim
from supertokens_python.recipe.session.framework.django import asyncio as async_framework
from supertokens_python.recipe.session.framework.django import syncio as sync_framework
from supertokens_python.recipe.session.interfaces import SessionClaimValidator

from st_twofactor.claim import SecondFactorClaim
from st_twofactor.http._outage import outage_message
from st_twofactor.session_override import ClaimValidatorsOverride, with_2fa, without_2fa

__all__ = ["Middleware", "require_2fa", "verify_session_without_2fa"]

_View = TypeVar("_View", bound=Callable[..., Any])


class Middleware:
    """The SDK's Django middleware, answering 503 while the SuperTokens core is down.

    List ``"st_twofactor.http.django.Middleware"`` in ``MIDDLEWARE`` in place of the SDK's
    ``supertokens_python.framework.django.django_middleware.middleware`` (not both: the
    SDK's would run twice). A request that fails because the core cannot be reached, on
    the SDK's own routes (sign-in, sign-up, session refresh) or in a view, answers 503
    ``{"message": "the SuperTokens core is unreachable; try again later"}`` instead of a
    500 (the debug page with ``DEBUG``), as the 2FA routes do. Other errors pass through
    unchanged. It is a synchronous middleware, like the SDK's; under ASGI Django runs it
    in a worker thread.
    """

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self._sdk: Callable[[Any], Any] = sdk_middleware(get_response)

    def __call__(self, request: Any) -> Any:
        try:
            return self._sdk(request)
        except Exception as error:  # the SDK's routes: they run in its middleware
            answer = self.process_exception(request, error)
            if answer is None:
                raise
            return answer

    def process_exception(self, request: Any, exception: Exception) -> Any:
        """The 503 for an outage, else None (Django calls this for a view's exception)."""
        message = outage_message(exception)
        if message is None:
            return None
        from django.http import JsonResponse  # type: ignore[import-untyped]

        return JsonResponse({"message": message}, status=503)


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
    return _decorator(
        with_2fa(max_age, claim=claim, now=now, also=also),
        session_required=True,
        anti_csrf_check=anti_csrf_check,
        check_database=check_database,
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
    return _decorator(
        without_2fa(claim),
        session_required=session_required,
        anti_csrf_check=anti_csrf_check,
        check_database=check_database,
    )


def _decorator(
    validators: ClaimValidatorsOverride,
    *,
    session_required: bool,
    anti_csrf_check: bool | None,
    check_database: bool,
) -> Callable[[_View], _View]:
    def decorate(view: _View) -> _View:
        framework = async_framework if inspect.iscoroutinefunction(view) else sync_framework
        verify: Callable[[_View], _View] = framework.verify_session(
            anti_csrf_check=anti_csrf_check,
            session_required=session_required,
            check_database=check_database,
            override_global_claim_validators=validators,
        )
        return verify(view)

    return decorate
