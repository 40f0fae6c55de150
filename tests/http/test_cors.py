"""A website on another origin: the CORS preflight for the library's headers (issue 11.4).

``st_twofactor.cors_headers()`` is the SDK's ``get_all_cors_headers()`` plus
``Content-Type`` and the library's ``st-2fa-remember``; with it, a preflight asking for
each succeeds on FastAPI (``CORSMiddleware``) and Flask (``flask-cors``). The SDK's list
alone refuses ``st-2fa-remember`` (FastAPI answers 400, flask-cors leaves it out).
The browser walk across origins is in ``tests/browser/test_browser.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.testclient import TestClient
from flask import Flask, abort
from flask_cors import CORS
from supertokens_python import RecipeInit, get_all_cors_headers

from st_twofactor import TwoFactorConfig, build_recipe_list, cors_headers

WEBSITE = "http://localhost:3000"
ASKED = ["content-type", "rid", "fdi-version", "st-auth-mode", "st-2fa-remember"]
PREFLIGHT = {
    "Origin": WEBSITE,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": ",".join(ASKED),
}


def _recipes() -> list[RecipeInit]:
    return build_recipe_list(config=TwoFactorConfig(development=True))


def _allowed(response: Any) -> set[str]:
    value = response.headers.get("Access-Control-Allow-Headers", "")
    return {h.strip().lower() for h in value.split(",") if h.strip()}


def test_cors_headers_are_the_sdks_and_the_librarys(
    fastapi_app: Callable[[list[RecipeInit]], FastAPI],
) -> None:
    fastapi_app(_recipes())
    headers = cors_headers()
    assert {h.lower() for h in get_all_cors_headers()} <= set(headers)
    assert {"st-2fa-remember", "content-type"} <= set(headers)
    assert headers == sorted(set(headers))


def test_fastapi_preflight_for_st_2fa_remember_succeeds(
    fastapi_app: Callable[[list[RecipeInit]], FastAPI],
) -> None:
    app = fastapi_app(_recipes())
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[WEBSITE],
        allow_credentials=True,
        allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
        allow_headers=cors_headers(),
    )
    response = TestClient(app).options("/auth/signin", headers=PREFLIGHT)
    assert response.status_code == 200, response.text
    assert set(ASKED) <= _allowed(response)
    assert response.headers["Access-Control-Allow-Origin"] == WEBSITE
    assert response.headers["Access-Control-Allow-Credentials"] == "true"


def test_fastapi_preflight_with_the_sdks_list_alone_refuses_st_2fa_remember(
    fastapi_app: Callable[[list[RecipeInit]], FastAPI],
) -> None:
    """Why the library's list is needed: the failure it prevents."""
    app = fastapi_app(_recipes())
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[WEBSITE],
        allow_credentials=True,
        allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
        allow_headers=["Content-Type", *get_all_cors_headers()],
    )
    assert TestClient(app).options("/auth/signin", headers=PREFLIGHT).status_code == 400


def _with_catch_all(app: Flask) -> Flask:
    """The SDK's routes are served by its middleware, not by Flask routes; without a
    route Flask answers a preflight (OPTIONS) with 404. SuperTokens' Flask set-up adds a
    catch-all route so that Flask answers OPTIONS for every path."""

    @app.route("/", defaults={"u_path": ""})
    @app.route("/<path:u_path>")
    def catch_all(u_path: str) -> Any:
        abort(404)

    return app


def test_flask_preflight_for_st_2fa_remember_succeeds(
    flask_app: Callable[[list[RecipeInit]], Flask],
) -> None:
    app = _with_catch_all(flask_app(_recipes()))
    CORS(app, origins=[WEBSITE], supports_credentials=True, allow_headers=cors_headers())
    response = app.test_client().options("/auth/signin", headers=PREFLIGHT)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert set(ASKED) <= _allowed(response)
    assert response.headers["Access-Control-Allow-Origin"] == WEBSITE
    assert response.headers["Access-Control-Allow-Credentials"] == "true"


def test_flask_preflight_with_the_sdks_list_alone_drops_st_2fa_remember(
    flask_app: Callable[[list[RecipeInit]], Flask],
) -> None:
    app = _with_catch_all(flask_app(_recipes()))
    headers = ["Content-Type", *get_all_cors_headers()]
    CORS(app, origins=[WEBSITE], supports_credentials=True, allow_headers=headers)
    response = app.test_client().options("/auth/signin", headers=PREFLIGHT)
    assert response.status_code == 200 and "rid" in _allowed(response)
    assert "st-2fa-remember" not in _allowed(response)
