"""Signed WebAuthn challenges: asking for a ceremony's options writes nothing.

A challenge made by :class:`ChallengeSigner` carries its own expiry and ceremony under an
HMAC that also binds the user and the session, so the options need no stored record; the
browser's answer brings the challenge back (:func:`challenge_signed`) and
:meth:`ChallengeSigner.open` turns it into the
:class:`~st_twofactor.factors.webauthn.records.PendingChallenge` the ceremonies verify
against.

**Single use is the caller's part.** A challenge must be accepted at most once. Challenges
can be kept two ways, and the caller picks one:

- *Stored*: keep the ``PendingChallenge`` of the ``*_options`` functions of
  :mod:`~st_twofactor.factors.webauthn.ceremonies` in the user's state, remove it *in the
  same atomic store update* that reads it and passes it to ``verify_*`` (``None`` when
  there was none, refused as ``RefusalReason.NO_CHALLENGE``), whatever the outcome.
- *Signed* (this module, what :mod:`st_twofactor.factors.webauthn.flows` does): the caller
  refuses a challenge already recorded as answered and, in the same atomic update that
  verifies the answer, records it when the answer verified (accepted, or one of
  ``VERIFIED_REFUSALS``), until it expires. An answer that did not verify could never be
  accepted, so it need not use the challenge up.

Either way, doing it in a later update would let two concurrent requests both verify the
same answer.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Sequence

from st_twofactor.errors import ConfigurationError, MalformedDataError
from st_twofactor.factors.webauthn.ceremonies import RefusalReason
from st_twofactor.factors.webauthn.records import PendingChallenge, Purpose, decode_b64url
from st_twofactor.kernel.signer import TAG_BYTES, Signer

__all__ = ["ChallengeSigner", "challenge_signed"]

_LABEL = b"st_twofactor/webauthn-challenge/v1"
_NONCE_BYTES = 16
_PURPOSE_BYTE: dict[Purpose, int] = {"register": 1, "authenticate": 2}
_BYTE_PURPOSE: dict[int, Purpose] = {b: p for p, b in _PURPOSE_BYTE.items()}
_MAX_CLIENT_DATA_CHARS = 16_384
_SIGNED_BYTES = 1 + _NONCE_BYTES + 8 + 1 + TAG_BYTES
"""58: the signer's version byte, 16 random bytes, the expiry, the ceremony, the tag."""


class ChallengeSigner:
    """Challenges that prove by themselves that this app made them, for whom and until when.

    A signed challenge is the sealed form of :class:`~st_twofactor.kernel.signer.Signer`
    (its own label): 16 random bytes, the expiry (milliseconds since the epoch) and the
    ceremony, the user id and the session handle bound by the tag without being carried,
    so a challenge answered in another session or for another user does not verify.

    Keys rotate as for remember-device tokens: the first key signs, every key is accepted.
    A signed challenge is still single use only if the caller records it as answered (see
    the module docstring).
    """

    def __init__(self, secret_keys: str | Sequence[str]) -> None:
        self._signer = Signer(secret_keys, _LABEL)

    def issue(
        self, purpose: Purpose, user_id: str, session_handle: str, expires_at: float
    ) -> bytes:
        """A new challenge for ``purpose``, valid until ``expires_at`` (seconds)."""
        for argument, value in (("user_id", user_id), ("session_handle", session_handle)):
            if not isinstance(value, str) or not value:
                raise ConfigurationError(f"{argument} must be a non-empty string")
        if purpose not in _PURPOSE_BYTE:
            raise ConfigurationError(f"unknown WebAuthn ceremony {purpose!r}")
        payload = (
            secrets.token_bytes(_NONCE_BYTES)
            + math.ceil(expires_at * 1000).to_bytes(8, "big")
            + bytes([_PURPOSE_BYTE[purpose]])
        )
        return self._signer.seal(payload, user_id, session_handle)

    def open(
        self, challenge: object, user_id: str, session_handle: str, now: float
    ) -> PendingChallenge | RefusalReason:
        """The :class:`~st_twofactor.factors.webauthn.records.PendingChallenge` that
        ``challenge`` (base64url, as the browser signed it) stands for, or why it is not one
        this app made for this user and session and that is still valid. The purpose is
        checked by ``verify_*``."""
        if not isinstance(challenge, str):
            return RefusalReason.MALFORMED
        try:
            raw = decode_b64url(challenge)
        except MalformedDataError:
            return RefusalReason.MALFORMED
        if len(raw) != _SIGNED_BYTES:
            return RefusalReason.NO_CHALLENGE
        if not isinstance(user_id, str) or not isinstance(session_handle, str):
            return RefusalReason.WRONG_SESSION
        payload = self._signer.unseal(raw, user_id, session_handle)
        if payload is None:
            return RefusalReason.WRONG_SESSION
        purpose = _BYTE_PURPOSE.get(payload[-1])
        if purpose is None:  # signed by us, so never in practice
            return RefusalReason.MALFORMED
        expires_at = int.from_bytes(payload[_NONCE_BYTES:-1], "big") / 1000
        if now >= expires_at:
            return RefusalReason.CHALLENGE_EXPIRED
        return PendingChallenge(challenge, purpose, session_handle, expires_at)


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
        document = json.loads(decode_b64url(client_data))
    except (ValueError, MalformedDataError, RecursionError):
        return None
    challenge = document.get("challenge") if isinstance(document, dict) else None
    return challenge if isinstance(challenge, str) else None
