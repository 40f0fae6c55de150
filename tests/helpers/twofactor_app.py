"""The app that the attack, property, load and fault tests drive, and a harness for it.

One FastAPI app with the SDK's middleware, ``build_recipe_list`` and the 2FA plugin,
against a SuperTokens core (the development core), with:

- ``GET /api/secret``: the SDK's plain ``verify_session()`` (needs a completed 2FA);
- ``GET /api/step-up``: ``require_2fa(max_age=60)``;
- ``GET /health``: no SDK involved, to tell that the server is up.

:func:`create_app` is a uvicorn factory configured by environment variables, for the
load and fault tests that run the app as separate worker processes:
``ST2FA_CORE_URL`` (required), ``ST2FA_REDIS_URL`` (use a RedisStore; default: user
metadata), ``ST2FA_REDIS_PREFIX``, ``ST2FA_SQL_URL`` and ``ST2FA_SQL_TABLE`` (use an
SQLStore on that table, which must exist).

:class:`Harness` runs the app in this process behind a ``TestClient``, with an injected
clock and captured e-mail/SMS codes, for the attack and property tests.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, FastAPI
from supertokens_python.framework.fastapi import get_middleware
from supertokens_python.ingredients.emaildelivery.types import (
    EmailDeliveryConfig,
)
from supertokens_python.ingredients.smsdelivery.types import (
    SMSDeliveryConfig,
)
from supertokens_python.recipe.session import SessionContainer
from supertokens_python.recipe.session.framework.fastapi import verify_session

from st_twofactor.config import TwoFactorConfig
from st_twofactor.events import Event
from st_twofactor.factors.totp import algorithm as totp
from st_twofactor.fastapi import answer_core_outages, require_2fa
from st_twofactor.http.routes import twofactor_plugin
from st_twofactor.recipes import build_recipe_list
from st_twofactor.stores import InMemoryStore, TwoFactorState

from .outbox import UNMETERED, CapturedEmail, CapturedPasswordReset, CapturedSMS, Sent
from .sdk import API_DOMAIN, HEADER_MODE, PASSWORD, sdk_init, share_one_tls_context

SECRET_KEY = "test-secret-key-0123456789abcdef"
ALL_FACTORS = ("totp", "otp-email", "otp-phone", "recovery-code")
RESET_LINKS: list[str] = []
"""Password-reset links the test apps e-mailed, newest last."""
STEP_UP_MAX_AGE = 60


# -- the app --


def build_app(
    core_url: str,
    config: TwoFactorConfig,
    outbox: list[Sent],
    *,
    debug: bool = False,
    session_config: dict[str, Any] | None = None,
    delivery_delay: float = 0.0,
) -> FastAPI:
    """``init()`` the SDK for ``config`` against ``core_url`` and return the app
    (``session_config``: ``session.init`` options, e.g. ``cookie_secure``;
    ``delivery_delay``: seconds each e-mailed or texted code takes to send)."""
    deliveries: dict[str, Any] = {
        "emailpassword_email_delivery": EmailDeliveryConfig(
            service=CapturedPasswordReset(RESET_LINKS)
        )
    }
    if "otp-email" in config.factors:
        deliveries["email_delivery"] = EmailDeliveryConfig(
            service=CapturedEmail(outbox, delivery_delay)
        )
    if "otp-phone" in config.factors:
        deliveries["sms_delivery"] = SMSDeliveryConfig(service=CapturedSMS(outbox, delivery_delay))
    sdk_init(
        core_url,
        build_recipe_list(config=config, session_config=session_config, **deliveries),
        app_name="Attack Test",
        plugins=[twofactor_plugin(config)],
        debug=debug,
    )
    app = FastAPI()
    app.add_middleware(get_middleware())
    answer_core_outages(app)

    @app.get("/api/secret")
    async def secret(session: SessionContainer = Depends(verify_session())) -> dict[str, str]:
        return {"user": session.get_user_id()}

    @app.get("/api/step-up")
    async def step_up(
        session: SessionContainer = Depends(require_2fa(max_age=STEP_UP_MAX_AGE, now=config.clock)),
    ) -> dict[str, str]:
        return {"user": session.get_user_id()}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "OK"}

    return app


def create_app() -> FastAPI:
    """uvicorn factory (``tests.helpers.twofactor_app:create_app --factory``), set up from
    the environment."""
    share_one_tls_context()  # speed only, as in tests/conftest.py
    store: Any = None
    redis_url = os.environ.get("ST2FA_REDIS_URL")
    if redis_url:
        from st_twofactor.stores.redis import RedisStore

        store = RedisStore(redis_url, prefix=os.environ.get("ST2FA_REDIS_PREFIX", "st2fa-load:"))
    sql_url = os.environ.get("ST2FA_SQL_URL")
    if sql_url:
        from st_twofactor.stores.sql import SQLStore

        store = SQLStore(sql_url, table=os.environ["ST2FA_SQL_TABLE"], timeout=2.0)
    factors = os.environ.get("ST2FA_FACTORS", "totp,recovery-code").split(",")
    config = TwoFactorConfig(secret_keys=[SECRET_KEY], factors=tuple(factors), store=store)
    return build_app(os.environ["ST2FA_CORE_URL"], config, [])


# -- the harness --


@dataclass
class Clock:
    """The library's clock; starts at the real time, so access tokens stay valid."""

    now: float = field(default_factory=time.time)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Tokens:
    """Header-based session tokens; requests through the harness keep them current."""

    access: str | None
    refresh: str | None = None

    @classmethod
    def of(cls, response: Any) -> Tokens:
        return cls(
            response.headers.get("st-access-token"), response.headers.get("st-refresh-token")
        )

    def auth(self) -> dict[str, str]:
        assert self.access is not None, "no access token"
        return {"Authorization": f"Bearer {self.access}", **HEADER_MODE}


@dataclass
class Harness:
    """The app in this process behind a TestClient, with its clock, outbox and events."""

    client: Any
    clock: Clock
    config: TwoFactorConfig
    outbox: list[Sent]
    seen: list[Event]

    # -- HTTP --

    def request(
        self,
        method: str,
        path: str,
        tokens: Tokens | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> Any:
        sent = {**(tokens.auth() if tokens is not None else HEADER_MODE), **(headers or {})}
        if json is not None:
            kw["json"] = json
        response = self.client.request(method, path, headers=sent, **kw)
        if tokens is not None and response.headers.get("st-access-token"):
            tokens.access = response.headers["st-access-token"]
        return response

    def post(self, path: str, tokens: Tokens | None = None, json: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, tokens, json if json is not None else {}, **kw)

    def get(self, path: str, tokens: Tokens | None = None, **kw: Any) -> Any:
        return self.request("GET", path, tokens, **kw)

    def protected(self, tokens: Tokens) -> int:
        return int(self.get("/api/secret", tokens).status_code)

    # -- first factor --

    def sign_up(self, email: str, password: str = PASSWORD, **headers: str) -> Any:
        return self.post("/auth/signup", None, _form(email, password), headers=headers)

    def sign_in(self, email: str, password: str = PASSWORD, **headers: str) -> Any:
        return self.post("/auth/signin", None, _form(email, password), headers=headers)

    def signed_up(self, email: str) -> Tokens:
        response = self.sign_up(email)
        assert response.json()["status"] == "OK", response.json()
        return Tokens.of(response)

    def signed_in(self, email: str, **headers: str) -> Tokens:
        response = self.sign_in(email, **headers)
        assert response.json()["status"] == "OK", response.json()
        return Tokens.of(response)

    # -- second factors --

    def code(self, secret: str, steps: int = 0) -> str:
        return totp.code_at(secret, self.clock() + 30 * steps, digits=self.config.totp_digits)

    def enrol_totp(self, tokens: Tokens, name: str | None = None) -> tuple[str, list[str]]:
        """Enrol and activate a device; its secret and the recovery codes (if new)."""
        named = {"deviceName": name} if name else {}
        created = self.post("/auth/2fa/totp/device", tokens, named).json()
        assert created["status"] == "OK", created
        verified = self.post(
            "/auth/2fa/totp/device/verify", tokens, {**named, "code": self.code(created["secret"])}
        ).json()
        assert verified["status"] == "OK", verified
        return created["secret"], verified.get("recoveryCodes", [])

    def verify_totp(self, tokens: Tokens, code: str, **extra: Any) -> Any:
        return self.post("/auth/2fa/totp/verify", tokens, {"code": code, **extra})

    def verify_recovery(self, tokens: Tokens, code: str) -> Any:
        return self.post("/auth/2fa/recovery-code/verify", tokens, {"code": code})

    def ask_code(self, tokens: Tokens | None, **destination: str) -> tuple[Any, Sent | None]:
        """POST /auth/signinup/code: the answer, and the code it sent if any."""
        before = len(self.outbox)
        response = self.post("/auth/signinup/code", tokens, destination)
        return response, self.outbox[-1] if len(self.outbox) > before else None

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

    # -- state --

    def state(self, user_id: str) -> TwoFactorState:
        return asyncio.run(self.config.state_store.load(user_id))

    def document(self, user_id: str) -> dict[str, Any]:
        return self.state(user_id).to_dict()

    def restore(self, user_id: str, document: dict[str, Any]) -> None:
        """Put back a user's state as it was (tests that try many requests on one user)."""
        saved = TwoFactorState.from_dict(document)

        def put(state: TwoFactorState) -> None:
            state.__dict__.update(saved.__dict__)

        asyncio.run(self.config.state_store.update(user_id, put))


def make_harness(
    core_url: str,
    *,
    debug: bool = False,
    session_config: dict[str, Any] | None = None,
    delivery_delay: float = 0.0,
    **options: Any,
) -> Harness:
    """Build the app in this process; ``options`` go to :class:`TwoFactorConfig`,
    ``session_config`` to ``session.init``, ``delivery_delay`` to the captured
    deliveries (seconds per send)."""
    from fastapi.testclient import TestClient

    clock = Clock()
    seen: list[Event] = []
    outbox: list[Sent] = []
    settings: dict[str, Any] = {
        "secret_keys": [SECRET_KEY],
        "factors": ALL_FACTORS,
        "clock": clock,
        "on_event": seen.append,
        "store": InMemoryStore(),
        "send_quota": UNMETERED,
        **options,
    }
    config = TwoFactorConfig(**settings)
    app = build_app(
        core_url,
        config,
        outbox,
        debug=debug,
        session_config=session_config,
        delivery_delay=delivery_delay,
    )
    return Harness(TestClient(app, base_url=API_DOMAIN), clock, config, outbox, seen)


def user_id_of(tokens: Tokens) -> str:
    from .sdk import jwt_payload

    assert tokens.access is not None
    return str(jwt_payload(tokens.access)["sub"])


def _form(email: str, password: str) -> dict[str, Any]:
    return {"formFields": [{"id": "email", "value": email}, {"id": "password", "value": password}]}
