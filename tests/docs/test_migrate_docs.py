"""docs/howto/migrating-from-legacy-2fa.md is code that runs, like the README (``test_readme.py``).

Every ```python block of the page is type-checked (all together, each as a module) and
run against a fresh app of the development core. Then the page's own apps are driven: a
user of the "before" app sets up phone 2FA over its HTTP API; the migration runs; the
"after" app asks that user for a code to the same number and lets them in; the page's
roll-back puts the link back, and migrating again pins the number again.
"""

from __future__ import annotations

import asyncio
import os
import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from supertokens_python.recipe.usermetadata.asyncio import get_user_metadata

from st_twofactor.migrate import LINK_KEY, NOTE_KEY, migrate_legacy_2fa
from st_twofactor.testing import reset_supertokens

from ..conftest import HEADER_MODE, PASSWORD, Tokens, jwt_payload
from .blocks import REPO, fence_count, mypy, page_blocks, write_modules

PAGE = REPO / "docs" / "howto" / "migrating-from-legacy-2fa.md"
SECRET_KEY = "docs-secret-key-0123456789abcdef"
PAGE_BLOCKS = page_blocks(PAGE)
BLOCKS = {block.section: block.code for block in PAGE_BLOCKS}
"""The page's python blocks by the heading they are under."""
BEFORE = "Before: the legacy app"
AFTER = "After: the same app with st-twofactor"
ROLL_BACK = "Rolling back"


def test_the_page_has_its_three_blocks() -> None:
    assert list(BLOCKS) == [BEFORE, AFTER, ROLL_BACK]
    assert fence_count(PAGE) == 3


def test_the_blocks_type_check(tmp_path: Path) -> None:
    checked = mypy(write_modules(PAGE_BLOCKS, tmp_path, "docs_block"), tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.fixture
def docs_env(devcore_app: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("SUPERTOKENS_CONNECTION_URI", devcore_app)
    monkeypatch.setenv("ST2FA_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("TEST_MODE", "testing")  # the SDK's telemetry off: no network
    reset_supertokens()
    yield devcore_app
    reset_supertokens()


def run_block(heading: str, directory: Path) -> dict[str, Any]:
    path = directory / "docs_block.py"
    path.write_text(BLOCKS[heading])
    return runpy.run_path(str(path), run_name="docs_block")


class Client:
    """One of the page's apps, with its SMS codes captured (phone number, code)."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.codes: list[tuple[str, str]] = []
        self.client = TestClient(namespace["app"], base_url="http://localhost")

        async def send_sms(template_vars: Any, user_context: dict[str, Any]) -> None:
            self.codes.append((template_vars.phone_number, template_vars.user_input_code))

        namespace["sms"].send_sms = send_sms  # the page's SMS service, here captured

    def post(self, path: str, body: dict[str, Any], tokens: Tokens | None = None) -> Any:
        headers = tokens.auth() if tokens is not None else HEADER_MODE
        response = self.client.post(path, json=body, headers=headers)
        if tokens is not None and response.headers.get("st-access-token"):
            tokens.access = response.headers["st-access-token"]
        return response.json()

    def get(self, path: str, tokens: Tokens) -> Any:
        return self.client.get(path, headers=tokens.auth())

    def email_password(self, path: str, email: str) -> Tokens:
        form = [{"id": "email", "value": email}, {"id": "password", "value": PASSWORD}]
        response = self.client.post(path, json={"formFields": form}, headers=HEADER_MODE)
        assert response.json()["status"] == "OK", response.json()
        return Tokens.of(response)

    def sms_code(self, tokens: Tokens, phone: str) -> Any:
        device = self.post("/auth/signinup/code", {"phoneNumber": phone}, tokens)
        assert device["status"] == "OK", device
        to, code = self.codes[-1]
        assert to == phone
        body = {
            "preAuthSessionId": device["preAuthSessionId"],
            "deviceId": device["deviceId"],
            "userInputCode": code,
        }
        return self.post("/auth/signinup/code/consume", body, tokens)


def test_the_pages_apps_migrate_and_roll_back(docs_env: str, tmp_path: Path) -> None:
    phone = "+14155550142"
    before = Client(run_block(BEFORE, tmp_path))
    tokens = before.email_password("/auth/signup", "ada@example.com")
    user_id = str(jwt_payload(tokens.access or "")["sub"])
    assert before.get("/api/orders", tokens).status_code == 403
    consumed = before.sms_code(tokens, phone)
    assert consumed["status"] == "OK", consumed
    second_user_id = consumed["user"]["id"]
    assert before.get("/api/orders", tokens).status_code == 200
    signed_in = before.email_password("/auth/signin", "ada@example.com")
    assert jwt_payload(signed_in.access or "")["phoneNumber"] == phone

    reset_supertokens()
    after_namespace = run_block(AFTER, tmp_path)
    after = Client(after_namespace)
    config = after_namespace["config"]
    report = asyncio.run(migrate_legacy_2fa(config))
    assert [(m.user_id, m.second_user_id, m.contact) for m in report.migrated] == [
        (user_id, second_user_id, phone)
    ]
    assert after.get("/api/orders", tokens).status_code == 200  # the legacy session
    assert after.client.post("/api/transfer", headers=tokens.auth()).status_code == 403

    again = after.email_password("/auth/signin", "ada@example.com")
    assert after.get("/auth/2fa", again).json()["next"] == ["otp-phone"]
    assert after.sms_code(again, phone)["status"] == "OK"
    assert after.get("/api/orders", again).status_code == 200
    assert after.client.post("/api/transfer", headers=again.auth()).status_code == 200

    restore_links = run_block(ROLL_BACK, tmp_path)["restore_links"]
    assert asyncio.run(restore_links(config, report.to_dict())) == 1
    metadata = asyncio.run(get_user_metadata(user_id)).metadata
    assert metadata[LINK_KEY] == second_user_id and NOTE_KEY not in metadata
    assert asyncio.run(config.state_store.load(user_id)).phone is None
    migrated_again = asyncio.run(migrate_legacy_2fa(config, delete_second_users=True))
    assert [m.user_id for m in migrated_again.migrated] == [user_id]
    assert asyncio.run(config.state_store.load(user_id)).phone == phone
    assert os.environ["SUPERTOKENS_CONNECTION_URI"] == docs_env
