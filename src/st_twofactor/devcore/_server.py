"""The development core's HTTP/1.1 server: one thread waits, a few threads answer.

A selector thread waits for every connection at once. When one has bytes to read, a
worker thread (of at most ``workers``) reads what has arrived, answers each whole
request in it and writes the answers, then gives the connection back to the selector.
A worker waits for a client to send only briefly (for the rest of a request, or the
next one, and only while no other connection needs a worker): a connection that is
idle, or that sends its request slowly or only in part, holds no thread. Hence:

- at most ``workers`` + 1 threads, however many clients connect;
- a request must arrive whole within ``request_timeout`` of its first byte, however it
  trickles in, and its answer must be taken within as long; else the connection is
  closed without an answer;
- a kept-alive connection with no request for ``idle_timeout`` is closed;
- at most ``max_connections`` are open: more wait in the listen queue, and idle ones are
  closed to make room for them.

Closing the server closes every connection, as a stopped core process would: a client
must not get answers from a stopped core.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from ._handler import MAX_REQUEST_LINE, CoreRequestHandler

log = logging.getLogger("st_twofactor.devcore")

MAX_HEAD_BYTES = 256 * 1024  # request line and headers; more is a 431
_READ_SIZE = 65536
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_LISTENER, _WAKE = object(), object()
# A worker waits this long for the rest of a request (clients often write the head and
# the body apart) or for the next request of a client it has just answered, in slices,
# while no other connection waits for a worker: handing the connection back to the
# selector and on to a worker again costs two thread switches.
_LINGER = 0.05
_LINGER_SLICE = 0.01
# An idle connection is closed to make room for a new one only after this long (and if
# nothing has arrived on it): a client that has just connected is about to send.
_EVICT_AFTER = 0.1
_ACCEPT_RETRY = 0.1  # after accept() failed, e.g. for want of file descriptors


@dataclass(frozen=True)
class ServerLimits:
    """How long a client may take, and how many threads and connections the core uses."""

    request_timeout: float = 5.0
    idle_timeout: float = 30.0
    workers: int = 8
    max_connections: int = 256

    def __post_init__(self) -> None:
        for name in ("request_timeout", "idle_timeout", "workers", "max_connections"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be greater than 0")


class _Connection:
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


class _Close(Exception):
    """The connection is to be closed (the client left, broke the protocol, or was slow)."""


class CoreServer:
    """Serves ``handler_factory(client_address)`` requests on ``(host, port)``."""

    def __init__(
        self,
        host: str,
        port: int,
        handler_factory: Callable[[Any], CoreRequestHandler],
        limits: ServerLimits,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._handler_factory = handler_factory
        self._limits = limits
        self._clock = clock
        self._listener = socket.create_server((host, port), backlog=128)
        self._listener.setblocking(False)
        self.server_address: tuple[str, int] = self._listener.getsockname()[:2]
        self._tick = min(0.25, limits.request_timeout / 4, limits.idle_timeout / 4)
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._open: set[_Connection] = set()  # every connection, wherever it is
        self._open_lock = threading.Lock()
        # The selector thread's own state.
        self._selector = selectors.DefaultSelector()
        self._waiting: dict[_Connection, None] = {}  # registered, oldest first
        self._listening = False
        self._accept_again = 0.0  # when accept() may be tried again after failing
        # Connections the workers give back, and how they wake the selector for it.
        self._returned: deque[_Connection] = deque()
        self._wake_in, self._wake_out = socket.socketpair()
        self._wake_in.setblocking(False)
        self._wake_out.setblocking(False)
        self._woken = False
        # Worker threads, started as requests need them, up to limits.workers.
        self._jobs: queue.SimpleQueue[_Connection | None] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._idle_workers = 0
        self._workers_lock = threading.Lock()

    # -- lifecycle (any thread) --

    def start(self) -> None:
        self._selector.register(self._wake_in, selectors.EVENT_READ, _WAKE)
        self._listen(True)
        self._thread = threading.Thread(target=self._run, name="st-twofactor-devcore", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop accepting, close every connection, and let the workers finish."""
        self._stopping = True
        thread, self._thread = self._thread, None
        if thread is not None:
            self._wake()
            thread.join(timeout=5)
        else:
            self._listener.close()
        with self._open_lock:
            busy = list(self._open)
        for conn in busy:  # in a worker: its next read or write fails, and it closes it
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
        with self._workers_lock:
            workers, self._workers = self._workers, []
        for _ in workers:
            self._jobs.put(None)
        for worker in workers:
            worker.join(timeout=5)
        while self._returned:  # given back after the selector stopped
            self._close(self._returned.popleft())
        self._selector.close()
        self._wake_in.close()
        self._wake_out.close()

    # -- the selector thread --

    def _run(self) -> None:
        next_sweep = self._clock() + self._tick
        try:
            while not self._stopping:
                events = self._selector.select(self._tick)
                now = self._clock()
                for key, _ in events:
                    if key.data is _LISTENER:
                        self._accept()
                    elif key.data is _WAKE:
                        with contextlib.suppress(OSError):
                            while self._wake_in.recv(4096):
                                pass
                        # Only now: a worker that saw it set has queued its connection
                        # already, and _returned is read below.
                        self._woken = False
                    else:
                        conn: _Connection = key.data
                        self._unwatch(conn)
                        if self._expired(conn, now):
                            self._close(conn)
                        else:
                            self._submit(conn)
                while self._returned:
                    self._watch(self._returned.popleft())
                if now >= next_sweep:
                    self._sweep(now)
                    next_sweep = now + self._tick
                if not self._listening and now >= self._accept_again and self._has_room(now):
                    self._listen(True)
        except Exception:
            log.exception("devcore: the server stopped")
        finally:
            self._listen(False)
            self._listener.close()
            for conn in list(self._waiting):
                self._unwatch(conn)
                self._close(conn)

    def _listen(self, on: bool) -> None:
        if on and not self._listening:
            self._selector.register(self._listener, selectors.EVENT_READ, _LISTENER)
        elif not on and self._listening:
            self._selector.unregister(self._listener)
        self._listening = on

    def _has_room(self, now: float) -> bool:
        """Whether another connection may be accepted, closing an idle one if needed."""
        return len(self._open) < self._limits.max_connections or self._close_oldest_idle(now)

    def _accept(self) -> None:
        while True:
            if not self._has_room(self._clock()):
                self._listen(False)  # the others wait in the listen queue for room
                return
            try:
                sock, peer = self._listener.accept()
            except BlockingIOError:
                return
            except ConnectionError:
                continue  # the client gave up before it was accepted
            except OSError as error:  # e.g. out of file descriptors: try again later
                log.warning("devcore: cannot accept a connection: %s", error)
                self._accept_again = self._clock() + _ACCEPT_RETRY
                self._listen(False)
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Connection(sock, peer, self._clock())
            with self._open_lock:
                self._open.add(conn)
            self._watch(conn)

    def _close_oldest_idle(self, now: float) -> bool:
        for conn in self._waiting:
            if conn.started is None and now - conn.idle_since >= _EVICT_AFTER:
                with contextlib.suppress(OSError):  # nothing there (or broken): close it
                    if conn.sock.recv(1, socket.MSG_PEEK):
                        continue  # its request is here: it is not idle
                self._unwatch(conn)
                self._close(conn)
                return True
        return False

    def _watch(self, conn: _Connection) -> None:
        if self._stopping:
            self._close(conn)
            return
        try:
            self._selector.register(conn.sock, selectors.EVENT_READ, conn)
        except (ValueError, OSError):  # closed meanwhile
            self._close(conn)
            return
        self._waiting[conn] = None

    def _unwatch(self, conn: _Connection) -> None:
        del self._waiting[conn]
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(conn.sock)

    def _sweep(self, now: float) -> None:
        """Close the connections whose request, or whose idleness, has lasted too long."""
        for conn in list(self._waiting):
            if self._expired(conn, now):
                self._unwatch(conn)
                self._close(conn)

    def _expired(self, conn: _Connection, now: float) -> bool:
        """Whether the connection's request, or its idleness, has lasted too long."""
        if conn.started is not None:
            expired = now - conn.started > self._limits.request_timeout
        else:
            expired = now - conn.idle_since > self._limits.idle_timeout
        if expired:
            log.debug("devcore: closing %s: too slow, or idle too long", conn.peer)
        return expired

    # -- workers --

    def _submit(self, conn: _Connection) -> None:
        self._jobs.put(conn)
        with self._workers_lock:
            short = self._idle_workers < self._jobs.qsize()
            if short and len(self._workers) < self._limits.workers:
                worker = threading.Thread(
                    target=self._work,
                    name=f"st-twofactor-devcore-worker-{len(self._workers) + 1}",
                    daemon=True,
                )
                self._workers.append(worker)
                worker.start()

    def _work(self) -> None:
        while True:
            with self._workers_lock:
                self._idle_workers += 1
            conn = self._jobs.get()
            with self._workers_lock:
                self._idle_workers -= 1
            if conn is None:
                return
            try:
                self._pump(conn)
            except (_Close, OSError) as reason:
                log.debug("devcore: connection from %s closed: %r", conn.peer, reason)
                self._close(conn)
            except Exception:
                log.exception("devcore: connection from %s failed", conn.peer)
                self._close(conn)
            else:
                self._give_back(conn)

    def _give_back(self, conn: _Connection) -> None:
        if self._stopping:
            self._close(conn)
            return
        self._returned.append(conn)
        self._wake()

    def _wake(self) -> None:
        if not self._woken:
            self._woken = True
            with contextlib.suppress(OSError):
                self._wake_out.send(b"\0")

    def _close(self, conn: _Connection) -> None:
        with self._open_lock:
            self._open.discard(conn)
            room = len(self._open) < self._limits.max_connections
        conn.sock.close()
        if room and not self._listening and not self._stopping:
            self._wake()  # the selector may accept again

    def _pump(self, conn: _Connection) -> None:
        """Answer every whole request that has arrived; return when waiting for more."""
        answered = False
        while True:
            started = conn.started
            if started is not None and self._clock() - started > self._limits.request_timeout:
                raise _Close("the request took too long to arrive")
            received = self._receive(conn)
            while self._advance(conn):
                answered = True
            if received:
                continue
            busy = answered or conn.started is not None
            if not (busy and self._linger(conn)):
                return

    def _receive(self, conn: _Connection) -> bool:
        """Read what has arrived, without waiting; False when nothing had."""
        try:
            chunk = conn.sock.recv(_READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return False
        if not chunk:
            raise _Close("closed by the client")
        if conn.started is None:
            conn.started = self._clock()
        conn.buffer += chunk
        return True

    def _linger(self, conn: _Connection) -> bool:
        """Wait a little for more of the connection's request, or for its next one; True
        if something arrived."""
        sock = conn.sock
        deadline = self._clock() + _LINGER
        while self._jobs.empty() and not self._stopping:
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
            if not chunk:
                raise _Close("closed by the client")
            if conn.started is None:
                conn.started = self._clock()
            conn.buffer += chunk
            return True
        return False

    def _advance(self, conn: _Connection) -> bool:
        """Read on in the buffered request; answer it if whole. True when answered."""
        handler = conn.handler
        if handler is None:
            if not conn.buffer:
                return False
            end = self._head_end(conn)
            if end is None:
                return False
            handler = self._handler_factory(conn.peer)
            if isinstance(end, HTTPStatus):
                handler.refuse(end)
                self._send(conn, handler.answer())
                raise _Close(f"refused: {end}")
            head = bytes(conn.buffer[:end])
            del conn.buffer[:end]
            conn.scanned = 0
            if not handler.parse_head(head):
                self._send(conn, handler.answer())
                raise _Close("refused: a malformed request")
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
            raise _Close("the request asked for it")
        now = self._clock()
        conn.started = now if conn.buffer else None
        conn.idle_since = now
        return True

    def _head_end(self, conn: _Connection) -> int | HTTPStatus | None:
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

    def _send(self, conn: _Connection, data: bytes) -> None:
        """Write ``data``; a client that takes longer than ``request_timeout`` is dropped."""
        if not data:
            return
        sock = conn.sock
        try:
            sent = sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        if sent < len(data):  # the client is slow to read: wait for it, within bounds
            sock.settimeout(self._limits.request_timeout)
            try:
                sock.sendall(memoryview(data)[sent:])
            finally:
                sock.setblocking(False)
