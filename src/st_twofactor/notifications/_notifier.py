"""From events to security e-mails: which events are told, to which address, in which
language, through which delivery (see :mod:`st_twofactor.notifications`).

:meth:`Notifier.notify` runs in the request: it only picks the template and reads the
request's ``Accept-Language``, then hands the rest to the background sender
(:mod:`~st_twofactor.notifications._outbox`): looking up the user's e-mail address,
choosing the language, rendering and sending.
"""

from __future__ import annotations

import datetime
import inspect
import logging
import math
from string import Template
from typing import TYPE_CHECKING, Any

from supertokens_python.ingredients.emaildelivery.types import EmailDeliveryInterface

from st_twofactor import events
from st_twofactor.notifications import FACTOR_NAMES, Notifications, SecurityEmail
from st_twofactor.notifications._outbox import Outbox

if TYPE_CHECKING:
    from supertokens_python.ingredients.emaildelivery.types import SMTPServiceInterface

    from st_twofactor.config import TwoFactorConfig

__all__ = ["Notifier", "accept_language", "render", "template_for"]

log = logging.getLogger("st_twofactor")

MAX_ACCEPT_LANGUAGE = 256
"""Longer ``Accept-Language`` headers are read only this far."""


def template_for(event: events.Event) -> str | None:
    """The security e-mail that tells of ``event``, if any."""
    if isinstance(event, events.FactorEnrolled):
        return "factor-added"
    if isinstance(event, events.FactorRemoved):
        return "factor-removed"
    if isinstance(event, events.RecoveryCodeUsed):
        return "recovery-code-used"
    if isinstance(event, events.DeviceRemembered):
        return "device-remembered"
    if isinstance(event, events.LockedOut) and event.just_locked:
        return "factor-locked"  # once per lockout: not for each attempt refused during it
    return None


def accept_language(user_context: dict[str, Any] | None) -> list[str]:
    """The primary language tags of the request's ``Accept-Language``, best first."""
    defaults = (user_context or {}).get("_default")
    request = defaults.get("request") if isinstance(defaults, dict) else None
    header = getattr(request, "get_header", lambda _: None)("accept-language")
    if not isinstance(header, str):
        return []
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header[:MAX_ACCEPT_LANGUAGE].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().split("-")[0].lower()
        if primary.isalpha() and len(primary) <= 8 and math.isfinite(quality) and quality > 0:
            ranked.append((-quality, position, primary))
    return [tag for _, _, tag in sorted(ranked)]


def render(
    settings: Notifications, name: str, language: str, event: events.Event, app: str
) -> tuple[str, str]:
    """The subject and body of ``name`` in ``language`` for ``event``."""
    text = settings.template(language, name)
    factor_names = FACTOR_NAMES.get(language, FACTOR_NAMES["en"])
    factor = getattr(event, "factor", None)
    factor_name = factor_names.get(factor, factor) if isinstance(factor, str) else ""
    device = getattr(event, "device_name", None) or ""
    retry_ms = getattr(event, "retry_after_ms", 0)
    values = {
        "app": app,
        "what": f"{factor_name} ({device})" if device and factor_name else factor_name,
        "factor": factor_name,
        "device": device,
        "codes_left": str(getattr(event, "codes_left", "")),
        "minutes": str(math.ceil(retry_ms / 60_000)),
        "time": datetime.datetime.fromtimestamp(event.at, datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"
        ),
    }
    subject = Template(text.subject).safe_substitute(values)
    body = Template(text.body).safe_substitute(values)
    return " ".join(subject.split()), body  # a subject is one line, whatever the values


class Notifier:
    """Turns a config's events into security e-mails, sent in the background."""

    def __init__(self, config: TwoFactorConfig) -> None:
        self.config = config
        self.outbox = Outbox()
        self._told_no_delivery = False

    @property
    def settings(self) -> Notifications:
        return self.config.notifications or Notifications()

    def notify(self, event: events.Event, user_context: dict[str, Any] | None) -> None:
        """Hand the e-mail that tells of ``event`` (if any) to the background sender."""
        settings = self.settings
        name = template_for(event)
        if not settings.enabled or name is None or name not in settings.send:
            return
        accepted = accept_language(user_context)
        # the app's own entries: not the SDK's request nor the library's session (both
        # done with by the time this is sent)
        context = {
            k: v
            for k, v in (user_context or {}).items()
            if k != "_default" and not k.startswith("_st2fa")
        }

        async def send() -> None:
            await self._send(settings, name, event, accepted, context)

        self.outbox.submit(send, f"the security e-mail {name!r} to user {event.user_id!r}")

    async def _send(
        self,
        settings: Notifications,
        name: str,
        event: events.Event,
        accepted: list[str],
        context: dict[str, Any],
    ) -> None:
        delivery = settings.delivery or app_delivery(self.config)
        if delivery is None:
            if not self._told_no_delivery:
                self._told_no_delivery = True
                log.warning(
                    "st-twofactor: security e-mails are not sent: the app has no e-mail "
                    "delivery the library can use; pass TwoFactorConfig(notifications="
                    "Notifications(delivery=...)), or Notifications(enabled=False) to say so"
                )
            return
        to = await user_email(event.user_id, dict(context))  # the SDK writes in its context
        if to is None:
            log.info("st-twofactor: no security e-mail for user %r: no address", event.user_id)
            return
        language = await self._language(settings, event.user_id, accepted, context)
        subject, body = render(settings, name, language, event, self._app_name(settings))
        email = SecurityEmail(name, language, to, subject, body, event)
        await delivery.send_email(email, context)

    async def _language(
        self, settings: Notifications, user_id: str, accepted: list[str], context: dict[str, Any]
    ) -> str:
        chosen: object = None
        if settings.language is not None:
            chosen = settings.language(user_id, context)
            if inspect.isawaitable(chosen):
                chosen = await chosen
        candidates = [chosen.split("-")[0].lower()] if isinstance(chosen, str) else []
        available = settings.languages
        found = (c for c in [*candidates, *accepted] if c in available)
        return next(found, settings.default_language)

    def _app_name(self, settings: Notifications) -> str:
        if settings.app_name:
            return settings.app_name
        if self.config.issuer:
            return self.config.issuer
        from supertokens_python import Supertokens
        from supertokens_python.exceptions import GeneralError

        try:
            return str(Supertokens.get_instance().app_info.app_name)
        except GeneralError:
            return "your account"


async def user_email(user_id: str, user_context: dict[str, Any]) -> str | None:
    """The user's first real e-mail address (not a placeholder the SDK made up)."""
    from supertokens_python.asyncio import get_user
    from supertokens_python.auth_utils import is_fake_email

    user = await get_user(user_id, user_context)
    if user is None:
        return None
    return next((e for e in user.emails if e and not is_fake_email(e)), None)


def app_delivery(config: TwoFactorConfig) -> EmailDeliveryInterface[SecurityEmail] | None:
    """The app's own mail service, if the library can send through it: the SDK's
    ``SMTPService`` of the passwordless or emailpassword recipe; in development, the log."""
    from supertokens_python.exceptions import GeneralError
    from supertokens_python.recipe.emailpassword.recipe import EmailPasswordRecipe
    from supertokens_python.recipe.passwordless.recipe import PasswordlessRecipe

    recipes: tuple[Any, ...] = (PasswordlessRecipe, EmailPasswordRecipe)
    for recipe in recipes:
        try:
            service = recipe.get_instance().email_delivery.ingredient_interface_impl
        except GeneralError:  # the app does not use this recipe
            continue
        smtp = getattr(service, "service_implementation", None)
        if smtp is not None and inspect.iscoroutinefunction(getattr(smtp, "send_raw_email", None)):
            return _SMTPSecurityEmail(smtp)
    return _LogSecurityEmail() if config.development else None


class _SMTPSecurityEmail(EmailDeliveryInterface[SecurityEmail]):
    """Sends through the SMTP connection settings of the app's ``SMTPService``."""

    def __init__(self, smtp: SMTPServiceInterface[Any]) -> None:
        self._smtp = smtp

    async def send_email(self, email: SecurityEmail, user_context: dict[str, Any]) -> None:
        from supertokens_python.ingredients.emaildelivery.types import EmailContent

        content = EmailContent(email.body, email.subject, email.to_email, is_html=False)
        await self._smtp.send_raw_email(content, user_context)


class _LogSecurityEmail(EmailDeliveryInterface[SecurityEmail]):
    """Development: security e-mails are written to the log, as e-mailed codes are."""

    async def send_email(self, email: SecurityEmail, user_context: dict[str, Any]) -> None:
        log.warning(
            "st-twofactor (development): security e-mail to %s: %s\n%s",
            email.to_email,
            email.subject,
            email.body,
        )
