"""The session routes' answers to older SDKs, by the ``cdi-version`` header they send.

The real core mints the access token version an SDK's CDI version expects and
shapes its answers the same way; the development core follows it:

=============  =====================================================================
CDI version    access token, and what else changes in the answers
=============  =====================================================================
>= 4.0         version 5 (``rsub``), the answers as they are
3.0 - 3.x      version 4: no ``rsub``; the session JSON has no ``recipeUserId``
2.21 - 2.x     version 3: no ``tId`` either (the token is the public tenant's); the
               session JSON has no ``tenantId``
< 2.21         version 2: fixed header without ``kid``, the user's payload under
               ``userData``; create and refresh also answer an ``idRefreshToken``,
               and every answer the public key that signs (``jwtSigningPublicKey``,
               its expiry, and from CDI 2.9 the list of keys that verify)
=============  =====================================================================

A token keeps its version when the core renews it on verify, so a version 2 token
of an old SDK still works when a newer SDK (CDI 5.x) presents it.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from ._http import Request, bad_request
from ._keys import KeySet, public_key_text

LATEST = (5, 4)
_VERSION = re.compile(r"^([0-9]{1,4})\.([0-9]{1,4})$")
STATIC_KEY_EXPIRY_MS = 10 * 365 * 24 * 3600 * 1000  # what the real core answers for a static key


def cdi_version(req: Request) -> tuple[int, int]:
    """The request's CDI version; the latest when the header is missing, as the real core."""
    raw = req.headers.get("cdi-version")
    if raw is None:
        return LATEST
    match = _VERSION.match(raw.strip())
    if match is None:
        raise bad_request("cdi-version header is invalid")
    return int(match.group(1)), int(match.group(2))


def token_version(cdi: tuple[int, int]) -> int:
    """The access token version the real core mints for a CDI version."""
    if cdi >= (4, 0):
        return 5
    if cdi >= (3, 0):
        return 4
    if cdi >= (2, 21):
        return 3
    return 2


def reads_signing_key_choice(cdi: tuple[int, int]) -> bool:
    """Whether a create-session request's ``useDynamicSigningKey`` counts (CDI 2.21 on)."""
    return cdi >= (2, 21)


def shape(
    answer: dict[str, Any],
    cdi: tuple[int, int],
    keys: KeySet,
    *,
    dynamic_keys: bool,
    refresh_expiry: int | None = None,
    now: int = 0,
) -> dict[str, Any]:
    """``answer`` as the real core gives it to an SDK of CDI version ``cdi``.

    ``refresh_expiry`` is given by the routes that issue a refresh token (create and
    refresh); ``dynamic_keys`` is the app's ``access_token_signing_key_dynamic``.
    """
    session = answer.get("session")
    if isinstance(session, dict):
        if cdi < (3, 0):
            session.pop("tenantId", None)
        if cdi < (4, 0):
            session.pop("recipeUserId", None)
    if cdi >= (2, 21):
        return answer
    if refresh_expiry is not None:
        answer["idRefreshToken"] = {
            "token": str(uuid.uuid4()),
            "expiry": refresh_expiry,
            "createdTime": now,
        }
    answer.update(_signing_key_infos(keys, dynamic_keys=dynamic_keys, with_list=cdi >= (2, 9)))
    return answer


def _signing_key_infos(keys: KeySet, *, dynamic_keys: bool, with_list: bool) -> dict[str, Any]:
    if not dynamic_keys:
        static = keys.static
        infos: dict[str, Any] = {
            "jwtSigningPublicKey": public_key_text(static),
            "jwtSigningPublicKeyExpiryTime": STATIC_KEY_EXPIRY_MS,
        }
        if with_list:
            infos["jwtSigningPublicKeyList"] = [
                {
                    "publicKey": public_key_text(static),
                    "expiryTime": static.created_ms + STATIC_KEY_EXPIRY_MS,
                    "createdAt": static.created_ms,
                }
            ]
        return infos
    signing = keys.signing_dynamic
    infos = {
        "jwtSigningPublicKey": public_key_text(signing),
        "jwtSigningPublicKeyExpiryTime": signing.created_ms + keys.interval_ms,
    }
    if with_list:
        infos["jwtSigningPublicKeyList"] = [
            {
                "publicKey": public_key_text(key),
                "expiryTime": key.created_ms + keys.lifetime_ms,
                "createdAt": key.created_ms,
            }
            for key in keys.dynamic
        ]
    return infos
