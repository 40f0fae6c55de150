"""docs/howto/integrating.md is code that runs, as the README is (test_readme.py).

Each ```python block is type-checked and run. A block whose first line is a path comment
(``# shop/views.py``) is a file of the page's Django project: those files are written
out together and the project's own tests run with pytest in a subprocess (Django's
settings are per process). The other blocks run in this process, each with the SDK reset
and a fresh app of the development core, and the apps they define are driven over HTTP:
an app that skips ``build_recipe_list``, second-factor codes worded apart from sign-in
codes, a step-up guard combined with a role, and the testing recipes with a test clock.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from supertokens_python import RecipeInit
from supertokens_python.ingredients.emaildelivery.types import EmailContent, EmailDeliveryConfig
from supertokens_python.recipe import session
from supertokens_python.recipe.passwordless import SMTPService
from supertokens_python.recipe.passwordless.types import SMTPOverrideInput
from supertokens_python.recipe.userroles.asyncio import (
    add_role_to_user,
    create_new_role_or_add_permissions,
)

from st_twofactor import TwoFactorConfig, build_recipe_list
from st_twofactor.factors.totp import algorithm as totp
from st_twofactor.testing import reset_supertokens

from ..conftest import HEADER_MODE, Tokens, body, jwt_payload, sign_in, sign_up, status
from .blocks import REPO, Block, fence_count, mypy, page_blocks, run_block, write_modules
from .test_readme import SECRET_KEY

PAGE = REPO / "docs" / "howto" / "integrating.md"
_PATH = re.compile(r"# (?P<path>[\w/]+\.py)\n")

BLOCKS = page_blocks(PAGE)
PROJECT = {m["path"]: b.code for b in BLOCKS if (m := _PATH.match(b.code))}
"""The Django project's files: path -> code."""
STANDALONE = [b for b in BLOCKS if not _PATH.match(b.code)]


def block(section: str, containing: str) -> Block:
    found = [b for b in STANDALONE if b.section.startswith(section) and containing in b.code]
    assert len(found) == 1, (section, containing, [b.name for b in found])
    return found[0]


def test_the_page_has_its_blocks() -> None:
    assert fence_count(PAGE) == len(BLOCKS) >= 10
    assert {"shop/settings/test.py", "shop/views.py", "tests/test_shop.py"} <= set(PROJECT)


@pytest.fixture
def page_env(devcore_app: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SUPERTOKENS_CONNECTION_URI", devcore_app)
    monkeypatch.setenv("ST2FA_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("TEST_MODE", "testing")  # the SDK's telemetry off: no network
    reset_supertokens()
    yield
    reset_supertokens()


@pytest.mark.parametrize("code", STANDALONE, ids=[b.name for b in STANDALONE])
def test_each_block_runs(code: Block, page_env: None, tmp_path: Path) -> None:
    run_block(code, tmp_path)


def write_project(directory: Path) -> None:
    for relative, code in PROJECT.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code)
        for parent in path.relative_to(directory).parents:
            if str(parent) not in (".", "tests"):
                (directory / parent / "__init__.py").touch()


def test_all_blocks_type_check(tmp_path: Path) -> None:
    files = write_modules(STANDALONE, tmp_path, "page_block")
    project = tmp_path / "project"
    write_project(project)
    checked = [
        mypy(targets, cwd)
        for targets, cwd in ((files, tmp_path), (["shop", "tests", "conftest.py"], project))
    ]
    for result in checked:
        assert result.returncode == 0, result.stdout + result.stderr


# -- section 1: an app that skips build_recipe_list ------------------------------------------


def test_the_app_without_build_recipe_list_completes_2fa_by_e_mail(
    page_env: None, tmp_path: Path
) -> None:
    namespace = run_block(block("1.", "answer_core_outages(app)"), tmp_path)
    client = TestClient(namespace["app"])
    sent = namespace["Mailer"].sent
    sent.clear()
    assert status(client.post("/auth/signin", json=[], headers=HEADER_MODE)) == 400
    assert status(client.post("/auth/signinup/code", json={"email": "a@b.co"})) == 401
    tokens = Tokens.of(sign_up(client, "own@example.com"))
    assert status(client.get("/api/orders", headers=tokens.auth())) == 403
    asked = client.post(
        "/auth/signinup/code", json={"email": "own@example.com"}, headers=tokens.auth()
    )
    assert body(asked)["status"] == "OK", body(asked)
    assert sent[-1].is_first_factor is False and sent[-1].user_input_code
    consumed = client.post(
        "/auth/signinup/code/consume",
        json={
            "preAuthSessionId": body(asked)["preAuthSessionId"],
            "deviceId": body(asked)["deviceId"],
            "userInputCode": sent[-1].user_input_code,
        },
        headers=tokens.auth(),
    )
    assert body(consumed)["status"] == "OK", body(consumed)
    tokens.access = consumed.headers.get("st-access-token") or tokens.access
    assert status(client.get("/api/orders", headers=tokens.auth())) == 200
    assert client.get("/auth/2fa", headers=tokens.auth()).json()["completed"] is True


def test_build_recipe_list_beside_an_own_session_init_is_refused(
    init_supertokens: Callable[..., None],
) -> None:
    """What section 1 says: a recipe build_recipe_list sets up cannot be initialised twice."""
    config = TwoFactorConfig(development=True, factors=("totp", "recovery-code"))
    with pytest.raises(Exception, match="Session recipe has already been initialised"):
        init_supertokens([*build_recipe_list(config=config), session.init()])


# -- section 4: sign-in and second-factor codes worded apart -------------------------------


def test_second_factor_codes_are_worded_apart_from_sign_in_codes(
    page_env: None, tmp_path: Path, fastapi_app: Callable[[list[RecipeInit]], Any]
) -> None:
    namespace = run_block(block("4.", "shop_wording"), tmp_path)
    wording: Callable[[SMTPOverrideInput], SMTPOverrideInput] = namespace["shop_wording"]
    mails: list[EmailContent] = []

    def captured(original: SMTPOverrideInput) -> SMTPOverrideInput:
        async def send_raw_email(content: EmailContent, user_context: dict[str, Any]) -> None:
            mails.append(content)  # instead of SMTP

        original.send_raw_email = send_raw_email  # type: ignore[method-assign]
        return original

    smtp = SMTPService(namespace["codes_by_email"].service.transporter.smtp_settings,
                       override=lambda original: captured(wording(original)))  # fmt: skip
    config = TwoFactorConfig(factors=("totp", "otp-email", "recovery-code"), development=True)
    app = fastapi_app(
        build_recipe_list(
            config=config,
            first_factors=("emailpassword", "passwordless"),
            email_delivery=EmailDeliveryConfig(service=smtp),
        )
    )
    client = TestClient(app, base_url="http://localhost")
    asked = client.post("/auth/signinup/code", json={"email": "pia@example.com"})
    assert body(asked)["status"] == "OK"
    assert mails[-1].subject == "Your Shop sign-in code" and mails[-1].to_email == "pia@example.com"
    assert "Sign in to Shop with" in mails[-1].body and "(valid 15 minutes)" in mails[-1].body

    tokens = Tokens.of(sign_up(client, "ada@example.com"))
    second = client.post(
        "/auth/signinup/code",
        json={"email": "ada@example.com", "shouldTryLinkingWithSessionUser": True},
        headers=tokens.auth(),
    )
    assert body(second)["status"] == "OK", body(second)
    assert mails[-1].subject == "Your Shop verification code"
    assert "If it was not you, change your password." in mails[-1].body
    assert "(valid 10 minutes)" in mails[-1].body  # the library's lifetime, not the core's


# -- section 5: a step-up guard and a role ---------------------------------------------------


@pytest.mark.parametrize("framework", ["FastAPI", "Flask"])
def test_refunds_need_the_role_and_a_fresh_2fa(
    page_env: None, tmp_path: Path, framework: str
) -> None:
    marker = "Depends(admin_step_up)" if framework == "FastAPI" else "Middleware(app)"
    namespace = run_block(block("5.", marker), tmp_path)
    app = namespace["app"]
    client = app.test_client() if framework == "Flask" else TestClient(app)

    def enrolled(email: str) -> tuple[Tokens, list[str]]:
        """Signed up and TOTP enrolled (a fresh 2FA); the tokens and the recovery codes."""
        tokens = Tokens.of(sign_up(client, email))
        secret = body(client.post("/auth/2fa/totp/device", headers=tokens.auth()))["secret"]
        verified = client.post(
            "/auth/2fa/totp/device/verify",
            json={"code": totp.code_at(secret, namespace["config"].clock())},
            headers=tokens.auth(),
        )
        assert body(verified)["status"] == "OK", body(verified)
        tokens.access = verified.headers.get("st-access-token") or tokens.access
        return tokens, body(verified)["recoveryCodes"]

    def refund(tokens: Tokens) -> Any:
        return client.post("/api/refunds", headers=tokens.auth())

    def failed_claims(response: Any) -> list[str]:
        assert status(response) == 403, body(response)
        return [error["id"] for error in body(response)["claimValidationErrors"]]

    ann, _ = enrolled("ann@example.com")
    assert failed_claims(refund(ann)) == ["st-role"], "a fresh 2FA, but no role"

    root, codes = enrolled("root@example.com")
    asyncio.run(create_new_role_or_add_permissions("admin", []))
    asyncio.run(add_role_to_user("public", str(jwt_payload(root.access or "")["sub"]), "admin"))
    admin = Tokens.of(sign_in(client, "root@example.com"))  # with the role; 2FA pending
    assert failed_claims(refund(admin)) == ["2fa-completed", "st-mfa"]
    used = client.post(
        "/auth/2fa/recovery-code/verify", json={"code": codes[0]}, headers=admin.auth()
    )
    assert body(used)["status"] == "OK", body(used)
    admin.access = used.headers.get("st-access-token") or admin.access
    answer = refund(admin)
    assert status(answer) == 200, body(answer)
    assert body(answer) == {"refunded by": jwt_payload(admin.access or "")["sub"]}


def test_also_takes_claim_validators_only() -> None:
    from st_twofactor import ConfigurationError, with_2fa

    with pytest.raises(ConfigurationError, match="also= takes claim validators"):
        with_2fa(300, also=["admin"])  # type: ignore[list-item]


# -- section 6: testing, with a test clock ---------------------------------------------------


@pytest.mark.parametrize("framework", ["FastAPI", "Flask"])
def test_the_testing_recipes_pass(page_env: None, tmp_path: Path, framework: str) -> None:
    """The page's own tests: step-up with a test clock, end to end."""
    marker = "TestClient(create_app" if framework == "FastAPI" else ".test_client()"
    namespace = run_block(block("6.", marker), tmp_path)
    namespace["test_step_up_expires_with_the_test_clock"]()


def test_the_django_project_s_tests_pass(tmp_path: Path) -> None:
    """The Django project of section 6 (settings-time init, the test settings choosing the
    core and the clock), with its own tests: step-up expiry and the role, in cookie mode."""
    write_project(tmp_path)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path]),
        "TEST_MODE": "testing",
        "SUPERTOKENS_TLDEXTRACT_DISABLE_HTTP": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_shop.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout


# -- section 7: Starlette ------------------------------------------------------------------


def test_a_starlette_app_guards_its_endpoints(page_env: None, tmp_path: Path) -> None:
    namespace = run_block(block("7.", "Starlette("), tmp_path)
    client = TestClient(namespace["app"], base_url="http://localhost")
    assert status(client.get("/api/notes")) == 401
    assert status(client.post("/auth/signin", json=[])) == 400
    form = {
        "formFields": [
            {"id": "email", "value": "notes@example.com"},
            {"id": "password", "value": "pw-12345678"},
        ]
    }
    signed_up = client.post("/auth/signup", json=form, headers={"st-auth-mode": "cookie"})
    assert body(signed_up)["status"] == "OK"
    assert status(client.get("/api/me")) == 200
    refused = client.get("/api/notes")
    assert status(refused) == 403 and body(refused)["claimValidationErrors"][0]["id"] == (
        "2fa-completed"
    )
    secret = client.post("/auth/2fa/totp/device").json()["secret"]
    code = totp.code_at(secret, namespace["config"].clock())
    assert client.post("/auth/2fa/totp/device/verify", json={"code": code}).json()["status"] == "OK"
    assert status(client.get("/api/notes")) == 200
    assert status(client.post("/api/notes/delete")) == 200
