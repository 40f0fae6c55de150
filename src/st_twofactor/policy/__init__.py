"""Ready-made ``required`` policies, and :func:`explain`: who must do 2FA, and why.

``TwoFactorConfig(required=...)`` takes ``True``, ``False``, a function, or one of these
policies, combined as needed::

    from st_twofactor.policy import in_tenant, with_role

    required = with_role("admin", "billing") | in_tenant("acme")   # any
    required = with_role("staff") & ~with_role("kiosk")              # all, not

- :func:`with_role`: users with one of the roles on the tenant they sign in to
  (SuperTokens' UserRoles recipe, loaded only when such a policy is applied);
- :func:`in_tenant`: sign-ins to one of the tenants;
- :func:`everyone`, :func:`no_one`; :func:`any_of`, :func:`all_of`, :func:`not_`
  (or ``|``, ``&``, ``~``);
- :func:`from_function`: the app's own function, to combine with the others.

A policy that cannot be applied (the roles could not be read) requires 2FA: a failing
policy never exempts anyone. A user the policy exempts who enrolled a factor anyway is
still asked for it.

:func:`explain` tells, for one user and tenant, what a sign-in would ask for and why
(``st-twofactor user explain USER_ID`` prints it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from st_twofactor.policy._explain import Explanation, SignInStep, explain
from st_twofactor.policy._policies import (
    Policy,
    PolicyUnavailable,
    Verdict,
    all_of,
    any_of,
    everyone,
    from_function,
    in_tenant,
    no_one,
    not_,
    with_role,
)

if TYPE_CHECKING:
    from st_twofactor.config import TwoFactorConfig

__all__ = [
    "Explanation",
    "Policy",
    "PolicyUnavailable",
    "SignInStep",
    "Verdict",
    "all_of",
    "any_of",
    "everyone",
    "explain",
    "explain_sync",
    "from_function",
    "in_tenant",
    "no_one",
    "not_",
    "with_role",
]


def explain_sync(
    config: TwoFactorConfig,
    user_id: str,
    tenant_id: str = "public",
    user_context: dict[str, Any] | None = None,
) -> Explanation:
    """:func:`explain` for synchronous code."""
    from supertokens_python.async_to_sync_wrapper import sync

    return sync(explain(config, user_id, tenant_id, user_context))
