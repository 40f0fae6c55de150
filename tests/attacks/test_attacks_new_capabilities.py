"""Attacks on the newest capabilities from outside, over HTTP: the MFA dialect
(``/auth/mfa/info``, ``/auth/totp/...``) and its ``st-mfa`` claim, the enrolment grace
period, the first-code exemption of the send quota and the TOTP clock hint.

- past a grace period's end, ``PUT /auth/mfa/info`` answers like ``GET /auth/2fa``: 2FA
  is not complete, the factors to set up are offered, and the ``st-mfa`` claim written to
  the session says ``v: false`` (before, it kept ``v: true`` and offered nothing, so
  SuperTokens' prebuilt UI, refused by the backend, had no screen to send the user to);
- an app's own policy function that answers something other than a bool (``None`` by a
  bug) requires 2FA also inside ``not_``/``~`` (before, it counted as ``True`` there, and
  the negation exempted the user: a policy bug failed open);
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from st_twofactor.devcore import DevCore
from st_twofactor.policy import explain_sync, from_function, not_
from st_twofactor.testing import reset_supertokens

from ..helpers.codes_harness import Harness
from ..helpers.frameworks import make_app as make_plain_app
from ..helpers.mfa_harness import make_app, mfa_info
from ..helpers.sdk import jwt_payload

DAY = 24 * 3600.0
GRACE = timedelta(days=7)
MakeApp = Callable[..., Harness]


@pytest.fixture(params=["fastapi", "flask"])
def make(request: pytest.FixtureRequest, devcore: DevCore, devcore_app: str) -> Iterator[MakeApp]:
    framework = str(request.param)
    yield lambda **options: make_app(framework, devcore, devcore_app, **options)
    reset_supertokens()


def test_past_a_grace_periods_end_mfa_info_says_2fa_is_not_complete(make: MakeApp) -> None:
    h = make(enrolment_grace=GRACE)
    tokens = h.signed_up("grace-over@example.com")
    assert jwt_payload(tokens.access)["st-mfa"]["v"] is True
    within = mfa_info(h, tokens)
    assert within["factors"]["next"] == []  # completed by the grace period: nothing to do

    h.clock.advance(GRACE.total_seconds() + 1)
    assert h.protected(tokens) == 403
    over = mfa_info(h, tokens)
    assert over["factors"]["next"] == over["factors"]["allowedToSetup"] != []
    assert jwt_payload(tokens.access)["st-mfa"] == {"c": {}, "v": False}
    assert mfa_info(h, tokens) == over  # stable once synced
    assert h.protected(tokens) == 403


@pytest.mark.parametrize("answer", [None, 1, "no"])
def test_a_policy_function_answering_no_bool_requires_2fa_also_when_negated(
    devcore_app: str, answer: object
) -> None:
    """``~from_function(is_kiosk, ...)``: the kiosk users are exempt. A bug making
    ``is_kiosk`` answer no bool must not exempt anyone."""

    def is_kiosk(user_id: str, tenant_id: str, user_context: dict[str, object]) -> object:
        return answer

    policy = not_(from_function(is_kiosk, "kiosk"))  # type: ignore[arg-type]
    try:
        app = make_plain_app("fastapi", devcore_app, required=policy)
        tokens = app.signed_up("kiosk-bug@example.com")
        assert app.claim(tokens)["v"] is False  # not exempted ("not-required")
        assert app.protected(tokens) == 403
        assert app.overview(tokens)["required"] is True
        assert explain_sync(app.config, app.user_id(tokens)).required is True
    finally:
        reset_supertokens()
