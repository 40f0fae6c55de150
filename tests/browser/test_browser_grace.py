"""The demo page with an enrolment grace period (``ST2FA_ENROLMENT_GRACE_DAYS=7``), in
headless Chromium against the FastAPI example run as a process: a new user is offered the
set-up with "Set up later (7 days left)", gets in without a factor, is reminded on the home
screen, and sets TOTP up later; a code from a device whose clock is off says so."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from st_twofactor.factors.totp import algorithm as totp

from ..helpers.browser import Demo, artifacts_on_failure, record_problems
from ..helpers.examples import run_example


@pytest.mark.slow
def test_set_up_later_then_now(page: Page, tmp_path: Path) -> None:
    problems = record_problems(page)
    env = {"ST2FA_ENROLMENT_GRACE_DAYS": "7"}
    with (
        run_example("fastapi_app", tmp_path / "data", **env) as server,
        artifacts_on_failure(page, server),
    ):
        demo = Demo(page, server, None)
        page.goto(server.url + "/")
        demo.expect_screen("signin")
        demo.first_factor("#signup-button", "grace-walk@example.com")

        # Offered the set-up, with "set up later": taken.
        demo.expect_screen("enrol")
        later = page.locator("#enrol-later-button")
        expect(later).to_have_text("Set up later (7 days left)")
        later.click()
        demo.expect_screen("home")
        expect(page.locator("#grace-text")).to_contain_text("put it off 7 more days")
        expect(page.locator("#recovery-codes-left")).to_have_text("")
        demo.call_api()  # in: the grace period lets the user through

        # Set up now, from a device whose clock is four minutes behind first.
        page.click("#grace-setup-button")
        demo.expect_screen("enrol")
        secret = page.inner_text("#totp-secret").strip()
        page.fill("#enrol-code", totp.code_at(secret, time.time() - 240))
        page.click("#enrol-verify-button")
        demo.expect_message(r"your device's clock seems to be off.* 4 attempt\(s\) left\.$")
        page.fill("#enrol-code", demo.totp_code(secret))
        page.click("#enrol-verify-button")
        demo.expect_screen("recovery-codes")
        page.click("#recovery-codes-done")
        demo.expect_screen("home")
        expect(page.locator("#grace-notice")).to_be_hidden()
        expect(page.locator("#recovery-codes-left")).to_have_text("Recovery codes left: 10.")
    assert problems == []
