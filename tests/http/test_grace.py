"""The enrolment grace period over HTTP, on FastAPI and Flask, through the injected clock:
a user who must do 2FA and has no factor is let in until a deadline counted from their
first such sign-in, never fresh (no factor change beyond the first enrolment), and after
the deadline must enrol, also in a session made before it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from st_twofactor.testing import reset_supertokens

from ..helpers.frameworks import App, make_app

DAY = 24 * 3600.0
GRACE = timedelta(days=7)
MakeApp = Callable[..., App]


@pytest.fixture(params=["fastapi", "flask"])
def make(request: pytest.FixtureRequest, devcore_app: str) -> Iterator[MakeApp]:
    yield lambda **options: make_app(request.param, devcore_app, **options)
    reset_supertokens()


def test_a_user_without_a_factor_is_let_in_until_the_deadline(make: MakeApp) -> None:
    app = make(enrolment_grace=GRACE)
    started = app.clock()
    tokens = app.signed_up("grace@example.com")
    claim = app.claim(tokens)
    assert claim["v"] is True and claim["m"] == "grace"
    assert claim["u"] == int((started + GRACE.total_seconds()) * 1000)
    assert app.protected(tokens) == 200
    seen = app.overview(tokens)
    assert seen["completed"] is True and seen["required"] is True
    assert seen["grace"] == {"until": int((started + 7 * DAY) * 1000)}
    assert seen["enrollable"] == ["totp"]  # enrolling the first factor is allowed
    assert app.state(app.user_id(tokens)).grace_started_at == started

    # The deadline counts from the first sign-in that needed 2FA: it never moves.
    app.clock.advance(3 * DAY)
    later = app.signed_in("grace@example.com")
    assert app.claim(later)["u"] == claim["u"]
    assert app.overview(later)["grace"] == seen["grace"]

    # Past the deadline: sessions made before it are no longer completed; a new sign-in
    # must enrol.
    app.clock.advance(4 * DAY)
    assert app.protected(tokens) == 403 and app.protected(later) == 403
    after = app.overview(tokens)
    assert after["completed"] is False and after["grace"] is None
    assert after["enrollable"] == ["totp"]
    fresh_sign_in = app.signed_in("grace@example.com")
    assert app.claim(fresh_sign_in)["v"] is False
    assert app.protected(fresh_sign_in) == 403
    # ...and enrolling completes it the usual way.
    app.enrol_totp(fresh_sign_in)
    assert app.protected(fresh_sign_in) == 200


def test_a_grace_session_is_never_fresh(make: MakeApp) -> None:
    """It may enrol the first factor (which makes it a normal, fresh session); another grace
    session may then add, remove or regenerate nothing."""
    app = make(enrolment_grace=GRACE)
    first = app.signed_up("never-fresh@example.com")
    second = app.signed_in("never-fresh@example.com")
    assert app.claim(second)["m"] == "grace"

    app.enrol_totp(first)  # the first factor: presented, so this session is now fresh
    assert app.claim(first)["m"] == "totp" and "u" not in app.claim(first)
    assert app.overview(first)["grace"] is None
    user_id = app.user_id(first)
    before = app.state(user_id).to_dict()

    refused = [
        app.post("/auth/2fa/totp/device", second, {"deviceName": "second"}),
        app.post("/auth/2fa/totp/device/remove", second, {"deviceName": "phone"}),
        app.post("/auth/2fa/recovery-codes", second, {}),
    ]
    for code, answer in refused:
        assert code == 403, answer
        assert answer["claimValidationErrors"][0]["reason"]["completedBy"] == "grace"
    assert app.state(user_id).to_dict() == before
    # The grace session still passes until the deadline (it was let in with the password).
    assert app.protected(second) == 200
    # The user has a factor now: their next sign-in asks for it.
    assert app.claim(app.signed_in("never-fresh@example.com"))["v"] is False


def test_a_user_the_policy_exempts_starts_no_grace_period(make: MakeApp) -> None:
    policy: dict[str, bool] = {"required": False}

    def required(user_id: str, tenant_id: str, user_context: dict[str, Any]) -> bool:
        return policy["required"]

    app = make(enrolment_grace=GRACE, required=required)
    tokens = app.signed_up("exempt@example.com")
    assert app.claim(tokens)["m"] == "not-required"
    assert app.state(app.user_id(tokens)).grace_started_at is None
    assert app.overview(tokens)["grace"] is None

    app.clock.advance(30 * DAY)
    policy["required"] = True  # now required: the period starts at this sign-in
    now = app.clock()
    later = app.signed_in("exempt@example.com")
    assert app.claim(later)["m"] == "grace"
    assert app.overview(later)["grace"] == {"until": int((now + 7 * DAY) * 1000)}


def test_without_a_grace_period_a_user_enrols_at_once(make: MakeApp) -> None:
    app = make()
    tokens = app.signed_up("no-grace@example.com")
    assert app.claim(tokens)["v"] is False
    assert app.overview(tokens)["grace"] is None
    assert app.state(app.user_id(tokens)).grace_started_at is None


def test_an_admin_reset_does_not_start_a_new_grace_period(make: MakeApp) -> None:
    from st_twofactor import admin

    app = make(enrolment_grace=GRACE)
    tokens = app.signed_up("reset@example.com")
    app.enrol_totp(tokens)
    app.clock.advance(8 * DAY)
    admin.reset_factors_sync(app.config, app.user_id(tokens))
    again = app.signed_in("reset@example.com")
    assert app.claim(again)["v"] is False  # the period ran out: enrol now


@pytest.mark.parametrize("grace", [timedelta(0), timedelta(days=-1), timedelta(days=400), 7])
def test_a_bad_grace_period_is_refused(grace: Any) -> None:
    from st_twofactor.config import TwoFactorConfig
    from st_twofactor.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="enrolment_grace"):
        TwoFactorConfig(development=True, enrolment_grace=grace)


def test_past_the_deadline_the_refusal_names_both_claims(make: MakeApp) -> None:
    """SuperTokens' prebuilt UI sends a user to its MFA screens on an invalid ``st-mfa``:
    when a grace period ends, the ``st-mfa`` check refuses the session as the
    ``2fa-completed`` check does, though the token still says completed."""
    app = make(enrolment_grace=GRACE)
    tokens = app.signed_up("grace-ui@example.com")
    assert app.get("/api/secret", tokens)[0] == 200
    app.clock.advance(8 * DAY)
    status, answer = app.get("/api/secret", tokens)
    assert status == 403, answer
    named = {failure["id"] for failure in answer["claimValidationErrors"]}
    assert named == {"2fa-completed", "st-mfa"}, answer
