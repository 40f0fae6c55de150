"""Helpers for testing apps that use supertokens-python and st-twofactor.

supertokens-python keeps its configuration in process-wide singletons; a test
suite that calls ``init()`` more than once must reset them in between.
"""

from __future__ import annotations

import importlib
import os

_RECIPES = (
    "accountlinking",
    "dashboard",
    "emailpassword",
    "emailverification",
    "jwt",
    "multifactorauth",
    "multitenancy",
    "oauth2provider",
    "openid",
    "passwordless",
    "saml",
    "session",
    "thirdparty",
    "totp",
    "usermetadata",
    "userroles",
    "webauthn",
)


def reset_supertokens() -> None:
    """Forget every ``supertokens_python.init()`` so the next test can call it again.

    Sets ``SUPERTOKENS_ENV=testing``, which the SDK requires for its reset functions.
    """
    os.environ["SUPERTOKENS_ENV"] = "testing"
    from supertokens_python.post_init_callbacks import PostSTInitCallbacks
    from supertokens_python.process_state import ProcessState
    from supertokens_python.querier import Querier
    from supertokens_python.recipe.session.jwks import reset_jwks_cache
    from supertokens_python.supertokens import Supertokens

    for name in _RECIPES:
        module = importlib.import_module(f"supertokens_python.recipe.{name}.recipe")
        for attribute in vars(module).values():
            reset = getattr(attribute, "reset", None)
            if (
                isinstance(attribute, type)
                and attribute.__module__ == module.__name__
                and attribute.__name__.endswith("Recipe")
                and callable(reset)
            ):
                reset()
    Supertokens.reset()  # type: ignore[no-untyped-call]
    Querier.reset()  # type: ignore[no-untyped-call]
    Querier.api_version = None
    PostSTInitCallbacks.reset()  # type: ignore[no-untyped-call]
    ProcessState.get_instance().reset()  # type: ignore[no-untyped-call]
    reset_jwks_cache()  # type: ignore[no-untyped-call]
