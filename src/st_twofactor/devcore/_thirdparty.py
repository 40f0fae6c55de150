"""The thirdparty recipe: sign in or up with a provider's user id.

A provider user (``thirdPartyId``, ``thirdPartyUserId``) is one user per tenant.
Signing in again updates the stored e-mail when the provider reports a new one;
``isVerified`` marks the e-mail verified, as the real core does.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ._http import Request, Routes, bad_request
from ._normalise import normalise_email
from ._user_routes import recipe_user_handler
from ._users import (
    contact_of_another_primary_user,
    get_row,
    insert_user,
    mark_email_verified,
    user_json,
)

SCHEMA = """
CREATE INDEX IF NOT EXISTS users_third_party
    ON users (app_id, third_party_id, third_party_user_id);
"""

routes = Routes()

RECIPE_ID = "thirdparty"


def _provider_user(
    conn: sqlite3.Connection, app_id: str, tenant_id: str, tp_id: str, tp_user_id: str
) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT u.* FROM users u JOIN user_tenants t ON t.app_id=u.app_id AND t.user_id=u.user_id"
        " WHERE u.app_id=? AND t.tenant_id=? AND u.recipe_id=?"
        " AND u.third_party_id=? AND u.third_party_user_id=?",
        (app_id, tenant_id, RECIPE_ID, tp_id, tp_user_id),
    ).fetchone()
    return row


def _email_input(req: Request) -> tuple[str, bool]:
    value = req.field("email", dict)
    email, verified = value.get("id"), value.get("isVerified")
    if not isinstance(email, str):
        raise bad_request("Field name 'id' is invalid in JSON input")
    if not isinstance(verified, bool):
        raise bad_request("Field name 'isVerified' is invalid in JSON input")
    return normalise_email(email), verified


@routes.post("/recipe/signinup", tenant=True)
def sign_in_up(req: Request) -> dict[str, Any]:
    tp_id = req.str_field("thirdPartyId")
    tp_user_id = req.str_field("thirdPartyUserId")
    email, verified = _email_input(req)
    with req.core.db.transaction() as conn:
        row = _provider_user(conn, req.app_id, req.tenant_id, tp_id, tp_user_id)
        created = row is None
        if row is None:
            user_id = insert_user(
                conn,
                app_id=req.app_id,
                tenant_id=req.tenant_id,
                recipe_id=RECIPE_ID,
                time_joined=req.core.now_ms(),
                email=email,
                third_party_id=tp_id,
                third_party_user_id=tp_user_id,
            )
        else:
            user_id = row["user_id"]
            if row["email"] != email and contact_of_another_primary_user(
                conn, req.app_id, user_id, email=email
            ):
                return {
                    "status": "EMAIL_CHANGE_NOT_ALLOWED_ERROR",
                    "reason": "Email already associated with another primary user.",
                }
            if row["email"] != email:
                conn.execute(
                    "UPDATE users SET email=? WHERE app_id=? AND user_id=?",
                    (email, req.app_id, user_id),
                )
        if verified:
            mark_email_verified(conn, req.app_id, user_id, email)
        user = user_json(conn, req.app_id, user_id)
    return {"status": "OK", "createdNewUser": created, "user": user, "recipeUserId": user_id}


@recipe_user_handler("GET", RECIPE_ID)
def get_user(req: Request) -> dict[str, Any]:
    """The deprecated getter: by ``userId``, or by ``thirdPartyId`` and ``thirdPartyUserId``."""
    user_id = req.param("userId", required=False)
    tp_id = req.param("thirdPartyId", required=False)
    tp_user_id = req.param("thirdPartyUserId", required=False)
    by_provider = tp_id is not None and tp_user_id is not None
    if (user_id is None) == (not by_provider):
        raise bad_request("Please provide one of userId or (thirdPartyId & thirdPartyUserId)")
    with req.core.db.transaction() as conn:
        if user_id is not None:
            row = get_row(conn, req.app_id, user_id)
            if row is None or row["recipe_id"] != RECIPE_ID:
                return {"status": "UNKNOWN_USER_ID_ERROR"}
        else:
            row = _provider_user(conn, req.app_id, req.tenant_id, str(tp_id), str(tp_user_id))
            if row is None:
                return {"status": "UNKNOWN_THIRD_PARTY_USER_ERROR"}
        return {"status": "OK", "user": user_json(conn, req.app_id, row["user_id"])}
