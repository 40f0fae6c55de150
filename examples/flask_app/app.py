"""The Flask example: password sign-in, then TOTP, e-mail code or recovery code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, abort, send_from_directory
from supertokens_python import (
    InputAppInfo,
    SupertokensConfig,
    SupertokensExperimentalConfig,
    init,
)
from supertokens_python.framework.flask import Middleware

from examples.settings import Settings, connect
from st_twofactor import TwoFactorConfig, build_recipe_list, cors_headers, speedups
from st_twofactor.flask import answer_core_outages, get_session, require_2fa
from st_twofactor.http.routes import twofactor_plugin

STATIC = Path(__file__).parent.parent / "static"


def create_app(settings: Settings) -> Flask:
    config = TwoFactorConfig(
        secret_keys=settings.secret_keys,
        development=settings.development,
        factors=settings.factors,
        issuer="st-twofactor demo",
        enrolment_grace=settings.enrolment_grace,
        remember_device=True,
    )
    init(
        app_info=InputAppInfo(
            app_name="st-twofactor demo",
            api_domain=settings.origin,
            website_domain=settings.website,
            api_base_path="/auth",
        ),
        supertokens_config=SupertokensConfig(connection_uri=connect(settings)),
        framework="flask",
        mode="wsgi",
        telemetry=False,
        recipe_list=build_recipe_list(
            config=config,
            session_config={"anti_csrf": "VIA_CUSTOM_HEADER"},
            emailpassword_email_delivery=settings.password_reset_delivery,
        ),
        experimental=SupertokensExperimentalConfig(plugins=[twofactor_plugin(config)]),
    )
    speedups.reuse_core_connections()  # faster core calls: see README, "Speed"

    app = Flask(__name__, static_folder=STATIC, static_url_path="/static")
    Middleware(app)
    answer_core_outages(app)  # 503 "core unreachable" instead of a 500 on the SDK's routes

    @app.get("/api/secret")
    @require_2fa()
    def secret() -> dict[str, Any]:
        return {"message": "The protected API answered.", "userId": get_session().get_user_id()}

    @app.get("/")
    def page() -> Any:
        return send_from_directory(STATIC, "index.html")

    if settings.cross_origin:  # a website on another origin (WEBSITE_DOMAIN) may call the API
        allow_other_origin(app, settings.website)
    return app


def allow_other_origin(app: Flask, website: str) -> None:
    """CORS for ``website``, with the headers SuperTokens and st-twofactor need."""
    from flask_cors import CORS

    CORS(app, origins=[website], supports_credentials=True, allow_headers=cors_headers())

    # The SDK's routes are served by its middleware, not by Flask routes: without a route
    # for every path, Flask answers their preflight (OPTIONS) with 404.
    @app.route("/<path:u_path>")
    def catch_all(u_path: str) -> Any:
        abort(404)
