"""What the 2FA state keeps of WebAuthn: a user's credentials (:class:`WebAuthnCredential`)
and the challenges answered (:class:`PendingChallenge`), and how they are written and read.

Stored data is read strictly: a record that does not parse (a wrong type, a missing key,
a credential id or key that is not canonical base64url, a public key that is not COSE)
raises :class:`~st_twofactor.errors.MalformedDataError` from ``from_dict``, as for the rest
of the 2FA state, rather than reaching the ceremonies. The rules for a credential's name
are here too: the strict one for a new name, the looser one a stored name is read with.
"""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

from st_twofactor.errors import MalformedDataError
from st_twofactor.factors._device_names import valid_device_name

try:
    from webauthn.helpers import bytes_to_base64url, decode_credential_public_key
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "WebAuthn needs the webauthn package: pip install 'st-twofactor[webauthn]'"
    ) from exc

__all__ = [
    "MAX_CHALLENGE_BYTES",
    "MAX_CREDENTIAL_ID_BYTES",
    "MIN_CHALLENGE_BYTES",
    "PendingChallenge",
    "Purpose",
    "WebAuthnCredential",
    "decode_b64url",
    "valid_credential_name",
]

MIN_CHALLENGE_BYTES = 16
"""WebAuthn asks for at least 16 random bytes."""
MAX_CHALLENGE_BYTES = 64
MAX_CREDENTIAL_ID_BYTES = 1023
"""The WebAuthn limit on a credential id's length."""

Purpose = Literal["register", "authenticate"]

_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


def valid_credential_name(name: object) -> bool:
    """A credential name follows the rule of TOTP device names (it is shown back to the
    user): 1-64 characters, no invisible, control or format character, no double space,
    no word mixing alphabets (:func:`~st_twofactor.factors._device_names.valid_device_name`).
    Names are compared as device names are: look-alikes are the same name."""
    return valid_device_name(name)


def _stored_name(name: object) -> bool:
    """The looser rule a stored name is read with (1-64 characters, no C0 control or DEL,
    no surrounding space), so a key named before the current rule still loads."""
    return isinstance(name, str) and bool(_NAME.match(name)) and name.strip() == name


@dataclass(frozen=True)
class WebAuthnCredential:
    """One security key or passkey of a user, as kept in the user's 2FA state."""

    credential_id: str
    """The credential id, base64url without padding (as browsers send it)."""
    public_key: str
    """The COSE public key, base64url."""
    sign_count: int
    transports: tuple[str, ...]
    """How the browser can reach it (``"usb"``, ``"internal"``, ...); a hint for the browser."""
    name: str
    created_at: float
    last_used_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.credential_id,
            "public_key": self.public_key,
            "sign_count": self.sign_count,
            "transports": list(self.transports),
            "name": self.name,
            "created_at": self.created_at,
            "last_used_at": self.last_used_at,
        }

    @classmethod
    def from_dict(cls, data: object) -> WebAuthnCredential:
        """Parse a stored credential; a missing key or a wrong type raises
        :class:`~st_twofactor.errors.MalformedDataError`."""
        doc = _object(data, "WebAuthn credential")
        credential_id = _b64url_field(doc, "id")
        if not 0 < len(decode_b64url(credential_id)) <= MAX_CREDENTIAL_ID_BYTES:
            raise MalformedDataError("WebAuthn credential: id has a wrong length")
        public_key = _b64url_field(doc, "public_key")
        try:
            decode_credential_public_key(decode_b64url(public_key))
        except Exception as exc:  # cbor2 and py_webauthn raise many kinds
            raise MalformedDataError("WebAuthn credential: public_key is not a COSE key") from exc
        sign_count = _field(doc, "sign_count", int)
        if not 0 <= sign_count < 2**32:
            raise MalformedDataError("WebAuthn credential: sign_count out of range")
        transports = _field(doc, "transports", list)
        if not all(isinstance(t, str) for t in transports):
            raise MalformedDataError("WebAuthn credential: transports must be strings")
        name = _field(doc, "name", str)
        if not _stored_name(name):
            raise MalformedDataError("WebAuthn credential: invalid name")
        last_used = doc.get("last_used_at", _MISSING)
        return cls(
            credential_id=credential_id,
            public_key=public_key,
            sign_count=sign_count,
            transports=tuple(transports),
            name=name,
            created_at=_time_field(doc, "created_at"),
            last_used_at=None if last_used is None else _time_field(doc, "last_used_at"),
        )


@dataclass(frozen=True)
class PendingChallenge:
    """A challenge handed to a browser and not used yet. Keep it in the user's 2FA state;
    remove it in the update that verifies the answer (single use is the caller's part:
    see :mod:`st_twofactor.factors.webauthn.challenge`)."""

    challenge: str
    """The challenge's bytes, base64url: 32 random bytes, or a signed challenge
    (:class:`~st_twofactor.factors.webauthn.challenge.ChallengeSigner`)."""
    purpose: Purpose
    session_handle: str
    """The session that asked for it: only that session may answer."""
    expires_at: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "challenge": self.challenge,
            "purpose": self.purpose,
            "session_handle": self.session_handle,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_dict(cls, data: object) -> PendingChallenge:
        """Parse a stored challenge; a missing key or a wrong type raises
        :class:`~st_twofactor.errors.MalformedDataError`."""
        doc = _object(data, "WebAuthn challenge")
        challenge = _b64url_field(doc, "challenge")
        if not MIN_CHALLENGE_BYTES <= len(decode_b64url(challenge)) <= MAX_CHALLENGE_BYTES:
            raise MalformedDataError("WebAuthn challenge: wrong length")
        purpose = _field(doc, "purpose", str)
        if purpose == "register":
            checked: Purpose = "register"
        elif purpose == "authenticate":
            checked = "authenticate"
        else:
            raise MalformedDataError("WebAuthn challenge: unknown purpose")
        session_handle = _field(doc, "session_handle", str)
        if not session_handle:
            raise MalformedDataError("WebAuthn challenge: empty session handle")
        return cls(challenge, checked, session_handle, _time_field(doc, "expires_at"))


_MISSING = object()


def _object(data: object, what: str) -> dict[str, Any]:
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise MalformedDataError(f"{what} must be a JSON object")
    return data


def _field(doc: dict[str, Any], key: str, kind: type[Any]) -> Any:
    value = doc.get(key, _MISSING)
    if value is _MISSING:
        raise MalformedDataError(f"WebAuthn data: {key!r} is missing")
    # bool is an int subclass; a stored True is never a count.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise MalformedDataError(f"WebAuthn data: {key!r} must be of type {kind.__name__}")
    return value


def _time_field(doc: dict[str, Any], key: str) -> float:
    value = doc.get(key, _MISSING)
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise MalformedDataError(f"WebAuthn data: {key!r} must be a time in seconds")
    return float(value)


def _b64url_field(doc: dict[str, Any], key: str) -> str:
    value: str = _field(doc, key, str)
    decode_b64url(value)
    return value


def decode_b64url(text: str) -> bytes:
    """Strict base64url without padding, in its one canonical spelling; anything else
    raises :class:`~st_twofactor.errors.MalformedDataError`."""
    if not _B64URL.match(text) or len(text) % 4 == 1:
        raise MalformedDataError("WebAuthn data: not base64url")
    decoded = _b64decode(text)
    if bytes_to_base64url(decoded) != text:
        raise MalformedDataError("WebAuthn data: not canonical base64url")
    return decoded


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
