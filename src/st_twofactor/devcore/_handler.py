"""The development core's side of one HTTP exchange: a request's bytes in, its answer's out.

:class:`CoreRequestHandler` parses what :mod:`._server` has read, finds the route
(:mod:`._http`), runs it and writes the answer for the server to send. Errors are
answered as the core answers them: plain text with a 4xx status, ending with a newline
(the real core writes them with ``println``).

Unlike the real core, it reads JSON bodies only: a request with a body, or a POST,
must say ``Content-Type: application/json`` (415 otherwise), so that a web page cannot
reach it with the form or text POSTs that browsers send cross-origin unasked.

Apart from the routing so that route handlers never see the wire, and the server never
sees a route.
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from ._http import CoreError, Request, Route, bad_request
from ._request_log import LoggedRequest

if TYPE_CHECKING:
    from . import DevCore

log = logging.getLogger("st_twofactor.devcore")

MAX_BODY_BYTES = 1_000_000
MAX_REQUEST_LINE = 65536  # as http.server: a longer request line is a 414
JSON_ONLY = "Content-Type must be application/json"
_DIGITS = re.compile(r"[0-9]+")
_APP_PREFIX = re.compile(r"^/appid-([a-z0-9-]+)(/.*)?$")


class _AnswerInstead(Exception):
    """Answer ``body`` (200, JSON) instead of running the route."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__("answer instead")
        self.body = body


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
