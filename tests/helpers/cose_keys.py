"""Public keys an authenticator could report at registration that no signature check can
use, or that anyone could forge signatures for, as COSE keys (labels: 1 kty, 3 alg, -1
crv or RSA n, -2 x or RSA e, -3 y). Each is made fresh from a real key where that matters.

The Ed25519 arithmetic here is written out on its own (not taken from the library) so
that the tests check the library against an independent computation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

__all__ = ["ED25519_IDENTITY", "UNUSABLE_KEYS", "ed25519_non_point"]

P25519 = 2**255 - 19
D25519 = -121665 * pow(121666, -1, P25519) % P25519

ED25519_IDENTITY = (1).to_bytes(32, "little")
"""The neutral point: every signature (R = this point, S = 0) verifies under it."""


ED25519_ORDER_8 = bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")
"""A point of order 8 (one of the four)."""


def ed25519_non_point() -> bytes:
    """A canonical 32-byte y for which no x exists: not a point of the curve."""
    for y in range(2, 1000):
        x2 = (y * y - 1) * pow(D25519 * y * y + 1, -1, P25519) % P25519
        if pow(x2, (P25519 - 1) // 2, P25519) == P25519 - 1:  # not a square
            return y.to_bytes(32, "little")
    raise AssertionError("no non-point below 1000")  # half of all y are non-points


def _p256() -> ec.EllipticCurvePublicNumbers:
    return ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()


def _ec2(x: Any, y: Any, *, alg: int = -7, crv: int = 1) -> dict[int, Any]:
    return {1: 2, 3: alg, -1: crv, -2: x, -3: y}


P256 = 2**256 - 2**224 + 2**192 + 2**96 - 1


def _off_curve() -> dict[int, Any]:
    point = _p256()
    y = (point.y + 1) % P256  # for this x only y and -y are points of the curve
    assert y != P256 - point.y
    return _ec2(point.x.to_bytes(32, "big"), y.to_bytes(32, "big"))


def _short_y() -> dict[int, Any]:
    point = _p256()
    return _ec2(point.x.to_bytes(32, "big"), point.y.to_bytes(32, "big")[1:])


def _wrong_curve() -> dict[int, Any]:
    point = _p256()
    return _ec2(point.x.to_bytes(32, "big"), point.y.to_bytes(32, "big"), crv=2)  # P-384


def _ec2_as_rs256() -> dict[int, Any]:
    point = _p256()
    return _ec2(point.x.to_bytes(32, "big"), point.y.to_bytes(32, "big"), alg=-257)


def _integer_coordinates() -> dict[int, Any]:
    point = _p256()
    return _ec2(point.x, point.y)


def _rsa(n: int, e: int) -> dict[int, Any]:
    return {
        1: 3,
        3: -257,
        -1: n.to_bytes((n.bit_length() + 7) // 8, "big"),
        -2: e.to_bytes((e.bit_length() + 7) // 8, "big"),
    }


_RSA_2048: list[int] = []


def _modulus_2048() -> int:
    if not _RSA_2048:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _RSA_2048.append(key.public_key().public_numbers().n)
    return _RSA_2048[0]


def _rsa_1024() -> dict[int, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return _rsa(key.public_key().public_numbers().n, 65537)


def _okp(x: Any, *, crv: int = 6, alg: int = -8) -> dict[int, Any]:
    return {1: 1, 3: alg, -1: crv, -2: x}


def _ed25519_public() -> bytes:
    return ed25519.Ed25519PrivateKey.generate().public_key().public_bytes_raw()


UNUSABLE_KEYS: list[tuple[str, Callable[[], dict[int, Any] | bytes]]] = [
    ("ec2-point-off-the-curve", _off_curve),
    ("ec2-coordinate-of-31-bytes", _short_y),
    ("ec2-coordinates-not-bytes", _integer_coordinates),
    ("ec2-p384-curve-for-es256", _wrong_curve),
    ("ec2-key-claiming-rs256", _ec2_as_rs256),
    ("ec2-raw-uncompressed-prefix", lambda: b"\x04"),
    ("rsa-1-bit-modulus", lambda: _rsa(1, 65537)),
    ("rsa-1024-bit-modulus", _rsa_1024),
    ("rsa-even-modulus", lambda: _rsa(_modulus_2048() + 1, 65537)),
    ("rsa-exponent-1", lambda: _rsa(_modulus_2048(), 1)),
    ("rsa-exponent-3", lambda: _rsa(_modulus_2048(), 3)),
    ("rsa-even-exponent", lambda: _rsa(_modulus_2048(), 65538)),
    ("rsa-exponent-of-2-to-the-256", lambda: _rsa(_modulus_2048(), 2**256 + 1)),
    ("okp-31-bytes", lambda: _okp(_ed25519_public()[:31])),
    ("okp-33-bytes", lambda: _okp(_ed25519_public() + b"\x00")),
    ("okp-not-a-point", lambda: _okp(ed25519_non_point())),
    ("okp-identity-point", lambda: _okp(ED25519_IDENTITY)),
    ("okp-point-of-order-2", lambda: _okp((P25519 - 1).to_bytes(32, "little"))),
    ("okp-point-of-order-4", lambda: _okp(bytes(32))),  # y = 0, x a square root of -1
    ("okp-point-of-order-8", lambda: _okp(ED25519_ORDER_8)),
    ("okp-y-not-reduced", lambda: _okp((P25519 + 2).to_bytes(32, "little"))),
    ("okp-ed448-curve", lambda: _okp(b"\x01" * 57, crv=7)),
    ("okp-key-claiming-es256", lambda: _okp(_ed25519_public(), alg=-7)),
]
"""(name, a function that makes the key), for ``pytest.mark.parametrize``."""
