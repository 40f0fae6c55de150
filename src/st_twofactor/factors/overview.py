"""What ``GET /auth/2fa`` answers: every registered factor asked about the user.

Framework-free: it takes the user's state, the session's access token payload and what
the account says about contacts, and returns the JSON-ready
:class:`~st_twofactor.results.Overview`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from supertokens_python.recipe.session.claims import BooleanClaim

from st_twofactor.claim import completed_within, grace_until, is_completed
from st_twofactor.factors.base import Factor, FactorView
from st_twofactor.ids import FACTOR_IDS, FactorId, is_factor_id
from st_twofactor.kernel import throttle
from st_twofactor.kernel.throttle import Refused
from st_twofactor.results import Contact, Overview, epoch_ms

if TYPE_CHECKING:
    from st_twofactor.config import TwoFactorConfig
    from st_twofactor.stores.state import TwoFactorState

__all__ = ["AccountContacts", "mask_phone", "overview"]


@dataclass(frozen=True)
class AccountContacts:
    """What the user's account says about where codes may go, for :func:`overview`.

    :param emails: the real e-mail addresses of the user's login methods, normalised
        (lower case), in the account's order; the SDK's made-up addresses left out.
    :param signed_in_with: the e-mail address and phone number of the passwordless
        login method the session signed in with, if it did (they cannot be its second
        factor), normalised the same way.
    """

    emails: tuple[str, ...] = ()
    signed_in_with: frozenset[str] = frozenset()


def mask_phone(phone: str) -> str:
    """A phone number with all but its first 3 and last 2 characters hidden."""
    if len(phone) <= 6:
        return "*" * max(len(phone) - 2, 0) + phone[-2:]
    return phone[:3] + "*" * (len(phone) - 5) + phone[-2:]


def overview(
    config: TwoFactorConfig,
    claim: BooleanClaim,
    factors: Mapping[FactorId, type[Factor]],
    state: TwoFactorState,
    payload: dict[str, Any],
    required: bool,
    account: AccountContacts | None = None,
) -> Overview:
    """What ``GET /2fa`` answers: enough for a frontend to show the right screen.

    - ``enabled``: the factor ids the app enabled (``config.factors``).
    - ``factors``: the ones the user enrolled.
    - ``next``: the ones that can complete 2FA now, in ``FACTOR_IDS`` order: a verified
      TOTP device; an e-mail code to the pinned address or, before one is pinned, to
      the account's address when the user may still pin it (no factor yet, or a fresh
      2FA); an SMS code to the pinned number; a recovery code while any are left; a
      security key (``webauthn``) when the user has one. A factor that is locked (see
      ``locked``) is left out until the lockout ends, and so is the contact the session
      signed in with (a passwordless first factor).
    - ``enrollable``: the ones the user may enrol now, which needs no factor yet or a
      fresh 2FA (S8): TOTP (below 10 devices), an e-mail address (none pinned and the
      account has one), a phone number (none pinned), recovery codes (beside another
      factor, when none are left), a security key (below 10).
    - ``contacts``: for each enabled code factor with a known destination, where the
      code would go (``{"contact": ..., "masked": ...}``): the pinned or account
      e-mail; the pinned phone number, masked unless the 2FA is fresh (then the user
      types it, and it must match).
    - ``locked``: factor id -> milliseconds until it may be tried again.
    - ``grace``: ``{"until": ms}`` while the session is completed by an enrolment grace
      period that has not ended (the user may set 2FA up later, until then), else ``None``.
    - what each factor shows of itself (its ``describe``): ``recoveryCodesLeft`` (``None``
      when the user holds no set: no factor yet, or the app does not use them), ``devices``
      (the TOTP devices), ``securityKeys`` (name, when added, when last used, in ms since
      the epoch; never key material).
    """
    account = account or AccountContacts()
    now = config.clock()
    enrolled = state.factor_ids()
    enabled = list(config.factors)
    fresh = completed_within(payload, config.step_up_window, now=now, claim=claim)
    may_add = not enrolled or fresh
    locked = _locked(config, state, (*enabled, *enrolled), now)
    email = _email_contact(state, account, may_add=may_add)
    phone = state.phone if state.phone not in account.signed_in_with else None

    views = {
        f: FactorView(state, f in enabled, fresh, email=email, phone=phone) for f in FACTOR_IDS
    }
    next_factors = [f for f in FACTOR_IDS if factors[f].can_complete(views[f]) and f not in locked]
    enrollable: list[str] = [
        f for f in enabled if is_factor_id(f) and factors[f].can_enrol(views[f])
    ]
    contacts: dict[str, Contact] = {}
    if "otp-email" in enabled and email is not None:
        contacts["otp-email"] = {"contact": email, "masked": False}
    if "otp-phone" in enabled and phone is not None:
        shown = phone if fresh else mask_phone(phone)
        contacts["otp-phone"] = {"contact": shown, "masked": not fresh}
    until = grace_until(payload, claim=claim)
    answer: dict[str, Any] = {
        "status": "OK",
        "completed": is_completed(payload, now=now, claim=claim),
        "required": required,
        "enabled": enabled,
        "factors": enrolled,
        "next": next_factors,
        "enrollable": enrollable if may_add else [],
        "contacts": contacts,
        "locked": locked,
        "grace": {"until": epoch_ms(until)} if until is not None and now < until else None,
    }
    for factor in FACTOR_IDS:
        answer.update(factors[factor].describe(state))
    if "recovery-code" not in enabled and not state.recovery_codes:
        answer["recoveryCodesLeft"] = None  # the app gives none: no set to count
    result: Overview = answer  # type: ignore[assignment]
    return result


def _locked(
    config: TwoFactorConfig, state: TwoFactorState, factors: tuple[str, ...], now: float
) -> dict[str, int]:
    """The factors refused now by the throttle, with the wait in milliseconds."""
    waits = {}
    for factor in dict.fromkeys(factors):
        decision = throttle.check(config.throttle_policy, state.throttle, factor, now)
        if isinstance(decision, Refused):
            waits[factor] = decision.retry_after_ms
    return waits


def _email_contact(state: TwoFactorState, account: AccountContacts, *, may_add: bool) -> str | None:
    """Where an e-mail code would go now: the pinned address, else (while a contact may
    be pinned) the account's first address; never the sign-in contact."""
    if state.email is not None:
        pinned = state.email.strip().lower()
        return None if pinned in account.signed_in_with else state.email
    if not may_add:
        return None
    return next((e for e in account.emails if e not in account.signed_in_with), None)
