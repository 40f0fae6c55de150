"""Time-based one-time passwords (RFC 6238) on top of HOTP (RFC 4226).

Verification returns the matched *time step*, not just a bool: a code must be accepted at
most once (RFC 6238 section 5.2), and only the caller's store can remember which steps were
used. The clock is injected (``now``) so tests and callers never patch the wall clock.

Malformed codes (not a ``str``, wrong length, anything but ASCII digits, such as
Arabic-Indic digits that ``str.isdigit`` accepts) are a non-match, never an exception.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import io
import secrets
import struct
import time
from collections.abc import Callable, Iterable
from typing import Literal
from urllib.parse import quote, urlencode

from st_twofactor.errors import ConfigurationError, MalformedDataError
from st_twofactor.factors.totp import _qr

__all__ = [
    "DEFAULT_DIGITS",
    "DEFAULT_SKEW",
    "DRIFT_STEPS",
    "MIN_SECRET_BYTES",
    "QR_MASK",
    "STEP_SECONDS",
    "Algorithm",
    "code_at",
    "decode_secret",
    "drifted_step",
    "hotp",
    "match_step",
    "new_secret",
    "otpauth_uri",
    "qr_svg",
    "step_at",
    "verify",
]

Algorithm = Literal["sha1", "sha256", "sha512"]

STEP_SECONDS = 30
DEFAULT_DIGITS = 6
DEFAULT_SKEW = 1
MIN_SECRET_BYTES = 20
"""160 bits, the minimum of RFC 4226 R6 and NIST 800-63B 5.1.4.1."""

DRIFT_STEPS = 10
"""How far outside the accepted window (in steps: 5 minutes) :func:`drifted_step` looks
for a code made by a device whose clock is off."""

_MIN_DIGITS, _MAX_DIGITS = 6, 8
_MAX_SKEW = 10
_MAX_CODE_CHARS = 32
_ASCII_DIGITS = frozenset("0123456789")
_ALGORITHMS = frozenset({"sha1", "sha256", "sha512"})


def new_secret(num_bytes: int = MIN_SECRET_BYTES) -> str:
    """A fresh random secret from :mod:`secrets`, as upper-case base32 without padding."""
    if num_bytes < MIN_SECRET_BYTES:
        raise ConfigurationError(f"TOTP secrets need at least {MIN_SECRET_BYTES} bytes")
    return base64.b32encode(secrets.token_bytes(num_bytes)).decode("ascii").rstrip("=")


def decode_secret(secret: str) -> bytes:
    """Decode a base32 secret (case-insensitive, padding optional).

    Raises :class:`MalformedDataError` for text that is not base32 or is shorter than
    :data:`MIN_SECRET_BYTES` once decoded: a stored secret that fails this is corrupt.
    """
    text = secret.strip().upper() if isinstance(secret, str) else ""
    text = text.rstrip("=")
    try:
        key = base64.b32decode(text + "=" * (-len(text) % 8)) if text.isascii() else b""
    except binascii.Error:
        key = b""
    if len(key) < MIN_SECRET_BYTES:
        raise MalformedDataError(f"TOTP secret is not base32 of at least {MIN_SECRET_BYTES} bytes")
    return key


def hotp(
    key: bytes, counter: int, *, digits: int = DEFAULT_DIGITS, algorithm: Algorithm = "sha1"
) -> str:
    """The RFC 4226 HOTP value of ``key`` at ``counter``, zero-padded to ``digits``."""
    _check_params(digits, algorithm, STEP_SECONDS, 0)
    if not 0 <= counter < 2**64:
        raise ConfigurationError("HOTP counter must fit in 8 unsigned bytes")
    mac = hmac.new(key, struct.pack(">Q", counter), algorithm).digest()
    offset = mac[-1] & 0x0F
    value = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def step_at(t: float, *, step: int = STEP_SECONDS) -> int:
    """The RFC 6238 time step (``T``) that contains the Unix time ``t``."""
    return int(t // step)


def code_at(
    secret: str,
    t: float,
    *,
    digits: int = DEFAULT_DIGITS,
    algorithm: Algorithm = "sha1",
    step: int = STEP_SECONDS,
) -> str:
    """The TOTP code for ``secret`` (base32) at Unix time ``t``."""
    _check_params(digits, algorithm, step, 0)
    return hotp(decode_secret(secret), step_at(t, step=step), digits=digits, algorithm=algorithm)


def match_step(
    secret: str,
    code: object,
    *,
    now: Callable[[], float] = time.time,
    skew: int = DEFAULT_SKEW,
    digits: int = DEFAULT_DIGITS,
    algorithm: Algorithm = "sha1",
    step: int = STEP_SECONDS,
) -> int | None:
    """Return the time step whose code equals ``code``, within ``skew`` steps of now.

    Returns ``None`` for a wrong or malformed code. Every step of the window is computed
    and compared with :func:`hmac.compare_digest`, so the time taken does not depend on
    which step (if any) matched. The caller must refuse a step that was already used (the
    service records the step in the same ``Store.update``): this function keeps no state.
    A corrupt stored ``secret`` raises :class:`MalformedDataError` (a fault, not a wrong code).
    """
    _check_params(digits, algorithm, step, skew)
    key = decode_secret(secret)
    candidate = _normalise_code(code, digits)
    if candidate is None:
        return None
    current = step_at(now(), step=step)
    window = range(current - skew, current + skew + 1)
    return _latest_match(key, candidate, window, digits, algorithm)


def drifted_step(
    secret: str,
    code: object,
    *,
    now: Callable[[], float] = time.time,
    skew: int = DEFAULT_SKEW,
    reach: int = DRIFT_STEPS,
    digits: int = DEFAULT_DIGITS,
    algorithm: Algorithm = "sha1",
    step: int = STEP_SECONDS,
) -> int | None:
    """The time step *outside* the accepted window (``skew`` steps of now) but at most
    ``reach`` steps beyond it, either side, whose code equals ``code``: what a device
    whose clock is a few minutes off shows (the latest, when several do). ``None`` when
    there is none.

    Such a code is never accepted: this only tells the caller that the device's clock
    should be checked. Every step looked at is compared, as in :func:`match_step`.
    """
    _check_params(digits, algorithm, step, skew)
    key = decode_secret(secret)
    candidate = _normalise_code(code, digits)
    if candidate is None:
        return None
    current = step_at(now(), step=step)
    outside = [
        *range(current - skew - reach, current - skew),
        *range(current + skew + 1, current + skew + reach + 1),
    ]
    return _latest_match(key, candidate, outside, digits, algorithm)


def _latest_match(
    key: bytes, candidate: bytes, counters: Iterable[int], digits: int, algorithm: Algorithm
) -> int | None:
    """The latest of ``counters`` whose code equals ``candidate``, comparing every one
    (constant time per step, whichever matched); a future step is the one to burn."""
    matched: int | None = None
    for counter in counters:
        if counter < 0:
            continue
        expected = hotp(key, counter, digits=digits, algorithm=algorithm).encode("ascii")
        if hmac.compare_digest(expected, candidate):
            matched = counter
    return matched


def verify(
    secret: str,
    code: object,
    *,
    now: Callable[[], float] = time.time,
    skew: int = DEFAULT_SKEW,
    digits: int = DEFAULT_DIGITS,
    algorithm: Algorithm = "sha1",
    step: int = STEP_SECONDS,
) -> bool:
    """``True`` when :func:`match_step` finds a step; no replay protection by itself."""
    matched = match_step(
        secret, code, now=now, skew=skew, digits=digits, algorithm=algorithm, step=step
    )
    return matched is not None


def otpauth_uri(
    secret: str,
    account_name: str,
    issuer: str,
    *,
    digits: int = DEFAULT_DIGITS,
    algorithm: Algorithm = "sha1",
    step: int = STEP_SECONDS,
) -> str:
    """The ``otpauth://totp/...`` URI that authenticator apps import (Key URI Format).

    The label is ``issuer:account`` with both parts percent-encoded (a ``:`` inside either
    becomes ``%3A``, so it cannot forge the separator); the issuer is repeated as a
    parameter, as current apps expect.
    """
    _check_params(digits, algorithm, step, 0)
    decode_secret(secret)
    if not issuer or not account_name:
        raise ConfigurationError("otpauth_uri needs a non-empty issuer and account name")
    label = f"{quote(issuer, safe='')}:{quote(account_name, safe='@')}"
    params = {
        "secret": secret.strip().upper().rstrip("="),
        "issuer": issuer,
        "algorithm": algorithm.upper(),
        "digits": str(digits),
        "period": str(step),
    }
    return f"otpauth://totp/{label}?{urlencode(params, quote_via=quote)}"


QR_MASK = _qr.MASK
"""The QR code mask pattern :func:`qr_svg` uses. Any of the eight decodes alike (the code
says which one it uses); choosing the best one for each code means drawing and scoring all
eight, so one is fixed: mask 2 is the one most often chosen for these URIs."""


def qr_svg(uri: str, *, scale: int = 4) -> str:
    """A QR code of ``uri`` as a standalone SVG document (no XML declaration), with the
    fixed mask :data:`QR_MASK`, error correction M (or higher when the text still fits).

    The SVG carries its namespace, so it can be inlined in HTML or served as an image.
    An ``otpauth://`` URI is drawn by :mod:`~st_twofactor.factors.totp._qr`, which lays
    out each QR version once (about 0.3 ms a code, against 2.5 ms for segno, which it
    matches byte for byte); any other text is left to segno.
    """
    drawn = _qr.svg(uri, scale=scale)
    if drawn is not None:
        return drawn
    import segno  # the QR code library, loaded only for a text the fast path does not draw

    buffer = io.BytesIO()
    segno.make(uri, error="m", micro=False, mask=QR_MASK).save(
        buffer, kind="svg", scale=scale, xmldecl=False, svgns=True, title="QR code"
    )
    return buffer.getvalue().decode("utf-8")


def _normalise_code(code: object, digits: int) -> bytes | None:
    if not isinstance(code, str) or len(code) > _MAX_CODE_CHARS:
        return None
    code = code.strip().replace(" ", "")  # apps show "123 456"
    if len(code) != digits or not _ASCII_DIGITS.issuperset(code):
        return None
    return code.encode("ascii")


def _check_params(digits: int, algorithm: str, step: int, skew: int) -> None:
    if isinstance(digits, bool) or not _MIN_DIGITS <= digits <= _MAX_DIGITS:
        raise ConfigurationError(f"TOTP digits must be between {_MIN_DIGITS} and {_MAX_DIGITS}")
    if algorithm not in _ALGORITHMS:
        raise ConfigurationError("TOTP algorithm must be one of 'sha1', 'sha256', 'sha512'")
    if isinstance(step, bool) or not 1 <= step <= 300:
        raise ConfigurationError("TOTP step must be between 1 and 300 seconds (default 30)")
    if isinstance(skew, bool) or not 0 <= skew <= _MAX_SKEW:
        raise ConfigurationError(f"TOTP skew must be between 0 and {_MAX_SKEW} steps (default 1)")
