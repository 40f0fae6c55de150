"""``st-twofactor user explain``, run as a subprocess against the development core: what a
sign-in of the user would ask for and why, in words and in JSON, for a role policy with
an enrolment grace period."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from supertokens_python.ingredients.emaildelivery.types import EmailDeliveryConfig
from supertokens_python.recipe import userroles
from supertokens_python.recipe.thirdparty.asyncio import manually_create_or_update_user
from supertokens_python.recipe.userroles.asyncio import (
    add_role_to_user,
    create_new_role_or_add_permissions,
)

from st_twofactor import build_recipe_list
from st_twofactor.cli import EXIT_NOT_FOUND, EXIT_OK
from st_twofactor.config import TwoFactorConfig
from st_twofactor.stores import TwoFactorState

from ..helpers.cli import OLD_KEY, as_json, run_cli
from ..helpers.outbox import CapturedPasswordReset
from ..helpers.sdk import InitSupertokens

SPEC = "tests.helpers.cli_policy_config:config"


@pytest.fixture
def app(init_supertokens: InitSupertokens, devcore_app: str) -> Iterator[str]:
    config = TwoFactorConfig(secret_keys=[OLD_KEY], factors=("totp", "recovery-code"))
    reset_mail = EmailDeliveryConfig(service=CapturedPasswordReset([]))
    recipes = build_recipe_list(config=config, emailpassword_email_delivery=reset_mail)
    init_supertokens([*recipes, userroles.init()])
    yield devcore_app


async def new_user(name: str, role: str | None) -> str:
    result: Any = await manually_create_or_update_user(
        "public", "cli-test", f"id-{name}", f"{name}@example.com", True, None
    )
    user_id: str = result.user.id
    if role is not None:
        await create_new_role_or_add_permissions(role, [])
        await add_role_to_user("public", user_id, role)
    return user_id


def test_explain_a_user_the_role_policy_asks(app: str) -> None:
    user_id = asyncio.run(new_user("admin", "admin"))
    result = run_cli("user", "explain", user_id, "--config", SPEC, core=app)
    assert result.returncode == EXIT_OK, result.stderr
    assert f"user:                {user_id} (tenant public)" in result.stdout
    assert "at sign-in:          grace: let in without a second factor" in result.stdout
    assert "2FA required:        yes (has the role admin on tenant public)" in result.stdout
    assert "enrolment grace:     would start at the next sign-in, until " in result.stdout
    assert "may set up:          totp" in result.stdout
    assert "remembered devices:  not offered" in result.stdout

    document = as_json(run_cli("user", "explain", user_id, "--config", SPEC, "--json", core=app))
    assert document["ok"] is True and document["at_sign_in"] == "grace"
    assert document["required"] is True and document["grace_starts"] is True
    assert document["grace_until"] == pytest.approx(time.time() + 7 * 24 * 3600, abs=120)
    assert document["factors"] == [] and document["enrollable"] == ["totp"]


def test_explain_a_user_the_policy_exempts_and_one_who_ran_out_of_grace(app: str) -> None:
    from st_twofactor.runtime import TwoFactor

    plain = asyncio.run(new_user("plain", None))
    document = as_json(run_cli("user", "explain", plain, "--config", SPEC, "--json", core=app))
    assert (document["at_sign_in"], document["required"]) == ("exempt", False)
    assert document["policy"] == "has none of the roles admin on tenant public"

    late = asyncio.run(new_user("late", "admin"))
    config = TwoFactorConfig(secret_keys=[OLD_KEY], factors=("totp", "recovery-code"))

    def started_long_ago(state: TwoFactorState) -> None:
        state.grace_started_at = time.time() - 8 * 24 * 3600

    asyncio.run(TwoFactor.of(config).store.update(late, started_long_ago))
    text = run_cli("user", "explain", late, "--config", SPEC, core=app)
    assert "at sign-in:          enrol: asked to set up a second factor" in text.stdout
    assert "enrolment grace:     until " in text.stdout


def test_explain_an_unknown_user(app: str) -> None:
    result = run_cli("user", "explain", "nobody", "--config", SPEC, core=app)
    assert result.returncode == EXIT_NOT_FOUND
    assert "the core has no user 'nobody'" in result.stderr
