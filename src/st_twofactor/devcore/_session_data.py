"""A session's data: read it, update it, and re-sign an access token with a new payload.

The backend changes a live session's JWT payload or its database data through these
routes (``regenerate``, ``/recipe/session/data``, ``/recipe/jwt/data``); they touch no
token lineage, so they are kept apart from the token lifecycle in :mod:`._sessions`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from . import _session_store as store
from ._access_token import TryRefresh, check_user_payload, parse, renewed, seconds
from ._http import Request, Routes
from ._keys import key_set
from ._session_store import DB_DATA, JWT_DATA, Session, unauthorised

routes = Routes()

_GONE = "Session does not exist."


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
        check_user_payload(jwt_data)
    keys = key_set(req.core, req.app_id)
    now = req.core.now_ms()
    try:
        info = parse(keys, token, now=None)
    except TryRefresh as error:
        return unauthorised(str(error))
    with req.core.db.transaction() as conn:
        session = store.load(conn, req.app_id, info.handle, now)
        if session is None:
            return unauthorised(_GONE)
        new_data = session.jwt_data if jwt_data is None else jwt_data
        store.update_data(conn, req.app_id, info.handle, JWT_DATA, new_data)
    if info.expiry_ms < now:
        return {"status": "OK", "session": info.session_json(new_data)}
    fresh = dataclasses.replace(info, user_data=new_data, created_ms=seconds(now))
    return renewed(keys, fresh, static=session.use_static_key)


def _queried_session(req: Request) -> Session | None:
    """The live session that the query's ``sessionHandle`` names."""
    handle = req.param("sessionHandle")
    assert handle is not None
    with req.core.db.transaction() as conn:
        return store.load(conn, req.app_id, handle, req.core.now_ms())


@routes.get("/recipe/session")
def get_session(req: Request) -> dict[str, Any]:
    session = _queried_session(req)
    if session is None:
        return unauthorised(_GONE)
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
    if column == JWT_DATA:
        check_user_payload(data)
    with req.core.db.transaction() as conn:
        if store.load(conn, req.app_id, handle, req.core.now_ms()) is None:
            return unauthorised(_GONE)
        store.update_data(conn, req.app_id, handle, column, data)
    return {"status": "OK"}


def _read_data(req: Request, field: str) -> dict[str, Any]:
    session = _queried_session(req)
    if session is None:
        return unauthorised(_GONE)
    data = session.db_data if field == "userDataInDatabase" else session.jwt_data
    return {"status": "OK", field: data}


@routes.put("/recipe/session/data")
def put_session_data(req: Request) -> dict[str, Any]:
    return _update_data(req, "userDataInDatabase", DB_DATA)


@routes.get("/recipe/session/data")
def get_session_data(req: Request) -> dict[str, Any]:
    return _read_data(req, "userDataInDatabase")


@routes.put("/recipe/jwt/data", tenant=True)
def put_jwt_data(req: Request) -> dict[str, Any]:
    return _update_data(req, "userDataInJWT", JWT_DATA)


@routes.get("/recipe/jwt/data", tenant=True)
def get_jwt_data(req: Request) -> dict[str, Any]:
    return _read_data(req, "userDataInJWT")
