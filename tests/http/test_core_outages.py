"""answer_core_outages() (FastAPI, Flask) and st_twofactor.django.Middleware: the SDK's own
routes answer 503, not 500, while the core is down."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.http import HttpRequest, JsonResponse
from django.test import AsyncClient, Client, override_settings
from django.urls import path
from supertokens_python.recipe import emailpassword, session
from supertokens_python.syncio import get_user

from st_twofactor.http._outage import CORE_DOWN
from st_twofactor.testing import reset_supertokens

from ..helpers import django_settings
from ..helpers.ports import free_port
from ..helpers.sdk import sdk_init

django_settings.configure()

SIGN_IN = {
    "formFields": [
        {"id": "email", "value": "ada@example.com"},
        {"id": "password", "value": "correct-horse-42"},
    ]
}


def _dead_core() -> str:
    """A loopback URL where nothing listens: every core call is refused."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def down_core_sdk(request: pytest.FixtureRequest) -> Iterator[str]:
    framework: str = request.param
    sdk_init(
        _dead_core(),
        [emailpassword.init(), session.init()],
        framework=framework,
        app_name="outage tests",
    )
    yield framework
    reset_supertokens()


def _fastapi_client(answer: bool) -> Any:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from supertokens_python.framework.fastapi import get_middleware

    from st_twofactor.fastapi import answer_core_outages

    app = FastAPI()
    app.add_middleware(get_middleware())
    if answer:
        answer_core_outages(app)

    @app.get("/ok")
    async def ok() -> dict[str, str]:
        return {"status": "fine"}

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("a bug, not an outage")

    return TestClient(app, raise_server_exceptions=False)


def _flask_client(answer: bool, *, own_500: bool = False) -> Any:
    from flask import Flask, jsonify
    from supertokens_python.framework.flask import Middleware
    from werkzeug.exceptions import InternalServerError

    from st_twofactor.flask import answer_core_outages

    app = Flask(__name__)
    Middleware(app)
    if own_500:

        @app.errorhandler(InternalServerError)
        def mine(error: InternalServerError) -> Any:
            return jsonify(handled_by="the app"), 500

    if answer:
        answer_core_outages(app)

    @app.get("/ok")
    def ok() -> Any:
        return jsonify(status="fine")

    @app.get("/broken")
    def broken() -> Any:
        raise RuntimeError("a bug, not an outage")

    return app.test_client()


def _django_ok(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "fine"})


def _django_broken(request: HttpRequest) -> JsonResponse:
    raise RuntimeError("a bug, not an outage")


def _django_reads_a_user(request: HttpRequest) -> JsonResponse:
    """A view of the app's own that calls the core."""
    return JsonResponse({"found": get_user("someone") is not None})


urlpatterns = [
    path("ok", _django_ok),
    path("broken", _django_broken),
    path("user", _django_reads_a_user),
]

SDK_MIDDLEWARE = "supertokens_python.framework.django.django_middleware.middleware"
OUR_MIDDLEWARE = "st_twofactor.django.Middleware"


class _DjangoClient:
    """Django's test client, with ``DEBUG`` on (a 500 is the debug page) and the
    ``post(path, json=, headers=)`` of the other clients."""

    def __init__(self, middleware: str) -> None:
        self.middleware = middleware
        self.client = Client(raise_request_exception=False)

    def _settings(self) -> Any:
        return _django_settings(self.middleware)

    def post(self, url: str, json: Any = None, headers: dict[str, str] | None = None) -> Any:
        with self._settings():
            return self.client.post(
                url, data=_dumps(json), content_type="application/json", headers=headers or {}
            )

    def get(self, url: str) -> Any:
        with self._settings():
            return self.client.get(url)


def _django_settings(middleware: str) -> Any:
    return override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=[middleware], DEBUG=True)


def _dumps(value: Any) -> str:
    return json.dumps(value if value is not None else {})


def _client(framework: str, answer: bool) -> Any:
    if framework == "django":
        return _DjangoClient(OUR_MIDDLEWARE if answer else SDK_MIDDLEWARE)
    return _fastapi_client(answer) if framework == "fastapi" else _flask_client(answer)


def _json(response: Any) -> Any:
    return response.json() if callable(getattr(response, "json", None)) else response.get_json()


@pytest.mark.parametrize("down_core_sdk", ["fastapi", "flask", "django"], indirect=True)
def test_the_sdks_routes_answer_503_while_the_core_is_down(down_core_sdk: str) -> None:
    client = _client(down_core_sdk, answer=True)
    for route, body in [("/auth/signin", SIGN_IN), ("/auth/signup", SIGN_IN)]:
        response = client.post(route, json=body)
        assert response.status_code == 503, (route, response.status_code)
        assert _json(response) == {"message": CORE_DOWN}
    # a refresh goes to the core: 503, so the frontend keeps its tokens and may retry
    refresh = client.post("/auth/session/refresh", headers={"authorization": "Bearer x.y.z"})
    assert refresh.status_code == 503 and _json(refresh) == {"message": CORE_DOWN}
    assert client.get("/ok").status_code == 200
    assert client.get("/broken").status_code == 500, "other errors stay 500"


@pytest.mark.parametrize("down_core_sdk", ["fastapi", "flask", "django"], indirect=True)
def test_without_it_the_sdks_routes_answer_500(down_core_sdk: str) -> None:
    """What answer_core_outages() changes (a control for the test above)."""
    client = _client(down_core_sdk, answer=False)
    assert client.post("/auth/signin", json=SIGN_IN).status_code == 500


@pytest.mark.parametrize("down_core_sdk", ["flask"], indirect=True)
def test_flask_keeps_the_apps_own_500_handler(down_core_sdk: str) -> None:
    client = _flask_client(answer=True, own_500=True)
    assert client.post("/auth/signin", json=SIGN_IN).status_code == 503
    broken = client.get("/broken")
    assert broken.status_code == 500 and broken.get_json() == {"handled_by": "the app"}


@pytest.mark.parametrize("down_core_sdk", ["django"], indirect=True)
def test_django_a_view_that_calls_the_core_answers_503(down_core_sdk: str) -> None:
    """Not only the SDK's routes: the app's own views too, as with FastAPI and Flask."""
    answer = _DjangoClient(OUR_MIDDLEWARE).get("/user")
    assert answer.status_code == 503 and answer.json() == {"message": CORE_DOWN}
    assert _DjangoClient(SDK_MIDDLEWARE).get("/user").status_code == 500


@pytest.mark.parametrize("down_core_sdk", ["django"], indirect=True)
async def test_django_under_asgi(down_core_sdk: str) -> None:
    """The same middleware in an ASGI server (Django runs it in a worker thread)."""
    with _django_settings(OUR_MIDDLEWARE):
        client = AsyncClient(raise_request_exception=False)
        answer = await client.post("/auth/signin", SIGN_IN, content_type="application/json")
        assert answer.status_code == 503 and answer.json() == {"message": CORE_DOWN}
        assert (await client.get("/user")).status_code == 503
        assert (await client.get("/ok")).status_code == 200
        assert (await client.get("/broken")).status_code == 500
