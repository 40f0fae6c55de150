"""The attacks that found two rules enforced in more than one place, one test each.

- I1, freshness: a session completed without presenting a factor (a policy exemption)
  is never fresh, so it cannot pass a step-up route or change the owner's factors once
  the owner has one.
- I2 and I3, revocation: a session revoked by an admin reset or by "sign out
  everywhere" changes nothing in the 2FA state and completes nothing, while its access
  token is still unexpired; a refused request writes nothing.

The model test (``test_model.py``) checks the same rules over random sequences; these
are the cases that were found, kept readable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from supertokens_python.recipe.session.asyncio import revoke_all_sessions_for_user

from st_twofactor import reset_factors
from st_twofactor.testing import reset_supertokens

from ..helpers.attacks import claim_reason
from ..helpers.sdk import jwt_payload
from ..helpers.twofactor_app import STEP_UP_MAX_AGE, Harness, Tokens, make_harness, user_id_of

CLAIM = "2fa-completed"


@pytest.fixture
def make(devcore_app: str) -> Iterator[Callable[..., Harness]]:
    yield lambda **options: make_harness(devcore_app, **options)
    reset_supertokens()


# -- I1: an exempted completion is never fresh ------------------------------------------


@pytest.mark.parametrize("policy", ["opt-in", "exempting function"])
def test_an_exempted_session_is_never_fresh(make: Callable[..., Harness], policy: str) -> None:
    """An attacker signs in with the password alone while the owner of an opt-in account
    has no factor (completed as ``not-required``); the owner then enrols TOTP. Within the
    step-up window the attacker's session passes no step-up route and changes nothing:
    no new recovery codes, no device of its own, no removal of the owner's."""
    required: Any = False if policy == "opt-in" else (lambda user_id, tenant, ctx: False)
    h = make(required=required)
    email = f"exempt-{policy.replace(' ', '-')}@example.com"
    owner = h.signed_up(email)
    attacker = h.signed_in(email)
    assert jwt_payload(attacker.access or "")[CLAIM]["m"] == "not-required"
    h.enrol_totp(owner)
    user_id = user_id_of(owner)
    before = h.document(user_id)

    assert h.protected(attacker) == 200  # exempt at sign-in: the app's plain routes
    reason = claim_reason(h.get("/api/step-up", attacker))
    assert reason["message"] == "expired"
    assert reason["completedBy"] == "not-required"
    for path, body in [
        ("/auth/2fa/recovery-codes", {}),
        ("/auth/2fa/totp/device", {"deviceName": "attacker"}),
        ("/auth/2fa/totp/device/verify", {"deviceName": "attacker", "code": "123456"}),
        ("/auth/2fa/totp/device/remove", {"deviceName": "authenticator"}),
    ]:
        assert claim_reason(h.post(path, attacker, body))["completedBy"] == "not-required", path
    assert h.document(user_id) == before


def test_an_exempted_user_with_no_factor_steps_up_by_enrolling(
    make: Callable[..., Harness],
) -> None:
    """The way back for a user the policy exempts: a step-up route refuses (never fresh,
    however soon after sign-in); ``GET /auth/2fa`` offers enrolment (``next`` empty,
    ``enrollable`` not), and the first factor, once verified, makes the session fresh."""
    h = make(required=False)
    session = h.signed_up("exempt-way-back@example.com")
    assert claim_reason(h.get("/api/step-up", session))["completedBy"] == "not-required"
    status = h.get("/auth/2fa", session).json()
    assert status["factors"] == [] and "totp" in status["enrollable"]
    h.enrol_totp(session)
    assert jwt_payload(session.access or "")[CLAIM]["m"] == "totp"
    assert h.get("/api/step-up", session).status_code == 200
    h.clock.advance(STEP_UP_MAX_AGE + 1)
    assert claim_reason(h.get("/api/step-up", session))["message"] == "expired"


def test_a_claim_without_its_method_is_never_fresh(make: Callable[..., Harness]) -> None:
    """A completed claim that does not say how it was completed (written by an earlier
    version, or by the legacy 2FA guide's code) passes ``require_2fa()`` but no step-up."""
    from st_twofactor.claim import recently_completed

    h = make()
    payload = {CLAIM: {"v": True, "t": int(h.clock() * 1000)}}
    validator = recently_completed(60, now=h.clock)
    result = asyncio.run(validator.validate(payload, {}))
    assert not result.is_valid
    assert result.reason is not None and result.reason["message"] == "expired"


# -- I2, I3: a revoked session changes nothing and completes nothing -------------------


def _revoke(h: Harness, user_id: str, how: str) -> None:
    if how == "reset":
        overview = asyncio.run(reset_factors(h.config, user_id))
        assert overview.sessions_revoked >= 1
    else:
        assert asyncio.run(revoke_all_sessions_for_user(user_id))


@pytest.mark.parametrize("how", ["reset", "sign out everywhere"])
def test_a_revoked_session_cannot_install_a_factor(make: Callable[..., Harness], how: str) -> None:
    """After ``reset_factors`` (or "sign out everywhere"), the revoked session's access
    token is still unexpired. It can read nothing, create no device, verify none: every
    2FA route answers 401 and the state stays as the reset left it."""
    h = make()
    email = f"revoked-{how.replace(' ', '-')}@example.com"
    victim = h.signed_up(email)
    user_id = user_id_of(victim)
    attacker = h.signed_in(email)
    _revoke(h, user_id, how)
    after_revocation = h.document(user_id)

    assert h.get("/auth/2fa", attacker).status_code == 401
    created = h.post("/auth/2fa/totp/device", attacker, {"deviceName": "planted"})
    assert created.status_code == 401, created.text
    assert h.document(user_id) == after_revocation


def test_a_revoked_session_cannot_finish_an_enrolment(make: Callable[..., Harness]) -> None:
    """The finding as reported: after ``user reset`` the revoked session creates a TOTP
    device and verifies it with a right code. Every step is refused with 401, and neither
    a device nor recovery codes are stored (today's code answered the verify with 401
    after storing both)."""
    h = make()
    attacker = h.signed_up("revoked-midway@example.com")
    user_id = user_id_of(attacker)
    asyncio.run(reset_factors(h.config, user_id))
    after_reset = h.document(user_id)
    created = h.post("/auth/2fa/totp/device", attacker, {"deviceName": "planted"})
    secret = created.json().get("secret") if created.status_code == 200 else None
    answer = h.post(
        "/auth/2fa/totp/device/verify",
        attacker,
        {"deviceName": "planted", "code": h.code(secret) if secret else "000000"},
    )
    assert (created.status_code, answer.status_code) == (401, 401), answer.text
    state = h.state(user_id)
    assert state.totp_devices == [] and state.recovery_codes == []
    assert h.document(user_id) == after_reset


def test_a_new_sign_in_after_a_revocation_works(make: Callable[..., Harness]) -> None:
    """Revocation ends the sessions that existed; the owner's next sign-in enrols and
    completes as usual."""
    h = make()
    old = h.signed_up("revoked-then-back@example.com")
    _revoke(h, user_id_of(old), "reset")
    h.clock.advance(1)
    again = h.signed_in("revoked-then-back@example.com")
    h.enrol_totp(again)
    assert h.protected(again) == 200


def test_a_refreshed_session_is_still_revoked(make: Callable[..., Harness]) -> None:
    """Refreshing carries the session's start along: a session refreshed before the
    revocation is refused after it like any other (its refresh token no longer works)."""
    h = make()
    session = h.signed_up("revoked-refreshed@example.com")
    refreshed = h.post(
        "/auth/session/refresh",
        None,
        headers={"Authorization": f"Bearer {session.refresh}"},
    )
    assert refreshed.status_code == 200
    tokens = Tokens.of(refreshed)
    _revoke(h, user_id_of(session), "sign out everywhere")
    assert h.get("/auth/2fa", tokens).status_code == 401


# -- I4: answers that cannot be the owner's never count ---------------------------------


def test_security_key_answers_that_cannot_be_the_owners_do_not_lock_anyone(
    make: Callable[..., Harness],
) -> None:
    """With the password alone, an attacker sends security-key answers that do not parse
    or name a key the owner does not have, many more than the lockout threshold: none is
    counted, nothing is locked, and the owner's key completes 2FA at once after them."""
    from st_twofactor.testing.webauthn import SoftwareAuthenticator

    from ..helpers.webauthn_http import FACTORS, assertion, register, send

    h = make(factors=FACTORS)
    owner = h.signed_up("junk-keys@example.com")
    key = SoftwareAuthenticator()
    assert register(h, owner, key, "key").json()["status"] == "OK"
    user_id = user_id_of(owner)
    attacker = h.signed_in("junk-keys@example.com")
    throttle_before = h.document(user_id)["throttle"]
    junk: list[Any] = [{}, {"id": 7}, {"id": "bm90LWEta2V5", "response": "x"}, {"id": "A" * 40}]
    for answer in junk * 3:
        refused = send(h, attacker, answer)
        assert refused.status_code == 200 and refused.json()["status"] == "INVALID_CREDENTIAL_ERROR"
    assert h.document(user_id)["throttle"] == throttle_before
    assert "webauthn" not in h.get("/auth/2fa", attacker).json()["locked"]
    session = h.signed_in("junk-keys@example.com")
    assert send(h, session, assertion(h, session, key)).json() == {"status": "OK"}


def test_wrong_codes_from_elsewhere_do_not_lock_the_owners_known_device(
    make: Callable[..., Harness],
) -> None:
    """The password alone: an attacker signs in again and again and sends wrong TOTP
    codes until TOTP locks. It locks for the attacker (and any device that never
    completed 2FA), not for the owner's device, which completed 2FA before and keeps a
    failure count of its own: the owner's right code is accepted at once. The owner's
    own wrong codes lock only the owner's known devices."""
    h = make()
    owner = h.signed_up("known-device@example.com")
    created = h.post("/auth/2fa/totp/device", owner, {}).json()
    verified = h.post("/auth/2fa/totp/device/verify", owner, {"code": h.code(created["secret"])})
    assert verified.json()["status"] == "OK"
    known = verified.headers["st-2fa-device"]  # a header-mode client keeps it
    assert "st-2fa-device" in verified.headers["access-control-expose-headers"].lower()
    secret = created["secret"]
    for _ in range(2):  # two sign-ins, 5 wrong codes in all: the shared count locks
        attacker = h.signed_in("known-device@example.com")
        for _ in range(3):
            answer = h.verify_totp(attacker, "000000").json()
            if answer["status"] == "LIMIT_REACHED_ERROR":
                break
    h.clock.advance(30)
    assert h.verify_totp(attacker, h.code(secret)).json()["status"] == "LIMIT_REACHED_ERROR"

    device = {"st-2fa-device": known}
    owner_again = h.signed_in("known-device@example.com")
    status = h.request("GET", "/auth/2fa", owner_again, headers=device).json()
    assert "totp" not in status["locked"] and "totp" in status["next"]
    h.clock.advance(30)
    right = h.request(
        "POST", "/auth/2fa/totp/verify", owner_again, {"code": h.code(secret)}, headers=device
    )
    assert right.json()["status"] == "OK", right.text
    # the shared count is untouched by the owner's success: still locked elsewhere
    h.clock.advance(30)
    assert h.verify_totp(attacker, h.code(secret)).json()["status"] == "LIMIT_REACHED_ERROR"
    # a forged token, or another user's, is no known device
    other = h.signed_up("known-device-other@example.com")
    other_created = h.post("/auth/2fa/totp/device", other, {}).json()
    others = h.post(
        "/auth/2fa/totp/device/verify", other, {"code": h.code(other_created["secret"])}
    ).headers["st-2fa-device"]
    for token in (known[:-2] + ("AA" if not known.endswith("AA") else "BB"), others):
        session = h.signed_in("known-device@example.com")
        status = h.request("GET", "/auth/2fa", session, headers={"st-2fa-device": token})
        assert "totp" in status.json()["locked"], token


def test_a_browser_gets_its_known_device_token_as_an_httponly_cookie(
    make: Callable[..., Harness],
) -> None:
    """Cookie mode: the token is set as an HttpOnly, SameSite=Strict cookie, never in
    the body or a readable header."""
    h = make()
    owner = h.signed_up("known-cookie@example.com")
    created = h.post("/auth/2fa/totp/device", owner, {}).json()
    response = h.client.post(
        "/auth/2fa/totp/device/verify",
        json={"code": h.code(created["secret"])},
        headers={"Authorization": f"Bearer {owner.access}"},
    )
    assert response.json()["status"] == "OK"
    assert "st-2fa-device" in response.headers  # header mode (Bearer): the header
    h.client.cookies.clear()
    session = h.signed_in("known-cookie@example.com")
    h.clock.advance(30)
    cookie_mode = h.client.post(
        "/auth/2fa/totp/verify",
        json={"code": h.code(created["secret"])},
        cookies={"sAccessToken": session.access or ""},
        headers={"st-auth-mode": "cookie"},
    )
    assert cookie_mode.json()["status"] == "OK", cookie_mode.text
    cookies = cookie_mode.headers.get_list("set-cookie")
    device_cookie = next(c for c in cookies if c.startswith("st2fa-device=")).lower()
    assert "httponly" in device_cookie and "samesite=strict" in device_cookie
    assert "st-2fa-device" not in cookie_mode.headers
    assert "st2fa-device" not in cookie_mode.text
