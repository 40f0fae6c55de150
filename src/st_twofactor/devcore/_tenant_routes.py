"""Per-tenant set-up: third-party provider configs, and which tenants a user belongs to.

- ``PUT /<tenant>/recipe/multitenancy/config/thirdparty`` adds or replaces one
  provider of the tenant (the SDK's ``create_or_update_third_party_config``);
  ``POST .../config/thirdparty/remove`` removes it. The providers are answered in
  the tenant's ``thirdParty.providers``, which ``thirdparty.get_provider`` and the
  sign-in flows merge with the app's static providers.
- ``POST /<tenant>/recipe/multitenancy/tenant/user`` (and ``.../user/remove``)
  associate a recipe user with a tenant, refusing one whose login would clash with
  another user of that tenant, as the real core does.

Licensing follows the real core: a provider config for any tenant but ``public`` is
the multi-tenancy feature, and so is every association change (402 without a
license). Each app's ``public`` tenant counts as the base tenant, since the
development core lets every test have an app of its own.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ._http import CoreError, Request, Routes, bad_request
from ._users import get_row, tenant_ids

routes = Routes()

MULTI_TENANCY_NOT_ENABLED = (
    "Cannot use feature: multi_tenancy, because the license key is missing, or doesn't have"
    " this feature enabled."
)

# Provider fields as the real core keeps them, with the JSON type each must have.
_PROVIDER_FIELDS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "authorizationEndpoint": str,
    "authorizationEndpointQueryParams": dict,
    "tokenEndpoint": str,
    "tokenEndpointBodyParams": dict,
    "userInfoEndpoint": str,
    "userInfoEndpointQueryParams": dict,
    "userInfoEndpointHeaders": dict,
    "jwksURI": str,
    "oidcDiscoveryEndpoint": str,
    "requireEmail": bool,
    "userInfoMap": dict,
}
_CLIENT_FIELDS: dict[str, type | tuple[type, ...]] = {
    "clientType": str,
    "clientId": str,
    "clientSecret": str,
    "scope": list,
    "forcePKCE": bool,
    "additionalConfig": dict,
}


def _require_multi_tenancy(req: Request) -> None:
    if not req.core.licensed:
        raise CoreError(402, MULTI_TENANCY_NOT_ENABLED)


def _invalid(message: str) -> CoreError:
    return bad_request(f"Invalid third party config: {message}")


def _typed(source: dict[str, Any], fields: dict[str, type | tuple[type, ...]]) -> dict[str, Any]:
    """The known, non-null fields of ``source``, each checked against its JSON type."""
    kept: dict[str, Any] = {}
    for name, kind in fields.items():
        value = source.get(name)
        if value is None:
            continue
        if isinstance(value, bool) and kind is not bool:
            raise _invalid(f"'{name}' has the wrong type")
        if not isinstance(value, kind):
            raise _invalid(f"'{name}' has the wrong type")
        kept[name] = value
    return kept


def _client(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid("each client must be an object")
    client = _typed(value, _CLIENT_FIELDS)
    if "clientId" not in client:
        raise _invalid("clientId cannot be null")
    scope = client.get("scope", [])
    if any(s is None for s in scope):
        raise _invalid("scope array cannot contain a null")
    if not all(isinstance(s, str) for s in scope):
        raise _invalid("'scope' has the wrong type")
    return client


def _provider(config: dict[str, Any]) -> dict[str, Any]:
    """A provider config checked and reduced to the fields the real core keeps."""
    third_party_id = config.get("thirdPartyId")
    if not isinstance(third_party_id, str):
        raise bad_request("Field name 'thirdPartyId' is invalid in JSON input")
    third_party_id = third_party_id.strip()
    if not third_party_id:
        raise _invalid("thirdPartyId cannot be null or empty")
    clients_in = config.get("clients") or []
    if not isinstance(clients_in, list):
        raise _invalid("'clients' has the wrong type")
    clients = [_client(c) for c in clients_in]
    client_types = [c.get("clientType") for c in clients]
    if len(set(client_types)) != len(client_types):
        raise _invalid("Duplicate clientType was specified in the clients list.")
    return {"thirdPartyId": third_party_id, **_typed(config, _PROVIDER_FIELDS), "clients": clients}


def _tenant_config(conn: sqlite3.Connection, req: Request) -> dict[str, Any]:
    row = conn.execute(
        "SELECT config FROM tenants WHERE app_id=? AND tenant_id=?", (req.app_id, req.tenant_id)
    ).fetchone()
    stored: dict[str, Any] = json.loads(row["config"])  # the router checked that it exists
    return stored


def _store_providers(
    conn: sqlite3.Connection, req: Request, stored: dict[str, Any], providers: list[Any]
) -> None:
    stored["providers"] = providers
    conn.execute(
        "UPDATE tenants SET config=? WHERE app_id=? AND tenant_id=?",
        (json.dumps(stored), req.app_id, req.tenant_id),
    )


# -- third-party provider configs --


@routes.put("/recipe/multitenancy/config/thirdparty", tenant=True)
def put_provider(req: Request) -> dict[str, Any]:
    provider = _provider(req.field("config", dict))
    req.field("skipValidation", bool, required=False)
    if req.tenant_id != "public":
        _require_multi_tenancy(req)
    with req.core.db.transaction() as conn:
        stored = _tenant_config(conn, req)
        providers = list(stored.get("providers", []))
        ids = [p["thirdPartyId"] for p in providers]
        found = provider["thirdPartyId"] in ids
        if found:
            providers[ids.index(provider["thirdPartyId"])] = provider
        else:
            providers.append(provider)
        _store_providers(conn, req, stored, providers)
    return {"status": "OK", "createdNew": not found}


@routes.post("/recipe/multitenancy/config/thirdparty/remove", tenant=True)
def remove_provider(req: Request) -> dict[str, Any]:
    third_party_id = str(req.str_field("thirdPartyId")).strip()
    with req.core.db.transaction() as conn:
        stored = _tenant_config(conn, req)
        providers = list(stored.get("providers", []))
        kept = [p for p in providers if p["thirdPartyId"] != third_party_id]
        _store_providers(conn, req, stored, kept)
    return {"status": "OK", "didConfigExist": len(kept) != len(providers)}


# -- users and tenants --


def _recipe_user_id(req: Request) -> str:
    user_id = str(req.str_field("recipeUserId")).strip()
    if not user_id:
        raise bad_request("Field name 'userId' cannot be an empty String")
    return user_id


def _clash(conn: sqlite3.Connection, req: Request, row: sqlite3.Row) -> str | None:
    """The error status when another user of the tenant has this user's login, else None."""
    in_tenant = (
        "SELECT 1 FROM users u JOIN user_tenants t ON t.app_id=u.app_id AND t.user_id=u.user_id"
        " WHERE u.app_id=? AND t.tenant_id=? AND u.user_id<>? AND u.recipe_id=?"
    )
    args = [req.app_id, req.tenant_id, row["user_id"], row["recipe_id"]]
    if row["recipe_id"] == "thirdparty":
        query = in_tenant + " AND u.third_party_id=? AND u.third_party_user_id=?"
        found = conn.execute(query, [*args, row["third_party_id"], row["third_party_user_id"]])
        return "THIRD_PARTY_USER_ALREADY_EXISTS_ERROR" if found.fetchone() else None
    if row["email"] is not None:
        found = conn.execute(in_tenant + " AND u.email=?", [*args, row["email"]])
        if found.fetchone():
            return "EMAIL_ALREADY_EXISTS_ERROR"
    if row["phone_number"] is not None:
        found = conn.execute(in_tenant + " AND u.phone_number=?", [*args, row["phone_number"]])
        if found.fetchone():
            return "PHONE_NUMBER_ALREADY_EXISTS_ERROR"
    return None


@routes.post("/recipe/multitenancy/tenant/user", tenant=True)
def associate_user(req: Request) -> dict[str, Any]:
    user_id = _recipe_user_id(req)
    _require_multi_tenancy(req)
    with req.core.db.transaction() as conn:
        row = get_row(conn, req.app_id, user_id)
        if row is None:
            return {"status": "UNKNOWN_USER_ID_ERROR"}
        if req.tenant_id in tenant_ids(conn, req.app_id, user_id):
            return {"status": "OK", "wasAlreadyAssociated": True}
        clash = _clash(conn, req, row)
        if clash is not None:
            return {"status": clash}
        conn.execute(
            "INSERT INTO user_tenants (app_id, tenant_id, user_id) VALUES (?,?,?)",
            (req.app_id, req.tenant_id, user_id),
        )
    return {"status": "OK", "wasAlreadyAssociated": False}


@routes.post("/recipe/multitenancy/tenant/user/remove", tenant=True)
def disassociate_user(req: Request) -> dict[str, Any]:
    """Take a user out of a tenant; its sessions in that tenant end with it."""
    user_id = _recipe_user_id(req)
    _require_multi_tenancy(req)
    with req.core.db.transaction() as conn:
        if get_row(conn, req.app_id, user_id) is None:
            return {"status": "UNKNOWN_USER_ID_ERROR"}
        removed = conn.execute(
            "DELETE FROM user_tenants WHERE app_id=? AND tenant_id=? AND user_id=?",
            (req.app_id, req.tenant_id, user_id),
        ).rowcount
        sessions = conn.execute(
            "DELETE FROM sessions WHERE app_id=? AND tenant_id=? AND recipe_user_id=?",
            (req.app_id, req.tenant_id, user_id),
        ).rowcount
    return {"status": "OK", "wasAssociated": removed > 0 or sessions > 0}
