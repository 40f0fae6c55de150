"""The development core's connections: bounded threads, timeouts, keep-alive.

A client that opens many connections and sends part of a request, or nothing, must not
make the core start a thread per connection nor hold the connections forever: at most
``workers`` threads read and answer (never waiting for a client to send), a request
must arrive whole within ``request_timeout`` of its first byte (however slowly it
trickles in), an idle kept-alive connection is closed after ``idle_timeout``, and at
most ``max_connections`` are open (more wait to be accepted; idle ones are closed to
make room). Kept-alive connections, pipelined requests and ``Expect: 100-continue`` work
as before.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from st_twofactor.devcore import DevCore

HELLO = b"GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n"
PARTIALS = [
    b"GET /hel",  # part of the request line
    b"GET /hello HTTP/1.1\r\nHost: localhost\r\n",  # headers not finished
    b"PUT /recipe/user/metadata HTTP/1.1\r\nHost: localhost\r\n"
    b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    b'{"userId": "u"',  # part of the body
]


def address(core: DevCore) -> tuple[str, int]:
    host, port = core.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


@contextlib.contextmanager
def sockets(core: DevCore, count: int, payloads: list[bytes]) -> Iterator[list[socket.socket]]:
    """``count`` connections, each sending one of ``payloads`` (in turn); closed after."""
    opened: list[socket.socket] = []
    try:
        for i in range(count):
            sock = socket.create_connection(address(core), timeout=5)
            opened.append(sock)
            payload = payloads[i % len(payloads)]
            if payload:
                sock.sendall(payload)
        yield opened
    finally:
        for sock in opened:
            sock.close()


def closed_after(sock: socket.socket, start: float, limit: float) -> float | None:
    """Seconds from ``start`` until the core closed ``sock`` (read to the end), or None."""
    deadline = start + limit
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            break
        try:
            if not sock.recv(65536):
                return time.monotonic() - start
        except ConnectionError:
            return time.monotonic() - start
    return None


def read_answers(sock: socket.socket, count: int, timeout: float = 5.0) -> bytes:
    """Read until ``count`` answers to ``GET /hello`` have arrived."""
    data = b""
    deadline = time.monotonic() + timeout
    while data.count(b"Hello\n") < count and time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_stalled_requests_hold_no_thread() -> None:
    """60 connections each stalled in the request line, the headers or the body: the
    core starts no more than its few workers for them, and a normal request is still
    answered at once."""
    with DevCore() as core:
        assert requests.get(core.url + "/hello", timeout=5).status_code == 200
        before = threading.active_count()
        with sockets(core, 60, PARTIALS):
            time.sleep(0.5)
            during = threading.active_count()
            started = time.monotonic()
            assert requests.get(core.url + "/hello", timeout=5).text == "Hello\n"
            assert time.monotonic() - started < 1.0
            assert during - before <= core.limits.workers, (before, during)


def trickle(core: DevCore, interval: float, limit: float = 4.0) -> float | None:
    """Send a never-ending request head one byte per ``interval``; seconds until the core
    closed the connection, or None if it had not within ``limit``."""
    head = b"GET /hello HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + b"a" * 5000
    start = time.monotonic()
    with socket.create_connection(address(core), timeout=5) as sock:
        for byte in head:
            try:
                sock.send(bytes([byte]))
            except ConnectionError:
                return time.monotonic() - start
            closed = closed_after(sock, start, time.monotonic() - start + interval)
            if closed is not None:
                return closed
            if time.monotonic() - start > limit:
                break
    return None


@pytest.mark.slow
def test_stalled_requests_are_closed_after_the_request_timeout() -> None:
    with DevCore(request_timeout=1.0) as core, sockets(core, 30, PARTIALS) as stalled:
        start = time.monotonic()
        waits = [closed_after(sock, start, 4.0) for sock in stalled]
        assert all(w is not None and w < 2.5 for w in waits), waits
        with core.db.transaction() as conn:
            assert conn.execute("SELECT COUNT(*) FROM user_metadata").fetchone()[0] == 0


@pytest.mark.slow
@pytest.mark.parametrize("interval", [0.2, 0.004])
def test_a_trickled_request_is_closed_after_the_request_timeout(interval: float) -> None:
    """A byte every 0.2 s (a timeout per read would never fire), or every 4 ms (a
    worker waiting a little for the rest of a request catches each byte)."""
    with DevCore(request_timeout=1.0) as core:
        closed = trickle(core, interval)
        assert closed is not None and 0.8 < closed < 2.5, closed


@pytest.mark.slow
def test_idle_connections_are_closed_after_the_idle_timeout() -> None:
    """A kept-alive connection after its answer, and one that never sent anything."""
    with DevCore(idle_timeout=1.0) as core:
        with sockets(core, 2, [HELLO, b""]) as (answered, silent):
            assert b"Hello\n" in read_answers(answered, 1)
            start = time.monotonic()
            waited = [closed_after(answered, start, 4.0), closed_after(silent, start, 4.0)]
        assert all(w is not None and 0.5 < w < 2.5 for w in waited), waited


def test_kept_alive_and_pipelined_requests_are_answered_in_order() -> None:
    with DevCore() as core, sockets(core, 1, [HELLO + HELLO]) as (sock,):
        assert read_answers(sock, 2).count(b"HTTP/1.1 200 OK") == 2
        sock.sendall(b"GET /apiversion HTTP/1.1\r\nHost: localhost\r\n\r\n" + HELLO)
        data = b""
        while b"Hello\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
        assert data.index(b'"versions"') < data.index(b"Hello\n")


def test_expect_100_continue() -> None:
    """curl sends ``Expect: 100-continue`` with larger bodies and waits for the go-ahead."""
    body = b'{"userId": "u", "metadataUpdate": {"a": 1}}'
    head = (
        b"PUT /recipe/user/metadata HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    with DevCore() as core, sockets(core, 1, [head]) as (sock,):
        assert sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        data = b""
        while b'"a": 1' not in data:
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
        assert data.startswith(b"HTTP/1.1 200 OK")


def test_idle_connections_make_room_when_the_core_is_full() -> None:
    """With ``max_connections`` idle connections open, a new client is still answered
    (the idle ones are closed for it), and no thread was started for them."""
    with DevCore(max_connections=4) as core:
        assert requests.get(core.url + "/hello", timeout=5).status_code == 200
        before = threading.active_count()
        with sockets(core, 12, [b""]):
            assert requests.get(core.url + "/hello", timeout=3).text == "Hello\n"
            assert threading.active_count() - before <= 1


@pytest.mark.slow
def test_a_client_that_does_not_read_its_answers_is_dropped() -> None:
    """20 pipelined requests for 500 KB answers that are never read: once the system's
    buffers are full, the core waits ``request_timeout`` and drops the client."""
    with DevCore(request_timeout=1.0) as core:
        big = {"userId": "u", "metadataUpdate": {"pad": "x" * 500_000}}
        put = requests.put(core.url + "/recipe/user/metadata", json=big, timeout=10)
        assert put.status_code == 200
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(address(core))
        try:
            get = b"GET /recipe/user/metadata?userId=u HTTP/1.1\r\nHost: localhost\r\n\r\n"
            sock.sendall(get * 20)
            time.sleep(2.5)
            sock.settimeout(5)
            data = bytearray()
            with contextlib.suppress(ConnectionError):
                while chunk := sock.recv(1 << 20):
                    data += chunk
        finally:
            sock.close()
        assert data.count(b"HTTP/1.1 200 OK") < 20


def test_a_huge_head_is_refused() -> None:
    head = b"GET /hello HTTP/1.1\r\nHost: localhost\r\n" + b"X-Pad: " + b"a" * 300_000
    with DevCore() as core, sockets(core, 1, [head]) as (sock,):
        data = b""
        with contextlib.suppress(ConnectionError):
            while chunk := sock.recv(65536):
                data += chunk
        assert data.startswith(b"HTTP/1.1 431"), data[:100]


def test_stopping_the_core_closes_kept_alive_connections() -> None:
    core = DevCore().start()
    try:
        with sockets(core, 1, [HELLO]) as (sock,):
            assert b"Hello\n" in read_answers(sock, 1)
            core.stop()
            assert closed_after(sock, time.monotonic(), 3.0) is not None
    finally:
        core.close()


@pytest.mark.parametrize(
    "options",
    [
        {"request_timeout": 0},
        {"idle_timeout": -1},
        {"workers": 0},
        {"max_connections": 0},
    ],
)
def test_settings_must_be_positive(options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        DevCore(**options)  # type: ignore[arg-type]
