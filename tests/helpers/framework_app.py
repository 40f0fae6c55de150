"""One app (FastAPI or Flask) with the 2FA plugin against the development core, an
injected clock and the events it emitted: for HTTP tests that run on both frameworks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from supertokens_python.ingredients.emaildelivery.types import EmailDeliveryConfig

from st_twofactor import events
from st_twofactor.config import TwoFactorConfig
from st_twofactor.factors.totp import algorithm as totp
from st_twofactor.http.routes import twofactor_plugin
from st_twofactor.recipes import build_recipe_list
from st_twofactor.stores import InMemoryStore

from .outbox import CapturedPasswordReset
from .sdk import Tokens, body, sdk_init, sign_in, sign_up

SECRET_KEY = "test-secret-key-0123456789abcdef"
START = 1_800_000_000.0
FRAMEWORKS = ("fastapi", "flask")


@dataclass
class Clock:
    now: float = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class App:
    """The app behind its test client, and what a test needs of it. The client keeps no
    cookies: each request sends only the tokens and headers a test gives it."""

    client: Any
    clock: Clock
    config: TwoFactorConfig
    seen: list[events.Event] = field(default_factory=list)

    def get(self, path: str, tokens: Tokens, **headers: str) -> Any:
        response = self.client.get(path, headers={**tokens.auth(), **headers})
        self._drop_cookies()
        _update(tokens, response)
        return response

    def post(self, path: str, tokens: Tokens | None, json: Any = None, **headers: str) -> Any:
        sent = {**(tokens.auth() if tokens is not None else {}), **headers}
        response = self.client.post(path, json=json, headers=sent)
        self._drop_cookies()
        if tokens is not None:
            _update(tokens, response)
        return response

    def _drop_cookies(self) -> None:
        jar = getattr(self.client, "cookies", None)  # the FastAPI TestClient's (httpx)
        if isinstance(jar, httpx.Cookies):
            jar.clear()

    def signed_up(self, email: str) -> Tokens:
        response = sign_up(self.client, email)
        assert body(response)["status"] == "OK", body(response)
        return Tokens.of(response)

    def signed_in(self, email: str, **headers: str) -> Tokens:
        response = sign_in(self.client, email, **headers)
        assert body(response)["status"] == "OK", body(response)
        return Tokens.of(response)

    def code(self, secret: str) -> str:
        return totp.code_at(secret, self.clock(), digits=self.config.totp_digits)

    def enrol_totp(self, tokens: Tokens) -> tuple[str, list[str]]:
        """Enrol and activate a device; its secret and the recovery codes."""
        created = body(self.post("/auth/2fa/totp/device", tokens, {}))
        assert created["status"] == "OK", created
        code = self.code(created["secret"])
        verified = body(self.post("/auth/2fa/totp/device/verify", tokens, {"code": code}))
        assert verified["status"] == "OK", verified
        return created["secret"], verified.get("recoveryCodes", [])

    def protected(self, tokens: Tokens) -> int:
        return int(self.get("/api/secret", tokens).status_code)


def _update(tokens: Tokens, response: Any) -> None:
    new_access = response.headers.get("st-access-token")
    if new_access:
        tokens.access = new_access


def make_app(
    framework: str,
    core_url: str,
    *,
    build_options: dict[str, Any] | None = None,
    **options: Any,
) -> App:
    """``init()`` the SDK for a config made of ``options`` (an in-memory store and TOTP
    with recovery codes unless given) and return the app on ``framework``;
    ``build_options``: more ``build_recipe_list`` arguments."""
    clock = options.pop("clock", None) or Clock()
    seen: list[events.Event] = []
    options.setdefault("store", InMemoryStore())
    options.setdefault("factors", ("totp", "recovery-code"))
    options.setdefault("on_event", seen.append)
    config = TwoFactorConfig(secret_keys=[SECRET_KEY], clock=clock, **options)
    recipes = {
        "emailpassword_email_delivery": EmailDeliveryConfig(service=CapturedPasswordReset([])),
        **(build_options or {}),
    }
    sdk_init(
        core_url,
        build_recipe_list(config=config, **recipes),
        framework="fastapi" if framework == "fastapi" else "flask",
        app_name="Framework Test",
        plugins=[twofactor_plugin(config)],
    )
    if framework == "fastapi":
        from fastapi import Depends, FastAPI
        from fastapi.testclient import TestClient
        from supertokens_python.framework.fastapi import get_middleware
        from supertokens_python.recipe.session import SessionContainer
        from supertokens_python.recipe.session.framework.fastapi import verify_session

        app: Any = FastAPI()
        app.add_middleware(get_middleware())

        @app.get("/api/secret")
        async def secret(session: SessionContainer = Depends(verify_session())) -> dict[str, str]:
            return {"user": session.get_user_id()}

        client: Any = TestClient(app)
    else:
        from flask import Flask, g, jsonify
        from supertokens_python.framework.flask import Middleware
        from supertokens_python.recipe.session.framework.flask import verify_session as verify

        app = Flask(__name__)
        Middleware(app)

        @app.route("/api/secret")
        @verify()
        def flask_secret() -> Any:
            return jsonify({"user": g.supertokens.get_user_id()})

        client = app.test_client(use_cookies=False)
    return App(client=client, clock=clock, config=config, seen=seen)
