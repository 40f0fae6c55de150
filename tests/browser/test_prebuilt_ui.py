"""SuperTokens' prebuilt UI, unchanged, on the FastAPI example, in headless Chromium.

``examples/prebuilt_ui`` bundles supertokens-auth-react's prebuilt screens (EmailPassword,
Passwordless, MultiFactorAuth, TOTP, Session) and supertokens-web-js's TOTP recipe with
npm; the FastAPI example serves the MFA UI at ``/ui/`` and the legacy prebuilt 2FA flow
(password, then an e-mailed code through the Passwordless screens, the ``2fa-completed``
claim) at ``/legacy/``. The walks:

- sign up -> TOTP set-up (the secret read from the page, the same as in the QR code's
  otpauth URI) -> home, with the recovery codes shown once; sign out -> sign in -> TOTP
  -> a wrong code shows the error -> the right code -> home, the protected API 200;
- an e-mailed code as the second factor through the MFA UI's ``otp-email`` screen, at
  sign-up and again at a sign-in right after;
- a TOTP device listed and removed through web-js's TOTP recipe;
- 2FA completed through the library's own ``/auth/2fa`` routes opens the MFA UI's home;
- the legacy flow: sign up -> code -> home; sign out -> sign in at once -> the first code
  is sent (not refused by the cooldown of the sign-up's code) -> the UI's "Resend" is
  honoured when the UI offers it -> home.

Codes come from the example's log (development mode), as in ``test_browser.py``. Without
a build (``cd examples/prebuilt_ui && npm ci && npm run build``) the tests are skipped,
except in CI (``CI=true``), where they fail. Each step waits at most ``TIMEOUT_MS``.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, Response, expect

from examples.prebuilt_ui import DIST, PAGES

from ..helpers.browser import TIMEOUT_MS, Demo, artifacts_on_failure, record_problems
from ..helpers.examples import ExampleServer, run_example
from ..helpers.sdk import PASSWORD

pytestmark = pytest.mark.slow

BUILD = "cd examples/prebuilt_ui && npm ci && npm run build"
STEP_MS = TIMEOUT_MS
"""The longest wait for a screen after a request (Playwright's ``expect`` waits 5 s)."""
RESEND_WAIT = 16.0
"""The prebuilt Passwordless UI offers "Resend" 15 s after a send (its own timer)."""

QR = "[data-supertokens~=totpDeviceQR]"
SHOW_SECRET = "[data-supertokens~=showTOTPSecretBtn]"
SECRET = "[data-supertokens~=totpSecret]"
FACTOR_OPTION = "[data-supertokens~=factorChooserOption]"
SUBMIT = "button[type=submit]"
RESEND = "[data-supertokens~=resendCodeBtn]"


def require_built() -> None:
    """The built UI, or a skip naming the build command (a failure under CI)."""
    missing = [p for p in PAGES if not (DIST / p / "index.html").is_file()]
    if not missing:
        return
    message = f"examples/prebuilt_ui is not built ({', '.join(missing)} missing): run `{BUILD}`"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExampleServer]:
    require_built()
    with run_example("fastapi_app", tmp_path_factory.mktemp("prebuilt") / "data") as running:
        yield running


class PrebuiltUI:
    """One of the two built pages (``ui`` or ``legacy``), as a user drives it."""

    def __init__(self, page: Page, server: ExampleServer, base: str) -> None:
        self.page = page
        self.server = server
        self.base = base
        self.totp = Demo(page, server, None)  # its totp_code(): never the same step twice
        self.qr_strings: list[str] = []  # what the QR codes drawn encode
        page.on("response", self._on_response)

    def _on_response(self, response: Response) -> None:
        if response.request.method == "POST" and response.url.endswith("/auth/totp/device"):
            body = response.json()
            if body.get("status") == "OK":
                self.qr_strings.append(body["qrCodeString"])

    def first_factor(self, email: str, *, sign_up: bool) -> None:
        show = "signup" if sign_up else "signin"
        self.page.goto(f"{self.server.url}/{self.base}/auth?show={show}")
        self.page.locator("input[name=email]").fill(email)
        self.page.locator("input[name=password]").fill(PASSWORD)
        self.page.locator(SUBMIT).click()

    def expect_home(self) -> None:
        expect(self.page.locator("#home")).to_be_visible(timeout=STEP_MS)

    def call_api(self) -> None:
        self.page.click("#call-api")
        expect(self.page.locator("#api-result")).to_have_attribute("data-status", "200")

    def sign_out(self) -> None:
        self.page.click("#sign-out")
        expect(self.page).to_have_url(re.compile(rf"/{self.base}/auth"))
        assert self.fetch_status("/api/secret") == 401

    def fetch_status(self, path: str) -> int:
        return int(self.page.evaluate("p => fetch(p).then(r => r.status)", path))

    def choose_factor(self, name: str) -> None:
        """On the factor chooser, if the UI shows it, pick ``name``; else nothing."""
        expect(self.page.locator(chooser_or_screen(name)).first).to_be_visible(timeout=STEP_MS)
        if self.page.locator(FACTOR_OPTION).count():
            self.page.locator(FACTOR_OPTION, has_text=name).click()

    def set_up_totp(self) -> str:
        """The TOTP set-up screen: the QR code, the secret behind "secret key", a code."""
        self.choose_factor("TOTP")
        expect(self.page.locator(QR)).to_be_visible(timeout=STEP_MS)
        self.page.locator(SHOW_SECRET).click()
        secret = self.page.locator(SECRET).inner_text().strip()
        assert re.fullmatch("[A-Z2-7]{16,}", secret), secret
        qr = urlsplit(self.qr_strings[-1])  # the QR code: an otpauth URI of the same secret
        assert (qr.scheme, qr.netloc) == ("otpauth", "totp"), qr
        assert parse_qs(qr.query)["secret"] == [secret], qr
        self.enter_totp(self.totp.totp_code(secret))
        return secret

    def enter_totp(self, code: str) -> None:
        self.page.locator("input[name=totp]").fill(code)
        self.page.locator(SUBMIT).click()

    def code_after(self, email: str, offset: int) -> str:
        """The e-mail code logged for ``email`` after ``offset``, waiting up to 10 s."""
        pattern = rf"e-mail code for {re.escape(email)}: (\S+)"
        deadline = time.monotonic() + 10
        while not (match := re.search(pattern, self.server.log()[offset:])):
            assert time.monotonic() < deadline, (
                f"no e-mail code sent to {email}:\n{self.server.log()[offset:]}"
            )
            time.sleep(0.1)
        return match.group(1)

    def log_offset(self) -> int:
        return len(self.server.log())

    def enter_email_code(self, code: str) -> None:
        self.page.locator("input[name=userInputCode]").fill(code)
        self.page.locator(SUBMIT).click()


def chooser_or_screen(name: str) -> str:
    """The factor chooser, or the screen of the factor ``name`` the UI went to at once."""
    screen = {"TOTP": QR + ", input[name=totp]", "Email": "input[name=userInputCode]"}[name]
    return f"{FACTOR_OPTION}, {screen}"


def run(page: Page, server: ExampleServer, base: str) -> Iterator[PrebuiltUI]:
    problems = record_problems(page)
    with artifacts_on_failure(page, server):
        yield PrebuiltUI(page, server, base)
    assert not [p for p in problems if "page error" in p], problems


@pytest.fixture
def mfa_ui(page: Page, server: ExampleServer) -> Iterator[PrebuiltUI]:
    yield from run(page, server, "ui")


@pytest.fixture
def legacy_ui(page: Page, server: ExampleServer) -> Iterator[PrebuiltUI]:
    yield from run(page, server, "legacy")


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def test_totp_set_up_at_sign_up_then_sign_in(mfa_ui: PrebuiltUI) -> None:
    ui, page = mfa_ui, mfa_ui.page
    email = "prebuilt-totp@example.com"
    ui.first_factor(email, sign_up=True)
    secret = ui.set_up_totp()
    ui.expect_home()
    codes = page.locator("#recovery-codes li")  # the first device's answer, shown once
    expect(codes).to_have_count(10)
    assert len(set(codes.all_inner_texts())) == 10
    ui.call_api()
    page.reload()
    ui.expect_home()
    expect(page.locator("#recovery-codes")).to_have_count(0)

    ui.sign_out()
    ui.first_factor(email, sign_up=False)
    ui.choose_factor("TOTP")
    expect(page.locator("input[name=totp]")).to_be_visible()
    expect(page.locator(QR)).to_have_count(0)  # entry, not set-up
    assert ui.fetch_status("/api/secret") == 403  # the password alone opens nothing
    code = ui.totp.totp_code(secret)
    ui.enter_totp(wrong(code))
    expect(page.get_by_text(re.compile("Invalid TOTP"))).to_be_visible()
    ui.enter_totp(code)
    ui.expect_home()
    ui.call_api()


def test_email_code_as_second_factor(mfa_ui: PrebuiltUI) -> None:
    ui, page = mfa_ui, mfa_ui.page
    email = "prebuilt-email@example.com"
    offset = ui.log_offset()
    ui.first_factor(email, sign_up=True)
    ui.choose_factor("Email")  # the UI sends the code to the account's address at once
    expect(page.locator("input[name=userInputCode]")).to_be_visible()
    ui.enter_email_code(ui.code_after(email, offset))
    ui.expect_home()
    ui.call_api()

    # A sign-in right after: the e-mail code again, sent at once.
    ui.sign_out()
    offset = ui.log_offset()
    ui.first_factor(email, sign_up=False)
    code = ui.code_after(email, offset)  # the only factor: the UI asks for a code at once
    expect(page.locator("input[name=userInputCode]")).to_be_visible(timeout=STEP_MS)
    ui.enter_email_code(code)
    ui.expect_home()
    ui.call_api()


def test_totp_device_removed_through_web_js(mfa_ui: PrebuiltUI) -> None:
    ui, page = mfa_ui, mfa_ui.page
    ui.first_factor("prebuilt-remove@example.com", sign_up=True)
    ui.set_up_totp()
    ui.expect_home()
    devices = page.locator("#devices")
    expect(devices).to_have_attribute("data-count", "1")
    name = page.locator("#devices li").first.get_attribute("data-device")
    expect(page.locator("#devices li").first).to_have_attribute("data-verified", "true")
    page.locator(".remove-device").first.click()
    expect(page.locator("#devices-message")).to_have_text(f"Removed {name}.")
    expect(devices).to_have_attribute("data-count", "0")
    page.reload()  # listed again from the server
    expect(page.locator("#devices")).to_have_attribute("data-count", "0")


def test_a_session_completed_on_the_2fa_routes_opens_the_mfa_ui(mfa_ui: PrebuiltUI) -> None:
    """One session, two dialects: 2FA completed through ``/auth/2fa`` (the example's own
    page) is complete for auth-react's MFA UI too (its ``st-mfa`` claim)."""
    page, server = mfa_ui.page, mfa_ui.server
    demo = Demo(page, server, None)
    page.goto(server.url + "/")
    demo.first_factor("#signup-button", "prebuilt-dialects@example.com")
    demo.expect_screen("enrol")
    secret = page.inner_text("#totp-secret").strip()
    page.fill("#enrol-code", demo.totp_code(secret))
    page.click("#enrol-verify-button")
    demo.expect_screen("recovery-codes")
    page.goto(server.url + "/ui/")
    mfa_ui.expect_home()
    expect(page.locator("#devices")).to_have_attribute("data-count", "1")
    mfa_ui.call_api()


def test_legacy_flow_sign_in_right_after_sign_up(legacy_ui: PrebuiltUI) -> None:
    ui, page = legacy_ui, legacy_ui.page
    email = "prebuilt-legacy@example.com"
    ui.first_factor(email, sign_up=True)
    expect(page).to_have_url(re.compile("/legacy/second-factor"))
    assert ui.fetch_status("/api/secret") == 403
    offset = ui.log_offset()
    page.locator("input[name=email]").fill(email)
    page.locator(SUBMIT).click()
    ui.enter_email_code(ui.code_after(email, offset))
    ui.expect_home()
    ui.call_api()

    # Signed out and in again at once: the sign-in's first code is sent, not refused.
    ui.sign_out()
    ui.first_factor(email, sign_up=False)
    expect(page).to_have_url(re.compile("/legacy/second-factor"))
    offset = ui.log_offset()
    page.locator("input[name=email]").fill(email)
    page.locator(SUBMIT).click()
    first = ui.code_after(email, offset)

    # The UI offers "Resend" after its own timer; the backend honours it.
    sent_at = time.monotonic()
    resend = page.locator(RESEND)
    expect(resend).to_have_text("Resend Email", timeout=(RESEND_WAIT + 5) * 1000)
    expect(resend).to_be_enabled()
    assert time.monotonic() - sent_at < RESEND_WAIT + 5
    offset = ui.log_offset()
    resend.click()
    second = ui.code_after(email, offset)
    expect(page.get_by_text(re.compile("Too many|Something went wrong", re.I))).to_have_count(0)
    assert second != first
    ui.enter_email_code(second)
    ui.expect_home()
    ui.call_api()


def test_not_built_is_a_failure_in_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without dist/, CI fails (naming the build command) and a laptop skips."""
    monkeypatch.setattr(f"{__name__}.DIST", tmp_path)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=re.escape(BUILD)):
        require_built()
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match=re.escape(BUILD)):
        require_built()
