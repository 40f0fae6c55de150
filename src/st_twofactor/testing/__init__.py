"""Helpers for testing apps that use supertokens-python and st-twofactor.

supertokens-python keeps its configuration in process-wide singletons; a test
suite that calls ``init()`` more than once must reset them in between
(:func:`reset_supertokens`). :class:`ManualClock` is a clock a test moves by hand, for
``TwoFactorConfig(clock=...)`` and the guards' ``now=``.
"""

from __future__ import annotations

import importlib
import os
import time

__all__ = ["ManualClock", "reset_supertokens"]


class ManualClock:
    """A clock for ``TwoFactorConfig(clock=clock)`` that moves only when told to.

    It starts at the real time, because the core and the SDK still use the real time
    for access tokens: keep it within their lifetime (an hour by default) of it. Give the
    same clock to the guards (``require_2fa(max_age=..., now=config.clock)``), so that
    the time 2FA is recorded and the step-up check read one clock.
    """

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward (a TOTP step is 30 s)."""
        self.now += seconds


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
