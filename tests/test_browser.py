"""The demo page of each example, driven through the whole 2FA walk in headless Chromium.

Debian's Chromium (``/usr/bin/chromium``) is driven by Playwright's Python client; nothing
downloads a browser. Without that executable the test is skipped, except in CI (``CI=true``),
where it fails. Each example runs as its own process (``python -m examples.<app>``; the
Django example also under uvicorn, over ASGI).

The walk: sign up -> enrol TOTP from the secret the page shows (a wrong code first) ->
recovery codes shown once -> protected call -> a session refresh -> e-mail codes turned on
(the code read from the server's log) -> sign out -> sign in -> TOTP -> sign out -> sign in ->
wrong TOTP codes until locked -> recovery code -> sign out -> sign in -> e-mail code.

On failure a screenshot and the server's log are saved in ``test-artifacts/``. With
``ST2FA_SCREENSHOTS=docs/screenshots`` the main screens of the FastAPI run are saved there.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from st_twofactor.factors.totp import algorithm as totp
from st_twofactor.kernel.send_quota import SendQuota

from .example_server import DJANGO_ASGI, EXAMPLES, REPO, ExampleServer, run_example

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
PASSWORD = "correct-horse-battery-1"
TIMEOUT_MS = 15_000
SEND_COOLDOWN = SendQuota().cooldown


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
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

        Codes are metered (S15): a send within the cooldown of the last one is refused
        with the wait in the message; the walk shows that once, then waits it out.
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


def wrong(code: str) -> str:
    """A code of the same shape that is not ``code``."""
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def never_valid(secret: str) -> str:
    """A 6-digit code matching none of the steps the server may accept in the next minutes."""
    now = time.time()
    taken = {totp.code_at(secret, now + d * totp.STEP_SECONDS) for d in range(-2, 12)}
    while (code := f"{secrets.randbelow(10**6):06d}") in taken:
        pass
    return code


def expire_access_token(page: Page) -> None:
    """Make the access token cookie fail verification, as an expired one does."""
    context = page.context
    cookie = next(c for c in context.cookies() if c["name"] == "sAccessToken")
    header, payload, signature = cookie["value"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["exp"] = int(time.time()) - 60
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    context.add_cookies([{**cookie, "value": f"{header}.{forged}.{signature}"}])


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


def screenshots_dir(name: str) -> Path | None:
    target = os.environ.get("ST2FA_SCREENSHOTS")
    if not target or name != "fastapi_app":
        return None
    path = REPO / target
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 760, "height": 560})
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


def record_problems(page: Page) -> list[str]:
    """Script errors and console errors, except the 401/403 answers the page expects."""
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not re.search(r"status of 40[13]\b", message.text):
            problems.append(f"console: {message.text}")

    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", on_console)
    return problems


@pytest.mark.parametrize("name", [*EXAMPLES, DJANGO_ASGI])
def test_demo_page_walk(name: str, page: Page, tmp_path: Path) -> None:
    email = f"walk-{name.replace('_', '-')}@example.com"
    problems = record_problems(page)
    refreshes: list[str] = []
    page.on("request", lambda r: refreshes.append(r.url) if "/session/refresh" in r.url else None)
    with run_example(name, tmp_path / "data") as server, artifacts_on_failure(page, server):
        demo = Demo(page, server, screenshots_dir(name))
        page.goto(server.url + "/")
        demo.expect_screen("signin")
        demo.shot("1-sign-in")

        # Sign up; enrol TOTP with the secret the page shows.
        demo.first_factor("#signup-button", email)
        demo.expect_screen("enrol")
        expect(page.locator("#qr-code")).to_have_attribute("src", re.compile("^data:image/svg"))
        assert page.eval_on_selector("#qr-code", "img => img.naturalWidth") > 0
        secret = page.inner_text("#totp-secret").strip()
        assert re.fullmatch("[A-Z2-7]{32,}", secret), secret
        demo.shot("2-enrol-totp")
        code = demo.totp_code(secret)
        page.fill("#enrol-code", wrong(code))
        page.click("#enrol-verify-button")
        demo.expect_message(r"^Wrong code\. 4 attempt\(s\) left\.$")
        page.fill("#enrol-code", code)
        page.click("#enrol-verify-button")

        # Recovery codes, shown once.
        demo.expect_screen("recovery-codes")
        codes = page.locator("#recovery-codes li").all_inner_texts()
        assert len(codes) == 10 and len(set(codes)) == 10
        demo.shot("3-recovery-codes")
        page.click("#recovery-codes-done")
        demo.expect_screen("home")
        expect(page.locator("#recovery-codes")).to_be_empty()
        expect(page.locator("#recovery-codes-left")).to_have_text("Recovery codes left: 10.")
        demo.call_api()
        demo.shot("4-protected-call")

        # An access token that fails verification: the page refreshes the session and retries.
        expire_access_token(page)
        assert demo.fetch_status("/api/secret") == 401
        demo.call_api()
        assert len(refreshes) == 1, refreshes
        assert demo.fetch_status("/api/secret") == 200

        # Turn on e-mail codes (allowed now: the 2FA is fresh); a wrong code first.
        mail_code = demo.email_code(email)
        page.fill("#email-code", wrong(mail_code))
        page.click("#email-verify-button")
        demo.expect_message(r"^Wrong code\. 2 attempt\(s\) left\.$")  # 3 tries per code
        page.fill("#email-code", mail_code)
        page.click("#email-verify-button")
        demo.expect_screen("home")
        expect(page.locator("#email-enrol")).to_be_hidden()

        # Sign out, sign in: the second step, with TOTP.
        demo.sign_out()
        demo.first_factor("#signin-button", email)
        demo.expect_screen("second-factor")
        expect(page.locator("#screen-second-factor .user-email")).to_have_text(email)
        for factor in ("#totp-form", "#email-factor", "#recovery-form"):
            expect(page.locator(factor)).to_be_visible()
        assert demo.fetch_status("/api/secret") == 403
        demo.shot("5-second-factor")
        page.fill("#totp-code", demo.totp_code(secret))
        page.click("#totp-verify-button")
        demo.expect_screen("home")
        demo.call_api()

        # Wrong TOTP codes until the factor locks; then a recovery code.
        demo.sign_out()
        demo.first_factor("#signin-button", email)
        demo.expect_screen("second-factor")
        bad = never_valid(secret)
        for left in (4, 3, 2, 1):
            page.fill("#totp-code", bad)
            page.click("#totp-verify-button")
            demo.expect_message(rf"^Wrong code\. {left} attempt\(s\) left\.$")
            if left == 4:
                demo.shot("6-wrong-code")
        page.fill("#totp-code", bad)  # the fifth wrong code locks, and says so (issue 12)
        page.click("#totp-verify-button")
        demo.expect_message(r"^Too many wrong codes: locked\. Try again in 15 minutes\.$")
        page.fill("#totp-code", totp.code_at(secret, time.time()))  # right, but too late
        page.click("#totp-verify-button")
        demo.expect_message(r"^Too many wrong codes: locked\. Try again in 15 minutes\.$")
        demo.shot("7-locked")
        assert demo.fetch_status("/api/secret") == 403
        page.fill("#recovery-code", codes[0])
        page.click("#recovery-verify-button")
        demo.expect_screen("home")
        expect(page.locator("#recovery-codes-left")).to_have_text("Recovery codes left: 9.")
        demo.call_api()

        # Sign out, sign in: the second step, with an e-mailed code.
        demo.sign_out()
        demo.first_factor("#signin-button", email)
        demo.expect_screen("second-factor")
        mail_code = demo.email_code(email)
        demo.shot("8-email-code")
        page.fill("#email-code", mail_code)
        page.click("#email-verify-button")
        demo.expect_screen("home")
        demo.call_api()

        assert problems == []
        assert "Traceback" not in server.log()
