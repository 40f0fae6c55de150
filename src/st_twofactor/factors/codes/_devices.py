"""The device ids a client holds for second-factor codes
(:mod:`st_twofactor.factors.codes.passwordless`).

The core names a passwordless device by two ids: ``deviceId`` (random bytes, base64) and
``preAuthSessionId`` (the SHA-256 of those bytes, URL-safe base64 without padding). With
both and the code, the SDK's own consume endpoint signs in: in an app where passwordless
is also a first factor, a second-factor code used without a session would be a sign-in
for its contact. So the client is never given the core's ``deviceId``:

- it gets ``preAuthSessionId`` as it is (the key of the pending device in the user's
  state) and, as ``deviceId``, a *handle*: 32 fresh random bytes, in the core's format;
- the user's state keeps the core's id XOR a keystream drawn from the handle (the
  *mask*); the handle the client sends back unmasks it, and the core's own relation
  (the SHA-256 of the id is ``preAuthSessionId``) tells whether it was the right handle.

Only the session that asked for the code can have its handle turned back into the core's
id (the pending device is looked up in its user's state, for its session), and the
stored mask alone does not give the id. A *decoy* (a device for a destination that is not
the user's: nothing sent, nothing in the core) is made the same way from random bytes,
so its ids have the same format and unmask the same way.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from st_twofactor.kernel.crypto import b64decode, b64encode
from st_twofactor.stores.state import PendingCode

HANDLE_BYTES = 32
"""Bytes of a handle, and of a decoy's made-up core id (the core's device ids' size)."""

_KEYSTREAM_LABEL = b"st-twofactor otp device id\x00"


@dataclass(frozen=True)
class HandedOut:
    """Ids for the client (``device_id`` is a handle) and the mask kept in the state."""

    device_id: str
    pre_auth_session_id: str
    mask: str


def hand_out(core_device_id: str, pre_auth_session_id: str) -> HandedOut:
    """The client's ids for a device the core made, and the mask to keep for it."""
    handle = secrets.token_bytes(HANDLE_BYTES)
    core_id = base64.b64decode(core_device_id, validate=True)
    return HandedOut(_device_id_text(handle), pre_auth_session_id, _mask(core_id, handle))


def decoy() -> HandedOut:
    """Ids and mask for a decoy: a made-up core id, handed out like a real one."""
    made_up = secrets.token_bytes(HANDLE_BYTES)
    handle = secrets.token_bytes(HANDLE_BYTES)
    return HandedOut(_device_id_text(handle), pre_auth_session_id(made_up), _mask(made_up, handle))


def core_device_id(pending: PendingCode, key: str, handle: bytes) -> str | None:
    """The core's ``deviceId`` of ``pending`` (pending under ``key``) given the ``handle``
    the client sent, or ``None`` when that is not the device's handle."""
    if pending.device_mask is None:
        return None
    try:
        mask = b64decode(pending.device_mask)
    except ValueError:
        return None
    core_id = bytes(m ^ k for m, k in zip(mask, _keystream(handle, len(mask)), strict=True))
    if not hmac.compare_digest(pre_auth_session_id(core_id).encode(), key.encode("ascii")):
        return None
    return _device_id_text(core_id)


def core_pair(pre_auth_session_id_text: str, device_id: str) -> bool | None:
    """Whether ``device_id`` is the core's id of ``pre_auth_session_id_text``: ``True``,
    ``False`` (e.g. a second-factor handle), or ``None`` when either is malformed."""
    try:
        raw = base64.b64decode(device_id, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not pre_auth_session_id_text.isascii():
        return None
    expected = pre_auth_session_id(raw).encode()
    return hmac.compare_digest(expected, pre_auth_session_id_text.rstrip("=").encode())


def pre_auth_session_id(core_id: bytes) -> str:
    """The core's ``preAuthSessionId`` of a device id: its SHA-256, URL-safe, unpadded."""
    return b64encode(hashlib.sha256(core_id).digest())


def _device_id_text(raw: bytes) -> str:
    """A device id as the core writes it: standard base64, padded."""
    return base64.b64encode(raw).decode("ascii")


def _mask(core_id: bytes, handle: bytes) -> str:
    keystream = _keystream(handle, len(core_id))
    return b64encode(bytes(c ^ k for c, k in zip(core_id, keystream, strict=True)))


def _keystream(handle: bytes, length: int) -> bytes:
    return hashlib.shake_256(_KEYSTREAM_LABEL + handle).digest(length)
