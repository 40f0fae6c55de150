"""Recovery codes: generation, normalisation of what users type, salted hashing, matching.

A code is 10 characters from a 32-letter alphabet without look-alikes (Crockford's base32,
lower case: no ``i``, ``l``, ``o``, ``u``), so each carries 50 bits (S7). Codes are shown
as ``xxxxx-xxxxx``; input is accepted in any case, with or without dashes and spaces, and
the look-alikes ``o``/``i``/``l`` are read as ``0``/``1``/``1``.

Storage: only ``pbkdf2_sha256$<iterations>$<salt>$<hash>`` strings, with a random 16-byte
salt per code. Why PBKDF2-HMAC-SHA256 at 10,000 iterations: the codes are random, not
passwords, so a slow KDF is not what protects them; their 50 bits are. The iterations
still multiply the cost of a brute force on a leaked database by 10,000 (about 2**63
SHA-256 blocks per code), while matching one input against 10 stored hashes stays around
25 ms on one core. scrypt with a useful memory cost (n=2**12, r=8) took ~8 ms *per hash*
and would blow the budget for no real gain. The iteration count is stored with each hash so
it can change later without invalidating codes.

Matching takes a few ms per hash: async callers may run :func:`find_match` in a thread.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

from st_twofactor.errors import ConfigurationError, MalformedDataError
from st_twofactor.kernel.crypto import b64decode, b64encode

__all__ = [
    "ALPHABET",
    "CODE_LENGTH",
    "DEFAULT_COUNT",
    "find_match",
    "generate",
    "hash_code",
    "normalise",
]

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
CODE_LENGTH = 10
DEFAULT_COUNT = 10

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


def hash_code(code: str) -> str:
    """The storage form of ``code`` (as generated or typed), with a fresh random salt.

    Raises :class:`MalformedDataError` when ``code`` is not a recovery code.
    """
    canonical = normalise(code)
    if canonical is None:
        raise MalformedDataError("not a recovery code")
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _derive(canonical, salt, _ITERATIONS)
    return f"{_SCHEME}${_ITERATIONS}${b64encode(salt)}${b64encode(digest)}"


def find_match(code: object, hashes: Sequence[str]) -> int | None:
    """Index of the stored hash that ``code`` matches, or ``None``.

    Malformed input is ``None`` without touching the hashes. Every hash is checked (no
    early exit) and each comparison uses :func:`hmac.compare_digest`. A stored hash that
    cannot be parsed raises :class:`MalformedDataError`: corrupt state fails closed.
    To use the code, remove ``hashes[index]`` in one atomic ``Store.update`` (as the service does).
    """
    canonical = normalise(code)
    if canonical is None:
        return None
    matched: int | None = None
    for index, stored in enumerate(hashes):
        iterations, salt, expected = _parse(stored)
        if hmac.compare_digest(_derive(canonical, salt, iterations), expected):
            matched = index if matched is None else matched
    return matched


def _derive(canonical: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", canonical.encode("ascii"), salt, iterations)


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
