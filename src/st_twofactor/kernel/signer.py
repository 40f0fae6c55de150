"""The one HMAC signer under rotating keys, for every value the library signs itself.

The library hands out values it must later recognise as its own: remember-device and
known-device tokens (:mod:`st_twofactor.kernel.remember`), WebAuthn challenges
(:mod:`st_twofactor.factors.webauthn.challenge`). They are all signed here, so that key
derivation, rotation and the comparison are written once.

- **A key per purpose.** Each use names a *label*; its key is derived from the app's
  secret key with HKDF under that label. A value signed for one purpose never verifies
  for another, and no signing key is ever the key that encrypts TOTP secrets.
- **Rotation.** The first secret key signs; verification tries every key, always all of
  them, each compared in constant time, so the time taken says nothing about which key
  (if any) matched. A key can be rotated without invalidating what the old one signed.
- **Bound strings.** A tag may cover strings the value does not carry (a user id, a
  session handle): the value then verifies only where the same strings are given again.
  Each is length-prefixed, so no character can move from one to the next.

The format, version 1, in two forms (HMAC-SHA256, a 32-byte tag; ``domain`` is a fixed
prefix the caller may add to what is signed, ``bound`` the length-prefixed strings):

- *sealed* bytes, for a value that must be short and binary (a WebAuthn challenge):
  ``0x01 || payload || tag``, the tag over ``domain || 0x01 || payload || bound``. The
  first byte is the version; a later format would get another and be read beside this one.
- *text*, for a value that travels in a cookie or header (a remember-device token):
  ``base64url(payload) "." base64url(tag)``, the tag over
  ``domain || base64url(payload) || bound``. Its version is in the caller's ``domain``
  (such as ``st_twofactor.kernel.remember.v1.``), which is what remember-device tokens
  have always been signed with: tokens issued before this module existed still verify.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from st_twofactor.errors import ConfigurationError
from st_twofactor.kernel.crypto import b64decode, b64encode, derive_key, normalise_secret_keys

__all__ = ["MAX_TEXT_CHARS", "TAG_BYTES", "VERSION", "Signer"]

VERSION = 1
"""The sealed form's first byte."""
TAG_BYTES = 32
"""An HMAC-SHA256 tag."""
MAX_TEXT_CHARS = 2048
"""A longer text is refused before anything is decoded (a bound on a request's work)."""


class Signer:
    """Signs and verifies values for one purpose under the app's secret keys."""

    def __init__(
        self, secret_keys: str | Sequence[str], label: bytes, *, domain: bytes = b""
    ) -> None:
        """:param label: the purpose's HKDF label (its key is derived under it).
        :param domain: bytes put before everything signed, a second separation between
            purposes (kept for the formats that have always had one)."""
        if not isinstance(label, bytes) or not label:
            raise ConfigurationError("a signer's label must be non-empty bytes")
        self._keys = [derive_key(k, label) for k in normalise_secret_keys(secret_keys)]
        self._domain = bytes(domain)

    def seal(self, payload: bytes, *bound: str) -> bytes:
        """``payload`` with its version byte and tag (the sealed form)."""
        signed = bytes([VERSION]) + payload
        return signed + self._tag(self._keys[0], signed, bound)

    def unseal(self, sealed: object, *bound: str) -> bytes | None:
        """The payload of a value :meth:`seal` made with one of the keys and the same
        ``bound`` strings, else ``None`` (also for anything that is not bytes)."""
        if not isinstance(sealed, bytes) or len(sealed) < 1 + TAG_BYTES:
            return None
        signed, tag = sealed[:-TAG_BYTES], sealed[-TAG_BYTES:]
        if not self._verifies(signed, tag, bound) or signed[0] != VERSION:
            return None
        return signed[1:]

    def sign_text(self, payload: bytes, *bound: str) -> str:
        """``payload`` and its tag as ASCII text (the text form)."""
        body = b64encode(payload)
        return f"{body}.{b64encode(self._tag(self._keys[0], body.encode('ascii'), bound))}"

    def open_text(self, token: object, *bound: str) -> bytes | None:
        """The payload of a text :meth:`sign_text` made with one of the keys and the same
        ``bound`` strings, else ``None``, never an exception, whatever ``token`` is. The
        tag is checked before the payload is decoded."""
        if not isinstance(token, str) or len(token) > MAX_TEXT_CHARS or not token.isascii():
            return None
        body, dot, tag_text = token.partition(".")
        if not dot:
            return None
        try:
            tag = b64decode(tag_text)
        except ValueError:
            return None
        if not self._verifies(body.encode("ascii"), tag, bound):
            return None
        try:
            return b64decode(body)
        except ValueError:  # signed by us, so never in practice
            return None

    def _verifies(self, signed: bytes, tag: bytes, bound: tuple[str, ...]) -> bool:
        valid = False
        for key in self._keys:  # every key, no early exit
            valid |= hmac.compare_digest(self._tag(key, signed, bound), tag)
        return valid

    def _tag(self, key: bytes, signed: bytes, bound: tuple[str, ...]) -> bytes:
        message = bytearray(self._domain + signed)
        for text in bound:
            encoded = text.encode("utf-8", "surrogatepass")
            message += len(encoded).to_bytes(4, "big") + encoded
        return hmac.new(key, bytes(message), hashlib.sha256).digest()
