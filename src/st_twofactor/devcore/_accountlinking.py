"""Account linking (a paid feature): primary users that own several login methods.

A recipe user becomes a *primary user*, then other recipe users are linked to it;
the user JSON of any of them is the primary user with all their login methods
(see ``user_links`` in ``_users.py``). The account info of a primary user
(e-mails, phone numbers, third-party logins of all its login methods) must not
belong to another primary user in any of its tenants, as in the real core.

Creating a primary user and linking need a license (402 otherwise); the checks
and unlinking do not, as in the real core.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from . import _users
from ._http import Request, Routes, bad_request
from ._paid import require_account_linking

routes = Routes()

_INFO_TAKEN = "ACCOUNT_INFO_ALREADY_ASSOCIATED_WITH_ANOTHER_PRIMARY_USER_ID_ERROR"
_ALREADY_LINKED = "This user ID is already linked to another user ID"
_RECIPE_USER_LINKED = "The input recipe user ID is already linked to another user ID"

_OTHER_PRIMARY_WITH = (
    "SELECT l.primary_user_id FROM users u"
    " JOIN user_links l ON l.app_id=u.app_id AND l.user_id=u.user_id"
    " JOIN user_tenants t ON t.app_id=u.app_id AND t.user_id=u.user_id"
    " WHERE u.app_id=? AND t.tenant_id=? AND l.primary_user_id IS NOT ?"
)
_CONFLICTS = (
    (_OTHER_PRIMARY_WITH + " AND u.email=?", "email", "This user's email"),
    (_OTHER_PRIMARY_WITH + " AND u.phone_number=?", "phone_number", "This user's phone number"),
    (
        _OTHER_PRIMARY_WITH + " AND u.third_party_id=? AND u.third_party_user_id=?",
        "third_party",
        "This user's third party login",
    ),
)


def _unknown_user() -> Exception:
    return bad_request("Unknown user ID provided")


def _recipe_row(conn: sqlite3.Connection, req: Request, user_id: str) -> sqlite3.Row:
    row = _users.get_row(conn, req.app_id, user_id)
    if row is None:
        raise _unknown_user()
    return row


def _conflict(
    conn: sqlite3.Connection, app_id: str, members: list[sqlite3.Row], primary: str | None
) -> dict[str, Any] | None:
    """Another primary user (not ``primary``) sharing account info with ``members``, if any.

    The members are the login methods the primary user will have; their account
    info is checked in every tenant any of them belongs to.
    """
    tenants = sorted({t for m in members for t in _users.tenant_ids(conn, app_id, m["user_id"])})
    for tenant in tenants:
        for member in members:
            for sql, kind, what in _CONFLICTS:
                if kind == "third_party":
                    values: tuple[Any, ...] = (
                        member["third_party_id"],
                        member["third_party_user_id"],
                    )
                else:
                    values = (member[kind],)
                if any(v is None for v in values):
                    continue
                row = conn.execute(sql, (app_id, tenant, primary, *values)).fetchone()
                if row is not None:
                    return {
                        "status": _INFO_TAKEN,
                        "primaryUserId": row["primary_user_id"],
                        "description": f"{what} is already associated with another user ID",
                    }
    return None


# -- primary users --


def _can_become_primary(conn: sqlite3.Connection, req: Request, user_id: str) -> dict[str, Any]:
    row = _recipe_row(conn, req, user_id)
    primary = _users.primary_user_id(conn, req.app_id, user_id)
    if primary == user_id:
        return {"status": "OK", "wasAlreadyAPrimaryUser": True}
    if primary is not None:
        return {
            "status": "RECIPE_USER_ID_ALREADY_LINKED_WITH_PRIMARY_USER_ID_ERROR",
            "primaryUserId": primary,
            "description": _ALREADY_LINKED,
        }
    conflict = _conflict(conn, req.app_id, [row], None)
    return conflict or {"status": "OK", "wasAlreadyAPrimaryUser": False}


@routes.get("/recipe/accountlinking/user/primary/check")
def can_create_primary_user(req: Request) -> dict[str, Any]:
    user_id = str(req.param("recipeUserId"))
    with req.core.db.transaction() as conn:
        return _can_become_primary(conn, req, user_id)


@routes.post("/recipe/accountlinking/user/primary")
def create_primary_user(req: Request) -> dict[str, Any]:
    user_id = str(req.str_field("recipeUserId"))
    require_account_linking(req)
    with req.core.db.transaction() as conn:
        result = _can_become_primary(conn, req, user_id)
        if result["status"] != "OK":
            return result
        conn.execute(
            "INSERT OR IGNORE INTO user_links (app_id, user_id, primary_user_id) VALUES (?,?,?)",
            (req.app_id, user_id, user_id),
        )
        result["user"] = _users.user_json(conn, req.app_id, user_id)
    return result


# -- linking --


def _can_link(
    conn: sqlite3.Connection, req: Request, recipe_user_id: str, primary_user_id: str
) -> tuple[dict[str, Any], str | None]:
    """The check's answer, and the primary user id to link to when the answer is OK."""
    recipe_row = _recipe_row(conn, req, recipe_user_id)
    if _users.user_json(conn, req.app_id, primary_user_id) is None:
        raise _unknown_user()
    primary = _users.primary_user_id(conn, req.app_id, primary_user_id)
    if primary is None and _users.get_row(conn, req.app_id, primary_user_id) is None:
        primary = primary_user_id  # a primary user whose own login method was unlinked
    current = _users.primary_user_id(conn, req.app_id, recipe_user_id)
    if primary is not None and current == primary:
        return {"status": "OK", "accountsAlreadyLinked": True}, None
    if current is not None:
        return {
            "status": "RECIPE_USER_ID_ALREADY_LINKED_WITH_ANOTHER_PRIMARY_USER_ID_ERROR",
            "primaryUserId": current,
            "description": _RECIPE_USER_LINKED,
        }, None
    if primary is None:
        return {"status": "INPUT_USER_IS_NOT_A_PRIMARY_USER"}, None
    members = [*_users.linked_rows(conn, req.app_id, primary), recipe_row]
    conflict = _conflict(conn, req.app_id, members, primary)
    if conflict is not None:
        return conflict, None
    return {"status": "OK", "accountsAlreadyLinked": False}, primary


@routes.get("/recipe/accountlinking/user/link/check")
def can_link_accounts(req: Request) -> dict[str, Any]:
    recipe_user_id = str(req.param("recipeUserId"))
    primary_user_id = str(req.param("primaryUserId"))
    with req.core.db.transaction() as conn:
        return _can_link(conn, req, recipe_user_id, primary_user_id)[0]


@routes.post("/recipe/accountlinking/user/link")
def link_accounts(req: Request) -> dict[str, Any]:
    recipe_user_id = str(req.str_field("recipeUserId"))
    primary_user_id = str(req.str_field("primaryUserId"))
    require_account_linking(req)
    with req.core.db.transaction() as conn:
        result, primary = _can_link(conn, req, recipe_user_id, primary_user_id)
        if result["status"] == "RECIPE_USER_ID_ALREADY_LINKED_WITH_ANOTHER_PRIMARY_USER_ID_ERROR":
            result["user"] = _users.user_json(conn, req.app_id, recipe_user_id)
        if result["status"] != "OK":
            return result
        if primary is not None:
            conn.execute(
                "INSERT INTO user_links (app_id, user_id, primary_user_id) VALUES (?,?,?)",
                (req.app_id, recipe_user_id, primary),
            )
        result["user"] = _users.user_json(conn, req.app_id, recipe_user_id)
    return result


@routes.post("/recipe/accountlinking/user/unlink")
def unlink_account(req: Request) -> dict[str, Any]:
    """Unlink a recipe user; a primary user's own login method is deleted if others remain."""
    user_id = str(req.str_field("recipeUserId"))
    with req.core.db.transaction() as conn:
        _recipe_row(conn, req, user_id)
        primary = _users.primary_user_id(conn, req.app_id, user_id)
        if primary is None:
            return {"status": "OK", "wasRecipeUserDeleted": False, "wasLinked": False}
        others = [
            r for r in _users.linked_rows(conn, req.app_id, primary) if r["user_id"] != user_id
        ]
        deleted = primary == user_id and bool(others)
        conn.execute("DELETE FROM user_links WHERE app_id=? AND user_id=?", (req.app_id, user_id))
        if deleted:
            # Two users with one id would be broken; the primary id lives on in its links.
            args = (req.app_id, user_id)
            conn.execute("DELETE FROM users WHERE app_id=? AND user_id=?", args)
            conn.execute("DELETE FROM user_tenants WHERE app_id=? AND user_id=?", args)
            conn.execute("DELETE FROM verified_emails WHERE app_id=? AND user_id=?", args)
    return {"status": "OK", "wasRecipeUserDeleted": deleted, "wasLinked": True}
