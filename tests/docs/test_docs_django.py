"""docs/howto/django.md is a project that runs, built from the page's own code blocks.

Every ```python and ```toml block of the page starts with a comment naming its file
(``# shop/settings.py``); the blocks are written into a temporary folder, and then:

- the page's tests run there with pytest-django, in a subprocess, as the page sets them
  up (its test settings start a development core in that process);
- more checks of what the page says run beside them, with the same settings: Django's
  CSRF checks on (the SDK's routes are not subject to them; the step-up view needs the
  ``rid`` header), and the CORS preflight for the website;
- ``shop/asgi.py`` serves the project under uvicorn and ``shop/wsgi.py`` answers a WSGI
  call;
- the files type-check with mypy.

Each subprocess gets the environment without ``DJANGO_*``, ``SUPERTOKENS_*`` or ``ST2FA_*``
variables, so only the page's settings decide.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from st_twofactor.factors.totp import algorithm as totp

from ..helpers.examples import stop
from ..helpers.ports import free_port
from .blocks import REPO, mypy, page_blocks

PAGE = REPO / "docs" / "howto" / "django.md"
PAGE_BLOCKS = page_blocks(PAGE, langs=("python", "toml"))
_NAME = re.compile(r"\A# (?P<path>[\w./]+\.(?:py|toml))\n")

# Run beside the page's tests, in the project it builds (so with its settings).
CLAIMS = """
import time

from django.test import Client

from st_twofactor.factors.totp import algorithm as totp

BROWSER = {"st-auth-mode": "cookie", "rid": "anti-csrf"}


def _form(email):
    fields = [{"id": "email", "value": email}, {"id": "password", "value": "a-password-123"}]
    return {"formFields": fields}


def _post(client, path, body):
    return client.post(path, body, content_type="application/json")


def test_csrf_checks_leave_the_sdks_routes_alone_and_rid_guards_the_exempt_view():
    client = Client(enforce_csrf_checks=True, headers=BROWSER)
    assert _post(client, "/auth/signup", _form("csrf@example.com")).json()["status"] == "OK"
    secret = _post(client, "/auth/2fa/totp/device", {}).json()["secret"]
    code = totp.code_at(secret, time.time())
    assert _post(client, "/auth/2fa/totp/device/verify", {"code": code}).json()["status"] == "OK"
    assert client.post("/api/transfer").status_code == 200

    # The same cookies from another site's form: no rid header, so SuperTokens refuses.
    form_post = Client(enforce_csrf_checks=True, headers={"st-auth-mode": "cookie"})
    form_post.cookies = client.cookies
    assert form_post.post("/api/transfer").status_code == 401


def test_the_cors_preflight_allows_the_website_and_the_librarys_header():
    asked = {
        "Origin": "https://www.shop.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,rid,st-auth-mode,st-2fa-remember",
    }
    answer = Client().options("/auth/signin", headers=asked)
    assert answer.status_code == 200
    assert answer["access-control-allow-origin"] == "https://www.shop.example"
    assert answer["access-control-allow-credentials"] == "true"
    allowed = {h.strip().lower() for h in answer["access-control-allow-headers"].split(",")}
    assert {"content-type", "rid", "st-auth-mode", "st-2fa-remember"} <= allowed

    other = Client().options("/auth/signin", headers={**asked, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other
"""


def page_files() -> dict[str, str]:
    """The project the page describes: file path -> content, from its code blocks."""
    files: dict[str, str] = {}
    for block in PAGE_BLOCKS:
        name = _NAME.match(block.code)
        assert name, f"{block.where}: a block must start with '# <its file>'"
        assert name.group("path") not in files, f"two blocks for {name.group('path')}"
        files[name.group("path")] = block.code
    return files


def _env(**overrides: str) -> dict[str, str]:
    prefixes = ("DJANGO_", "SUPERTOKENS_", "ST2FA_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(SUPERTOKENS_TLDEXTRACT_DISABLE_HTTP="1", PYTHONUNBUFFERED="1", **overrides)
    return env


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("django-docs")
    for name, code in page_files().items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(code)
    (root / "shop" / "__init__.py").touch()
    return root


def test_the_page_is_a_whole_project() -> None:
    files = page_files()
    expected = {
        "shop/settings.py",
        "shop/views.py",
        "shop/urls.py",
        "shop/wsgi.py",
        "shop/asgi.py",
        "shop/settings_test.py",
        "pyproject.toml",
        "tests/test_orders.py",
    }
    assert set(files) == expected
    assert "st_twofactor.django.Middleware" in files["shop/settings.py"]


def test_the_pages_tests_pass_with_pytest_django(project: Path) -> None:
    (project / "tests" / "test_page_claims.py").write_text(CLAIMS)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
            cwd=project,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        (project / "tests" / "test_page_claims.py").unlink()
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert re.search(r"^3 passed\b", done.stdout, re.M), output


def test_asgi_py_serves_the_project_under_uvicorn(project: Path) -> None:
    port = free_port()
    log = project / "uvicorn.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "shop.asgi:application", "--port", str(port)],
            cwd=project,
            env=_env(DJANGO_SETTINGS_MODULE="shop.settings_test"),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        with _serving(url, server, log) as client:
            form = {
                "formFields": [
                    {"id": "email", "value": "asgi@example.com"},
                    {"id": "password", "value": "a-password-123"},
                ]
            }
            signed_up = client.post("/auth/signup", json=form)
            assert signed_up.json()["status"] == "OK", signed_up.text
            auth = {"authorization": f"Bearer {signed_up.headers['st-access-token']}"}
            assert client.get("/api/orders", headers=auth).status_code == 403
            secret = client.post("/auth/2fa/totp/device", json={}, headers=auth).json()["secret"]
            code = totp.code_at(secret, time.time())
            done = client.post("/auth/2fa/totp/device/verify", json={"code": code}, headers=auth)
            assert done.json()["status"] == "OK", done.text
            auth = {"authorization": f"Bearer {done.headers['st-access-token']}"}
            assert client.get("/api/orders", headers=auth).status_code == 200
            assert client.post("/api/transfer", headers=auth).status_code == 200  # async view
    finally:
        stop(server)
    assert "Traceback" not in log.read_text()


def test_wsgi_py_answers_a_wsgi_call(project: Path) -> None:
    script = (
        "from wsgiref.util import setup_testing_defaults\n"
        "from shop.wsgi import application\n"
        "environ = {'PATH_INFO': '/api/orders', 'HTTP_HOST': 'api.shop.example'}\n"
        "setup_testing_defaults(environ)\n"
        "application(environ, lambda status, headers: print(status))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=project,
        env=_env(DJANGO_SETTINGS_MODULE="shop.settings_test"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "401 Unauthorized", done.stdout + done.stderr


@contextmanager
def _serving(url: str, server: subprocess.Popen[bytes], log: Path) -> Iterator[httpx.Client]:
    """A client of the server at ``url`` once it answers, as the page's allowed host
    (``Host: api.shop.example``), with header-based sessions."""
    headers = {"host": "api.shop.example", "st-auth-mode": "header"}
    with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, log.read_text()
            try:
                client.get("/api/orders")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield client


def test_the_files_type_check(project: Path) -> None:
    files = [str(p.relative_to(project)) for p in project.rglob("*.py")]
    checked = mypy(files, project)  # missing imports allowed: Django ships no types
    assert checked.returncode == 0, checked.stdout + checked.stderr
