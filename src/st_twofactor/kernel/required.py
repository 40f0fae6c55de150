"""Applying the app's ``required`` policy: must this user do 2FA when signing in here?

The one place that asks the policy (the session override at sign-in, ``GET /auth/2fa``,
:func:`st_twofactor.policy.explain`). A policy that fails, or answers anything but an
explicit ``False``, means *required*: a bug or an outage in a policy must fail closed,
never let a sign-in skip 2FA, and never turn a sign-in into an error.
"""

from __future__ import annotations

import inspect
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from st_twofactor.config import TwoFactorConfig

__all__ = ["is_2fa_required"]

log = logging.getLogger("st_twofactor")


async def is_2fa_required(
    config: TwoFactorConfig, user_id: str, tenant_id: str, user_context: dict[str, Any]
) -> bool:
    """Apply the ``required`` policy (a bool, or a sync or async callable)."""
    policy = config.required
    if isinstance(policy, bool):
        return policy
    try:
        answer = policy(user_id, tenant_id, user_context)
        if inspect.isawaitable(answer):
            answer = await answer
    except Exception:
        log.exception(
            "st-twofactor: the required policy failed for user %r on tenant %r: 2FA is "
            "required (a policy that fails never exempts anyone)",
            user_id,
            tenant_id,
        )
        return True
    # Anything but an explicit False (None, a truthy object by mistake) means required:
    # a policy bug must fail closed.
    return answer is not False
