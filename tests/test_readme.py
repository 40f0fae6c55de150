"""The README is code that runs (issue 11.8).

Every ```python block of README.md, including blocks added later and blocks indented in
a list, is:

- complete and well typed: all blocks are type-checked together by mypy, each as a
  module of its own (an undefined name, a missing import or a wrong argument fails);
- runnable: each is run in this process as a module named ``readme_block`` (so an
  ``if __name__ == "__main__":`` server start is skipped), with the SDK reset before and
  after, ``SUPERTOKENS_CONNECTION_URI`` pointing at a fresh app of the development core
  and ``ST2FA_SECRET_KEY`` set. Nothing is sent: SMTP services are only constructed.

The drop-in block is then driven end to end: its app alone must let a new user enrol
and complete 2FA (issue 11.1: the documented minimal setup is complete).
"""

from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from st_twofactor.factors.totp import algorithm as totp
from st_twofactor.testing import reset_supertokens

from .conftest import HEADER_MODE, Tokens, sign_up

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
SECRET_KEY = "readme-secret-key-0123456789abcdef"
_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```python[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S
)


@dataclass(frozen=True)
class Block:
    section: str
    line: int
    code: str

    @property
    def name(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.section.lower()).strip("-")
        return f"{slug}-line-{self.line}"


def readme_blocks() -> list[Block]:
    text = README.read_text()
    blocks = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()]
        headings = re.findall(r"^##+ (.+)$", before, re.M)
        code = textwrap.dedent(match.group("body"))
        blocks.append(Block(headings[-1] if headings else "top", before.count("\n") + 1, code))
    return blocks


BLOCKS = readme_blocks()


def test_the_readme_has_python_blocks() -> None:
    """The extraction sees every block (a fence it missed would go untested)."""
    fences = len(re.findall(r"^[ \t]*```python", README.read_text(), re.M))
    assert fences == len(BLOCKS) >= 5


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
    path = directory / "readme_block.py"
    path.write_text(block.code)
    before = os.getcwd()
    os.chdir(directory)
    try:
        return runpy.run_path(str(path), run_name="readme_block")
    finally:
        os.chdir(before)


@pytest.mark.parametrize("block", BLOCKS, ids=[b.name for b in BLOCKS])
def test_each_block_runs(block: Block, readme_env: None, tmp_path: Path) -> None:
    run_block(block, tmp_path)


def test_all_blocks_type_check(tmp_path: Path) -> None:
    files = []
    for number, block in enumerate(BLOCKS):
        path = tmp_path / f"readme_block_{number:02d}.py"
        path.write_text(block.code)
        files.append(str(path))
    checked = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--ignore-missing-imports",  # flask-cors ships no types
            "--check-untyped-defs",
            "--cache-dir",
            str(REPO / ".mypy_cache"),
            *files,
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    named = checked.stdout
    for number, block in enumerate(BLOCKS):
        named = named.replace(f"readme_block_{number:02d}.py", f"README block {block.name}")
    assert checked.returncode == 0, named + checked.stderr


def _drop_in_block() -> Block:
    found = [b for b in BLOCKS if b.section == "Drop into an existing app"]
    assert found, "the README has a block under 'Drop into an existing app'"
    return found[0]


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
    verified = post("/auth/2fa/totp/device/verify", {"code": totp.code_at(secret, time.time())})
    assert verified.json()["status"] == "OK", verified.json()
    assert get("/api/orders").status_code == 200
    assert post("/api/transfer").status_code == 200
    assert client.get("/api/orders", headers=HEADER_MODE).status_code == 401
