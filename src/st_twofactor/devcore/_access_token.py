"""Access tokens of the session recipe: what they say, and their JWT form per version.

The real core's versions, all verified here and all minted for the SDK that asks
(see :mod:`._legacy` for which CDI version gets which):

- 5: RS256 JWT with ``kid`` and header ``version: "5"``; claims ``sub``, ``exp``,
  ``iat``, ``tId``, ``rsub``, ``sessionHandle``, ``refreshTokenHash1``,
  ``parentRefreshTokenHash1``, ``antiCsrfToken`` and, at the top level, the user's
  payload. 4 has no ``rsub``; 3 no ``tId`` either (a ``tId`` in a version 3 token
  is the user's own claim, and the token belongs to the public tenant). A JWT
  without a ``version`` header (``POST /recipe/jwt``) is read as the latest.
- 2 (and 1): the fixed header without ``kid``, standard base64, and the claims
  ``userId``, ``expiryTime`` and ``timeCreated`` (in ms), ``sessionHandle``,
  ``refreshTokenHash1``, ``parentRefreshTokenHash1`` and ``antiCsrfToken`` when set,
  and the user's payload under ``userData``. Any of the app's keys may have signed it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._http import bad_request
from ._jwt import InvalidToken, sign_jwt, sign_legacy_jwt, verify_jwt, verify_legacy_jwt
from ._keys import KeySet

TOKEN_VERSION = 5
PUBLIC = "public"
_PROTECTED_V3 = (
    "sub",
    "exp",
    "iat",
    "sessionHandle",
    "refreshTokenHash1",
    "parentRefreshTokenHash1",
    "antiCsrfToken",
)
# Claims the core owns; a user payload may not set them (the real core's V5 list).
PROTECTED_PROPS = (*_PROTECTED_V3, "tId", "rsub")
STRUCTURE_CHANGED = (
    "Access token does not contain all the information. Maybe the structure has changed?"
)


class TryRefresh(Exception):
    """The access token cannot be used as it is: the client should refresh."""


@dataclass(frozen=True)
class AccessToken:
    """What an access token says (times in ms, truncated to seconds like the JWT's)."""

    handle: str
    user_id: str
    recipe_user_id: str
    tenant_id: str
    refresh_hash1: str
    parent_hash1: str | None
    user_data: dict[str, Any]
    anti_csrf: str | None
    expiry_ms: int
    created_ms: int
    version: int = TOKEN_VERSION

    def session_json(self, jwt_data: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "handle": self.handle,
            "userId": self.user_id,
            "recipeUserId": self.recipe_user_id,
            "userDataInJWT": self.user_data if jwt_data is None else jwt_data,
            "tenantId": self.tenant_id,
        }


def seconds(ms: int) -> int:
    """Round a time down to the second, as the JWT's ``exp`` and ``iat`` are."""
    return ms - ms % 1000


def check_user_payload(payload: dict[str, Any]) -> None:
    """A 400 when a user's JWT payload sets a claim the core owns."""
    if any(prop in payload for prop in PROTECTED_PROPS):
        raise bad_request("The user payload contains protected field")


def protected_props(version: int) -> tuple[str, ...]:
    if version == 3:
        return _PROTECTED_V3
    if version == 4:
        return (*_PROTECTED_V3, "tId")
    return PROTECTED_PROPS


# -- minting --


def mint(keys: KeySet, info: AccessToken, *, static: bool) -> dict[str, Any]:
    """Sign ``info`` as an access token of its version; returns the core's token info JSON."""
    key = keys.signing_key(dynamic=not static)
    if info.version <= 2:
        token = sign_legacy_jwt(key, _legacy_claims(info), info.version)
    else:
        token = sign_jwt(key, _claims(info), {"version": str(info.version)})
    return {"token": token, "expiry": info.expiry_ms, "createdTime": info.created_ms}


def renewed(keys: KeySet, info: AccessToken, *, static: bool) -> dict[str, Any]:
    """The answer of a route that re-signs a session's access token as ``info``."""
    return {
        "status": "OK",
        "session": info.session_json(),
        "accessToken": mint(keys, info, static=static),
    }


def _claims(info: AccessToken) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "sub": info.user_id,
        "exp": info.expiry_ms // 1000,
        "iat": info.created_ms // 1000,
    }
    if info.version >= 4:
        claims["tId"] = info.tenant_id
    if info.version >= 5:
        claims["rsub"] = info.recipe_user_id
    claims.update(
        {
            "sessionHandle": info.handle,
            "refreshTokenHash1": info.refresh_hash1,
            "parentRefreshTokenHash1": info.parent_hash1,
            "antiCsrfToken": info.anti_csrf,
        }
    )
    return {**claims, **info.user_data}


def _legacy_claims(info: AccessToken) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "userId": info.user_id,
        "expiryTime": info.expiry_ms,
        "timeCreated": info.created_ms,
        "sessionHandle": info.handle,
        "refreshTokenHash1": info.refresh_hash1,
    }
    if info.parent_hash1 is not None:
        claims["parentRefreshTokenHash1"] = info.parent_hash1
    if info.anti_csrf is not None:
        claims["antiCsrfToken"] = info.anti_csrf
    claims["userData"] = info.user_data
    return claims


# -- parsing --


def parse(keys: KeySet, token: str, *, now: int | None) -> AccessToken:
    """Verify an access token's signature and structure (and expiry unless ``now`` is None)."""
    try:
        legacy = verify_legacy_jwt(keys, token)
        if legacy is None:
            header, payload = verify_jwt(keys, token)
            info = _from_claims(payload, _version(header))
        else:
            info = _from_legacy_claims(legacy[1], legacy[0])
    except InvalidToken as error:
        raise TryRefresh(str(error)) from None
    if now is not None and info.expiry_ms < now:
        raise TryRefresh("Access token expired")
    return info


def _version(header: dict[str, Any]) -> int:
    """The token's version; a JWT without one (``POST /recipe/jwt``) is read as the latest."""
    raw = header.get("version", str(TOKEN_VERSION))
    if not isinstance(raw, str) or not raw.isdigit() or len(raw) > 3 or int(raw) < 3:
        raise TryRefresh("JWT header mismatch")
    return int(raw)


def _from_claims(payload: dict[str, Any], version: int) -> AccessToken:
    if not _has_required_claims(payload, version):
        raise TryRefresh(STRUCTURE_CHANGED)
    protected = protected_props(version)
    return AccessToken(
        handle=payload["sessionHandle"],
        user_id=payload["sub"],
        recipe_user_id=payload["rsub"] if version >= 5 else payload["sub"],
        tenant_id=payload["tId"] if version >= 4 else PUBLIC,
        refresh_hash1=payload["refreshTokenHash1"],
        parent_hash1=_optional_str(payload.get("parentRefreshTokenHash1")),
        user_data={k: v for k, v in payload.items() if k not in protected},
        anti_csrf=_optional_str(payload.get("antiCsrfToken")),
        expiry_ms=int(payload["exp"]) * 1000,
        created_ms=int(payload["iat"]) * 1000,
        version=version,
    )


def _from_legacy_claims(payload: dict[str, Any], version: int) -> AccessToken:
    ok = (
        isinstance(payload.get("userId"), str)
        and _is_number(payload.get("expiryTime"))
        and _is_number(payload.get("timeCreated"))
        and isinstance(payload.get("sessionHandle"), str)
        and isinstance(payload.get("refreshTokenHash1"), str)
        and isinstance(payload.get("userData"), dict)
    )
    if not ok:
        raise TryRefresh(STRUCTURE_CHANGED)
    return AccessToken(
        handle=payload["sessionHandle"],
        user_id=payload["userId"],
        recipe_user_id=payload["userId"],
        tenant_id=PUBLIC,
        refresh_hash1=payload["refreshTokenHash1"],
        parent_hash1=_optional_str(payload.get("parentRefreshTokenHash1")),
        user_data=payload["userData"],
        anti_csrf=_optional_str(payload.get("antiCsrfToken")),
        expiry_ms=int(payload["expiryTime"]),
        created_ms=int(payload["timeCreated"]),
        version=version,
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _has_required_claims(payload: dict[str, Any], version: int) -> bool:
    ok = (
        isinstance(payload.get("sub"), str)
        and _is_number(payload.get("exp"))
        and _is_number(payload.get("iat"))
        and isinstance(payload.get("sessionHandle"), str)
        and isinstance(payload.get("refreshTokenHash1"), str)
    )
    if version >= 4:
        ok = ok and isinstance(payload.get("tId"), str)
    if version >= 5:
        ok = ok and isinstance(payload.get("rsub"), str)
    return ok


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
