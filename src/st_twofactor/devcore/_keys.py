"""Signing keys of the development core: RS256 keys per app, their rotation, the JWKS.

Like the real core, each app has two kinds of keys:

- *dynamic* keys (kid ``d-...``), replaced every
  ``access_token_dynamic_signing_key_update_interval`` hours (fractions allowed). A
  new key is published in the JWKS a minute before it starts signing (a fifth of
  the interval when the interval is under a minute, as the real core does in its
  testing mode), so verifiers that fetched the JWKS in that time already know it;
  an old key stays in the JWKS for the update interval plus twice the access token
  validity, so every token it signed still verifies until it expires.
- one *static* key (kid ``s-...``), never rotated, for sessions created with
  ``useDynamicSigningKey: false`` and for ``POST /recipe/jwt``.

Keys live in SQLite (private keys in PKCS#8 PEM, unencrypted: this is a development
server), so a core restarted on the same database file keeps verifying its tokens.
Generating an RSA key takes tens of milliseconds, so it happens outside any
transaction (the database lock is global); a race between two requests that both
want a new key is settled by re-checking inside the transaction that stores it.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import sqlite3
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ._http import Request, Routes, bad_request
from ._jwt import ALGORITHM, b64url, sign_jwt

if TYPE_CHECKING:
    from . import DevCore

SCHEMA = """
CREATE TABLE IF NOT EXISTS signing_keys (
    app_id TEXT NOT NULL,
    kid TEXT NOT NULL,
    dynamic INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    private_pem TEXT NOT NULL,
    PRIMARY KEY (app_id, kid)
);
CREATE INDEX IF NOT EXISTS signing_keys_created ON signing_keys (app_id, dynamic, created_ms);
"""

routes = Routes()

KEY_BITS = 2048
# A new dynamic key is published this long before it starts signing (the real core's value).
OVERLAP_MS = 60_000
# Old dynamic keys stay verifiable for the update interval plus this many access token lifetimes.
VALIDITY_OVERLAP = 2


@dataclass(frozen=True)
class SigningKey:
    """One RSA key of an app."""

    kid: str
    dynamic: bool
    created_ms: int
    private_pem: str

    @property
    def private_key(self) -> rsa.RSAPrivateKey:
        return _load_private_key(self.private_pem)

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    def jwk(self) -> dict[str, str]:
        """The public key as a JWK, in the shape the real core's JWKS uses."""
        numbers = self.public_key.public_numbers()
        return {
            "kty": "RSA",
            "kid": self.kid,
            "n": b64url(_unsigned_bytes(numbers.n)),
            "e": b64url(_unsigned_bytes(numbers.e)),
            "alg": ALGORITHM,
            "use": "sig",
        }


@dataclass(frozen=True)
class KeySet:
    """The keys of one app at one moment: what may sign and what may verify."""

    dynamic: tuple[SigningKey, ...]  # verifiable dynamic keys, newest first
    static: SigningKey
    signing_dynamic: SigningKey
    interval_ms: int = 0  # how long a dynamic key signs
    lifetime_ms: int = 0  # how long a dynamic key verifies

    def signing_key(self, *, dynamic: bool) -> SigningKey:
        return self.signing_dynamic if dynamic else self.static

    def find(self, kid: str) -> SigningKey | None:
        for key in (*self.dynamic, self.static):
            if key.kid == kid:
                return key
        return None

    def jwks(self) -> list[dict[str, str]]:
        return [key.jwk() for key in (*self.dynamic, self.static)]


# -- key lifecycle --


def update_interval_ms(config: dict[str, Any]) -> int:
    """How long a dynamic key signs, from the (possibly fractional) interval in hours."""
    return max(
        1, int(float(config["access_token_dynamic_signing_key_update_interval"]) * 3_600_000)
    )


def overlap_ms(interval_ms: int) -> int:
    """How long before it signs a new dynamic key is published."""
    return OVERLAP_MS if interval_ms >= OVERLAP_MS else interval_ms // 5


def key_set(core: DevCore, app_id: str) -> KeySet:
    """The app's current keys, creating (and storing) the ones that are due."""
    now = core.now_ms()
    config = core.app_config(app_id)
    interval_ms = update_interval_ms(config)
    lifetime_ms = interval_ms + VALIDITY_OVERLAP * int(config["access_token_validity"]) * 1000
    with core.db.transaction() as conn:
        conn.execute(
            "DELETE FROM signing_keys WHERE app_id=? AND dynamic=1 AND created_ms < ?",
            (app_id, now - lifetime_ms),
        )
        keys = _load(conn, app_id)
    missing = _missing(keys, now, interval_ms)
    if missing:
        fresh = {kind: _generate(kind, now) for kind in missing}
        with core.db.transaction() as conn:
            keys = _load(conn, app_id)
            for kind in _missing(keys, now, interval_ms):
                _store(conn, app_id, fresh[kind])
            keys = _load(conn, app_id)
    return dataclasses.replace(
        _key_set(keys, now, interval_ms), interval_ms=interval_ms, lifetime_ms=lifetime_ms
    )


def _load(conn: sqlite3.Connection, app_id: str) -> list[SigningKey]:
    rows = conn.execute(
        "SELECT kid, dynamic, created_ms, private_pem FROM signing_keys WHERE app_id=?"
        " ORDER BY created_ms DESC, kid",
        (app_id,),
    ).fetchall()
    return [
        SigningKey(r["kid"], bool(r["dynamic"]), r["created_ms"], r["private_pem"]) for r in rows
    ]


def _missing(keys: list[SigningKey], now: int, interval_ms: int) -> list[str]:
    """Which kinds of key must be created now: "static" and/or "dynamic"."""
    missing = []
    if not any(not k.dynamic for k in keys):
        missing.append("static")
    # A dynamic key signs until it is ``interval`` old; its successor is made an overlap early.
    can_sign_after = now - interval_ms + overlap_ms(interval_ms)
    if not any(k.dynamic and k.created_ms >= can_sign_after for k in keys):
        missing.append("dynamic")
    return missing


def _generate(kind: str, now: int) -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    dynamic = kind == "dynamic"
    kid = ("d-" if dynamic else "s-") + str(uuid.uuid4())
    return SigningKey(kid, dynamic, now, pem)


def _store(conn: sqlite3.Connection, app_id: str, key: SigningKey) -> None:
    conn.execute(
        "INSERT INTO signing_keys (app_id, kid, dynamic, created_ms, private_pem)"
        " VALUES (?, ?, ?, ?, ?)",
        (app_id, key.kid, int(key.dynamic), key.created_ms, key.private_pem),
    )


def _key_set(keys: list[SigningKey], now: int, interval_ms: int) -> KeySet:
    dynamic = tuple(k for k in keys if k.dynamic)  # already newest first
    static = next(k for k in keys if not k.dynamic)
    return KeySet(dynamic, static, _signing_dynamic(dynamic, now, interval_ms))


def _signing_dynamic(dynamic: tuple[SigningKey, ...], now: int, interval_ms: int) -> SigningKey:
    """The newest key, unless it was published less than a minute ago and its
    predecessor may still sign: verifiers get a minute to learn a key before it is used."""
    latest = dynamic[0]
    if (
        len(dynamic) > 1
        and latest.created_ms + overlap_ms(interval_ms) > now
        and now < dynamic[1].created_ms + interval_ms
    ):
        return dynamic[1]
    return latest


@functools.lru_cache(maxsize=512)
def _load_private_key(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("signing keys are RSA keys")
    return key


def public_key_text(key: SigningKey) -> str:
    """The public key as CDI 2.x answered it: standard base64 of its X.509 DER form."""
    der = key.public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


def _unsigned_bytes(number: int) -> bytes:
    return number.to_bytes((number.bit_length() + 7) // 8 or 1, "big")


# -- routes --


@routes.get("/.well-known/jwks.json", api_key=False)  # the SDK fetches it without a key
def jwks(req: Request) -> dict[str, Any]:
    return {"keys": key_set(req.core, req.app_id).jwks()}


@routes.get("/recipe/jwt/jwks")
def jwks_legacy(req: Request) -> dict[str, Any]:
    return {"status": "OK", "keys": key_set(req.core, req.app_id).jwks()}


@routes.post("/recipe/jwt")
def create_jwt(req: Request) -> dict[str, Any]:
    """Sign an arbitrary payload (the JWT recipe); the static key unless told otherwise."""
    algorithm = req.str_field("algorithm")
    jwks_domain = req.str_field("jwksDomain")
    payload = req.field("payload", dict)
    validity = req.field("validity", int)
    use_static = req.field("useStaticSigningKey", bool, required=False)
    if validity <= 0:
        raise bad_request("validity must be greater than or equal to 0")
    if algorithm.upper() != ALGORITHM:
        return {"status": "UNSUPPORTED_ALGORITHM_ERROR"}
    keys = key_set(req.core, req.app_id)
    now_s = req.core.now_ms() // 1000
    claims = {"iat": now_s, "exp": now_s + validity, "iss": jwks_domain, **payload}
    key = keys.signing_key(dynamic=use_static is False)
    return {"status": "OK", "jwt": sign_jwt(key, claims, {})}
