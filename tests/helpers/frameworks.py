"""One app with the 2FA plugin on FastAPI or on Flask, for tests that run each case on
both: the SDK's middleware, ``build_recipe_list`` (optionally the UserRoles recipe too),
the plugin, a route that needs a completed 2FA, an injected clock and the events seen.

:func:`make_app` builds it; :class:`App` sends requests with header-mode tokens and
returns ``(status code, JSON body)`` the same way for both frameworks.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal

from supertokens_python.ingredients.emaildelivery.types import EmailDeliveryConfig

from st_twofactor import events
from st_twofactor.config import TwoFactorConfig
from st_twofactor.factors.totp import algorithm as totp
from st_twofactor.http.routes import twofactor_plugin
from st_twofactor.recipes import build_recipe_list
from st_twofactor.stores import InMemoryStore, TwoFactorState

from .outbox import CapturedPasswordReset
from .sdk import Tokens, body, jwt_payload, sdk_init, sign_in, sign_up

SECRET_KEY = "test-secret-key-0123456789abcdef"
START = 1_800_000_000.0
"""Where the library's clock starts (the SDK's own token times use the real clock)."""
Framework = Literal["fastapi", "flask"]


@dataclass
class Clock:
    now: float = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class App:
    """The app under test and what a test needs of it."""

    framework: Framework
    client: Any
    clock: Clock
    config: TwoFactorConfig
    seen: list[events.Event] = field(default_factory=list)

    def get(self, path: str, tokens: Tokens) -> tuple[int, Any]:
        return self._answer(self.client.get(path, headers=tokens.auth()), tokens)

    def post(self, path: str, tokens: Tokens, json: Any = None) -> tuple[int, Any]:
        response = self.client.post(path, json={} if json is None else json, headers=tokens.auth())
        return self._answer(response, tokens)

    def protected(self, tokens: Tokens) -> int:
        return self.get("/api/secret", tokens)[0]

    def overview(self, tokens: Tokens) -> dict[str, Any]:
        code, answer = self.get("/auth/2fa", tokens)
        assert code == 200 and answer["status"] == "OK", answer
        return dict(answer)

    def signed_up(self, email: str) -> Tokens:
        response = sign_up(self.client, email)
        assert body(response)["status"] == "OK", body(response)
        return Tokens.of(response)

    def signed_in(self, email: str) -> Tokens:
        response = sign_in(self.client, email)
        assert body(response)["status"] == "OK", body(response)
        return Tokens.of(response)

    def code(self, secret: str, seconds: float = 0) -> str:
        """The code of ``secret`` at the library's now plus ``seconds``."""
        return totp.code_at(secret, self.clock() + seconds, digits=self.config.totp_digits)

    def enrol_totp(self, tokens: Tokens, name: str = "phone") -> tuple[str, list[str]]:
        """Enrol and activate a TOTP device; its secret and the recovery codes (if new)."""
        code, created = self.post("/auth/2fa/totp/device", tokens, {"deviceName": name})
        assert code == 200 and created["status"] == "OK", created
        code, verified = self.post(
            "/auth/2fa/totp/device/verify",
            tokens,
            {"deviceName": name, "code": self.code(created["secret"])},
        )
        assert code == 200 and verified["status"] == "OK", verified
        return created["secret"], verified.get("recoveryCodes", [])

    def state(self, user_id: str) -> TwoFactorState:
        return asyncio.run(self.config.state_store.load(user_id))

    @staticmethod
    def claim(tokens: Tokens) -> dict[str, Any]:
        entry: dict[str, Any] = jwt_payload(tokens.access or "")["2fa-completed"]
        return entry

    @staticmethod
    def user_id(tokens: Tokens) -> str:
        return str(jwt_payload(tokens.access or "")["sub"])

    @staticmethod
    def _answer(response: Any, tokens: Tokens) -> tuple[int, Any]:
        new_access = response.headers.get("st-access-token")
        if new_access:
            tokens.access = new_access
        return int(response.status_code), body(response)


def make_app(
    framework: Framework, core_url: str, *, user_roles: bool = False, **options: Any
) -> App:
    """``init()`` the SDK on ``core_url`` for a config made of ``options`` (defaults: an
    in-memory store, TOTP and recovery codes) and return the app on ``framework``."""
    clock = Clock()
    seen: list[events.Event] = []
    options.setdefault("store", InMemoryStore())
    options.setdefault("factors", ("totp", "recovery-code"))
    config = TwoFactorConfig(secret_keys=[SECRET_KEY], clock=clock, on_event=seen.append, **options)
    recipes = build_recipe_list(
        config=config,
        email_delivery=None,
        emailpassword_email_delivery=EmailDeliveryConfig(service=CapturedPasswordReset([])),
    )
    if user_roles:
        from supertokens_python.recipe import userroles

        recipes.append(userroles.init())
    sdk_init(
        core_url,
        recipes,
        framework=framework,
        app_name="Frameworks Test",
        plugins=[twofactor_plugin(config)],
    )
    if framework == "fastapi":
        return App(framework, _fastapi_client(), clock, config, seen)
    return App(framework, _flask_client(), clock, config, seen)


def _fastapi_client() -> Any:
    from fastapi import Depends, FastAPI
    from fastapi.testclient import TestClient
    from supertokens_python.framework.fastapi import get_middleware
    from supertokens_python.recipe.session import SessionContainer
    from supertokens_python.recipe.session.framework.fastapi import verify_session

    app = FastAPI()
    app.add_middleware(get_middleware())

    @app.get("/api/secret")
    async def secret(session: SessionContainer = Depends(verify_session())) -> dict[str, str]:
        return {"user": session.get_user_id()}

    return TestClient(app)


def _flask_client() -> Any:
    from flask import Flask, g, jsonify
    from supertokens_python.framework.flask import Middleware
    from supertokens_python.recipe.session.framework.flask import verify_session

    app = Flask(__name__)
    Middleware(app)

    @app.route("/api/secret")
    @verify_session()
    def secret() -> Any:
        return jsonify({"user": g.supertokens.get_user_id()})

    return app.test_client()
