"""Every second factor, by id: adding a factor is adding its module and one line here.

The registry holds the factor classes; the runtime (:class:`~st_twofactor.runtime.TwoFactor`)
makes one instance of each for its config, and ``GET /auth/2fa`` asks each class about
the user (``next``, ``enrollable``, what it shows).
"""

from __future__ import annotations

from st_twofactor.factors.base import Factor
from st_twofactor.factors.codes.flows import EmailCodeFactor, PhoneCodeFactor
from st_twofactor.factors.recovery_codes.flows import RecoveryCodeFactor
from st_twofactor.factors.totp.flows import TotpFactor
from st_twofactor.factors.webauthn.factor import WebAuthnFactor
from st_twofactor.ids import FactorId

__all__ = ["FACTORS"]

FACTORS: dict[FactorId, type[Factor]] = {
    f.id: f
    for f in (TotpFactor, EmailCodeFactor, PhoneCodeFactor, RecoveryCodeFactor, WebAuthnFactor)
}
"""The factor classes, in the order ``GET /auth/2fa`` lists them
(:data:`~st_twofactor.ids.FACTOR_IDS`)."""
