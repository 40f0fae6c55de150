"""A website on another origin than the API, against the examples run as processes.

- ``WEBSITE_DOMAIN`` sets the website's origin: links in e-mails (password reset) point
  there, not at the API server (issue 11.9).
- With a website on another origin the examples answer CORS with
  ``st_twofactor.cors_headers()``; a headless Chromium page on one port signs up,
  enrols TOTP, signs out, signs in (sending ``st-2fa-remember``, which needs the
  preflight) and completes 2FA against the API on another port (issue 11.4).

The browser is Debian's ``/usr/bin/chromium`` driven by Playwright, as in
``tests/browser/test_browser.py`` (skipped without it, except in CI where it fails).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from st_twofactor.factors.totp import algorithm as totp

from ..helpers.browser import PASSWORD, TIMEOUT_MS
from ..helpers.examples import EXAMPLES, run_example
from ..helpers.ports import free_port

# The website: a page on its own origin whose script calls the API on another origin
# with the session in cookies, as SuperTokens' frontend SDKs do (credentials included,
# the anti-CSRF custom header `rid`).
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>another origin</title></head>
<body><p id="ready">ready</p>
<script>
window.api = async (api, method, path, body, headers) => {
  const response = await fetch(api + path, {
    method,
    credentials: "include",
    headers: { rid: "anti-csrf", "st-auth-mode": "cookie",
               ...(body ? { "content-type": "application/json" } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
};
</script></body></html>
"""


class _PageHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        data = PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return None


def _serve_page() -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _PageHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def website() -> Iterator[str]:
    """The website's origin: a page served on a port of its own."""
    server, origin = _serve_page()
    yield origin
    server.shutdown()
    server.server_close()


def _form(email: str) -> dict[str, Any]:
    return {"formFields": [{"id": "email", "value": email}, {"id": "password", "value": PASSWORD}]}


# -- WEBSITE_DOMAIN: links in e-mails point at the website --


@pytest.mark.parametrize("name", EXAMPLES)
def test_password_reset_links_point_at_website_domain(
    name: str, tmp_path: Path, website: str
) -> None:
    email = f"reset-{name.replace('_', '-')}@example.com"
    with run_example(name, tmp_path / "data", WEBSITE_DOMAIN=website) as server:
        headers = {"st-auth-mode": "header"}
        signed_up = httpx.post(f"{server.url}/auth/signup", json=_form(email), headers=headers)
        assert signed_up.json()["status"] == "OK", signed_up.text
        asked = httpx.post(
            f"{server.url}/auth/user/password/reset/token",
            json={"formFields": [{"id": "email", "value": email}]},
            headers=headers,
        )
        assert asked.json()["status"] == "OK", asked.text
        link = server.wait_for_log(rf"password reset link for {email}: (\S+)").group(1)
        assert link.startswith(f"{website}/auth/reset-password?token="), link


# -- the browser walk across origins --


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


class CrossOrigin:
    """Calls from the website's page to the API on the other origin."""

    def __init__(self, page: Page, api: str) -> None:
        self.page = page
        self.api = api
        self.last_step = 0

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        answer: dict[str, Any] = self.page.evaluate(
            "([api, m, p, b, h]) => window.api(api, m, p, b, h)",
            [self.api, method, path, body, headers or {}],
        )
        return answer

    def ok(self, method: str, path: str, body: dict[str, Any] | None = None, **kw: Any) -> Any:
        answer = self.call(method, path, body, **kw)
        assert answer["status"] == 200 and answer["body"]["status"] == "OK", (path, answer)
        return answer["body"]

    def code(self, secret: str) -> str:
        """A TOTP code for a time step after the last one used."""
        while (step := totp.step_at(time.time())) <= self.last_step:
            time.sleep(1)
        self.last_step = step
        return totp.code_at(secret, step * totp.STEP_SECONDS)


@pytest.mark.slow
@pytest.mark.parametrize("name", EXAMPLES)
def test_sign_up_and_2fa_from_a_page_on_another_origin(
    name: str, page: Page, tmp_path: Path, website: str
) -> None:
    email = f"cors-{name.replace('_', '-')}@example.com"
    with run_example(name, tmp_path / "data", WEBSITE_DOMAIN=website) as server:
        assert website != server.url
        page.goto(website + "/")
        assert page.evaluate("location.origin") == website
        walk = CrossOrigin(page, server.url)

        walk.ok("POST", "/auth/signup", _form(email))
        assert walk.call("GET", "/api/secret")["status"] == 403  # the session, cross-origin
        assert walk.ok("GET", "/auth/2fa")["completed"] is False
        secret = walk.ok("POST", "/auth/2fa/totp/device")["secret"]
        enrolled = walk.ok("POST", "/auth/2fa/totp/device/verify", {"code": walk.code(secret)})
        assert len(enrolled["recoveryCodes"]) == 10
        assert walk.call("GET", "/api/secret")["status"] == 200

        walk.ok("POST", "/auth/signout")
        assert walk.call("GET", "/api/secret")["status"] == 401
        # A client keeping a remember-device token sends it in st-2fa-remember: the
        # browser asks the API first (a preflight), which must allow that header.
        walk.ok("POST", "/auth/signin", _form(email), headers={"st-2fa-remember": "none"})
        assert walk.call("GET", "/api/secret")["status"] == 403
        walk.ok("POST", "/auth/2fa/totp/verify", {"code": walk.code(secret)})
        answer = walk.call("GET", "/api/secret")
        assert answer["status"] == 200 and answer["body"]["message"], answer
        assert "OPTIONS /auth/signin" in server.log(), "the browser sent a preflight"
