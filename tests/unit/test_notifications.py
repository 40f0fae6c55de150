"""Security e-mails, the pure parts: which events are told, languages, texts, settings
and the bound on waiting e-mails."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from st_twofactor import events
from st_twofactor.errors import ConfigurationError
from st_twofactor.notifications import (
    BUILT_IN,
    TEMPLATE_NAMES,
    EmailTemplate,
    Notifications,
)
from st_twofactor.notifications._notifier import accept_language, render, template_for
from st_twofactor.notifications._outbox import Outbox

T0 = 1_800_000_000.0


class Request:
    def __init__(self, header: str | None) -> None:
        self.header = header

    def get_header(self, name: str) -> str | None:
        return self.header if name == "accept-language" else None


def context(header: str | None) -> dict[str, Any]:
    return {"_default": {"request": Request(header)}}


def test_only_changes_and_the_start_of_a_lockout_are_told() -> None:
    told = {
        events.FactorEnrolled(user_id="u", at=T0, factor="totp"): "factor-added",
        events.FactorRemoved(user_id="u", at=T0, factor="webauthn"): "factor-removed",
        events.RecoveryCodeUsed(user_id="u", at=T0, codes_left=3): "recovery-code-used",
        events.DeviceRemembered(user_id="u", at=T0, expires_at=T0): "device-remembered",
        events.LockedOut(user_id="u", at=T0, factor="totp", retry_after_ms=1): "factor-locked",
    }
    for event, name in told.items():
        assert template_for(event) == name
    assert set(told.values()) == set(TEMPLATE_NAMES)
    again = events.LockedOut(user_id="u", at=T0, factor="totp", retry_after_ms=1, just_locked=False)
    assert template_for(again) is None
    assert template_for(events.VerificationSucceeded(user_id="u", at=T0, factor="totp")) is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, []),
        ("", []),
        ("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", ["fr", "fr", "en", "de"]),
        ("en;q=0.1, de", ["de", "en"]),
        ("de;q=0, en;q=nan, fr;q=x, es", ["es"]),
        ("x" * 10_000, []),
    ],
)
def test_accept_language_best_first(header: str | None, expected: list[str]) -> None:
    assert accept_language(context(header)) == expected
    assert accept_language(None) == [] and accept_language({}) == []


def test_every_template_has_every_built_in_language() -> None:
    for language, texts in BUILT_IN.items():
        assert set(texts) == set(TEMPLATE_NAMES), language


def test_render_fills_the_placeholders_and_keeps_the_subject_on_one_line() -> None:
    settings = Notifications(
        templates={"en": {"factor-locked": EmailTemplate("$app\r\nBcc: x@y $factor", "$minutes")}}
    )
    event = events.LockedOut(user_id="u", at=T0, factor="otp-email", retry_after_ms=61_000)
    subject, body = render(settings, "factor-locked", "en", event, "Acme")
    assert subject == "Acme Bcc: x@y codes by e-mail" and body == "2"
    added = events.FactorEnrolled(user_id="u", at=T0, factor="webauthn", device_name="Key")
    subject, body = render(Notifications(), "factor-added", "de", added, "Acme")
    assert "Sicherheitsschlüssel (Key)" in body and "2027-01-15 08:00 UTC" in body
    # $name only: nothing else of the library is reachable from a template
    sneaky = Notifications(templates={"en": {"factor-added": EmailTemplate("{event}", "${x}")}})
    assert render(sneaky, "factor-added", "en", added, "Acme") == ("{event}", "${x}")


def test_a_text_missing_in_an_added_language_comes_from_the_default() -> None:
    settings = Notifications(templates={"xx": {"factor-added": EmailTemplate("s", "b")}})
    assert settings.languages == {"en", "fr", "de", "xx"}
    assert settings.template("xx", "factor-added") == EmailTemplate("s", "b")
    assert settings.template("xx", "factor-removed") == BUILT_IN["en"]["factor-removed"]


@pytest.mark.parametrize(
    "options",
    [
        {"templates": {"en": {"factor-renamed": EmailTemplate("s", "b")}}},
        {"templates": {"en": {"factor-added": ("s", "b")}}},
        {"templates": {"e n": {}}},
        {"send": {"factor-added", "nope"}},
        {"default_language": "xx"},
        {"delivery": object()},
        {"enabled": "yes"},
        {"language": "fr"},
    ],
)
def test_bad_settings_are_refused_at_start_up(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        Notifications(**options)


def test_the_config_takes_only_notifications() -> None:
    from st_twofactor.config import TwoFactorConfig

    with pytest.raises(ConfigurationError):
        TwoFactorConfig(development=True, notifications={"enabled": False})  # type: ignore[arg-type]


def test_the_outbox_bounds_what_waits_and_logs_failures(caplog: pytest.LogCaptureFixture) -> None:
    outbox = Outbox(max_pending=2)
    release = threading.Event()
    done: list[int] = []

    def job(n: int) -> Any:
        async def run() -> None:
            await asyncio.to_thread(release.wait, 5)
            if n == 1:
                raise RuntimeError("mail server down")
            done.append(n)

        return run

    assert outbox.submit(job(0), "zero") and outbox.submit(job(1), "one")
    assert not outbox.submit(job(2), "two")  # two wait already: dropped, logged
    assert not outbox.submit(job(2), "two again")  # dropped too, not logged again
    release.set()
    assert outbox.drain(5)
    assert done == [0]
    messages = [r.getMessage() for r in caplog.records]
    assert any("two dropped" in m for m in messages)
    assert not any("two again" in m for m in messages)
    assert any("2 security e-mail(s) were dropped" in m for m in messages)
    assert any("one could not be sent" in m for m in messages)
    assert outbox.submit(job(3), "three") and outbox.drain(5) and done == [0, 3]


def test_a_normal_exit_waits_for_waiting_emails(tmp_path: Any) -> None:
    """A short-lived process (the command line's ``user reset``) still sends its e-mails."""
    import os
    import subprocess
    import sys

    script = tmp_path / "exit.py"
    script.write_text(
        "import asyncio\n"
        "from st_twofactor.notifications._outbox import Outbox\n"
        "async def slow():\n"
        "    await asyncio.sleep(0.3)\n"
        "    print('sent', flush=True)\n"
        "Outbox().submit(slow, 'x')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=30, env=env
    )
    assert done.returncode == 0 and done.stdout == "sent\n", done.stderr
