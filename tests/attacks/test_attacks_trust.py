"""The attack matrix, continued: trust that must not outlive its reason.

Each test drives the real HTTP API (FastAPI app, 2FA plugin, passwordless override)
against the development core, as an attacker would, and names the requirement it proves
(S14, S15, S18, S19 in docs/security.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from st_twofactor import reset_factors, revoke_remembered_devices
from st_twofactor.factors.recovery_codes import codes as recovery_codes
from st_twofactor.kernel.completion import REMEMBER_HEADER
from st_twofactor.kernel.send_quota import SendQuota
from st_twofactor.stores import InMemoryStore, Store, UserMetadataStore
from st_twofactor.testing import reset_supertokens

from ..helpers.attacks import claim_reason, enrolled
from ..helpers.race import race
from ..helpers.redis_server import unique_prefix
from ..helpers.sdk import jwt_payload
from ..helpers.twofactor_app import RESET_LINKS, Harness, Tokens, make_harness, user_id_of

CLAIM = "2fa-completed"
PHONE = "+14155550100"


@pytest.fixture
def make(devcore_app: str) -> Iterator[Callable[..., Harness]]:
    yield lambda **options: make_harness(devcore_app, **options)
    reset_supertokens()


@pytest.fixture(params=["memory", "metadata", "redis"])
def any_store(request: pytest.FixtureRequest) -> Store:
    if request.param == "redis":
        from st_twofactor.stores.redis import RedisStore

        server = request.getfixturevalue("redis_server")
        return RedisStore(server.url, prefix=unique_prefix())
    return InMemoryStore() if request.param == "memory" else UserMetadataStore()


def status_of(response: Any) -> str:
    return str(response.json().get("status"))


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


# -- S15: sending codes is metered -----------------------------------------------------------

DEFAULT_QUOTA = SendQuota()


def sent_status(h: Harness, tokens: Tokens, **destination: str) -> tuple[dict[str, Any], bool]:
    answer, sent = h.ask_code(tokens, **destination)
    return answer.json(), sent is not None


def test_code_sends_have_a_cooldown_and_caps(make: Callable[..., Harness]) -> None:
    """S15: one account cannot have codes e-mailed as often as it asks: a cooldown
    between sends, at most 3 in 10 minutes; over quota ``GENERAL_ERROR`` with
    ``retryAfterMs``, nothing sent, and an event."""
    h = make(send_quota=DEFAULT_QUOTA)
    tokens = h.signed_up("bomb@example.com")
    to = {"email": "bomb@example.com"}
    answer, sent = sent_status(h, tokens, **to)
    assert sent and answer["status"] == "OK"
    answer, sent = sent_status(h, tokens, **to)
    assert not sent and answer["status"] == "GENERAL_ERROR"
    assert (
        answer["retryAfterMs"] == DEFAULT_QUOTA.cooldown * 1000
        and "Too many codes" in answer["message"]
    )
    h.clock.advance(31)
    assert sent_status(h, tokens, **to)[1]
    h.clock.advance(31)
    assert sent_status(h, tokens, **to)[1]
    h.clock.advance(31)
    answer, sent = sent_status(h, tokens, **to)  # the 4th within 10 minutes
    assert not sent and answer["retryAfterMs"] == (600 - 93) * 1000
    refused = [e for e in h.seen if e.kind == "code_send_refused"]
    assert len(refused) == 2 and refused[-1].retry_after_ms == answer["retryAfterMs"]
    h.clock.advance(600 - 93 + 1)
    assert sent_status(h, tokens, **to)[1]
    assert len(h.outbox) == 4


def test_resending_a_code_is_metered_too(make: Callable[..., Harness]) -> None:
    """S15: ``resend`` on one device counts as a send: it cannot be called in a loop."""
    h = make(send_quota=DEFAULT_QUOTA)
    tokens = h.signed_up("resend-bomb@example.com")
    answer, _ = h.ask_code(tokens, email="resend-bomb@example.com")
    device = {k: answer.json()[k] for k in ("deviceId", "preAuthSessionId")}
    refused = h.post("/auth/signinup/code/resend", tokens, device).json()
    assert (
        refused["status"] == "GENERAL_ERROR"
        and refused["retryAfterMs"] == DEFAULT_QUOTA.cooldown * 1000
    )
    assert len(h.outbox) == 1
    h.clock.advance(31)
    assert h.post("/auth/signinup/code/resend", tokens, device).json()["status"] == "OK"
    assert len(h.outbox) == 2


def test_unpinned_phone_numbers_cannot_be_sprayed(make: Callable[..., Harness]) -> None:
    """S15 (SMS pumping): an account with no factor may text codes to numbers it has not
    pinned only 3 times a day, all numbers together, even when every cooldown is over."""
    h = make(send_quota=DEFAULT_QUOTA)
    tokens = h.signed_up("pump@example.com")
    numbers = [f"+1415555{n:04d}" for n in range(6)]
    delivered = []
    for number in numbers:
        answer, sent = sent_status(h, tokens, phoneNumber=number)
        delivered.append(sent)
        h.clock.advance(700)  # past the cooldown and the 10-minute window
    assert delivered == [True, True, True, False, False, False]
    assert [s.to for s in h.outbox] == numbers[:3]
    assert answer["status"] == "GENERAL_ERROR" and answer["retryAfterMs"] > 0
    # the account's own (default) e-mail is still served
    assert sent_status(h, tokens, email="pump@example.com")[1]


@pytest.mark.slow
@pytest.mark.parametrize("cooldown, allowed", [(30.0, 1), (0.0, 3)])
def test_parallel_sends_cannot_exceed_the_quota(
    make: Callable[..., Harness], any_store: Store, cooldown: float, allowed: int
) -> None:
    """S15: 30 requests for a code at once (in-memory, user-metadata and Redis stores):
    exactly as many codes go out as the quota allows."""
    h = make(store=any_store, send_quota=SendQuota(cooldown=cooldown))
    tokens = h.signed_up("parallel-sends@example.com")
    sessions = [tokens, *(h.signed_in("parallel-sends@example.com") for _ in range(2))]
    results = race(
        30,
        lambda i: str(
            h.post("/auth/signinup/code", sessions[i % 3], {"email": "parallel-sends@example.com"})
            .json()
            .get("status")
        ),
    )
    assert results.count("OK") == allowed, results
    assert results.count("GENERAL_ERROR") == 30 - allowed
    assert len(h.outbox) == allowed
    assert len(h.state(user_id_of(tokens)).code_sends) == allowed


# -- S18: recovery codes exist only beside another factor ------------------------------------


def test_recovery_codes_never_become_the_only_factor(make: Callable[..., Harness]) -> None:
    """S18: after the last device is removed, new recovery codes are refused, so no later
    sign-in can complete 2FA with a recovery code alone."""
    h = make()
    tokens, _, _ = enrolled(h, "only-codes@example.com")
    h.clock.advance(-30)  # still within the step-up window of the enrolment
    removed = h.post("/auth/2fa/totp/device/remove", tokens, {"deviceName": "authenticator"})
    assert status_of(removed) == "OK"
    answer = h.post("/auth/2fa/recovery-codes", tokens).json()
    assert answer["status"] == "NO_FACTOR_ERROR" and "recoveryCodes" not in answer
    assert h.state(user_id_of(tokens)).factor_ids() == []


# -- S19: account-recovery events end trust --------------------------------------------------


def refresh(h: Harness, tokens: Tokens) -> int:
    response = h.client.post(
        "/auth/session/refresh",
        headers={"Authorization": f"Bearer {tokens.refresh}", "st-auth-mode": "header"},
    )
    return int(response.status_code)


@pytest.mark.parametrize("keep_sessions", [False, True])
def test_an_admin_reset_ends_the_users_sessions(
    make: Callable[..., Harness], keep_sessions: bool
) -> None:
    """S19: after ``reset_factors`` (lost phone, account recovery) a session that had
    completed 2FA, maybe the attacker's, cannot be refreshed; ``keep_sessions=True`` is
    the documented opt-out."""
    h = make()
    tokens, _, _ = enrolled(h, f"reset-{keep_sessions}@example.com")
    other = h.signed_in(f"reset-{keep_sessions}@example.com")
    asyncio.run(reset_factors(h.config, user_id_of(tokens), keep_sessions=keep_sessions))
    expected = 200 if keep_sessions else 401
    assert refresh(h, tokens) == expected
    assert refresh(h, other) == expected


def test_a_password_reset_revokes_remember_tokens(make: Callable[..., Harness]) -> None:
    """S19: a remember token copied before the owner reset their password no longer skips
    the second factor afterwards."""
    h = make(remember_device=True)
    _, token = remember_token(h, "pw-reset@example.com")
    assert h.protected(h.signed_in("pw-reset@example.com", **{REMEMBER_HEADER: token})) == 200
    form = {"formFields": [{"id": "email", "value": "pw-reset@example.com"}]}
    assert status_of(h.post("/auth/user/password/reset/token", None, form)) == "OK"
    reset_token = parse_qs(urlparse(RESET_LINKS[-1]).query)["token"][0]
    new_password = "a-new-password-123"
    reset = {
        "token": reset_token,
        "formFields": [{"id": "password", "value": new_password}],
    }
    assert status_of(h.post("/auth/user/password/reset", None, reset)) == "OK"
    again = h.sign_in("pw-reset@example.com", new_password, **{REMEMBER_HEADER: token})
    assert h.protected(Tokens.of(again)) == 403


def test_sign_out_everywhere_can_revoke_remember_tokens(make: Callable[..., Harness]) -> None:
    """S19: ``revoke_remembered_devices`` (for "sign out everywhere") ends every token."""
    h = make(remember_device=True)
    _, token = remember_token(h, "everywhere@example.com")
    user_id = user_id_of(h.signed_in("everywhere@example.com", **{REMEMBER_HEADER: token}))
    asyncio.run(revoke_remembered_devices(h.config, user_id))
    assert h.protected(h.signed_in("everywhere@example.com", **{REMEMBER_HEADER: token})) == 403


def test_a_locked_recovery_code_factor_costs_no_hashing(
    make: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A locked account's recovery-code guesses are refused before the PBKDF2 work (and
    while no lock on the user is held for it)."""
    h = make()
    tokens, _, _ = enrolled(h, "locked-hash@example.com")
    for _ in range(5):
        h.verify_recovery(tokens, "aaaaa-aaaaa")
    calls: list[str] = []
    real = recovery_codes.find_match
    monkeypatch.setattr(
        recovery_codes, "find_match", lambda code, hashes: calls.append(code) or real(code, hashes)
    )
    locked = h.verify_recovery(tokens, "bbbbb-bbbbb").json()
    assert locked["status"] == "LIMIT_REACHED_ERROR" and calls == []


def test_a_device_planted_before_the_first_enrolment_is_dropped(
    make: Callable[..., Harness],
) -> None:
    """Someone with the password starts a TOTP device before the owner has any factor and
    never finishes it; when the owner activates their first device, the planted one goes
    (it no longer sits in the owner's device list)."""
    h = make()
    attacker = h.signed_up("planted@example.com")
    assert status_of(h.post("/auth/2fa/totp/device", attacker, {"deviceName": "evil"})) == "OK"
    owner = h.signed_in("planted@example.com")
    h.enrol_totp(owner, "phone")
    devices = h.get("/auth/2fa", owner).json()["devices"]
    assert [d["name"] for d in devices] == ["phone"]
    assert [d.name for d in h.state(user_id_of(owner)).totp_devices] == ["phone"]
