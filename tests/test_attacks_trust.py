"""The attack matrix, continued: trust that must not outlive its reason.

Each test drives the real HTTP API (FastAPI app, 2FA plugin, passwordless override)
against the development core, as an attacker would, and names the requirement it proves
(S14, S15, S18, S19 in docs/security.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from st_twofactor.service import REMEMBER_HEADER
from st_twofactor.testing import reset_supertokens

from .conftest import jwt_payload
from .twofactor_app import Harness, Tokens, make_harness, user_id_of

CLAIM = "2fa-completed"
PHONE = "+14155550100"


@pytest.fixture
def make(devcore_app: str) -> Iterator[Callable[..., Harness]]:
    yield lambda **options: make_harness(devcore_app, **options)
    reset_supertokens()


def status_of(response: Any) -> str:
    return str(response.json().get("status"))


def claim_reason(response: Any) -> dict[str, Any]:
    assert response.status_code == 403, (response.status_code, response.text)
    errors = response.json()["claimValidationErrors"]
    assert [e["id"] for e in errors] == [CLAIM]
    reason = errors[0]["reason"]
    assert isinstance(reason, dict)
    return reason


def enrolled(h: Harness, email: str) -> tuple[Tokens, str, list[str]]:
    tokens = h.signed_up(email)
    secret, codes = h.enrol_totp(tokens)
    h.clock.advance(30)
    return tokens, secret, codes


def remember_token(h: Harness, email: str) -> tuple[str, str]:
    """Enrol ``email``, verify once with rememberDevice; the TOTP secret and the token."""
    _, secret, _ = enrolled(h, email)
    session = h.signed_in(email)
    answer = h.verify_totp(session, h.code(secret), rememberDevice=True).json()
    assert answer["status"] == "OK", answer
    h.client.cookies.clear()
    h.clock.advance(30)
    return secret, answer["rememberDeviceToken"]


# -- S14: freshness comes only from a factor presented in this session ---------------------


def test_remembered_sign_in_is_never_fresh(make: Callable[..., Harness]) -> None:
    """S14: the password plus a copied remember token pass ``require_2fa()`` but no
    step-up route, no factor change and no contact pinning; the state is untouched."""
    h = make(remember_device=True)
    _, token = remember_token(h, "stolen-rd@example.com")
    attacker = h.signed_in("stolen-rd@example.com", **{REMEMBER_HEADER: token})
    assert h.protected(attacker) == 200
    user_id = user_id_of(attacker)
    before = h.document(user_id)

    reason = claim_reason(h.get("/api/step-up", attacker))
    assert reason["completedBy"] == "remembered"
    for path, body in [
        ("/auth/2fa/totp/device", {"deviceName": "attacker"}),
        ("/auth/2fa/totp/device/verify", {"deviceName": "attacker", "code": "123456"}),
        ("/auth/2fa/totp/device/remove", {"deviceName": "authenticator"}),
        ("/auth/2fa/recovery-codes", {}),
    ]:
        assert claim_reason(h.post(path, attacker, body))["completedBy"] == "remembered", path
    refused, sent = h.ask_code(attacker, phoneNumber=PHONE)
    assert sent is None and status_of(refused) == "GENERAL_ERROR"
    assert h.document(user_id) == before
    assert jwt_payload(attacker.access or "")[CLAIM]["m"] == "remembered"


def test_a_factor_presented_in_a_remembered_session_makes_it_fresh(
    make: Callable[..., Harness],
) -> None:
    """S14, the way back: the owner on a remembered device presents a factor in that
    session; it is then fresh for step-up routes and factor changes."""
    h = make(remember_device=True)
    secret, token = remember_token(h, "owner-rd@example.com")
    session = h.signed_in("owner-rd@example.com", **{REMEMBER_HEADER: token})
    assert h.get("/api/step-up", session).status_code == 403
    assert status_of(h.verify_totp(session, h.code(secret))) == "OK"
    assert jwt_payload(session.access or "")[CLAIM]["m"] == "totp"
    assert h.get("/api/step-up", session).status_code == 200
    assert status_of(h.post("/auth/2fa/recovery-codes", session)) == "OK"


def test_step_up_refusals_have_one_shape_on_every_route(make: Callable[..., Harness]) -> None:
    """The library's own step-up 403 and an app's ``require_2fa(max_age=...)`` 403 carry
    the same reason: ``expired`` with the age and the window."""
    h = make()
    tokens, _, _ = enrolled(h, "shape@example.com")
    h.clock.advance(400)
    ours = claim_reason(h.post("/auth/2fa/recovery-codes", tokens))
    theirs = claim_reason(h.get("/api/step-up", tokens))
    assert ours["message"] == theirs["message"] == "expired"
    assert set(ours) == set(theirs) == {"message", "ageInSeconds", "maxAgeInSeconds"}
    assert ours["maxAgeInSeconds"] == 300 and ours["ageInSeconds"] >= 400
