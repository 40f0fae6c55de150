"""Core-level routes: hello, apiversion, and multitenancy (apps and tenants)."""

from __future__ import annotations

import json
from typing import Any

from . import _config
from ._db import tables_with_columns
from ._http import Request, Routes, bad_request, normalise_id

SUPPORTED_CDI_VERSIONS = ["5.3", "5.4"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS apps (
    app_id TEXT PRIMARY KEY,
    core_config TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tenants (
    app_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    config TEXT NOT NULL,
    PRIMARY KEY (app_id, tenant_id)
);
INSERT OR IGNORE INTO apps (app_id, core_config) VALUES ('public', '{}');
INSERT OR IGNORE INTO tenants (app_id, tenant_id, config) VALUES ('public', 'public', '{}');
"""

routes = Routes()


@routes.get("/", tenant=True, api_key=False)
@routes.get("/hello", tenant=True, api_key=False)
@routes.post("/hello", tenant=True, api_key=False)
@routes.put("/hello", tenant=True, api_key=False)
@routes.delete("/hello", tenant=True, api_key=False)
def hello(req: Request) -> str:
    return "Hello"


@routes.get("/apiversion")
def api_version(req: Request) -> dict[str, Any]:
    return {"versions": SUPPORTED_CDI_VERSIONS}


def _tenant_input(req: Request) -> dict[str, Any]:
    body = req.json()
    stored: dict[str, Any] = {}
    for key in ("firstFactors", "requiredSecondaryFactors"):
        if key in body:
            value = body[key]
            if value is not None and (
                not isinstance(value, list) or not all(isinstance(v, str) for v in value)
            ):
                raise bad_request(f"Field name '{key}' is invalid in JSON input")
            stored[key] = value
    return stored


def _core_config(req: Request) -> dict[str, Any]:
    try:
        return _config.validate(req.json().get("coreConfig"))
    except ValueError as error:
        raise bad_request(f"Invalid core config: {error}") from None


@routes.put("/recipe/multitenancy/app/v2")
def create_or_update_app(req: Request) -> dict[str, Any]:
    if req.app_id != "public" or req.tenant_id != "public":
        raise bad_request("AppId or tenantId not found => Only the public app may create apps")
    app_id = normalise_id(req.str_field("appId"), "appId")
    config = _core_config(req)
    tenant = _tenant_input(req)
    with req.core.db.transaction() as conn:
        row = conn.execute("SELECT core_config FROM apps WHERE app_id=?", (app_id,)).fetchone()
        if row is not None and config and app_id == "public":
            raise bad_request("You cannot update the config of the public app")
        existing = json.loads(row["core_config"]) if row is not None else {}
        existing.update(config)
        existing = {k: v for k, v in existing.items() if v is not None}
        conn.execute(
            "INSERT INTO apps (app_id, core_config) VALUES (?, ?) "
            "ON CONFLICT(app_id) DO UPDATE SET core_config=excluded.core_config",
            (app_id, json.dumps(existing)),
        )
        _upsert_tenant(conn, app_id, "public", tenant)
    req.core.forget_app_config(app_id)
    return {"status": "OK", "createdNew": row is None}


def _upsert_tenant(conn: Any, app_id: str, tenant_id: str, updates: dict[str, Any]) -> bool:
    row = conn.execute(
        "SELECT config FROM tenants WHERE app_id=? AND tenant_id=?", (app_id, tenant_id)
    ).fetchone()
    current = json.loads(row["config"]) if row is not None else {}
    current.update(updates)
    conn.execute(
        "INSERT INTO tenants (app_id, tenant_id, config) VALUES (?, ?, ?) "
        "ON CONFLICT(app_id, tenant_id) DO UPDATE SET config=excluded.config",
        (app_id, tenant_id, json.dumps(current)),
    )
    return row is None


@routes.get("/recipe/multitenancy/app/list/v2")
def list_apps(req: Request) -> dict[str, Any]:
    with req.core.db.transaction() as conn:
        rows = conn.execute("SELECT app_id FROM apps ORDER BY app_id").fetchall()
        apps = [{"appId": r["app_id"], "tenants": _tenants(conn, r["app_id"])} for r in rows]
    return {"status": "OK", "apps": apps}


@routes.post("/recipe/multitenancy/app/remove")
def remove_app(req: Request) -> dict[str, Any]:
    app_id = req.str_field("appId").strip().lower()
    if app_id == "public":
        raise bad_request("Cannot delete the public app, use remove config instead")
    with req.core.db.transaction() as conn:
        existed = conn.execute("DELETE FROM apps WHERE app_id=?", (app_id,)).rowcount > 0
        # Everything of the app goes: users, sessions, signing keys, metadata, codes...
        for table in tables_with_columns(conn, "app_id"):
            conn.execute(f'DELETE FROM "{table}" WHERE app_id=?', (app_id,))  # noqa: S608
    req.core.forget_app_config(app_id)
    return {"status": "OK", "didExist": existed}


def _tenant_json(
    tenant_id: str, stored: dict[str, Any], core_config: dict[str, Any]
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "tenantId": tenant_id,
        "thirdParty": {"providers": stored.get("providers", [])},
        "coreConfig": core_config,
    }
    for key in ("firstFactors", "requiredSecondaryFactors"):
        if stored.get(key) is not None:
            result[key] = stored[key]
    return result


def _tenants(conn: Any, app_id: str) -> list[dict[str, Any]]:
    app = conn.execute("SELECT core_config FROM apps WHERE app_id=?", (app_id,)).fetchone()
    core_config = json.loads(app["core_config"]) if app is not None else {}
    rows = conn.execute(
        "SELECT tenant_id, config FROM tenants WHERE app_id=? ORDER BY tenant_id", (app_id,)
    ).fetchall()
    return [_tenant_json(r["tenant_id"], json.loads(r["config"]), core_config) for r in rows]


@routes.put("/recipe/multitenancy/tenant/v2")
def create_or_update_tenant(req: Request) -> dict[str, Any]:
    tenant_id = normalise_id(req.str_field("tenantId"), "tenantId")
    if tenant_id in {"recipe", "config", "users", "hello", "apiversion", "telemetry"}:
        raise bad_request("Cannot use '" + tenant_id + "' as a tenantId")
    updates = _tenant_input(req)
    if req.json().get("coreConfig"):
        raise bad_request("The development core keeps core config per app, not per tenant")
    with req.core.db.transaction() as conn:
        created = _upsert_tenant(conn, req.app_id, tenant_id, updates)
    return {"status": "OK", "createdNew": created}


@routes.get(
    "/recipe/multitenancy/tenant/v2",
    tenant=True,
    if_unknown_tenant={"status": "TENANT_NOT_FOUND_ERROR"},
)
def get_tenant(req: Request) -> dict[str, Any]:
    with req.core.db.transaction() as conn:
        for tenant in _tenants(conn, req.app_id):
            if tenant["tenantId"] == req.tenant_id:
                return {"status": "OK", **tenant}
    return {"status": "TENANT_NOT_FOUND_ERROR"}


@routes.get("/recipe/multitenancy/tenant/list/v2")
def list_tenants(req: Request) -> dict[str, Any]:
    with req.core.db.transaction() as conn:
        return {"status": "OK", "tenants": _tenants(conn, req.app_id)}


@routes.post("/recipe/multitenancy/tenant/remove")
def remove_tenant(req: Request) -> dict[str, Any]:
    tenant_id = req.str_field("tenantId").strip().lower()
    if tenant_id == "public":
        raise bad_request("Cannot delete public tenant, use remove app instead")
    with req.core.db.transaction() as conn:
        existed = (
            conn.execute(
                "DELETE FROM tenants WHERE app_id=? AND tenant_id=?", (req.app_id, tenant_id)
            ).rowcount
            > 0
        )
    return {"status": "OK", "didExist": existed}
