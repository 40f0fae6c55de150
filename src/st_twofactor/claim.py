"""The second-factor claim: "has this session completed 2FA?", carried in the access token.

The claim is a SuperTokens :class:`BooleanClaim` stored in the signed access token
payload as ``{"2fa-completed": {"v": <bool>, "t": <ms>, "m": <how>, "s": <ms>}}``. ``v``
is ``False`` when a first factor creates the session and becomes ``True`` when a second
factor is verified *in that session* (:func:`mark_completed`); ``t`` is when the value
was set; ``m`` says how it was completed: the id of the factor presented,
``"remembered"`` when a remember-device token completed it at sign-in (S14),
``"not-required"`` when the policy exempted a user with no factor, or ``"grace"`` when a
user who must do 2FA and has no factor postponed enrolment (then ``u`` is the end of the
enrolment grace period: past it the session no longer counts as completed); ``s`` is when the
session started, which tells whether a later revocation of all the user's sessions
covers it (:mod:`st_twofactor.kernel.revocation`). Times are milliseconds since the epoch.

Freshness (step-up routes, factor changes, pinning a contact) is decided by one function,
:func:`stale_reason`: only a factor presented in this session within the window makes a
session fresh. A remembered, exempted or grace completion, or one that does not say how it was
made (an earlier version's or the legacy guide's claim), passes ``require_2fa()`` but
never a check that needs a recent 2FA.

The claim's ``fetch_value`` always answers ``False``: the SDK refetches a claim that is
missing from a payload, so a session made before the library was installed (or by code
that bypassed the session override) is treated as *not* completed, never as completed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from supertokens_python.recipe.session.claim_base_classes.primitive_claim import HasValueSCV
from supertokens_python.recipe.session.claims import BooleanClaim
from supertokens_python.recipe.session.constants import protected_props
from supertokens_python.recipe.session.interfaces import (
    ClaimValidationResult,
    SessionClaimValidator,
    SessionContainer,
)
from supertokens_python.types import RecipeUserId

from st_twofactor.errors import ConfigurationError
from st_twofactor.mfa_claim import mfa_entry

__all__ = [
    "CLAIM_KEY",
    "SecondFactorClaim",
    "completed_at",
    "completed_validator",
    "grace_until",
    "is_completed",
    "make_second_factor_claim",
    "mark_completed",
    "recently_completed",
    "stale_reason",
]

CLAIM_KEY = "2fa-completed"
"""The default key of the claim in the access token payload. It must match the claim
id the frontend checks (SuperTokens' frontend SDKs read claims by this key)."""

REMEMBERED = "remembered"
"""The claim's ``m`` when a remember-device token completed 2FA at sign-in: never fresh."""

EXEMPT = "not-required"
"""The claim's ``m`` when the policy exempts a user with no factor at sign-in: never fresh."""

GRACE = "grace"
"""The claim's ``m`` when a user who must do 2FA and has no factor postponed enrolment
within the enrolment grace period: never fresh, and completed only until the claim's
``u`` (:func:`grace_until`)."""

NOT_PRESENTED = frozenset({REMEMBERED, EXEMPT, GRACE})
"""The claim's ``m`` values that record a completion without a factor presented in the
session: such a session passes ``require_2fa()``, never a freshness check."""

STARTED = "s"
"""The key, in the claim's entry, of when the session started (ms since the epoch)."""

UNTIL = "u"
"""The key, in the claim's entry, of when a grace completion ends (ms since the epoch)."""


def _not_completed(
    user_id: str,
    recipe_user_id: RecipeUserId,
    tenant_id: str,
    current_payload: dict[str, Any],
    user_context: dict[str, Any],
) -> bool:
    """The value of a claim the SDK has to (re)fetch: never completed.

    Completion is only ever recorded by :func:`mark_completed` in the session itself;
    a refetch happens for sessions that lack the claim, and those are not completed.
    """
    return False


def make_second_factor_claim(key: str = CLAIM_KEY) -> BooleanClaim:
    """Make a second-factor claim stored under ``key`` in the access token payload.

    Use it when the frontend expects another claim id than ``"2fa-completed"``; pass
    the returned claim everywhere this library takes ``claim=`` (one claim object per app).

    :raises ConfigurationError: ``key`` is empty or a name the SDK reserves
        (``sub``, ``exp``, ``sessionHandle``...).
    """
    if not isinstance(key, str) or not key.strip():
        raise ConfigurationError("the claim key must be a non-empty string, e.g. '2fa-completed'")
    if key in protected_props:
        raise ConfigurationError(
            f"the claim key {key!r} is reserved by SuperTokens' access token; choose another "
            f"(reserved: {sorted(protected_props)})"
        )
    return BooleanClaim(key=key, fetch_value=_not_completed)


SecondFactorClaim: BooleanClaim = make_second_factor_claim()
"""The claim ``"2fa-completed"``: ``False`` after a first factor, ``True`` after a second."""


def completed_at(
    payload: dict[str, Any], *, claim: BooleanClaim = SecondFactorClaim
) -> float | None:
    """When 2FA was completed in the session with this access token payload.

    :returns: seconds since the epoch, or ``None`` when the claim is missing, not
        ``True``, or malformed (which all mean "not completed").
    """
    entry = payload.get(claim.key)
    if not isinstance(entry, dict) or entry.get("v") is not True:
        return None
    set_at = entry.get("t")
    if isinstance(set_at, bool) or not isinstance(set_at, (int, float)):
        return None
    return set_at / 1000.0


def completed_by(payload: dict[str, Any], *, claim: BooleanClaim = SecondFactorClaim) -> str | None:
    """How 2FA was completed in the session with this payload (the claim's ``m``): a
    factor id, :data:`REMEMBERED`, :data:`EXEMPT`, :data:`GRACE`, or ``None`` (not completed, or a
    claim written before the marker existed)."""
    entry = payload.get(claim.key)
    if not isinstance(entry, dict) or entry.get("v") is not True:
        return None
    method = entry.get("m")
    return method if isinstance(method, str) else None


def grace_until(
    payload: dict[str, Any], *, claim: BooleanClaim = SecondFactorClaim
) -> float | None:
    """When the enrolment grace period of a session completed by it ends (seconds), or
    ``None`` when the session was not completed by a grace period."""
    entry = payload.get(claim.key)
    if not isinstance(entry, dict) or entry.get("v") is not True or entry.get("m") != GRACE:
        return None
    until = entry.get(UNTIL)
    if isinstance(until, bool) or not isinstance(until, (int, float)):
        return 0.0  # a grace completion that does not say until when: already over
    return until / 1000.0


def is_completed(
    payload: dict[str, Any], *, now: float, claim: BooleanClaim = SecondFactorClaim
) -> bool:
    """Whether the session with this payload has completed 2FA at ``now``: the claim is
    ``True``, and a completion by an enrolment grace period has not run out."""
    if completed_at(payload, claim=claim) is None:
        return False
    until = grace_until(payload, claim=claim)
    return until is None or now < until


def stale_reason(
    payload: dict[str, Any],
    max_age: float,
    *,
    now: float,
    claim: BooleanClaim = SecondFactorClaim,
) -> dict[str, Any] | None:
    """Why the session with this payload is *not* fresh, or ``None`` when it is.

    Fresh means: a factor presented in this session at most ``max_age`` seconds before
    ``now`` (S14): not a remembered device, not a policy exemption, not a claim that does
    not say how it was completed. This is the one freshness rule: step-up routes
    (:func:`recently_completed`), factor changes and contact pinning all use it. The
    reason is the invalid-claim reason the frontend receives, the same on every route: for
    a session that never completed 2FA the SDK's reasons for a missing or false claim;
    otherwise ``expired``, with ``completedBy`` (``"remembered"``, ``"not-required"`` or
    ``"grace"``) when nothing was presented in the session. A frontend answers ``expired`` by asking
    for a factor from ``GET /auth/2fa``'s ``next``; a user the policy exempted who has
    no factor yet enrols one first (``enrollable``, or an e-mailed code to the account's
    address in ``next``): the first factor, once verified, makes the session fresh.
    """
    value = claim.get_value_from_payload(payload)
    if value is not True:  # never completed: the SDK's own reasons for a missing/false claim
        return {
            "message": "value does not exist" if value is None else "wrong value",
            "expectedValue": True,
            "actualValue": value,
        }
    set_at = completed_at(payload, claim=claim)
    age = None if set_at is None else now - set_at
    reason: dict[str, Any] = {"message": "expired", "ageInSeconds": age, "maxAgeInSeconds": max_age}
    method = completed_by(payload, claim=claim)
    if method in NOT_PRESENTED:
        # A remembered device, a policy exemption or a grace period: nothing was presented.
        return {**reason, "completedBy": method}
    if method is None or age is None or age > max_age:
        return reason
    return None


def completed_within(
    payload: dict[str, Any], seconds: float, *, now: float, claim: BooleanClaim = SecondFactorClaim
) -> bool:
    """Whether the session with this payload is fresh: a factor presented in it at most
    ``seconds`` before ``now`` (see :func:`stale_reason`)."""
    return stale_reason(payload, seconds, now=now, claim=claim) is None


class _RecentlyCompleted(SessionClaimValidator):
    """Valid when the claim is ``True`` and was set at most ``max_age`` seconds ago.

    Unlike the SDK's ``has_value(True, max_age)``, it never asks for a refetch: a refetch
    would write ``False`` into the session and so downgrade it for every route, while a
    stale 2FA must only fail the route that asks for a fresh one.
    """

    def __init__(self, claim: BooleanClaim, max_age: float, now: Callable[[], float]) -> None:
        super().__init__(claim.key)
        self.claim: BooleanClaim = claim
        self._max_age = max_age
        self._now = now

    def should_refetch(self, payload: dict[str, Any], user_context: dict[str, Any]) -> bool:
        return False

    async def validate(
        self, payload: dict[str, Any], user_context: dict[str, Any]
    ) -> ClaimValidationResult:
        reason = stale_reason(payload, self._max_age, now=self._now(), claim=self.claim)
        if reason is not None:
            return ClaimValidationResult(is_valid=False, reason=reason)
        return ClaimValidationResult(is_valid=True)


class _Completed(HasValueSCV):
    """``claim.validators.has_value(True)``, and a completion by an enrolment grace period
    counts only until its deadline (the claim's ``u``): past it the session is refused
    like one that never completed 2FA, with the reason ``"grace period over"``."""

    def __init__(self, claim: BooleanClaim, now: Callable[[], float]) -> None:
        super().__init__(claim.key, claim, True)
        self._claim = claim
        self._now = now

    async def validate(
        self, payload: dict[str, Any], user_context: dict[str, Any]
    ) -> ClaimValidationResult:
        result: ClaimValidationResult = await super().validate(payload, user_context)
        until = grace_until(payload, claim=self._claim)
        if result.is_valid and until is not None and self._now() >= until:
            reason = {
                "message": "grace period over",
                "expectedValue": True,
                "actualValue": True,
                "completedBy": GRACE,
            }
            return ClaimValidationResult(is_valid=False, reason=reason)
        return result


def completed_validator(
    claim: BooleanClaim = SecondFactorClaim, now: Callable[[], float] = time.time
) -> SessionClaimValidator:
    """The validator every protected route applies: 2FA completed (the claim ``True``),
    and a completion by an enrolment grace period not past its deadline by ``now``."""
    return _Completed(claim, now)


def recently_completed(
    max_age: float,
    *,
    claim: BooleanClaim = SecondFactorClaim,
    now: Callable[[], float] = time.time,
) -> SessionClaimValidator:
    """A claim validator for step-up: 2FA completed within the last ``max_age`` seconds.

    Its id is the claim's key, so a failure reaches the frontend as an invalid
    ``"2fa-completed"`` claim with reason ``"expired"``.

    :raises ConfigurationError: ``max_age`` is not a positive number.
    """
    if isinstance(max_age, bool) or not isinstance(max_age, (int, float)) or max_age <= 0:
        raise ConfigurationError(f"max_age must be a positive number of seconds; got {max_age!r}")
    return _RecentlyCompleted(claim, float(max_age), now)


async def mark_completed(
    session: SessionContainer,
    *,
    factor: str = "factor",
    claim: BooleanClaim = SecondFactorClaim,
    now: Callable[[], float] = time.time,
    user_context: dict[str, Any] | None = None,
) -> None:
    """Record in ``session`` that a second factor (``factor``, its id) was just verified.

    The claim is set to ``True`` with the current time in the *existing* session (same
    session handle, new access token sent with the response): the user stays signed in
    and no second session is made. The session is then fresh for step-up checks. When
    the session started is kept.
    """
    if factor in NOT_PRESENTED:
        raise ConfigurationError("mark_completed records a factor presented in the session")
    payload = session.get_access_token_payload()
    started = session_started(payload, claim=claim)
    await session.merge_into_access_token_payload(
        claim_value(
            claim, factor, now=now(), started=started, user_context=user_context, payload=payload
        ),
        user_context,
    )


def claim_value(
    claim: BooleanClaim,
    method: str | None,
    *,
    now: float,
    started: float | None,
    until: float | None = None,
    user_context: dict[str, Any] | None = None,
    payload: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The payload entry ``{key: {"v": ..., "t": ms, "m": method, "s": ms}}``: completed
    by ``method``, or not completed when it is ``None``; ``started`` is when the session
    started (seconds; left out when unknown); ``until`` (seconds), for a grace
    completion, when it ends (``u``).

    The ``st-mfa`` entry SuperTokens' frontend MFA recipes read comes with it, always
    agreeing with it (:mod:`st_twofactor.mfa_claim`): ``payload`` is the session's
    payload before the change (``None`` for a new session), whose completed factors are
    kept."""
    update = claim.add_to_payload_({}, method is not None, user_context)
    entry = update[claim.key]
    entry["t"] = int(now * 1000)
    if method is not None:
        entry["m"] = method
    if started is not None:
        entry[STARTED] = int(started * 1000)
    if until is not None:
        entry[UNTIL] = int(until * 1000)
    presented = None if method is None or method in NOT_PRESENTED else method
    update.update(mfa_entry(payload or {}, completed=method is not None, factor=presented, now=now))
    return update


def session_started(
    payload: dict[str, Any], *, claim: BooleanClaim = SecondFactorClaim
) -> float | None:
    """When the session with this payload started (seconds), or ``None`` when its claim
    does not say (a session made before the library recorded it)."""
    entry = payload.get(claim.key)
    value = entry.get(STARTED) if isinstance(entry, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value / 1000.0
