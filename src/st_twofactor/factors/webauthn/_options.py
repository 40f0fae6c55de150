"""The first step of each ceremony: the options a browser is given, and the challenge.

What is asked for, and why: attestation ``"none"`` (:data:`ATTESTATION`), the three key
algorithms :mod:`~st_twofactor.factors.webauthn.keys` accepts (:data:`SUPPORTED_ALGORITHMS`),
a user handle that is not the user id (:func:`user_handle`), the user's existing keys
excluded at registration (one authenticator is not added twice) and listed at sign-in, and
a challenge of :data:`CHALLENGE_BYTES` random bytes unless a signed one is given. The
public names are those of :mod:`st_twofactor.factors.webauthn.ceremonies`, which callers
import them from.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from typing import Any

from st_twofactor.errors import ConfigurationError
from st_twofactor.factors.webauthn.policy import WebAuthnPolicy
from st_twofactor.factors.webauthn.records import (
    MAX_CHALLENGE_BYTES,
    MIN_CHALLENGE_BYTES,
    PendingChallenge,
    Purpose,
    WebAuthnCredential,
    decode_b64url,
)

try:
    from webauthn import generate_authentication_options, generate_registration_options
    from webauthn.helpers import bytes_to_base64url, options_to_json
    from webauthn.helpers.cose import COSEAlgorithmIdentifier
    from webauthn.helpers.structs import (
        AttestationConveyancePreference,
        AuthenticatorSelectionCriteria,
        AuthenticatorTransport,
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
    "SUPPORTED_ALGORITHMS",
    "authentication_options",
    "registration_options",
    "user_handle",
]

CHALLENGE_BYTES = 32
"""Random bytes in a challenge (a signed challenge has 16 random bytes among its 58)."""
ATTESTATION = "none"
"""Attestation asked for: ``"none"``. The library trusts no authenticator make or model
(there is no list of trusted roots to check attestation against), so it does not ask."""
SUPPORTED_ALGORITHMS = (
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
)
"""ES256 first (every authenticator has it), then Ed25519 and RS256 (Windows Hello)."""

_KNOWN_TRANSPORTS = frozenset(t.value for t in AuthenticatorTransport)
_USER_HANDLE_CONTEXT = b"st-twofactor webauthn user handle\x00"


def user_handle(user_id: str) -> bytes:
    """The WebAuthn user handle for ``user_id``: 32 bytes, the same for every credential of
    the user (so an authenticator keeps one passkey per account), and not the user id
    itself, which the WebAuthn spec asks to keep out of authenticators."""
    return hashlib.sha256(_USER_HANDLE_CONTEXT + user_id.encode("utf-8")).digest()


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
    ``challenge``: a signed one (:mod:`~st_twofactor.factors.webauthn.challenge`), else
    random bytes."""
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
    ``challenge``: a signed one (:mod:`~st_twofactor.factors.webauthn.challenge`), else
    random bytes."""
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
        id=decode_b64url(credential.credential_id), transports=transports or None
    )
