"""Reading a request's JSON body with a byte limit, for the 2FA routes and the guards (S13, S17).

``Content-Length`` is only a claim: a chunked request carries none, and the frameworks'
own ``json()`` reads whatever arrives. :func:`read_json` reads the body from the
framework's stream chunk by chunk and stops as soon as more than ``limit`` bytes came
(:class:`BodyTooLarge`, answered 413), so a 50 MB chunked body costs at most ``limit``
bytes of memory. The parsed body is then what the SDK wrapper's ``json()`` returns for
the rest of the request, so the handler behind a guard does not read the stream again.

It also refuses lone UTF-16 surrogates (:class:`MalformedBody`, answered 400): JSON
may spell them as escapes (``"\\udfff"``) and Python's parser accepts them, but such a
string cannot be encoded as UTF-8, so the SDK fails sending it to the core and a store
fails writing it (a 500, or a false "store unavailable").

Each framework's own parsing rules are kept: Flask parses only JSON content types,
FastAPI and Django any body; a body that is not JSON reads as ``{}``, as the SDK's
wrappers answer. One exception: Django under WSGI reads nothing of a chunked body (it
reads up to ``Content-Length``), which would let a hostile body pass as an empty one;
here it is read, counted, from the server's stream.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Protocol

from supertokens_python.framework import BaseRequest

MAX_BODY_BYTES = 16 * 1024
"""The most a 2FA route or a guarded first-factor route reads of a request body."""

_CHUNK = 4096
_READ = "_st2fa_body"


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class BodyTooLarge(Exception):
    """More than the limit arrived (or was declared): answered 413, nothing is read further."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the body must be JSON of at most {limit} bytes")


class MalformedBody(Exception):
    """The body holds a string that is not valid Unicode text: answered 400."""


async def read_json(
    request: BaseRequest, limit: int = MAX_BODY_BYTES, *, strict: bool = False
) -> Any:
    """The request's JSON body, read at most once and never past ``limit`` bytes.

    :returns: the parsed value; ``{}`` when the body is absent or not JSON.
    :raises BodyTooLarge: ``Content-Length`` says more than ``limit``, or more arrived.
    :raises MalformedBody: a string in it (key or value) has a lone surrogate; with
        ``strict``, also a body that is present but not JSON (the library's own routes;
        the SDK's routes keep the SDK's reading, ``{}``).
    """
    if hasattr(request, _READ):
        return getattr(request, _READ)
    declared = request.get_header("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise BodyTooLarge(limit)
    raw = await _read_raw(request, limit)
    try:
        body: Any = {} if raw is None else json.loads(raw)
    except (ValueError, RecursionError):  # not JSON (or nested past the parser's depth)
        if strict and raw is not None and raw.strip():
            raise MalformedBody("the body must be JSON") from None
        body = {}
    _refuse_lone_surrogates(body)

    async def parsed() -> Any:
        return body

    setattr(request, _READ, body)
    request.json = parsed  # type: ignore[method-assign]  # the SDK reads the same body
    return body


async def _read_raw(request: BaseRequest, limit: int) -> bytes | None:
    """The body's bytes (None: the framework would not parse it as JSON)."""
    original: Any = request.request
    starlette = sys.modules.get("starlette.requests")
    if starlette is not None and isinstance(original, starlette.Request):
        received = bytearray()
        async for chunk in original.stream():
            received += chunk
            if len(received) > limit:
                raise BodyTooLarge(limit)
        return bytes(received)
    werkzeug = sys.modules.get("werkzeug.wrappers")
    if werkzeug is not None and isinstance(original, werkzeug.Request):
        # Flask's get_json() refuses other content types; the SDK then sees {}.
        return _read_stream(original.stream, limit) if original.is_json else None
    django = sys.modules.get("django.http")
    if django is not None and isinstance(original, django.HttpRequest):
        environ = getattr(original, "environ", {})  # WSGI only
        if not environ.get("CONTENT_LENGTH") and environ.get("wsgi.input_terminated"):
            # Chunked: Django reads only up to Content-Length (none: an empty body), so
            # the request would go on as if it had none. Read what was sent, counted.
            return _read_stream(environ["wsgi.input"], limit)
        return _read_stream(original, limit)
    raise TypeError(f"st-twofactor cannot read a body from {type(original).__name__}")


def _read_stream(stream: _Readable, limit: int) -> bytes:
    received = bytearray()
    while chunk := stream.read(_CHUNK):
        received += chunk
        if len(received) > limit:
            raise BodyTooLarge(limit)
    return bytes(received)


def _refuse_lone_surrogates(body: Any) -> None:
    """Walk the parsed body (without recursion: it may be deeply nested)."""
    pending = [body]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if not is_text(value):
                raise MalformedBody("strings must be valid Unicode text (no lone surrogates)")
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)


def is_text(value: str) -> bool:
    """``value`` has no lone surrogate, so it can be encoded, stored and sent on."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
