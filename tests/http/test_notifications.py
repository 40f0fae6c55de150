"""Security e-mails over HTTP, on FastAPI and Flask: each change told once, in the user's
language, through the app's own delivery, after the request and never failing it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from supertokens_python.ingredients.emaildelivery.types import (
    EmailContent,
    EmailDeliveryConfig,
    EmailDeliveryInterface,
    SMTPSettings,
    SMTPSettingsFrom,
)
from supertokens_python.recipe.passwordless import SMTPService

from st_twofactor import events
from st_twofactor.notifications import EmailTemplate, Notifications, SecurityEmail
from st_twofactor.runtime import TwoFactor
from st_twofactor.testing import reset_supertokens
from st_twofactor.testing.emails import RecordingEmails

from ..helpers.framework_app import FRAMEWORKS, App, make_app
from ..helpers.sdk import Tokens, body, status

CHROME_LINUX = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"


@pytest.fixture(params=FRAMEWORKS)
def app(request: pytest.FixtureRequest, devcore_app: str) -> Iterator[Callable[..., App]]:
    yield lambda **options: make_app(request.param, devcore_app, **options)
    reset_supertokens()


def drained(h: App) -> None:
    assert TwoFactor.of(h.config).notifier.outbox.drain(5)


def enrolled(h: App, email: str, **headers: str) -> tuple[Tokens, str, list[str]]:
    tokens = h.signed_up(email)
    created = body(h.post("/auth/2fa/totp/device", tokens, {}, **headers))
    code = {"code": h.code(created["secret"])}
    verified = body(h.post("/auth/2fa/totp/device/verify", tokens, code, **headers))
    assert verified["status"] == "OK", verified
    h.clock.advance(30)
    return tokens, created["secret"], verified["recoveryCodes"]


def test_each_change_is_emailed_once_and_the_hook_sees_every_event(
    app: Callable[..., App],
) -> None:
    mails = RecordingEmails()
    h = app(remember_device=True, notifications=Notifications(delivery=mails))
    _, secret, codes = enrolled(h, "told@example.com")
    [added] = mails.wait_for(1)
    assert (added.template, added.to_email) == ("factor-added", "told@example.com")
    assert added.language == "en"
    assert added.subject == "Framework Test: a second factor was added to your account"
    assert "authenticator app (authenticator)" in added.body
    assert isinstance(added.event, events.FactorEnrolled)

    by_code = h.signed_in("told@example.com")
    redeemed = h.post("/auth/2fa/recovery-code/verify", by_code, {"code": codes[0]})
    assert body(redeemed)["status"] == "OK"
    used = mails.wait_for(2)[1]
    assert used.template == "recovery-code-used" and "9 codes are left" in used.body

    remembering = h.signed_in("told@example.com")
    answer = h.post(
        "/auth/2fa/totp/verify",
        remembering,
        {"code": h.code(secret), "rememberDevice": True},
        **{"User-Agent": CHROME_LINUX},
    )
    assert body(answer)["status"] == "OK"
    remembered = mails.wait_for(3)[2]
    assert remembered.template == "device-remembered" and "(Chrome on Linux)" in remembered.body

    attacker = h.signed_in("told@example.com")
    for _ in range(h.config.max_failures + 3):  # locks at the fifth; refused after
        h.post("/auth/2fa/totp/verify", attacker, {"code": "000000"})
    drained(h)
    assert mails.templates() == [
        "factor-added",
        "recovery-code-used",
        "device-remembered",
        "factor-locked",
    ]
    assert "for 15 minutes" in mails.sent[3].body
    locked = [e for e in h.seen if isinstance(e, events.LockedOut)]
    assert len(locked) == 4 and [e.just_locked for e in locked] == [True, False, False, False]

    h.clock.advance(h.config.lockout)
    fresh = h.signed_in("told@example.com")
    assert body(h.post("/auth/2fa/totp/verify", fresh, {"code": h.code(secret)}))["status"] == "OK"
    removed = body(h.post("/auth/2fa/totp/device/remove", fresh, {"deviceName": "authenticator"}))
    assert removed["didDeviceExist"] is True
    drained(h)
    assert mails.templates()[-1] == "factor-removed"
    assert mails.sent[-1].subject.endswith("a second factor was removed from your account")
    kinds = {type(e) for e in h.seen}
    assert {events.FactorEnrolled, events.RecoveryCodeUsed, events.DeviceRemembered} <= kinds
    assert {events.LockedOut, events.FactorRemoved, events.VerificationFailed} <= kinds


@pytest.mark.parametrize(
    ("accept", "language", "subject"),
    [
        ("fr-CH, fr;q=0.9, en;q=0.8", "fr", "un second facteur a été ajouté à votre compte"),
        ("es, de;q=0.5", "de", "Ein zweiter Faktor wurde hinzugefügt"),
        ("es, pt;q=0.5", "en", "a second factor was added to your account"),
        ("da;q=bad, *;q=0.1", "en", "a second factor was added to your account"),
    ],
)
def test_the_language_is_the_requests_best_match(
    app: Callable[..., App], accept: str, language: str, subject: str
) -> None:
    mails = RecordingEmails()
    h = app(notifications=Notifications(delivery=mails))
    enrolled(h, f"lang-{language}@example.com", **{"Accept-Language": accept})
    [email] = mails.wait_for(1)
    assert email.language == language and email.subject.endswith(subject)


def test_an_app_picks_the_language_per_user_and_replaces_templates(
    app: Callable[..., App],
) -> None:
    mails = RecordingEmails()
    asked: list[tuple[str, dict[str, Any]]] = []

    async def language(user_id: str, user_context: dict[str, Any]) -> str | None:
        asked.append((user_id, user_context))
        return "xx" if user_id else None

    templates = {"xx": {"factor-added": EmailTemplate("[$app] new: $factor", "$what at $time.")}}
    h = app(
        notifications=Notifications(
            delivery=mails, language=language, templates=templates, app_name="Acme"
        )
    )
    enrolled(h, "custom@example.com", **{"Accept-Language": "de"})
    [email] = mails.wait_for(1)
    assert email.language == "xx"
    assert email.subject == "[Acme] new: authenticator app"
    assert email.body.startswith("authenticator app (authenticator) at ")
    assert asked and "_default" not in asked[0][1]  # the request is not kept past it


class Failing(EmailDeliveryInterface[SecurityEmail]):
    async def send_email(self, template_vars: SecurityEmail, user_context: dict[str, Any]) -> None:
        raise ConnectionError("the mail server is down")


class Blocked(EmailDeliveryInterface[SecurityEmail]):
    """Sends only once the test lets it."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.sent: list[SecurityEmail] = []

    async def send_email(self, template_vars: SecurityEmail, user_context: dict[str, Any]) -> None:
        import asyncio

        await asyncio.to_thread(self.release.wait, 10)
        self.sent.append(template_vars)


def test_a_failing_delivery_is_logged_and_the_request_succeeds(
    app: Callable[..., App], caplog: pytest.LogCaptureFixture
) -> None:
    h = app(notifications=Notifications(delivery=Failing()))
    with caplog.at_level(logging.ERROR, logger="st_twofactor"):
        tokens, _, codes = enrolled(h, "failing@example.com")
        assert len(codes) == 10
        drained(h)
    assert h.protected(tokens) == 200
    assert any("could not be sent" in r.getMessage() for r in caplog.records)
    assert any(isinstance(e, events.FactorEnrolled) for e in h.seen)


def test_sending_does_not_hold_up_the_request(app: Callable[..., App]) -> None:
    delivery = Blocked()
    h = app(notifications=Notifications(delivery=delivery))
    started = time.monotonic()
    tokens, _, _ = enrolled(h, "slow-mail@example.com")  # answered while the mail waits
    assert time.monotonic() - started < 5 and delivery.sent == []
    assert h.protected(tokens) == 200
    delivery.release.set()
    drained(h)
    assert [e.template for e in delivery.sent] == ["factor-added"]


def test_turned_off_none_are_sent_and_the_hook_still_hears(app: Callable[..., App]) -> None:
    mails = RecordingEmails()
    h = app(notifications=Notifications(delivery=mails, enabled=False))
    enrolled(h, "off@example.com")
    drained(h)
    assert mails.sent == [] and any(isinstance(e, events.FactorEnrolled) for e in h.seen)


def test_by_default_they_go_through_the_apps_smtp_service(app: Callable[..., App]) -> None:
    """The app's passwordless SMTPService (the one that sends its codes) sends them: its
    connection, the library's text."""
    raw: list[EmailContent] = []

    def override(original: Any) -> Any:
        async def send_raw_email(content: EmailContent, user_context: dict[str, Any]) -> None:
            raw.append(content)

        original.send_raw_email = send_raw_email
        return original

    smtp = SMTPService(
        SMTPSettings("smtp.invalid", 587, SMTPSettingsFrom("Acme", "no-reply@acme.invalid")),
        override=override,
    )
    h = app(
        factors=("totp", "otp-email", "recovery-code"),
        build_options={"email_delivery": EmailDeliveryConfig(service=smtp)},
    )
    enrolled(h, "smtp@example.com")
    drained(h)
    assert [(c.to_email, c.is_html) for c in raw] == [("smtp@example.com", False)]
    assert raw[0].subject == "Framework Test: a second factor was added to your account"


def test_without_a_delivery_none_is_sent_and_it_is_said_once(
    app: Callable[..., App], caplog: pytest.LogCaptureFixture
) -> None:
    h = app()  # emailpassword's password-reset delivery is the test's own, not SMTP
    with caplog.at_level(logging.WARNING, logger="st_twofactor"):
        tokens, secret, _ = enrolled(h, "nodelivery@example.com")
        fresh = h.signed_in("nodelivery@example.com")
        verified = h.post("/auth/2fa/totp/verify", fresh, {"code": h.code(secret)})
        assert body(verified)["status"] == "OK"
        h.post("/auth/2fa/recovery-codes", fresh, {})
        drained(h)
    said = [r for r in caplog.records if "security e-mails are not sent" in r.getMessage()]
    assert len(said) == 1
    assert status(h.get("/api/secret", tokens)) == 200
