"""Admin functions: read a user's 2FA state, reset their factors, new recovery codes,
list and forget remembered devices.

For support staff and back-office tools, not for end users: none of them asks for a
session or a fresh 2FA, so expose them only behind the app's own admin authorisation.
Each has a synchronous twin (``*_sync``) for Flask and Django views.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from supertokens_python.async_to_sync_wrapper import sync
from supertokens_python.recipe.session.asyncio import revoke_all_sessions_for_user

from st_twofactor import events
from st_twofactor.config import TwoFactorConfig
from st_twofactor.errors import NoFactorError
from st_twofactor.ids import is_factor_id
from st_twofactor.kernel.trusted_devices import RememberedDevice, live, to_ms
from st_twofactor.runtime import TwoFactor
from st_twofactor.stores.state import TwoFactorState

__all__ = [
    "RememberedDeviceOverview",
    "SecurityKeyOverview",
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
]


@dataclass(frozen=True)
class SecurityKeyOverview:
    """A security key or passkey as an admin may see it: no key material, no id."""

    name: str
    created_at: float
    """When it was added (seconds since the epoch)."""
    last_used_at: float | None
    """When it last completed 2FA (seconds since the epoch), ``None`` if never."""


@dataclass(frozen=True)
class RememberedDeviceOverview:
    """A remembered device: it skips the second factor at sign-in until it expires or is
    forgotten. Times are milliseconds since the epoch."""

    id: str
    """What :func:`remove_remembered_device` takes."""
    name: str
    """From its ``User-Agent`` ("Chrome on Linux"): a label, not proof of anything."""
    created_at: int
    last_used_at: int
    """Exact to within an hour (:data:`~st_twofactor.kernel.trusted_devices.LAST_USED_EVERY_MS`)."""


@dataclass(frozen=True)
class TwoFactorOverview:
    """What an admin may see of a user's 2FA: never a secret or a code."""

    user_id: str
    factors: tuple[str, ...]
    totp_devices: tuple[tuple[str, bool], ...]
    """(name, verified) of each TOTP device."""
    email: str | None
    phone: str | None
    recovery_codes_left: int
    locked_factors: tuple[str, ...]
    """Factors refused right now by the throttle."""
    security_keys: tuple[SecurityKeyOverview, ...] = ()
    """The user's security keys and passkeys."""
    sessions_revoked: int = 0
    """Sessions :func:`reset_factors` revoked (0 for a plain read)."""
    remembered_devices: tuple[RememberedDeviceOverview, ...] = ()
    """The devices that skip the second factor at sign-in, most recently used first."""


async def get_two_factor_state(
    config: TwoFactorConfig, user_id: str, user_context: dict[str, Any] | None = None
) -> TwoFactorOverview:
    """A user's enrolled factors and throttle status."""
    state = await TwoFactor.of(config).store.load(user_id, user_context or {})
    return _overview(config, user_id, state)


async def reset_factors(
    config: TwoFactorConfig,
    user_id: str,
    user_context: dict[str, Any] | None = None,
    *,
    keep_sessions: bool = False,
) -> TwoFactorOverview:
    """Remove every factor of a user (lost phone, account recovery).

    The user's sessions are revoked (on every tenant), so a session that completed 2FA
    with the old factors, maybe someone else's, ends too; ``keep_sessions=True`` keeps
    them (then whoever holds one stays signed in with 2FA complete). Remembered devices
    are revoked. Throttle counters and the last used TOTP step are kept, so a reset cannot
    reopen a lockout or allow a replay. The user's next sign-in passes 2FA only if the
    ``required`` policy exempts them; otherwise they can reach just the enrolment routes.
    """
    context = user_context or {}
    runtime = TwoFactor.of(config)
    before, state = await runtime.reset_factors(user_id, context, revoke_sessions=not keep_sessions)
    revoked = []
    if not keep_sessions:
        revoked = await revoke_all_sessions_for_user(user_id, user_context=context)
    for factor in filter(is_factor_id, before):
        removed = events.FactorRemoved(user_id=user_id, at=config.clock(), factor=factor)
        await runtime.emit(removed, context)
    return dataclasses.replace(_overview(config, user_id, state), sessions_revoked=len(revoked))


async def revoke_remembered_devices(
    config: TwoFactorConfig, user_id: str, user_context: dict[str, Any] | None = None
) -> None:
    """Make every remember-device token of the user stop working (S19).

    Call it when the user signs out everywhere; for one lost device,
    :func:`remove_remembered_device` ends only its trust. The library
    calls it itself when a password changes through ``build_recipe_list``'s emailpassword
    recipe; factor changes and :func:`reset_factors` revoke the tokens too.
    """
    await TwoFactor.of(config).revoke_remembered_devices(user_id, user_context or {})


async def list_remembered_devices(
    config: TwoFactorConfig, user_id: str, user_context: dict[str, Any] | None = None
) -> tuple[RememberedDeviceOverview, ...]:
    """The user's remembered devices, most recently used first."""
    runtime = TwoFactor.of(config)
    devices = await runtime.trusted_devices.listed(user_id, user_context or {})
    return tuple(_device_overview(device) for device in devices)


async def remove_remembered_device(
    config: TwoFactorConfig,
    user_id: str,
    device_id: str,
    user_context: dict[str, Any] | None = None,
) -> bool:
    """Forget one remembered device (the user reports it lost): its token no longer skips
    2FA; the user's other devices stay remembered. Whether the user had it."""
    runtime = TwoFactor.of(config)
    return await runtime.trusted_devices.remove(user_id, device_id, user_context or {})


async def regenerate_recovery_codes(
    config: TwoFactorConfig, user_id: str, user_context: dict[str, Any] | None = None
) -> list[str]:
    """A new set of recovery codes for the user (to hand over once); old ones stop working.

    :raises NoFactorError: the user has no other factor enrolled (S18).
    """
    runtime = TwoFactor.of(config)
    result = await runtime.recovery_codes.regenerate(user_id, user_context or {})
    if result["status"] != "OK":
        raise NoFactorError(f"user {user_id!r} has no factor besides recovery codes")
    codes: list[str] = result["recoveryCodes"]
    return codes


def get_two_factor_state_sync(
    config: TwoFactorConfig, user_id: str, user_context: dict[str, Any] | None = None
) -> TwoFactorOverview:
    """:func:`get_two_factor_state` for synchronous code."""
    return sync(get_two_factor_state(config, user_id, user_context))


def reset_factors_sync(
    config: TwoFactorConfig,
    user_id: str,
    user_context: dict[str, Any] | None = None,
    *,
    keep_sessions: bool = False,
) -> TwoFactorOverview:
    """:func:`reset_factors` for synchronous code."""
    return sync(reset_factors(config, user_id, user_context, keep_sessions=keep_sessions))


def revoke_remembered_devices_sync(
    config: TwoFactorConfig, user_id: str, user_context: dict[str, Any] | None = None
) -> None:
    """:func:`revoke_remembered_devices` for synchronous code."""
    sync(revoke_remembered_devices(config, user_id, user_context))


def list_remembered_devices_sync(
    config: TwoFactorConfig, user_id: str, user_context: dict[str, Any] | None = None
) -> tuple[RememberedDeviceOverview, ...]:
    """:func:`list_remembered_devices` for synchronous code."""
    return sync(list_remembered_devices(config, user_id, user_context))


def remove_remembered_device_sync(
    config: TwoFactorConfig,
    user_id: str,
    device_id: str,
    user_context: dict[str, Any] | None = None,
) -> bool:
    """:func:`remove_remembered_device` for synchronous code."""
    return sync(remove_remembered_device(config, user_id, device_id, user_context))


def regenerate_recovery_codes_sync(
    config: TwoFactorConfig, user_id: str, user_context: dict[str, Any] | None = None
) -> list[str]:
    """:func:`regenerate_recovery_codes` for synchronous code."""
    return sync(regenerate_recovery_codes(config, user_id, user_context))


def _overview(config: TwoFactorConfig, user_id: str, state: TwoFactorState) -> TwoFactorOverview:
    now = config.clock()
    locked = tuple(
        name for name, counter in state.throttle.factors.items() if counter.locked_until > now
    )
    return TwoFactorOverview(
        user_id=user_id,
        factors=tuple(state.factor_ids()),
        totp_devices=tuple((d.name, d.verified) for d in state.totp_devices),
        email=state.email,
        phone=state.phone,
        recovery_codes_left=len(state.recovery_codes),
        locked_factors=locked,
        security_keys=tuple(
            SecurityKeyOverview(k.name, k.created_at, k.last_used_at)
            for k in state.webauthn_credentials
        ),
        remembered_devices=tuple(
            _device_overview(d) for d in live(state.remembered_devices, to_ms(now))
        ),
    )


def _device_overview(device: RememberedDevice) -> RememberedDeviceOverview:
    return RememberedDeviceOverview(device.id, device.name, device.created_at, device.last_used_at)
