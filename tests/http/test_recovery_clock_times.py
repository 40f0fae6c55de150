"""Over HTTP, on FastAPI and Flask: ``recoveryCodesLeft`` (``null`` without a set) and the
``RecoveryCodesLow`` event; a TOTP code a few minutes off answers ``CHECK_DEVICE_CLOCK``,
still counted as a failure and never accepted later; times in milliseconds."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from st_twofactor import events
from st_twofactor.testing import reset_supertokens
from st_twofactor.testing.webauthn import SoftwareAuthenticator

from ..helpers.frameworks import App, make_app
from ..helpers.sdk import Tokens

MakeApp = Callable[..., App]
MINUTE = 60.0


@pytest.fixture(params=["fastapi", "flask"])
def make(request: pytest.FixtureRequest, devcore_app: str) -> Iterator[MakeApp]:
    yield lambda **options: make_app(request.param, devcore_app, **options)
    reset_supertokens()


# -- recovery codes --


@pytest.mark.slow
def test_recovery_codes_left_and_the_low_event(make: MakeApp) -> None:
    app = make()
    tokens = app.signed_up("codes@example.com")
    assert app.overview(tokens)["recoveryCodesLeft"] is None  # no factor, no set
    _, codes = app.enrol_totp(tokens)
    assert app.overview(tokens)["recoveryCodesLeft"] == 10

    def low() -> list[int]:
        return [e.codes_left for e in app.seen if isinstance(e, events.RecoveryCodesLow)]

    for used, code in enumerate(codes, start=1):
        session = app.signed_in("codes@example.com")
        status, answer = app.post("/auth/2fa/recovery-code/verify", session, {"code": code})
        assert status == 200 and answer == {"status": "OK", "recoveryCodesLeft": 10 - used}
        assert low() == [left for left in (3, 2, 1, 0) if left >= 10 - used]
    assert app.overview(session)["recoveryCodesLeft"] == 0  # all used: time for new ones
    low_event = next(e for e in app.seen if isinstance(e, events.RecoveryCodesLow))
    assert low_event.kind == "recovery_codes_low" and low_event.user_id == app.user_id(tokens)


def test_recovery_codes_left_is_null_when_the_app_gives_none(make: MakeApp) -> None:
    app = make(factors=("totp",))
    tokens = app.signed_up("no-codes@example.com")
    _, codes = app.enrol_totp(tokens)
    assert codes == [] and app.overview(tokens)["recoveryCodesLeft"] is None


# -- a device whose clock is off --


def enrolled(app: App, email: str) -> tuple[str, Tokens]:
    tokens = app.signed_up(email)
    secret, _ = app.enrol_totp(tokens)
    app.clock.advance(MINUTE)
    return secret, app.signed_in(email)


@pytest.mark.parametrize("off_by", [-3 * MINUTE, 3 * MINUTE, -5 * MINUTE, 5 * MINUTE])
def test_a_code_a_few_minutes_off_says_check_the_clock_and_is_counted(
    make: MakeApp, off_by: float
) -> None:
    app = make()
    secret, session = enrolled(app, f"clock{int(off_by)}@example.com")
    status, answer = app.post("/auth/2fa/totp/verify", session, {"code": app.code(secret, off_by)})
    assert status == 200
    assert answer == {
        "status": "INVALID_CODE_ERROR",
        "attemptsLeft": 4,
        "hint": "CHECK_DEVICE_CLOCK",
    }
    failed = [e for e in app.seen if isinstance(e, events.VerificationFailed)]
    assert failed[-1].reason == "clock_skew" and failed[-1].attempts_left == 4
    assert app.protected(session) == 403
    # a right code still works, and clears the count
    assert app.post("/auth/2fa/totp/verify", session, {"code": app.code(secret)})[1] == {
        "status": "OK"
    }


def test_codes_far_off_or_plainly_wrong_get_no_hint(make: MakeApp) -> None:
    app = make()
    secret, session = enrolled(app, "far@example.com")
    for code in (app.code(secret, 10 * MINUTE), app.code(secret, -10 * MINUTE), "000000"):
        if code == app.code(secret):
            continue
        answer = app.post("/auth/2fa/totp/verify", session, {"code": code})[1]
        assert answer["status"] == "INVALID_CODE_ERROR" and "hint" not in answer


def test_the_hint_counts_toward_the_lockout(make: MakeApp) -> None:
    app = make()
    secret, session = enrolled(app, "lock@example.com")
    answers = []
    for minutes in (2, 3, 4, -2, -3):
        code = app.code(secret, minutes * MINUTE)
        answers.append(app.post("/auth/2fa/totp/verify", session, {"code": code})[1])
    assert [a.get("attemptsLeft") for a in answers[:4]] == [4, 3, 2, 1]
    assert answers[4]["status"] == "LIMIT_REACHED_ERROR" and "hint" not in answers[4]
    right = app.post("/auth/2fa/totp/verify", session, {"code": app.code(secret)})[1]
    assert right["status"] == "LIMIT_REACHED_ERROR"  # locked: even a right code waits


def test_a_future_code_once_shown_is_never_accepted(make: MakeApp) -> None:
    """No oracle: someone who guesses the code of a step a few minutes ahead is told so,
    but that code is refused when its time comes (the owner's next code works)."""
    app = make()
    secret, session = enrolled(app, "future@example.com")
    ahead = app.code(secret, 3 * MINUTE)
    assert app.post("/auth/2fa/totp/verify", session, {"code": ahead})[1]["hint"] == (
        "CHECK_DEVICE_CLOCK"
    )
    app.clock.advance(3 * MINUTE)
    assert app.code(secret) == ahead
    answer = app.post("/auth/2fa/totp/verify", session, {"code": ahead})[1]
    assert answer == {"status": "INVALID_CODE_ERROR", "attemptsLeft": 3}
    app.clock.advance(30)
    assert app.post("/auth/2fa/totp/verify", session, {"code": app.code(secret)})[1] == {
        "status": "OK"
    }


def test_enrolling_with_a_device_clock_off_says_so(make: MakeApp) -> None:
    app = make()
    tokens = app.signed_up("enrol-clock@example.com")
    created = app.post("/auth/2fa/totp/device", tokens, {"deviceName": "phone"})[1]
    body = {"deviceName": "phone", "code": app.code(created["secret"], -4 * MINUTE)}
    answer = app.post("/auth/2fa/totp/device/verify", tokens, body)[1]
    assert answer == {
        "status": "INVALID_CODE_ERROR",
        "attemptsLeft": 4,
        "hint": "CHECK_DEVICE_CLOCK",
    }
    assert app.overview(tokens)["factors"] == []


# -- times in milliseconds --


def test_security_key_times_are_milliseconds(make: MakeApp) -> None:
    from ..helpers.webauthn_http import ORIGIN, REGISTER, REGISTER_OPTIONS

    app = make(factors=("totp", "webauthn", "recovery-code"))
    tokens = app.signed_up("keys-ms@example.com")
    added_at = app.clock()
    options = app.get(REGISTER_OPTIONS + "?deviceName=key", tokens)[1]
    credential = SoftwareAuthenticator().register(options["options"], origin=ORIGIN)
    status, added = app.post(REGISTER, tokens, {"deviceName": "key", "credential": credential})
    assert status == 200 and added["status"] == "OK", added
    keys = app.overview(tokens)["securityKeys"]
    assert keys == [{"name": "key", "createdAt": int(added_at * 1000), "lastUsedAt": None}]
    assert isinstance(keys[0]["createdAt"], int)
