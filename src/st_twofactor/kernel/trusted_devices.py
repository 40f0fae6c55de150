"""Remembered (trusted) devices: one record per device in the user's state, and its token.

When a user completes 2FA and asks to remember the device, a record
:class:`RememberedDevice` is added to their state (an id, a name read from the
``User-Agent``, when it was remembered and last used, when it expires) and the device gets
a remember-device token (:mod:`st_twofactor.kernel.remember`) that names the record. At a
later sign-in the token skips the second factor only while its record is there, so:

- the user (``GET /auth/2fa/remembered-devices``), an admin and the command line see every
  device that can skip 2FA, and removing one record ends that device's trust alone;
- changing factors, an admin reset, a new password or "sign out everywhere" still end them
  all: the state's epoch changes (old tokens fail) and the records go with it.

Limits, so the state stays small and the sign-in path cheap:

- at most :data:`MAX_REMEMBERED_DEVICES` records per user: remembering one more evicts the
  least recently used (that device is asked for its second factor at its next sign-in);
  expired records are dropped whenever a record is added or removed;
- ``lastUsedAt`` is written at most once per :data:`LAST_USED_EVERY_MS` per device: a
  sign-in within that time of the recorded use writes nothing, so a busy device costs no
  store write per sign-in, and the time shown is exact to within that step.

A token issued before devices were records names none: it no longer skips 2FA (its
device asks for the second factor once and may be remembered again, and then it is
listed), so that the list is always complete.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from st_twofactor.kernel.user_agent import device_label

if TYPE_CHECKING:
    from st_twofactor.kernel.remember import RememberDeviceTokens
    from st_twofactor.kernel.request_store import RequestStore
    from st_twofactor.stores.state import TwoFactorState

__all__ = [
    "LAST_USED_EVERY_MS",
    "MAX_DEVICE_ID_LENGTH",
    "MAX_REMEMBERED_DEVICES",
    "RememberedDevice",
    "TrustedDevices",
    "live",
    "to_ms",
    "with_device",
]

MAX_REMEMBERED_DEVICES = 10
"""Records kept per user; remembering one more evicts the least recently used."""

LAST_USED_EVERY_MS = 3_600_000
"""``lastUsedAt`` is updated at most once an hour per device (one store write)."""

MAX_DEVICE_ID_LENGTH = 64
"""A device id is 16 random bytes in base64url (22 characters); anything longer is junk."""


def to_ms(seconds: float) -> int:
    """Seconds since the epoch (the config's clock) as whole milliseconds."""
    return math.floor(seconds * 1000)


@dataclass
class RememberedDevice:
    """One remembered device of a user. Times are milliseconds since the epoch."""

    id: str
    """Random; its remember-device token names it. Not a secret: it proves nothing."""
    name: str
    """From the ``User-Agent`` (:func:`~st_twofactor.kernel.user_agent.device_label`):
    a label for the user, never trusted."""
    created_at: int
    last_used_at: int
    expires_at: int
    """When its token expires; the record is dropped after."""

    def public(self) -> dict[str, Any]:
        """What the HTTP API shows of it."""
        return {
            "id": self.id,
            "name": self.name,
            "createdAt": self.created_at,
            "lastUsedAt": self.last_used_at,
        }

    def to_dict(self) -> dict[str, Any]:
        """Its stored form (the state's ``remembered_devices``)."""
        return {
            "id": self.id,
            "name": self.name,
            "created_at": self.created_at,
            "last_used_at": self.last_used_at,
            "expires_at": self.expires_at,
        }


def live(devices: Iterable[RememberedDevice], now_ms: int) -> list[RememberedDevice]:
    """The unexpired records, most recently used first."""
    alive = [d for d in devices if d.expires_at > now_ms]
    return sorted(alive, key=lambda d: d.last_used_at, reverse=True)


def with_device(
    devices: Iterable[RememberedDevice], device: RememberedDevice, now_ms: int
) -> list[RememberedDevice]:
    """``devices`` without the expired ones, and without the least recently used as long
    as there are :data:`MAX_REMEMBERED_DEVICES`, then ``device``."""
    kept = live(devices, now_ms)[: MAX_REMEMBERED_DEVICES - 1]
    return [*kept, device]


class TrustedDevices:
    """Remembers, recognises, lists and forgets a user's devices, through the store every
    flow uses (so a revoked session changes nothing)."""

    def __init__(
        self,
        store: RequestStore,
        tokens: RememberDeviceTokens,
        clock: Callable[[], float],
        lifetime: float,
    ) -> None:
        self.store = store
        self.tokens = tokens
        self.clock = clock
        self.lifetime = lifetime

    async def remember(
        self, user_id: str, user_agent: str | None, user_context: dict[str, Any]
    ) -> tuple[str, RememberedDevice]:
        """Add a record for this device and return its token (a bearer secret)."""
        now = self.clock()
        now_ms = to_ms(now)
        device = RememberedDevice(
            id=secrets.token_urlsafe(16),
            name=device_label(user_agent),
            created_at=now_ms,
            last_used_at=now_ms,
            expires_at=to_ms(now + self.lifetime),
        )

        def add(state: TwoFactorState) -> int:
            state.remembered_devices = with_device(state.remembered_devices, device, now_ms)
            return state.epoch

        epoch = await self.store.update(user_id, add, user_context)
        token = self.tokens.issue(
            user_id, epoch, lifetime=self.lifetime, now=lambda: now, device_id=device.id
        )
        return token, device

    async def recognise(
        self, user_id: str, tokens: Iterable[str], user_context: dict[str, Any]
    ) -> bool:
        """Whether one of ``tokens`` is a valid token of a device the user still has
        remembered; its ``lastUsedAt`` is brought up to date (at most one write per
        :data:`LAST_USED_EVERY_MS`)."""
        state = await self.store.load(user_id, user_context)
        now_ms = to_ms(self.clock())
        ids = {
            device_id
            for token in tokens
            if (device_id := self.tokens.device_id(token, user_id, state.epoch, now=self.clock))
        }
        device = _find(state, ids, now_ms)
        if device is None:
            return False
        if now_ms - device.last_used_at < LAST_USED_EVERY_MS:
            return True

        def touch(state: TwoFactorState) -> bool:
            found = _find(state, ids, now_ms)  # removed meanwhile: no longer trusted
            if found is not None:
                found.last_used_at = max(found.last_used_at, now_ms)
            return found is not None

        return await self.store.update(user_id, touch, user_context)

    async def listed(self, user_id: str, user_context: dict[str, Any]) -> list[RememberedDevice]:
        """The user's remembered devices, most recently used first."""
        state = await self.store.load(user_id, user_context)
        return live(state.remembered_devices, to_ms(self.clock()))

    async def remove(self, user_id: str, device_id: str, user_context: dict[str, Any]) -> bool:
        """Forget the device ``device_id``: its token no longer skips 2FA. Whether the
        user had it (unexpired)."""
        now_ms = to_ms(self.clock())

        def remove(state: TwoFactorState) -> bool:
            before = live(state.remembered_devices, now_ms)
            state.remembered_devices = [d for d in before if d.id != device_id]
            return len(state.remembered_devices) != len(before)

        return await self.store.update(user_id, remove, user_context)


def _find(state: TwoFactorState, ids: set[str], now_ms: int) -> RememberedDevice | None:
    return next(
        (d for d in state.remembered_devices if d.id in ids and d.expires_at > now_ms), None
    )
