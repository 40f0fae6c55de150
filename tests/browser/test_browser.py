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
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from st_twofactor.factors.totp import algorithm as totp

from ..helpers.browser import Demo, artifacts_on_failure, record_problems
from ..helpers.examples import DJANGO_ASGI, EXAMPLES, REPO, run_example


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


def screenshots_dir(name: str) -> Path | None:
    target = os.environ.get("ST2FA_SCREENSHOTS")
    if not target or name != "fastapi_app":
        return None
    path = REPO / target
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.mark.slow
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
        demo.email_code(email)  # the sign-in's first code: sent at once
        page.click("#email-back-button")
        mail_code = demo.email_code(email)  # another at once: refused with the wait, then sent
        demo.shot("8-email-code")
        page.fill("#email-code", mail_code)
        page.click("#email-verify-button")
        demo.expect_screen("home")
        demo.call_api()

        assert problems == []
        assert "Traceback" not in server.log()
