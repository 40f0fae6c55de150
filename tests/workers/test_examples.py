"""The bundled examples, each started as its own process with its one command.

``python -m examples.fastapi_app`` / ``flask_app`` / ``django_app`` (and the Django example
under uvicorn, ``django_asgi``) with ``PORT`` set to a free port and a temporary data
folder: the page and the API are served, users survive a restart,
``SUPERTOKENS_CONNECTION_URI`` is honoured, and a missing key fails loudly.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from st_twofactor.devcore import DevCore

from ..helpers.examples import (
    DJANGO_ASGI,
    EXAMPLES,
    REPO,
    command,
    example_env,
    run_example,
)
from ..helpers.ports import free_port

PASSWORD = "correct-horse-battery-1"
BROWSER_HEADERS = {"st-auth-mode": "cookie", "rid": "anti-csrf"}


def _client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers=BROWSER_HEADERS, timeout=10)


def _first_factor(client: httpx.Client, path: str, email: str) -> dict[str, object]:
    fields = [{"id": "email", "value": email}, {"id": "password", "value": PASSWORD}]
    response = client.post(path, json={"formFields": fields})
    assert response.status_code == 200, response.text
    answer: dict[str, object] = response.json()
    return answer


@pytest.mark.slow
@pytest.mark.parametrize("name", [*EXAMPLES, DJANGO_ASGI])
def test_example_serves_the_page_and_the_api(name: str, tmp_path: Path) -> None:
    with run_example(name, tmp_path / "data") as server, _client(server.url) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert 'id="screen-signin"' in page.text and "/static/app.js" in page.text
        for asset, kind in (("app.js", "javascript"), ("style.css", "text/css")):
            response = client.get(f"/static/{asset}")
            assert response.status_code == 200 and kind in response.headers["content-type"]

        assert client.get("/auth/2fa").status_code == 401
        assert client.get("/api/secret").status_code == 401

        assert _first_factor(client, "/auth/signup", "ann@example.com")["status"] == "OK"
        assert "sAccessToken" in client.cookies  # cookie-based sessions, as the page uses
        overview = client.get("/auth/2fa").json()
        assert overview["status"] == "OK"
        assert overview["completed"] is False and overview["factors"] == []
        refused = client.get("/api/secret")
        assert refused.status_code == 403
        ids = [e["id"] for e in refused.json()["claimValidationErrors"]]
        assert ids == ["2fa-completed", "st-mfa"]
        created = client.post("/auth/2fa/totp/device", json={}).json()
        assert created["status"] == "OK" and created["qrCodeSvg"].lstrip().startswith("<")

        # SuperTokens' MFA and TOTP frontend recipes' endpoints, with no extra setting:
        mfa = client.put("/auth/mfa/info", json={}, headers={"rid": "multifactorauth"})
        assert mfa.status_code == 200 and mfa.json()["factors"]["next"], mfa.text
        totp = {"rid": "totp"}
        device = client.post("/auth/totp/device", json={}, headers=totp).json()
        assert device["status"] == "OK" and device["qrCodeString"].startswith("otpauth://")
        listed = client.get("/auth/totp/device/list", headers=totp).json()
        assert [d["verified"] for d in listed["devices"]] == [False]

        log = server.log()
        assert "DEVELOPMENT MODE: ST2FA_SECRET_KEY is not set" in log
        assert "Traceback" not in log
    assert server.process.returncode is not None


@pytest.mark.slow
@pytest.mark.parametrize("name", EXAMPLES)
def test_users_survive_a_restart(name: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    with run_example(name, data) as server, _client(server.url) as client:
        assert _first_factor(client, "/auth/signup", "bob@example.com")["status"] == "OK"
    assert (data / "devcore.sqlite3").is_file()
    with run_example(name, data) as server, _client(server.url) as client:
        assert _first_factor(client, "/auth/signin", "bob@example.com")["status"] == "OK"
        assert client.get("/auth/2fa").json()["status"] == "OK"


@pytest.mark.slow
def test_example_uses_the_configured_core_and_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with DevCore() as core:
        env = {
            "SUPERTOKENS_CONNECTION_URI": core.url,
            "ST2FA_SECRET_KEY": "example-test-key-0123456789abcdef",
        }
        with run_example("fastapi_app", data, **env) as server, _client(server.url) as client:
            assert _first_factor(client, "/auth/signup", "cy@example.com")["status"] == "OK"
            assert any(r.path.endswith("/recipe/signup") for r in core.requests())
            assert "DEVELOPMENT MODE" not in server.log()
    assert not (data / "devcore.sqlite3").exists()


@pytest.mark.slow
@pytest.mark.parametrize("name", [*EXAMPLES, DJANGO_ASGI])
def test_example_answers_503_while_its_core_is_down(name: str, tmp_path: Path) -> None:
    """The SDK's routes too (answer_core_outages), so the page can say what is wrong."""
    with DevCore() as core:
        env = {"SUPERTOKENS_CONNECTION_URI": core.url}
        with run_example(name, tmp_path / "data", **env) as server, _client(server.url) as client:
            assert _first_factor(client, "/auth/signup", "di@example.com")["status"] == "OK"
            assert client.get("/auth/2fa").status_code == 200  # the signing keys now cached
            core.stop()
            fields = [
                {"id": "email", "value": "di@example.com"},
                {"id": "password", "value": PASSWORD},
            ]
            down = client.post("/auth/signin", json={"formFields": fields})
            assert down.status_code == 503, down.text
            assert down.json() == {
                "message": "the SuperTokens core is unreachable; try again later"
            }
            assert client.get("/auth/2fa").status_code == 503
            if name != "flask_app":  # Flask logs every unhandled error before its handler
                assert "Traceback" not in server.log()


@pytest.mark.slow
@pytest.mark.parametrize("name", [*EXAMPLES, DJANGO_ASGI])
def test_example_refuses_to_start_without_a_key_outside_development(
    name: str, tmp_path: Path
) -> None:
    port = free_port()
    env = example_env(tmp_path / "data", port, ST2FA_DEVELOPMENT="0")
    done = subprocess.run(
        command(name, port),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "secret_keys is required outside development" in done.stderr
