"""Security keys and passkeys on the demo page of each example, in headless Chromium.

Chromium's DevTools protocol provides a virtual authenticator (``WebAuthn.enable``,
``WebAuthn.addVirtualAuthenticator``): a CTAP2 key, platform (``internal``) or roaming
(``usb``), with and without user verification, holding resident keys (passkeys), that
answers ``navigator.credentials`` with no hardware. The page is opened at
``http://localhost:PORT`` (the URL the example prints): Chromium refuses WebAuthn on
``127.0.0.1``.

The walk: sign up -> add a security key instead of an authenticator app -> recovery codes
-> protected call -> sign out -> sign in -> "Use your security key" -> protected call ->
remove the key. Fixtures in ``conftest.py``, helpers in :mod:`tests.helpers.browser`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from ..helpers.browser import Demo, artifacts_on_failure, record_problems
from ..helpers.examples import EXAMPLES, run_example

UV = {"hasUserVerification": True, "isUserVerified": True}
NO_UV = {"hasUserVerification": False, "isUserVerified": False}
AUTHENTICATORS: dict[str, dict[str, Any]] = {
    "internal-uv": {"transport": "internal", "hasResidentKey": True, **UV},
    "internal-no-uv": {"transport": "internal", "hasResidentKey": True, **NO_UV},
    "usb-uv": {"transport": "usb", "hasResidentKey": True, **UV},
    # A USB key without user verification gets a non-discoverable credential: Chromium
    # makes a discoverable one on a security key only after a PIN is set (a dialog).
    "usb-no-uv": {"transport": "usb", "hasResidentKey": False, **NO_UV},
}


def add_virtual_authenticator(page: Page, options: dict[str, Any]) -> tuple[Any, str]:
    """A CTAP2 virtual authenticator with resident keys, present in ``page``'s tab."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "automaticPresenceSimulation": True,
                **options,
            }
        },
    )
    return cdp, str(added["authenticatorId"])


@pytest.mark.slow
@pytest.mark.parametrize("kind", AUTHENTICATORS)
@pytest.mark.parametrize("name", EXAMPLES)
def test_security_key_walk(name: str, kind: str, page: Page, tmp_path: Path) -> None:
    email = f"key-{name.replace('_', '-')}-{kind}@example.com"
    problems = record_problems(page)
    with run_example(name, tmp_path / "data") as server, artifacts_on_failure(page, server):
        url = server.url.replace("127.0.0.1", "localhost")
        server.wait_for_log(rf"open {url}/ in a browser")
        cdp, authenticator = add_virtual_authenticator(page, AUTHENTICATORS[kind])
        demo = Demo(page, server, None)
        page.goto(url + "/")
        demo.expect_screen("signin")

        demo.first_factor("#signup-button", email)
        demo.expect_screen("enrol")
        page.click("#enrol-webauthn-button")
        demo.expect_screen("recovery-codes")
        expect(page.locator("#recovery-codes li")).to_have_count(10)
        page.click("#recovery-codes-done")
        demo.expect_screen("home")
        expect(page.locator("#webauthn-list li")).to_have_count(1)
        expect(page.locator("#webauthn-list")).to_contain_text("My security key")
        demo.call_api()
        stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
        assert len(stored["credentials"]) == 1
        resident = AUTHENTICATORS[kind]["hasResidentKey"]
        assert stored["credentials"][0]["isResidentCredential"] is resident

        demo.sign_out()
        demo.first_factor("#signin-button", email)
        demo.expect_screen("second-factor")
        expect(page.locator("#webauthn-use-button")).to_be_visible()
        assert demo.fetch_status("/api/secret") == 403
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url) if "authenticate/options" in r.url else 0)
        page.click("#webauthn-use-button")
        demo.expect_screen("home")
        assert asked == []  # the page used the options that came with GET /auth/2fa
        demo.call_api()
        overview = page.evaluate(
            "fetch('/auth/2fa', {headers: {rid: 'anti-csrf'}}).then(r => r.json())"
        )
        assert overview["factors"] == ["recovery-code", "webauthn"]
        assert overview["securityKeys"][0]["lastUsedAt"] is not None

        page.click(".webauthn-remove")
        demo.expect_message('Security key "My security key" removed')
        demo.expect_screen("home")  # this session's 2FA stays completed
        expect(page.locator("#webauthn-list li")).to_have_count(0)
        expect(page.locator("#webauthn-add-button")).to_be_visible()
        overview = page.evaluate(
            "fetch('/auth/2fa', {headers: {rid: 'anti-csrf'}}).then(r => r.json())"
        )
        assert overview["securityKeys"] == [] and overview["factors"] == []
    assert problems == []
