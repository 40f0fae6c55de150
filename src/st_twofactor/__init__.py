"""Two-factor authentication for supertokens-python apps on the free SuperTokens core.

The public API is declared here. Framework helpers live in :mod:`st_twofactor.fastapi`,
:mod:`st_twofactor.flask` and :mod:`st_twofactor.django`, which are not imported by
this module, so an app never pulls in a framework it does not use.
"""

from __future__ import annotations

from .__about__ import __version__
from ._request_guard import guard_inputs
from .admin import (
    TwoFactorOverview,
    get_two_factor_state,
    get_two_factor_state_sync,
    regenerate_recovery_codes,
    regenerate_recovery_codes_sync,
    reset_factors,
    reset_factors_sync,
    revoke_remembered_devices,
    revoke_remembered_devices_sync,
)
from .claim import (
    CLAIM_KEY,
    SecondFactorClaim,
    completed_at,
    make_second_factor_claim,
    mark_completed,
    recently_completed,
)
from .config import TwoFactorConfig
from .cors import cors_headers
from .errors import ConfigurationError, NoFactorError, TwoFactorError
from .events import Event, EventHook
from .factors import FACTOR_IDS, FactorId
from .otp import override_passwordless_apis
from .recipes import FIRST_FACTORS, build_recipe_list, override_emailpassword_functions
from .routes import twofactor_plugin
from .session_override import override_session_functions, with_2fa, without_2fa
from .store import InMemoryStore, Store, TwoFactorState, UserMetadataStore

__all__ = [
    "CLAIM_KEY",
    "FACTOR_IDS",
    "FIRST_FACTORS",
    "ConfigurationError",
    "Event",
    "EventHook",
    "FactorId",
    "InMemoryStore",
    "NoFactorError",
    "SecondFactorClaim",
    "Store",
    "TwoFactorConfig",
    "TwoFactorError",
    "TwoFactorOverview",
    "TwoFactorState",
    "UserMetadataStore",
    "__version__",
    "build_recipe_list",
    "completed_at",
    "cors_headers",
    "get_two_factor_state",
    "get_two_factor_state_sync",
    "guard_inputs",
    "make_second_factor_claim",
    "mark_completed",
    "override_emailpassword_functions",
    "override_passwordless_apis",
    "override_session_functions",
    "recently_completed",
    "regenerate_recovery_codes",
    "regenerate_recovery_codes_sync",
    "reset_factors",
    "reset_factors_sync",
    "revoke_remembered_devices",
    "revoke_remembered_devices_sync",
    "twofactor_plugin",
    "with_2fa",
    "without_2fa",
]
