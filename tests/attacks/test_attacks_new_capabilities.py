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
- a wrong TOTP code answered ``CHECK_DEVICE_CLOCK`` is never accepted later, also when it
  is a future code of one device and a past code of another (before, the check stopped at
  the first device that explained the code, so the other's future step was not burnt).

And what held, kept as tests: a grace session changes no factor through the MFA dialect
once the user has one; the first-code exemption gives one send per new sign-in, never
more than the hourly cap, also to sign-ins racing each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from st_twofactor.devcore import DevCore
from st_twofactor.factors.totp import algorithm as totp
from st_twofactor.kernel.send_quota import SendQuota
from st_twofactor.policy import explain_sync, from_function, not_
from st_twofactor.testing import reset_supertokens

from ..helpers.codes_harness import Harness, user_id_of
from ..helpers.frameworks import make_app as make_plain_app
from ..helpers.mfa_harness import enrol_totp_mfa, make_app, mfa_info, totp_post
from ..helpers.race import race
from ..helpers.sdk import body, invalid_claim_ids, jwt_payload

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


def _past_of_one_future_of_other(first: str, second: str, start: int) -> tuple[int, int, str]:
    """A time step ``now`` from ``start`` on, the step ``later`` (in ``second``'s drift
    window ahead of ``now``) and a code that is ``second``'s at ``later`` and ``first``'s
    in its drift window behind ``now`` (and nobody's in the accepted window)."""
    keys = (totp.decode_secret(first), totp.decode_secret(second))
    cache: dict[tuple[int, int], str] = {}

    def at(device: int, step: int) -> str:
        if (device, step) not in cache:
            cache[device, step] = totp.hotp(keys[device], step)
        return cache[device, step]

    skew, reach = 1, totp.DRIFT_STEPS
    for now in range(start, start + 400_000):
        behind = {at(0, c) for c in range(now - skew - reach, now - skew)}
        for later in range(now + skew + 1, now + skew + reach + 1):
            code = at(1, later)
            accepted = {at(d, c) for d in (0, 1) for c in range(now - skew, now + skew + 1)}
            if code in behind and code not in accepted:
                return now, later, code
    raise AssertionError("no such code found")  # about 1 in 10,000 steps has one


@pytest.mark.slow
def test_a_hinted_future_code_of_a_second_device_is_never_accepted(make: MakeApp) -> None:
    h = make()
    owner = h.signed_up("two-devices@example.com")
    first = enrol_totp_mfa(h, owner)
    h.clock.advance(60)
    second = enrol_totp_mfa(h, owner)
    start = totp.step_at(h.clock()) + 2
    now, later, code = _past_of_one_future_of_other(first, second, start)
    h.clock.advance(now * 30 + 5 - h.clock())

    attacker = h.signed_in("two-devices@example.com")
    hinted = body(totp_post(h, "/auth/totp/verify", attacker, {"totp": code}))
    assert hinted["status"] == "INVALID_TOTP_ERROR"
    assert body(h.post("/auth/2fa/totp/verify", attacker, {"code": code}))["hint"] == (
        "CHECK_DEVICE_CLOCK"
    )
    h.clock.advance((later - now) * 30)  # the code's step has come: still refused
    for answer in (
        body(totp_post(h, "/auth/totp/verify", attacker, {"totp": code})),
        body(h.post("/auth/2fa/totp/verify", attacker, {"code": code})),
    ):
        assert answer["status"] != "OK"
    assert h.protected(attacker) == 403


def test_a_grace_session_changes_no_factor_through_the_mfa_dialect(make: MakeApp) -> None:
    h = make(enrolment_grace=GRACE)
    owner = h.signed_up("grace-mfa@example.com")
    attacker = h.signed_in("grace-mfa@example.com")  # the password alone, within grace
    enrol_totp_mfa(h, owner)
    user = user_id_of(owner)
    before = h.document(user)
    for path, payload in (
        ("/auth/totp/device", {}),
        ("/auth/totp/device/remove", {"deviceName": h.state(user).totp_devices[0].name}),
    ):
        refused = totp_post(h, path, attacker, payload)
        assert "2fa-completed" in invalid_claim_ids(refused), body(refused)
    assert mfa_info(h, attacker)["factors"]["allowedToSetup"] == []
    assert h.document(user) == before


@pytest.mark.slow
def test_the_first_code_exemption_is_one_send_per_sign_in_within_the_hourly_cap(
    make: MakeApp,
) -> None:
    h = make(send_quota=SendQuota())
    tokens = h.signed_up("quota@example.com")
    h.complete_with_email(tokens, "quota@example.com")
    h.clock.advance(25 * 3600)  # the enrolment's send has aged out of every window
    sent_before = len(h.outbox)
    racing = [h.signed_in("quota@example.com") for _ in range(8)]
    race(8, lambda i: h.ask(racing[i], email="quota@example.com"))
    assert len(h.outbox) - sent_before == 1  # started together: one first code between them
    for _ in range(10):  # one after the other, each a new sign-in
        h.clock.advance(1)
        h.ask(h.signed_in("quota@example.com"), email="quota@example.com")
    assert len(h.outbox) - sent_before == SendQuota().per_hour
