"""A user's sessions: list their handles, and revoke sessions by handle or by user.

Apart from the token lifecycle (:mod:`._sessions`) because these routes act on
sessions as a whole, by user and tenant, and follow the real core's app-level rules:
reaching across every tenant is for the public tenant's path only.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from . import _session_store as store
from ._access_token import PUBLIC
from ._http import APP_LEVEL_ONLY, CoreError, Request, Routes, bad_request, exactly_one

routes = Routes()


def _bool_param(req: Request, name: str) -> bool:
    """A "true"/"false" query parameter that defaults to true, read as the real core does."""
    value = req.param(name, required=False)
    return value is None or value.lower() == "true"


def _require_public_tenant(req: Request) -> None:
    if req.tenant_id != PUBLIC:
        raise CoreError(403, APP_LEVEL_ONLY)


def _user_handles(
    conn: sqlite3.Connection, req: Request, user_id: str, all_tenants: bool, now: int
) -> list[str]:
    """The user's live sessions, in every tenant or only the path's tenant."""
    store.purge_expired(conn, req.app_id, now)
    return store.user_handles(conn, req.app_id, user_id, None if all_tenants else req.tenant_id)


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
    exactly_one("Invalid JSON input - use one of userId or sessionHandles array", user_id, handles)
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
            store.purge_expired(conn, req.app_id, now)
        assert handles is not None
        revoked = [h for h in dict.fromkeys(handles) if store.delete(conn, req.app_id, h)]
    return {"status": "OK", "sessionHandlesRevoked": revoked}
