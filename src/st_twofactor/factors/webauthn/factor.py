"""Security keys and passkeys as ``GET /auth/2fa`` sees them: what the registry holds.

Apart from the flows (:mod:`~st_twofactor.factors.webauthn.flows`) so that importing the
library does not load the ceremonies and the optional ``webauthn`` package they use: an
app without security keys never needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from st_twofactor.factors.base import FactorBase, FactorView
from st_twofactor.ids import FactorId
from st_twofactor.results import epoch_ms

if TYPE_CHECKING:
    from st_twofactor.stores.state import TwoFactorState

__all__ = ["DEFAULT_KEY_NAME", "MAX_KEYS", "WebAuthnFactor"]

DEFAULT_KEY_NAME = "security key"
MAX_KEYS = 10
"""Security keys and passkeys per user (as for TOTP devices)."""


class WebAuthnFactor(FactorBase):
    """Security keys and passkeys (factor ``"webauthn"``)."""

    id: ClassVar[FactorId] = "webauthn"

    @staticmethod
    def can_complete(view: FactorView) -> bool:
        return view.enabled and bool(view.state.webauthn_credentials)

    @staticmethod
    def can_enrol(view: FactorView) -> bool:
        return len(view.state.webauthn_credentials) < MAX_KEYS

    @staticmethod
    def describe(state: TwoFactorState) -> dict[str, Any]:
        """Name, when added, when last used (ms since the epoch); never key material."""
        return {
            "securityKeys": [
                {
                    "name": k.name,
                    "createdAt": epoch_ms(k.created_at),
                    "lastUsedAt": None if k.last_used_at is None else epoch_ms(k.last_used_at),
                }
                for k in state.webauthn_credentials
            ]
        }
