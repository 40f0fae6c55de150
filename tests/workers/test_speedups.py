"""speedups.reuse_core_connections(): the SDK's core calls on one shared TLS context.

Every test starts from the SDK's own client class (the session-wide switch in conftest.py
is undone for the test and put back after), turns the speed-up on where it says so, and
checks that the SDK behaves as without it: one connection per call (so a reply too many
never reaches another call, and nothing is sent twice), a down core, a killed and
restarted core, several event loops, Flask, TLS verification with
``SSL_CERT_FILE``/``SSL_CERT_DIR``, the network interceptor, timeouts, the version gate.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import socketserver
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import supertokens_python.querier as querier
from supertokens_python.async_to_sync_wrapper import sync
from supertokens_python.constants import SUPPORTED_CDI_VERSIONS
from supertokens_python.normalised_url_path import NormalisedURLPath
from supertokens_python.recipe import emailpassword, session, usermetadata
from supertokens_python.recipe.usermetadata.asyncio import (
    get_user_metadata,
    update_user_metadata,
)

from benchmarks.tls import Certificates, TLSProxy, make_ca
from st_twofactor import speedups
from st_twofactor.devcore import DevCore
from st_twofactor.http._outage import CORE_DOWN
from st_twofactor.testing import reset_supertokens

from ..helpers.ports import free_port
from ..helpers.sdk import HEADER_MODE, body, sdk_init, sign_in, sign_up, status
from ..helpers.servers import CoreProcess

NO_CORE = "No SuperTokens core available to query"


@pytest.fixture(autouse=True)
def sdk_client_class() -> Iterator[None]:
    """The SDK's own ``httpx.AsyncClient`` for this test; the session's choice put back after."""
    saved = querier.AsyncClient
    speedups.stop_reusing_core_connections()
    querier.AsyncClient = httpx.AsyncClient  # type: ignore[misc]
    yield
    speedups.stop_reusing_core_connections()
    if saved is speedups._core_client:
        assert speedups.reuse_core_connections()
    else:
        querier.AsyncClient = saved  # type: ignore[misc]


@pytest.fixture
def on() -> None:
    assert speedups.reuse_core_connections() is True


def init_sdk(connection_uri: str, *, framework: str = "fastapi", interceptor: Any = None) -> None:
    sdk_init(
        connection_uri,
        [emailpassword.init(), session.init(), usermetadata.init()],
        framework="fastapi" if framework == "fastapi" else "flask",
        app_name="speedups tests",
        network_interceptor=interceptor,
    )


@pytest.fixture
def sdk(devcore_app: str) -> Iterator[str]:
    init_sdk(devcore_app)
    yield devcore_app
    reset_supertokens()


async def metadata_round_trip(user: str, value: int) -> int:
    """One write and one read of user metadata: two core calls."""
    await update_user_metadata(user, {"n": value})
    got = (await get_user_metadata(user)).metadata["n"]
    assert isinstance(got, int)
    return got


# -- what it replaces, and that calls reuse connections --


def test_off_by_default_and_on_replaces_only_the_querier_client() -> None:
    assert querier.AsyncClient is httpx.AsyncClient
    assert speedups.reuse_core_connections() is True
    assert querier.AsyncClient is speedups._core_client
    assert speedups.reuse_core_connections() is True, "a second call changes nothing"
    from supertokens_python.recipe.thirdparty.providers import utils as provider_utils

    assert provider_utils.AsyncClient is httpx.AsyncClient, "social-login calls untouched"
    speedups.stop_reusing_core_connections()
    assert querier.AsyncClient is httpx.AsyncClient


@pytest.mark.parametrize("reuse", [False, True])
def test_every_core_call_has_its_own_connection(devcore: DevCore, reuse: bool) -> None:
    if reuse:
        speedups.reuse_core_connections()

    async def five_round_trips() -> None:
        for i in range(5):
            assert await metadata_round_trip("ada", i) == i

    with TLSProxy(devcore.url, None) as counter:
        init_sdk(counter.url_for(devcore.create_app()))
        try:
            asyncio.run(metadata_round_trip("warm-up", 0))  # the SDK asks the API version once
            before = counter.connections
            asyncio.run(five_round_trips())
            assert counter.connections - before == 10
        finally:
            reset_supertokens()


def test_the_sdk_gets_a_new_client_with_its_settings_on_the_shared_tls_context(on: None) -> None:
    first, second = querier.AsyncClient(timeout=30.0), querier.AsyncClient(timeout=30.0)
    assert isinstance(first, httpx.AsyncClient) and first is not second
    assert first.timeout == httpx.Timeout(30.0), "the SDK's own timeout"
    contexts = {id(tls_context_of(c)) for c in (first, second)}
    assert contexts == {id(speedups.shared_tls_context())}
    other = querier.AsyncClient(timeout=5.0, follow_redirects=True)  # settings it does not know
    assert tls_context_of(other) is not speedups.shared_tls_context()


def tls_context_of(client: httpx.AsyncClient) -> Any:
    return client._transport._pool._ssl_context  # type: ignore[attr-defined]


# -- the SDK through the frameworks --


def test_fastapi_sign_up_sign_in_and_a_session(fastapi_app: Any, on: None) -> None:
    from fastapi.testclient import TestClient
    from supertokens_python.recipe.session.framework.fastapi import verify_session

    app = fastapi_app([emailpassword.init(), session.init()])

    @app.get("/me")
    async def me(s: Any = verify_session_dependency(verify_session)) -> dict[str, str]:
        return {"user": s.get_user_id()}

    with TestClient(app) as client:
        assert body(sign_up(client, "ada@example.com"))["status"] == "OK"
        response = sign_in(client, "ada@example.com")
        assert body(response)["status"] == "OK"
        token = response.headers["st-access-token"]
        me_ = client.get("/me", headers={"Authorization": f"Bearer {token}", **HEADER_MODE})
        assert status(me_) == 200
        assert body(me_)["user"] == body(response)["user"]["id"]


def verify_session_dependency(verify_session: Callable[[], Any]) -> Any:
    from fastapi import Depends

    return Depends(verify_session())


def test_flask_through_the_sdks_sync_wrappers(flask_app: Any, on: None) -> None:
    app = flask_app([emailpassword.init(), session.init()])
    client = app.test_client()
    assert body(sign_up(client, "ada@example.com"))["status"] == "OK"
    for _ in range(3):
        assert body(sign_in(client, "ada@example.com"))["status"] == "OK"


def test_a_flask_request_thread_calls_the_core(flask_app: Any, on: None) -> None:
    """A threaded WSGI server runs each request in a new thread with a new SDK loop."""
    from werkzeug.serving import make_server

    app = flask_app([emailpassword.init(), session.init()])
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        with httpx.Client(base_url=url) as client:
            assert sign_up(client, "ada@example.com").json()["status"] == "OK"
            for _ in range(3):
                assert sign_in(client, "ada@example.com").json()["status"] == "OK"
    finally:
        server.shutdown()
        thread.join(5)


# -- a down core, a killed and restarted core --


def _dead_core() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.mark.parametrize("reuse", [False, True])
def test_a_down_core_fails_as_without_it(reuse: bool) -> None:
    if reuse:
        speedups.reuse_core_connections()
    init_sdk(_dead_core())
    try:
        with pytest.raises(Exception, match=f"^{NO_CORE}"):
            asyncio.run(get_user_metadata("ada"))
    finally:
        reset_supertokens()


@pytest.mark.parametrize("framework", ["fastapi", "flask"])
def test_a_down_core_still_gets_the_librarys_503(framework: str, on: None) -> None:
    init_sdk(_dead_core(), framework=framework)
    form = {
        "formFields": [
            {"id": "email", "value": "ada@example.com"},
            {"id": "password", "value": "correct-horse-42"},
        ]
    }
    try:
        if framework == "fastapi":
            from fastapi import FastAPI
            from fastapi.testclient import TestClient
            from supertokens_python.framework.fastapi import get_middleware

            from st_twofactor.fastapi import answer_core_outages

            fastapi = FastAPI()
            fastapi.add_middleware(get_middleware())
            answer_core_outages(fastapi)
            client: Any = TestClient(fastapi, raise_server_exceptions=False)
        else:
            from flask import Flask
            from supertokens_python.framework.flask import Middleware

            from st_twofactor.flask import answer_core_outages as flask_outages

            flask = Flask(__name__)
            Middleware(flask)
            flask_outages(flask)
            client = flask.test_client()
        for _ in range(2):
            response = client.post("/auth/signin", json=form)
            assert status(response) == 503
            assert body(response) == {"message": CORE_DOWN}
    finally:
        reset_supertokens()


@pytest.fixture(scope="module")
def core_process() -> Iterator[CoreProcess]:
    core = CoreProcess(port=free_port())
    core.start()
    yield core
    core.close()


@pytest.mark.slow
def test_a_killed_and_restarted_core(core_process: CoreProcess, on: None) -> None:
    """In one event loop: a kept-alive connection, the core killed and started again."""
    init_sdk(core_process.url)

    async def scenario() -> None:
        assert await metadata_round_trip("ada", 1) == 1
        await asyncio.to_thread(core_process.kill)
        with pytest.raises(Exception, match=f"^{NO_CORE}"):
            await get_user_metadata("ada")
        await asyncio.to_thread(core_process.start)
        assert (await get_user_metadata("ada")).metadata == {"n": 1}, "kept on disk"
        # killed and restarted between two calls
        await asyncio.to_thread(core_process.kill)
        await asyncio.to_thread(core_process.start)
        assert await metadata_round_trip("ada", 2) == 2

    try:
        asyncio.run(scenario())
    finally:
        if core_process.process is None:
            core_process.start()
        reset_supertokens()


# -- connections: one per call, closed when the call ends --


class RawServer(socketserver.ThreadingTCPServer):
    """HTTP/1.1 on loopback; ``answer(connection_no, request_no, head)`` gives the bytes to
    send back, or None to close the connection without answering, or "hang"."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, answer: Callable[[int, int, str], bytes | str | None]) -> None:
        self.answer = answer
        self.connections = 0
        self.closed = 0
        self.heads: list[str] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _RawHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def wait_until_closed(self, connections: int, seconds: float = 5.0) -> bool:
        """True once the client has closed this many connections (bounded wait)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self.lock:
                if self.closed >= connections:
                    return True
            time.sleep(0.01)
        return False


class _RawHandler(socketserver.StreamRequestHandler):
    server: RawServer

    def handle(self) -> None:
        with self.server.lock:
            self.server.connections += 1
            number = self.server.connections
        try:
            self._serve(number)
        finally:
            with self.server.lock:
                self.server.closed += 1

    def _serve(self, number: int) -> None:
        request_no = 0
        while True:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = self.rfile.readline()
                if not line:
                    return
                head += line
            request_no += 1
            text = head.decode("latin-1")
            self.server.heads.append(text)
            answer = self.server.answer(number, request_no, text)
            if answer is None:
                return
            if answer == "hang":
                self.rfile.read()
                return
            assert isinstance(answer, bytes)
            self.wfile.write(answer)


def ok(extra: str = "") -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n{extra}\r\nok".encode()


async def sdk_style_get(url: str, timeout: float = 30.0) -> httpx.Response:
    """What ``Querier.api_request`` does for a GET."""
    async with querier.AsyncClient(timeout=timeout) as client:
        response: httpx.Response = await client.get(url)
        return response


@pytest.mark.parametrize("reuse", [False, True])
def test_each_calls_connection_is_closed_when_the_call_ends(reuse: bool) -> None:
    if reuse:
        speedups.reuse_core_connections()
    # a connection answers its first request only: a second one on it would fail
    server = RawServer(lambda conn, req, head: ok() if req == 1 else None)

    async def three_calls() -> list[int]:
        statuses = []
        for _ in range(3):
            statuses.append((await sdk_style_get(server.url)).status_code)
            assert server.wait_until_closed(len(statuses)), "closed by the client"
        return statuses

    try:
        assert asyncio.run(three_calls()) == [200, 200, 200]
        assert server.connections == 3 and len(server.heads) == 3
    finally:
        server.stop()


@pytest.mark.parametrize("reuse", [False, True])
def test_a_new_connection_closed_unanswered_fails_as_without_it(reuse: bool) -> None:
    if reuse:
        speedups.reuse_core_connections()
    server = RawServer(lambda conn, req, head: None)
    try:
        with pytest.raises(httpx.RemoteProtocolError):
            asyncio.run(sdk_style_get(server.url))
        assert server.connections == 1, "not sent again"
    finally:
        server.stop()


@pytest.mark.parametrize("reuse", [False, True])
def test_timeouts_are_the_callers_and_not_retried(reuse: bool) -> None:
    if reuse:
        speedups.reuse_core_connections()
    server = RawServer(lambda conn, req, head: "hang")
    try:
        with pytest.raises(httpx.ReadTimeout):
            asyncio.run(sdk_style_get(server.url, timeout=0.3))
        assert server.connections == 1
    finally:
        server.stop()


# -- a core or proxy that answers one call too many, or acts and then hangs up --


def json_reply(data: dict[str, Any]) -> bytes:
    payload = json.dumps(data).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}"
    return head.encode() + b"\r\n\r\n" + payload


def _request_target(head: str) -> tuple[str, dict[str, list[str]]]:
    target = urlsplit(head.split(" ", 2)[1])
    return target.path, parse_qs(target.query)


class OneReplyTooMany:
    """A fake core whose metadata reply for ``alice`` comes with one extra copy: in the
    same write (``with-its-reply``), or held back on that connection and sent just before
    the connection's next reply (``before-the-next-reply``), as a faulty proxy might."""

    def __init__(self, extra: str) -> None:
        self.extra = extra
        self.extras_sent = 0
        self.held: dict[int, bytes] = {}
        self.server = RawServer(self.answer)

    def answer(self, connection: int, request: int, head: str) -> bytes:
        path, query = _request_target(head)
        if path == "/apiversion":
            return json_reply({"versions": list(SUPPORTED_CDI_VERSIONS)})
        owner = query["userId"][0]
        reply = json_reply({"status": "OK", "metadata": {"owner": owner}})
        held = self.held.pop(connection, b"")
        self.extras_sent += bool(held)
        if owner == "alice" and self.extra == "with-its-reply":
            self.extras_sent += 1
            return reply + reply
        if owner == "alice":
            self.held[connection] = reply
        return held + reply


@pytest.mark.parametrize("extra", ["with-its-reply", "before-the-next-reply"])
@pytest.mark.parametrize("reuse", [False, True])
def test_one_reply_too_many_never_answers_another_users_call(extra: str, reuse: bool) -> None:
    if reuse:
        speedups.reuse_core_connections()
    core = OneReplyTooMany(extra)
    users = ["alice", "bob", "alice", "carol", "alice", "dave"]

    async def owners() -> list[str]:
        return [(await get_user_metadata(user)).metadata["owner"] for user in users]

    init_sdk(core.server.url.rstrip("/"))
    try:
        assert asyncio.run(owners()) == users, "each call gets its own user's reply"
    finally:
        reset_supertokens()
        core.server.stop()
    assert core.server.connections == len(core.server.heads), "one connection per call"
    # the fault happened: alice's extra copies were sent (held ones go with their connection)
    assert core.extras_sent == (3 if extra == "with-its-reply" else 0)


@pytest.mark.parametrize("reuse", [False, True])
def test_a_request_the_core_may_have_acted_on_is_not_sent_again(reuse: bool) -> None:
    """The core reads the sign-up, creates the user, and hangs up before answering."""
    if reuse:
        speedups.reuse_core_connections()
    core = RawServer(
        lambda conn, req, head: (
            None
            if head.startswith("POST ")
            else json_reply({"versions": list(SUPPORTED_CDI_VERSIONS)})
        )
    )
    signup = {"email": "ada@example.com", "password": "correct-horse-42"}

    async def sign_up_once() -> None:
        querier_ = querier.Querier.get_instance()
        await querier_.get_api_version()  # the SDK's first call: a connection to keep alive
        with pytest.raises(httpx.RemoteProtocolError):
            await querier_.send_post_request(NormalisedURLPath("/recipe/signup"), signup, {})

    init_sdk(core.url.rstrip("/"))
    try:
        asyncio.run(sign_up_once())
    finally:
        reset_supertokens()
        core.stop()
    posts = [head for head in core.heads if head.startswith("POST ")]
    assert len(posts) == 1, "the sign-up reached the core once"


def test_no_cookie_is_kept_from_one_call_to_the_next(on: None) -> None:
    server = RawServer(lambda conn, req, head: ok("Set-Cookie: sid=secret; Path=/\r\n"))

    async def two_calls() -> None:
        await sdk_style_get(server.url)
        await sdk_style_get(server.url)

    try:
        asyncio.run(two_calls())
        assert len(server.heads) == 2
        assert all("cookie:" not in head.lower() for head in server.heads)
    finally:
        server.stop()


def test_the_network_interceptor_still_sees_every_call(devcore_app: str, on: None) -> None:
    seen: list[tuple[str, str]] = []

    def interceptor(
        url: str,
        method: str,
        headers: dict[str, Any],
        params: dict[str, Any] | None,
        data: dict[str, Any] | None,
        user_context: dict[str, Any] | None,
    ) -> tuple[str, str, dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]:
        seen.append((method, url.rsplit("/", 2)[-2] + "/" + url.rsplit("/", 1)[-1]))
        return url, method, headers, params, data

    init_sdk(devcore_app, interceptor=interceptor)
    try:
        assert asyncio.run(metadata_round_trip("ada", 7)) == 7
    finally:
        reset_supertokens()
    assert ("PUT", "user/metadata") in seen and ("GET", "user/metadata") in seen


# -- several event loops --


def test_several_event_loops_at_once_and_one_after_another(sdk: str, on: None) -> None:
    done: list[str] = []
    errors: list[BaseException] = []

    async def work(user: str) -> None:
        for i in range(3):
            assert await metadata_round_trip(user, i) == i
        done.append(user)

    def in_a_thread(user: str) -> None:
        try:
            asyncio.run(work(user))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=in_a_thread, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for i in range(3):
        asyncio.run(work(f"main{i}"))
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(done) == sorted([f"t{i}" for i in range(4)] + [f"main{i}" for i in range(3)])


def test_the_sdks_sync_wrapper_in_a_thread(sdk: str, on: None) -> None:
    """The SDK's sync wrapper gives each thread a loop it never closes (Flask request threads)."""
    results: list[int] = []
    thread = threading.Thread(target=lambda: results.append(sync(metadata_round_trip("ada", 3))))
    thread.start()
    thread.join(30)
    assert results == [3]
    assert sync(metadata_round_trip("ada", 4)) == 4


# -- TLS: SSL_CERT_FILE, SSL_CERT_DIR --


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def https_core(devcore: DevCore, certificates: Certificates) -> Iterator[str]:
    with TLSProxy(devcore.url, certificates) as proxy:
        yield proxy.url_for(devcore.create_app())


@pytest.mark.parametrize("reuse", [False, True])
def test_ssl_cert_file_is_respected(
    https_core: str,
    certificates: Certificates,
    monkeypatch: pytest.MonkeyPatch,
    reuse: bool,
) -> None:
    if reuse:
        speedups.reuse_core_connections()
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    init_sdk(https_core)
    try:
        with pytest.raises(Exception, match=f"^{NO_CORE}"):  # certifi's CAs: not trusted
            asyncio.run(get_user_metadata("ada"))
        monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca))
        assert asyncio.run(metadata_round_trip("ada", 5)) == 5
    finally:
        reset_supertokens()


def test_a_changed_ssl_cert_file_takes_effect_in_a_running_loop(
    https_core: str, certificates: Certificates, monkeypatch: pytest.MonkeyPatch, on: None
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca))
    init_sdk(https_core)

    async def scenario() -> None:
        assert await metadata_round_trip("ada", 6) == 6
        monkeypatch.delenv("SSL_CERT_FILE")
        with pytest.raises(Exception, match=f"^{NO_CORE}"):
            await get_user_metadata("ada")

    try:
        asyncio.run(scenario())
    finally:
        reset_supertokens()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to hash a CA dir")
def test_ssl_cert_dir_is_respected(
    https_core: str,
    certificates: Certificates,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    on: None,
) -> None:
    subject_hash = subprocess.run(
        ["openssl", "x509", "-subject_hash", "-noout", "-in", str(certificates.ca)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    shutil.copy(certificates.ca, tmp_path / f"{subject_hash}.0")
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    init_sdk(https_core)
    try:
        assert asyncio.run(metadata_round_trip("ada", 8)) == 8
    finally:
        reset_supertokens()


def test_one_tls_context_per_ca_setting(
    certificates: Certificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    default = speedups.shared_tls_context()
    assert speedups.shared_tls_context() is default
    assert default.verify_mode.name == "CERT_REQUIRED" and default.check_hostname
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca))
    mine = speedups.shared_tls_context()
    assert mine is not default and speedups.shared_tls_context() is mine
    assert len(mine.get_ca_certs()) == 1


# -- the version gate --


@pytest.mark.parametrize("version", ["0.32.0", "0.30.9", "1.0.0", "next"])
def test_an_unknown_sdk_version_is_a_logged_no_op(
    version: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import supertokens_python.constants as constants

    monkeypatch.setattr(constants, "VERSION", version)
    with caplog.at_level(logging.WARNING, logger="st_twofactor"):
        assert speedups.reuse_core_connections() is False
    assert querier.AsyncClient is httpx.AsyncClient
    assert f"supertokens-python {version} is not a version it knows" in caplog.text


async def _passes_its_own_context(self: Any, url: str, method: str, *a: Any, **k: Any) -> Any:
    async with httpx.AsyncClient(timeout=30.0, verify=True) as client:
        return await client.get(url)


async def _no_client_per_call(self: Any, url: str, method: str, *a: Any, **k: Any) -> Any:
    return None


@pytest.mark.parametrize(
    ("api_request", "reason"),
    [
        (_passes_its_own_context, "already passes its own TLS settings"),
        (_no_client_per_call, "does not make a client per core call"),
    ],
)
def test_an_sdk_that_already_reuses_is_left_alone(
    api_request: Any,
    reason: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(querier.Querier, "api_request", api_request)
    with caplog.at_level(logging.WARNING, logger="st_twofactor"):
        assert speedups.reuse_core_connections() is False
    assert querier.AsyncClient is httpx.AsyncClient
    assert reason in caplog.text


def test_a_client_class_replaced_by_someone_else_is_left_alone(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class Theirs(httpx.AsyncClient):
        pass

    monkeypatch.setattr(querier, "AsyncClient", Theirs)
    with caplog.at_level(logging.WARNING, logger="st_twofactor"):
        assert speedups.reuse_core_connections() is False
    assert querier.AsyncClient is Theirs
    assert "already replaced" in caplog.text


def test_a_stopped_development_core_closes_its_kept_alive_connections() -> None:
    """As a stopped core process does; otherwise a pooled connection would still be answered."""
    core = DevCore().start()
    try:
        url = core.url + "/hello"
        with httpx.Client() as client:
            assert client.get(url).status_code == 200
            core.stop()
            with pytest.raises(httpx.TransportError):
                client.get(url)
    finally:
        core.close()
