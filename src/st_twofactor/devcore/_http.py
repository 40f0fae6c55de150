"""Routing and request handling of the development core (``_server`` reads and writes).

Paths follow the real core: an optional ``/appid-<id>`` prefix, then an optional
``/<tenantId>`` prefix, then the route itself. As in the real core, a tenant
prefix on an app-level route is refused with 403 unless it names ``public``, and
an unknown app or tenant is a 400 naming the (connection URI domain, app, tenant)
triple. Errors are answered as the core answers them: plain text with a 4xx
status, ending with a newline (the real core writes them with ``println``).

Unlike the real core, it reads JSON bodies only: a request with a body, or a POST,
must say ``Content-Type: application/json`` (415 otherwise), so that a web page cannot
reach it with the form or text POSTs that browsers send cross-origin unasked.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from . import DevCore

log = logging.getLogger("st_twofactor.devcore")

MAX_BODY_BYTES = 1_000_000
MAX_REQUEST_LINE = 65536  # as http.server: a longer request line is a 414
JSON_ONLY = "Content-Type must be application/json"
_DIGITS = re.compile(r"[0-9]+")
_APP_PREFIX = re.compile(r"^/appid-([a-z0-9-]+)(/.*)?$")
_TENANT_ID = re.compile(r"^[a-z0-9-]{1,64}$")
# Path words the real core never reads as a tenant id.
RESERVED_TENANT_IDS = frozenset({"recipe", "config", "users", "hello"})


class CoreError(Exception):
    """An error answered to the client as ``status`` with a plain-text message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _AnswerInstead(Exception):
    """Answer ``body`` (200, JSON) instead of running the route."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__("answer instead")
        self.body = body


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


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the core saw it; used to count core calls per flow."""

    time: float
    method: str
    path: str
    app_id: str
    tenant_id: str
    status: int


class RequestLog:
    """A bounded, thread-safe log of the requests the core answered."""

    def __init__(self, maxlen: int = 100_000) -> None:
        self._entries: deque[LoggedRequest] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def add(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self, app_id: str | None = None) -> list[LoggedRequest]:
        with self._lock:
            return [e for e in self._entries if app_id is None or e.app_id == app_id]


def _split_app(path: str) -> tuple[str, str]:
    match = _APP_PREFIX.match(path)
    if match is None:
        return "public", path
    return match.group(1), match.group(2) or "/"


class CoreRequestHandler(BaseHTTPRequestHandler):
    """One request: parsed from the bytes the server has read, answered into bytes it writes.

    It never touches the socket: the server reads and writes, and runs a request only
    once all of it has arrived, so no route ever waits for a slow client. The request
    line and headers are parsed by :class:`BaseHTTPRequestHandler`, whose error answers
    (400, 414, 431, 501) and keep-alive rules it keeps. The answer goes out in one write.
    """

    protocol_version = "HTTP/1.1"
    server_version = "st-twofactor-devcore"

    def __init__(self, core: DevCore, client_address: Any) -> None:
        # The base class's __init__ would serve a socket: deliberately not called.
        self.core = core
        self.client_address = client_address
        self.rfile = io.BytesIO()
        self._out = io.BytesIO()
        self.wfile = self._out
        self.body = b""
        self.body_error: CoreError | None = None
        self.expects_continue = False
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    # -- used by the server while it reads the request --

    def parse_head(self, head: bytes) -> bool:
        """Parse the request line and headers; False when the (error) answer is written."""
        self.rfile = io.BytesIO(head)
        self.raw_requestline = self.rfile.readline(MAX_REQUEST_LINE + 1)
        if len(self.raw_requestline) > MAX_REQUEST_LINE:
            self.refuse(HTTPStatus.REQUEST_URI_TOO_LONG)
            return False
        if not self.parse_request():
            self.close_connection = True
            return False
        if not hasattr(self, "do_" + self.command):
            self.send_error(HTTPStatus.NOT_IMPLEMENTED, f"Unsupported method ({self.command!r})")
            return False
        return True

    def refuse(self, status: HTTPStatus) -> None:
        """Answer ``status`` to a request too malformed to parse, and close the connection."""
        self.requestline = self.request_version = self.command = ""
        self.send_error(status)
        self.close_connection = True

    def handle_expect_100(self) -> bool:
        # The server sends "100 Continue" itself, when it is about to read the body.
        self.expects_continue = True
        return True

    def body_length(self) -> int:
        """How many body bytes to read. 0 when the body must not be read at all:
        ``body_error`` then holds the answer, and the connection closes after it."""
        try:
            return self._body_length()
        except CoreError as error:
            self.body_error = error
            self.close_connection = True
            return 0

    def _body_length(self) -> int:
        if self.headers.get_all("Transfer-Encoding"):
            raise bad_request("Chunked request bodies are not supported")
        lengths = self.headers.get_all("Content-Length") or []
        if len(lengths) > 1 or not all(_DIGITS.fullmatch(v.strip()) for v in lengths):
            raise bad_request("Invalid Content-Length")
        length = int(lengths[0]) if lengths else 0
        if length > MAX_BODY_BYTES:
            raise CoreError(413, "Request body too large")
        # A web page may send a cross-origin POST without a CORS preflight only as a form
        # or text/plain (or with no Content-Type): such requests must not reach a route.
        types = self.headers.get_all("Content-Type") or []
        declared_json = len(types) == 1 and is_json(types[0])
        if (types or length or self.command == "POST") and not declared_json:
            raise CoreError(415, JSON_ONLY)
        return length

    # -- once the whole request has arrived --

    def run(self, body: bytes) -> bytes:
        """Answer the parsed request whose body is ``body``; returns the answer's bytes."""
        self.body = body
        getattr(self, "do_" + self.command)()
        return self.answer()

    def answer(self) -> bytes:
        """What has been answered so far (the whole answer once the request is run)."""
        return self._out.getvalue()

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        core = self.core
        url = urlsplit(self.path)
        # The real core routes on the lower-cased path: app ids, tenant ids and route
        # names are case-blind (ids are stored lower-cased), so "/T1/recipe/signin" is
        # tenant "t1" and an unknown "/invalidTenantId/..." is the unknown-tenant 400.
        app_id, rest = _split_app(url.path.lower())
        tenant_id = "public"
        text = "text/plain; charset=utf-8"
        try:
            body = self._read_body()
            route, tenant_id = self._route(method, app_id, rest)
            request = Request(
                core=core,
                method=method,
                path=rest,
                app_id=app_id,
                tenant_id=tenant_id,
                query=parse_qs(url.query),
                body=body,
                headers={k.lower(): v for k, v in self.headers.items()},
            )
            result = route.handler(request)
            if isinstance(result, str):
                status, payload, content_type = 200, (result + "\n").encode(), text
            else:
                json_type = "application/json; charset=utf-8"
                status, payload, content_type = 200, json.dumps(result).encode(), json_type
        except _AnswerInstead as answer:
            status, payload = 200, json.dumps(answer.body).encode()
            content_type = "application/json; charset=utf-8"
        except CoreError as error:
            status, payload = error.status, (error.message + "\n").encode()
            content_type = text
        except Exception:
            log.exception("devcore: internal error on %s %s", method, url.path)
            status, payload, content_type = 500, b"Internal Error\n", text
        # Logged before the answer goes out, so a client that has its answer always
        # finds its request in the log (tests count core calls right after a call).
        core.request_log.add(LoggedRequest(time.time(), method, rest, app_id, tenant_id, status))
        self._send(status, payload, content_type)

    def _route(self, method: str, app_id: str, path: str) -> tuple[Route, str]:
        """The route and tenant of a request, after the API key and app/tenant checks."""
        core = self.core
        try:
            route, tenant_id = core.routes.resolve(method, path)
        except CoreError as error:
            if error.status == 404:  # the real core's not-found answer needs no API key
                core.check_app_and_tenant(app_id, "public")  # an unknown app is a 400
            else:
                core.check_api_key(self.headers.get("api-key"))
            raise
        if route.api_key:
            core.check_api_key(self.headers.get("api-key"))
        try:
            core.check_app_and_tenant(app_id, tenant_id)
        except CoreError:
            if route.if_unknown_tenant is None:
                raise
            raise _AnswerInstead(route.if_unknown_tenant) from None
        return route, tenant_id

    def _read_body(self) -> Any:
        if self.body_error is not None:
            raise self.body_error
        raw = self.body
        if not raw.strip():
            return None
        try:
            body = json.loads(raw)
            # A lone surrogate (JSON "\ud800") parses but cannot be stored or
            # hashed as UTF-8: refuse it here rather than fail in a handler.
            json.dumps(body, ensure_ascii=False).encode()
            return body
        except (ValueError, UnicodeError, RecursionError):
            raise bad_request("Invalid Json Input") from None

    def _send(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)


def is_json(content_type: str) -> bool:
    """Whether a Content-Type value is JSON (``application/json``, any parameters)."""
    return content_type.partition(";")[0].strip().lower() == "application/json"
