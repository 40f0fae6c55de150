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
must not get answers from a stopped core. How a worker serves one connection is in
:mod:`._connection`.
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
from typing import Any

from ._connection import Close, Connection, Pump
from ._handler import CoreRequestHandler

log = logging.getLogger("st_twofactor.devcore")

_LISTENER, _WAKE = object(), object()
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
        self._limits = limits
        self._clock = clock
        self._pump = Pump(handler_factory, limits.request_timeout, clock, self._may_linger)
        self._listener = socket.create_server((host, port), backlog=128)
        self._listener.setblocking(False)
        self.server_address: tuple[str, int] = self._listener.getsockname()[:2]
        self._tick = min(0.25, limits.request_timeout / 4, limits.idle_timeout / 4)
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._open: set[Connection] = set()  # every connection, wherever it is
        self._open_lock = threading.Lock()
        # The selector thread's own state.
        self._selector = selectors.DefaultSelector()
        self._waiting: dict[Connection, None] = {}  # registered, oldest first
        self._listening = False
        self._accept_again = 0.0  # when accept() may be tried again after failing
        # Connections the workers give back, and how they wake the selector for it.
        self._returned: deque[Connection] = deque()
        self._wake_in, self._wake_out = socket.socketpair()
        self._wake_in.setblocking(False)
        self._wake_out.setblocking(False)
        self._woken = False
        # Worker threads, started as requests need them, up to limits.workers.
        self._jobs: queue.SimpleQueue[Connection | None] = queue.SimpleQueue()
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
                        conn: Connection = key.data
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
            conn = Connection(sock, peer, self._clock())
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

    def _watch(self, conn: Connection) -> None:
        if self._stopping:
            self._close(conn)
            return
        try:
            self._selector.register(conn.sock, selectors.EVENT_READ, conn)
        except (ValueError, OSError):  # closed meanwhile
            self._close(conn)
            return
        self._waiting[conn] = None

    def _unwatch(self, conn: Connection) -> None:
        del self._waiting[conn]
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(conn.sock)

    def _sweep(self, now: float) -> None:
        """Close the connections whose request, or whose idleness, has lasted too long."""
        for conn in list(self._waiting):
            if self._expired(conn, now):
                self._unwatch(conn)
                self._close(conn)

    def _expired(self, conn: Connection, now: float) -> bool:
        """Whether the connection's request, or its idleness, has lasted too long."""
        if conn.started is not None:
            expired = now - conn.started > self._limits.request_timeout
        else:
            expired = now - conn.idle_since > self._limits.idle_timeout
        if expired:
            log.debug("devcore: closing %s: too slow, or idle too long", conn.peer)
        return expired

    # -- workers --

    def _submit(self, conn: Connection) -> None:
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
                self._pump.serve(conn)
            except (Close, OSError) as reason:
                log.debug("devcore: connection from %s closed: %r", conn.peer, reason)
                self._close(conn)
            except Exception:
                log.exception("devcore: connection from %s failed", conn.peer)
                self._close(conn)
            else:
                self._give_back(conn)

    def _may_linger(self) -> bool:
        """Whether a worker may wait on its connection: no other one waits for a worker."""
        return self._jobs.empty() and not self._stopping

    def _give_back(self, conn: Connection) -> None:
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

    def _close(self, conn: Connection) -> None:
        with self._open_lock:
            self._open.discard(conn)
            room = len(self._open) < self._limits.max_connections
        conn.sock.close()
        if room and not self._listening and not self._stopping:
            self._wake()  # the selector may accept again
