"""A software WebAuthn authenticator (and the browser's part of a ceremony), for tests.

It answers the options of :mod:`st_twofactor.factors.webauthn.ceremonies` (and so of the
``/auth/2fa/webauthn/.../options`` routes) as a browser with a CTAP2 security key would:
ES256 (EC P-256) credentials, or EdDSA (Ed25519) or RS256 (RSA 2048, as Windows Hello
makes) ones on request, attestation ``"none"``, authenticatorData with the rpIdHash,
flags and sign count, and assertions signed over
``authenticatorData || SHA-256(clientDataJSON)``. An app's own test suite can use it to
enrol a key and complete 2FA with it over HTTP, with no browser::

    key = SoftwareAuthenticator()
    options = client.get("/auth/2fa/webauthn/register/options").json()["options"]
    credential = key.register(options, origin="http://localhost:3000")
    client.post("/auth/2fa/webauthn/register/verify", json={"credential": credential})

Every field an attacker or a broken authenticator could get wrong has a knob (origin, RP
ID, challenge, ceremony type, flags, sign count, signature, the public key it reports),
so each check can be shown to refuse it. Needs the ``webauthn`` extra (for ``cbor2`` and
``cryptography``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import cbor2  # installed with py_webauthn (the webauthn extra)
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

__all__ = [
    "Algorithm",
    "ExcludedCredentialError",
    "NoCredentialError",
    "SoftwareAuthenticator",
    "b64url",
    "unb64url",
]

UP = 0x01
UV = 0x04
BE = 0x08  # backup eligible: a synced passkey
BS = 0x10  # backed up
AT = 0x40

Algorithm = Literal["ES256", "EdDSA", "RS256"]
PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ExcludedCredentialError(Exception):
    """The authenticator holds a credential listed in ``excludeCredentials`` (a browser
    reports ``InvalidStateError``)."""


class NoCredentialError(Exception):
    """None of ``allowCredentials`` is on this authenticator (``NotAllowedError``)."""


@dataclass
class _Credential:
    key: PrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0


class SoftwareAuthenticator:
    """Holds credentials made by :meth:`register`; :meth:`assertion` signs with them.

    ``counts=False`` makes an authenticator that always reports sign count 0, as many
    passkey providers do; ``synced=True`` sets the backup flags (BE, BS) of a passkey
    kept in a password manager or a platform account. ``algorithm`` is the kind of key
    its credentials get.
    """

    def __init__(
        self,
        *,
        counts: bool = True,
        synced: bool = False,
        transports: Sequence[str] = ("usb",),
        algorithm: Algorithm = "ES256",
    ) -> None:
        if algorithm not in ("ES256", "EdDSA", "RS256"):
            raise ValueError(f"unknown algorithm {algorithm!r}")
        self.counts = counts
        self.algorithm = algorithm
        self.transports = list(transports)
        self._backup_flags = BE | BS if synced else 0
        self._credentials: dict[bytes, _Credential] = {}

    @property
    def credential_ids(self) -> list[str]:
        return [b64url(i) for i in self._credentials]

    def register(
        self,
        options: Mapping[str, Any],
        *,
        origin: str,
        rp_id: str | None = None,
        challenge: str | None = None,
        client_type: str = "webauthn.create",
        cross_origin: bool = False,
        user_present: bool = True,
        user_verified: bool = True,
        credential_id: bytes | None = None,
        ignore_exclude: bool = False,
        cose_key: Mapping[int, Any] | bytes | None = None,
    ) -> dict[str, Any]:
        """The browser's ``PublicKeyCredential`` JSON for ``navigator.credentials.create``.

        ``cose_key`` is the public key to report instead of the credential's own (a COSE
        key map, or raw bytes put in its place), as a broken or hostile authenticator
        could; the credential still signs with its real private key."""
        rp_id = options["rp"]["id"] if rp_id is None else rp_id
        held = {b64url(i) for i in self._credentials}
        if not ignore_exclude and any(c["id"] in held for c in options["excludeCredentials"]):
            raise ExcludedCredentialError("a credential of this authenticator is excluded")
        credential_id = secrets.token_bytes(32) if credential_id is None else credential_id
        key = _new_key(self.algorithm)
        self._credentials[credential_id] = _Credential(key, rp_id, unb64url(options["user"]["id"]))
        if cose_key is None:
            cose_key = _cose_key(key)
        reported = cose_key if isinstance(cose_key, bytes) else cbor2.dumps(dict(cose_key))
        flags = AT | self._backup_flags | (UP if user_present else 0) | (UV if user_verified else 0)
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([flags])
            + (0).to_bytes(4, "big")
            + bytes(16)  # AAGUID: none given
            + len(credential_id).to_bytes(2, "big")
            + credential_id
            + reported
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = _client_data(
            client_type,
            options["challenge"] if challenge is None else challenge,
            origin,
            cross_origin,
        )
        return {
            "id": b64url(credential_id),
            "rawId": b64url(credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": list(self.transports),
            },
            "authenticatorAttachment": "cross-platform",
            "clientExtensionResults": {},
        }

    def assertion(
        self,
        options: Mapping[str, Any],
        *,
        origin: str,
        credential_id: str | None = None,
        rp_id: str | None = None,
        challenge: str | None = None,
        client_type: str = "webauthn.get",
        cross_origin: bool = False,
        user_present: bool = True,
        user_verified: bool = True,
        sign_count: int | None = None,
        bad_signature: bool = False,
    ) -> dict[str, Any]:
        """The browser's ``PublicKeyCredential`` JSON for ``navigator.credentials.get``.

        The credential is ``credential_id`` if given (even if the options do not allow it),
        else the first allowed one this authenticator holds. The sign count is the next one
        (0 when the authenticator does not count) unless ``sign_count`` says otherwise.
        """
        if credential_id is None:
            allowed = [unb64url(c["id"]) for c in options["allowCredentials"]]
            found = [i for i in allowed if i in self._credentials]
            if not found:
                raise NoCredentialError("no allowed credential on this authenticator")
            raw_id = found[0]
        else:
            raw_id = unb64url(credential_id)
        credential = self._credentials[raw_id]
        if sign_count is None:
            if self.counts:
                credential.sign_count += 1
            sign_count = credential.sign_count
        rp_id = options["rpId"] if rp_id is None else rp_id
        flags = self._backup_flags | (UP if user_present else 0) | (UV if user_verified else 0)
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + sign_count.to_bytes(4, "big")
        )
        client_data = _client_data(
            client_type,
            options["challenge"] if challenge is None else challenge,
            origin,
            cross_origin,
        )
        signed = auth_data + hashlib.sha256(client_data).digest()
        if bad_signature:
            signed += b"tampered"
        signature = _sign(credential.key, signed)
        return {
            "id": b64url(raw_id),
            "rawId": b64url(raw_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(credential.user_handle),
            },
            "authenticatorAttachment": "cross-platform",
            "clientExtensionResults": {},
        }


def _new_key(algorithm: Algorithm) -> PrivateKey:
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _cose_key(key: PrivateKey) -> dict[int, Any]:
    """The COSE map of ``key``'s public half (labels: 1 kty, 3 alg, then per key type)."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return {1: 1, 3: -8, -1: 6, -2: key.public_key().public_bytes_raw()}  # OKP, Ed25519
    if isinstance(key, rsa.RSAPrivateKey):
        numbers = key.public_key().public_numbers()
        return {
            1: 3,  # kty: RSA
            3: -257,  # alg: RS256
            -1: numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big"),
            -2: numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big"),
        }
    point = key.public_key().public_numbers()
    return {
        1: 2,  # kty: EC2
        3: -7,  # alg: ES256
        -1: 1,  # crv: P-256
        -2: point.x.to_bytes(32, "big"),
        -3: point.y.to_bytes(32, "big"),
    }


def _sign(key: PrivateKey, data: bytes) -> bytes:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def _client_data(kind: str, challenge: str, origin: str, cross_origin: bool = False) -> bytes:
    return json.dumps(
        {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": cross_origin},
        separators=(",", ":"),
    ).encode()
