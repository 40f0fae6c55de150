"""The session recipe's tokens: create a session, verify and refresh its tokens.

Reading and updating a session's data is in :mod:`._session_data`, listing and
revoking a user's sessions in :mod:`._session_revoke`, the rows in :mod:`._session_store`.

Tokens follow the real core:

- The access token is an RS256 JWT signed by one of the app's keys (:mod:`._keys`),
  in the version the SDK's CDI version expects (5 for CDI 4.0 on; older ones in
  :mod:`._legacy`); its form is in :mod:`._access_token`.
- The refresh token is a random string. The core keeps only hashes:
  ``hash1 = sha256(token)`` (also carried in the access token) and
  ``hash2 = sha256(hash1)`` (the session's current refresh token).

Refresh is the real core's two-step rotation. Refreshing with the session's current
token returns a *child* token but leaves the session unchanged, so a client that
lost the answer can simply retry. The child becomes current ("is promoted") when
it is used: when its access token is first verified by the core, or when the child
itself is refreshed. From then on, the old token is stale; presenting it answers
``TOKEN_THEFT_DETECTED``, and the SDK revokes the session.
"""

from __future__ import annotations

import dataclasses
import hmac
import sqlite3
import uuid
from typing import Any

from . import _legacy
from . import _session_store as store
from ._access_token import (
    PUBLIC,
    STRUCTURE_CHANGED,
    AccessToken,
    TryRefresh,
    check_user_payload,
    mint,
    parse,
    renewed,
    seconds,
)
from ._db import sha256_hex
from ._http import Request, Routes
from ._keys import KeySet, key_set
from ._session_store import Session, Unauthorised, unauthorised

routes = Routes()


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison that accepts any text (compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def _app_uses_dynamic_keys(req: Request) -> bool:
    return bool(req.core.app_config(req.app_id)["access_token_signing_key_dynamic"])


def _shape(
    req: Request,
    answer: dict[str, Any],
    cdi: tuple[int, int],
    keys: KeySet,
    *,
    refresh_expiry: int | None = None,
    now: int = 0,
) -> dict[str, Any]:
    """``answer`` as the real core gives it to an SDK of an older CDI version."""
    return _legacy.shape(
        answer,
        cdi,
        keys,
        dynamic_keys=_app_uses_dynamic_keys(req),
        refresh_expiry=refresh_expiry,
        now=now,
    )


def _validity_ms(req: Request) -> tuple[int, int]:
    """(access token validity, refresh token validity) of the app, in ms."""
    config = req.core.app_config(req.app_id)
    return int(config["access_token_validity"]) * 1000, int(
        float(config["refresh_token_validity"]) * 60_000
    )


# -- create --


@routes.post("/recipe/session", tenant=True)
def create_session(req: Request) -> dict[str, Any]:
    """Create a session for ``userId`` in the path's tenant."""
    user_id = req.str_field("userId")
    jwt_data = req.field("userDataInJWT", dict)
    db_data = req.field("userDataInDatabase", dict)
    enable_anti_csrf = req.field("enableAntiCsrf", bool)
    cdi = _legacy.cdi_version(req)
    use_dynamic = None
    if _legacy.reads_signing_key_choice(cdi):
        use_dynamic = req.field("useDynamicSigningKey", bool, required=False)
    check_user_payload(jwt_data)
    if use_dynamic is None:
        use_dynamic = _app_uses_dynamic_keys(req)
    validity = _validity_ms(req)
    keys = key_set(req.core, req.app_id)
    now = req.core.now_ms()
    handle = str(uuid.uuid4())
    if req.tenant_id != PUBLIC:
        handle += "_" + req.tenant_id
    anti_csrf = str(uuid.uuid4()) if enable_anti_csrf else None
    refresh_token = store.new_refresh_token()
    session = Session(
        handle=handle,
        tenant_id=req.tenant_id,
        user_id=user_id,
        recipe_user_id=user_id,
        refresh_hash2=sha256_hex(sha256_hex(refresh_token)),
        jwt_data=jwt_data,
        db_data=db_data,
        created_ms=now,
        expiry_ms=now + validity[1],
        use_static_key=not use_dynamic,
    )
    with req.core.db.transaction() as conn:
        store.purge_expired(conn, req.app_id, now)
        store.insert(conn, req.app_id, session)
        store.store_refresh_token(
            conn, req.app_id, refresh_token, handle, parent_hash1=None, anti_csrf=anti_csrf
        )
    return _new_tokens(req, keys, cdi, validity, now, session, refresh_token, None, anti_csrf)


def _new_tokens(
    req: Request,
    keys: KeySet,
    cdi: tuple[int, int],
    validity: tuple[int, int],
    now: int,
    session: Session,
    refresh_token: str,
    parent_hash1: str | None,
    anti_csrf: str | None,
) -> dict[str, Any]:
    """The answer of create and refresh: the session, a new access token for it, the
    new refresh token, and the anti-CSRF token when the session has one."""
    access_ms, refresh_ms = validity
    info = AccessToken(
        handle=session.handle,
        user_id=session.user_id,
        recipe_user_id=session.recipe_user_id,
        tenant_id=session.tenant_id,
        refresh_hash1=sha256_hex(refresh_token),
        parent_hash1=parent_hash1,
        user_data=session.jwt_data,
        anti_csrf=anti_csrf,
        expiry_ms=seconds(now + access_ms),
        created_ms=seconds(now),
        version=_legacy.token_version(cdi),
    )
    answer: dict[str, Any] = {
        "status": "OK",
        "session": info.session_json(),
        "accessToken": mint(keys, info, static=session.use_static_key),
        "refreshToken": {"token": refresh_token, "expiry": now + refresh_ms, "createdTime": now},
    }
    if anti_csrf is not None:
        answer["antiCsrfToken"] = anti_csrf
    return _shape(req, answer, cdi, keys, refresh_expiry=now + refresh_ms, now=now)


# -- verify --


@routes.post("/recipe/session/verify")
def verify_session(req: Request) -> dict[str, Any]:
    """Check an access token; promote its refresh token and re-mint it when due.

    A token whose ``parentRefreshTokenHash1`` is set comes from a refresh whose new
    refresh token is not yet current: its first use here makes it current (the old
    one is now stale) and answers a new access token without the parent hash.
    """
    token = req.str_field("accessToken")
    anti_csrf = req.field("antiCsrfToken", str, required=False)
    do_anti_csrf_check = req.field("doAntiCsrfCheck", bool)
    enable_anti_csrf = req.field("enableAntiCsrf", bool)
    check_database = req.field("checkDatabase", bool, required=False) is True
    cdi = _legacy.cdi_version(req)
    if cdi < (2, 21):
        check_database = False  # read from the core's blacklisting setting then, off by default
    keys = key_set(req.core, req.app_id)
    now = req.core.now_ms()
    try:
        info = parse(keys, token, now=now)
        _check_anti_csrf(info, anti_csrf, do_anti_csrf_check and enable_anti_csrf)
        answer = _verify(req, keys, info, check_database, now)
    except TryRefresh as error:
        answer = {"status": "TRY_REFRESH_TOKEN", "message": str(error)}
    except Unauthorised as error:
        return unauthorised(str(error))
    return _shape(req, answer, cdi, keys)


def _check_anti_csrf(info: AccessToken, given: str | None, check: bool) -> None:
    if not check:
        return
    if info.anti_csrf is None:
        raise TryRefresh(STRUCTURE_CHANGED)
    if given is None or not _same(given, info.anti_csrf):
        raise TryRefresh("anti-csrf check failed")


def _verify(
    req: Request, keys: KeySet, info: AccessToken, check_database: bool, now: int
) -> dict[str, Any]:
    if info.parent_hash1 is None and not check_database:
        return {"status": "OK", "session": info.session_json()}  # the JWT alone decides
    access_ms, refresh_ms = _validity_ms(req)
    with req.core.db.transaction() as conn:
        session = store.load(conn, req.app_id, info.handle, now)
        if check_database and session is None:
            raise Unauthorised("Either the session has ended or has been blacklisted")
        payload_changed = (
            session is not None and check_database and session.jwt_data != info.user_data
        )
        if info.parent_hash1 is None and not payload_changed:
            return {"status": "OK", "session": info.session_json()}
        if session is None:
            raise Unauthorised("Session missing in db")
        promote = info.parent_hash1 is not None and _same(
            sha256_hex(info.parent_hash1), session.refresh_hash2
        )
        current = _same(sha256_hex(info.refresh_hash1), session.refresh_hash2)
        if not (promote or current or payload_changed):
            # A token of an older branch: valid until it expires, but nothing to promote.
            return {"status": "OK", "session": info.session_json()}
        if promote:
            hash2 = sha256_hex(info.refresh_hash1)
            store.promote(conn, req.app_id, info.handle, hash2, now + refresh_ms)
    fresh = dataclasses.replace(
        info,
        parent_hash1=None,
        user_data=session.jwt_data,
        expiry_ms=seconds(now + access_ms),
        created_ms=seconds(now),
    )
    return renewed(keys, fresh, static=session.use_static_key)


# -- refresh --


@routes.post("/recipe/session/refresh")
def refresh_session(req: Request) -> dict[str, Any]:
    """Exchange a refresh token for new tokens (see the module docstring for the rotation)."""
    refresh_token = req.str_field("refreshToken")
    anti_csrf = req.field("antiCsrfToken", str, required=False)
    enable_anti_csrf = req.field("enableAntiCsrf", bool)
    cdi = _legacy.cdi_version(req)
    use_dynamic = None  # before CDI 3.0: the session keeps its kind of key
    if cdi >= (3, 0):
        use_dynamic = req.field("useDynamicSigningKey", bool, required=cdi >= (5, 0))
    validity = _validity_ms(req)
    keys = key_set(req.core, req.app_id)
    now = req.core.now_ms()
    hash1 = sha256_hex(refresh_token)
    hash2 = sha256_hex(hash1)
    new_token = store.new_refresh_token()
    new_anti_csrf = str(uuid.uuid4()) if enable_anti_csrf else None
    try:
        with req.core.db.transaction() as conn:
            session = _rotate(
                conn, req.app_id, hash2, anti_csrf, enable_anti_csrf, now, validity[1]
            )
            if isinstance(session, dict):
                return session  # token theft detected
            static = session.use_static_key if use_dynamic is None else not use_dynamic
            if session.use_static_key != static:
                store.set_static_key(conn, req.app_id, session.handle, static)
                session = dataclasses.replace(session, use_static_key=static)
            store.store_refresh_token(
                conn,
                req.app_id,
                new_token,
                session.handle,
                parent_hash1=hash1,
                anti_csrf=new_anti_csrf,
            )
    except Unauthorised as error:
        return unauthorised(str(error))
    return _new_tokens(req, keys, cdi, validity, now, session, new_token, hash1, new_anti_csrf)


def _rotate(
    conn: sqlite3.Connection,
    app_id: str,
    hash2: str,
    anti_csrf: str | None,
    enable_anti_csrf: bool,
    now: int,
    refresh_ms: int,
) -> Session | dict[str, Any]:
    """The session a refresh token may refresh, promoting the token if it is a child.

    Answers the ``TOKEN_THEFT_DETECTED`` reply instead when the token is stale.
    """
    store.purge_expired(conn, app_id, now)
    row = store.refresh_token_row(conn, app_id, hash2)
    if row is None:
        raise Unauthorised("Invalid refresh token")
    expected_csrf = row["anti_csrf_hash"]
    if (
        enable_anti_csrf
        and expected_csrf is not None
        and (anti_csrf is None or not _same(sha256_hex(anti_csrf), expected_csrf))
    ):
        raise Unauthorised("Anti CSRF token missing, or not matching")
    session = store.load(conn, app_id, row["session_handle"], now)
    if session is None:
        raise Unauthorised("Session missing in db or has expired")
    if _same(hash2, session.refresh_hash2):
        return session  # the current token: its child is issued, the session unchanged
    parent = row["parent_hash1"]
    if parent is not None and _same(sha256_hex(parent), session.refresh_hash2):
        store.promote(conn, app_id, session.handle, hash2, now + refresh_ms)
        return dataclasses.replace(session, refresh_hash2=hash2, expiry_ms=now + refresh_ms)
    return {
        "status": "TOKEN_THEFT_DETECTED",
        "session": {
            "handle": session.handle,
            "userId": session.user_id,
            "recipeUserId": session.recipe_user_id,
        },
    }
