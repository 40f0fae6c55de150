"""Requests, routes and errors as the development core's route handlers see them.

Paths follow the real core: an optional ``/appid-<id>`` prefix, then an optional
``/<tenantId>`` prefix, then the route itself. As in the real core, a tenant
prefix on an app-level route is refused with 403 unless it names ``public``, and
an unknown app or tenant is a 400 naming the (connection URI domain, app, tenant)
triple. How a request arrives and its answer leaves is in :mod:`._handler`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import DevCore

_TENANT_ID = re.compile(r"^[a-z0-9-]{1,64}$")
# Path words the real core never reads as a tenant id.
RESERVED_TENANT_IDS = frozenset({"recipe", "config", "users", "hello"})


class CoreError(Exception):
    """An error answered to the client as ``status`` with a plain-text message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message: str) -> CoreError:
    return CoreError(400, message)


def exactly_one(message: str, *values: object) -> None:
    """A 400 with ``message`` unless exactly one of ``values`` is given (not None)."""
    if sum(v is not None for v in values) != 1:
        raise bad_request(message)


def not_found() -> CoreError:
    return CoreError(404, "Not found")


APP_LEVEL_ONLY = "Only public tenantId can call this app specific API"


def normalise_id(value: str, kind: str) -> str:
    """An app or tenant id as the real core keeps it: trimmed and lower-cased (else a 400).

    Paths are read lower-cased too, so an id created as "Shop" is reached as "shop".
    """
    normalised = value.strip().lower()
    if not normalised:
        raise bad_request(f"{kind} should not be an empty String")
    if normalised.startswith("appid-"):
        raise bad_request(f"{kind} must not start with 'appid-'")
    if len(normalised) > 64:
        raise bad_request(f"{kind} must be at most 64 characters")
    if not _TENANT_ID.fullmatch(normalised):
        raise bad_request(f"{kind} can only contain letters, numbers and hyphens")
    return normalised


def tenant_not_found(app_id: str, tenant_id: str) -> CoreError:
    """The real core's answer for an unknown app or tenant (its connection URI domain is empty)."""
    return CoreError(
        400,
        "AppId or tenantId not found => Tenant with the following connectionURIDomain, appId"
        f" and tenantId combination not found: (, {app_id}, {tenant_id})",
    )


@dataclass
class Request:
    """One parsed request, handed to a route handler."""

    core: DevCore
    method: str
    path: str
    app_id: str
    tenant_id: str
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str]

    def json(self) -> dict[str, Any]:
        """The JSON object body, or a 400 like the real core's."""
        if not isinstance(self.body, dict):
            raise bad_request("Invalid Json Input")
        return self.body

    # -- typed field readers: each answers a 400 naming the field when it is wrong --

    def field(self, name: str, kind: type | tuple[type, ...], *, required: bool = True) -> Any:
        body = self.json()
        value = body.get(name)
        if value is None:
            if required:
                raise bad_request(f"Field name '{name}' is invalid in JSON input")
            return None
        if isinstance(value, bool) and kind is not bool and bool not in _as_tuple(kind):
            raise bad_request(f"Field name '{name}' is invalid in JSON input")
        if not isinstance(value, kind):
            raise bad_request(f"Field name '{name}' is invalid in JSON input")
        return value

    def str_field(self, name: str, *, required: bool = True) -> Any:
        return self.field(name, str, required=required)

    def param(self, name: str, *, required: bool = True) -> str | None:
        values = self.query.get(name)
        if not values:
            if required:
                raise bad_request(f"Field name '{name}' is missing in GET request")
            return None
        return values[0]


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


Handler = Callable[[Request], Any]


@dataclass
class Route:
    handler: Handler
    tenant_scoped: bool
    # What to answer (200) instead of the 400 when the app or tenant is unknown, for the
    # few routes of the real core that answer it themselves (GET tenant: TENANT_NOT_FOUND_ERROR).
    if_unknown_tenant: dict[str, Any] | None = None
    # Whether the route needs the API key; the real core's hello and public JWKS do not
    # (the SDK fetches the JWKS without one).
    api_key: bool = True


@dataclass
class Routes:
    """A table of routes; each recipe module fills its own and the core merges them."""

    table: dict[tuple[str, str], Route] = field(default_factory=dict)

    def add(
        self,
        method: str,
        path: str,
        *,
        tenant: bool = False,
        if_unknown_tenant: dict[str, Any] | None = None,
        api_key: bool = True,
    ) -> Callable[[Handler], Handler]:
        if path != path.lower():  # requests are routed on their lower-cased path
            raise ValueError(f"route {method} {path} must be lower case")

        def decorate(handler: Handler) -> Handler:
            key = (method, path)
            if key in self.table:
                raise ValueError(f"route {method} {path} is defined twice")
            self.table[key] = Route(handler, tenant, if_unknown_tenant, api_key)
            return handler

        return decorate

    def get(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.add("GET", path, **options)

    def post(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.add("POST", path, **options)

    def put(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.add("PUT", path, **options)

    def delete(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.add("DELETE", path, **options)

    def merge(self, other: Routes) -> None:
        for key, route in other.table.items():
            if key in self.table:
                raise ValueError(f"route {key[0]} {key[1]} is defined twice")
            self.table[key] = route

    def resolve(self, method: str, path: str) -> tuple[Route, str]:
        """Find the route for ``path`` (app prefix already removed) and its tenant.

        A tenant prefix is accepted on every route, as the real core's router does;
        an app-level route then refuses any tenant but ``public`` (403).
        """
        path = path.rstrip("/") or "/"
        route = self._lookup(method, path)
        if route is not None:
            return route, "public"
        head, _, rest = path[1:].partition("/")
        if _TENANT_ID.fullmatch(head) and head not in RESERVED_TENANT_IDS:
            sub = "/" + rest if rest else "/"
            route = self._lookup(method, sub)
            if route is not None:
                if not route.tenant_scoped and head != "public":
                    raise CoreError(403, APP_LEVEL_ONLY)
                return route, head
            path = sub
        if any(p == path for (_, p) in self.table):
            raise CoreError(405, "Method not supported")
        raise not_found()

    def _lookup(self, method: str, path: str) -> Route | None:
        return self.table.get((method, path))
