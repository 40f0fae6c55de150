"""One client connection of the development core, and how a worker serves it.

A worker that takes a connection from the selector reads what has arrived on it,
answers each whole request in it (the head parsed by :class:`CoreRequestHandler`,
the body read to its ``Content-Length``), writes the answers, and lingers briefly
for more before giving the connection back. :class:`Pump` is that work; the
selector, the workers and the connection limits are :mod:`._server`'s.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from ._handler import MAX_REQUEST_LINE, CoreRequestHandler

MAX_HEAD_BYTES = 256 * 1024  # request line and headers; more is a 431
_READ_SIZE = 65536
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# A worker waits this long for the rest of a request (clients often write the head and
# the body apart) or for the next request of a client it has just answered, in slices,
# while no other connection waits for a worker: handing the connection back to the
# selector and on to a worker again costs two thread switches.
_LINGER = 0.05
_LINGER_SLICE = 0.01


class Connection:
    """One client connection, owned by the selector or by one worker at a time."""

    __slots__ = ("buffer", "handler", "idle_since", "length", "peer", "scanned", "sock", "started")

    def __init__(self, sock: socket.socket, peer: Any, now: float) -> None:
        self.sock = sock
        self.peer = peer
        self.buffer = bytearray()  # received, not yet answered
        self.scanned = 0  # where the head's next unread line starts in ``buffer``
        self.started: float | None = None  # when the request being read began
        self.idle_since = now
        self.handler: CoreRequestHandler | None = None  # head parsed, body still arriving
        self.length = 0  # of that body


class Close(Exception):
    """The connection is to be closed (the client left, broke the protocol, or was slow)."""


class Pump:
    """Serves one connection at a time for a worker: reads, answers, writes.

    ``may_linger`` says whether a worker may wait a little on its connection for more
    (no other connection waits for a worker, and the server is not stopping).
    """

    def __init__(
        self,
        handler_factory: Callable[[Any], CoreRequestHandler],
        request_timeout: float,
        clock: Callable[[], float],
        may_linger: Callable[[], bool],
    ) -> None:
        self._handler_factory = handler_factory
        self._request_timeout = request_timeout
        self._clock = clock
        self._may_linger = may_linger

    def serve(self, conn: Connection) -> None:
        """Answer every whole request that has arrived; return when waiting for more."""
        answered = False
        while True:
            started = conn.started
            if started is not None and self._clock() - started > self._request_timeout:
                raise Close("the request took too long to arrive")
            received = self._receive(conn)
            while self._advance(conn):
                answered = True
            if received:
                continue
            busy = answered or conn.started is not None
            if not (busy and self._linger(conn)):
                return

    def _receive(self, conn: Connection) -> bool:
        """Read what has arrived, without waiting; False when nothing had."""
        try:
            chunk = conn.sock.recv(_READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return False
        self._take(conn, chunk)
        return True

    def _linger(self, conn: Connection) -> bool:
        """Wait a little for more of the connection's request, or for its next one; True
        if something arrived."""
        sock = conn.sock
        deadline = self._clock() + _LINGER
        while self._may_linger():
            left = deadline - self._clock()
            if left <= 0:
                return False
            sock.settimeout(min(left, _LINGER_SLICE))
            try:
                chunk = sock.recv(_READ_SIZE)
            except TimeoutError:
                continue
            finally:
                sock.setblocking(False)
            self._take(conn, chunk)
            return True
        return False

    def _take(self, conn: Connection, chunk: bytes) -> None:
        """Buffer what was received; an empty read is the client closing the connection."""
        if not chunk:
            raise Close("closed by the client")
        if conn.started is None:
            conn.started = self._clock()
        conn.buffer += chunk

    def _advance(self, conn: Connection) -> bool:
        """Read on in the buffered request; answer it if whole. True when answered."""
        handler = conn.handler
        if handler is None:
            if not conn.buffer:
                return False
            end = _head_end(conn)
            if end is None:
                return False
            handler = self._handler_factory(conn.peer)
            if isinstance(end, HTTPStatus):
                handler.refuse(end)
                self._send(conn, handler.answer())
                raise Close(f"refused: {end}")
            head = bytes(conn.buffer[:end])
            del conn.buffer[:end]
            conn.scanned = 0
            if not handler.parse_head(head):
                self._send(conn, handler.answer())
                raise Close("refused: a malformed request")
            conn.handler, conn.length = handler, handler.body_length()
            if conn.length > len(conn.buffer) and handler.expects_continue:
                self._send(conn, _CONTINUE)
        if len(conn.buffer) < conn.length:
            return False
        body = bytes(conn.buffer[: conn.length])
        del conn.buffer[: conn.length]
        conn.handler, conn.length = None, 0
        self._send(conn, handler.run(body))
        if handler.close_connection:
            raise Close("the request asked for it")
        now = self._clock()
        conn.started = now if conn.buffer else None
        conn.idle_since = now
        return True

    def _send(self, conn: Connection, data: bytes) -> None:
        """Write ``data``; a client that takes longer than ``request_timeout`` is dropped."""
        if not data:
            return
        sock = conn.sock
        try:
            sent = sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        if sent < len(data):  # the client is slow to read: wait for it, within bounds
            sock.settimeout(self._request_timeout)
            try:
                sock.sendall(memoryview(data)[sent:])
            finally:
                sock.setblocking(False)


def _head_end(conn: Connection) -> int | HTTPStatus | None:
    """Where the head (request line and headers, up to the blank line) ends in the
    buffer; None if it has not all arrived; the error status if it is too long."""
    buffer = conn.buffer
    start = conn.scanned
    while True:
        newline = buffer.find(b"\n", start)
        if newline < 0:
            conn.scanned = start
            if start == 0 and len(buffer) > MAX_REQUEST_LINE:
                return HTTPStatus.REQUEST_URI_TOO_LONG
            if len(buffer) > MAX_HEAD_BYTES:
                return HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
            return None
        if start == 0:
            if newline >= MAX_REQUEST_LINE:
                return HTTPStatus.REQUEST_URI_TOO_LONG
            if not buffer[:newline].strip():
                return newline + 1  # a blank request line: refused by the handler
        elif newline == start or (newline == start + 1 and buffer[start] == 0x0D):
            return newline + 1
        if newline >= MAX_HEAD_BYTES:
            return HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
        start = newline + 1
