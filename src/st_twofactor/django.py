"""Django helpers: view decorators that require, or skip, the second factor.

::

    from st_twofactor.django import require_2fa, verify_session_without_2fa

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
session and 403 with ``claimValidationErrors`` when the 2FA is missing or too old. The
SDK's ``supertokens_python.framework.django.django_middleware.middleware`` must be
installed.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from supertokens_python.recipe.session.claims import BooleanClaim
from supertokens_python.recipe.session.framework.django import asyncio as async_framework
from supertokens_python.recipe.session.framework.django import syncio as sync_framework
from supertokens_python.recipe.session.interfaces import SessionClaimValidator

from .claim import SecondFactorClaim
from .session_override import ClaimValidatorsOverride, with_2fa, without_2fa

__all__ = ["require_2fa", "verify_session_without_2fa"]

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
