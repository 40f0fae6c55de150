"""Remember-device tokens: let a known device skip the second factor for a while (S11).

A token is ``<payload>.<signature>``, both base64url: the text form of
:class:`~st_twofactor.kernel.signer.Signer`, under a key derived from the app's secret key
with its own label (never the key that encrypts TOTP secrets). The payload (JSON) holds the
user id, the expiry, the user's 2FA *epoch*, a random nonce and, for a remembered device,
the id of its record in the user's state (``d``,
:mod:`st_twofactor.kernel.trusted_devices`).

Two ways to revoke: the store keeps an epoch per user and increments it whenever a factor
is added, removed or replaced, or recovery codes are regenerated; a token only passes with
the current epoch, so changing factors revokes every remembered device of that user at
once. And a remembered device's token names its record: removing the record ends that
device's trust only.

The token is a bearer secret: send it in an HttpOnly, SameSite=Strict cookie (Secure
whenever the app's session cookies are; see :mod:`~st_twofactor.kernel.completion`) and never
log it.
"""

from __future__ import annotations

import hmac
import json
import math
import secrets
import time
from collections.abc import Callable, Sequence

from st_twofactor.errors import ConfigurationError
from st_twofactor.kernel.crypto import b64encode
from st_twofactor.kernel.signer import Signer

__all__ = ["RememberDeviceTokens"]

_LABEL = b"st_twofactor/remember-device/v1"
_SIGNED_PREFIX = b"st_twofactor.kernel.remember.v1."
_PURPOSES = {
    "remember-device": (_LABEL, _SIGNED_PREFIX),
    "known-device": (b"st_twofactor/known-device/v1", b"st_twofactor.known.v1."),
}
"""Each kind of token: its HKDF label and the prefix its signature covers, so a token of
one kind is never accepted as the other. Both are what tokens have always been signed
with: changing either would sign every remembered device out."""
_VERSION = 1


class RememberDeviceTokens:
    """Issues and checks remember-device tokens under rotating keys.

    The first secret key signs; every key is accepted when checking, so a key can be
    rotated without logging out remembered devices until they expire.
    """

    def __init__(
        self, secret_keys: str | Sequence[str], *, purpose: str = "remember-device"
    ) -> None:
        """:param purpose: ``"remember-device"``, or ``"known-device"`` for the tokens of
        :mod:`st_twofactor.kernel.known_devices` (a key and signature of their own)."""
        if purpose not in _PURPOSES:
            raise ConfigurationError(f"purpose must be one of {sorted(_PURPOSES)}")
        label, prefix = _PURPOSES[purpose]
        self._signer = Signer(secret_keys, label, domain=prefix)

    def issue(
        self,
        user_id: str,
        epoch: int,
        *,
        lifetime: float,
        now: Callable[[], float] = time.time,
        device_id: str | None = None,
    ) -> str:
        """A token for ``user_id`` at 2FA epoch ``epoch``, valid for ``lifetime`` seconds;
        bound to the remembered device's record ``device_id`` when given."""
        if not isinstance(user_id, str) or not user_id:
            raise ConfigurationError("user_id must be a non-empty string")
        if isinstance(epoch, bool) or not isinstance(epoch, int):
            raise ConfigurationError("epoch must be an integer")
        if not (isinstance(lifetime, (int, float)) and math.isfinite(lifetime) and lifetime > 0):
            raise ConfigurationError("lifetime must be a positive number of seconds")
        payload = {
            "v": _VERSION,
            "u": user_id,
            "e": epoch,
            "x": math.floor(now() + lifetime),
            "n": b64encode(secrets.token_bytes(16)),
        }
        if device_id is not None:
            payload["d"] = device_id
        return self._signer.sign_text(json.dumps(payload, separators=(",", ":")).encode("utf-8"))

    def check(
        self,
        token: object,
        user_id: str,
        epoch: int,
        *,
        now: Callable[[], float] = time.time,
    ) -> bool:
        """``True`` only for an unexpired token we signed for ``user_id`` at ``epoch``.

        Anything else (another user, an old epoch, expired, forged, garbage of any type)
        is ``False``, never an exception. The signature is checked before the payload is
        parsed, so only our own payloads ever reach the JSON parser.
        """
        return self._valid_payload(token, user_id, epoch, now) is not None

    def device_id(
        self,
        token: object,
        user_id: str,
        epoch: int,
        *,
        now: Callable[[], float] = time.time,
    ) -> str | None:
        """The remembered device's record id in a token that passes :meth:`check`;
        ``None`` for any other token, and for a valid one that names no record (issued
        before devices were records)."""
        payload = self._valid_payload(token, user_id, epoch, now)
        device = None if payload is None else payload.get("d")
        return device if isinstance(device, str) and device else None

    def _valid_payload(
        self, token: object, user_id: str, epoch: int, now: Callable[[], float]
    ) -> dict[str, object] | None:
        payload = self._verified_payload(token)
        if payload is None:
            return None
        token_user, token_epoch, expires = payload.get("u"), payload.get("e"), payload.get("x")
        if not (
            payload.get("v") == _VERSION
            and isinstance(token_user, str)
            and isinstance(token_epoch, int)
            and not isinstance(token_epoch, bool)
            and isinstance(expires, int)
            and not isinstance(expires, bool)
        ):
            return None
        same_user = hmac.compare_digest(_utf8(token_user), _utf8(user_id))
        return payload if same_user and token_epoch == epoch and now() < expires else None

    def _verified_payload(self, token: object) -> dict[str, object] | None:
        raw = self._signer.open_text(token)
        if raw is None:
            return None
        try:
            payload = json.loads(raw)
        except (ValueError, RecursionError):
            return None
        return payload if isinstance(payload, dict) else None


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")
