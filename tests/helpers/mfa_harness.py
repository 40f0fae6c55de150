"""An app serving both HTTP dialects (``/auth/2fa`` and SuperTokens' MFA/TOTP routes) with
e-mail/SMS codes captured, for either framework: :func:`make_app`, and helpers that call
the MFA dialect as SuperTokens' web SDK does (bodies, ``rid`` headers)."""

from __future__ import annotations

from typing import Any

from supertokens_python.ingredients.emaildelivery.types import EmailDeliveryConfig
from supertokens_python.ingredients.smsdelivery.types import SMSDeliveryConfig

from st_twofactor import events
from st_twofactor.config import TwoFactorConfig
from st_twofactor.devcore import DevCore
from st_twofactor.factors.totp import algorithm as totp
from st_twofactor.http.routes import twofactor_plugin
from st_twofactor.recipes import build_recipe_list
from st_twofactor.stores import InMemoryStore

from .codes_harness import ALL_FACTORS, SECRET_KEY, Harness, add_protected_route
from .outbox import UNMETERED, CapturedEmail, CapturedPasswordReset, CapturedSMS, Sent
from .sdk import Tokens, body, sdk_init
from .twofactor_app import Clock

MFA_RID = {"rid": "multifactorauth"}
TOTP_RID = {"rid": "totp"}


def make_app(framework: str, devcore: DevCore, devcore_app: str, **options: Any) -> Harness:
    """The app: ``build_recipe_list`` and the plugin from one config (``options`` override
    the defaults: every factor but security keys, no send quota, an in-memory store)."""
    clock = Clock()
    seen: list[events.Event] = []
    outbox: list[Sent] = []
    settings: dict[str, Any] = {
        "factors": ALL_FACTORS,
        "secret_keys": [SECRET_KEY],
        "clock": clock,
        "on_event": seen.append,
        "store": InMemoryStore(),
        "send_quota": UNMETERED,
        **options,
    }
    config = TwoFactorConfig(**settings)
    recipe_list = build_recipe_list(
        config=config,
        email_delivery=EmailDeliveryConfig(service=CapturedEmail(outbox)),
        sms_delivery=SMSDeliveryConfig(service=CapturedSMS(outbox)),
        emailpassword_email_delivery=EmailDeliveryConfig(service=CapturedPasswordReset([])),
    )
    sdk_init(devcore_app, recipe_list, framework=framework, plugins=[twofactor_plugin(config)])  # type: ignore[arg-type]
    if framework == "fastapi":
        from fastapi import FastAPI
        from supertokens_python.framework.fastapi import get_middleware

        app: Any = FastAPI()
        app.add_middleware(get_middleware())
    else:
        from flask import Flask
        from supertokens_python.framework.flask import Middleware

        app = Flask(__name__)
        Middleware(app)
    client = add_protected_route(app, framework)
    app_id = devcore_app.rsplit("/appid-", 1)[1]
    return Harness(client, framework, clock, config, app_id, devcore, outbox, seen, True)


def put(h: Harness, path: str, tokens: Tokens, payload: Any = None) -> Any:
    """A PUT with the session (the MFA recipe's ``/mfa/info``)."""
    headers = {**tokens.auth(), **MFA_RID}
    response = h.client.put(path, json={} if payload is None else payload, headers=headers)
    access = response.headers.get("st-access-token")
    if access:
        tokens.access = access
    return response


def mfa_info(h: Harness, tokens: Tokens) -> dict[str, Any]:
    """``PUT /auth/mfa/info``'s body (asserting 200)."""
    response = put(h, "/auth/mfa/info", tokens)
    assert response.status_code == 200, body(response)
    answer: dict[str, Any] = body(response)
    return answer


def totp_post(h: Harness, path: str, tokens: Tokens, payload: Any) -> Any:
    """A POST to a TOTP recipe route, as web-js sends it."""
    response = h.client.post(path, json=payload, headers={**tokens.auth(), **TOTP_RID})
    access = response.headers.get("st-access-token")
    if access:
        tokens.access = access
    return response


def totp_get(h: Harness, path: str, tokens: Tokens) -> Any:
    """A GET of a TOTP recipe route, as web-js sends it."""
    response = h.client.get(path, headers={**tokens.auth(), **TOTP_RID})
    access = response.headers.get("st-access-token")
    if access:
        tokens.access = access
    return response


def enrol_totp_mfa(h: Harness, tokens: Tokens) -> str:
    """Set up a TOTP device through the MFA dialect, as the prebuilt UI does: create
    without a name, verify with the name it got. Returns the secret."""
    created = body(totp_post(h, "/auth/totp/device", tokens, {}))
    assert created["status"] == "OK", created
    code = totp.code_at(created["secret"], h.clock())
    verified = body(
        totp_post(
            h,
            "/auth/totp/device/verify",
            tokens,
            {"deviceName": created["deviceName"], "totp": code},
        )
    )
    assert verified["status"] == "OK", verified
    return str(created["secret"])
