"""The FastAPI example: password sign-in, then TOTP, e-mail code or recovery code."""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from supertokens_python import (
    InputAppInfo,
    SupertokensConfig,
    SupertokensExperimentalConfig,
    init,
)
from supertokens_python.framework.fastapi import get_middleware
from supertokens_python.recipe.session import SessionContainer

from examples.prebuilt_ui import serve_prebuilt_ui
from examples.settings import Settings, connect
from st_twofactor import TwoFactorConfig, build_recipe_list, cors_headers, speedups
from st_twofactor.fastapi import answer_core_outages, require_2fa
from st_twofactor.http.routes import twofactor_plugin

STATIC = Path(__file__).parent.parent / "static"


def create_app(settings: Settings) -> FastAPI:
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
        framework="fastapi",
        mode="asgi",
        telemetry=False,
        recipe_list=build_recipe_list(
            config=config,
            session_config={"anti_csrf": "VIA_CUSTOM_HEADER"},
            emailpassword_email_delivery=settings.password_reset_delivery,
        ),
        experimental=SupertokensExperimentalConfig(plugins=[twofactor_plugin(config)]),
    )
    speedups.reuse_core_connections()  # faster core calls: see README, "Speed"

    app = FastAPI(title="st-twofactor demo")
    app.add_middleware(get_middleware())
    if settings.cross_origin:  # a website on another origin (WEBSITE_DOMAIN) may call the API
        app.add_middleware(
            CORSMiddleware,
            allow_origins=[settings.website],
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
            allow_headers=cors_headers(),
        )
    answer_core_outages(app)  # 503 "core unreachable" instead of a 500 on the SDK's routes

    @app.get("/api/secret")
    async def secret(session: SessionContainer = Depends(require_2fa())) -> dict[str, str]:
        return {"message": "The protected API answered.", "userId": session.get_user_id()}

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    serve_prebuilt_ui(app)  # SuperTokens' prebuilt UI at /ui/ and /legacy/, once built with npm
    return app
