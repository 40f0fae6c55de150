"""The Django example's settings: password sign-in, then TOTP, e-mail code or recovery code.

As in a Django app, SuperTokens is initialised when Django loads these settings: once per
process, under WSGI (``python -m examples.django_app``) and ASGI (``asgi.py``) alike.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from supertokens_python import (
    InputAppInfo,
    SupertokensConfig,
    SupertokensExperimentalConfig,
    init,
)

from examples.settings import Settings, announce, connect, setup_logging
from st_twofactor import TwoFactorConfig, build_recipe_list, cors_headers, speedups
from st_twofactor.http.routes import twofactor_plugin

EXAMPLE = Settings.from_env(default_port=8002, default_data_dir=Path(__file__).parent / "data")
setup_logging()
announce(EXAMPLE)

config = TwoFactorConfig(
    secret_keys=EXAMPLE.secret_keys,
    development=EXAMPLE.development,
    factors=EXAMPLE.factors,
    issuer="st-twofactor demo",
    enrolment_grace=EXAMPLE.enrolment_grace,
    remember_device=True,
)
init(
    app_info=InputAppInfo(
        app_name="st-twofactor demo",
        api_domain=EXAMPLE.origin,
        website_domain=EXAMPLE.website,
        api_base_path="/auth",
    ),
    supertokens_config=SupertokensConfig(connection_uri=connect(EXAMPLE)),
    framework="django",
    telemetry=False,
    recipe_list=build_recipe_list(
        config=config,
        session_config={"anti_csrf": "VIA_CUSTOM_HEADER"},
        emailpassword_email_delivery=EXAMPLE.password_reset_delivery,
    ),
    experimental=SupertokensExperimentalConfig(plugins=[twofactor_plugin(config)]),
)
speedups.reuse_core_connections()  # faster core calls: see README, "Speed"

SECRET_KEY = secrets.token_urlsafe(50)  # Django's own signing key: the demo signs nothing
DEBUG = EXAMPLE.development  # Django's error pages in development mode only
ALLOWED_HOSTS = [EXAMPLE.host, "localhost", "127.0.0.1"]
ROOT_URLCONF = "examples.django_app.urls"
DATABASES: dict[str, Any] = {}  # users live in the SuperTokens core
INSTALLED_APPS: list[str] = []
MIDDLEWARE = [
    "st_twofactor.django.Middleware",  # the SDK's, with 503 "core unreachable", not a 500
]
TIME_ZONE = "UTC"  # Django sets the process's time zone (the log's times) from it
LOGGING = {"version": 1, "disable_existing_loggers": False, "loggers": {"django": {}}}  # once

if EXAMPLE.cross_origin:  # a website on another origin (WEBSITE_DOMAIN) may call the API
    INSTALLED_APPS.append("corsheaders")
    MIDDLEWARE.insert(0, "corsheaders.middleware.CorsMiddleware")
    CORS_ALLOWED_ORIGINS = [EXAMPLE.website]
    CORS_ALLOW_CREDENTIALS = True
    CORS_ALLOW_HEADERS = cors_headers()
