"""The userroles recipe: app-wide roles with permissions, tenant-scoped user roles.

Role and permission names are trimmed and must not be empty, as in the real
core. Deleting a role removes it from every user of every tenant.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ._http import Request, Routes, bad_request

SCHEMA = """
CREATE TABLE IF NOT EXISTS roles (
    app_id TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (app_id, role)
);
CREATE TABLE IF NOT EXISTS role_permissions (
    app_id TEXT NOT NULL,
    role TEXT NOT NULL,
    permission TEXT NOT NULL,
    PRIMARY KEY (app_id, role, permission)
);
CREATE INDEX IF NOT EXISTS role_permissions_permission ON role_permissions (app_id, permission);
CREATE TABLE IF NOT EXISTS user_roles (
    app_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (app_id, tenant_id, user_id, role)
);
CREATE INDEX IF NOT EXISTS user_roles_role ON user_roles (app_id, tenant_id, role);
"""

routes = Routes()


def _unknown_role() -> dict[str, Any]:
    return {"status": "UNKNOWN_ROLE_ERROR"}


def _role_name(role: str | None) -> str:
    role = (role or "").strip()
    if not role:
        raise bad_request("Field name 'role' cannot be an empty String")
    return role


def _body_role(req: Request) -> str:
    return _role_name(req.str_field("role"))


def _permissions(req: Request) -> list[str] | None:
    value = req.field("permissions", list, required=False)
    if value is None:
        return None
    permissions = []
    for item in value:
        if not isinstance(item, str):
            raise bad_request("Field name 'permissions' is invalid in JSON input")
        item = item.strip()
        if not item:
            raise bad_request("Field name 'permissions' cannot contain an empty string")
        permissions.append(item)
    return permissions


def _role_exists(conn: sqlite3.Connection, app_id: str, role: str) -> bool:
    row = conn.execute("SELECT 1 FROM roles WHERE app_id=? AND role=?", (app_id, role)).fetchone()
    return row is not None


def _column(rows: list[sqlite3.Row]) -> list[str]:
    return [row[0] for row in rows]


# -- roles and permissions (app-wide) --


@routes.put("/recipe/role")
def create_role(req: Request) -> dict[str, Any]:
    """Create a role, or add permissions to an existing one."""
    role = _body_role(req)
    permissions = _permissions(req) or []
    with req.core.db.transaction() as conn:
        created = (
            conn.execute(
                "INSERT OR IGNORE INTO roles (app_id, role) VALUES (?,?)", (req.app_id, role)
            ).rowcount
            > 0
        )
        conn.executemany(
            "INSERT OR IGNORE INTO role_permissions (app_id, role, permission) VALUES (?,?,?)",
            [(req.app_id, role, p) for p in permissions],
        )
    return {"status": "OK", "createdNewRole": created}


@routes.get("/recipe/role/permissions")
def role_permissions(req: Request) -> dict[str, Any]:
    role = _role_name(req.param("role"))
    with req.core.db.transaction() as conn:
        if not _role_exists(conn, req.app_id, role):
            return _unknown_role()
        rows = conn.execute(
            "SELECT permission FROM role_permissions WHERE app_id=? AND role=? ORDER BY permission",
            (req.app_id, role),
        ).fetchall()
    return {"status": "OK", "permissions": _column(rows)}


@routes.post("/recipe/role/permissions/remove")
def remove_permissions(req: Request) -> dict[str, Any]:
    """Remove the given permissions from a role, or all of them when none are given."""
    role = _body_role(req)
    permissions = _permissions(req)
    with req.core.db.transaction() as conn:
        if not _role_exists(conn, req.app_id, role):
            return _unknown_role()
        if permissions is None:
            conn.execute(
                "DELETE FROM role_permissions WHERE app_id=? AND role=?", (req.app_id, role)
            )
        else:
            conn.executemany(
                "DELETE FROM role_permissions WHERE app_id=? AND role=? AND permission=?",
                [(req.app_id, role, p) for p in permissions],
            )
    return {"status": "OK"}


@routes.get("/recipe/permission/roles")
def permission_roles(req: Request) -> dict[str, Any]:
    permission = str(req.param("permission")).strip()
    if not permission:
        raise bad_request("Field name 'permission' cannot be an empty String")
    with req.core.db.transaction() as conn:
        rows = conn.execute(
            "SELECT role FROM role_permissions WHERE app_id=? AND permission=? ORDER BY role",
            (req.app_id, permission),
        ).fetchall()
    return {"status": "OK", "roles": _column(rows)}


@routes.post("/recipe/role/remove")
def remove_role(req: Request) -> dict[str, Any]:
    role = _body_role(req)
    with req.core.db.transaction() as conn:
        existed = (
            conn.execute("DELETE FROM roles WHERE app_id=? AND role=?", (req.app_id, role)).rowcount
            > 0
        )
        conn.execute("DELETE FROM role_permissions WHERE app_id=? AND role=?", (req.app_id, role))
        conn.execute("DELETE FROM user_roles WHERE app_id=? AND role=?", (req.app_id, role))
    return {"status": "OK", "didRoleExist": existed}


@routes.get("/recipe/roles")
def list_roles(req: Request) -> dict[str, Any]:
    with req.core.db.transaction() as conn:
        rows = conn.execute(
            "SELECT role FROM roles WHERE app_id=? ORDER BY role", (req.app_id,)
        ).fetchall()
    return {"status": "OK", "roles": _column(rows)}


# -- user roles (per tenant) --


@routes.put("/recipe/user/role", tenant=True)
def add_user_role(req: Request) -> dict[str, Any]:
    user_id = req.str_field("userId")
    role = _body_role(req)
    with req.core.db.transaction() as conn:
        if not _role_exists(conn, req.app_id, role):
            return _unknown_role()
        added = conn.execute(
            "INSERT OR IGNORE INTO user_roles (app_id, tenant_id, user_id, role) VALUES (?,?,?,?)",
            (req.app_id, req.tenant_id, user_id, role),
        ).rowcount
    return {"status": "OK", "didUserAlreadyHaveRole": added == 0}


@routes.post("/recipe/user/role/remove", tenant=True)
def remove_user_role(req: Request) -> dict[str, Any]:
    user_id = req.str_field("userId")
    role = _body_role(req)
    with req.core.db.transaction() as conn:
        if not _role_exists(conn, req.app_id, role):
            return _unknown_role()
        removed = conn.execute(
            "DELETE FROM user_roles WHERE app_id=? AND tenant_id=? AND user_id=? AND role=?",
            (req.app_id, req.tenant_id, user_id, role),
        ).rowcount
    return {"status": "OK", "didUserHaveRole": removed > 0}


@routes.get("/recipe/user/roles", tenant=True)
def user_roles(req: Request) -> dict[str, Any]:
    user_id = str(req.param("userId"))
    with req.core.db.transaction() as conn:
        rows = conn.execute(
            "SELECT role FROM user_roles WHERE app_id=? AND tenant_id=? AND user_id=?"
            " ORDER BY role",
            (req.app_id, req.tenant_id, user_id),
        ).fetchall()
    return {"status": "OK", "roles": _column(rows)}


@routes.get("/recipe/role/users", tenant=True)
def role_users(req: Request) -> dict[str, Any]:
    role = _role_name(req.param("role"))
    with req.core.db.transaction() as conn:
        if not _role_exists(conn, req.app_id, role):
            return _unknown_role()
        rows = conn.execute(
            "SELECT user_id FROM user_roles WHERE app_id=? AND tenant_id=? AND role=?"
            " ORDER BY user_id",
            (req.app_id, req.tenant_id, role),
        ).fetchall()
    return {"status": "OK", "users": _column(rows)}
