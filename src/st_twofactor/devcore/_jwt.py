"""JWTs of the development core: RS256 signing and verification in compact form.

Both the current form (``kid`` in the header, base64url segments) and the legacy one
of CDI 2.x access tokens (a fixed header, standard base64). Which keys there are, and
which one signs, is :mod:`._keys`' business; this module only turns a payload and a
key into a token and back, so it is kept apart from the key lifecycle.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

if TYPE_CHECKING:
    from ._keys import KeySet, SigningKey

ALGORITHM = "RS256"


class InvalidToken(Exception):
    """A JWT that is malformed, signed by an unknown key, or whose signature is wrong."""


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JWT segments and JWK numbers are written."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_jwt(key: SigningKey, payload: dict[str, Any], extra_header: dict[str, str]) -> str:
    """A compact RS256 JWT of ``payload``, with ``kid`` and ``extra_header`` in its header."""
    header = {"alg": ALGORITHM, "typ": "JWT", "kid": key.kid, **extra_header}
    signing_input = b64url(_json_bytes(header)) + "." + b64url(_json_bytes(payload))
    signature = key.private_key.sign(
        signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
    )
    return signing_input + "." + b64url(signature)


def verify_jwt(keys: KeySet, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (header, payload) of a JWT signed by one of ``keys``; raises InvalidToken.

    Only the signature is checked here: expiry and claims are the caller's business.
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("invalid jwt")
    header = _json_segment(parts[0])
    kid = header.get("kid")
    if header.get("alg") != ALGORITHM or not isinstance(kid, str):
        raise InvalidToken("JWT header mismatch")
    key = keys.find(kid)
    if key is None:
        raise InvalidToken("Key not found")
    try:
        signature = _unb64(parts[2])
        key.public_key.verify(
            signature,
            (parts[0] + "." + parts[1]).encode("ascii"),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except (InvalidSignature, ValueError):
        raise InvalidToken("JWT verification failed") from None
    return header, _json_segment(parts[1])


# -- legacy (version 1 and 2) access tokens --
#
# CDI 2.x cores signed access tokens without a ``kid``: a fixed header, standard
# (padded, "+/") base64 for every segment, and any of the app's keys may have signed.
# The SDK recognises them by the exact header text, so it is built here byte for byte.


def _legacy_header(version: int) -> str:
    text = json.dumps(
        {"alg": ALGORITHM, "typ": "JWT", "version": str(version)}, separators=(",", ":")
    )
    return base64.b64encode(text.encode()).decode("ascii")


LEGACY_HEADERS = {_legacy_header(1): 1, _legacy_header(2): 2}


def sign_legacy_jwt(key: SigningKey, payload: dict[str, Any], version: int) -> str:
    """A version 1 or 2 access token: fixed header, no ``kid``, standard base64."""
    header = _legacy_header(version)
    body = base64.b64encode(_json_bytes(payload)).decode("ascii")
    signing_input = (header + "." + body).encode("ascii")
    signature = key.private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return header + "." + body + "." + base64.b64encode(signature).decode("ascii")


def verify_legacy_jwt(keys: KeySet, token: str) -> tuple[int, dict[str, Any]] | None:
    """(version, payload) of a legacy token signed by any of ``keys``; None when the token
    is not a legacy one (its header is not the fixed one). Raises InvalidToken when it
    is, but no key verifies it."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] not in LEGACY_HEADERS:
        return None
    try:
        signature = _unb64_any(parts[2])
        payload = json.loads(_unb64_any(parts[1]))
    except (ValueError, RecursionError):
        raise InvalidToken("invalid jwt") from None
    if not isinstance(payload, dict):
        raise InvalidToken("invalid jwt")
    signing_input = (parts[0] + "." + parts[1]).encode("ascii")
    for key in (*keys.dynamic, keys.static):
        try:
            key.public_key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            continue
        return LEGACY_HEADERS[parts[0]], payload
    raise InvalidToken("JWT verification failed")


def _unb64_any(segment: str) -> bytes:
    """Standard or URL-safe base64, padded or not (the real core reads both)."""
    if not segment.isascii():
        raise ValueError("not base64")
    data = segment.encode("ascii").replace(b"-", b"+").replace(b"_", b"/").rstrip(b"=")
    return base64.b64decode(data + b"=" * (-len(data) % 4), validate=True)


def _json_segment(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(_unb64(segment))
    except (ValueError, RecursionError):
        raise InvalidToken("invalid jwt") from None
    if not isinstance(value, dict):
        raise InvalidToken("invalid jwt")
    return value


def _json_bytes(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def _unb64(segment: str) -> bytes:
    """Strict base64url: anything outside the alphabet is a ValueError."""
    if not segment.isascii():
        raise ValueError("not base64url")
    data = segment.encode("ascii")
    return base64.b64decode(data + b"=" * (-len(data) % 4), altchars=b"-_", validate=True)
