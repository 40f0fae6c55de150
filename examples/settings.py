"""What the examples share: settings from the environment and the core to connect to.

=============================  ==================================================
``HOST`` / ``PORT``            where the app listens (127.0.0.1; 8000 FastAPI, 5000 Flask,
                               8002 Django)
``SUPERTOKENS_CONNECTION_URI`` a SuperTokens core; unset: the embedded development core,
                               stored in ``ST2FA_DATA_DIR`` (default ``examples/<app>/data``)
``ST2FA_SECRET_KEY``           the key for TOTP secrets at rest (comma-separated to rotate);
                               unset: development mode
``ST2FA_DEVELOPMENT``          ``1``/``0`` to force development mode on or off
``ST2FA_ENROLMENT_GRACE_DAYS`` let users without 2FA put its set-up off this many days
                               (the page offers "set up later"); unset: no grace
``WEBSITE_DOMAIN``             the website's origin, for links in e-mails (password
                               reset) and CORS; unset: the app's own origin (the demo
                               page is served by the app). Another origin turns CORS on.
=============================  ==================================================

Security keys and passkeys (factor ``webauthn``) are on whenever the website's origin
allows them: browsers refuse WebAuthn on an IP address, so a website on ``127.0.0.1`` is
opened at ``http://localhost:PORT`` (the RP ID is ``localhost``), the URL the examples
print at start.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from supertokens_python.ingredients.emaildelivery.types import (
    EmailDeliveryConfig,
    EmailDeliveryInterface,
)
from supertokens_python.recipe.emailpassword.types import EmailTemplateVars

from st_twofactor.devcore import DevCore
from st_twofactor.errors import ConfigurationError

log = logging.getLogger("examples")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    connection_uri: str | None
    secret_keys: tuple[str, ...]
    development: bool
    data_dir: Path
    website_domain: str | None = None
    enrolment_grace: timedelta | None = None

    @classmethod
    def from_env(cls, *, default_port: int, default_data_dir: Path) -> Settings:
        keys = tuple(k.strip() for k in os.environ.get("ST2FA_SECRET_KEY", "").split(",") if k)
        development = os.environ.get("ST2FA_DEVELOPMENT")
        return cls(
            host=os.environ.get("HOST", "127.0.0.1"),
            port=int(os.environ.get("PORT", default_port)),
            connection_uri=os.environ.get("SUPERTOKENS_CONNECTION_URI") or None,
            secret_keys=keys,
            development=not keys if development is None else _flag(development),
            data_dir=Path(os.environ.get("ST2FA_DATA_DIR", default_data_dir)),
            website_domain=os.environ.get("WEBSITE_DOMAIN", "").rstrip("/") or None,
            enrolment_grace=_days(os.environ.get("ST2FA_ENROLMENT_GRACE_DAYS", "")),
        )

    @property
    def origin(self) -> str:
        """The app's own origin: the demo page and the API are served together."""
        return f"http://{self.host}:{self.port}"

    @property
    def website(self) -> str:
        """The website's origin: ``WEBSITE_DOMAIN``, else the app's own origin."""
        return self.website_domain or self.origin

    @property
    def cross_origin(self) -> bool:
        """Whether the website is on another origin, so the API must answer CORS."""
        return self.website != self.origin

    @property
    def password_reset_delivery(self) -> EmailDeliveryConfig[EmailTemplateVars] | None:
        """How password-reset e-mails go out: in development the library logs the link;
        outside it a real app passes its mail service (e.g. the SDK's ``SMTPService``).
        The demo has none, so it says so in the log and sends nothing."""
        return None if self.development else EmailDeliveryConfig(service=_NoMailService())

    @property
    def factors(self) -> tuple[str, ...]:
        """E-mail codes need a mail service outside development (see README); security
        keys a website WebAuthn allows (see the module doc)."""
        keys = ("webauthn",) if self.webauthn_allowed else ()
        if self.development:
            return ("totp", "otp-email", "recovery-code", *keys)
        return ("totp", "recovery-code", *keys)

    @property
    def webauthn_allowed(self) -> bool:
        """Whether the WebAuthn policy can be derived from the website's origin."""
        try:
            import st_twofactor.factors.webauthn.ceremonies  # noqa: F401  (needs py_webauthn)
            from st_twofactor import WebAuthnPolicy
        except ImportError:  # pip install 'st-twofactor[webauthn]'
            return False
        try:
            WebAuthnPolicy.from_app_info(
                app_name="demo", website_domain=self.website, api_domain=self.origin
            )
        except ConfigurationError:
            return False
        return True

    @property
    def open_url(self) -> str:
        """Where to open the demo page: a loopback website as ``localhost`` (WebAuthn)."""
        parts = urlsplit(self.website)
        if parts.hostname in ("127.0.0.1", "::1") and parts.port is not None:
            return f"{parts.scheme}://localhost:{parts.port}"
        return self.website


def _days(value: str) -> timedelta | None:
    if not value.strip():
        return None
    try:
        return timedelta(days=float(value))
    except ValueError:
        message = f"ST2FA_ENROLMENT_GRACE_DAYS must be a number of days, got {value!r}"
        raise ValueError(message) from None


def _flag(value: str) -> bool:
    if value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise ValueError(f"ST2FA_DEVELOPMENT must be 1 or 0, got {value!r}")


class _NoMailService(EmailDeliveryInterface[EmailTemplateVars]):
    async def send_email(
        self, template_vars: EmailTemplateVars, user_context: dict[str, Any]
    ) -> None:
        log.warning("no mail service configured: a password-reset e-mail was not sent")


def setup_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per core request


def announce(settings: Settings) -> None:
    """Log the URL to open (security keys need ``localhost``, not ``127.0.0.1``)."""
    log.info("st-twofactor demo: open %s/ in a browser", settings.open_url)
    if "webauthn" not in settings.factors:
        log.warning("security keys are off: browsers allow WebAuthn on https or localhost only")


def connect(settings: Settings) -> str:
    """The core's connection URI: the configured one, or a started development core."""
    if settings.development:
        log.warning(
            "*** DEVELOPMENT MODE: %s; e-mailed codes are written to this log. "
            "Set ST2FA_SECRET_KEY for anything but local development. ***",
            "ST2FA_SECRET_KEY is not set"
            if not settings.secret_keys
            else "ST2FA_DEVELOPMENT is on",
        )
    if settings.connection_uri:
        return settings.connection_uri
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    core = DevCore(str(settings.data_dir / "devcore.sqlite3")).start()
    return core.url
