"""The e-mailed and texted codes over HTTP: a harness for an app of either framework.

:class:`Harness` wraps a FastAPI or Flask app built from ``build_recipe_list`` by the
``fastapi_app`` / ``flask_app`` fixtures, with its test client, injected clock, captured
codes (``outbox``) and events; :func:`add_protected_route` adds ``GET /protected`` (the
SDK's plain ``verify_session()``, which needs a completed 2FA).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from supertokens_python import RecipeInit

from st_twofactor import Event, TwoFactorConfig, TwoFactorState
from st_twofactor.devcore import DevCore
from st_twofactor.stores import InMemoryStore

from .outbox import UNMETERED, Sent
from .sdk import API_DOMAIN, HEADER_MODE, Tokens, body, jwt_payload, sign_in, sign_up, status
from .twofactor_app import Clock

SECRET_KEY = "test-secret-key-0123456789abcdef"
ALL_FACTORS = ("totp", "otp-email", "otp-phone", "recovery-code")
PHONE = "+14155550100"
OTHER_PHONE = "+14155550199"


@dataclass
class Harness:
    """An app (FastAPI or Flask) from ``build_recipe_list``, its outbox and events."""

    client: Any
    framework: str
    clock: Clock
    config: TwoFactorConfig
    app_id: str
    devcore: DevCore
    outbox: list[Sent]
    seen: list[Event]
    uses_session: bool = False
    """Add ``"shouldTryLinkingWithSessionUser": true`` to the passwordless requests made
    with a session (where passwordless is also a first factor, only those are second
    factors), unless the payload sets it."""

    # -- HTTP --

    def post(self, path: str, tokens: Tokens | None, payload: Any = None, **kw: Any) -> Any:
        headers = tokens.auth() if tokens is not None else dict(HEADER_MODE)
        if (
            self.uses_session
            and tokens is not None
            and path.startswith("/auth/signinup/code")
            and isinstance(payload, dict)
        ):
            payload = {"shouldTryLinkingWithSessionUser": True, **payload}
        response = self.client.post(path, json=payload, headers=headers, **kw)
        if tokens is not None:
            _update(tokens, response)
        return response

    def post_raw(self, path: str, tokens: Tokens | None, data: bytes) -> Any:
        headers = tokens.auth() if tokens is not None else dict(HEADER_MODE)
        headers["Content-Type"] = "application/json"
        if self.framework == "flask":
            return self.client.post(path, data=data, headers=headers)
        return self.client.post(path, content=data, headers=headers)

    def get(self, path: str, tokens: Tokens | None) -> Any:
        headers = tokens.auth() if tokens is not None else dict(HEADER_MODE)
        response = self.client.get(path, headers=headers)
        if tokens is not None:
            _update(tokens, response)
        return response

    def protected(self, tokens: Tokens) -> int:
        return status(self.get("/protected", tokens))

    # -- flows --

    def signed_up(self, email: str) -> Tokens:
        response = sign_up(self.client, email)
        assert body(response)["status"] == "OK", body(response)
        return Tokens.of(response)

    def signed_in(self, email: str) -> Tokens:
        response = sign_in(self.client, email)
        assert body(response)["status"] == "OK", body(response)
        return Tokens.of(response)

    def ask(self, tokens: Tokens | None, **destination: Any) -> tuple[Any, Sent | None]:
        """POST /auth/signinup/code; the answer and the message it sent, if any."""
        before = len(self.outbox)
        response = self.post("/auth/signinup/code", tokens, destination)
        assert len(self.outbox) - before <= 1
        return response, self.outbox[-1] if len(self.outbox) > before else None

    def ask_ok(self, tokens: Tokens, **destination: Any) -> tuple[dict[str, Any], Sent]:
        response, sent = self.ask(tokens, **destination)
        answer = body(response)
        assert status(response) == 200 and answer["status"] == "OK", answer
        assert sent is not None and sent.pre_auth_session_id == answer["preAuthSessionId"]
        return answer, sent

    def consume(self, tokens: Tokens | None, device: dict[str, Any], code: str) -> Any:
        return self.post(
            "/auth/signinup/code/consume",
            tokens,
            {
                "preAuthSessionId": device["preAuthSessionId"],
                "deviceId": device["deviceId"],
                "userInputCode": code,
            },
        )

    def complete_with_email(self, tokens: Tokens, email: str) -> None:
        device, sent = self.ask_ok(tokens, email=email)
        answer = body(self.consume(tokens, device, sent.code))
        assert answer["status"] == "OK", answer

    # -- state --

    def state(self, user_id: str) -> TwoFactorState:
        return asyncio.run(self.config.state_store.load(user_id))

    def document(self, user_id: str) -> dict[str, Any]:
        return self.state(user_id).to_dict()

    def user_count(self) -> int:
        with self.devcore.db.transaction() as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM users WHERE app_id=?", (self.app_id,)
            ).fetchone()
        return int(row[0])

    def passwordless_devices(self) -> int:
        with self.devcore.db.transaction() as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM passwordless_devices WHERE app_id=?", (self.app_id,)
            ).fetchone()
        return int(row[0])

    def core_calls(self) -> int:
        """Requests the core answered for this app (the cached JWKS fetch left out)."""
        return len(self.core_paths())

    def core_paths(self) -> list[str]:
        """Method and path of each request the core answered for this app, JWKS left out."""
        requests = self.devcore.requests(self.app_id)
        return [f"{r.method} {r.path}" for r in requests if not r.path.endswith("/jwks.json")]

    def kinds(self) -> list[str]:
        return [e.kind for e in self.seen]


def _update(tokens: Tokens, response: Any) -> None:
    access = response.headers.get("st-access-token")
    if access:
        tokens.access = access


def user_id_of(tokens: Tokens) -> str:
    assert tokens.access is not None
    return str(jwt_payload(tokens.access)["sub"])


def handle_of(tokens: Tokens) -> str:
    assert tokens.access is not None
    return str(jwt_payload(tokens.access)["sessionHandle"])


def codes_request(device: dict[str, Any]) -> dict[str, Any]:
    return {"preAuthSessionId": device["preAuthSessionId"], "deviceId": device["deviceId"]}


def build_harness(
    framework: str,
    make_app: Callable[[list[RecipeInit]], Any],
    devcore: DevCore,
    devcore_app: str,
    recipes: Callable[[TwoFactorConfig, list[Sent]], list[RecipeInit]],
    *,
    uses_session: bool = False,
    **options: Any,
) -> Harness:
    """The harness the code tests share: a config with every code factor, this module's
    secret key, a clock of its own, events recorded and no send quota (``options``
    override any of it; ``store``: an in-memory one unless given, ``"metadata"`` for the
    default store, the user's SuperTokens metadata), and the app ``make_app`` builds from
    ``recipes(config, outbox)`` for ``framework``, with ``GET /protected``."""
    clock = Clock()
    seen: list[Event] = []
    outbox: list[Sent] = []
    store = options.pop("store", None)
    settings: dict[str, Any] = {
        "factors": ALL_FACTORS,
        "secret_keys": [SECRET_KEY],
        "clock": clock,
        "on_event": seen.append,
        "send_quota": UNMETERED,
        **options,
    }
    if store != "metadata":
        settings["store"] = InMemoryStore() if store is None else store
    config = TwoFactorConfig(**settings)
    client = add_protected_route(make_app(recipes(config, outbox)), framework)
    app_id = devcore_app.rsplit("/appid-", 1)[1]
    return Harness(client, framework, clock, config, app_id, devcore, outbox, seen, uses_session)


def add_protected_route(app: Any, framework: str) -> Any:
    """``GET /protected``: the SDK's plain ``verify_session()`` (needs a completed 2FA)."""
    if framework == "fastapi":
        from fastapi import Depends
        from fastapi.testclient import TestClient
        from supertokens_python.recipe.session import SessionContainer
        from supertokens_python.recipe.session.framework.fastapi import verify_session

        guarded = Depends(verify_session())

        @app.get("/protected")  # type: ignore[untyped-decorator]
        async def protected(s: SessionContainer = guarded) -> dict[str, Any]:
            return {"handle": s.get_handle()}

        return TestClient(app, base_url=API_DOMAIN)

    from flask import g
    from supertokens_python.recipe.session.framework.flask import verify_session as flask_verify

    @app.route("/protected")  # type: ignore[untyped-decorator]
    @flask_verify()
    def protected_flask() -> dict[str, Any]:
        return {"handle": g.supertokens.get_handle()}

    return app.test_client()
