"""The ready-made ``required`` policies and their combinations (see :mod:`st_twofactor.policy`)."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Policy",
    "PolicyUnavailable",
    "Verdict",
    "all_of",
    "any_of",
    "everyone",
    "from_function",
    "in_tenant",
    "no_one",
    "not_",
    "verdict_of",
    "with_role",
]


@dataclass(frozen=True)
class Verdict:
    """What a policy decided for one user and tenant, and why (for people to read)."""

    required: bool
    reason: str


class PolicyUnavailable(Exception):
    """A policy could not be applied (e.g. the user's roles could not be read). At
    sign-in this means 2FA is required: a policy that fails never exempts anyone."""


class Policy(ABC):
    """A ``required`` policy: pass it as ``TwoFactorConfig(required=...)``.

    It is a callable ``(user_id, tenant_id, user_context) -> bool`` (async), so it goes
    wherever a policy function goes. Combine policies with ``|`` (any), ``&`` (all) and
    ``~`` (not), or with :func:`any_of`, :func:`all_of` and :func:`not_`.
    """

    @abstractmethod
    async def decide(self, user_id: str, tenant_id: str, user_context: dict[str, Any]) -> Verdict:
        """Whether 2FA is required of the user signing in on the tenant, and why.

        :raises PolicyUnavailable: the policy cannot tell (its data could not be read).
        """

    @abstractmethod
    def describe(self) -> str:
        """The policy in words, e.g. ``users with the role admin``."""

    async def __call__(self, user_id: str, tenant_id: str, user_context: dict[str, Any]) -> bool:
        return (await self.decide(user_id, tenant_id, user_context)).required

    def __or__(self, other: Policy) -> Policy:
        return any_of(self, other)

    def __and__(self, other: Policy) -> Policy:
        return all_of(self, other)

    def __invert__(self) -> Policy:
        return not_(self)

    def __repr__(self) -> str:
        return f"<policy: 2FA required for {self.describe()}>"


class _Constant(Policy):
    def __init__(self, required: bool) -> None:
        self.required = required

    async def decide(self, user_id: str, tenant_id: str, user_context: dict[str, Any]) -> Verdict:
        return Verdict(self.required, "everyone" if self.required else "no one")

    def describe(self) -> str:
        return "everyone" if self.required else "no one"


def everyone() -> Policy:
    """2FA is required of every user (the same as ``required=True``)."""
    return _Constant(True)


def no_one() -> Policy:
    """2FA is required of no one; users who enrolled a factor are still asked for it."""
    return _Constant(False)


class _Roles(Policy):
    def __init__(self, roles: tuple[str, ...]) -> None:
        self.roles = roles

    async def decide(self, user_id: str, tenant_id: str, user_context: dict[str, Any]) -> Verdict:
        held = await _roles_of(user_id, tenant_id, user_context)
        matched = [r for r in self.roles if r in held]
        if matched:
            return Verdict(True, f"has the role {', '.join(matched)} on tenant {tenant_id}")
        return Verdict(
            False, f"has none of the roles {', '.join(self.roles)} on tenant {tenant_id}"
        )

    def describe(self) -> str:
        return f"users with the role {' or '.join(self.roles)}"


def with_role(*roles: str) -> Policy:
    """2FA is required of users who have at least one of ``roles`` on the tenant they
    sign in to, as SuperTokens' UserRoles recipe records them (which the app must
    initialise: ``userroles.init()``). Reading the roles is one core call per sign-in
    (shared with the recipe's own role claim: the SDK caches it within a request); if it
    fails, 2FA is required."""
    if not roles or not all(isinstance(r, str) and r for r in roles):
        raise ValueError("with_role() takes one or more role names")
    return _Roles(tuple(dict.fromkeys(roles)))


class _Tenants(Policy):
    def __init__(self, tenants: tuple[str, ...]) -> None:
        self.tenants = tenants

    async def decide(self, user_id: str, tenant_id: str, user_context: dict[str, Any]) -> Verdict:
        if tenant_id in self.tenants:
            return Verdict(True, f"signs in to tenant {tenant_id}")
        return Verdict(False, f"signs in to tenant {tenant_id}, not {', '.join(self.tenants)}")

    def describe(self) -> str:
        return f"sign-ins to tenant {' or '.join(self.tenants)}"


def in_tenant(*tenant_ids: str) -> Policy:
    """2FA is required of sign-ins to one of ``tenant_ids`` (``"public"`` is the default
    tenant)."""
    if not tenant_ids or not all(isinstance(t, str) and t for t in tenant_ids):
        raise ValueError("in_tenant() takes one or more tenant ids")
    return _Tenants(tuple(dict.fromkeys(tenant_ids)))


class _AnyOf(Policy):
    def __init__(self, policies: tuple[Policy, ...]) -> None:
        self.policies = policies

    async def decide(self, user_id: str, tenant_id: str, user_context: dict[str, Any]) -> Verdict:
        reasons = []
        for policy in self.policies:
            verdict = await policy.decide(user_id, tenant_id, user_context)
            if verdict.required:
                return verdict
            reasons.append(verdict.reason)
        return Verdict(False, "; ".join(reasons))

    def describe(self) -> str:
        return " or ".join(f"({p.describe()})" for p in self.policies)


class _AllOf(Policy):
    def __init__(self, policies: tuple[Policy, ...]) -> None:
        self.policies = policies

    async def decide(self, user_id: str, tenant_id: str, user_context: dict[str, Any]) -> Verdict:
        reasons = []
        for policy in self.policies:
            verdict = await policy.decide(user_id, tenant_id, user_context)
            if not verdict.required:
                return verdict
            reasons.append(verdict.reason)
        return Verdict(True, "; ".join(reasons))

    def describe(self) -> str:
        return " and ".join(f"({p.describe()})" for p in self.policies)


class _Not(Policy):
    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    async def decide(self, user_id: str, tenant_id: str, user_context: dict[str, Any]) -> Verdict:
        verdict = await self.policy.decide(user_id, tenant_id, user_context)
        return Verdict(not verdict.required, f"not required when: {verdict.reason}")

    def describe(self) -> str:
        return f"everyone but {self.policy.describe()}"


class _Function(Policy):
    def __init__(
        self, function: Callable[[str, str, dict[str, Any]], bool | Awaitable[bool]], name: str
    ) -> None:
        self.function = function
        self.name = name

    async def decide(self, user_id: str, tenant_id: str, user_context: dict[str, Any]) -> Verdict:
        answer = self.function(user_id, tenant_id, user_context)
        if inspect.isawaitable(answer):
            answer = await answer
        if not isinstance(answer, bool):
            # Not "required" here: inside not_() that would exempt. An error requires 2FA
            # wherever the function sits in a combination.
            raise PolicyUnavailable(f"{self.name} answered {answer!r}, not True or False")
        return Verdict(answer, f"{self.name}: {'yes' if answer else 'no'}")

    def describe(self) -> str:
        return self.name


def from_function(
    function: Callable[[str, str, dict[str, Any]], bool | Awaitable[bool]], name: str
) -> Policy:
    """Your own ``(user_id, tenant_id, user_context) -> bool`` (sync or async) as a policy
    that combines with the others; ``name`` says what it checks, e.g. ``"paid plan"``.
    An answer that is not a bool is an error, and an error requires 2FA, also inside
    :func:`not_`."""
    if not callable(function) or not isinstance(name, str) or not name:
        raise ValueError("from_function() takes a function and a name saying what it checks")
    return _Function(function, name)


def _policies(policies: tuple[Policy, ...], name: str) -> tuple[Policy, ...]:
    if not policies or not all(isinstance(p, Policy) for p in policies):
        raise ValueError(f"{name}() takes one or more policies of st_twofactor.policy")
    return policies


def any_of(*policies: Policy) -> Policy:
    """2FA is required when at least one of ``policies`` requires it."""
    return _AnyOf(_policies(policies, "any_of"))


def all_of(*policies: Policy) -> Policy:
    """2FA is required only when every one of ``policies`` requires it."""
    return _AllOf(_policies(policies, "all_of"))


def not_(policy: Policy) -> Policy:
    """2FA is required exactly when ``policy`` does not require it (e.g. everyone but the
    users with a role: ``not_(with_role("kiosk"))``)."""
    return _Not(_policies((policy,), "not_")[0])


async def verdict_of(
    required: bool | Callable[[str, str, dict[str, Any]], bool | Awaitable[bool]],
    user_id: str,
    tenant_id: str,
    user_context: dict[str, Any],
) -> Verdict:
    """What any ``required`` setting decides and why: a bool, a :class:`Policy`, or the
    app's own function (which does not say why). As at sign-in, anything but an explicit
    ``False`` means required, and a failing policy requires 2FA."""
    if isinstance(required, bool):
        return Verdict(required, "required=True: everyone" if required else "required=False")
    try:
        if isinstance(required, Policy):
            return await required.decide(user_id, tenant_id, user_context)
        answer = required(user_id, tenant_id, user_context)
        if inspect.isawaitable(answer):
            answer = await answer
    except Exception as error:
        return Verdict(True, f"the policy failed ({type(error).__name__}: {error}): required")
    name = getattr(required, "__qualname__", type(required).__name__)
    return Verdict(answer is not False, f"the app's function {name} answered {answer!r}")


_ROLES_KEY = "_st2fa_roles"


async def _roles_of(user_id: str, tenant_id: str, user_context: dict[str, Any]) -> frozenset[str]:
    """The user's roles on the tenant (UserRoles recipe), read once per request."""
    cache = user_context.setdefault(_ROLES_KEY, {})
    key = (tenant_id, user_id)
    if key in cache:
        held: frozenset[str] = cache[key]
        return held
    try:  # loaded on first use: an app without role policies never needs the recipe
        from supertokens_python.recipe.userroles.asyncio import get_roles_for_user

        result = await get_roles_for_user(tenant_id, user_id, user_context)
    except Exception as error:
        raise PolicyUnavailable(
            f"the roles of user {user_id!r} on tenant {tenant_id!r} could not be read "
            f"(is the UserRoles recipe initialised, userroles.init()?): {error}"
        ) from error
    held = frozenset(result.roles)
    cache[key] = held
    return held
