"""Which public keys a security key may register: ones a signature can be checked with,
and strong enough that nobody without the private key can make one that verifies.

py_webauthn checks a registration's attestation, but with attestation ``"none"`` (what
this library asks for) it never loads the new credential's public key. A key off its
curve, of the wrong length or of the wrong kind would be stored as reported, and every
sign-in with it would then fail; a few weak keys are worse: under an Ed25519 point of
small order, or an RSA key with a tiny modulus or exponent 1, made-up signatures verify.
:func:`usable_public_key` is the check, at registration and, for keys stored before it
existed, at sign-in.

What is accepted (the three algorithms the registration options offer):

- ES256: an EC2 key on P-256, ``x`` and ``y`` 32 bytes each, a point of the curve.
- EdDSA: an OKP key on Ed25519, ``x`` 32 bytes, the canonical encoding of a point of the
  curve that is not of small order (the neutral point and its seven companions).
- RS256: an RSA key with an odd modulus of :data:`MIN_RSA_BITS` to :data:`MAX_RSA_BITS`
  bits and an odd exponent above 2**16 and below 2**256 (65537 in practice).
"""

from __future__ import annotations

from typing import Any

import cbor2  # installed with py_webauthn (the webauthn extra)
from cryptography.hazmat.primitives.asymmetric import ec, rsa

__all__ = ["MAX_RSA_BITS", "MIN_RSA_BITS", "usable_public_key"]

MIN_RSA_BITS = 2048
"""The smallest RSA modulus accepted: what authenticators make (Windows Hello's TPM keys
are 2048 bits), and the smallest size still considered safe."""
MAX_RSA_BITS = 8192
"""The largest RSA modulus accepted: above what any authenticator makes, and a bound on
the size of a stored key and on the time one verification takes."""
MIN_RSA_EXPONENT = 2**16 + 1
MAX_RSA_EXPONENT = 2**256 - 1

# COSE labels and values.
_KTY, _ALG, _CRV, _X, _Y = 1, 3, -1, -2, -3
_RSA_N, _RSA_E = -1, -2
_KTY_OKP, _KTY_EC2, _KTY_RSA = 1, 2, 3
_ES256, _EDDSA, _RS256 = -7, -8, -257
_P256, _ED25519 = 1, 6

# Ed25519: the field prime, the curve's d, a square root of -1.
_P = 2**255 - 19
_D = -121665 * pow(121666, -1, _P) % _P
_SQRT_MINUS_ONE = pow(2, (_P - 1) // 4, _P)


def usable_public_key(cose_key: bytes) -> bool:
    """Whether ``cose_key`` (a credential public key, COSE-encoded) is one of the kinds
    listed in this module's doc, well formed and strong enough."""
    try:
        key = cbor2.loads(cose_key)
    except Exception:  # cbor2 raises many kinds on hostile input
        return False
    if not isinstance(key, dict):
        return False
    kind = (_label(key, _KTY), _label(key, _ALG))
    if kind == (_KTY_EC2, _ES256):
        return _p256_key(key)
    if kind == (_KTY_OKP, _EDDSA):
        return _ed25519_key(key)
    if kind == (_KTY_RSA, _RS256):
        return _rsa_key(key)
    return False


def _get(key: dict[Any, Any], label: int) -> Any:
    """The value at integer ``label`` (not at ``True`` or ``1.0``, which compare equal)."""
    return next((v for k, v in key.items() if type(k) is int and k == label), None)


def _label(key: dict[Any, Any], label: int) -> int | None:
    value = _get(key, label)
    return value if type(value) is int else None


def _byte_string(key: dict[Any, Any], label: int, length: int | None = None) -> bytes | None:
    value = _get(key, label)
    if not isinstance(value, bytes) or (length is not None and len(value) != length):
        return None
    return value


def _p256_key(key: dict[Any, Any]) -> bool:
    x, y = _byte_string(key, _X, 32), _byte_string(key, _Y, 32)
    if _label(key, _CRV) != _P256 or x is None or y is None:
        return False
    try:  # refuses a point that is not on the curve
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + x + y)
    except ValueError:
        return False
    return True


def _ed25519_key(key: dict[Any, Any]) -> bool:
    encoded = _byte_string(key, _X, 32)
    if _label(key, _CRV) != _ED25519 or encoded is None:
        return False
    point = _ed25519_point(encoded)
    return point is not None and not _small_order(point)


def _rsa_key(key: dict[Any, Any]) -> bool:
    n_bytes, e_bytes = _byte_string(key, _RSA_N), _byte_string(key, _RSA_E)
    if n_bytes is None or e_bytes is None or len(e_bytes) > 32:
        return False
    n, e = int.from_bytes(n_bytes, "big"), int.from_bytes(e_bytes, "big")
    if not MIN_RSA_BITS <= n.bit_length() <= MAX_RSA_BITS or n % 2 == 0:
        return False
    if not MIN_RSA_EXPONENT <= e <= MAX_RSA_EXPONENT or e % 2 == 0:
        return False
    try:
        rsa.RSAPublicNumbers(e, n).public_key()
    except ValueError:
        return False
    return True


def _ed25519_point(encoded: bytes) -> tuple[int, int] | None:
    """The point (x, y) that ``encoded`` stands for, or ``None`` when it stands for none:
    y (little-endian, below the prime) and the sign of x in the top bit, x recovered
    from the curve's equation -x^2 + y^2 = 1 + d x^2 y^2."""
    number = int.from_bytes(encoded, "little")
    sign, y = number >> 255, number & ((1 << 255) - 1)
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, -1, _P) % _P  # never divides by 0: d is no square
    x = pow(x2, (_P + 3) // 8, _P)  # a square root of x2 or of -x2 (p = 5 mod 8)
    if x * x % _P != x2:
        x = x * _SQRT_MINUS_ONE % _P
        if x * x % _P != x2:
            return None  # x2 is no square: no point has this y
    if x == 0 and sign:
        return None  # -0: not a canonical encoding
    if x % 2 != sign:
        x = _P - x
    return x, y


def _small_order(point: tuple[int, int]) -> bool:
    """Whether 8 times ``point`` is the neutral point (0, 1), which is the case for the
    eight points whose order divides the curve's cofactor."""
    for _ in range(3):
        point = _double(point)
    return point == (0, 1)


def _double(point: tuple[int, int]) -> tuple[int, int]:
    """``point + point`` (the curve's addition law, complete: it never divides by 0)."""
    x, y = point
    t = _D * x * x * y * y % _P
    return (
        2 * x * y * pow(1 + t, -1, _P) % _P,
        (y * y + x * x) * pow(1 - t, -1, _P) % _P,
    )
