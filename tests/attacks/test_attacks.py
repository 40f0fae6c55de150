"""The attack matrix: one test per attack, named for it, each asserting the defence.

Every test drives the real HTTP API (the SDK middleware in FastAPI, the 2FA plugin, the
passwordless override) against the development core, as an attacker would: through
requests, not by calling the library. The requirement each test proves is in its
docstring (S1-S13, ../shared/SECURITY-REQUIREMENTS.md); docs/security.md maps them back.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from st_twofactor import events
from st_twofactor.devcore import DevCore
from st_twofactor.errors import DecryptionError
from st_twofactor.factors.recovery_codes import codes as recovery_codes
from st_twofactor.factors.totp import algorithm as totp
from st_twofactor.http.routes import ROUTES
from st_twofactor.kernel.completion import REMEMBER_COOKIE, REMEMBER_HEADER
from st_twofactor.kernel.crypto import SecretBox
from st_twofactor.kernel.remember import RememberDeviceTokens
from st_twofactor.stores import InMemoryStore
from st_twofactor.testing import reset_supertokens

from ..helpers.attacks import HOSTILE_BODIES, enrolled
from ..helpers.race import race
from ..helpers.redis_server import RedisServer, unique_prefix
from ..helpers.sdk import jwt_payload, with_payload
from ..helpers.twofactor_app import PASSWORD, SECRET_KEY, Harness, Tokens, make_harness, user_id_of

CLAIM = "2fa-completed"
LOCKOUT_MS = 900_000
PHONE = "+14155550100"


@pytest.fixture
def make(devcore_app: str) -> Iterator[Callable[..., Harness]]:
    """``make(**config_options)``: the app against this test's own app on the core."""
    yield lambda **options: make_harness(devcore_app, **options)
    reset_supertokens()


@pytest.fixture
def h(make: Callable[..., Harness]) -> Harness:
    return make()


def status_of(response: Any) -> str:
    return str(response.json().get("status"))


def claim_errors(response: Any) -> list[str]:
    assert response.status_code == 403, (response.status_code, response.text)
    return [e["id"] for e in response.json()["claimValidationErrors"]]


def make_store(kind: str, server: RedisServer | None) -> Any:
    if kind == "memory":
        return InMemoryStore()
    from st_twofactor.stores.redis import RedisStore

    assert server is not None
    return RedisStore(server.url, prefix=unique_prefix())


@pytest.fixture(params=["memory", "redis"])
def store_kind(request: pytest.FixtureRequest) -> Iterator[tuple[str, RedisServer | None]]:
    if request.param == "redis":
        yield "redis", request.getfixturevalue("redis_server")
    else:
        yield "memory", None


# -- S1: no session, first factor only, forged or expired tokens ---------------------------


def test_no_session_is_refused_on_every_route(h: Harness) -> None:
    """S1/S10: without a session every 2FA route, passwordless route and protected route
    answers 401 and changes nothing."""
    for method, path, _ in ROUTES:
        response = h.request(method.upper(), "/auth" + path, None, {"code": "123456"})
        assert response.status_code == 401, (path, response.status_code)
    device = {"preAuthSessionId": "abc", "deviceId": "ZGV2aWNl", "userInputCode": "123456"}
    for path, payload in [
        ("/auth/signinup/code", {"email": "x@example.com"}),
        ("/auth/signinup/code/resend", device),
        ("/auth/signinup/code/consume", device),
    ]:
        assert h.post(path, None, payload).status_code == 401, path
    assert h.get("/api/secret").status_code == 401
    assert h.get("/api/step-up").status_code == 401
    assert h.outbox == []


def test_first_factor_only_is_refused_on_protected_routes(h: Harness) -> None:
    """S1: a password alone (enrolled user signing in) gets 403 invalid-claim everywhere
    2FA is required, and the status route says the 2FA is not completed."""
    enrolled(h, "ff@example.com")
    tokens = h.signed_in("ff@example.com")
    assert claim_errors(h.get("/api/secret", tokens)) == [CLAIM, "st-mfa"]
    assert claim_errors(h.get("/api/step-up", tokens)) == [CLAIM, "st-mfa"]
    overview = h.get("/auth/2fa", tokens).json()
    assert overview["completed"] is False and overview["required"] is True
    assert jwt_payload(tokens.access or "")[CLAIM]["v"] is False
    # A user who never enrolled is refused too (2FA required by default).
    newcomer = h.signed_up("new@example.com")
    assert claim_errors(h.get("/api/secret", newcomer)) == [CLAIM, "st-mfa"]


def test_forged_claim_in_access_token_is_refused(h: Harness) -> None:
    """S1: setting the claim to true in the payload breaks the signature: 401, no access."""
    enrolled(h, "forge@example.com")
    tokens = h.signed_in("forge@example.com")
    payload = jwt_payload(tokens.access or "")
    payload[CLAIM] = {"v": True, "t": int(h.clock() * 1000)}
    forged = Tokens(with_payload(tokens.access or "", payload))
    assert h.get("/api/secret", forged).status_code == 401
    assert h.get("/api/step-up", forged).status_code == 401
    assert h.post("/auth/2fa/recovery-codes", forged).status_code == 401
    assert h.protected(tokens) == 403  # the genuine token is still only half-way


def test_unsigned_alg_none_token_is_refused(h: Harness) -> None:
    """S1: an access token re-signed with ``alg: none`` (no signature) is refused."""
    enrolled(h, "none@example.com")
    tokens = h.signed_in("none@example.com")
    header, _, _ = (tokens.access or "").split(".")
    head = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    head["alg"] = "none"
    payload = jwt_payload(tokens.access or "")
    payload[CLAIM] = {"v": True, "t": int(h.clock() * 1000)}

    def b64(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    unsigned = Tokens(f"{b64(head)}.{b64(payload)}.")
    assert h.get("/api/secret", unsigned).status_code == 401


def test_edited_claim_time_to_pass_step_up_is_refused(h: Harness) -> None:
    """S1/S8: moving the claim's completion time forward (to look fresh) is refused."""
    tokens, _, _ = enrolled(h, "stale@example.com")
    h.clock.advance(400)  # the 2FA is now older than the step-up window
    assert h.post("/auth/2fa/recovery-codes", tokens).status_code == 403
    payload = jwt_payload(tokens.access or "")
    payload[CLAIM]["t"] = int(h.clock() * 1000)
    edited = Tokens(with_payload(tokens.access or "", payload))
    assert h.post("/auth/2fa/recovery-codes", edited).status_code == 401
    assert h.get("/api/step-up", edited).status_code == 401


@pytest.mark.slow
def test_expired_access_token_is_refused(devcore: DevCore, devcore_app: str) -> None:
    """S1: a completed session's access token stops working when it expires (401, try
    refresh); a refresh keeps the completed claim and the same session."""
    try:
        h = make_harness(devcore_app)
        _, secret, _ = enrolled(h, "exp@example.com")
        devcore.create_app(devcore_app.rsplit("/appid-", 1)[1], access_token_validity=3)
        tokens = h.signed_in("exp@example.com")
        assert status_of(h.verify_totp(tokens, h.code(secret))) == "OK"
        expires = jwt_payload(tokens.access or "")["exp"]
        if time.time() < expires - 0.2:
            assert h.protected(tokens) == 200
        time.sleep(max(0.0, expires - time.time() + 1.1))
        expired = h.get("/api/secret", tokens)
        assert expired.status_code == 401
        assert expired.json()["message"] == "try refresh token"
        assert h.post("/auth/2fa/recovery-codes", tokens).status_code == 401
        refreshed = h.client.post(
            "/auth/session/refresh",
            headers={"Authorization": f"Bearer {tokens.refresh}", "st-auth-mode": "header"},
        )
        assert refreshed.status_code == 200, refreshed.text
        fresh = Tokens.of(refreshed)
        payload = jwt_payload(fresh.access or "")
        assert payload[CLAIM]["v"] is True
        assert payload["sessionHandle"] == jwt_payload(tokens.access or "")["sessionHandle"]
        assert h.protected(fresh) == 200
    finally:
        reset_supertokens()


# -- S2: brute force ------------------------------------------------------------------


def test_totp_brute_force_is_locked_after_five_failures(h: Harness) -> None:
    """S2: five wrong codes lock TOTP for 15 minutes, for every session of the user,
    even for the right code; the wait is in the answer; a success later resets."""
    _, secret, _ = enrolled(h, "brute@example.com")
    tokens = h.signed_in("brute@example.com")
    right = h.code(secret)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    answers = [h.verify_totp(tokens, wrong).json() for _ in range(5)]
    assert [a["attemptsLeft"] for a in answers[:4]] == [4, 3, 2, 1]
    # The failure that locks answers like every locked attempt (issue 12): the wait.
    assert answers[4] == {"status": "LIMIT_REACHED_ERROR", "retryAfterMs": LOCKOUT_MS}
    locked = h.verify_totp(tokens, right).json()
    assert locked["status"] == "LIMIT_REACHED_ERROR"
    assert 0 < locked["retryAfterMs"] <= LOCKOUT_MS
    other_session = h.signed_in("brute@example.com")
    assert status_of(h.verify_totp(other_session, right)) == "LIMIT_REACHED_ERROR"
    assert h.protected(tokens) == 403 and h.protected(other_session) == 403

    h.clock.advance(LOCKOUT_MS / 1000 + 1)
    assert status_of(h.verify_totp(tokens, h.code(secret))) == "OK"
    assert h.state(user_id_of(tokens)).throttle.factors.get("totp") is None


def test_a_recovery_code_unlocks_every_factor(h: Harness) -> None:
    """Issue 11 item 7: TOTP locked by five failures; a recovery code completes 2FA;
    TOTP works again at once (a success by any factor resets all the user's counts)."""
    _, secret, codes = enrolled(h, "unlock@example.com")
    tokens = h.signed_in("unlock@example.com")
    right = h.code(secret)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    for _ in range(5):
        h.verify_totp(tokens, wrong)
    assert status_of(h.verify_totp(tokens, right)) == "LIMIT_REACHED_ERROR"
    assert status_of(h.verify_recovery(tokens, codes[0])) == "OK"
    assert h.state(user_id_of(tokens)).throttle.factors == {}
    later = h.signed_in("unlock@example.com")
    assert h.protected(later) == 403
    assert status_of(h.verify_totp(later, h.code(secret))) == "OK"
    assert h.protected(later) == 200


def test_parallel_brute_force_gets_no_more_than_five_tries(h: Harness) -> None:
    """S2: 16 wrong codes sent at once from 2 sessions: exactly 5 are checked, the rest
    are refused with the wait (the attempt is counted before the code is checked)."""
    _, secret, _ = enrolled(h, "parallel@example.com")
    sessions = [h.signed_in("parallel@example.com") for _ in range(2)]
    right = h.code(secret)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    results = race(16, lambda i: status_of(h.verify_totp(sessions[i % 2], wrong)))
    # five checked: four wrong, and the fifth, which locks, answers with the wait
    assert results.count("INVALID_CODE_ERROR") == 4, results
    assert results.count("LIMIT_REACHED_ERROR") == 12, results
    assert len([e for e in h.seen if e.kind == "verification_failed"]) == 5


def test_recovery_code_brute_force_is_locked(h: Harness) -> None:
    """S2: five wrong recovery codes lock the factor; a valid code is then refused."""
    _, _, codes = enrolled(h, "rbrute@example.com")
    tokens = h.signed_in("rbrute@example.com")
    for _ in range(4):
        assert status_of(h.verify_recovery(tokens, "aaaaa-aaaaa")) == "INVALID_CODE_ERROR"
    # the fifth, which locks, answers like every locked attempt (issue 12)
    fifth = h.verify_recovery(tokens, "aaaaa-aaaaa").json()
    assert fifth == {"status": "LIMIT_REACHED_ERROR", "retryAfterMs": LOCKOUT_MS}
    answer = h.verify_recovery(tokens, codes[0]).json()
    assert answer["status"] == "LIMIT_REACHED_ERROR" and answer["retryAfterMs"] > 0
    assert len(h.state(user_id_of(tokens)).recovery_codes) == 10, "the code was not used up"


@pytest.mark.slow
def test_account_never_gets_more_than_100_failures_per_hour(make: Callable[..., Harness]) -> None:
    """S2: even with a short lockout (a loosened config), an account gets at most 100
    failed attempts in any hour, all factors together."""
    h = make(lockout=1.0)
    _, secret, _ = enrolled(h, "hourly@example.com")
    tokens = h.signed_in("hourly@example.com")
    wrong = f"{(int(h.code(secret)) + 1) % 10**6:06d}"
    attempts = [("/auth/2fa/totp/verify", wrong), ("/auth/2fa/recovery-code/verify", "aaaaa-aaaaa")]
    failures = 0
    for round_ in range(20):
        path, code = attempts[round_ % 2]
        for attempt in range(5):
            answer = h.post(path, tokens, {"code": code}).json()
            # the fifth failure locks the factor and answers with the wait (issue 12)
            locks = "LIMIT_REACHED_ERROR" if attempt == 4 else "INVALID_CODE_ERROR"
            assert answer["status"] == locks, (failures, answer)
            failures += 1
        h.clock.advance(1.5)  # the short lockout is over
    assert failures == 100
    # the 100th failure reached the hourly cap: its wait is the cap's, not the lockout's
    assert answer["retryAfterMs"] > 30 * 60 * 1000, answer
    for path, code in [
        ("/auth/2fa/totp/verify", h.code(secret)),
        ("/auth/2fa/recovery-code/verify", "aaaaa-aaaab"),
    ]:
        answer = h.post(path, tokens, {"code": code}).json()
        assert answer["status"] == "LIMIT_REACHED_ERROR", answer
        assert answer["retryAfterMs"] > 30 * 60 * 1000  # the oldest failure ages out in ~1 h


def test_email_code_brute_force_is_locked(h: Harness) -> None:
    """S2/S6: five wrong e-mail codes, across codes (3 tries per code), lock the factor;
    the right code is then refused and no new code is sent."""
    tokens = h.signed_up("obrute@example.com")
    device, sent = h.ask_code(tokens, email="obrute@example.com")
    assert sent is not None
    wrong = f"{(int(sent.code) + 1) % 10**6:06d}"
    answers = [h.consume(tokens, device.json(), wrong).json() for _ in range(3)]
    assert answers[0]["status"] == "INCORRECT_USER_INPUT_CODE_ERROR"
    assert answers[-1]["status"] == "RESTART_FLOW_ERROR"  # this code's tries are used up
    device, sent = h.ask_code(tokens, email="obrute@example.com")
    assert sent is not None
    wrong = f"{(int(sent.code) + 1) % 10**6:06d}"
    answers = [h.consume(tokens, device.json(), wrong).json() for _ in range(2)]
    assert answers[0]["status"] == "INCORRECT_USER_INPUT_CODE_ERROR"
    assert answers[-1]["status"] == "GENERAL_ERROR" and answers[-1]["retryAfterMs"] > 0
    assert status_of(h.consume(tokens, device.json(), sent.code)) != "OK"
    again, resent = h.ask_code(tokens, email="obrute@example.com")
    assert resent is None and again.json()["status"] == "GENERAL_ERROR"
    assert again.json()["retryAfterMs"] > 0
    assert h.protected(tokens) == 403


# -- S3: TOTP replay ------------------------------------------------------------------


def test_replayed_totp_code_is_refused(h: Harness) -> None:
    """S3: a code that completed one session cannot complete another (same time step)."""
    _, secret, _ = enrolled(h, "replay@example.com")
    victim = h.signed_in("replay@example.com")
    attacker = h.signed_in("replay@example.com")
    code = h.code(secret)
    assert status_of(h.verify_totp(victim, code)) == "OK"
    assert status_of(h.verify_totp(attacker, code)) == "INVALID_CODE_ERROR"
    assert h.protected(attacker) == 403


def test_older_totp_step_after_a_newer_one_is_refused(h: Harness) -> None:
    """S3: once the next step's code was used, the current (older) step's code is
    refused although it is within the skew window."""
    _, secret, _ = enrolled(h, "older@example.com")
    tokens = h.signed_in("older@example.com")
    assert status_of(h.verify_totp(tokens, h.code(secret, steps=1))) == "OK"
    later = h.signed_in("older@example.com")
    assert status_of(h.verify_totp(later, h.code(secret))) == "INVALID_CODE_ERROR"


@pytest.mark.slow
def test_totp_code_raced_concurrently_is_accepted_once(
    make: Callable[..., Harness], store_kind: tuple[str, RedisServer | None]
) -> None:
    """S3: 4 sessions send the same code twice each, all at once (in-memory and Redis
    stores): exactly one request wins."""
    h = make(store=make_store(*store_kind))
    _, secret, _ = enrolled(h, "race@example.com")
    sessions = [h.signed_in("race@example.com") for _ in range(4)]
    code = h.code(secret)
    results = race(8, lambda i: status_of(h.verify_totp(sessions[i % 4], code)))
    assert results.count("OK") == 1, results
    assert sum(h.protected(s) == 200 for s in sessions) == 1


# -- S4: TOTP parameters -----------------------------------------------------------------


def test_totp_parameters_meet_rfc_6238(h: Harness) -> None:
    """S4: 160-bit random secret, 6 digits, SHA1, 30 s step, +/-1 step accepted, 2 refused."""
    tokens = h.signed_up("params@example.com")
    created = h.post("/auth/2fa/totp/device", tokens).json()
    assert len(totp.decode_secret(created["secret"])) >= 20
    query = parse_qs(urlparse(created["otpauthUri"]).query)
    assert query.get("digits", ["6"]) == ["6"]
    assert query.get("period", ["30"]) == ["30"]
    assert query.get("algorithm", ["SHA1"]) == ["SHA1"]
    other = h.post("/auth/2fa/totp/device", h.signed_up("p2@example.com")).json()
    assert other["secret"] != created["secret"]

    secret = created["secret"]
    far = {"code": h.code(secret, steps=2)}
    assert status_of(h.post("/auth/2fa/totp/device/verify", tokens, far)) == "INVALID_CODE_ERROR"
    far = {"code": h.code(secret, steps=-2)}
    assert status_of(h.post("/auth/2fa/totp/device/verify", tokens, far)) == "INVALID_CODE_ERROR"
    near = {"code": h.code(secret, steps=-1)}
    assert status_of(h.post("/auth/2fa/totp/device/verify", tokens, near)) == "OK"
    # 60 s on: the next step is one not tried above (the code of a future step refused
    # above, step +2, is never accepted, also once its time comes).
    h.clock.advance(60)
    later = h.signed_in("params@example.com")
    assert status_of(h.verify_totp(later, h.code(secret, steps=1))) == "OK"


# -- S5: secrets at rest ---------------------------------------------------------------


def test_totp_secret_is_encrypted_at_rest_and_keys_rotate(make: Callable[..., Harness]) -> None:
    """S5: the stored state holds no TOTP secret, only AES-GCM ciphertext bound to the
    user; after a key rotation (new key first, old one kept) the device still works."""
    store = InMemoryStore()
    h = make(store=store)
    tokens, secret, _ = enrolled(h, "rest@example.com")
    user_id = user_id_of(tokens)
    stored = json.dumps(h.document(user_id))
    raw = totp.decode_secret(secret)
    assert secret not in stored and secret.lower() not in stored
    assert raw.hex() not in stored and base64.b64encode(raw).decode() not in stored
    sealed = h.state(user_id).totp_devices[0].secret
    with pytest.raises(DecryptionError):
        SecretBox(["another-key-0123456789abcdef"]).decrypt(sealed, context=user_id)
    with pytest.raises(DecryptionError):
        SecretBox([SECRET_KEY]).decrypt(sealed, context="another-user")

    rotated = make(store=store, secret_keys=["new-key-0123456789abcdef0123", SECRET_KEY])
    rotated.clock.now = h.clock.now + 30
    again = rotated.signed_in("rest@example.com")
    assert status_of(rotated.verify_totp(again, rotated.code(secret))) == "OK"


# -- S6: e-mail / SMS codes -----------------------------------------------------------


def test_email_code_for_another_user_is_refused(h: Harness) -> None:
    """S6: Mallory cannot use a code (device) that was sent to Alice."""
    alice = h.signed_up("alice@example.com")
    mallory = h.signed_up("mallory@example.com")
    device, sent = h.ask_code(alice, email="alice@example.com")
    assert sent is not None
    assert status_of(h.consume(mallory, device.json(), sent.code)) == "RESTART_FLOW_ERROR"
    assert h.protected(mallory) == 403
    assert status_of(h.consume(alice, device.json(), sent.code)) == "OK"


def test_email_code_from_another_session_of_the_user_is_refused(h: Harness) -> None:
    """S6: a code is bound to the request (session) that asked for it: an attacker with
    the password and a phished code cannot use it from their own session."""
    victim = h.signed_up("bound@example.com")
    device, sent = h.ask_code(victim, email="bound@example.com")
    assert sent is not None
    attacker = h.signed_in("bound@example.com")
    assert status_of(h.consume(attacker, device.json(), sent.code)) == "RESTART_FLOW_ERROR"
    assert h.protected(attacker) == 403
    assert status_of(h.consume(victim, device.json(), sent.code)) == "OK"


def test_totp_and_recovery_codes_of_another_user_are_refused(h: Harness) -> None:
    """S3/S7: a valid TOTP code or recovery code of another account does not work."""
    _, alice_secret, alice_codes = enrolled(h, "alice2@example.com")
    enrolled(h, "bob2@example.com")
    bob = h.signed_in("bob2@example.com")
    assert status_of(h.verify_totp(bob, h.code(alice_secret))) == "INVALID_CODE_ERROR"
    assert status_of(h.verify_recovery(bob, alice_codes[0])) == "INVALID_CODE_ERROR"
    assert h.protected(bob) == 403


def test_email_code_asked_for_another_destination_is_never_sent(h: Harness) -> None:
    """S6: with the password, an attacker asks for the code at their own address: the
    answer looks like a real one (a decoy, see tests/attacks/test_attacks_otp.py), but nothing is
    sent, no code typed for it completes 2FA, and the pinned contact is unchanged."""
    tokens = h.signed_up("pin@example.com")
    decoy, sent = h.ask_code(tokens, email="attacker@evil.example")
    assert sent is None and status_of(decoy) == "OK"
    device, sent = h.ask_code(tokens, email="pin@example.com")
    assert sent is not None and status_of(h.consume(tokens, device.json(), sent.code)) == "OK"
    attacker = h.signed_in("pin@example.com")
    for destination in [{"email": "attacker@evil.example"}, {"email": " PIN@example.com.evil "}]:
        decoy, sent = h.ask_code(attacker, **destination)
        assert sent is None and status_of(decoy) == "OK", decoy.json()
        for code in ("000000", "123456"):
            answer = h.consume(attacker, decoy.json(), code).json()
            assert answer["status"] == "INCORRECT_USER_INPUT_CODE_ERROR", answer
    assert h.protected(attacker) == 403
    assert h.state(user_id_of(tokens)).email == "pin@example.com"
    assert all(s.to == "pin@example.com" for s in h.outbox)


def test_sms_code_asked_for_another_phone_is_never_sent(make: Callable[..., Harness]) -> None:
    """S6: once a phone number is pinned, codes go to it only; another number gets a
    decoy (an answer like a real one) and nothing."""
    h = make(factors=("otp-phone", "recovery-code"))
    tokens = h.signed_up("phone@example.com")
    device, sent = h.ask_code(tokens, phoneNumber=PHONE)
    assert sent is not None and status_of(h.consume(tokens, device.json(), sent.code)) == "OK"
    attacker = h.signed_in("phone@example.com")
    decoy, sent = h.ask_code(attacker, phoneNumber="+14155550199")
    assert sent is None and status_of(decoy) == "OK"
    assert status_of(h.consume(attacker, decoy.json(), "123456")) != "OK"
    assert h.protected(attacker) == 403
    assert [s.to for s in h.outbox] == [PHONE]


def test_expired_email_code_is_refused(h: Harness) -> None:
    """S6: a code older than 10 minutes is refused and completes nothing."""
    tokens = h.signed_up("expired@example.com")
    device, sent = h.ask_code(tokens, email="expired@example.com")
    assert sent is not None and len(sent.code) >= 6 and sent.code.isdigit()
    h.clock.advance(601)
    answer = h.consume(tokens, device.json(), sent.code).json()
    assert answer["status"] == "EXPIRED_USER_INPUT_CODE_ERROR", answer
    assert h.protected(tokens) == 403


def test_reused_email_code_is_refused(h: Harness) -> None:
    """S6: a code works once; replaying it from another session of the user is refused."""
    tokens = h.signed_up("reuse@example.com")
    device, sent = h.ask_code(tokens, email="reuse@example.com")
    assert sent is not None
    assert status_of(h.consume(tokens, device.json(), sent.code)) == "OK"
    again = h.signed_in("reuse@example.com")
    assert status_of(h.consume(again, device.json(), sent.code)) == "RESTART_FLOW_ERROR"
    assert status_of(h.consume(tokens, device.json(), sent.code)) == "RESTART_FLOW_ERROR"
    assert h.protected(again) == 403


def test_email_code_raced_is_accepted_once(h: Harness) -> None:
    """S6: one code consumed by 6 concurrent requests completes the session once."""
    tokens = h.signed_up("orace@example.com")
    device, sent = h.ask_code(tokens, email="orace@example.com")
    assert sent is not None
    results = race(6, lambda i: status_of(h.consume(tokens, device.json(), sent.code)))
    assert results.count("OK") == 1, results


# -- S7: recovery codes ------------------------------------------------------------------


def test_reused_recovery_code_is_refused(h: Harness) -> None:
    """S7: a recovery code works once."""
    _, _, codes = enrolled(h, "rreuse@example.com")
    first = h.signed_in("rreuse@example.com")
    answer = h.verify_recovery(first, codes[0]).json()
    assert answer == {"status": "OK", "recoveryCodesLeft": 9}
    second = h.signed_in("rreuse@example.com")
    assert status_of(h.verify_recovery(second, codes[0])) == "INVALID_CODE_ERROR"
    assert h.protected(second) == 403


@pytest.mark.slow
def test_recovery_code_raced_is_accepted_once(
    make: Callable[..., Harness], store_kind: tuple[str, RedisServer | None]
) -> None:
    """S7: 4 sessions redeem one code twice each, all at once (in-memory and Redis
    stores): exactly one request wins."""
    h = make(store=make_store(*store_kind))
    _, _, codes = enrolled(h, "rrace@example.com")
    sessions = [h.signed_in("rrace@example.com") for _ in range(4)]
    results = race(8, lambda i: status_of(h.verify_recovery(sessions[i % 4], codes[0])))
    assert results.count("OK") == 1, results
    assert len(h.state(user_id_of(sessions[0])).recovery_codes) == 9


def test_recovery_codes_are_50_bit_and_stored_as_keyed_digests(h: Harness) -> None:
    """S7: 10 distinct codes of >= 50 bits; only keyed digests are stored, and their key
    only sealed under the app's secret keys, bound to the user."""
    tokens, _, codes = enrolled(h, "hashes@example.com")
    user_id = user_id_of(tokens)
    assert len(set(codes)) == 10
    for code in codes:
        canonical = recovery_codes.normalise(code)
        assert canonical is not None and len(canonical) * 5 >= 50
    state = h.state(user_id)
    document = json.dumps(h.document(user_id))
    assert all(code not in document and code.replace("-", "") not in document for code in codes)
    assert len(set(state.recovery_codes)) == 10
    assert not recovery_codes.needs_slow_check(state.recovery_codes)
    keys = recovery_codes.open_keys(SecretBox([SECRET_KEY]), state.recovery_codes, user_id)
    assert len(keys) == 1
    (key,) = keys.values()
    assert key.hex() not in document and base64.b64encode(key).decode()[:40] not in document
    assert base64.urlsafe_b64encode(key).decode()[:40] not in document
    with pytest.raises(DecryptionError):
        recovery_codes.open_keys(
            SecretBox(["another-key-0123456789abcdef"]), state.recovery_codes, user_id
        )
    with pytest.raises(DecryptionError):
        recovery_codes.open_keys(SecretBox([SECRET_KEY]), state.recovery_codes, "another-user")


# -- S8: changing factors needs a fresh 2FA ------------------------------------------------


def test_device_removal_without_fresh_2fa_is_refused(h: Harness) -> None:
    """S8: with the password only, or with a 2FA older than 5 minutes, an attacker
    cannot remove the victim's authenticator."""
    tokens, _, _ = enrolled(h, "remove@example.com")
    attacker = h.signed_in("remove@example.com")
    body = {"deviceName": "authenticator"}
    assert claim_errors(h.post("/auth/2fa/totp/device/remove", attacker, body)) == [CLAIM, "st-mfa"]
    h.clock.advance(301)
    assert claim_errors(h.post("/auth/2fa/totp/device/remove", tokens, body)) == [CLAIM]
    assert h.state(user_id_of(tokens)).factor_ids() == ["totp", "recovery-code"]


def test_reenrolment_without_fresh_2fa_is_refused(h: Harness) -> None:
    """S8: with the password only, an attacker cannot add their own authenticator (nor
    replace the victim's); with a fresh 2FA, a verified device is never overwritten."""
    tokens, _, _ = enrolled(h, "reenrol@example.com")
    user_id = user_id_of(tokens)
    before = h.document(user_id)
    attacker = h.signed_in("reenrol@example.com")
    for name in [{}, {"deviceName": "authenticator"}, {"deviceName": "attacker"}]:
        assert claim_errors(h.post("/auth/2fa/totp/device", attacker, name)) == [CLAIM, "st-mfa"]
    verify = {"deviceName": "attacker", "code": "123456"}
    assert h.post("/auth/2fa/totp/device/verify", attacker, verify).status_code == 403
    assert h.document(user_id) == before
    fresh = h.post("/auth/2fa/totp/device", tokens, {"deviceName": "authenticator"}).json()
    assert fresh == {"status": "DEVICE_ALREADY_EXISTS_ERROR"}
    assert h.state(user_id).totp_devices == h.state(user_id).totp_devices[:1]


def test_recovery_code_regeneration_without_fresh_2fa_is_refused(h: Harness) -> None:
    """S8: new recovery codes need a fresh 2FA; the old ones keep working meanwhile."""
    tokens, _, codes = enrolled(h, "regen@example.com")
    attacker = h.signed_in("regen@example.com")
    assert claim_errors(h.post("/auth/2fa/recovery-codes", attacker)) == [CLAIM, "st-mfa"]
    h.clock.advance(301)
    assert claim_errors(h.post("/auth/2fa/recovery-codes", tokens)) == [CLAIM]
    assert status_of(h.verify_recovery(attacker, codes[0])) == "OK"


def test_contact_change_without_fresh_2fa_is_refused(h: Harness) -> None:
    """S8: a user with TOTP cannot have a phone number pinned by a password-only session."""
    enrolled(h, "contact@example.com")
    attacker = h.signed_in("contact@example.com")
    refused, sent = h.ask_code(attacker, phoneNumber=PHONE)
    assert sent is None and status_of(refused) == "GENERAL_ERROR"
    assert h.state(user_id_of(attacker)).phone is None


def test_first_enrolment_needs_only_the_first_factor(h: Harness) -> None:
    """S8's one exception, as a control: a user with no factor enrols with the password."""
    tokens = h.signed_up("first@example.com")
    assert h.post("/auth/2fa/totp/device", tokens).json()["status"] == "OK"


# -- S9: events --------------------------------------------------------------------------


def test_factor_changes_and_verifications_are_events(h: Harness) -> None:
    """S9: enrolment, failures, successes, recovery use, lockout, regeneration and
    removal each emit an event; none carries a code or secret."""
    tokens, secret, codes = enrolled(h, "events@example.com")
    session = h.signed_in("events@example.com")
    h.verify_totp(session, "000000" if h.code(secret) != "000000" else "111111")
    assert status_of(h.verify_totp(session, h.code(secret))) == "OK"
    assert status_of(h.verify_recovery(h.signed_in("events@example.com"), codes[0])) == "OK"
    assert status_of(h.post("/auth/2fa/recovery-codes", session)) == "OK"
    for _ in range(5):
        h.verify_recovery(h.signed_in("events@example.com"), "aaaaa-aaaaa")
    assert (
        status_of(h.post("/auth/2fa/totp/device/remove", session, {"deviceName": "authenticator"}))
        == "OK"
    )
    kinds = [e.kind for e in h.seen]
    for kind in [
        "factor_enrolled",
        "verification_failed",
        "verification_succeeded",
        "recovery_code_used",
        "recovery_codes_regenerated",
        "locked_out",
        "factor_removed",
    ]:
        assert kind in kinds, (kind, kinds)
    text = repr(h.seen)
    assert secret not in text and not any(c in text for c in codes)
    assert all(isinstance(e, events.Event) and e.user_id == user_id_of(tokens) for e in h.seen)


# -- S10: passwordless as a first factor -----------------------------------------------------


def test_passwordless_as_first_factor_is_refused(
    h: Harness, devcore: DevCore, devcore_app: str
) -> None:
    """S10: without a session the passwordless endpoints answer 401, send nothing and
    create no user, whatever the body asks (including linking)."""
    app_id = devcore_app.rsplit("/appid-", 1)[1]

    def users() -> int:
        with devcore.db.transaction() as conn:
            row = conn.execute("SELECT COUNT(*) FROM users WHERE app_id=?", (app_id,)).fetchone()
        return int(row[0])

    h.signed_up("victim@example.com")
    before = users()
    for destination in [
        {"email": "victim@example.com"},
        {"email": "newcomer@example.com"},
        {"phoneNumber": PHONE},
        {"email": "newcomer@example.com", "shouldTryLinkingWithSessionUser": True},
    ]:
        assert h.post("/auth/signinup/code", None, destination).status_code == 401
    fake_device = {"preAuthSessionId": "abc", "deviceId": "ZGV2aWNl", "userInputCode": "123456"}
    assert h.post("/auth/signinup/code/consume", None, fake_device).status_code == 401
    link = {"preAuthSessionId": "abc", "linkCode": "x" * 44}
    assert h.post("/auth/signinup/code/consume", None, link).status_code == 401
    assert h.get("/auth/passwordless/email/exists?email=victim%40example.com").status_code == 401
    # a malformed body does not turn the missing session into a 400
    for malformed in [["email"], {"email": 5}, {"email": "not an e-mail"}, "text"]:
        assert h.post("/auth/signinup/code", None, malformed).status_code == 401
    assert h.outbox == [] and users() == before


# -- S11: remember-device tokens -------------------------------------------------------------


def remembered(h: Harness, email: str) -> tuple[Tokens, str, str]:
    """Enrol ``email`` and verify with rememberDevice; session, TOTP secret, token."""
    _, secret, _ = enrolled(h, email)
    session = h.signed_in(email)
    answer = h.verify_totp(session, h.code(secret), rememberDevice=True)
    assert answer.json()["status"] == "OK"
    return session, secret, answer.json()["rememberDeviceToken"]


def test_remember_device_skips_2fa_only_with_a_valid_token(make: Callable[..., Harness]) -> None:
    """S11 control: the token's cookie is HttpOnly, Secure, SameSite=Strict, and a valid
    token (header or cookie) starts the next sign-in completed."""
    h = make(remember_device=True, remember_device_for=3600)
    _, _, token = remembered(h, "remember@example.com")
    cookie = h.client.cookies.get(REMEMBER_COOKIE)
    assert cookie == token
    h.client.cookies.clear()
    skipped = h.signed_in("remember@example.com", **{REMEMBER_HEADER: token})
    assert h.protected(skipped) == 200
    plain = h.signed_in("remember@example.com")
    assert h.protected(plain) == 403


def test_remember_device_cookie_flags(make: Callable[..., Harness]) -> None:
    """S11: the cookie carrying the token is HttpOnly, Secure and SameSite=Strict
    (Secure as the app's session cookies are: ``cookie_secure``, as on an https API)."""
    h = make(remember_device=True, session_config={"cookie_secure": True})
    _, secret, _ = enrolled(h, "flags@example.com")
    session = h.signed_in("flags@example.com")
    response = h.verify_totp(session, h.code(secret), rememberDevice=True)
    header = response.headers.get("set-cookie", "")
    assert f"{REMEMBER_COOKIE}=" in header
    lowered = header.lower()
    assert "httponly" in lowered and "secure" in lowered and "samesite=strict" in lowered


def test_forged_remember_device_token_is_refused(make: Callable[..., Harness]) -> None:
    """S11: an edited token (payload or signature) or one signed with another key does
    not skip the second factor."""
    h = make(remember_device=True)
    _, _, token = remembered(h, "forgedrd@example.com")
    h.client.cookies.clear()
    body, _, signature = token.partition(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["x"] += 10**9
    edited = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    foreign = RememberDeviceTokens(["another-key-0123456789abcdef"]).issue(
        payload["u"], payload["e"], lifetime=3600, now=h.clock
    )
    for forged in [
        f"{edited}.{signature}",
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        foreign,
        "garbage",
        "",
    ]:
        session = h.signed_in("forgedrd@example.com", **{REMEMBER_HEADER: forged})
        assert h.protected(session) == 403, forged


def test_expired_remember_device_token_is_refused(make: Callable[..., Harness]) -> None:
    """S11: after its lifetime the token no longer skips the second factor."""
    h = make(remember_device=True, remember_device_for=3600)
    _, _, token = remembered(h, "expiredrd@example.com")
    h.client.cookies.clear()
    h.clock.advance(3601)
    session = h.signed_in("expiredrd@example.com", **{REMEMBER_HEADER: token})
    assert h.protected(session) == 403


def test_remember_device_token_after_factor_change_is_refused(
    make: Callable[..., Harness],
) -> None:
    """S11: regenerating recovery codes (any factor change) revokes every token."""
    h = make(remember_device=True)
    session, _, token = remembered(h, "changed@example.com")
    h.client.cookies.clear()
    assert status_of(h.post("/auth/2fa/recovery-codes", session)) == "OK"
    again = h.signed_in("changed@example.com", **{REMEMBER_HEADER: token})
    assert h.protected(again) == 403


def test_remember_device_token_of_another_user_is_refused(make: Callable[..., Harness]) -> None:
    """S11: Mallory's valid token does not skip Alice's second factor."""
    h = make(remember_device=True)
    _, _, token = remembered(h, "mallory-rd@example.com")
    enrolled(h, "alice-rd@example.com")
    h.client.cookies.clear()
    session = h.signed_in("alice-rd@example.com", **{REMEMBER_HEADER: token})
    assert h.protected(session) == 403


# -- S12: secrets in logs and answers, constant-time comparison --------------------------------


TIMESTAMP = re.compile(r'"t": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+[^"]*"')


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.name}: {text}")


def test_secrets_absent_from_logs(devcore_app: str) -> None:
    """S12: every log record of a full flow (SDK debug logging on, every logger at DEBUG)
    is free of the password, TOTP secret, codes, recovery codes and tokens."""
    capture = _Capture()
    loggers = [logging.getLogger()] + [
        logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
    ]
    saved = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.addHandler(capture)
    secrets_seen: list[str] = [PASSWORD]
    try:
        h = make_harness(devcore_app, debug=True, remember_device=True)
        response = h.sign_up("logs@example.com")
        tokens = Tokens.of(response)
        secrets_seen += [tokens.access or "", tokens.refresh or ""]
        secret, codes = h.enrol_totp(tokens)
        secrets_seen += [secret, *codes]
        h.clock.advance(30)
        session = h.signed_in("logs@example.com")
        secrets_seen += [session.access or "", session.refresh or ""]
        code = h.code(secret)
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        h.verify_totp(session, wrong)
        answer = h.verify_totp(session, code, rememberDevice=True).json()
        secrets_seen += [code, wrong, answer["rememberDeviceToken"]]
        other = h.signed_in("logs@example.com")
        h.verify_recovery(other, codes[0])
        h.verify_recovery(other, "aaaaa-aaaaa")
        device, sent = h.ask_code(session, email="logs@example.com")
        assert sent is not None
        secrets_seen.append(sent.code)
        h.consume(session, device.json(), f"{(int(sent.code) + 1) % 10**6:06d}")
        h.consume(session, device.json(), sent.code)
        new_codes = h.post("/auth/2fa/recovery-codes", session).json()["recoveryCodes"]
        secrets_seen += new_codes
    finally:
        for lg, level in saved:
            lg.removeHandler(capture)
            lg.setLevel(level)
        reset_supertokens()
    assert len(capture.lines) > 20, "the flow was logged (the capture works)"
    # The SDK's JSON debug lines carry a timestamp with microseconds, six digits that can
    # equal a code by chance; they are taken out, and a numeric code must stand alone.
    everything = "\n".join(TIMESTAMP.sub("<time>", line) for line in capture.lines)
    raw_secret = totp.decode_secret(secret)
    secrets_seen += [raw_secret.hex(), base64.b64encode(raw_secret).decode()]
    for value in secrets_seen:
        assert value, "every secret of the flow was collected"
        pattern = rf"(?<!\d){re.escape(value)}(?!\d)" if value.isdigit() else re.escape(value)
        assert not re.search(pattern, everything), f"a secret of length {len(value)} was logged"
    for code in codes + new_codes:
        assert code.replace("-", "") not in everything


def test_error_answers_do_not_echo_submitted_secrets(h: Harness) -> None:
    """S12: refusals never repeat the code or token that was sent."""
    _, secret, codes = enrolled(h, "echo@example.com")
    session = h.signed_in("echo@example.com")
    probes = [
        ("/auth/2fa/totp/verify", {"code": h.code(secret) + "9"}),
        ("/auth/2fa/totp/verify", {"code": "12345x"}),
        ("/auth/2fa/recovery-code/verify", {"code": codes[0] + "-" + "z" * 60}),
        ("/auth/2fa/totp/device/verify", {"code": "secret-ish-987654", "deviceName": "x"}),
    ]
    for path, payload in probes:
        response = h.post(path, session, payload)
        assert response.status_code in (200, 400)
        assert payload["code"] not in response.text
        assert codes[0] not in response.text and secret not in response.text


def test_codes_are_compared_in_constant_time(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """S12: TOTP codes, recovery codes and remember tokens are compared with
    ``hmac.compare_digest`` (the comparisons go through it)."""
    calls: list[int] = []
    original = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append(1)
        return original(a, b)

    _, secret, codes = enrolled(h, "ct@example.com")
    session = h.signed_in("ct@example.com")
    monkeypatch.setattr(hmac, "compare_digest", spy)
    h.verify_totp(session, "000001" if h.code(secret) != "000001" else "000002")
    totp_calls = len(calls)
    assert totp_calls >= 3, "each candidate step is compared with compare_digest"
    h.verify_recovery(session, "aaaaa-aaaaa")
    assert len(calls) - totp_calls >= len(codes), "every stored hash is compared"


# -- S13: malformed and hostile input ----------------------------------------------------------

POST_PATHS = [f"/auth{path}" for method, path, _ in ROUTES if method == "post"] + [
    "/auth/signinup/code",
    "/auth/signinup/code/resend",
    "/auth/signinup/code/consume",
]


@pytest.mark.slow
def test_hostile_bodies_are_refused_without_500_or_state_change(h: Harness) -> None:
    """S13: broken JSON, invalid UTF-8, lone surrogates, deep nesting, a 1 MB body, wrong
    types, NULs and non-ASCII digits on every POST route, from a password-only session
    and from a freshly completed one: a 4xx or a refusal status, never a 5xx, and the
    user's state is unchanged. (``/2fa/recovery-codes`` takes no body: with a fresh 2FA
    it rightly regenerates whatever is sent, so it is probed with the first session.)"""
    fresh, _, _ = enrolled(h, "hostile@example.com")
    password_only = h.signed_in("hostile@example.com")
    user_id = user_id_of(fresh)
    before = h.document(user_id)
    for tokens in (password_only, fresh):
        for name, raw in HOSTILE_BODIES:
            for path in POST_PATHS:
                if tokens is fresh and path == "/auth/2fa/recovery-codes":
                    continue
                response = h.client.post(
                    path,
                    content=raw,
                    headers={**tokens.auth(), "Content-Type": "application/json"},
                )
                where = (name, path, response.status_code, response.text[:200])
                assert response.status_code < 500, where
                if response.status_code == 200:
                    assert response.json().get("status") != "OK", where
                assert h.document(user_id) == before, where
