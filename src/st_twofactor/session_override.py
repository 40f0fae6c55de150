"""The session recipe override: put the claim in new sessions and enforce it everywhere.

Use it in an existing app's ``init()``::

    session.init(override=SessionOverrideConfig(functions=override_session_functions(config)))

It follows the SDK's override shape (take the original implementation, wrap two of its
functions, return it), so it composes with an app's own override in either order::

    functions=lambda impl: my_override(override_session_functions(config)(impl))
    functions=lambda impl: override_session_functions(config)(my_override(impl))

What it changes:

- ``create_new_session`` (a first-factor sign-in or sign-up) writes the claim into the
  new access token: ``False`` unless the policy says this user need not do 2FA *and* the
  user has no factor enrolled. A value for the claim passed in by the caller is
  overwritten, so no code path can create a pre-completed session by accident.
  The claim also records when the session started (revocation, below).
- ``get_global_claim_validators`` adds ``claim.validators.has_value(True)`` (which also
  ends a completion by an enrolment grace period at its deadline:
  :func:`~st_twofactor.claim.completed_validator`), so every ``verify_session()``
  answers 403 (invalid claim) until the second factor is verified.
- ``get_session`` records the session in the request's ``user_context``, so every read
  or change of the 2FA state made for it checks that it was not revoked
  (:mod:`st_twofactor.kernel.revocation`).
- ``revoke_all_sessions_for_user`` ("sign out everywhere", an admin reset) first records
  the revocation in the user's 2FA state, so the revoked sessions can change nothing
  there while their access tokens are still unexpired.

Routes that must work before 2FA (enrolment, the 2FA status, sign-out) opt out with
:func:`without_2fa`, or the framework helpers built on it.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from supertokens_python.recipe.session.claims import BooleanClaim
from supertokens_python.recipe.session.interfaces import (
    RecipeInterface,
    SessionClaimValidator,
    SessionContainer,
)
from supertokens_python.types import MaybeAwaitable, RecipeUserId

from st_twofactor.claim import (
    EXEMPT,
    GRACE,
    REMEMBERED,
    SecondFactorClaim,
    claim_value,
    completed_validator,
    recently_completed,
)
from st_twofactor.errors import ConfigurationError
from st_twofactor.http._setup_check import check_after_init
from st_twofactor.kernel import grace
from st_twofactor.kernel.completion import REMEMBER_COOKIE, REMEMBER_HEADER
from st_twofactor.kernel.required import is_2fa_required
from st_twofactor.kernel.revocation import bind_session
from st_twofactor.mfa_claim import MFA_CLAIM_KEY, mfa_validator

if TYPE_CHECKING:
    from st_twofactor.config import TwoFactorConfig
    from st_twofactor.runtime import TwoFactor

__all__ = [
    "ClaimValidatorsOverride",
    "SessionFunctionsOverride",
    "is_2fa_required",
    "override_session_functions",
    "with_2fa",
    "without_2fa",
]

SessionFunctionsOverride = Callable[[RecipeInterface], RecipeInterface]
"""The shape of ``SessionOverrideConfig(functions=...)``."""

ClaimValidatorsOverride = Callable[
    [list[SessionClaimValidator], SessionContainer, dict[str, Any]],
    list[SessionClaimValidator],
]
"""The shape of ``verify_session(override_global_claim_validators=...)``."""


def override_session_functions(
    config: TwoFactorConfig | None = None, *, claim: BooleanClaim = SecondFactorClaim
) -> SessionFunctionsOverride:
    """Make the session override for ``SessionOverrideConfig(functions=...)``.

    :param config: the app's :class:`~st_twofactor.config.TwoFactorConfig`; its
        ``required`` policy and state store decide the claim's initial value. Without a
        config everyone must do 2FA (the claim always starts ``False``) and no store is
        read: the legacy guide's behaviour, needing no secret key.
    :param claim: the claim to use (see :func:`~st_twofactor.claim.make_second_factor_claim`).
    """

    # Imported here, not with the module: the runtime loads every factor, which importing
    # the package (and with_2fa, without_2fa) does not need.
    from st_twofactor.runtime import TwoFactor

    runtime = None if config is None else TwoFactor.of(config, claim)

    def override(original_implementation: RecipeInterface) -> RecipeInterface:
        check_after_init(config)  # an ERROR at start-up if no route can complete the claim
        original_create_new_session = original_implementation.create_new_session
        original_get_global_claim_validators = original_implementation.get_global_claim_validators
        original_get_session = original_implementation.get_session
        original_revoke_all = original_implementation.revoke_all_sessions_for_user
        now = time.time if config is None else config.clock
        # made once: every protected request asks for it (keeps the per-request cost down)
        completed = completed_validator(claim, now)
        mfa = mfa_validator(completed)

        async def create_new_session(
            user_id: str,
            recipe_user_id: RecipeUserId,
            access_token_payload: dict[str, Any] | None,
            session_data_in_database: dict[str, Any] | None,
            disable_anti_csrf: bool | None,
            tenant_id: str,
            user_context: dict[str, Any],
        ) -> SessionContainer:
            method, until = await _initial_value(
                runtime, user_id=user_id, tenant_id=tenant_id, user_context=user_context
            )
            started = now()
            value = claim_value(
                claim, method, now=started, started=started, until=until, user_context=user_context
            )
            payload = {**(access_token_payload or {}), **value}
            return await original_create_new_session(
                user_id=user_id,
                recipe_user_id=recipe_user_id,
                access_token_payload=payload,
                session_data_in_database=session_data_in_database,
                disable_anti_csrf=disable_anti_csrf,
                tenant_id=tenant_id,
                user_context=user_context,
            )

        def get_global_claim_validators(
            tenant_id: str,
            user_id: str,
            recipe_user_id: RecipeUserId,
            claim_validators_added_by_other_recipes: list[SessionClaimValidator],
            user_context: dict[str, Any],
        ) -> MaybeAwaitable[list[SessionClaimValidator]]:
            # Stay synchronous when the wrapped function is (the SDK's default is), so an
            # app override wrapped around this one can use the result as a plain list.
            validators = original_get_global_claim_validators(
                tenant_id=tenant_id,
                user_id=user_id,
                recipe_user_id=recipe_user_id,
                claim_validators_added_by_other_recipes=claim_validators_added_by_other_recipes,
                user_context=user_context,
            )
            if inspect.isawaitable(validators):
                return _add_later(validators, claim, completed, mfa)
            return _with_validator(validators, claim, completed, mfa)

        async def get_session(
            access_token: str | None,
            anti_csrf_token: str | None = None,
            anti_csrf_check: bool | None = None,
            session_required: bool | None = None,
            check_database: bool | None = None,
            override_global_claim_validators: Callable[
                [list[SessionClaimValidator], SessionContainer, dict[str, Any]],
                MaybeAwaitable[list[SessionClaimValidator]],
            ]
            | None = None,
            user_context: dict[str, Any] | None = None,
        ) -> SessionContainer | None:
            session = await original_get_session(
                access_token=access_token,
                anti_csrf_token=anti_csrf_token,
                anti_csrf_check=anti_csrf_check,
                session_required=session_required,
                check_database=check_database,
                override_global_claim_validators=override_global_claim_validators,
                user_context=user_context,
            )
            if session is not None and user_context is not None:
                bind_session(user_context, session)
            return session

        async def revoke_all_sessions_for_user(
            user_id: str,
            revoke_sessions_for_linked_accounts: bool,
            tenant_id: str,
            revoke_across_all_tenants: bool,
            user_context: dict[str, Any],
        ) -> list[str]:
            if runtime is not None:  # recorded first: see st_twofactor.kernel.revocation
                await runtime.record_revocation(user_id, user_context)
            return await original_revoke_all(
                user_id=user_id,
                revoke_sessions_for_linked_accounts=revoke_sessions_for_linked_accounts,
                tenant_id=tenant_id,
                revoke_across_all_tenants=revoke_across_all_tenants,
                user_context=user_context,
            )

        original_implementation.create_new_session = create_new_session  # type: ignore[method-assign]
        original_implementation.get_session = get_session  # type: ignore[method-assign]
        original_implementation.revoke_all_sessions_for_user = revoke_all_sessions_for_user  # type: ignore[method-assign]
        original_implementation.get_global_claim_validators = get_global_claim_validators  # type: ignore[method-assign]
        return original_implementation

    return override


async def _initial_value(
    runtime: TwoFactor | None,
    *,
    user_id: str,
    tenant_id: str,
    user_context: dict[str, Any],
) -> tuple[str | None, float | None]:
    """How a session a first factor is creating starts out completed (the claim's ``m``),
    or ``None`` when it starts not completed (the claim ``False``); and for a grace
    completion, until when (seconds).

    Completed only for a device remembered by a valid token (:data:`REMEMBERED`: never
    fresh, S14); for a user the policy exempts from 2FA who has no factor enrolled
    (:data:`EXEMPT`; a user who enrolled one opted in, and is asked for it); or for a
    user who must do 2FA, has no factor and is within the enrolment grace period
    (:data:`GRACE`, started by this sign-in if it is their first such one; see
    :mod:`st_twofactor.kernel.grace`). This is the one place that decides it.
    """
    if runtime is None:
        return None, None
    config = runtime.config
    if config.remember_device and await _is_remembered_device(runtime, user_id, user_context):
        return REMEMBERED, None
    required = await is_2fa_required(config, user_id, tenant_id, user_context)
    period = config.grace_seconds
    if required and period is None:  # not completed whatever the state holds: not read
        return None, None
    state = await runtime.store.load(user_id, user_context)
    if state.factor_ids():
        return None, None
    if not required:
        return EXEMPT, None
    if period is None:
        return None, None
    now = config.clock()
    if state.grace_started_at is None:  # the first sign-in that needs 2FA: it starts now
        state = await runtime.store.update(
            user_id, lambda s: (grace.start(s, now), s)[1], user_context
        )
    until = grace.open_until(state, period, now)
    return (GRACE, until) if until is not None else (None, None)


async def _is_remembered_device(
    runtime: TwoFactor, user_id: str, user_context: dict[str, Any]
) -> bool:
    """Whether the sign-in request carries a valid remember-device token for this user.

    The token comes from the HttpOnly cookie, or from a header for clients that keep
    tokens themselves. It must be signed by one of the app's keys, unexpired, issued
    to this user, carry the user's current factor epoch (S11) and name a device the user
    still has remembered (:mod:`st_twofactor.kernel.trusted_devices`).
    """
    defaults = user_context.get("_default")
    request = defaults.get("request") if isinstance(defaults, dict) else None
    if request is None:
        return False
    tokens = [
        t for t in (request.get_cookie(REMEMBER_COOKIE), request.get_header(REMEMBER_HEADER)) if t
    ]
    if not tokens:
        return False
    return await runtime.trusted_devices.recognise(user_id, tokens, user_context)


def _with_validator(
    validators: list[SessionClaimValidator],
    claim: BooleanClaim,
    completed: SessionClaimValidator,
    mfa: SessionClaimValidator,
) -> list[SessionClaimValidator]:
    """``validators`` with the 2FA checks: ``completed`` (``2fa-completed``) and, beside
    it, ``st-mfa`` (:mod:`st_twofactor.mfa_claim`), so a refusal names both."""
    added: list[SessionClaimValidator] = []
    if not any(v.claim is claim or v.id == claim.key for v in validators):
        added.append(completed)
    if not any(v.id == MFA_CLAIM_KEY for v in validators):
        added.append(mfa)
    return [*validators, *added]


async def _add_later(
    validators: Awaitable[list[SessionClaimValidator]],
    claim: BooleanClaim,
    completed: SessionClaimValidator,
    mfa: SessionClaimValidator,
) -> list[SessionClaimValidator]:
    return _with_validator(await validators, claim, completed, mfa)


def _is_for(validator: SessionClaimValidator, claim: BooleanClaim) -> bool:
    """Whether ``validator`` is one of the 2FA checks (``2fa-completed`` or ``st-mfa``)."""
    return validator.claim is claim or validator.id in (claim.key, MFA_CLAIM_KEY)


def without_2fa(claim: BooleanClaim = SecondFactorClaim) -> ClaimValidatorsOverride:
    """An ``override_global_claim_validators`` for routes that work before 2FA.

    ``verify_session(override_global_claim_validators=without_2fa())`` still needs a
    valid session (401 without one) and keeps every other claim validator; it drops
    only the second-factor check. Use it for enrolment, 2FA status and sign-out routes.
    """

    def override(
        global_validators: list[SessionClaimValidator],
        session: SessionContainer,
        user_context: dict[str, Any],
    ) -> list[SessionClaimValidator]:
        return [v for v in global_validators if not _is_for(v, claim)]

    return override


def with_2fa(
    max_age: float | None = None,
    *,
    claim: BooleanClaim = SecondFactorClaim,
    now: Callable[[], float] = time.time,
    also: Sequence[SessionClaimValidator] = (),
) -> ClaimValidatorsOverride:
    """An ``override_global_claim_validators`` that requires a completed 2FA.

    Without ``max_age`` it makes sure the claim's validator is present, so the route is
    protected even in an app that did not install :func:`override_session_functions`.
    With ``max_age`` (step-up) it replaces that validator with
    :func:`~st_twofactor.claim.recently_completed`: a 2FA older than ``max_age`` seconds
    fails this route with 403 and leaves the session valid for every other route.

    :param now: the clock ``max_age`` is measured with; pass the config's
        (``now=config.clock``) so a test that moves the library's clock moves this one.
    :param also: more claim validators the route requires, e.g. a role
        (``UserRoleClaim.validators.includes("admin")``): added to the app's global
        validators (which all still apply) and the 2FA check; a session must pass all.
    """
    step_up = None if max_age is None else recently_completed(max_age, claim=claim, now=now)
    completed = completed_validator(claim, now)
    mfa = mfa_validator(completed)
    extra = list(also)
    if not all(isinstance(v, SessionClaimValidator) for v in extra):
        raise ConfigurationError("also= takes claim validators, e.g. [Claim.validators.has(...)]")

    def override(
        global_validators: list[SessionClaimValidator],
        session: SessionContainer,
        user_context: dict[str, Any],
    ) -> list[SessionClaimValidator]:
        if step_up is None:
            return [*_with_validator(global_validators, claim, completed, mfa), *extra]
        kept = (v for v in global_validators if not _is_for(v, claim))
        return [*kept, step_up, mfa, *extra]

    return override
