"""The names everything else agrees on: factor ids and the plugin's id.

On the ground floor of the package: every other module may import it, it imports none.
The factor ids are SuperTokens' own (``"totp"``, ``"otp-email"``, ``"otp-phone"``), so a
frontend written for SuperTokens' multi-factor recipes reads them unchanged.
"""

from __future__ import annotations

from typing import Literal, TypeAlias, TypeGuard

__all__ = [
    "CODE_FACTORS",
    "FACTOR_IDS",
    "PLUGIN_ID",
    "CodeFactor",
    "FactorId",
    "is_factor_id",
]

FactorId: TypeAlias = Literal["totp", "otp-email", "otp-phone", "recovery-code", "webauthn"]
"""A second factor's id, in SuperTokens' naming."""

FACTOR_IDS: tuple[FactorId, ...] = ("totp", "otp-email", "otp-phone", "recovery-code", "webauthn")
"""Every factor id st-twofactor knows, in the order ``GET /auth/2fa`` lists them.
``"webauthn"`` (security keys and passkeys) is off unless the app lists it."""

CodeFactor: TypeAlias = Literal["otp-email", "otp-phone"]
"""The factors whose codes are sent (by e-mail or SMS) through the passwordless recipe."""

CODE_FACTORS: tuple[CodeFactor, ...] = ("otp-email", "otp-phone")

PLUGIN_ID = "st-twofactor"
"""The id of the SuperTokens plugin that serves the library's routes."""


def is_factor_id(value: object) -> TypeGuard[FactorId]:
    """Whether ``value`` is one of :data:`FACTOR_IDS` (e.g. an id read from stored state)."""
    return value in FACTOR_IDS
