"""The ready-made ``required`` policies over HTTP, on FastAPI and Flask (roles from the
UserRoles recipe on the development core, tenants, combinations), a policy that fails
(2FA required, never a 500), and :func:`st_twofactor.policy.explain` on the same app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from supertokens_python.recipe.userroles.syncio import (
    add_role_to_user,
    create_new_role_or_add_permissions,
)

from st_twofactor.policy import (
    Policy,
    all_of,
    any_of,
    everyone,
    explain_sync,
    from_function,
    in_tenant,
    no_one,
    not_,
    with_role,
)
from st_twofactor.testing import reset_supertokens

from ..helpers.frameworks import App, make_app

MakeApp = Callable[..., App]
DAY = 24 * 3600.0


@pytest.fixture(params=["fastapi", "flask"])
def make(request: pytest.FixtureRequest, devcore_app: str) -> Iterator[MakeApp]:
    yield lambda **options: make_app(request.param, devcore_app, **options)
    reset_supertokens()


def give_role(app: App, tokens: Any, role: str) -> None:
    create_new_role_or_add_permissions(role, [])
    add_role_to_user("public", app.user_id(tokens), role)


def test_with_role_asks_only_users_with_the_role(make: MakeApp) -> None:
    app = make(required=with_role("admin", "billing"), user_roles=True)
    admin = app.signed_up("admin@example.com")
    give_role(app, admin, "billing")
    plain = app.signed_up("plain@example.com")
    assert app.claim(plain)["m"] == "not-required"  # no role: exempt
    assert app.protected(plain) == 200
    assert app.overview(plain)["required"] is False

    signed_in = app.signed_in("admin@example.com")  # has the role: must do 2FA
    assert app.claim(signed_in)["v"] is False
    assert app.protected(signed_in) == 403
    assert app.overview(signed_in)["required"] is True


def test_combined_policies(make: MakeApp) -> None:
    staff_not_kiosk = with_role("staff") & ~with_role("kiosk")
    app = make(required=staff_not_kiosk | in_tenant("secure"), user_roles=True)
    staff = app.signed_up("staff@example.com")
    give_role(app, staff, "staff")
    kiosk = app.signed_up("kiosk@example.com")
    give_role(app, kiosk, "staff")
    give_role(app, kiosk, "kiosk")
    assert app.claim(app.signed_in("staff@example.com"))["v"] is False
    assert app.claim(app.signed_in("kiosk@example.com"))["m"] == "not-required"


def test_a_policy_that_cannot_read_roles_requires_2fa(
    make: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    """Without the UserRoles recipe the roles cannot be read: required (also for a policy
    that would exempt the user with the role), logged, and no 500."""
    app = make(required=not_(with_role("kiosk")))
    tokens = app.signed_up("no-roles@example.com")
    assert app.claim(tokens)["v"] is False
    assert app.overview(tokens)["required"] is True
    assert "the required policy failed" in caplog.text


def test_policies_decide_and_say_why() -> None:
    import asyncio

    async def decide(policy: Policy, tenant: str = "public") -> tuple[bool, str]:
        verdict = await policy.decide("u1", tenant, {"_st2fa_roles": {(tenant, "u1"): {"ops"}}})
        return verdict.required, verdict.reason

    assert asyncio.run(decide(everyone())) == (True, "everyone")
    assert asyncio.run(decide(no_one())) == (False, "no one")
    assert asyncio.run(decide(with_role("ops"))) == (True, "has the role ops on tenant public")
    assert asyncio.run(decide(in_tenant("acme"), "acme")) == (True, "signs in to tenant acme")
    required, why = asyncio.run(decide(any_of(in_tenant("acme"), with_role("admin"))))
    assert not required and "not acme" in why and "none of the roles admin" in why
    assert asyncio.run(decide(all_of(with_role("ops"), in_tenant("public"))))[0] is True
    assert asyncio.run(decide(not_(with_role("ops"))))[0] is False
    paid = from_function(lambda u, t, c: u == "u1", "paid plan")
    assert asyncio.run(decide(paid | with_role("admin"))) == (True, "paid plan: yes")

    async def broken(user_id: str, tenant_id: str, user_context: dict[str, Any]) -> bool:
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError):  # raised to is_2fa_required, which fails closed
        asyncio.run(decide(not_(from_function(broken, "flag"))))
    with pytest.raises(ValueError, match="role names"):
        with_role()
    with pytest.raises(ValueError, match="policies"):
        any_of(True)  # type: ignore[arg-type]


def test_explain_tells_what_a_sign_in_asks_and_why(make: MakeApp) -> None:
    app = make(required=with_role("admin"), user_roles=True, enrolment_grace=timedelta(days=7))
    admin = app.signed_up("explain-admin@example.com")
    give_role(app, admin, "admin")
    plain = app.signed_up("explain-plain@example.com")

    exempt = explain_sync(app.config, app.user_id(plain))
    assert (exempt.required, exempt.at_sign_in) == (False, "exempt")
    assert exempt.policy == "has none of the roles admin on tenant public"
    assert exempt.grace_until is None

    # The admin signed up before having the role: their grace period starts at the next
    # sign-in that needs 2FA, which explain() tells without starting it.
    before = explain_sync(app.config, app.user_id(admin))
    assert (before.required, before.at_sign_in, before.grace_starts) == (True, "grace", True)
    assert before.grace_until == app.clock() + 7 * DAY
    assert app.state(app.user_id(admin)).grace_started_at is None
    tokens = app.signed_in("explain-admin@example.com")
    app.clock.advance(8 * DAY)
    after = explain_sync(app.config, app.user_id(admin))
    assert (after.at_sign_in, after.grace_starts, after.enrollable) == ("enrol", False, ("totp",))
    text = "\n".join(after.lines())
    assert "at sign-in:          enrol" in text
    assert "2FA required:        yes (has the role admin on tenant public)" in text

    app.enrol_totp(tokens)
    enrolled = explain_sync(app.config, app.user_id(admin))
    assert enrolled.at_sign_in == "second-factor"
    assert enrolled.offered == ("totp", "recovery-code") and enrolled.factors == enrolled.offered
    assert enrolled.to_dict()["offered"] == ["totp", "recovery-code"]
    assert enrolled.remembered_devices == 0 and enrolled.locked == {}


def test_core_calls_of_a_sign_in_with_a_role_policy(
    make: MakeApp, devcore: Any, devcore_app: str
) -> None:
    """A role policy reads the user's roles once per sign-in and per GET /auth/2fa; at
    sign-in the SDK answers it from the same core call as the UserRoles recipe's own role
    claim (its GET cache within a request), so the sign-in makes one roles call in all."""
    app_id = devcore_app.rsplit("/appid-", 1)[1]

    def roles_calls_during(action: Callable[[], Any]) -> list[str]:
        start = len(devcore.requests(app_id))
        action()
        done = devcore.requests(app_id)[start:]
        return [f"{r.method} {r.path}" for r in done if "role" in r.path]

    app = make(required=with_role("admin"), user_roles=True)
    app.signed_up("calls@example.com")
    tokens: list[Any] = []
    assert roles_calls_during(lambda: tokens.append(app.signed_in("calls@example.com"))) == [
        "GET /public/recipe/user/roles"
    ]
    assert roles_calls_during(lambda: app.overview(tokens[0])) == ["GET /public/recipe/user/roles"]
