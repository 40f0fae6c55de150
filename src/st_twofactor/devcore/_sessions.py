"""The session recipe of the development core: create, verify, refresh, revoke.

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
import hashlib
import hmac
import json
import secrets
import sqlite3
import uuid
from dataclasses import dataclass
from typing import Any

from . import _legacy
from ._access_token import (
    PROTECTED_PROPS,
    PUBLIC,
    STRUCTURE_CHANGED,
    AccessToken,
    TryRefresh,
    mint,
    parse,
    seconds,
)
from ._http import CoreError, Request, Routes, bad_request
from ._keys import KeySet, key_set

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    app_id TEXT NOT NULL,
    session_handle TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    recipe_user_id TEXT NOT NULL,
    refresh_hash2 TEXT NOT NULL,
    user_data_jwt TEXT NOT NULL,
    user_data_db TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expiry_ms INTEGER NOT NULL,
    use_static_key INTEGER NOT NULL,
    PRIMARY KEY (app_id, session_handle)
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (app_id, recipe_user_id);
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (app_id, expiry_ms);
CREATE TABLE IF NOT EXISTS session_refresh_tokens (
    app_id TEXT NOT NULL,
    token_hash2 TEXT NOT NULL,
    session_handle TEXT NOT NULL,
    parent_hash1 TEXT,
    anti_csrf_hash TEXT,
    PRIMARY KEY (app_id, token_hash2),
    FOREIGN KEY (app_id, session_handle)
        REFERENCES sessions (app_id, session_handle) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS session_refresh_tokens_session
    ON session_refresh_tokens (app_id, session_handle);
"""

routes = Routes()


class _Unauthorised(Exception):
    """The session is gone (or never was): the client must sign in again."""


# -- model --


@dataclass(frozen=True)
class _Session:
    """One stored session."""

    handle: str
    tenant_id: str
    user_id: str
    recipe_user_id: str
    refresh_hash2: str
    jwt_data: dict[str, Any]
    db_data: dict[str, Any]
    created_ms: int
    expiry_ms: int
    use_static_key: bool


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison that accepts any text (compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def _unauthorised(message: str) -> dict[str, Any]:
    return {"status": "UNAUTHORISED", "message": message}


def _check_user_payload(payload: dict[str, Any]) -> None:
    if any(prop in payload for prop in PROTECTED_PROPS):
        raise bad_request("The user payload contains protected field")


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


# -- storage --


def _row_to_session(row: sqlite3.Row) -> _Session:
    return _Session(
        handle=row["session_handle"],
        tenant_id=row["tenant_id"],
        user_id=row["user_id"],
        recipe_user_id=row["recipe_user_id"],
        refresh_hash2=row["refresh_hash2"],
        jwt_data=json.loads(row["user_data_jwt"]),
        db_data=json.loads(row["user_data_db"]),
        created_ms=row["created_ms"],
        expiry_ms=row["expiry_ms"],
        use_static_key=bool(row["use_static_key"]),
    )


def _get(conn: sqlite3.Connection, app_id: str, handle: str, now: int) -> _Session | None:
    """The session if it exists and has not expired."""
    row = conn.execute(
        "SELECT * FROM sessions WHERE app_id=? AND session_handle=? AND expiry_ms > ?",
        (app_id, handle, now),
    ).fetchone()
    return None if row is None else _row_to_session(row)


def _purge_expired(conn: sqlite3.Connection, app_id: str, now: int) -> None:
    """Expired sessions are gone, with their refresh tokens (ON DELETE CASCADE)."""
    conn.execute("DELETE FROM sessions WHERE app_id=? AND expiry_ms <= ?", (app_id, now))


def _new_refresh_token() -> str:
    return secrets.token_urlsafe(48)


def _store_refresh_token(
    conn: sqlite3.Connection,
    app_id: str,
    token: str,
    handle: str,
    *,
    parent_hash1: str | None,
    anti_csrf: str | None,
) -> None:
    """Remember a refresh token of a session: only its hash and its lineage."""
    conn.execute(
        "INSERT INTO session_refresh_tokens"
        " (app_id, token_hash2, session_handle, parent_hash1, anti_csrf_hash)"
        " VALUES (?, ?, ?, ?, ?)",
        (
            app_id,
            _sha256(_sha256(token)),
            handle,
            parent_hash1,
            None if anti_csrf is None else _sha256(anti_csrf),
        ),
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
    _check_user_payload(jwt_data)
    if use_dynamic is None:
        use_dynamic = _app_uses_dynamic_keys(req)
    static = not use_dynamic
    access_ms, refresh_ms = _validity_ms(req)
    keys = key_set(req.core, req.app_id)
    now = req.core.now_ms()
    handle = str(uuid.uuid4())
    if req.tenant_id != PUBLIC:
        handle += "_" + req.tenant_id
    anti_csrf = str(uuid.uuid4()) if enable_anti_csrf else None
    refresh_token = _new_refresh_token()
    with req.core.db.transaction() as conn:
        _purge_expired(conn, req.app_id, now)
        conn.execute(
            "INSERT INTO sessions (app_id, session_handle, tenant_id, user_id, recipe_user_id,"
            " refresh_hash2, user_data_jwt, user_data_db, created_ms, expiry_ms, use_static_key)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                req.app_id,
                handle,
                req.tenant_id,
                user_id,
                user_id,
                _sha256(_sha256(refresh_token)),
                json.dumps(jwt_data),
                json.dumps(db_data),
                now,
                now + refresh_ms,
                int(static),
            ),
        )
        _store_refresh_token(
            conn, req.app_id, refresh_token, handle, parent_hash1=None, anti_csrf=anti_csrf
        )
    info = AccessToken(
        handle=handle,
        user_id=user_id,
        recipe_user_id=user_id,
        tenant_id=req.tenant_id,
        refresh_hash1=_sha256(refresh_token),
        parent_hash1=None,
        user_data=jwt_data,
        anti_csrf=anti_csrf,
        expiry_ms=seconds(now + access_ms),
        created_ms=seconds(now),
        version=_legacy.token_version(cdi),
    )
    answer = _tokens_answer(keys, info, refresh_token, now, refresh_ms, static)
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
    except _Unauthorised as error:
        return _unauthorised(str(error))
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
        session = _get(conn, req.app_id, info.handle, now)
        if check_database and session is None:
            raise _Unauthorised("Either the session has ended or has been blacklisted")
        payload_changed = (
            session is not None and check_database and session.jwt_data != info.user_data
        )
        if info.parent_hash1 is None and not payload_changed:
            return {"status": "OK", "session": info.session_json()}
        if session is None:
            raise _Unauthorised("Session missing in db")
        promote = info.parent_hash1 is not None and _same(
            _sha256(info.parent_hash1), session.refresh_hash2
        )
        current = _same(_sha256(info.refresh_hash1), session.refresh_hash2)
        if not (promote or current or payload_changed):
            # A token of an older branch: valid until it expires, but nothing to promote.
            return {"status": "OK", "session": info.session_json()}
        if promote:
            _promote(conn, req.app_id, info.handle, _sha256(info.refresh_hash1), now + refresh_ms)
    fresh = dataclasses.replace(
        info,
        parent_hash1=None,
        user_data=session.jwt_data,
        expiry_ms=seconds(now + access_ms),
        created_ms=seconds(now),
    )
    return {
        "status": "OK",
        "session": fresh.session_json(),
        "accessToken": mint(keys, fresh, static=session.use_static_key),
    }


def _promote(conn: sqlite3.Connection, app_id: str, handle: str, hash2: str, expiry: int) -> None:
    """Make a child refresh token the session's current one; this extends the session."""
    conn.execute(
        "UPDATE sessions SET refresh_hash2=?, expiry_ms=? WHERE app_id=? AND session_handle=?",
        (hash2, expiry, app_id, handle),
    )


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
    access_ms, refresh_ms = _validity_ms(req)
    keys = key_set(req.core, req.app_id)
    now = req.core.now_ms()
    hash1 = _sha256(refresh_token)
    hash2 = _sha256(hash1)
    new_token = _new_refresh_token()
    new_anti_csrf = str(uuid.uuid4()) if enable_anti_csrf else None
    try:
        with req.core.db.transaction() as conn:
            session = _rotate(conn, req.app_id, hash2, anti_csrf, enable_anti_csrf, now, refresh_ms)
            if isinstance(session, dict):
                return session  # token theft detected
            static = session.use_static_key if use_dynamic is None else not use_dynamic
            if session.use_static_key != static:
                conn.execute(
                    "UPDATE sessions SET use_static_key=? WHERE app_id=? AND session_handle=?",
                    (int(static), req.app_id, session.handle),
                )
            _store_refresh_token(
                conn,
                req.app_id,
                new_token,
                session.handle,
                parent_hash1=hash1,
                anti_csrf=new_anti_csrf,
            )
    except _Unauthorised as error:
        return _unauthorised(str(error))
    info = AccessToken(
        handle=session.handle,
        user_id=session.user_id,
        recipe_user_id=session.recipe_user_id,
        tenant_id=session.tenant_id,
        refresh_hash1=_sha256(new_token),
        parent_hash1=hash1,
        user_data=session.jwt_data,
        anti_csrf=new_anti_csrf,
        expiry_ms=seconds(now + access_ms),
        created_ms=seconds(now),
        version=_legacy.token_version(cdi),
    )
    answer = _tokens_answer(keys, info, new_token, now, refresh_ms, static)
    return _shape(req, answer, cdi, keys, refresh_expiry=now + refresh_ms, now=now)


def _tokens_answer(
    keys: KeySet,
    info: AccessToken,
    refresh_token: str,
    now: int,
    refresh_ms: int,
    static: bool,
) -> dict[str, Any]:
    """The answer of create and refresh: the session, a new access token signed from
    ``info``, the refresh token, and the anti-CSRF token when the session has one."""
    result: dict[str, Any] = {
        "status": "OK",
        "session": info.session_json(),
        "accessToken": mint(keys, info, static=static),
        "refreshToken": {"token": refresh_token, "expiry": now + refresh_ms, "createdTime": now},
    }
    if info.anti_csrf is not None:
        result["antiCsrfToken"] = info.anti_csrf
    return result


def _rotate(
    conn: sqlite3.Connection,
    app_id: str,
    hash2: str,
    anti_csrf: str | None,
    enable_anti_csrf: bool,
    now: int,
    refresh_ms: int,
) -> _Session | dict[str, Any]:
    """The session a refresh token may refresh, promoting the token if it is a child.

    Answers the ``TOKEN_THEFT_DETECTED`` reply instead when the token is stale.
    """
    _purge_expired(conn, app_id, now)
    row = conn.execute(
        "SELECT session_handle, parent_hash1, anti_csrf_hash FROM session_refresh_tokens"
        " WHERE app_id=? AND token_hash2=?",
        (app_id, hash2),
    ).fetchone()
    if row is None:
        raise _Unauthorised("Invalid refresh token")
    expected_csrf = row["anti_csrf_hash"]
    if (
        enable_anti_csrf
        and expected_csrf is not None
        and (anti_csrf is None or not _same(_sha256(anti_csrf), expected_csrf))
    ):
        raise _Unauthorised("Anti CSRF token missing, or not matching")
    session = _get(conn, app_id, row["session_handle"], now)
    if session is None:
        raise _Unauthorised("Session missing in db or has expired")
    if _same(hash2, session.refresh_hash2):
        return session  # the current token: its child is issued, the session unchanged
    parent = row["parent_hash1"]
    if parent is not None and _same(_sha256(parent), session.refresh_hash2):
        _promote(conn, app_id, session.handle, hash2, now + refresh_ms)
        return dataclasses.replace(session, refresh_hash2=hash2, expiry_ms=now + refresh_ms)
    return {
        "status": "TOKEN_THEFT_DETECTED",
        "session": {
            "handle": session.handle,
            "userId": session.user_id,
            "recipeUserId": session.recipe_user_id,
        },
    }


# -- regenerate, read and update --


@routes.post("/recipe/session/regenerate")
def regenerate(req: Request) -> dict[str, Any]:
    """Store a new JWT payload for the token's session and re-sign the token with it.

    The new token keeps the old one's expiry; an expired token gets no new token
    (the client refreshes anyway). Unlike the real core, which trusts the caller to
    have verified the token, the signature is checked here.
    """
    token = req.str_field("accessToken")
    jwt_data = req.field("userDataInJWT", dict, required=False)
    if jwt_data is not None:
        _check_user_payload(jwt_data)
    keys = key_set(req.core, req.app_id)
    now = req.core.now_ms()
    try:
        info = parse(keys, token, now=None)
    except TryRefresh as error:
        return _unauthorised(str(error))
    with req.core.db.transaction() as conn:
        session = _get(conn, req.app_id, info.handle, now)
        if session is None:
            return _unauthorised("Session does not exist.")
        new_data = session.jwt_data if jwt_data is None else jwt_data
        _update(conn, req.app_id, info.handle, "user_data_jwt", new_data)
    if info.expiry_ms < now:
        return {"status": "OK", "session": info.session_json(new_data)}
    fresh = dataclasses.replace(info, user_data=new_data, created_ms=seconds(now))
    return {
        "status": "OK",
        "session": fresh.session_json(),
        "accessToken": mint(keys, fresh, static=session.use_static_key),
    }


def _update(
    conn: sqlite3.Connection, app_id: str, handle: str, column: str, data: dict[str, Any]
) -> None:
    if column not in ("user_data_jwt", "user_data_db"):
        raise ValueError(column)
    conn.execute(
        f"UPDATE sessions SET {column}=? WHERE app_id=? AND session_handle=?",  # noqa: S608
        (json.dumps(data), app_id, handle),
    )


@routes.get("/recipe/session")
def get_session(req: Request) -> dict[str, Any]:
    handle = req.param("sessionHandle")
    assert handle is not None
    with req.core.db.transaction() as conn:
        session = _get(conn, req.app_id, handle, req.core.now_ms())
    if session is None:
        return _unauthorised("Session does not exist.")
    return {
        "status": "OK",
        "sessionHandle": session.handle,
        "userId": session.user_id,
        "recipeUserId": session.recipe_user_id,
        "userDataInDatabase": session.db_data,
        "userDataInJWT": session.jwt_data,
        "expiry": session.expiry_ms,
        "timeCreated": session.created_ms,
        "tenantId": session.tenant_id,
    }


def _update_data(req: Request, field: str, column: str) -> dict[str, Any]:
    handle = req.str_field("sessionHandle")
    data = req.field(field, dict)
    if column == "user_data_jwt":
        _check_user_payload(data)
    with req.core.db.transaction() as conn:
        if _get(conn, req.app_id, handle, req.core.now_ms()) is None:
            return _unauthorised("Session does not exist.")
        _update(conn, req.app_id, handle, column, data)
    return {"status": "OK"}


def _read_data(req: Request, field: str) -> dict[str, Any]:
    handle = req.param("sessionHandle")
    assert handle is not None
    with req.core.db.transaction() as conn:
        session = _get(conn, req.app_id, handle, req.core.now_ms())
    if session is None:
        return _unauthorised("Session does not exist.")
    data = session.db_data if field == "userDataInDatabase" else session.jwt_data
    return {"status": "OK", field: data}


@routes.put("/recipe/session/data")
def put_session_data(req: Request) -> dict[str, Any]:
    return _update_data(req, "userDataInDatabase", "user_data_db")


@routes.get("/recipe/session/data")
def get_session_data(req: Request) -> dict[str, Any]:
    return _read_data(req, "userDataInDatabase")


@routes.put("/recipe/jwt/data", tenant=True)
def put_jwt_data(req: Request) -> dict[str, Any]:
    return _update_data(req, "userDataInJWT", "user_data_jwt")


@routes.get("/recipe/jwt/data", tenant=True)
def get_jwt_data(req: Request) -> dict[str, Any]:
    return _read_data(req, "userDataInJWT")


# -- per user: list and revoke --


def _bool_param(req: Request, name: str) -> bool:
    """A "true"/"false" query parameter that defaults to true, read as the real core does."""
    value = req.param(name, required=False)
    return value is None or value.lower() == "true"


def _require_public_tenant(req: Request) -> None:
    if req.tenant_id != PUBLIC:
        raise CoreError(403, "Only public tenantId can call this app specific API")


def _user_handles(
    conn: sqlite3.Connection, req: Request, user_id: str, all_tenants: bool, now: int
) -> list[str]:
    """The user's live sessions, in every tenant or only the path's tenant."""
    _purge_expired(conn, req.app_id, now)
    query = "SELECT session_handle FROM sessions WHERE app_id=? AND recipe_user_id=?"
    args: tuple[str, ...] = (req.app_id, user_id)
    if not all_tenants:
        query += " AND tenant_id=?"
        args += (req.tenant_id,)
    rows = conn.execute(query + " ORDER BY created_ms, session_handle", args).fetchall()
    return [r["session_handle"] for r in rows]


@routes.get("/recipe/session/user", tenant=True)
def user_sessions(req: Request) -> dict[str, Any]:
    user_id = req.param("userId")
    assert user_id is not None
    all_tenants = _bool_param(req, "fetchAcrossAllTenants")
    _bool_param(req, "fetchSessionsForAllLinkedAccounts")  # no account linking: same user
    if all_tenants:
        _require_public_tenant(req)
    with req.core.db.transaction() as conn:
        handles = _user_handles(conn, req, user_id, all_tenants, req.core.now_ms())
    return {"status": "OK", "sessionHandles": handles}


@routes.post("/recipe/session/remove", tenant=True)
def remove_sessions(req: Request) -> dict[str, Any]:
    """Revoke sessions by handle, or all of a user's sessions."""
    user_id = req.field("userId", str, required=False)
    handles = req.field("sessionHandles", list, required=False)
    if handles is not None and not all(isinstance(h, str) for h in handles):
        raise bad_request("Field name 'sessionHandles' is invalid in JSON input")
    if (user_id is None) == (handles is None):
        raise bad_request("Invalid JSON input - use one of userId or sessionHandles array")
    all_tenants = req.field("revokeAcrossAllTenants", bool, required=False)
    linked = req.field("revokeSessionsForLinkedAccounts", bool, required=False)
    for name, value in (
        ("revokeAcrossAllTenants", all_tenants),
        ("revokeSessionsForLinkedAccounts", linked),
    ):
        if user_id is None and value is not None:
            raise bad_request(f"Invalid JSON input - {name} can only be set if userId is set")
    if user_id is not None and all_tenants is not False:
        _require_public_tenant(req)
    now = req.core.now_ms()
    with req.core.db.transaction() as conn:
        if user_id is not None:
            handles = _user_handles(conn, req, user_id, all_tenants is not False, now)
        else:
            _purge_expired(conn, req.app_id, now)
        assert handles is not None
        revoked = [h for h in dict.fromkeys(handles) if _delete(conn, req.app_id, h)]
    return {"status": "OK", "sessionHandlesRevoked": revoked}


def _delete(conn: sqlite3.Connection, app_id: str, handle: str) -> bool:
    cursor = conn.execute(
        "DELETE FROM sessions WHERE app_id=? AND session_handle=?", (app_id, handle)
    )
    return cursor.rowcount == 1
