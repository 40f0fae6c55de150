"""The devices and codes of e-mailed and texted second-factor codes
(:mod:`st_twofactor.http.passwordless`).

SuperTokens' frontends name a pending code by two ids, ``deviceId`` and
``preAuthSessionId``, and send both back with the code. Second-factor codes are made and
kept by this library, not by the core (no passwordless device, code or user exists in the
core for them), in the user's state:

- a *device* is a ``deviceId`` of 32 fresh random bytes (standard base64, as the core
  writes its own) and a ``preAuthSessionId`` derived from it (a labelled SHA-256,
  URL-safe base64 without padding), the key of the pending device in the user's state.
  The state keeps no copy of the ``deviceId``: whoever presents it proves they hold the
  id handed out, and the derivation differs from the core's (whose ``preAuthSessionId``
  is the plain SHA-256 of its ``deviceId``), so a second factor's ids are never taken
  for a core device (:func:`core_pair`);
- a *code* is six random digits (or the app's ``get_custom_user_input_code``), stored
  only sealed (AES-GCM under the app's secret keys, :class:`~st_twofactor.kernel.crypto.SecretBox`)
  and bound to the user and the device: a sealed code copied to another user's record or
  another device does not open there, and a copy of the database without the app's keys
  gives no code.

A *decoy* (a destination that is not the user's: nothing sent) is a device like any
other with no code: every code typed for it is wrong.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from st_twofactor.errors import DecryptionError
from st_twofactor.kernel.crypto import SecretBox, b64encode

__all__ = [
    "CODES_PER_DEVICE",
    "HANDLE_BYTES",
    "Device",
    "code_matches",
    "core_pair",
    "is_device_id_of",
    "new_code",
    "new_device",
    "seal_code",
]

HANDLE_BYTES = 32
"""Random bytes of a ``deviceId`` (the size of the core's own device ids)."""

CODES_PER_DEVICE = 5
"""Codes kept per device: a resend adds one, the oldest beyond this goes."""

_LABEL = b"st-twofactor second-factor device\x00"


@dataclass(frozen=True)
class Device:
    """The ids a client is given for a new device."""

    device_id: str
    pre_auth_session_id: str


def new_device() -> Device:
    """A new device: a random ``deviceId`` and the ``preAuthSessionId`` derived from it."""
    raw = secrets.token_bytes(HANDLE_BYTES)
    return Device(base64.b64encode(raw).decode("ascii"), _derived_key(raw))


def is_device_id_of(key: str, device_id: bytes) -> bool:
    """Whether ``device_id`` (decoded) is the id handed out with the device ``key``."""
    return hmac.compare_digest(_derived_key(device_id).encode(), key.encode("ascii"))


def new_code(custom: str | None) -> str:
    """The app's own code when it makes them, else six random digits."""
    return custom if custom is not None else f"{secrets.randbelow(1_000_000):06d}"


def seal_code(box: SecretBox, user_id: str, key: str, code: str) -> str:
    """``code`` as stored: sealed under the app's keys, bound to the user and device."""
    return box.encrypt(code, context=_context(user_id, key))


def code_matches(box: SecretBox, user_id: str, key: str, sealed: Sequence[str], typed: str) -> bool:
    """Whether ``typed`` is one of the device's codes. Every stored code is opened and
    compared in constant time (no early exit); one that no configured key opens (its key
    was retired) matches nothing."""
    found = False
    for item in sealed:
        try:
            code = box.decrypt(item, context=_context(user_id, key))
        except DecryptionError:
            continue
        found |= hmac.compare_digest(code.encode("utf-8"), typed.encode("utf-8"))
    return found


def core_pair(pre_auth_session_id_text: str, device_id: str) -> bool | None:
    """Whether ``device_id`` is a *core* device's id for ``pre_auth_session_id_text`` (its
    SHA-256): ``True``, ``False`` (e.g. a second factor's device), or ``None`` when
    either is malformed."""
    try:
        raw = base64.b64decode(device_id, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not pre_auth_session_id_text.isascii():
        return None
    expected = b64encode(hashlib.sha256(raw).digest()).encode()
    return hmac.compare_digest(expected, pre_auth_session_id_text.rstrip("=").encode())


def _derived_key(device_id: bytes) -> str:
    return b64encode(hashlib.sha256(_LABEL + device_id).digest())


def _context(user_id: str, key: str) -> str:
    return f"second-factor code|{user_id}|{key}"
