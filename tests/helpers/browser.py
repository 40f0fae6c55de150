"""Headless Chromium on the examples' demo page: the browser, a user's walk, evidence.

:func:`chromium` launches Debian's ``/usr/bin/chromium`` through Playwright's Python
client (nothing downloads a browser); :class:`Demo` is the demo page of one example as
a user sees it; :func:`artifacts_on_failure` keeps a screenshot and the server's log in
``test-artifacts/`` when a walk fails; :func:`record_problems` collects script errors.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from st_twofactor import SendQuota
from st_twofactor.factors.totp import algorithm as totp

from .examples import REPO, ExampleServer
from .sdk import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO / "test-artifacts"
TIMEOUT_MS = 15_000
SEND_COOLDOWN = SendQuota().cooldown


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright; the test is skipped without it
    (failed under CI)."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} not found: apt-get install chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        # Playwright gives each launch a new, empty profile (user data dir).
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


class Demo:
    """The demo page of one example, as a user sees it."""

    def __init__(self, page: Page, server: ExampleServer, shots: Path | None) -> None:
        self.page = page
        self.server = server
        self.shots = shots
        self.last_step = 0  # the newest TOTP time step used, never accepted twice
        self.last_send: float | None = None  # when the last e-mail code was asked for

    def expect_screen(self, screen: str) -> None:
        expect(self.page.locator("body")).to_have_attribute("data-screen", screen)

    def expect_message(self, pattern: str) -> None:
        expect(self.page.locator("#message")).to_have_text(re.compile(pattern))

    def shot(self, name: str) -> None:
        if self.shots is not None:
            self.page.screenshot(path=self.shots / f"{name}.png", full_page=True)

    def first_factor(self, button: str, email: str) -> None:
        self.page.fill("#email", email)
        self.page.fill("#password", PASSWORD)
        self.page.click(button)

    def sign_out(self) -> None:
        self.last_send = None  # a new sign-in's first code is not held back by this session's
        self.page.locator(".signout-button:visible").click()
        self.expect_screen("signin")
        self.expect_message("You are signed out")
        assert self.fetch_status("/api/secret") == 401

    def fetch_status(self, path: str) -> int:
        """What the protected API answers this browser's cookies, outside the page's code."""
        return int(self.page.evaluate("p => fetch(p).then(r => r.status)", path))

    def totp_code(self, secret: str) -> str:
        """A valid code for a time step after the last one used (now, or the next step)."""
        while True:
            current = totp.step_at(time.time())
            step = max(current, self.last_step + 1)
            if step <= current + 1:
                self.last_step = step
                return totp.code_at(secret, step * totp.STEP_SECONDS)
            time.sleep(1)

    def call_api(self) -> None:
        self.page.click("#call-api-button")
        result = self.page.locator("#api-result")
        expect(result).to_have_attribute("data-status", "200")
        expect(result).to_contain_text("The protected API answered.")

    def email_code(self, email: str) -> str:
        """Ask for an e-mailed code; read it from the server's log (development mode).

        Codes are metered (S15): within a session, a send within the cooldown of the last
        one is refused with the wait in the message; the walk shows that, then waits it out.
        A new sign-in's first code is never held back by an earlier session's send.
        """
        if self.last_send is not None:
            early = SEND_COOLDOWN - (time.monotonic() - self.last_send)
            if early > 2:
                self.page.click("#email-send-button:visible, #email-enrol-button:visible")
                self.expect_message(r"^Too many codes were sent: try again in \d+ seconds?\.$")
            time.sleep(max(0.0, SEND_COOLDOWN + 1 - (time.monotonic() - self.last_send)))
        self.last_send = time.monotonic()
        before = len(self.server.log())
        self.page.click("#email-send-button:visible, #email-enrol-button:visible")
        self.expect_screen("email-code")
        expect(self.page.locator("#email-sent")).to_have_text(f"We sent a code to {email}.")
        pattern = rf"e-mail code for {re.escape(email)}: (\S+)"
        deadline = time.monotonic() + 10
        while not (match := re.search(pattern, self.server.log()[before:])):
            assert time.monotonic() < deadline, f"no e-mail code logged:\n{self.server.log()}"
            time.sleep(0.1)
        return match.group(1)


@contextmanager
def artifacts_on_failure(page: Page, server: ExampleServer) -> Iterator[None]:
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        stamp = f"{server.name}-{int(time.time())}"
        page.screenshot(path=ARTIFACTS / f"{stamp}.png", full_page=True)
        (ARTIFACTS / f"{stamp}-server.log").write_text(server.log())
        raise


def record_problems(page: Page) -> list[str]:
    """Script errors and console errors, except the 401/403 answers the page expects."""
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not re.search(r"status of 40[13]\b", message.text):
            problems.append(f"console: {message.text}")

    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", on_console)
    return problems
