"""Key derivation from the app's secret key(s), and AES-GCM encryption of TOTP secrets.

TOTP secrets must be encrypted at rest (S5): a copy of the user metadata alone must not let
anyone compute a user's codes. Keys come from the application's secret key strings through
HKDF-SHA256 with a purpose label, so the same secret key can also sign remember-device tokens
(another label) without the two uses ever sharing a key.

Rotation: :class:`SecretBox` takes a list of secret keys. The first one encrypts; every one
decrypts. Each ciphertext names its key by a short key id, so decryption picks the right key
without trial and :meth:`SecretBox.needs_rotation` can tell which records to re-encrypt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from st_twofactor.errors import ConfigurationError, DecryptionError

__all__ = [
    "MIN_SECRET_KEY_LENGTH",
    "SecretBox",
    "b64decode",
    "b64encode",
    "derive_key",
    "normalise_secret_keys",
]

MIN_SECRET_KEY_LENGTH = 16
"""Shortest accepted secret key string; generate one with ``secrets.token_urlsafe(32)``."""

_TOTP_SECRET_LABEL = b"st_twofactor/totp-secret/v1"
_KEY_ID_LABEL = b"st_twofactor/key-id/v1|"
_FORMAT = "v1"
_NONCE_BYTES = 12
_TAG_BYTES = 16
_MAX_CIPHERTEXT_CHARS = 4096


def normalise_secret_keys(secret_keys: str | Sequence[str]) -> tuple[str, ...]:
    """Return the keys as a non-empty tuple, first (current) key first.

    A single string is accepted as a list of one. Raises :class:`ConfigurationError` when the
    list is empty or a key is not a string of at least :data:`MIN_SECRET_KEY_LENGTH` chars.
    """
    keys = (secret_keys,) if isinstance(secret_keys, str) else tuple(secret_keys)
    if not keys:
        raise ConfigurationError("secret_keys is empty: pass at least one secret key")
    for position, key in enumerate(keys):
        if not isinstance(key, str) or len(key) < MIN_SECRET_KEY_LENGTH:
            raise ConfigurationError(
                f"secret key #{position} must be a string of at least {MIN_SECRET_KEY_LENGTH}"
                " characters; generate one with secrets.token_urlsafe(32)"
            )
    return keys


def derive_key(secret_key: str, label: bytes, *, length: int = 32) -> bytes:
    """Derive a purpose-specific key from a secret key string with HKDF-SHA256.

    ``label`` is HKDF's ``info``: keys derived with different labels are independent.
    """
    hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=label)
    return hkdf.derive(secret_key.encode("utf-8"))


def b64encode(data: bytes) -> str:
    """URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    """Strict inverse of :func:`b64encode`; raises ``ValueError`` on anything else."""
    if not text.isascii():
        raise ValueError("not base64")
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except binascii.Error as exc:
        raise ValueError("not base64") from exc
    if b64encode(data) != text:  # refuse non-canonical spellings (stray bits, padding)
        raise ValueError("not base64")
    return data


def _key_id(key: bytes) -> str:
    return hashlib.sha256(_KEY_ID_LABEL + key).hexdigest()[:8]


class SecretBox:
    """Encrypts short secrets (TOTP seeds) with AES-256-GCM under rotating keys.

    Ciphertexts look like ``v1.<key id>.<base64url(nonce || ciphertext || tag)>``. The
    ``context`` given to :meth:`encrypt` (use the user id) is authenticated as associated
    data: a ciphertext copied into another user's record does not decrypt there.
    """

    def __init__(self, secret_keys: str | Sequence[str]) -> None:
        derived = [derive_key(k, _TOTP_SECRET_LABEL) for k in normalise_secret_keys(secret_keys)]
        self._keys: list[tuple[str, AESGCM]] = [(_key_id(k), AESGCM(k)) for k in derived]

    @property
    def primary_key_id(self) -> str:
        """Id of the key that encrypts (the first secret key)."""
        return self._keys[0][0]

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Ids of every configured key, the primary first."""
        return tuple(kid for kid, _ in self._keys)

    def encrypt(self, plaintext: str, *, context: str) -> str:
        """Encrypt ``plaintext`` under the primary key, bound to ``context``."""
        key_id, aead = self._keys[0]
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = aead.encrypt(nonce, plaintext.encode("utf-8"), _aad(key_id, context))
        return f"{_FORMAT}.{key_id}.{b64encode(nonce + sealed)}"

    def decrypt(self, ciphertext: str, *, context: str) -> str:
        """Decrypt a value made by :meth:`encrypt` with any configured key.

        Raises :class:`DecryptionError` when the text is garbled, names no configured key,
        was made for another ``context``, or was tampered with.
        """
        key_id, blob = _parse(ciphertext)
        candidates = [aead for kid, aead in self._keys if kid == key_id]
        if not candidates:
            raise DecryptionError(
                f"no configured secret key has id {key_id}: keep retired keys in the list"
                " until every secret is re-encrypted",
                key_id=key_id,
            )
        nonce, sealed = blob[:_NONCE_BYTES], blob[_NONCE_BYTES:]
        for aead in candidates:  # more than one only if two keys share an id (2**-32)
            try:
                return aead.decrypt(nonce, sealed, _aad(key_id, context)).decode("utf-8")
            except InvalidTag:
                continue
        raise DecryptionError(
            "ciphertext failed authentication: wrong key, wrong context or tampered",
            key_id=key_id,
        )

    def needs_rotation(self, ciphertext: str) -> bool:
        """True when ``ciphertext`` was not made with the primary key.

        Raises :class:`DecryptionError` when the text is not a ciphertext at all.
        """
        key_id, _ = _parse(ciphertext)
        return key_id != self.primary_key_id

    def rotate(self, ciphertext: str, *, context: str) -> str:
        """Re-encrypt ``ciphertext`` under the primary key (a no-op when already there)."""
        if not self.needs_rotation(ciphertext):
            return ciphertext
        return self.encrypt(self.decrypt(ciphertext, context=context), context=context)


def _aad(key_id: str, context: str) -> bytes:
    return f"{_FORMAT}.{key_id}|".encode("ascii") + context.encode("utf-8")


def _parse(ciphertext: object) -> tuple[str, bytes]:
    if not isinstance(ciphertext, str) or len(ciphertext) > _MAX_CIPHERTEXT_CHARS:
        raise DecryptionError("not a ciphertext")
    parts = ciphertext.split(".")
    if len(parts) != 3 or parts[0] != _FORMAT:
        raise DecryptionError("not a ciphertext (unknown format)")
    key_id = parts[1]
    if len(key_id) != 8 or not all(c in "0123456789abcdef" for c in key_id):
        raise DecryptionError("not a ciphertext (bad key id)")
    try:
        blob = b64decode(parts[2])
    except ValueError:
        raise DecryptionError("not a ciphertext (bad encoding)", key_id=key_id) from None
    if len(blob) < _NONCE_BYTES + _TAG_BYTES:
        raise DecryptionError("not a ciphertext (too short)", key_id=key_id)
    return key_id, blob
