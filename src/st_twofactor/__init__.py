"""Two-factor authentication for supertokens-python apps on the free SuperTokens core.

The public API is declared here. Framework helpers live in :mod:`st_twofactor.http.fastapi`,
:mod:`st_twofactor.http.flask` and :mod:`st_twofactor.http.django`, which are not imported by
this module, so an app never pulls in a framework it does not use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from st_twofactor.__about__ import __version__
from st_twofactor.claim import (
    CLAIM_KEY,
    SecondFactorClaim,
    completed_at,
    make_second_factor_claim,
    mark_completed,
    recently_completed,
)
from st_twofactor.config import TwoFactorConfig
from st_twofactor.errors import ConfigurationError, NoFactorError, TwoFactorError
from st_twofactor.events import Event, EventHook
from st_twofactor.ids import FACTOR_IDS, FactorId
from st_twofactor.kernel.send_quota import SendQuota
from st_twofactor.kernel.throttle import ThrottlePolicy
from st_twofactor.session_override import override_session_functions, with_2fa, without_2fa
from st_twofactor.speedups import reuse_core_connections
from st_twofactor.stores import InMemoryStore, Store, TwoFactorState, UserMetadataStore

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
    "SendQuota",
    "Store",
    "ThrottlePolicy",
    "TwoFactorConfig",
    "TwoFactorError",
    "TwoFactorOverview",
    "TwoFactorState",
    "UserMetadataStore",
    "WebAuthnPolicy",
    "__version__",
    "build_recipe_list",
    "completed_at",
    "cors_headers",
    "get_two_factor_state",
    "get_two_factor_state_sync",
    "guard_inputs",
    "list_remembered_devices",
    "list_remembered_devices_sync",
    "make_second_factor_claim",
    "mark_completed",
    "override_emailpassword_functions",
    "override_passwordless_apis",
    "override_session_functions",
    "recently_completed",
    "regenerate_recovery_codes",
    "regenerate_recovery_codes_sync",
    "remove_remembered_device",
    "remove_remembered_device_sync",
    "reset_factors",
    "reset_factors_sync",
    "reuse_core_connections",
    "revoke_remembered_devices",
    "revoke_remembered_devices_sync",
    "twofactor_plugin",
    "with_2fa",
    "without_2fa",
]

if TYPE_CHECKING:
    from st_twofactor.admin import (
        TwoFactorOverview,
        get_two_factor_state,
        get_two_factor_state_sync,
        list_remembered_devices,
        list_remembered_devices_sync,
        regenerate_recovery_codes,
        regenerate_recovery_codes_sync,
        remove_remembered_device,
        remove_remembered_device_sync,
        reset_factors,
        reset_factors_sync,
        revoke_remembered_devices,
        revoke_remembered_devices_sync,
    )
    from st_twofactor.factors.webauthn.policy import WebAuthnPolicy
    from st_twofactor.http.cors import cors_headers
    from st_twofactor.http.guard import guard_inputs
    from st_twofactor.http.passwordless import override_passwordless_apis
    from st_twofactor.http.routes import twofactor_plugin
    from st_twofactor.recipes import (
        FIRST_FACTORS,
        build_recipe_list,
        override_emailpassword_functions,
    )

_LAZY = {
    **dict.fromkeys(
        (
            "TwoFactorOverview",
            "get_two_factor_state",
            "get_two_factor_state_sync",
            "list_remembered_devices",
            "list_remembered_devices_sync",
            "regenerate_recovery_codes",
            "regenerate_recovery_codes_sync",
            "remove_remembered_device",
            "remove_remembered_device_sync",
            "reset_factors",
            "reset_factors_sync",
            "revoke_remembered_devices",
            "revoke_remembered_devices_sync",
        ),
        "st_twofactor.admin",
    ),
    **dict.fromkeys(
        ("FIRST_FACTORS", "build_recipe_list", "override_emailpassword_functions"),
        "st_twofactor.recipes",
    ),
    "WebAuthnPolicy": "st_twofactor.factors.webauthn.policy",
    "cors_headers": "st_twofactor.http.cors",
    "guard_inputs": "st_twofactor.http.guard",
    "override_passwordless_apis": "st_twofactor.http.passwordless",
    "twofactor_plugin": "st_twofactor.http.routes",
}
"""Names imported on first use, from the module that defines them: what an app calls once
at start-up or on an operator's request (the recipes, the plugin and its routes, the CORS
headers, the admin functions) and what only an app with security keys needs. Importing the
package loads only what the claim, the config and the session override need
(``tests/unit/test_import_cost.py`` holds it to that)."""


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # found here from now on, without this function
        return value
    raise AttributeError(f"module 'st_twofactor' has no attribute {name!r}")
