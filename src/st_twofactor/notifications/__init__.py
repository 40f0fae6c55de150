"""Security e-mails: the user is told when their second factors change.

When a factor is added or removed, a recovery code is used, a device is remembered or a
factor is locked after too many wrong codes, the library e-mails the user, so that a
change they did not make does not go unnoticed. It is on by default wherever the app can
send e-mail (see :class:`Notifications` for where it goes and how to turn it off); the
app's ``on_event`` hook still receives every event.

Sending never fails or slows the user's request: the e-mail is handed to a background
sender after the event and sent from there (the user's address is looked up there too);
a delivery error is logged on the ``st_twofactor`` logger and the request has already
succeeded.

Each e-mail is one of :data:`TEMPLATE_NAMES`, in the user's language: English, French and
German are built in (:data:`BUILT_IN`), and an app may replace any text or add a language
with ``Notifications(templates={language: {template name: EmailTemplate(...)}})``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from st_twofactor.errors import ConfigurationError
from st_twofactor.notifications._texts import BUILT_IN, FACTOR_NAMES, EmailTemplate

if TYPE_CHECKING:
    from supertokens_python.ingredients.emaildelivery.types import EmailDeliveryInterface

    from st_twofactor.events import Event

__all__ = [
    "BUILT_IN",
    "FACTOR_NAMES",
    "PLACEHOLDERS",
    "TEMPLATE_NAMES",
    "EmailTemplate",
    "LanguageChooser",
    "Notifications",
    "SecurityEmail",
]

TEMPLATE_NAMES: tuple[str, ...] = (
    "factor-added",
    "factor-removed",
    "recovery-code-used",
    "device-remembered",
    "factor-locked",
)
"""The security e-mails, by template name: a factor (or a TOTP device, a security key)
added; one removed; a recovery code used; a device remembered; a factor locked after too
many wrong codes (once per lockout, not for each refused attempt during it)."""

PLACEHOLDERS: Mapping[str, str] = {
    "app": "the app's name (Notifications.app_name, else the config's issuer, else the "
    "SDK's app_name)",
    "what": "the factor, with its device's name in brackets when it has one",
    "factor": "the factor's name, in the e-mail's language",
    "device": "the device's name (a TOTP device, a security key, a remembered device)",
    "codes_left": "recovery codes left",
    "minutes": "how long the factor stays locked, in minutes",
    "time": "when it happened, e.g. 2026-01-31 14:05 UTC",
}
"""What ``$name`` in a template is replaced by. Values are plain text: a template sent as
HTML must escape them."""

LanguageChooser: TypeAlias = Callable[[str, dict[str, Any]], str | Awaitable[str | None] | None]
"""``(user_id, user_context) -> language`` (sync or async), e.g. the user's preference
kept in their user metadata; ``None`` falls back to the request's ``Accept-Language``."""


@dataclass(frozen=True)
class SecurityEmail:
    """One security e-mail, rendered: what an app's delivery receives
    (``EmailDeliveryInterface[SecurityEmail].send_email(email, user_context)``)."""

    template: str
    """One of :data:`TEMPLATE_NAMES`."""
    language: str
    to_email: str
    subject: str
    body: str
    """Plain text."""
    event: Event
    """The event it tells of (to render it another way)."""


@dataclass(frozen=True, kw_only=True)
class Notifications:
    """How users are told of changes to their 2FA (``TwoFactorConfig(notifications=...)``).

    :param enabled: ``False`` sends none (the events still go to ``on_event``).
    :param delivery: an ``EmailDeliveryInterface[SecurityEmail]`` that sends them. When
        ``None`` (the default), they go through the app's own mail service: the SDK's
        ``SMTPService`` of the passwordless or emailpassword recipe, if the app configured
        one; in development mode without it, to the log; otherwise none is sent, and that
        is logged once.
    :param templates: replacements, ``{language: {template name: EmailTemplate}}``; a
        language the library has no texts for may be added this way (texts missing in it
        are taken from ``default_language``).
    :param language: picks a user's language (:data:`LanguageChooser`); without it, or
        when it answers ``None``, the best match of the request's ``Accept-Language``,
        else ``default_language``.
    :param default_language: ``"en"`` unless given.
    :param send: the template names to send (default: all of :data:`TEMPLATE_NAMES`).
    :param app_name: the name in the texts (default: the config's ``issuer``, else the
        SDK's ``app_name``).
    """

    enabled: bool = True
    delivery: EmailDeliveryInterface[SecurityEmail] | None = None
    templates: Mapping[str, Mapping[str, EmailTemplate]] = field(default_factory=dict)
    language: LanguageChooser | None = None
    default_language: str = "en"
    send: frozenset[str] = frozenset(TEMPLATE_NAMES)
    app_name: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise ConfigurationError("notifications: enabled must be True or False")
        if self.delivery is not None and not inspect.iscoroutinefunction(
            getattr(self.delivery, "send_email", None)
        ):
            raise ConfigurationError(
                "notifications: delivery must be an EmailDeliveryInterface[SecurityEmail] "
                "(an object with an async send_email(email, user_context))"
            )
        for language, texts in self.templates.items():
            if not isinstance(language, str) or not language.isalpha():
                raise ConfigurationError(
                    f"notifications: {language!r} is not a language tag such as 'en' or 'fr'"
                )
            for name, text in texts.items():
                if name not in TEMPLATE_NAMES:
                    raise ConfigurationError(
                        f"notifications: unknown template {name!r}; the templates are "
                        f"{list(TEMPLATE_NAMES)}"
                    )
                if not isinstance(text, EmailTemplate):
                    raise ConfigurationError(
                        f"notifications: templates[{language!r}][{name!r}] must be an "
                        "EmailTemplate(subject, body)"
                    )
        object.__setattr__(self, "send", frozenset(self.send))
        unknown = sorted(set(self.send) - set(TEMPLATE_NAMES))
        if unknown:
            raise ConfigurationError(
                f"notifications: send names unknown templates {unknown}; the templates are "
                f"{list(TEMPLATE_NAMES)}"
            )
        if self.default_language not in self.languages:
            raise ConfigurationError(
                f"notifications: default_language {self.default_language!r} has no texts; "
                f"the languages are {sorted(self.languages)}"
            )
        if self.language is not None and not callable(self.language):
            raise ConfigurationError("notifications: language must be a callable or None")

    @property
    def languages(self) -> frozenset[str]:
        """The languages with texts: the built-in ones and those in ``templates``."""
        return frozenset(BUILT_IN) | {language.lower() for language in self.templates}

    def template(self, language: str, name: str) -> EmailTemplate:
        """The text of ``name`` in ``language``: the app's, else the built-in one, else
        that of ``default_language``."""
        for lang in (language, self.default_language, "en"):
            replaced = {k.lower(): v for k, v in self.templates.items()}.get(lang, {})
            text = replaced.get(name) or BUILT_IN.get(lang, {}).get(name)
            if text is not None:
                return text
        raise AssertionError(f"no text for {name!r}")  # English has every template
