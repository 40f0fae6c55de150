"""Finding, listing, counting and searching users, as the real core answers them.

The real core lists, counts and pages "primary or recipe users": a linked recipe user
counts as its primary user. These routes share that reading of the users (the SQL
below) and the real core's strict query parameters, so they live together, apart
from the routes that act on one user (:mod:`._user_routes`).
"""

from __future__ import annotations

import base64
import binascii
import re
import sqlite3
from typing import Any

from ._http import Request, Routes, bad_request
from ._normalise import normalise_email, normalise_phone
from ._users import user_json

routes = Routes()

RECIPE_IDS = ("emailpassword", "thirdparty", "passwordless", "webauthn")
MAX_PAGE = 500  # the real core's USER_PAGINATION_LIMIT
MAX_SEARCH_RESULTS = 1000
_INT = re.compile(r"[+-]?[0-9]{1,10}")


# -- query-parameter readers, answering 400 as the real core does --


def _bool_param(req: Request, name: str, *, required: bool) -> bool | None:
    value = req.param(name, required=required)
    if value is None:
        return None
    if value not in ("true", "false"):
        raise bad_request(f"'{name}' should be either 'true' or 'false'")
    return value == "true"


def _int_param(req: Request, name: str) -> int | None:
    value = req.param(name, required=False)
    if value is None:
        return None
    if not _INT.fullmatch(value):  # int() would also take "1_0", " 7" and non-ASCII digits
        raise bad_request(f"Field name '{name}' must be an int in the GET request")
    return int(value)


def _recipe_ids_param(req: Request) -> list[str]:
    value = req.param("includeRecipeIds", required=False)
    if value is None:
        return []
    ids = [part.strip() for part in value.split(",") if part.strip()]
    for recipe_id in ids:
        if recipe_id not in RECIPE_IDS:
            raise bad_request(f"Unknown recipe ID: {recipe_id}")
    return ids


def _recipe_filter(recipe_ids: list[str]) -> tuple[str, list[Any]]:
    if not recipe_ids:
        return "", []
    return f" AND m.recipe_id IN ({','.join('?' * len(recipe_ids))})", list(recipe_ids)


# The real core lists, counts and pages "primary or recipe users": a linked recipe
# user counts as its primary user, joined when the first of them joined. ``m`` is
# every recipe user of the app with ``pid``, the id it is answered as; ``g`` gives
# each such user its time joined. Arguments: the app id, then (with _IN_TENANT)
# the app id and tenant id.
_MEMBERS = (
    "WITH m AS (SELECT u.*, COALESCE(l.primary_user_id, u.user_id) AS pid FROM users u"
    " LEFT JOIN user_links l ON l.app_id=u.app_id AND l.user_id=u.user_id WHERE u.app_id=?),"
    " g AS (SELECT pid, MIN(time_joined) AS tj FROM m GROUP BY pid) "
)
_IN_TENANT = " JOIN user_tenants t ON t.app_id=? AND t.user_id=m.user_id AND t.tenant_id=?"
# (S608: these queries are composed of constants; values always go in as ? arguments.)
_TENANT_USERS = _MEMBERS + "SELECT DISTINCT g.pid, g.tj FROM m JOIN g ON g.pid=m.pid" + _IN_TENANT  # noqa: S608


def _users_of(
    conn: sqlite3.Connection, app_id: str, rows: list[sqlite3.Row]
) -> list[dict[str, Any]]:
    users = (user_json(conn, app_id, row["pid"]) for row in rows)
    return [user for user in users if user is not None]


# -- find by account info --


def _has_all(
    user: dict[str, Any], email: str | None, phone: str | None, third_party: dict[str, str] | None
) -> bool:
    """Whether the user's login methods, together, carry every given piece of account info."""
    methods = user["loginMethods"]
    return (
        (email is None or any(m.get("email") == email for m in methods))
        and (phone is None or any(m.get("phoneNumber") == phone for m in methods))
        and (third_party is None or any(m.get("thirdParty") == third_party for m in methods))
    )


@routes.get("/users/by-accountinfo", tenant=True)
def users_by_account_info(req: Request) -> dict[str, Any]:
    email = req.param("email", required=False)
    phone = req.param("phoneNumber", required=False)
    tp_id = req.param("thirdPartyId", required=False)
    tp_user_id = req.param("thirdPartyUserId", required=False)
    union = _bool_param(req, "doUnionOfAccountInfo", required=True)
    if (tp_id is None) != (tp_user_id is None):
        raise bad_request(
            "If 'thirdPartyId' is provided, 'thirdPartyUserId' must also be provided,"
            " and vice versa"
        )
    email = normalise_email(email) if email is not None else None
    if phone is not None:
        phone = normalise_phone(phone)
    third_party = None
    if tp_id is not None and tp_user_id is not None:
        third_party = {"id": tp_id, "userId": tp_user_id}
    criteria: list[tuple[str, list[Any]]] = []
    if email is not None:
        criteria.append(("m.email=?", [email]))
    if phone is not None:
        criteria.append(("m.phone_number=?", [phone]))
    if third_party is not None:
        criteria.append(("(m.third_party_id=? AND m.third_party_user_id=?)", [tp_id, tp_user_id]))
    if not criteria:
        return {"status": "OK", "users": []}
    where = " OR ".join(c for c, _ in criteria)
    args: list[Any] = [req.app_id, req.app_id, req.tenant_id]
    for _, values in criteria:
        args.extend(values)
    with req.core.db.transaction() as conn:
        rows = conn.execute(f"{_TENANT_USERS} WHERE ({where})", args).fetchall()
        users = _users_of(conn, req.app_id, rows)
    if not union:
        users = [user for user in users if _has_all(user, email, phone, third_party)]
    users.sort(key=lambda user: user["timeJoined"])
    return {"status": "OK", "users": users}


# -- list and count --


def _decode_pagination_token(token: str) -> tuple[str, int]:
    try:
        decoded = base64.b64decode(token, validate=True).decode()
        user_id, time_joined = decoded.split(";")
        return user_id, int(time_joined)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad_request("invalid pagination token") from None


def _encode_pagination_token(user_id: str, time_joined: int) -> str:
    return base64.b64encode(f"{user_id};{time_joined}".encode()).decode()


def _search_tags(req: Request, name: str) -> list[str]:
    value = req.param(name, required=False)
    if value is None:
        return []
    return [tag.strip().lower() for tag in value.split(";") if tag.strip()]


def _like_prefix(tag: str) -> str:
    escaped = tag.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def _search_condition(req: Request) -> tuple[str, list[Any]] | None:
    """The dashboard search (``email``, ``phone``, ``provider`` tags), or None when absent.

    A login method must match every kind of tag given (any of its values, by
    prefix; an e-mail tag also matches the domain after ``@``), which is what the
    real core's per-recipe search amounts to.
    """
    emails = _search_tags(req, "email")
    phones = _search_tags(req, "phone")
    providers = _search_tags(req, "provider")
    if not (emails or phones or providers):
        return None
    parts: list[str] = []
    args: list[Any] = []
    if emails:
        ors = []
        for tag in emails:
            ors.append("m.email LIKE ? ESCAPE '\\' OR m.email LIKE ? ESCAPE '\\'")
            args.extend([_like_prefix(tag), "%@" + _like_prefix(tag)])
        parts.append("(" + " OR ".join(ors) + ")")
    for column, tags in (("m.phone_number", phones), ("m.third_party_id", providers)):
        if tags:
            parts.append("(" + " OR ".join(f"{column} LIKE ? ESCAPE '\\'" for _ in tags) + ")")
            args.extend(_like_prefix(tag) for tag in tags)
    return " AND " + " AND ".join(parts), args


@routes.get("/users", tenant=True)
def list_users(req: Request) -> dict[str, Any]:
    recipe_ids = _recipe_ids_param(req)
    token = req.param("paginationToken", required=False)
    limit = _int_param(req, "limit")
    order = req.param("timeJoinedOrder", required=False) or "ASC"
    if order not in ("ASC", "DESC"):
        raise bad_request("timeJoinedOrder can be either ASC OR DESC")
    search = _search_condition(req)
    if limit is None:
        limit = 100
    elif limit > MAX_PAGE and search is None:
        raise bad_request(f"max limit allowed is {MAX_PAGE}")
    elif limit < 1:
        raise bad_request("limit must a positive integer with min value 1")
    with req.core.db.transaction() as conn:
        if search is not None:
            return {"status": "OK", "users": _search_users(conn, req, order, search)}
        return _page_of_users(conn, req, recipe_ids, order, limit, token)


def _search_users(
    conn: sqlite3.Connection, req: Request, order: str, search: tuple[str, list[Any]]
) -> list[dict[str, Any]]:
    """All matching users (up to a cap), unpaged, as the real core answers a search."""
    condition, args = search
    rows = conn.execute(
        f"{_TENANT_USERS} WHERE 1=1{condition} ORDER BY g.tj {order}, g.pid DESC LIMIT ?",
        [req.app_id, req.app_id, req.tenant_id, *args, MAX_SEARCH_RESULTS],
    ).fetchall()
    return _users_of(conn, req.app_id, rows)


def _page_of_users(
    conn: sqlite3.Connection,
    req: Request,
    recipe_ids: list[str],
    order: str,
    limit: int,
    token: str | None,
) -> dict[str, Any]:
    """One page, ordered by time joined then user id (descending), as the real core pages."""
    recipe_sql, recipe_args = _recipe_filter(recipe_ids)
    sql = f"{_TENANT_USERS} WHERE 1=1{recipe_sql}"
    args: list[Any] = [req.app_id, req.app_id, req.tenant_id, *recipe_args]
    if token is not None:
        user_id, time_joined = _decode_pagination_token(token)
        beyond = ">" if order == "ASC" else "<"
        sql += f" AND (g.tj {beyond} ? OR (g.tj = ? AND g.pid <= ?))"
        args += [time_joined, time_joined, user_id]
    sql += f" ORDER BY g.tj {order}, g.pid DESC LIMIT ?"
    rows = conn.execute(sql, [*args, limit + 1]).fetchall()
    result: dict[str, Any] = {"status": "OK", "users": _users_of(conn, req.app_id, rows[:limit])}
    if len(rows) > limit:
        result["nextPaginationToken"] = _encode_pagination_token(
            rows[limit]["pid"], rows[limit]["tj"]
        )
    return result


@routes.get("/user/search/tags")
def search_tags(req: Request) -> dict[str, Any]:
    """The tags ``GET /users`` can search by (used by the dashboard)."""
    return {"status": "OK", "tags": ["email", "phone", "provider"]}


_COUNT_APP = _MEMBERS + "SELECT COUNT(DISTINCT m.pid) AS n FROM m WHERE 1=1"  # noqa: S608
_COUNT_TENANT = (
    _MEMBERS + "SELECT COUNT(DISTINCT m.pid) AS n FROM m" + _IN_TENANT + " WHERE 1=1"  # noqa: S608
)


@routes.get("/users/count", tenant=True)
def count_users(req: Request) -> dict[str, Any]:
    recipe_ids = _recipe_ids_param(req)
    all_tenants = (req.param("includeAllTenants", required=False) or "").lower() == "true"
    recipe_sql, recipe_args = _recipe_filter(recipe_ids)
    if all_tenants:
        sql, args = _COUNT_APP + recipe_sql, [req.app_id, *recipe_args]
    else:
        sql = _COUNT_TENANT + recipe_sql
        args = [req.app_id, req.app_id, req.tenant_id, *recipe_args]
    with req.core.db.transaction() as conn:
        row = conn.execute(sql, args).fetchone()
    return {"status": "OK", "count": row["n"]}
