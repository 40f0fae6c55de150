"""WebAuthn (security keys and passkeys) as a second factor: the two ceremonies.

Registration adds a credential to a user; authentication proves the user holds one. Each
is two steps: ``*_options`` makes the options the browser passes to
``navigator.credentials.create()``/``get()`` and a :class:`PendingChallenge` for the
caller to keep in the user's 2FA state; ``verify_*`` checks the browser's answer against it.
`py_webauthn <https://github.com/duo-labs/py_webauthn>`_ does the cryptography (install the
extra: ``pip install 'st-twofactor[webauthn]'``); this module adds the rules of a second
factor and turns every failure into a typed :class:`RefusalReason`.

Everything here is pure: no store, no clock, no I/O. ``now`` (seconds since the epoch) and
the session handle are passed in, and nothing is changed in place.

What the checks guarantee:

- A challenge is 32 random bytes from :mod:`secrets`, bound to the session that asked for
  it (``session_handle``), to one ceremony (``purpose``) and to a deadline
  (:attr:`WebAuthnPolicy.challenge_lifetime`, 5 minutes by default).
- The answer's origin must be one of :attr:`WebAuthnPolicy.origins` (and not a cross-origin
  frame), its RP ID hash that of :attr:`WebAuthnPolicy.rp_id`; the user must have been
  present, and verified if the policy requires it.
- A new credential's public key must be one a signature can be checked with, and strong:
  ES256 on P-256 (a point of the curve), EdDSA on Ed25519 (a point of the curve, not of
  small order) or RS256 (a 2048- to 8192-bit modulus, an odd exponent above 2**16 and
  below 2**256); any other is refused (:attr:`RefusalReason.UNUSABLE_KEY`) and never
  stored. A stored key that fails the same check (kept by an older version) is refused
  at sign-in before any signature is checked with it.
- An assertion must come from one of *this user's* credentials, verify under its stored
  public key, and carry a sign count above the stored one (when both are 0 the
  authenticator does not count, which passkeys commonly do, and that is allowed). A count
  that did not increase hints at a cloned authenticator: it is refused as
  :attr:`RefusalReason.SIGN_COUNT_REGRESSION`, checked only after the signature verified,
  so nobody without the key can provoke that report.
- Bad input from the client (any JSON, any bytes) is a refusal, never an exception.
  Callers should still cap the request size. Corrupt *stored* data (a pending challenge or
  a credential that does not parse) raises :class:`~st_twofactor.errors.MalformedDataError`
  from ``from_dict``, as for the rest of the 2FA state.

**Single use is the caller's part.** A challenge must be accepted at most once. Challenges
can be kept two ways, and the caller picks one:

- *Stored*: keep the :class:`PendingChallenge` of ``*_options`` in the user's state, remove it
  *in the same atomic store update* that reads it and passes it to ``verify_*`` (``None``
  when there was none, refused as :attr:`RefusalReason.NO_CHALLENGE`), whatever the outcome.
- *Signed* (:class:`ChallengeSigner`, what :mod:`st_twofactor.factors.webauthn.flows` does): the
  challenge carries its own expiry and purpose under an HMAC that also binds the user and
  the session, so asking for options writes nothing. :meth:`ChallengeSigner.open` turns the
  challenge the browser signed back into a :class:`PendingChallenge`; the caller refuses
  one already recorded as answered and, in the same atomic update that verifies the
  answer, records it when the answer verified (accepted, or one of
  :data:`VERIFIED_REFUSALS`), until it expires. An answer that did not verify could never
  be accepted, so it need not use the challenge up.

Either way, doing it in a later update would let two concurrent requests both verify the
same answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import math
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, Literal
from urllib.parse import urlsplit

from st_twofactor.errors import ConfigurationError, MalformedDataError
from st_twofactor.factors._device_names import device_key, valid_device_name
from st_twofactor.factors.webauthn.keys import usable_public_key
from st_twofactor.kernel.crypto import derive_key, normalise_secret_keys

try:
    from webauthn import (
        generate_authentication_options,
        generate_registration_options,
        verify_authentication_response,
        verify_registration_response,
    )
    from webauthn.helpers import (
        bytes_to_base64url,
        decode_credential_public_key,
        options_to_json,
        parse_attestation_object,
        parse_authentication_credential_json,
        parse_authenticator_data,
        parse_client_data_json,
        parse_registration_credential_json,
    )
    from webauthn.helpers.cose import COSEAlgorithmIdentifier
    from webauthn.helpers.exceptions import (
        InvalidAuthenticationResponse,
        InvalidRegistrationResponse,
    )
    from webauthn.helpers.structs import (
        AttestationConveyancePreference,
        AuthenticatorData,
        AuthenticatorSelectionCriteria,
        AuthenticatorTransport,
        CollectedClientData,
        PublicKeyCredentialCreationOptions,
        PublicKeyCredentialDescriptor,
        PublicKeyCredentialRequestOptions,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "WebAuthn needs the webauthn package: pip install 'st-twofactor[webauthn]'"
    ) from exc

__all__ = [
    "ATTESTATION",
    "CHALLENGE_BYTES",
    "CHALLENGE_LIFETIME",
    "VERIFIED_REFUSALS",
    "ChallengeSigner",
    "PendingChallenge",
    "Purpose",
    "RefusalReason",
    "WebAuthnCredential",
    "WebAuthnPolicy",
    "authentication_options",
    "challenge_signed",
    "registration_options",
    "user_handle",
    "valid_credential_name",
    "verify_authentication",
    "verify_registration",
]

CHALLENGE_BYTES = 32
"""Random bytes in a challenge (a signed challenge has 16 random bytes among its 58)."""
MIN_CHALLENGE_BYTES = 16
"""WebAuthn asks for at least 16 random bytes."""
MAX_CHALLENGE_BYTES = 64
CHALLENGE_LIFETIME = 300.0
"""Seconds a challenge stays valid (also the browser's ``timeout`` hint)."""
MAX_CHALLENGE_LIFETIME = 600.0
ATTESTATION = "none"
"""Attestation asked for: ``"none"``. The library trusts no authenticator make or model
(there is no list of trusted roots to check attestation against), so it does not ask."""
MAX_CREDENTIAL_ID_BYTES = 1023
"""The WebAuthn limit on a credential id's length."""
SUPPORTED_ALGORITHMS = (
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
)
"""ES256 first (every authenticator has it), then Ed25519 and RS256 (Windows Hello)."""

Purpose = Literal["register", "authenticate"]
Requirement = Literal["required", "preferred", "discouraged"]

_REQUIREMENTS = ("required", "preferred", "discouraged")
_PURPOSES = ("register", "authenticate")
_KNOWN_TRANSPORTS = frozenset(t.value for t in AuthenticatorTransport)
_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_USER_HANDLE_CONTEXT = b"st-twofactor webauthn user handle\x00"


class RefusalReason(str, Enum):
    """Why a ceremony's answer was refused. The HTTP layer answers one status for all of
    them (the client learns nothing from the reason); events and logs may carry it."""

    NO_CHALLENGE = "no_challenge"
    """No pending challenge: never asked for, not one of this app's, or already used (a
    replay)."""
    CHALLENGE_EXPIRED = "challenge_expired"
    WRONG_SESSION = "wrong_session"
    """The challenge was made for another session (or user), or a signed challenge was not
    made with this app's keys at all."""
    WRONG_PURPOSE = "wrong_purpose"
    """The challenge or the answer belongs to the other ceremony."""
    CHALLENGE_MISMATCH = "challenge_mismatch"
    """The answer signs another challenge than the pending one (an old answer replayed)."""
    WRONG_ORIGIN = "wrong_origin"
    """The page that ran the ceremony is not an allowed origin, or was a cross-origin frame."""
    WRONG_RP_ID = "wrong_rp_id"
    UNKNOWN_CREDENTIAL = "unknown_credential"
    """The assertion's credential is not one of this user's."""
    USER_NOT_PRESENT = "user_not_present"
    USER_NOT_VERIFIED = "user_not_verified"
    """The policy requires user verification and the authenticator did not verify."""
    BAD_SIGNATURE = "bad_signature"
    """The signature (or, at registration, the attestation statement or key) does not verify."""
    SIGN_COUNT_REGRESSION = "sign_count_regression"
    """The sign count did not increase: possibly a cloned authenticator."""
    TOO_MANY_ANSWERS = "too_many_answers"
    """More answers within one challenge lifetime than the caller keeps record of."""
    DUPLICATE_CREDENTIAL = "duplicate_credential"
    """The credential is already registered for this user."""
    INVALID_NAME = "invalid_name"
    DUPLICATE_NAME = "duplicate_name"
    """The user already has a credential of that name."""
    UNUSABLE_KEY = "unusable_key"
    """The credential's public key is not one a signature can be checked with (off its
    curve, a wrong length, another curve or algorithm than announced) or is too weak (an
    RSA modulus under 2048 bits, an unusual exponent, an Ed25519 point of small order):
    at registration, so it is not stored; at sign-in, for a key an older version stored."""
    MALFORMED = "malformed"
    """The answer is not a well-formed WebAuthn response."""


VERIFIED_REFUSALS = frozenset(
    {RefusalReason.SIGN_COUNT_REGRESSION, RefusalReason.DUPLICATE_CREDENTIAL}
)
"""Refusals of an answer whose signature (at registration, the attestation) verified: its
challenge is used up as an accepted answer's is."""


def valid_credential_name(name: object) -> bool:
    """A credential name follows the rule of TOTP device names (it is shown back to the
    user): 1-64 characters, no invisible, control or format character, no double space,
    no word mixing alphabets (:func:`~st_twofactor.factors._device_names.valid_device_name`).
    Names are compared as device names are: look-alikes are the same name."""
    return valid_device_name(name)


def _stored_name(name: object) -> bool:
    """The looser rule a stored name is read with (1-64 characters, no C0 control or DEL,
    no surrounding space), so a key named before the current rule still loads."""
    return isinstance(name, str) and bool(_NAME.match(name)) and name.strip() == name


def user_handle(user_id: str) -> bytes:
    """The WebAuthn user handle for ``user_id``: 32 bytes, the same for every credential of
    the user (so an authenticator keeps one passkey per account), and not the user id
    itself, which the WebAuthn spec asks to keep out of authenticators."""
    return hashlib.sha256(_USER_HANDLE_CONTEXT + user_id.encode("utf-8")).digest()


# --- policy -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class WebAuthnPolicy:
    """Who the relying party is and what the ceremonies ask for. Validated on construction.

    An RP ID is a domain, never an IP address (browsers refuse WebAuthn on
    ``http://127.0.0.1:...``); every origin must be ``https://`` (``http://`` only on
    ``localhost``, which browsers treat as secure) on the RP ID or one of its subdomains.
    Origins are written as browsers write them: lower case, no path, no default port.
    """

    rp_id: str
    rp_name: str
    origins: tuple[str, ...]
    user_verification: Requirement = "preferred"
    """``"preferred"``: the authenticator verifies the user (PIN, biometrics) if it can;
    ``"required"`` refuses answers without verification."""
    resident_key: Requirement = "preferred"
    """``"preferred"`` asks for a discoverable credential (a passkey) where possible."""
    challenge_lifetime: float = CHALLENGE_LIFETIME

    def __post_init__(self) -> None:
        _check_rp_id(self.rp_id)
        if not isinstance(self.rp_name, str) or not self.rp_name.strip():
            raise ConfigurationError("WebAuthnPolicy.rp_name must be a non-empty string")
        if isinstance(self.origins, str) or not isinstance(self.origins, Sequence):
            raise ConfigurationError("WebAuthnPolicy.origins must be a tuple of origins")
        object.__setattr__(self, "origins", tuple(self.origins))
        if not self.origins:
            raise ConfigurationError("WebAuthnPolicy.origins needs at least one origin")
        for origin in self.origins:
            _check_origin(origin, self.rp_id)
        for setting in ("user_verification", "resident_key"):
            if getattr(self, setting) not in _REQUIREMENTS:
                raise ConfigurationError(
                    f"WebAuthnPolicy.{setting} must be one of {', '.join(_REQUIREMENTS)}"
                )
        lifetime = self.challenge_lifetime
        if (
            isinstance(lifetime, bool)
            or not isinstance(lifetime, (int, float))
            or not 0 < lifetime <= MAX_CHALLENGE_LIFETIME
        ):
            raise ConfigurationError(
                "WebAuthnPolicy.challenge_lifetime must be seconds in"
                f" (0, {MAX_CHALLENGE_LIFETIME:g}]"
            )

    @classmethod
    def from_app_info(
        cls,
        *,
        app_name: str,
        website_domain: str,
        api_domain: str | None = None,
        user_verification: Requirement = "preferred",
        resident_key: Requirement = "preferred",
        challenge_lifetime: float = CHALLENGE_LIFETIME,
    ) -> WebAuthnPolicy:
        """The policy of an app from its SuperTokens ``app_info``.

        The RP ID is the website's host and the website's origin is allowed. A loopback
        website (``http://127.0.0.1:PORT``, ``http://[::1]:PORT``) maps to RP ID
        ``localhost`` and origin ``http://localhost:PORT``: open the app at that URL. The API's
        origin is allowed too when it is on the RP ID (pages it serves can then run the
        ceremonies); otherwise it plays no part in WebAuthn. A domain without a scheme is
        ``https://`` (``http://`` for localhost), as in the SDK.
        """
        rp_id, origin = _site(website_domain)
        origins = [origin]
        if api_domain is not None:
            api_host, api_origin = _site(api_domain)
            if api_origin != origin and _on_rp_id(api_host, rp_id):
                origins.append(api_origin)
        return cls(
            rp_id=rp_id,
            rp_name=app_name,
            origins=tuple(origins),
            user_verification=user_verification,
            resident_key=resident_key,
            challenge_lifetime=challenge_lifetime,
        )

    @property
    def requires_user_verification(self) -> bool:
        return self.user_verification == "required"


def _check_rp_id(rp_id: object) -> None:
    if not isinstance(rp_id, str) or not rp_id:
        raise ConfigurationError("WebAuthnPolicy.rp_id must be a domain such as example.com")
    if _is_ip(rp_id):
        raise ConfigurationError(
            f"WebAuthn RP ID {rp_id!r} is an IP address; an RP ID is a domain (use"
            " 'localhost' for local development and open the app at http://localhost:PORT)"
        )
    labels = rp_id.split(".")
    if len(rp_id) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ConfigurationError(
            f"WebAuthn RP ID {rp_id!r} is not a lower-case domain name such as example.com"
        )
    if labels[-1].isdigit():
        raise ConfigurationError(f"WebAuthn RP ID {rp_id!r} looks like an IP address")


def _check_origin(origin: object, rp_id: str) -> None:
    if not isinstance(origin, str):
        raise ConfigurationError("WebAuthnPolicy.origins must be strings")
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"WebAuthn origin {origin!r} is not a URL") from exc
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host or parts.username is not None:
        raise ConfigurationError(f"WebAuthn origin {origin!r} must be https://HOST[:PORT]")
    canonical = _origin(parts.scheme, host, port)
    if origin != canonical:
        raise ConfigurationError(f"write the WebAuthn origin {origin!r} as {canonical!r}")
    if _is_ip(host):
        raise ConfigurationError(
            f"WebAuthn origin {origin!r} is on an IP address; browsers allow WebAuthn on"
            " domains only (use http://localhost:PORT for local development)"
        )
    if parts.scheme == "http" and not _is_localhost(host):
        raise ConfigurationError(
            f"WebAuthn origin {origin!r} must use https (http is allowed on localhost only)"
        )
    if not _on_rp_id(host, rp_id):
        raise ConfigurationError(
            f"WebAuthn origin {origin!r} is not on the RP ID {rp_id!r} or a subdomain of it"
        )


def _site(domain: str) -> tuple[str, str]:
    """``(rp_id, origin)`` for an app_info domain; loopback maps to localhost."""
    if not isinstance(domain, str) or not domain.strip():
        raise ConfigurationError("the website domain must be a non-empty string")
    text = domain.strip().lower()
    try:
        parts = urlsplit(text if "://" in text else "//" + text)
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"{domain!r} is not a domain or URL") from exc
    host = parts.hostname or ""
    if not host or parts.username is not None:
        raise ConfigurationError(f"{domain!r} is not a domain or URL")
    if _is_ip(host) and ipaddress.ip_address(host).is_loopback:
        host = "localhost"  # browsers refuse WebAuthn on 127.0.0.1 but allow localhost
    scheme = parts.scheme or ("http" if _is_localhost(host) else "https")
    if scheme not in ("http", "https"):
        raise ConfigurationError(f"{domain!r} must be an http(s) URL")
    if _is_ip(host):
        raise ConfigurationError(
            f"{domain!r} is an IP address; a WebAuthn RP ID is a domain, never an IP. Serve"
            " the site on a domain name, or pass rp_id and origins to WebAuthnPolicy"
        )
    if scheme == "http" and not _is_localhost(host):
        raise ConfigurationError(
            f"{domain!r} uses http: browsers allow WebAuthn on https (or on localhost) only"
        )
    _check_rp_id(host)
    return host, _origin(scheme, host, port)


def _origin(scheme: str, host: str, port: int | None) -> str:
    default = {"http": 80, "https": 443}[scheme]
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" if port in (None, default) else f"{scheme}://{shown}:{port}"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_localhost(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")


def _on_rp_id(host: str, rp_id: str) -> bool:
    return host == rp_id or host.endswith("." + rp_id)


# --- stored values ------------------------------------------------------------------------


@dataclass(frozen=True)
class WebAuthnCredential:
    """One security key or passkey of a user, as kept in the user's 2FA state."""

    credential_id: str
    """The credential id, base64url without padding (as browsers send it)."""
    public_key: str
    """The COSE public key, base64url."""
    sign_count: int
    transports: tuple[str, ...]
    """How the browser can reach it (``"usb"``, ``"internal"``, ...); a hint for the browser."""
    name: str
    created_at: float
    last_used_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.credential_id,
            "public_key": self.public_key,
            "sign_count": self.sign_count,
            "transports": list(self.transports),
            "name": self.name,
            "created_at": self.created_at,
            "last_used_at": self.last_used_at,
        }

    @classmethod
    def from_dict(cls, data: object) -> WebAuthnCredential:
        """Parse a stored credential; a missing key or a wrong type raises
        :class:`~st_twofactor.errors.MalformedDataError`."""
        doc = _object(data, "WebAuthn credential")
        credential_id = _b64url_field(doc, "id")
        if not 0 < len(_decode_b64url(credential_id)) <= MAX_CREDENTIAL_ID_BYTES:
            raise MalformedDataError("WebAuthn credential: id has a wrong length")
        public_key = _b64url_field(doc, "public_key")
        try:
            decode_credential_public_key(_decode_b64url(public_key))
        except Exception as exc:  # cbor2 and py_webauthn raise many kinds
            raise MalformedDataError("WebAuthn credential: public_key is not a COSE key") from exc
        sign_count = _field(doc, "sign_count", int)
        if not 0 <= sign_count < 2**32:
            raise MalformedDataError("WebAuthn credential: sign_count out of range")
        transports = _field(doc, "transports", list)
        if not all(isinstance(t, str) for t in transports):
            raise MalformedDataError("WebAuthn credential: transports must be strings")
        name = _field(doc, "name", str)
        if not _stored_name(name):
            raise MalformedDataError("WebAuthn credential: invalid name")
        last_used = doc.get("last_used_at", _MISSING)
        return cls(
            credential_id=credential_id,
            public_key=public_key,
            sign_count=sign_count,
            transports=tuple(transports),
            name=name,
            created_at=_time_field(doc, "created_at"),
            last_used_at=None if last_used is None else _time_field(doc, "last_used_at"),
        )


@dataclass(frozen=True)
class PendingChallenge:
    """A challenge handed to a browser and not used yet. Keep it in the user's 2FA state;
    remove it in the update that verifies the answer (see the module docstring)."""

    challenge: str
    """The challenge's bytes, base64url: 32 random bytes, or a signed challenge
    (:class:`ChallengeSigner`)."""
    purpose: Purpose
    session_handle: str
    """The session that asked for it: only that session may answer."""
    expires_at: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "challenge": self.challenge,
            "purpose": self.purpose,
            "session_handle": self.session_handle,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_dict(cls, data: object) -> PendingChallenge:
        """Parse a stored challenge; a missing key or a wrong type raises
        :class:`~st_twofactor.errors.MalformedDataError`."""
        doc = _object(data, "WebAuthn challenge")
        challenge = _b64url_field(doc, "challenge")
        if not MIN_CHALLENGE_BYTES <= len(_decode_b64url(challenge)) <= MAX_CHALLENGE_BYTES:
            raise MalformedDataError("WebAuthn challenge: wrong length")
        purpose = _field(doc, "purpose", str)
        if purpose == "register":
            checked: Purpose = "register"
        elif purpose == "authenticate":
            checked = "authenticate"
        else:
            raise MalformedDataError("WebAuthn challenge: unknown purpose")
        session_handle = _field(doc, "session_handle", str)
        if not session_handle:
            raise MalformedDataError("WebAuthn challenge: empty session handle")
        return cls(challenge, checked, session_handle, _time_field(doc, "expires_at"))


_SIGNED_VERSION = 1
_SIGNED_LABEL = b"st_twofactor/webauthn-challenge/v1"
_NONCE_BYTES = 16
_TAG_BYTES = 32
_PURPOSE_BYTE: dict[Purpose, int] = {"register": 1, "authenticate": 2}
_BYTE_PURPOSE: dict[int, Purpose] = {b: p for p, b in _PURPOSE_BYTE.items()}
_SIGNED_BYTES = 1 + _NONCE_BYTES + 8 + 1 + _TAG_BYTES


class ChallengeSigner:
    """Challenges that prove by themselves that this app made them, for whom and until when.

    A signed challenge is 58 bytes: a version byte, 16 random bytes, the expiry (milliseconds
    since the epoch) and the purpose, then an HMAC-SHA256 tag over those bytes, the user id
    and the session handle, under a key derived from the app's secret key with its own HKDF
    label. The user id and session handle are not in the challenge, only bound by the tag:
    a challenge answered in another session or for another user does not verify.

    Keys rotate as for remember-device tokens: the first key signs, every key is accepted.
    A signed challenge is still single use only if the caller records it as answered (see
    the module docstring).
    """

    def __init__(self, secret_keys: str | Sequence[str]) -> None:
        self._keys = [derive_key(k, _SIGNED_LABEL) for k in normalise_secret_keys(secret_keys)]

    def issue(
        self, purpose: Purpose, user_id: str, session_handle: str, expires_at: float
    ) -> bytes:
        """A new challenge for ``purpose``, valid until ``expires_at`` (seconds)."""
        _check_caller(user_id=user_id, session_handle=session_handle)
        if purpose not in _PURPOSE_BYTE:
            raise ConfigurationError(f"unknown WebAuthn ceremony {purpose!r}")
        body = (
            bytes([_SIGNED_VERSION])
            + secrets.token_bytes(_NONCE_BYTES)
            + math.ceil(expires_at * 1000).to_bytes(8, "big")
            + bytes([_PURPOSE_BYTE[purpose]])
        )
        return body + _tag(self._keys[0], body, user_id, session_handle)

    def open(
        self, challenge: object, user_id: str, session_handle: str, now: float
    ) -> PendingChallenge | RefusalReason:
        """The :class:`PendingChallenge` that ``challenge`` (base64url, as the browser signed
        it) stands for, or why it is not one this app made for this user and session and
        that is still valid. The purpose is checked by ``verify_*``."""
        if not isinstance(challenge, str):
            return RefusalReason.MALFORMED
        try:
            raw = _decode_b64url(challenge)
        except MalformedDataError:
            return RefusalReason.MALFORMED
        if len(raw) != _SIGNED_BYTES or raw[0] != _SIGNED_VERSION:
            return RefusalReason.NO_CHALLENGE
        body, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
        if not isinstance(user_id, str) or not isinstance(session_handle, str):
            return RefusalReason.WRONG_SESSION
        valid = False
        for key in self._keys:  # every key, so the time taken says nothing of which
            valid |= hmac.compare_digest(_tag(key, body, user_id, session_handle), tag)
        if not valid:
            return RefusalReason.WRONG_SESSION
        purpose = _BYTE_PURPOSE.get(body[-1])
        if purpose is None:  # signed by us, so never in practice
            return RefusalReason.MALFORMED
        expires_at = int.from_bytes(body[1 + _NONCE_BYTES : -1], "big") / 1000
        if now >= expires_at:
            return RefusalReason.CHALLENGE_EXPIRED
        return PendingChallenge(challenge, purpose, session_handle, expires_at)


def _tag(key: bytes, body: bytes, user_id: str, session_handle: str) -> bytes:
    signed = bytearray(body)
    for part in (user_id, session_handle):
        encoded = part.encode("utf-8", "surrogatepass")
        signed += len(encoded).to_bytes(4, "big") + encoded
    return hmac.new(key, bytes(signed), hashlib.sha256).digest()


def challenge_signed(credential_json: object) -> str | None:
    """The challenge (base64url) in the ``clientDataJSON`` of a browser's answer, or
    ``None`` if the answer does not carry one that parses. Nothing is verified here."""
    try:
        if isinstance(credential_json, str):
            credential_json = json.loads(credential_json)
        if not isinstance(credential_json, dict):
            return None
        response = credential_json.get("response")
        client_data = response.get("clientDataJSON") if isinstance(response, dict) else None
        if not isinstance(client_data, str) or len(client_data) > _MAX_CLIENT_DATA_CHARS:
            return None
        document = json.loads(_decode_b64url(client_data))
    except (ValueError, MalformedDataError, RecursionError):
        return None
    challenge = document.get("challenge") if isinstance(document, dict) else None
    return challenge if isinstance(challenge, str) else None


_MAX_CLIENT_DATA_CHARS = 16_384


_MISSING = object()


def _object(data: object, what: str) -> dict[str, Any]:
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise MalformedDataError(f"{what} must be a JSON object")
    return data


def _field(doc: dict[str, Any], key: str, kind: type[Any]) -> Any:
    value = doc.get(key, _MISSING)
    if value is _MISSING:
        raise MalformedDataError(f"WebAuthn data: {key!r} is missing")
    # bool is an int subclass; a stored True is never a count.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise MalformedDataError(f"WebAuthn data: {key!r} must be of type {kind.__name__}")
    return value


def _time_field(doc: dict[str, Any], key: str) -> float:
    value = doc.get(key, _MISSING)
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise MalformedDataError(f"WebAuthn data: {key!r} must be a time in seconds")
    return float(value)


def _b64url_field(doc: dict[str, Any], key: str) -> str:
    value: str = _field(doc, key, str)
    _decode_b64url(value)
    return value


def _decode_b64url(text: str) -> bytes:
    """Strict base64url without padding, in its one canonical spelling."""
    if not _B64URL.match(text) or len(text) % 4 == 1:
        raise MalformedDataError("WebAuthn data: not base64url")
    decoded = _b64decode(text)
    if bytes_to_base64url(decoded) != text:
        raise MalformedDataError("WebAuthn data: not canonical base64url")
    return decoded


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- ceremonies ---------------------------------------------------------------------------


def registration_options(
    policy: WebAuthnPolicy,
    user_id: str,
    user_name: str,
    existing: Sequence[WebAuthnCredential],
    now: float,
    session_handle: str,
    *,
    challenge: bytes | None = None,
) -> tuple[dict[str, Any], PendingChallenge]:
    """Options for ``navigator.credentials.create()`` (JSON-ready, base64url bytes) and the
    challenge to keep. ``user_name`` is what the authenticator shows (an e-mail, say); the
    user's ``existing`` credentials are excluded, so one authenticator is not added twice.
    ``challenge``: one made by :meth:`ChallengeSigner.issue` (else random bytes)."""
    _check_caller(user_id=user_id, user_name=user_name, session_handle=session_handle)
    challenge = _challenge_bytes(challenge)
    options = generate_registration_options(
        rp_id=policy.rp_id,
        rp_name=policy.rp_name,
        user_id=user_handle(user_id),
        user_name=user_name,
        challenge=challenge,
        timeout=_timeout_ms(policy),
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement(policy.resident_key),
            user_verification=UserVerificationRequirement(policy.user_verification),
        ),
        exclude_credentials=[_descriptor(c) for c in existing],
        supported_pub_key_algs=list(SUPPORTED_ALGORITHMS),
    )
    return _json_ready(options), _pending(challenge, "register", session_handle, now, policy)


def authentication_options(
    policy: WebAuthnPolicy,
    credentials: Sequence[WebAuthnCredential],
    now: float,
    session_handle: str,
    *,
    challenge: bytes | None = None,
) -> tuple[dict[str, Any], PendingChallenge]:
    """Options for ``navigator.credentials.get()`` listing the user's ``credentials``
    (passkeys among them answer as well as security keys), and the challenge to keep.
    ``challenge``: one made by :meth:`ChallengeSigner.issue` (else random bytes)."""
    _check_caller(session_handle=session_handle)
    if not credentials:
        raise ConfigurationError("the user has no WebAuthn credential to authenticate with")
    challenge = _challenge_bytes(challenge)
    options = generate_authentication_options(
        rp_id=policy.rp_id,
        challenge=challenge,
        timeout=_timeout_ms(policy),
        allow_credentials=[_descriptor(c) for c in credentials],
        user_verification=UserVerificationRequirement(policy.user_verification),
    )
    return _json_ready(options), _pending(challenge, "authenticate", session_handle, now, policy)


def verify_registration(
    policy: WebAuthnPolicy,
    pending: PendingChallenge | None,
    credential_json: object,
    session_handle: str,
    now: float,
    name: str,
    existing: Sequence[WebAuthnCredential],
) -> WebAuthnCredential | RefusalReason:
    """The new credential, called ``name``, or why the browser's registration answer
    (``credential_json``: the ``PublicKeyCredential`` as JSON, a dict or a string) is
    refused. ``pending`` is the challenge the caller just removed (``None`` if none)."""
    refused = _check_pending(pending, "register", session_handle, now)
    if refused is not None:
        return refused
    assert pending is not None  # for mypy: _check_pending refuses None
    if not valid_credential_name(name):
        return RefusalReason.INVALID_NAME
    if any(device_key(c.name) == device_key(name) for c in existing):
        return RefusalReason.DUPLICATE_NAME
    if not isinstance(credential_json, (dict, str)):
        return RefusalReason.MALFORMED
    try:
        credential = parse_registration_credential_json(credential_json)
        attestation = parse_attestation_object(credential.response.attestation_object)
    except Exception:  # py_webauthn and cbor2 raise many kinds on hostile input
        return RefusalReason.MALFORMED
    if bytes_to_base64url(credential.raw_id) != credential.id:
        return RefusalReason.MALFORMED
    refused = _check_client_data(
        credential.response.client_data_json, "webauthn.create", pending, policy
    )
    if refused is None:
        refused = _check_authenticator_data(attestation.auth_data, policy)
    if refused is not None:
        return refused
    attested = attestation.auth_data.attested_credential_data
    if (
        attested is None
        or attested.credential_id != credential.raw_id
        or not 0 < len(attested.credential_id) <= MAX_CREDENTIAL_ID_BYTES
    ):
        return RefusalReason.MALFORMED
    if not usable_public_key(attested.credential_public_key):
        return RefusalReason.UNUSABLE_KEY
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=_decode_b64url(pending.challenge),
            expected_rp_id=policy.rp_id,
            expected_origin=list(policy.origins),
            require_user_verification=policy.requires_user_verification,
            supported_pub_key_algs=list(SUPPORTED_ALGORITHMS),
        )
    except InvalidRegistrationResponse:
        return RefusalReason.BAD_SIGNATURE
    except MalformedDataError:
        raise
    except Exception:
        return RefusalReason.MALFORMED
    credential_id = bytes_to_base64url(verified.credential_id)
    if any(c.credential_id == credential_id for c in existing):
        return RefusalReason.DUPLICATE_CREDENTIAL
    transports = credential.response.transports or []
    return WebAuthnCredential(
        credential_id=credential_id,
        public_key=bytes_to_base64url(verified.credential_public_key),
        sign_count=verified.sign_count,
        transports=tuple(dict.fromkeys(t.value for t in transports)),
        name=name,
        created_at=now,
    )


def verify_authentication(
    policy: WebAuthnPolicy,
    pending: PendingChallenge | None,
    credential_json: object,
    credentials: Sequence[WebAuthnCredential],
    session_handle: str,
    now: float,
) -> WebAuthnCredential | RefusalReason:
    """The user's credential that answered, with its new sign count and ``last_used_at``
    (store it back), or why the browser's assertion is refused. ``credentials`` are the
    user's; ``pending`` is the challenge the caller just removed (``None`` if none)."""
    refused = _check_pending(pending, "authenticate", session_handle, now)
    if refused is not None:
        return refused
    assert pending is not None  # for mypy: _check_pending refuses None
    if not isinstance(credential_json, (dict, str)):
        return RefusalReason.MALFORMED
    try:
        credential = parse_authentication_credential_json(credential_json)
        auth_data = parse_authenticator_data(credential.response.authenticator_data)
    except Exception:  # py_webauthn and cbor2 raise many kinds on hostile input
        return RefusalReason.MALFORMED
    credential_id = bytes_to_base64url(credential.raw_id)
    if credential_id != credential.id:
        return RefusalReason.MALFORMED
    stored = next((c for c in credentials if c.credential_id == credential_id), None)
    if stored is None:
        return RefusalReason.UNKNOWN_CREDENTIAL
    refused = _check_client_data(
        credential.response.client_data_json, "webauthn.get", pending, policy
    )
    if refused is None:
        refused = _check_authenticator_data(auth_data, policy)
    if refused is not None:
        return refused
    if not usable_public_key(_decode_b64url(stored.public_key)):
        return RefusalReason.UNUSABLE_KEY
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=_decode_b64url(pending.challenge),
            expected_rp_id=policy.rp_id,
            expected_origin=list(policy.origins),
            credential_public_key=_decode_b64url(stored.public_key),
            # 0 turns py_webauthn's own count check off: ours below runs after the
            # signature verified and reports a regression as such.
            credential_current_sign_count=0,
            require_user_verification=policy.requires_user_verification,
        )
    except InvalidAuthenticationResponse:
        return RefusalReason.BAD_SIGNATURE
    except MalformedDataError:
        raise
    except Exception:
        return RefusalReason.MALFORMED
    new_count = verified.new_sign_count
    if (new_count > 0 or stored.sign_count > 0) and new_count <= stored.sign_count:
        return RefusalReason.SIGN_COUNT_REGRESSION
    return replace(stored, sign_count=new_count, last_used_at=now)


def _challenge_bytes(given: bytes | None) -> bytes:
    if given is None:
        return secrets.token_bytes(CHALLENGE_BYTES)
    if not isinstance(given, bytes) or not MIN_CHALLENGE_BYTES <= len(given) <= MAX_CHALLENGE_BYTES:
        raise ConfigurationError(
            f"a WebAuthn challenge must be {MIN_CHALLENGE_BYTES}-{MAX_CHALLENGE_BYTES} bytes"
        )
    return given


def _check_caller(**arguments: str) -> None:
    for argument, value in arguments.items():
        if not isinstance(value, str) or not value:
            raise ConfigurationError(f"{argument} must be a non-empty string")


def _json_ready(
    options: PublicKeyCredentialCreationOptions | PublicKeyCredentialRequestOptions,
) -> dict[str, Any]:
    # options_to_json_dict only exists from py_webauthn 2.6; this works on every 2.x and 3.x.
    document: dict[str, Any] = json.loads(options_to_json(options))
    return document


def _timeout_ms(policy: WebAuthnPolicy) -> int:
    return int(policy.challenge_lifetime * 1000)


def _pending(
    challenge: bytes, purpose: Purpose, session_handle: str, now: float, policy: WebAuthnPolicy
) -> PendingChallenge:
    return PendingChallenge(
        challenge=bytes_to_base64url(challenge),
        purpose=purpose,
        session_handle=session_handle,
        expires_at=now + policy.challenge_lifetime,
    )


def _descriptor(credential: WebAuthnCredential) -> PublicKeyCredentialDescriptor:
    transports = [
        AuthenticatorTransport(t) for t in credential.transports if t in _KNOWN_TRANSPORTS
    ]
    return PublicKeyCredentialDescriptor(
        id=_decode_b64url(credential.credential_id), transports=transports or None
    )


def _check_pending(
    pending: PendingChallenge | None, purpose: Purpose, session_handle: str, now: float
) -> RefusalReason | None:
    if pending is None:
        return RefusalReason.NO_CHALLENGE
    if pending.purpose != purpose:
        return RefusalReason.WRONG_PURPOSE
    if not isinstance(session_handle, str) or not secrets.compare_digest(
        pending.session_handle.encode("utf-8"), session_handle.encode("utf-8")
    ):
        return RefusalReason.WRONG_SESSION
    if now >= pending.expires_at:
        return RefusalReason.CHALLENGE_EXPIRED
    return None


def _check_client_data(
    raw: bytes, expected_type: str, pending: PendingChallenge, policy: WebAuthnPolicy
) -> RefusalReason | None:
    try:
        client: CollectedClientData = parse_client_data_json(raw)
    except Exception:  # not JSON, missing keys, a challenge that is not base64url, ...
        return RefusalReason.MALFORMED
    if not isinstance(client.origin, str) or not isinstance(client.challenge, bytes):
        return RefusalReason.MALFORMED
    if client.type != expected_type:
        known = client.type in ("webauthn.create", "webauthn.get")
        return RefusalReason.WRONG_PURPOSE if known else RefusalReason.MALFORMED
    if not secrets.compare_digest(client.challenge, _decode_b64url(pending.challenge)):
        return RefusalReason.CHALLENGE_MISMATCH
    if client.origin not in policy.origins or client.cross_origin:
        return RefusalReason.WRONG_ORIGIN
    return None


def _check_authenticator_data(
    auth_data: AuthenticatorData, policy: WebAuthnPolicy
) -> RefusalReason | None:
    expected = hashlib.sha256(policy.rp_id.encode("utf-8")).digest()
    if not secrets.compare_digest(auth_data.rp_id_hash, expected):
        return RefusalReason.WRONG_RP_ID
    if not auth_data.flags.up:
        return RefusalReason.USER_NOT_PRESENT
    if policy.requires_user_verification and not auth_data.flags.uv:
        return RefusalReason.USER_NOT_VERIFIED
    return None
