"""Recovery codes: generation, normalisation of what users type, their stored form, matching.

A code is 10 characters from a 32-letter alphabet without look-alikes (Crockford's base32,
lower case: no ``i``, ``l``, ``o``, ``u``), so each carries 50 bits (S7). Codes are shown
as ``xxxxx-xxxxx``; input is accepted in any case, with or without dashes and spaces, and
the look-alikes ``o``/``i``/``l`` are read as ``0``/``1``/``1``.

Storage: never the code. A set is one entry per code: HMAC-SHA256 of the code under a
random 32-byte key made with the set, and that key sealed by
:class:`~st_twofactor.kernel.crypto.SecretBox` under the app's secret keys and bound to the
user id, like a TOTP secret. A copy of the stored state alone gives nothing to test
guesses against: without the secret keys the key stays sealed, and a digest under an
unknown key is a random string. A copy together with the secret keys opens the key; the
codes are random, not made from it, so each is then found only by trying its 2**50
values at one HMAC each. Whoever holds both can also read every TOTP secret.

Why not a slow hash: the codes are random, not passwords, so what protects them at rest is
the sealed key, and their 50 bits once it is open. A PBKDF2 hash per code (10,000
iterations) cost ~2.5 ms each: ~25 ms to make a set and up to ~25 ms to check one typed
code against ten. Checking a keyed set opens its key once and derives the typed code once.

Each entry carries the sealed key itself, written in the layout of the PBKDF2 hashes of
earlier versions: ``pbkdf2_sha256$1$<marker + sealed key>$<digest>``. So a worker of an
earlier version, during a rolling deploy, keeps the entries verbatim when it rewrites the
state (an extra field beside them would be dropped, and the codes with it), and reads an
entry as a PBKDF2 hash of one iteration whose salt is the marked key: a typed code never
matches it (a PBKDF2 output equal to an HMAC under a secret key), so such a worker refuses
every code of a new set as a wrong code, neither accepting one nor failing. The marker
(longer than the 16-byte salts of real PBKDF2 hashes) tells the two forms apart.

Sets made before keyed digests are real PBKDF2 hashes (``pbkdf2_sha256$<iterations>$<salt>$
<hash>``, a random 16-byte salt per code). They keep working, at their old cost, until the
user gets a new set; a list may hold both forms.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
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
    "keyed_entry",
    "needs_slow_check",
    "new_key",
    "new_set",
    "normalise",
    "open_keys",
    "reseal",
    "same_code",
    "sealed_key_of",
    "with_sealed_key",
]

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
CODE_LENGTH = 10
DEFAULT_COUNT = 10

_KEY_BYTES = 32
_KEYED_MARK = b"st_twofactor/recovery-code-key/v1|"  # longer than any PBKDF2 salt
_KEYED_LABEL = b"st_twofactor/recovery-code/v1|"
_ITERATIONS = 10_000
_MAX_ITERATIONS = 1_000_000  # refuse stored hashes that would stall a login
_SALT_BYTES = 16
_SCHEME = "pbkdf2_sha256"
_MAX_INPUT_CHARS = 64
_LOOK_ALIKES = str.maketrans({"o": "0", "i": "1", "l": "1", "-": None, " ": None})
_ALLOWED = frozenset(ALPHABET)


_LETTER_OF_BYTE = bytes(ord(ALPHABET[value % len(ALPHABET)]) for value in range(256))
"""Each byte value's letter: the alphabet's 32 letters divide 256, so a uniformly random
byte gives each letter with the same chance (a test checks both)."""


def generate(count: int = DEFAULT_COUNT) -> list[str]:
    """``count`` distinct new codes from :mod:`secrets`, formatted ``xxxxx-xxxxx``.

    One random byte per letter, mapped by a table (about 15 us for ten codes, against
    160 us for a :func:`secrets.choice` per letter, on the enrolment's event loop).
    """
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 100:
        raise ConfigurationError("the number of recovery codes must be from 1 to 100")
    codes: dict[str, None] = {}
    while len(codes) < count:
        raw = secrets.token_bytes(CODE_LENGTH).translate(_LETTER_OF_BYTE).decode("ascii")
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
    """What a new set of codes stores: one entry per code (its keyed digest and the set's
    sealed key). Empty when no set was made."""

    stored: tuple[str, ...] = ()

    def put(self, state: TwoFactorState) -> None:
        """Make this the user's set in ``state``: the old codes stop working at once."""
        state.recovery_codes = list(self.stored)


def new_set(box: SecretBox, user_id: str, count: int = DEFAULT_COUNT) -> tuple[list[str], NewSet]:
    """``count`` new codes for ``user_id`` (to show once) and what to store for them: a new
    random key, sealed once for the user, and one keyed digest per code (microseconds; no
    slow hash, so it runs on the event loop)."""
    codes = generate(count)
    key = new_key()
    sealed = box.encrypt(b64encode(key), context=user_id)
    return codes, NewSet(tuple(keyed_entry(code, key, sealed) for code in codes))


def new_key() -> bytes:
    """A new random key for the digests of one set of codes."""
    return secrets.token_bytes(_KEY_BYTES)


def open_keys(box: SecretBox, stored: Sequence[str], user_id: str) -> dict[str, bytes]:
    """The keys of the keyed entries of ``stored``, by sealed key, each opened once.

    Raises :class:`~st_twofactor.errors.DecryptionError` when no configured secret key
    opens one (or it was sealed for another user), :class:`MalformedDataError` when an
    entry cannot be parsed or what a sealed key holds is not a key.
    """
    keys: dict[str, bytes] = {}
    for entry in stored:
        sealed = sealed_key_of(entry)
        if sealed is None or sealed in keys:
            continue
        try:
            key = b64decode(box.decrypt(sealed, context=user_id))
        except ValueError:
            raise MalformedDataError("stored recovery code key is malformed") from None
        if len(key) != _KEY_BYTES:
            raise MalformedDataError("stored recovery code key is malformed")
        keys[sealed] = key
    return keys


def reseal(box: SecretBox, stored: Sequence[str], user_id: str) -> list[str] | None:
    """``stored`` with every sealed key re-sealed under the first secret key, or ``None``
    when none needs it. The digests stay (the keys inside do not change).

    Raises as :func:`open_keys` for a key no configured secret key opens.
    """
    resealed: dict[str, str] = {}
    for entry in stored:
        sealed = sealed_key_of(entry)
        if sealed is not None and sealed not in resealed and box.needs_rotation(sealed):
            resealed[sealed] = box.rotate(sealed, context=user_id)
    if not resealed:
        return None
    out = []
    for entry in stored:
        sealed = sealed_key_of(entry)
        if sealed in resealed:
            entry = with_sealed_key(entry, resealed[sealed])
        out.append(entry)
    return out


# -- stored forms --


def keyed_entry(code: str, key: bytes, sealed: str) -> str:
    """The stored entry of ``code`` (as generated or typed) in a set whose key is ``key``,
    sealed as ``sealed``.

    Raises :class:`MalformedDataError` when ``code`` is not a recovery code.
    """
    canonical = normalise(code)
    if canonical is None:
        raise MalformedDataError("not a recovery code")
    return _keyed_form(sealed, _keyed_digest(key, canonical))


def sealed_key_of(entry: str) -> str | None:
    """The sealed key a keyed entry carries; ``None`` for a PBKDF2 hash.

    Raises :class:`MalformedDataError` when ``entry`` is neither.
    """
    iterations, salt, _ = _parse(entry)
    if iterations != 1 or not salt.startswith(_KEYED_MARK):
        return None
    try:
        return salt[len(_KEYED_MARK) :].decode("ascii")
    except UnicodeDecodeError:
        raise MalformedDataError("stored recovery code key is malformed") from None


def with_sealed_key(entry: str, sealed: str) -> str:
    """The keyed ``entry`` carrying ``sealed`` (its key, sealed anew) instead."""
    return _keyed_form(sealed, _parse(entry)[2])


def same_code(entry: str, other: str) -> bool:
    """Whether two stored entries are the same code of the same set: the same digest
    (a keyed entry keeps its digest when its key is re-sealed)."""
    return hmac.compare_digest(_parse(entry)[2], _parse(other)[2])


def hash_code(code: str) -> str:
    """The storage form of ``code`` in sets made before keyed digests (PBKDF2, a fresh
    random salt). New sets use :func:`keyed_entry`; this is kept to read and test old ones.

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
    return any(sealed_key_of(entry) is None for entry in stored)


def find_match(
    code: object, stored: Sequence[str], keys: Mapping[str, bytes] | None = None
) -> int | None:
    """Index of the stored entry that ``code`` matches, or ``None``.

    ``keys``: the opened keys of the keyed entries (:func:`open_keys`); a set made before
    them needs none. A keyed set costs one HMAC per call (the typed code is derived once
    per key, and a set has one key), an old PBKDF2 entry one PBKDF2 each. Malformed input
    is ``None`` without touching the entries. Every entry is checked (no early exit) and
    each comparison uses :func:`hmac.compare_digest`. An entry that cannot be parsed, or a
    keyed entry whose key is not in ``keys``, raises :class:`MalformedDataError`: corrupt
    state fails closed. To use the code, remove the matched entry in one atomic
    ``Store.update`` (as the flow does).
    """
    canonical = normalise(code)
    if canonical is None:
        return None
    typed: dict[str, bytes] = {}
    matched: int | None = None
    for index, entry in enumerate(stored):
        iterations, salt, expected = _parse(entry)
        sealed = sealed_key_of(entry)
        if sealed is None:
            found = hmac.compare_digest(_derive(canonical, salt, iterations), expected)
        else:
            key = (keys or {}).get(sealed)
            if key is None:
                raise MalformedDataError("the key of stored recovery codes is not open")
            if sealed not in typed:
                typed[sealed] = _keyed_digest(key, canonical)
            found = hmac.compare_digest(typed[sealed], expected)
        if found and matched is None:
            matched = index
    return matched


def _keyed_form(sealed: str, digest: bytes) -> str:
    marked = b64encode(_KEYED_MARK + sealed.encode("ascii"))
    return f"{_SCHEME}$1${marked}${b64encode(digest)}"


def _keyed_digest(key: bytes, canonical: str) -> bytes:
    return hmac.new(key, _KEYED_LABEL + canonical.encode("ascii"), hashlib.sha256).digest()


def _derive(canonical: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", canonical.encode("ascii"), salt, iterations)


def _parse(stored: object) -> tuple[int, bytes, bytes]:
    if not isinstance(stored, str):
        raise MalformedDataError("stored recovery code hash is malformed")
    return _parse_text(stored)


@functools.lru_cache(maxsize=1024)
def _parse_text(stored: str) -> tuple[int, bytes, bytes]:
    """The parts of a stored entry; cached, as one check reads each entry several times
    (an entry carries its sealed key, a few hundred characters of base64)."""
    try:
        scheme, iterations_text, salt_text, digest_text = stored.split("$")
        iterations = int(iterations_text)
        salt, digest = b64decode(salt_text), b64decode(digest_text)
        if scheme != _SCHEME or not 1 <= iterations <= _MAX_ITERATIONS or len(digest) != 32:
            raise ValueError
    except ValueError:
        raise MalformedDataError("stored recovery code hash is malformed") from None
    return iterations, salt, digest
