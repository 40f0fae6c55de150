"""The README and the doc pages made from it are code that runs.

Every ```python block of README.md and of each docs/ page without a test of its own
(``blocks.OWN_TESTS``), including blocks added later and blocks indented in a list, is:

- complete and well typed: all blocks are type-checked together by mypy, each as a
  module of its own (an undefined name, a missing import or a wrong argument fails);
  so are the blocks listed as not runnable (``blocks.NOT_RUNNABLE``);
- runnable: each is run in this process as a module named ``readme_block`` (so an
  ``if __name__ == "__main__":`` server start is skipped), with the SDK reset before and
  after, ``SUPERTOKENS_CONNECTION_URI`` pointing at a fresh app of the development core
  and ``ST2FA_SECRET_KEY`` set. Nothing is sent: SMTP services are only constructed. A
  development core a block starts is closed after it.

The README's quick start and the FastAPI page's drop-in app are then driven end to end:
each alone must let a new user enrol and complete 2FA (the documented minimal setups are
complete).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient

from st_twofactor.devcore import DevCore
from st_twofactor.testing import reset_supertokens

from ..conftest import HEADER_MODE, Tokens, sign_up
from .blocks import (
    OWN_TESTS,
    README,
    Block,
    fence_count,
    mypy,
    not_runnable,
    page_blocks,
    pages,
    relative,
    write_modules,
)
from .blocks import run_block as run_block_in

SECRET_KEY = "readme-secret-key-0123456789abcdef"

PAGES = [page for page in pages() if relative(page) not in OWN_TESTS]
"""README.md and the docs pages whose blocks run here."""
ALL = [block for page in PAGES for block in page_blocks(page)]
BLOCKS = [block for block in ALL if not_runnable(block) is None]
"""The blocks run here, one by one."""
NOT_RUN = [block for page in pages() for block in page_blocks(page) if not_runnable(block)]
"""Listed as not runnable (on any page): type-checked here, not run."""


def test_the_readme_has_python_blocks() -> None:
    """The extraction sees every block (a fence it missed would go untested)."""
    fences = sum(fence_count(page) for page in PAGES)
    assert fences == len(ALL) >= 5
    assert fence_count(README) == len(page_blocks(README)) >= 1


@pytest.fixture
def readme_env(devcore_app: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SUPERTOKENS_CONNECTION_URI", devcore_app)
    monkeypatch.setenv("ST2FA_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("TEST_MODE", "testing")  # the SDK's telemetry off: no network
    reset_supertokens()
    yield
    reset_supertokens()


def run_block(block: Block, directory: Path) -> dict[str, Any]:
    """Run ``block`` from ``directory``, so files it makes (an SQLite database, say) land
    there and not in the checkout."""
    return run_block_in(block, directory)


@contextmanager
def running(block: Block, directory: Path) -> Iterator[dict[str, Any]]:
    """The block's globals while it runs; a development core it started is closed after."""
    namespace = run_block(block, directory)
    try:
        yield namespace
    finally:
        for value in namespace.values():
            if isinstance(value, DevCore):
                value.close()


@pytest.mark.parametrize("block", BLOCKS, ids=[b.name for b in BLOCKS])
def test_each_block_runs(block: Block, readme_env: None, tmp_path: Path) -> None:
    with running(block, tmp_path):
        pass


def test_all_blocks_type_check(tmp_path: Path) -> None:
    checked_blocks = [*BLOCKS, *NOT_RUN]
    checked = mypy(write_modules(checked_blocks, tmp_path, "readme_block"), tmp_path)
    named = checked.stdout
    for number, block in enumerate(checked_blocks):
        named = named.replace(f"readme_block_{number:02d}.py", f"block {block.where}")
    assert checked.returncode == 0, named + checked.stderr


def _block(page: str, section: str) -> Block:
    found = [b for b in ALL if b.page == page and b.section == section]
    assert found, f"{page} has a block under {section!r}"
    return found[0]


def _drop_in_block() -> Block:
    return _block("docs/howto/fastapi.md", "Drop into an existing app")


def test_the_drop_in_block_alone_lets_a_user_complete_2fa(readme_env: None, tmp_path: Path) -> None:
    namespace = run_block(_drop_in_block(), tmp_path)
    client = TestClient(namespace["app"])
    tokens = Tokens.of(sign_up(client, "drop-in@example.com"))

    def get(path: str) -> Any:
        return client.get(path, headers=tokens.auth())

    def post(path: str, body: dict[str, Any] | None = None) -> Any:
        response = client.post(path, json=body or {}, headers=tokens.auth())
        tokens.access = response.headers.get("st-access-token") or tokens.access
        return response

    assert get("/api/orders").status_code == 403
    assert get("/api/2fa-setup").status_code == 200
    assert get("/auth/2fa").json()["completed"] is False
    secret = post("/auth/2fa/totp/device").json()["secret"]
    verified = post("/auth/2fa/totp/device/verify", {"code": pyotp.TOTP(secret).at(time.time())})
    assert verified.json()["status"] == "OK", verified.json()
    assert get("/api/orders").status_code == 200
    assert post("/api/transfer").status_code == 200
    assert client.get("/api/orders", headers=HEADER_MODE).status_code == 401


def test_the_quick_start_alone_lets_a_user_complete_2fa(readme_env: None, tmp_path: Path) -> None:
    """The README's steps against its quick start, with its own development core."""
    with running(_block("README.md", "Quick start"), tmp_path) as namespace:
        client = TestClient(namespace["app"])
        form = {
            "formFields": [
                {"id": "email", "value": "quick@example.com"},
                {"id": "password", "value": "a-password-123"},
            ]
        }
        signed_up = client.post("/auth/signup", json=form, headers=HEADER_MODE)
        assert signed_up.json()["status"] == "OK", signed_up.json()
        auth = {"authorization": f"Bearer {signed_up.headers['st-access-token']}"}
        assert client.get("/api/orders", headers=auth).status_code == 403

        device = client.post("/auth/2fa/totp/device", headers=auth).json()
        assert device["status"] == "OK" and device["qrCodeSvg"].startswith("<")
        code = pyotp.TOTP(device["secret"]).now()
        verified = client.post("/auth/2fa/totp/device/verify", json={"code": code}, headers=auth)
        assert verified.json()["status"] == "OK" and len(verified.json()["recoveryCodes"]) == 10
        auth = {"authorization": f"Bearer {verified.headers['st-access-token']}"}
        assert client.get("/api/orders", headers=auth).status_code == 200
