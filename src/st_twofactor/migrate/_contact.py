"""The legacy second user's contact, and pinning it as the user's code factor.

Only a second user the legacy guide made counts: a user of its own, other than the user,
signing in with passwordless only. Anything else found behind a link is left alone (and
never deleted). Its phone number is pinned as ``otp-phone``, else its e-mail address as
``otp-email``, so the user's codes keep going where they went. See
:mod:`st_twofactor.migrate`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from st_twofactor.factors.codes._inputs import normalise_email
from st_twofactor.migrate._directory import CoreUser
from st_twofactor.migrate._report import SkipReason
from st_twofactor.stores.state import TwoFactorState

PHONE = "otp-phone"
EMAIL = "otp-email"


@dataclass(frozen=True)
class Contact:
    """A contact to pin: the factor (:data:`PHONE` or :data:`EMAIL`) and its value."""

    factor: str
    value: str


def second_user_contact(
    user_id: str, second_user_id: str, second: CoreUser
) -> Contact | tuple[SkipReason, str]:
    """The contact the second user holds, or why it is not a second user to migrate.

    Only a user of its own (not a login method linked into an account), other than the
    user, whose every login method is passwordless, counts: anything else is left alone,
    and never deleted.
    """
    if second_user_id == user_id:
        return "not-a-second-user", "the link points to the user itself"
    if second.user_id != second_user_id:
        return "not-a-second-user", f"{second_user_id} is a login method of {second.user_id}"
    recipes = {recipe for recipe, _, _ in second.methods}
    if recipes != {"passwordless"}:
        return "not-a-second-user", f"{second_user_id} signs in with {', '.join(sorted(recipes))}"
    for _, _, phone in second.methods:
        if phone and phone.strip():
            return Contact(PHONE, phone.strip())
    for _, email, _ in second.methods:
        if email and email.strip():
            return Contact(EMAIL, normalise_email(email))
    return "no-contact", f"{second_user_id} has no phone number or e-mail address"


def _pinned(state: TwoFactorState, factor: str) -> str | None:
    return state.phone if factor == PHONE else state.email


def _same(pinned: str, contact: Contact) -> bool:
    if contact.factor == EMAIL:
        return normalise_email(pinned) == contact.value
    return pinned.strip() == contact.value


def pin(contact: Contact) -> Callable[[TwoFactorState], str]:
    """The state change: pin ``contact`` unless one is pinned; what was found
    (``"pinned"``, ``"already"``: the same one, ``"other"``: another one)."""

    def pin(state: TwoFactorState) -> str:
        pinned = _pinned(state, contact.factor)
        if pinned is not None:
            return "already" if _same(pinned, contact) else "other"
        if contact.factor == PHONE:
            state.phone = contact.value
        else:
            state.email = contact.value
        state.bump_epoch()  # a factor change, as when a user pins a contact themselves
        return "pinned"

    return pin
