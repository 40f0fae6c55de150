"""The demo page's remembered devices, in headless Chromium: remember this browser at the
second step, see it listed on the home screen, forget it, and be asked again."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from ..helpers.browser import Demo, artifacts_on_failure, record_problems
from ..helpers.examples import run_example


@pytest.mark.slow
@pytest.mark.parametrize("name", ["fastapi_app", "flask_app"])
def test_remember_list_and_forget_a_device(name: str, page: Page, tmp_path: Path) -> None:
    email = f"remembered-{name.replace('_', '-')}@example.com"
    problems = record_problems(page)
    with run_example(name, tmp_path / "data") as server, artifacts_on_failure(page, server):
        demo = Demo(page, server, None)
        page.goto(server.url + "/")
        demo.expect_screen("signin")
        demo.first_factor("#signup-button", email)
        demo.expect_screen("enrol")
        secret = page.inner_text("#totp-secret").strip()
        page.fill("#enrol-code", demo.totp_code(secret))
        page.click("#enrol-verify-button")
        demo.expect_screen("recovery-codes")
        page.click("#recovery-codes-done")
        demo.expect_screen("home")
        expect(page.locator("#remembered-list")).to_have_text("None.")

        # The second step, remembering this browser: it is listed, by name.
        demo.sign_out()
        demo.first_factor("#signin-button", email)
        demo.expect_screen("second-factor")
        page.check("#remember-device")
        page.fill("#totp-code", demo.totp_code(secret))
        page.click("#totp-verify-button")
        demo.expect_screen("home")
        devices = page.locator("#remembered-list li")
        expect(devices).to_have_count(1)
        expect(devices.first).to_contain_text("Chrome on Linux")

        # Remembered: the next sign-in skips the second step.
        demo.sign_out()
        demo.first_factor("#signin-button", email)
        demo.expect_screen("home")
        demo.call_api()

        # Forgotten: the next sign-in asks for it again.
        page.click(".remembered-forget")
        demo.expect_message("will be asked for a second step at its next sign-in")
        expect(page.locator("#remembered-list")).to_have_text("None.")
        demo.sign_out()
        demo.first_factor("#signin-button", email)
        demo.expect_screen("second-factor")
        assert demo.fetch_status("/api/secret") == 403

        assert problems == []
        assert "Traceback" not in server.log()
