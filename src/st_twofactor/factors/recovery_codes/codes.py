"""Recovery codes: generation, normalisation of what users type, their stored form, matching.

A code is 10 characters from a 32-letter alphabet without look-alikes (Crockford's base32,
lower case: no ``i``, ``l``, ``o``, ``u``), so each carries 50 bits (S7). Codes are shown
as ``xxxxx-xxxxx``; input is accepted in any case, with or without dashes and spaces, and
the look-alikes ``o``/``i``/``l`` are read as ``0``/``1``/``1``.

Storage: never the code. A set is stored as one keyed digest per code,
``hmac_sha256$<digest>``: HMAC-SHA256 of the code under a random 32-byte key of the user's
own, made with the set. The key is stored only sealed by
:class:`~st_twofactor.kernel.crypto.SecretBox` under the app's secret keys and bound to the
user id, like a TOTP secret (:func:`seal_key`, :func:`open_key`). So a copy of the stored
state alone gives nothing to test guesses against: without the key a digest is a random
string. A copy together with the secret keys opens the key; the codes are random, not
made from it, but each is then found by trying its 2**50 values at one HMAC each (days of
GPU time for a user's set; a PBKDF2 hash of an older set costs 10,000 times more per
guess). Whoever holds both can also read every TOTP secret.

Why not a slow hash: the codes are random, not passwords; what protects them at rest is
the sealed key, and their 50 bits once it is open. A slow hash per code cost ~2.5 ms each:
~25 ms to make a set and up to ~25 ms to check one typed code against ten. A keyed digest
is one HMAC: a typed code is derived once and compared with every stored digest.

Sets made before keyed digests are ``pbkdf2_sha256$<iterations>$<salt>$<hash>`` strings
(PBKDF2-HMAC-SHA256, a random 16-byte salt per code, the iteration count stored with each
hash). They keep working, at their old cost, until the user gets a new set; a list may hold
both forms, and :func:`find_match` reads each entry by its prefix.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from st_twofactor.errors import ConfigurationError, MalformedDataError
from st_twofactor.kernel.crypto import b64decode, b64encode

if TYPE_CHECKING:
    from st_twofactor.kernel.crypto import SecretBox
    from st_twofactor.stores.state import TwoFactorState

__all__ = [
    "ALPHABET",
    "CODE_LENGTH",
    "DEFAULT_COUNT",
    "NewSet",
    "find_match",
    "generate",
    "hash_code",
    "keyed_hash",
    "needs_slow_check",
    "new_key",
    "new_set",
    "normalise",
    "open_key",
    "seal_key",
]

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
CODE_LENGTH = 10
DEFAULT_COUNT = 10

_KEY_BYTES = 32
_KEYED_SCHEME = "hmac_sha256"
_KEYED_LABEL = b"st_twofactor/recovery-code/v1|"
_ITERATIONS = 10_000
_MAX_ITERATIONS = 1_000_000  # refuse stored hashes that would stall a login
_SALT_BYTES = 16
_SCHEME = "pbkdf2_sha256"
_MAX_INPUT_CHARS = 64
_LOOK_ALIKES = str.maketrans({"o": "0", "i": "1", "l": "1", "-": None, " ": None})
_ALLOWED = frozenset(ALPHABET)


def generate(count: int = DEFAULT_COUNT) -> list[str]:
    """``count`` distinct new codes from :mod:`secrets`, formatted ``xxxxx-xxxxx``."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 100:
        raise ConfigurationError("the number of recovery codes must be from 1 to 100")
    codes: dict[str, None] = {}
    while len(codes) < count:
        raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        codes[f"{raw[:5]}-{raw[5:]}"] = None
    return list(codes)


def normalise(code: object) -> str | None:
    """The canonical form of a typed code (10 alphabet characters), or ``None``.

    ``None`` means malformed: not a ``str``, too long, non-ASCII, or not 10 characters of
    the alphabet once case, dashes, spaces and look-alikes are taken care of.
    """
    if not isinstance(code, str) or len(code) > _MAX_INPUT_CHARS or not code.isascii():
        return None
    canonical = code.strip().lower().translate(_LOOK_ALIKES)
    if len(canonical) != CODE_LENGTH or not _ALLOWED.issuperset(canonical):
        return None
    return canonical


# -- a set and its key --


@dataclass(frozen=True)
class NewSet:
    """What a new set of codes stores: one keyed digest per code, and the key of the
    digests sealed for its user. Empty when no set was made."""

    stored: tuple[str, ...] = ()
    sealed_key: str | None = None

    def put(self, state: TwoFactorState) -> None:
        """Make this the user's set in ``state``: the old codes stop working at once."""
        state.recovery_codes = list(self.stored)
        state.recovery_code_key = self.sealed_key


def new_set(box: SecretBox, user_id: str, count: int = DEFAULT_COUNT) -> tuple[list[str], NewSet]:
    """``count`` new codes for ``user_id`` (to show once) and what to store for them: a new
    random key sealed for the user, and one keyed digest per code (microseconds; no slow
    hash, so it runs on the event loop)."""
    codes = generate(count)
    key = new_key()
    stored = tuple(keyed_hash(code, key) for code in codes)
    return codes, NewSet(stored, seal_key(box, key, user_id))


def new_key() -> bytes:
    """A new random key for the digests of one set of codes."""
    return secrets.token_bytes(_KEY_BYTES)


def seal_key(box: SecretBox, key: bytes, user_id: str) -> str:
    """``key`` sealed under the app's first secret key, bound to ``user_id``."""
    return box.encrypt(b64encode(key), context=user_id)


def open_key(box: SecretBox, sealed: str, user_id: str) -> bytes:
    """The key sealed by :func:`seal_key` for ``user_id``.

    Raises :class:`~st_twofactor.errors.DecryptionError` when no configured secret key
    opens it (or it was sealed for another user), :class:`MalformedDataError` when what it
    holds is not a key.
    """
    try:
        key = b64decode(box.decrypt(sealed, context=user_id))
    except ValueError:
        raise MalformedDataError("stored recovery code key is malformed") from None
    if len(key) != _KEY_BYTES:
        raise MalformedDataError("stored recovery code key is malformed")
    return key


# -- stored forms --


def keyed_hash(code: str, key: bytes) -> str:
    """The storage form of ``code`` (as generated or typed) in a set whose key is ``key``.

    Raises :class:`MalformedDataError` when ``code`` is not a recovery code.
    """
    canonical = normalise(code)
    if canonical is None:
        raise MalformedDataError("not a recovery code")
    return f"{_KEYED_SCHEME}${b64encode(_keyed_digest(key, canonical))}"


def hash_code(code: str) -> str:
    """The storage form of ``code`` in sets made before keyed digests (PBKDF2, a fresh
    random salt). New sets use :func:`keyed_hash`; this is kept to read and test old ones.

    Raises :class:`MalformedDataError` when ``code`` is not a recovery code.
    """
    canonical = normalise(code)
    if canonical is None:
        raise MalformedDataError("not a recovery code")
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _derive(canonical, salt, _ITERATIONS)
    return f"{_SCHEME}${_ITERATIONS}${b64encode(salt)}${b64encode(digest)}"


def needs_slow_check(stored: Sequence[str]) -> bool:
    """Whether matching against ``stored`` runs PBKDF2 (a set made before keyed digests):
    worth running off the event loop. A keyed set is matched in microseconds."""
    return any(not _is_keyed(entry) for entry in stored)


def find_match(code: object, stored: Sequence[str], key: bytes | None = None) -> int | None:
    """Index of the stored entry that ``code`` matches, or ``None``.

    ``key`` opens the keyed digests (:func:`open_key`); a set made before them needs none.
    A keyed entry costs one HMAC per call in all (the typed code is derived once), an old
    PBKDF2 entry one PBKDF2 each. Malformed input is ``None`` without touching the
    entries. Every entry is checked (no early exit) and each comparison uses
    :func:`hmac.compare_digest`. An entry that cannot be parsed, or a keyed entry without
    ``key``, raises :class:`MalformedDataError`: corrupt state fails closed. To use the
    code, remove ``stored[index]`` in one atomic ``Store.update`` (as the flow does).
    """
    canonical = normalise(code)
    if canonical is None:
        return None
    typed: bytes | None = None
    matched: int | None = None
    for index, entry in enumerate(stored):
        if _is_keyed(entry):
            if key is None:
                raise MalformedDataError("stored recovery codes have no key")
            if typed is None:
                typed = _keyed_digest(key, canonical)
            found = hmac.compare_digest(typed, _parse_keyed(entry))
        else:
            iterations, salt, expected = _parse(entry)
            found = hmac.compare_digest(_derive(canonical, salt, iterations), expected)
        if found and matched is None:
            matched = index
    return matched


def _keyed_digest(key: bytes, canonical: str) -> bytes:
    return hmac.new(key, _KEYED_LABEL + canonical.encode("ascii"), hashlib.sha256).digest()


def _derive(canonical: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", canonical.encode("ascii"), salt, iterations)


def _is_keyed(entry: object) -> bool:
    return isinstance(entry, str) and entry.startswith(_KEYED_SCHEME + "$")


def _parse_keyed(entry: str) -> bytes:
    try:
        digest = b64decode(entry[len(_KEYED_SCHEME) + 1 :])
    except ValueError:
        digest = b""
    if len(digest) != 32:
        raise MalformedDataError("stored recovery code hash is malformed")
    return digest


def _parse(stored: object) -> tuple[int, bytes, bytes]:
    try:
        if not isinstance(stored, str):
            raise ValueError
        scheme, iterations_text, salt_text, digest_text = stored.split("$")
        iterations = int(iterations_text)
        salt, digest = b64decode(salt_text), b64decode(digest_text)
        if scheme != _SCHEME or not 1 <= iterations <= _MAX_ITERATIONS or len(digest) != 32:
            raise ValueError
    except ValueError:
        raise MalformedDataError("stored recovery code hash is malformed") from None
    return iterations, salt, digest
