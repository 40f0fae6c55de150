"""The ``st-mfa`` claim: the second-factor claim as SuperTokens' frontend MFA recipes read it.

SuperTokens' prebuilt MFA screens (and the ``multifactorauth`` recipe of its web SDK) do not
read ``2fa-completed``: they read ``{"st-mfa": {"c": {factorId: completedAtMs}, "v":
allRequirementsMet}}`` from the access token payload, and redirect to their MFA screens
when ``v`` is not ``true``. This module writes that entry beside ``2fa-completed`` and
checks it on the backend.

``2fa-completed`` stays the one source of truth. ``st-mfa`` is derived from it wherever
it is written (:func:`~st_twofactor.claim.claim_value`), so both always agree: ``v`` is
``True`` exactly when the session counts as completed (``2fa-completed`` true, and a
grace period's end not passed: ``PUT /mfa/info`` writes ``v: false`` once it has);
``c`` records when each factor was presented in this session (a remembered device or a
policy exemption presents none, so it adds nothing to ``c``). The backend validator
(:class:`MfaValidator`) decides from ``2fa-completed`` too: a session whose ``st-mfa``
entry was altered or is missing is not let through by it, and one that completed 2FA is
never refused by it.
"""

from __future__ import annotations

from typing import Any

from supertokens_python.recipe.session.interfaces import (
    ClaimValidationResult,
    SessionClaimValidator,
)

__all__ = ["MFA_CLAIM_KEY", "MfaValidator", "in_sync", "mfa_entry", "mfa_validator"]

MFA_CLAIM_KEY = "st-mfa"
"""The key SuperTokens' frontend MFA recipes read (and name in invalid-claim answers)."""

NOT_SATISFIED = {"message": "MFA requirement for auth is not satisfied"}
"""The reason of a failed ``st-mfa`` check, in the words SuperTokens' backends use."""


def mfa_entry(
    payload: dict[str, Any], *, completed: bool, factor: str | None, now: float
) -> dict[str, Any]:
    """The ``st-mfa`` payload entry after a change of ``2fa-completed``.

    :param payload: the access token payload before the change (its ``c`` is kept).
    :param completed: the new value of ``2fa-completed``.
    :param factor: the factor presented in the session just now, if one was.
    :param now: seconds since the epoch.
    """
    previous = payload.get(MFA_CLAIM_KEY)
    done = previous.get("c") if isinstance(previous, dict) else None
    factors = {
        k: v
        for k, v in (done if isinstance(done, dict) else {}).items()
        if isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
    }
    if factor is not None:
        factors[factor] = int(now * 1000)
    return {MFA_CLAIM_KEY: {"c": factors, "v": completed}}


def in_sync(payload: dict[str, Any], completed: bool) -> bool:
    """Whether the payload's ``st-mfa`` entry agrees with ``completed``: whether the
    session counts as completed now (:func:`~st_twofactor.claim.is_completed`, which a
    grace period's end turns false while ``2fa-completed`` still holds ``true``)."""
    entry = payload.get(MFA_CLAIM_KEY)
    if not isinstance(entry, dict) or not isinstance(entry.get("c"), dict):
        return False
    return entry.get("v") is completed


class MfaValidator(SessionClaimValidator):
    """The backend check named ``st-mfa``: valid when the ``2fa-completed`` check is.

    Added beside the ``2fa-completed`` check by the session override, so a request whose
    2FA is not complete answers 403 naming both claims: SuperTokens' prebuilt UI looks
    for ``st-mfa`` to send the user to its MFA screens. It decides with that same check
    (``completed``, which also ends an enrolment grace period at its deadline), so the two
    never disagree. It never asks for a refetch: completion is recorded only by a factor.
    """

    def __init__(self, completed: SessionClaimValidator) -> None:
        super().__init__(MFA_CLAIM_KEY)
        self.completed = completed

    def should_refetch(self, payload: dict[str, Any], user_context: dict[str, Any]) -> bool:
        return False

    async def validate(
        self, payload: dict[str, Any], user_context: dict[str, Any]
    ) -> ClaimValidationResult:
        result: ClaimValidationResult = await self.completed.validate(payload, user_context)
        if result.is_valid:
            return ClaimValidationResult(is_valid=True)
        return ClaimValidationResult(is_valid=False, reason=dict(NOT_SATISFIED))


def mfa_validator(completed: SessionClaimValidator) -> MfaValidator:
    """The ``st-mfa`` check that agrees with ``completed`` (the ``2fa-completed`` check);
    made once where that check is made (it is stateless)."""
    return MfaValidator(completed)
