"""WebAuthn (security keys and passkeys) as a second factor: the two ceremonies.

Registration adds a credential to a user; authentication proves the user holds one. Each
is two steps: ``*_options`` makes the options the browser passes to
``navigator.credentials.create()``/``get()`` and a
:class:`~st_twofactor.factors.webauthn.records.PendingChallenge` for the caller to keep
(or a signed challenge: :mod:`~st_twofactor.factors.webauthn.challenge`, which also says
how a challenge is kept single use); ``verify_*`` checks the browser's answer against it.
The options are built in a module of their own, and named here with the rest.
`py_webauthn <https://github.com/duo-labs/py_webauthn>`_ does the cryptography (install the
extra: ``pip install 'st-twofactor[webauthn]'``); this module adds the rules of a second
factor and turns every failure into a typed :class:`RefusalReason`.

Everything here is pure: no store, no clock, no I/O. ``now`` (seconds since the epoch) and
the session handle are passed in, and nothing is changed in place.

What the checks guarantee:

- A challenge is 32 random bytes from :mod:`secrets` (or a signed one), bound to the
  session that asked for it (``session_handle``), to one ceremony (``purpose``) and to a
  deadline (``WebAuthnPolicy.challenge_lifetime``, 5 minutes by default).
- The answer's origin must be one of ``WebAuthnPolicy.origins`` (and not a cross-origin
  frame), its RP ID hash that of ``WebAuthnPolicy.rp_id``; the user must have been
  present, and verified if the policy requires it.
- A new credential's public key must be one a signature can be checked with, and strong
  (:func:`~st_twofactor.factors.webauthn.keys.usable_public_key`: ES256 on P-256, EdDSA
  on Ed25519, RS256 of 2048 to 8192 bits); any other is refused
  (:attr:`RefusalReason.UNUSABLE_KEY`) and never stored. A stored key that fails the same
  check (kept by an older version) is refused at sign-in before any signature is checked.
- An assertion must come from one of *this user's* credentials, verify under its stored
  public key, and carry a sign count above the stored one (when both are 0 the
  authenticator does not count, which passkeys commonly do, and that is allowed). A count
  that did not increase hints at a cloned authenticator: it is refused as
  :attr:`RefusalReason.SIGN_COUNT_REGRESSION`, checked only after the signature verified,
  so nobody without the key can provoke that report.
- Bad input from the client (any JSON, any bytes) is a refusal, never an exception.
  Callers should still cap the request size. Corrupt *stored* data raises
  :class:`~st_twofactor.errors.MalformedDataError` from ``from_dict``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import replace
from enum import Enum

from st_twofactor.errors import MalformedDataError
from st_twofactor.factors._device_names import device_key
from st_twofactor.factors.webauthn._options import (
    ATTESTATION,
    CHALLENGE_BYTES,
    SUPPORTED_ALGORITHMS,
    authentication_options,
    registration_options,
    user_handle,
)
from st_twofactor.factors.webauthn.keys import usable_public_key
from st_twofactor.factors.webauthn.policy import WebAuthnPolicy
from st_twofactor.factors.webauthn.records import (
    MAX_CREDENTIAL_ID_BYTES,
    PendingChallenge,
    Purpose,
    WebAuthnCredential,
    decode_b64url,
    valid_credential_name,
)

try:
    from webauthn import verify_authentication_response, verify_registration_response
    from webauthn.helpers import (
        bytes_to_base64url,
        parse_attestation_object,
        parse_authentication_credential_json,
        parse_authenticator_data,
        parse_client_data_json,
        parse_registration_credential_json,
    )
    from webauthn.helpers.exceptions import (
        InvalidAuthenticationResponse,
        InvalidRegistrationResponse,
    )
    from webauthn.helpers.structs import AuthenticatorData, CollectedClientData
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "WebAuthn needs the webauthn package: pip install 'st-twofactor[webauthn]'"
    ) from exc

__all__ = [
    "ATTESTATION",
    "CHALLENGE_BYTES",
    "SUPPORTED_ALGORITHMS",
    "VERIFIED_REFUSALS",
    "RefusalReason",
    "authentication_options",
    "registration_options",
    "user_handle",
    "verify_authentication",
    "verify_registration",
]


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
            expected_challenge=decode_b64url(pending.challenge),
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
    if not usable_public_key(decode_b64url(stored.public_key)):
        return RefusalReason.UNUSABLE_KEY
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=decode_b64url(pending.challenge),
            expected_rp_id=policy.rp_id,
            expected_origin=list(policy.origins),
            credential_public_key=decode_b64url(stored.public_key),
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
    if not secrets.compare_digest(client.challenge, decode_b64url(pending.challenge)):
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
