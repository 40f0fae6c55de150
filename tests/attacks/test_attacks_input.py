"""The attack matrix for hostile input (S13, S16, S17), beside ``test_attacks.py``.

Each test drives the real HTTP API as an attacker would and asserts the defence: a 4xx
with a message, never a 5xx, and nothing stored. S13 and S16 run the FastAPI app of
``twofactor_app`` behind a test client; S17 (body size) runs real servers on loopback
(uvicorn for FastAPI, werkzeug's server for Flask and for Django's WSGI handler) and
sends real chunked requests, since a test client buffers the whole body itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from supertokens_python.asyncio import get_user_count

from st_twofactor import TwoFactorConfig, build_recipe_list
from st_twofactor.http.routes import ROUTES, twofactor_plugin
from st_twofactor.stores import InMemoryStore, UserMetadataStore
from st_twofactor.testing import reset_supertokens

from ..helpers.ports import free_port
from ..helpers.sdk import FAKE_PROVIDER_ID, sdk_init
from ..helpers.twofactor_app import (
    API_DOMAIN,
    HEADER_MODE,
    PASSWORD,
    Harness,
    Tokens,
    make_harness,
    user_id_of,
)

urlpatterns: list[Any] = []
"""Django's URLconf for the live Django app: the SDK's middleware serves every route."""


@pytest.fixture
def make(devcore_app: str) -> Iterator[Callable[..., Harness]]:
    yield lambda **options: make_harness(devcore_app, **options)
    reset_supertokens()


@pytest.fixture
def h(make: Callable[..., Harness]) -> Harness:
    return make()


def users(h: Harness) -> int:
    """How many users the core has for this app."""
    return int(asyncio.run(get_user_count(None)))


def refused(response: Any, *statuses: int) -> str:
    """Assert a 4xx (one of ``statuses``) with a message; the message."""
    assert response.status_code in (statuses or range(400, 500)), (
        response.status_code,
        response.text[:300],
    )
    message = response.json()["message"]
    assert isinstance(message, str) and message
    return message


def form(email: str, password: str = PASSWORD, **extra: Any) -> bytes:
    fields = [{"id": "email", "value": email}, {"id": "password", "value": password}]
    return json.dumps({"formFields": fields, **extra}).encode()


def raw_post(h: Harness, path: str, raw: bytes, tokens: Tokens | None = None) -> Any:
    headers = {**(tokens.auth() if tokens else HEADER_MODE), "Content-Type": "application/json"}
    return h.client.post(path, content=raw, headers=headers)


LONE = "\udfff"
"""A lone low surrogate: ``json.dumps`` sends it as the escape ``\\udfff``, as a hostile
client would."""


# -- S13: lone surrogates ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/auth/signup", form("a" + LONE + "@example.com")),
        ("/auth/signin", form("a" + LONE + "@example.com")),
        ("/auth/signup", form("b@example.com", "pass" + LONE + "word-1")),
        (
            "/auth/user/password/reset/token",
            b'{"formFields": [{"id": "email", "value": "a\\udfff@example.com"}]}',
        ),
        (
            "/auth/user/password/reset",
            b'{"formFields": [{"id": "password", "value": "x\\ud800y"}], "token": "t\\udfff"}',
        ),
        (
            "/auth/signinup",
            b'{"thirdPartyId": "'
            + FAKE_PROVIDER_ID.encode()
            + b'", "redirectURIInfo": {"redirectURIOnProviderDashboard": "http://localhost/cb",'
            b' "redirectURIQueryParams": {"code": "u1:a\\udfff@example.com"}}}',
        ),
    ],
    ids=["signup email", "signin email", "signup password", "reset token", "reset", "social"],
)
def test_lone_surrogate_in_a_first_factor_body_is_a_400(h: Harness, path: str, raw: bytes) -> None:
    """S13: a lone UTF-16 surrogate (a JSON escape) anywhere in a sign-up, sign-in,
    password-reset or social sign-in body is refused 400 with a message; no user is
    made. (The SDK failed encoding it for the core: a 500.)"""
    assert b"\\ud" in raw  # the escape itself is sent, not an encoded character
    before = users(h)
    message = refused(raw_post(h, path, raw), 400)
    assert "surrogate" in message
    assert users(h) == before


def test_lone_surrogate_in_a_device_name_is_a_400_not_an_outage(
    make: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    """S13: a surrogate in ``deviceName`` on a first enrolment, with the default store
    (user metadata in the core), is a 400: not a 503 "store unavailable", and no outage
    is logged. Nothing is stored."""
    h = make(store=UserMetadataStore())
    tokens = h.signed_up("surrogate-device@example.com")
    user_id = user_id_of(tokens)
    before = h.document(user_id)
    caplog.set_level(logging.DEBUG)
    for raw in (b'{"deviceName": "phone\\udfff"}', b'{"deviceName": "\\ud83d"}'):
        refused(raw_post(h, "/auth/2fa/totp/device", raw, tokens), 400)
    assert not [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert h.document(user_id) == before


@pytest.mark.parametrize("path", [f"/auth{p}" for m, p, _ in ROUTES if m == "post"])
def test_lone_surrogate_in_any_2fa_field_is_a_400(h: Harness, path: str) -> None:
    """S13: a lone surrogate in any string of a 2FA request (a value or a key) is a 400
    and changes nothing, whatever the route."""
    tokens = h.signed_up("surrogate-any@example.com")
    user_id = user_id_of(tokens)
    before = h.document(user_id)
    for raw in (b'{"code": "12345\\udc00"}', b'{"x\\ud800": 1}', b'{"a": ["\\udfff"]}'):
        refused(raw_post(h, path, raw, tokens), 400)
    assert h.document(user_id) == before


@pytest.mark.parametrize("path", [f"/auth{p}" for m, p, _ in ROUTES if m == "post"])
def test_a_body_that_is_not_json_is_a_400_saying_so(h: Harness, path: str) -> None:
    """S13: text that is not JSON on a 2FA route is refused as such ("the body must be
    JSON"), not read as an empty object (which answered "'code' is required")."""
    tokens = h.signed_up("not-json@example.com")
    user_id = user_id_of(tokens)
    before = h.document(user_id)
    for raw in (b"{", b'{"code": 1', b"code=123456", b"\xff\xfe"):
        response = raw_post(h, path, raw, tokens)
        refused(response, 400)
        assert response.json()["message"] == "the body must be JSON", (path, raw)
    assert h.document(user_id) == before


# -- S13: account linking, tenants, OAuth2 provider routes --------------------------------


@pytest.mark.parametrize("path", ["/auth/signup", "/auth/signin"])
def test_linking_with_the_session_user_is_a_400_without_account_linking(
    h: Harness, path: str
) -> None:
    """S13: ``shouldTryLinkingWithSessionUser: true`` on sign-in or sign-up with a
    session, in an app without account linking, is a 400 (the SDK raised: a 500); no
    user is made, and the session's user is unchanged."""
    tokens = h.signed_up("linker@example.com")
    if path == "/auth/signin":
        h.signed_up("other@example.com")
    before = users(h)
    raw = form(
        "new@example.com" if path == "/auth/signup" else "other@example.com",
        shouldTryLinkingWithSessionUser=True,
    )
    refused(raw_post(h, path, raw, tokens), 400)
    assert users(h) == before
    social = {
        "thirdPartyId": FAKE_PROVIDER_ID,
        "redirectURIInfo": {
            "redirectURIOnProviderDashboard": f"{API_DOMAIN}/cb",
            "redirectURIQueryParams": {"code": "u9:social@example.com"},
        },
        "shouldTryLinkingWithSessionUser": True,
    }
    refused(raw_post(h, "/auth/signinup", json.dumps(social).encode(), tokens), 400)
    assert users(h) == before


@pytest.mark.parametrize(
    "path",
    [
        "/auth/t1/signin",
        "/auth/t1/signup",
        "/auth/PUBLIC/signup",
        "/auth/Public/signin",
        "/auth/t1/user/password/reset/token",
        "/auth/t1/signinup/code",
    ],
)
def test_an_unknown_tenant_is_a_400(h: Harness, path: str) -> None:
    """S13: a request naming a tenant the core does not have is a 400 (the core's
    refusal surfaced as a 500); nothing is made. ``public`` still works."""
    tokens = h.signed_up("tenant@example.com")
    before = users(h)
    response = raw_post(h, path, form("tenant-new@example.com"), tokens)
    assert "tenant" in refused(response, 400).lower()
    assert users(h) == before
    assert raw_post(h, "/auth/public/signin", form("tenant@example.com")).json()["status"] == "OK"


OAUTH2_ROUTES = [
    ("GET", "/auth/oauth/auth", {"client_id": "x", "response_type": "code"}),
    ("GET", "/auth/oauth/login", {"loginChallenge": "x"}),
    ("GET", "/auth/oauth/login/info", {"loginChallenge": "x"}),
    ("GET", "/auth/oauth/end_session", {}),
    ("POST", "/auth/oauth/end_session", {}),
    ("POST", "/auth/oauth/token", {}),
    ("POST", "/auth/oauth/revoke", {}),
    ("POST", "/auth/oauth/introspect", {}),
    ("POST", "/auth/oauth/logout", {"logoutChallenge": "x"}),
    ("GET", "/auth/oauth/userinfo", {}),
]


@pytest.mark.parametrize(("method", "path", "params"), OAUTH2_ROUTES)
def test_oauth2_provider_routes_are_not_served(
    h: Harness, method: str, path: str, params: dict[str, str]
) -> None:
    """S13: the OAuth2 provider routes the SDK mounts on its own (the app never asked
    for them; they need a paid core feature and answered 500) are not served: 404."""
    for data in (None, {"grant_type": "client_credentials", "client_id": "x", "token": "t"}):
        response = h.client.request(method, path, params=params, data=data, headers=HEADER_MODE)
        assert response.status_code == 404, (path, response.status_code, response.text[:200])


# -- S16: device names ---------------------------------------------------------------------

HIDDEN_NAMES = {
    "zero-width space": "authenticator\u200b",
    "zero-width joiner": "auth\u200denticator",
    "word joiner": "auth\u2060enticator",
    "BOM": "\ufeffauthenticator",
    "soft hyphen": "authen\u00adticator",
    "bidi override": "phone\u202eenohp",
    "bidi isolate": "phone\u2066x\u2069",
    "left-to-right mark": "phone\u200e",
    "C0 control": "phone\x07",
    "DEL": "phone\x7f",
    "C1 control": "phone\x85",
    "no-break space": "my\u00a0phone",
    "ideographic space": "my\u3000phone",
    "em space": "my\u2003phone",
    "line separator": "my\u2028phone",
    "double space": "my  phone",
    "leading space": " phone",
    "variation selector": "pho\ufe0fne",
    "hangul filler": "phone\u3164",
    "combining grapheme joiner": "pho\u034fne",
    "private use": "phone\ue000",
    "unassigned": "phone\U000e0080",
    "Cyrillic a in a Latin word": "authentic\u0430tor",
    "Greek omicron in a Latin word": "auth\u03bfr",
    "too long": "x" * 65,
    "empty": "",
}


@pytest.mark.parametrize("name", list(HIDDEN_NAMES.values()), ids=list(HIDDEN_NAMES))
def test_device_names_with_hidden_or_mixed_script_characters_are_refused(
    h: Harness, name: str
) -> None:
    """S16: a device name with a control, format (zero-width, bidi), separator other
    than the ASCII space, invisible or unassigned character, or a word mixing scripts,
    is a 400 with a message; nothing is stored."""
    tokens = h.signed_up("names@example.com")
    user_id = user_id_of(tokens)
    before = h.document(user_id)
    message = refused(h.post("/auth/2fa/totp/device", tokens, {"deviceName": name}), 400)
    assert "deviceName" in message
    assert h.document(user_id) == before


def test_look_alike_device_names_collide(h: Harness) -> None:
    """S16: names are compared after NFKC and case folding: once ``authenticator`` is
    enrolled, ``Authenticator``, fullwidth letters, a ligature or a composed form are
    DEVICE_ALREADY_EXISTS_ERROR; with a zero-width space or a Cyrillic letter they are
    refused (400). Exactly one device stands."""
    tokens = h.signed_up("lookalike@example.com")
    h.enrol_totp(tokens, "authenticator")  # the session's 2FA is fresh: changes allowed
    for name in (
        "Authenticator",
        "AUTHENTICATOR",
        "\uff41\uff55\uff54\uff48\uff45\uff4e\uff54\uff49\uff43\uff41\uff54\uff4f\uff52",
        "\U0001d41a\U0001d42e\U0001d42d\U0001d421enticator",  # mathematical bold
    ):
        answer = h.post("/auth/2fa/totp/device", tokens, {"deviceName": name})
        assert answer.json()["status"] == "DEVICE_ALREADY_EXISTS_ERROR", (name, answer.json())
    for name in ("authenticator\u200b", "authentic\u0430tor"):
        refused(h.post("/auth/2fa/totp/device", tokens, {"deviceName": name}), 400)
    devices = h.get("/auth/2fa", tokens).json()["devices"]
    assert [d["name"] for d in devices] == ["authenticator"]


def test_a_look_alike_name_reaches_the_same_device(h: Harness) -> None:
    """S16: starting an enrolment again under a look-alike of an unverified device's
    name replaces it (one device, not two), and the display name is kept as given, in
    its composed (NFC) form."""
    tokens = h.signed_up("same-device@example.com")
    first = h.post("/auth/2fa/totp/device", tokens, {"deviceName": "Zoe\u0308's phone"})
    assert first.json()["status"] == "OK", first.json()
    again = h.post("/auth/2fa/totp/device", tokens, {"deviceName": "ZOË'S PHONE"})
    assert again.json()["status"] == "OK", again.json()
    state = h.state(user_id_of(tokens))
    assert [d.name for d in state.totp_devices] == ["ZOË'S PHONE"]
    kept = h.post("/auth/2fa/totp/device", tokens, {"deviceName": "Pixel \u2764\ufe0f"})
    assert kept.json()["deviceName"] == "Pixel \u2764\ufe0f"
    composed = h.post("/auth/2fa/totp/device", tokens, {"deviceName": "Cafe\u0301"})
    assert composed.json()["deviceName"] == "Caf\u00e9"
    names = [d.name for d in h.state(user_id_of(tokens)).totp_devices]
    assert names == ["ZOË'S PHONE", "Pixel \u2764\ufe0f", "Caf\u00e9"]


def test_scripts_that_do_not_mix_within_a_word_are_accepted(h: Harness) -> None:
    """S16: the script rule is per word: a Cyrillic word next to a Latin one, Japanese
    (Han with Katakana) and Latin with Han are names like any other."""
    tokens = h.signed_up("scripts@example.com")
    for name in (
        "Pixel \u0422\u0435\u043b\u0435\u0444\u043e\u043d",
        "\u8a8d\u8a3c\u30a2\u30d7\u30ea",
        "Pixel\u8a8d\u8a3c",
        "Zo\u00eb",
    ):
        answer = h.post("/auth/2fa/totp/device", tokens, {"deviceName": name})
        assert answer.json()["status"] == "OK", (name, answer.json())


# -- S17: body size, counted while reading (real servers, real chunked requests) ------------

LIMIT = 16 * 1024
HUGE = 50 * 1024 * 1024
"""A 50 MB body: refused after about ``LIMIT`` bytes, its memory never allocated."""
CHUNK = 64 * 1024


@contextmanager
def serving(framework: str, config: TwoFactorConfig, core_url: str) -> Iterator[str]:
    """The SDK with ``build_recipe_list`` and the 2FA plugin, served on a free loopback
    port in a thread: uvicorn for FastAPI, werkzeug's server for Flask and Django."""
    sdk_init(
        core_url,
        build_recipe_list(config=config),
        framework=framework,
        app_name="S17",
        plugins=[twofactor_plugin(config)],
    )
    try:
        if framework == "fastapi":
            with _uvicorn(_fastapi_app()) as url:
                yield url
        elif framework == "flask":
            with _werkzeug(_flask_app()) as url:
                yield url
        else:
            with _django_app() as app, _werkzeug(app) as url:
                yield url
    finally:
        reset_supertokens()


def _fastapi_app() -> Any:
    from fastapi import FastAPI
    from supertokens_python.framework.fastapi import get_middleware

    app = FastAPI()
    app.add_middleware(get_middleware())
    return app


def _flask_app() -> Any:
    from flask import Flask
    from supertokens_python.framework.flask import Middleware

    app = Flask(__name__)
    Middleware(app)
    return app


@contextmanager
def _django_app() -> Iterator[Any]:
    import django
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import override_settings

    if not settings.configured:
        settings.configure(SECRET_KEY="st-twofactor-tests-only", INSTALLED_APPS=[], DATABASES={})
        django.setup()
    middleware = ["supertokens_python.framework.django.django_middleware.middleware"]
    with override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=middleware, ALLOWED_HOSTS=["*"]):
        yield WSGIHandler()


@contextmanager
def _werkzeug(app: Any) -> Iterator[str]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@contextmanager
def _uvicorn(app: Any) -> Iterator[str]:
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def peak_rss_reset() -> None:
    """Start measuring this process's peak resident memory afresh (Linux)."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def peak_rss() -> int:
    """This process's peak resident memory since :func:`peak_rss_reset`, in bytes."""
    with open("/proc/self/status") as status:
        found = re.search(r"VmHWM:\s+(\d+) kB", status.read())
    assert found is not None
    return int(found.group(1)) * 1024


def post_chunked(url: str, path: str, headers: dict[str, str], total: int) -> tuple[int, int]:
    """POST ``{"deviceName": "xxx...`` of ``total`` bytes with ``Transfer-Encoding:
    chunked`` (no Content-Length), stopping as soon as the server answers.

    :returns: the answer's status and how many body bytes were sent by then.
    """
    host, port = url.removeprefix("http://").split(":")
    head = [f"POST {path} HTTP/1.1", "Host: localhost", "Transfer-Encoding: chunked"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    pending = ("\r\n".join(head) + "\r\n\r\n").encode()
    body = b'{"deviceName": "' + b"x" * (CHUNK - 16)
    sent = 0
    closed = False  # the server stopped taking the body
    answer = b""
    deadline = time.monotonic() + 60
    with socket.create_connection((host, int(port))) as sock:
        sock.setblocking(False)
        while b"\r\n\r\n" not in answer:
            assert time.monotonic() < deadline, f"no answer after {sent} bytes"
            if not pending and sent < total and not closed:
                piece = body if sent == 0 else b"x" * CHUNK
                pending = b"%x\r\n%s\r\n" % (len(piece), piece)
                sent += len(piece)
                if sent >= total:
                    pending += b"0\r\n\r\n"
            readable, writable, _ = select.select([sock], [sock] if pending else [], [], 1)
            if readable:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not data:
                    break
                answer += data
            elif writable:
                try:
                    pending = pending[sock.send(pending) :]
                except (BrokenPipeError, ConnectionResetError):
                    pending, closed = b"", True  # read what it answered
    status_line = answer.split(b"\r\n", 1)[0].decode()
    assert status_line.startswith("HTTP/1."), (status_line, answer[:200])
    return int(status_line.split(" ")[1]), sent


FRAMEWORKS = ["fastapi", "flask", "django"]


@pytest.mark.slow
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_huge_chunked_body_is_refused_413_early_without_using_its_memory(
    devcore_app: str, framework: str
) -> None:
    """S17: a 50 MB chunked body (no Content-Length) to a 2FA route and to the guarded
    sign-up route is answered 413 after about 16 KB were read, through a real server
    for each framework: the client had sent a small part of it, this process's peak
    memory grew by far less than the body, and nothing was stored (no device, no user).
    (Before, FastAPI and Flask read all of it, about twice its size in memory, and the
    unparsable body went on as ``{}``: the default device was created.)"""
    store = InMemoryStore()
    config = TwoFactorConfig(development=True, factors=("totp", "recovery-code"), store=store)
    with serving(framework, config, devcore_app) as url:
        signed_up = httpx.post(
            url + "/auth/signup",
            content=form("s17@example.com"),
            headers={**HEADER_MODE, "Content-Type": "application/json"},
        )
        assert signed_up.json()["status"] == "OK", signed_up.text
        tokens = Tokens.of(signed_up)
        user_id = user_id_of(tokens)
        headers = {**tokens.auth(), "Content-Type": "application/json"}
        for path, sender in (("/auth/2fa/totp/device", headers), ("/auth/signup", HEADER_MODE)):
            peak_rss_reset()
            before = peak_rss()
            started = time.monotonic()
            status, sent = post_chunked(
                url, path, {**sender, "Content-Type": "application/json"}, HUGE
            )
            elapsed = time.monotonic() - started
            grown = peak_rss() - before
            assert status == 413, (path, status, sent)
            assert sent <= 8 * 1024 * 1024, (path, sent)  # the server stopped reading
            assert grown < 20 * 1024 * 1024, (path, grown)
            assert elapsed < 10, (path, elapsed)
        assert asyncio.run(store.load(user_id)).totp_devices == []
        assert asyncio.run(get_user_count(None)) == 1


@pytest.mark.slow
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_small_chunked_body_is_read_and_one_over_the_limit_is_not(
    devcore_app: str, framework: str
) -> None:
    """S17: the limit counts the bytes that arrive: a chunked body under 16 KB is read as
    usual (the device is created with the name sent), one just over is 413 and stores
    nothing, and a Content-Length over the limit is 413 before anything is read."""
    store = InMemoryStore()
    config = TwoFactorConfig(development=True, factors=("totp", "recovery-code"), store=store)
    with serving(framework, config, devcore_app) as url:
        signed_up = httpx.post(
            url + "/auth/signup",
            content=form("s17s@example.com"),
            headers={**HEADER_MODE, "Content-Type": "application/json"},
        )
        tokens = Tokens.of(signed_up)
        user_id = user_id_of(tokens)
        headers = {**tokens.auth(), "Content-Type": "application/json"}

        def chunked(payload: bytes) -> httpx.Response:
            return httpx.post(
                url + "/auth/2fa/totp/device", content=iter([payload]), headers=headers
            )

        padded = json.dumps({"deviceName": "chunked phone", "pad": "p" * (LIMIT - 100)}).encode()
        accepted = chunked(padded)
        assert accepted.status_code == 200 and accepted.json()["deviceName"] == "chunked phone"
        over = json.dumps({"deviceName": "second phone", "pad": "p" * LIMIT}).encode()
        assert chunked(over).status_code == 413
        declared = httpx.post(url + "/auth/2fa/totp/device", content=over, headers=headers)
        assert declared.status_code == 413
        assert [d.name for d in asyncio.run(store.load(user_id)).totp_devices] == ["chunked phone"]


def test_a_device_named_before_the_name_rules_can_still_be_removed(h: Harness) -> None:
    """S16: removal only looks a name up, so a device whose name an earlier version
    accepted (here with a zero-width space) can still be removed by that name, with a
    fresh 2FA; a new device cannot be given such a name."""
    tokens = h.signed_up("legacy@example.com")
    h.enrol_totp(tokens)
    user_id = user_id_of(tokens)
    legacy = "old\u200bphone"
    document = h.document(user_id)
    document["totp_devices"].append({**document["totp_devices"][0], "name": legacy})
    h.restore(user_id, document)
    refused(h.post("/auth/2fa/totp/device", tokens, {"deviceName": legacy}), 400)
    removed = h.post("/auth/2fa/totp/device/remove", tokens, {"deviceName": legacy})
    assert removed.json() == {"status": "OK", "didDeviceExist": True}
    assert [d.name for d in h.state(user_id).totp_devices] == ["authenticator"]
