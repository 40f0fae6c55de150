"""The records behind a security-key answer: which stored key it names, whether a key may
be added, and the challenges already answered. Pure functions over the user's state, used
inside the one store update of each flow (:mod:`st_twofactor.factors.webauthn.flows`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from st_twofactor.factors._device_names import device_key
from st_twofactor.factors.base import Counted
from st_twofactor.factors.webauthn.ceremonies import VERIFIED_REFUSALS, RefusalReason
from st_twofactor.factors.webauthn.factor import MAX_KEYS
from st_twofactor.factors.webauthn.records import PendingChallenge, WebAuthnCredential
from st_twofactor.results import DeviceAlreadyExists, TooManyDevices

if TYPE_CHECKING:
    from st_twofactor.stores.state import TwoFactorState

__all__ = [
    "ALREADY_THERE",
    "CLOCK_MARGIN",
    "MAX_ANSWERED",
    "Outcome",
    "answering",
    "cannot_add",
    "named",
    "not_a_key_of",
    "use_up_if_verified",
]

MAX_ANSWERED = 16
"""Answered challenges (of answers that verified) kept per user until they expire. One
more within a challenge lifetime is refused (:attr:`RefusalReason.TOO_MANY_ANSWERS`) until
the oldest expires: forgetting an unexpired one would let its answer be replayed. Only the
holder of one of the user's keys can get that far."""
CLOCK_MARGIN = 60.0
"""Seconds an answered challenge is kept after it expired, for workers whose clocks differ."""


@dataclass(frozen=True)
class Outcome:
    """One verification, decided inside one atomic store update."""

    counted: Counted | None
    """``None`` when nothing was counted: the answer was not checked (``refused_as``)."""
    refused_as: Literal["DEVICE_ALREADY_EXISTS_ERROR", "TOO_MANY_DEVICES_ERROR"] | None = None
    credential: WebAuthnCredential | None = None
    refusal: RefusalReason | None = None
    regressed: WebAuthnCredential | None = None
    """The stored key whose sign count the refused answer did not increase."""
    gave_codes: bool = False
    attempts_left: int = 0
    """For an answer that was not counted: the attempts the throttle still allows."""


ALREADY_THERE = (RefusalReason.DUPLICATE_NAME, RefusalReason.DUPLICATE_CREDENTIAL)


def cannot_add(
    keys: list[WebAuthnCredential], name: str
) -> DeviceAlreadyExists | TooManyDevices | None:
    """Why a key called ``name`` cannot be added beside ``keys``, if it cannot."""
    if named(keys, name) is not None:
        return {"status": "DEVICE_ALREADY_EXISTS_ERROR"}
    if len(keys) >= MAX_KEYS:
        return {"status": "TOO_MANY_DEVICES_ERROR"}
    return None


def use_up_if_verified(
    state: TwoFactorState,
    pending: PendingChallenge,
    verified: WebAuthnCredential | RefusalReason,
) -> None:
    """Record ``pending`` as answered when its answer verified (accepted, or one of
    :data:`~st_twofactor.factors.webauthn.ceremonies.VERIFIED_REFUSALS`): it is not accepted
    again."""
    if not isinstance(verified, RefusalReason) or verified in VERIFIED_REFUSALS:
        state.webauthn_challenges.append(pending)


def named(keys: list[WebAuthnCredential], name: str) -> WebAuthnCredential | None:
    """The key called ``name``, compared as device names are (look-alikes are the same
    name, :func:`~st_twofactor.factors._device_names.device_key`)."""
    wanted = device_key(name)
    return next((k for k in keys if device_key(k.name) == wanted), None)


def not_a_key_of(credential: object) -> RefusalReason:
    """Why an answer that names none of the user's keys is refused: it names no key at
    all (malformed), or another one."""
    named = isinstance(credential, dict) and isinstance(credential.get("id"), str)
    return RefusalReason.UNKNOWN_CREDENTIAL if named else RefusalReason.MALFORMED


def answering(keys: list[WebAuthnCredential], credential: object) -> WebAuthnCredential | None:
    """The stored key the answer names (its ``id``), if any."""
    credential_id = credential.get("id") if isinstance(credential, dict) else None
    return next((k for k in keys if k.credential_id == credential_id), None)
