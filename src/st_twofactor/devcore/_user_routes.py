"""The core's routes on one user: get it by id, delete it (with all its data).

Finding, listing and counting users is in :mod:`._user_queries`.

Also hosts, for the auth recipes, the ``/recipe/user`` router: that path belongs
to several recipes at once (emailpassword, thirdparty, passwordless) and, like the
real core, the development core picks the handler by the ``rid`` header
(emailpassword when the header is missing or unknown). Recipes register with
:func:`recipe_user_handler` instead of declaring the route themselves.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from ._db import tables_with_columns
from ._http import Handler, Request, Routes, bad_request
from ._users import user_json

routes = Routes()

DEFAULT_RID = "emailpassword"

_recipe_user_handlers: dict[tuple[str, str], Handler] = {}


def recipe_user_handler(method: str, rid: str) -> Callable[[Handler], Handler]:
    """Register ``handler`` for ``method /recipe/user`` when the request's ``rid`` is ``rid``."""

    def decorate(handler: Handler) -> Handler:
        key = (method, rid)
        if key in _recipe_user_handlers:
            raise ValueError(f"/recipe/user {method} for rid {rid} is defined twice")
        _recipe_user_handlers[key] = handler
        return handler

    return decorate


def _dispatch_recipe_user(req: Request) -> Any:
    rid = req.headers.get("rid", DEFAULT_RID)
    handler = _recipe_user_handlers.get((req.method, rid))
    if handler is None:
        handler = _recipe_user_handlers.get((req.method, DEFAULT_RID))
    if handler is None:
        raise bad_request(f"No /recipe/user {req.method} handler for rid '{rid}'")
    return handler(req)


routes.get("/recipe/user", tenant=True)(_dispatch_recipe_user)
routes.put("/recipe/user")(_dispatch_recipe_user)


# -- get one user --


@routes.get("/user/id")
def get_user_by_id(req: Request) -> dict[str, Any]:
    user_id = req.param("userId")
    with req.core.db.transaction() as conn:
        user = user_json(conn, req.app_id, str(user_id))
    if user is None:
        return {"status": "UNKNOWN_USER_ID_ERROR"}
    return {"status": "OK", "user": user}


# -- delete --

# Tables of the login itself; every other table keyed by (app_id, user_id) holds
# data about the user (sessions, metadata, roles, verified e-mails, devices...).
AUTH_TABLES = frozenset({"users", "user_tenants", "user_links", "password_reset_tokens"})


def _user_keyed_tables(conn: sqlite3.Connection) -> list[str]:
    """Every table with ``app_id`` and ``user_id`` columns, whichever module created it."""
    return tables_with_columns(conn, "app_id", "user_id")


def _delete_rows(conn: sqlite3.Connection, app_id: str, user_id: str, *, auth: bool) -> None:
    for table in _user_keyed_tables(conn):
        if (table in AUTH_TABLES) == auth:
            sql = f'DELETE FROM "{table}" WHERE app_id=? AND user_id=?'  # noqa: S608
            conn.execute(sql, (app_id, user_id))


def delete_user_data(
    conn: sqlite3.Connection, app_id: str, user_id: str, *, remove_all_linked: bool = True
) -> None:
    """Delete a user and everything keyed by it, in every module's tables.

    The real core removes a user's sessions, metadata, roles, e-mail verification
    state, TOTP devices and so on with the user; finding the tables by their
    columns keeps this right as modules add tables. With account linking,
    ``remove_all_linked`` deletes the whole primary user; otherwise only this
    login method goes, and the primary user's data stays while other login
    methods still use it.
    """
    user = user_json(conn, app_id, user_id)
    if user is None:
        return
    primary = user["id"]
    members = [method["recipeUserId"] for method in user["loginMethods"]]
    if remove_all_linked:
        for member in {*members, primary}:
            _delete_rows(conn, app_id, member, auth=True)
            _delete_rows(conn, app_id, member, auth=False)
        return
    _delete_rows(conn, app_id, user_id, auth=True)
    if user_id != primary:
        _delete_rows(conn, app_id, user_id, auth=False)
    if len(members) == 1:
        _delete_rows(conn, app_id, primary, auth=True)
        _delete_rows(conn, app_id, primary, auth=False)


@routes.post("/user/remove")
def remove_user(req: Request) -> dict[str, Any]:
    user_id = req.str_field("userId")
    remove_all = req.field("removeAllLinkedAccounts", bool, required=False)
    with req.core.db.transaction() as conn:
        delete_user_data(
            conn, req.app_id, user_id, remove_all_linked=remove_all is None or remove_all
        )
    return {"status": "OK"}
