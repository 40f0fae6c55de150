"""GET /auth/2fa is enough to write a frontend: ``enabled``, ``enrollable``, ``next``,
``contacts`` and ``locked`` in each state of a user, over HTTP against the development
core; and the rules on their own (TwoFactor.overview)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from st_twofactor.config import TwoFactorConfig
from st_twofactor.devcore import DevCore
from st_twofactor.factors.overview import AccountContacts, mask_phone
from st_twofactor.runtime import TwoFactor
from st_twofactor.stores import InMemoryStore, TwoFactorState
from st_twofactor.testing import reset_supertokens

from ..helpers.twofactor_app import ALL_FACTORS, SECRET_KEY, Harness, Tokens, make_harness

PHONE = "+14155550100"
MakeApp = Callable[..., Harness]


@pytest.fixture
def make(devcore_app: str) -> Iterator[MakeApp]:
    yield lambda **options: make_harness(devcore_app, **options)
    reset_supertokens()


def overview(h: Harness, tokens: Tokens) -> dict[str, Any]:
    response = h.get("/auth/2fa", tokens)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["status"] == "OK"
    return answer


def complete_by_email(h: Harness, tokens: Tokens, email: str) -> None:
    device, sent = h.ask_code(tokens, email=email)
    assert sent is not None, device.json()
    assert h.consume(tokens, device.json(), sent.code).json()["status"] == "OK"


def test_a_new_user_can_complete_2fa_by_an_e_mailed_code(make: MakeApp) -> None:
    h = make()
    tokens = h.signed_up("new@example.com")
    seen = overview(h, tokens)
    assert seen["enabled"] == list(ALL_FACTORS)
    assert seen["factors"] == []
    assert seen["next"] == ["otp-email"]
    assert seen["enrollable"] == ["totp", "otp-email", "otp-phone"]
    assert seen["contacts"] == {"otp-email": {"contact": "new@example.com", "masked": False}}
    assert seen["locked"] == {} and seen["completed"] is False

    # What it says works: a code to that address, with no question asked, completes 2FA.
    complete_by_email(h, tokens, seen["contacts"]["otp-email"]["contact"])
    assert h.protected(tokens) == 200
    after = overview(h, tokens)
    assert after["completed"] is True and after["factors"] == ["otp-email"]
    # Fresh now: more factors, recovery codes beside the e-mail, may be enrolled.
    assert after["enrollable"] == ["totp", "otp-phone", "recovery-code"]


def test_a_new_user_without_code_factors_has_nothing_next(make: MakeApp) -> None:
    h = make(factors=("totp", "recovery-code"))
    tokens = h.signed_up("plain@example.com")
    seen = overview(h, tokens)
    assert seen["enabled"] == ["totp", "recovery-code"]
    assert seen["next"] == [] and seen["contacts"] == {}
    assert seen["enrollable"] == ["totp"], "recovery codes only beside a factor"


def test_totp_only(make: MakeApp) -> None:
    h = make(factors=("totp", "otp-email"))
    tokens = h.signed_up("tess@example.com")
    secret, codes = h.enrol_totp(tokens)
    assert codes == [], "recovery codes are not enabled"
    h.clock.advance(600)  # the enrolment's 2FA is no longer fresh
    again = h.signed_in("tess@example.com")
    seen = overview(h, again)
    assert seen["factors"] == ["totp"]
    # Not the e-mail: pinning it now would need a fresh 2FA (S8).
    assert seen["next"] == ["totp"] and seen["contacts"] == {}
    assert seen["enrollable"] == []
    response, sent = h.ask_code(again, email="tess@example.com")
    assert sent is None and response.json()["status"] == "GENERAL_ERROR"

    assert h.verify_totp(again, h.code(secret)).json()["status"] == "OK"
    fresh = overview(h, again)
    assert fresh["enrollable"] == ["totp", "otp-email"]
    assert fresh["next"] == ["totp", "otp-email"]
    assert fresh["contacts"] == {"otp-email": {"contact": "tess@example.com", "masked": False}}


def test_a_pinned_e_mail_and_recovery_codes_beside_it(make: MakeApp) -> None:
    h = make()
    tokens = h.signed_up("erin@example.com")
    complete_by_email(h, tokens, "erin@example.com")
    codes = h.post("/auth/2fa/recovery-codes", tokens).json()
    assert codes["status"] == "OK"
    h.clock.advance(600)
    again = h.signed_in("erin@example.com")
    seen = overview(h, again)
    assert seen["factors"] == ["otp-email", "recovery-code"]
    assert seen["next"] == ["otp-email", "recovery-code"]
    assert seen["enrollable"] == [], "not fresh"
    assert seen["contacts"]["otp-email"] == {"contact": "erin@example.com", "masked": False}


def test_a_locked_factor_leaves_next_until_the_lockout_ends(make: MakeApp) -> None:
    h = make()
    tokens = h.signed_up("lock@example.com")
    secret, _ = h.enrol_totp(tokens)
    h.clock.advance(600)
    again = h.signed_in("lock@example.com")
    assert overview(h, again)["next"] == ["totp", "recovery-code"]
    for _ in range(4):
        assert h.verify_totp(again, "000000").json()["status"] == "INVALID_CODE_ERROR"
    # the fifth failure locks TOTP and answers with the wait (issue 12)
    assert h.verify_totp(again, "000000").json() == {
        "status": "LIMIT_REACHED_ERROR",
        "retryAfterMs": 900_000,
    }
    seen = overview(h, again)
    assert seen["next"] == ["recovery-code"]
    assert seen["locked"] == {"totp": 900_000}
    h.clock.advance(900)
    seen = overview(h, again)
    assert seen["next"] == ["totp", "recovery-code"] and seen["locked"] == {}
    assert h.verify_totp(again, h.code(secret)).json()["status"] == "OK"


def test_a_phone_number_is_masked_unless_the_2fa_is_fresh(make: MakeApp) -> None:
    h = make()
    tokens = h.signed_up("phil@example.com")
    device, sent = h.ask_code(tokens, phoneNumber=PHONE)
    assert sent is not None
    assert h.consume(tokens, device.json(), sent.code).json()["status"] == "OK"
    fresh = overview(h, tokens)
    assert fresh["contacts"]["otp-phone"] == {"contact": PHONE, "masked": False}
    # Fresh: the account's e-mail could be pinned by a code now, so it could complete 2FA.
    assert fresh["next"] == ["otp-email", "otp-phone"]

    h.clock.advance(600)
    again = h.signed_in("phil@example.com")
    seen = overview(h, again)
    assert seen["contacts"]["otp-phone"] == {"contact": "+14*******00", "masked": True}
    assert seen["next"] == ["otp-phone"]
    assert PHONE not in str(seen)
    # The e-mail could not be pinned now (not fresh): not next, not offered.
    assert "otp-email" not in seen["contacts"] and "otp-email" not in seen["next"]


@pytest.mark.parametrize(
    ("factors", "calls"),
    [
        (("totp", "recovery-code"), []),
        (ALL_FACTORS, ["GET /user/id"]),  # the account's e-mail and sign-in method
    ],
)
def test_core_calls_of_the_overview(
    make: MakeApp,
    devcore: DevCore,
    devcore_app: str,
    factors: tuple[str, ...],
    calls: list[str],
) -> None:
    """With the in-memory store: the user is read only when a code factor is enabled."""
    h = make(factors=factors)
    tokens = h.signed_up("count@example.com")
    app_id = devcore_app.rsplit("/appid-", 1)[1]

    def paths() -> list[str]:
        done = devcore.requests(app_id)
        return [f"{r.method} {r.path}" for r in done if not r.path.endswith("/jwks.json")]

    start = len(paths())
    overview(h, tokens)
    assert paths()[start:] == calls


# -- the rules on their own ----------------------------------------------------------


def service(**options: Any) -> TwoFactor:
    settings: dict[str, Any] = {
        "secret_keys": [SECRET_KEY],
        "factors": ALL_FACTORS,
        "store": InMemoryStore(),
        **options,
    }
    return TwoFactor(TwoFactorConfig(**settings))


def test_the_contact_a_session_signed_in_with_is_never_next() -> None:
    """A passwordless first factor: its contact is not offered as the second factor."""
    account = AccountContacts(
        emails=("pia@example.com",), signed_in_with=frozenset({"pia@example.com"})
    )
    seen = service().overview(TwoFactorState(), {}, True, account)
    assert seen["next"] == [] and seen["contacts"] == {}
    assert seen["enrollable"] == ["totp", "otp-phone"]

    by_phone = AccountContacts(emails=("pia@example.com",), signed_in_with=frozenset({PHONE}))
    state = TwoFactorState()
    state.phone = PHONE
    seen = service().overview(state, {}, True, by_phone)
    assert "otp-phone" not in seen["next"] and "otp-phone" not in seen["contacts"]


def test_without_the_account_no_e_mail_is_guessed() -> None:
    seen = service().overview(TwoFactorState(), {}, True)
    assert seen["next"] == [] and seen["contacts"] == {}
    assert "otp-email" not in seen["enrollable"]


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("+14155550100", "+14*******00"),
        ("+4412", "***12"),
        ("12", "12"),
        ("+331234567", "+33*****67"),
    ],
)
def test_mask_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked
    assert len(mask_phone(phone)) == len(phone)
