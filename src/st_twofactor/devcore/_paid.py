"""The license gate of the paid features, and ``GET /ee/featureflag``.

Without a license key the real core refuses some endpoints of its paid features
with HTTP 402 and a plain-text reason; :class:`~st_twofactor.devcore.DevCore`
answers the same unless it was created with ``licensed=True``. Exactly the
endpoints the real core gates are gated (checked against its source):

- MFA: creating (and importing) a TOTP device, and verifying a TOTP code. Listing,
  renaming, removing and verifying a *device* stay free, as in the real core.
- Account linking: creating a primary user and linking accounts. The read-only
  checks and unlinking stay free.
- Dashboard login: more than three dashboard users (``_dashboard.py``).
- Multi-tenancy: provider configs of non-public tenants and user-tenant
  association (``_tenant_routes.py``).

The TOTP endpoints live in ``_totp.py``, account linking in ``_accountlinking.py``.
"""

from __future__ import annotations

from typing import Any

from ._http import CoreError, Request, Routes

routes = Routes()

LICENSED_FEATURES = ("account_linking", "dashboard_login", "mfa", "multi_tenancy")
"""What a licensed development core reports: the paid features it implements."""

MFA_NOT_ENABLED = (
    "MFA feature is not enabled. Please subscribe to a SuperTokens core license key to enable"
    " this feature."
)
ACCOUNT_LINKING_NOT_ENABLED = (
    "Account linking feature is not enabled for this app. Please contact support to enable it."
)


def require_mfa(req: Request) -> None:
    """Answer 402 unless the core is licensed (the real core's MFA feature check)."""
    if not req.core.licensed:
        raise CoreError(402, MFA_NOT_ENABLED)


def require_account_linking(req: Request) -> None:
    """Answer 402 unless the core is licensed (account linking or MFA enabled)."""
    if not req.core.licensed:
        raise CoreError(402, ACCOUNT_LINKING_NOT_ENABLED)


@routes.get("/ee/featureflag")
def feature_flag(req: Request) -> dict[str, Any]:
    """The enabled paid features: none without a license, as the real core answers."""
    features = list(LICENSED_FEATURES) if req.core.licensed else []
    return {"status": "OK", "features": features, "usageStats": {}}
