"""The attack matrix, continued: e-mailed and texted codes made and checked by the library.

A second-factor code is made by the library, kept sealed in the user's state with the
pending device of the session that asked for it, and checked there: one store update
counts the attempt, compares the code and claims the device. These tests attack that
from outside, over HTTP (FastAPI and Flask, the passwordless override, the development
core), as someone who holds a password-only session (or none): replays and races,
codes and ids moved between devices, sessions and users, a second factor's device in a
passwordless sign-in, resends, decoys, lockouts, malformed and stale input, and key
rotation. What held is kept here as the proof; what did not has its fix beside it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from supertokens_python import RecipeInit
from supertokens_python.ingredients.emaildelivery.types import EmailDeliveryConfig
from supertokens_python.ingredients.smsdelivery.types import SMSDeliveryConfig

from st_twofactor import events
from st_twofactor.config import TwoFactorConfig
from st_twofactor.devcore import DevCore
from st_twofactor.recipes import build_recipe_list
from st_twofactor.stores import InMemoryStore, TwoFactorState

from ..helpers.codes_harness import (
    ALL_FACTORS,
    PHONE,
    SECRET_KEY,
    Harness,
    build_harness,
    codes_request,
    user_id_of,
)
from ..helpers.outbox import CapturedEmail, CapturedPasswordReset, CapturedSMS, Sent
from ..helpers.race import race
from ..helpers.sdk import HEADER_MODE, Tokens, body, status

MakeHarness = Callable[..., Harness]
CONSUME = "/auth/signinup/code/consume"
RESEND = "/auth/signinup/code/resend"
OTHER_KEY = "another-secret-key-fedcba9876543210"


@pytest.fixture(params=["fastapi", "flask"])
def framework(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make(
    framework: str,
    fastapi_app: Callable[[list[RecipeInit]], Any],
    flask_app: Callable[[list[RecipeInit]], Any],
    devcore: DevCore,
    devcore_app: str,
) -> Iterator[MakeHarness]:
    """``make(first_factors=..., store=..., **config_options)``: the app for ``framework``
    (``store="metadata"``: the default store, the user's SuperTokens metadata)."""

    def build(
        *,
        first_factors: tuple[str, ...] | None = None,
        **options: Any,
    ) -> Harness:
        def recipes(config: TwoFactorConfig, outbox: list[Sent]) -> list[RecipeInit]:
            extra: dict[str, Any] = {}
            if first_factors is not None:
                extra["first_factors"] = first_factors
            if "otp-email" in config.factors:
                extra["email_delivery"] = EmailDeliveryConfig(service=CapturedEmail(outbox))
            if "otp-phone" in config.factors:
                extra["sms_delivery"] = SMSDeliveryConfig(service=CapturedSMS(outbox))
            return build_recipe_list(
                config=config,
                emailpassword_email_delivery=EmailDeliveryConfig(service=CapturedPasswordReset([])),
                **extra,
            )

        app = fastapi_app if framework == "fastapi" else flask_app
        uses_session = first_factors is not None and "passwordless" in first_factors
        return build_harness(
            framework, app, devcore, devcore_app, recipes, uses_session=uses_session, **options
        )

    yield build


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def consume_body(device: dict[str, Any], code: str) -> dict[str, Any]:
    return {**codes_request(device), "userInputCode": code}


def raced_consumes(h: Harness, tokens: Tokens, payloads: list[dict[str, Any]]) -> list[str]:
    """Each payload posted to consume by its own thread, all released together; the
    statuses (the session's tokens are not updated: every request carries the same)."""
    headers = tokens.auth()

    def post(i: int) -> str:
        response = h.client.post(CONSUME, json=payloads[i], headers=headers)
        assert status(response) == 200, body(response)
        return str(body(response)["status"])

    return race(len(payloads), post)


# -- races: the limits hold under parallel guesses -----------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("store", ["memory", "metadata"])
def test_parallel_guesses_get_no_more_than_the_devices_tries(make: MakeHarness, store: str) -> None:
    """Twelve wrong codes for one device at once: exactly ``otp_max_attempts`` (3) are
    checked and counted (two answered INCORRECT, the third uses the device up), every
    other one finds no device; the factor is not locked and the right code, afterwards,
    is refused (the device is gone)."""
    h = make(store=None if store == "memory" else "metadata")
    tokens = h.signed_up("race-wrong@example.com")
    device, sent = h.ask_ok(tokens, email="race-wrong@example.com")
    outcomes = raced_consumes(h, tokens, [consume_body(device, wrong(sent.code))] * 12)
    assert Counter(outcomes) == {"INCORRECT_USER_INPUT_CODE_ERROR": 2, "RESTART_FLOW_ERROR": 10}
    assert h.kinds().count("verification_failed") == 3
    assert "locked_out" not in h.kinds()
    assert body(h.consume(tokens, device, sent.code))["status"] == "RESTART_FLOW_ERROR"
    assert h.protected(tokens) == 403


@pytest.mark.slow
def test_parallel_guesses_over_several_devices_stop_at_the_factors_lockout(
    make: MakeHarness,
) -> None:
    """Three devices of one session, four wrong codes each, all at once: the factor's
    five failures are counted across devices and then it is locked; no more than five
    codes are ever compared, and the right codes are refused while it is locked."""
    h = make()
    tokens = h.signed_up("race-lock@example.com")
    asked = [h.ask_ok(tokens, email="race-lock@example.com") for _ in range(3)]
    payloads = [consume_body(d, wrong(s.code)) for d, s in asked for _ in range(4)]
    outcomes = raced_consumes(h, tokens, payloads)
    assert h.kinds().count("verification_failed") == 5, Counter(outcomes)
    assert "OK" not in outcomes
    assert any(isinstance(e, events.LockedOut) and e.just_locked for e in h.seen)
    for device, sent in asked:
        answer = body(h.consume(tokens, device, sent.code))
        assert answer["status"] != "OK", answer
    assert h.protected(tokens) == 403


@pytest.mark.slow
def test_the_right_code_raced_among_wrong_ones_is_checked_within_the_tries(
    make: MakeHarness,
) -> None:
    """The right code sent with five wrong ones at once: it completes the session only if
    it came within the device's three tries; never more than one OK, never more than
    three codes compared."""
    h = make()
    tokens = h.signed_up("race-mixed@example.com")
    device, sent = h.ask_ok(tokens, email="race-mixed@example.com")
    payloads = [consume_body(device, wrong(sent.code))] * 5 + [consume_body(device, sent.code)]
    outcomes = raced_consumes(h, tokens, payloads)
    assert outcomes.count("OK") <= 1
    assert h.kinds().count("verification_failed") + outcomes.count("OK") <= 3
    assert h.state(user_id_of(tokens)).otp_pending == {}


# -- ids and codes moved between devices, sessions, users ----------------------------------


def test_ids_and_codes_do_not_move_between_devices_of_one_session(make: MakeHarness) -> None:
    """Two devices of one session: one's ``deviceId`` with the other's
    ``preAuthSessionId`` is a 400 that counts nothing and changes nothing, also for a
    resend; one device's code typed for the other is a wrong code there; each code still
    works for its own device."""
    h = make()
    tokens = h.signed_up("swap@example.com")
    user_id = user_id_of(tokens)
    first, first_sent = h.ask_ok(tokens, email="swap@example.com")
    second, second_sent = h.ask_ok(tokens, email="swap@example.com")
    before, outbox = h.document(user_id), len(h.outbox)
    for one, other in ((first, second), (second, first)):
        swapped = {"preAuthSessionId": one["preAuthSessionId"], "deviceId": other["deviceId"]}
        for code in (first_sent.code, second_sent.code):
            assert status(h.consume(tokens, swapped, code)) == 400
        assert status(h.post(RESEND, tokens, swapped)) == 400
    assert h.document(user_id) == before and len(h.outbox) == outbox
    assert h.protected(tokens) == 403

    answer = body(h.consume(tokens, first, second_sent.code))
    assert answer["status"] == "INCORRECT_USER_INPUT_CODE_ERROR", answer
    assert body(h.consume(tokens, second, second_sent.code))["status"] == "OK"
    # the first device is still pending for its own code (a code is used once, per device)
    assert body(h.consume(tokens, first, first_sent.code))["status"] == "OK"


def test_a_device_id_alone_or_a_core_style_pair_names_no_device(make: MakeHarness) -> None:
    """The state keeps no ``deviceId``: the ``preAuthSessionId`` a client could compute
    the core's way (plain SHA-256 of the ``deviceId``) names nothing, and neither does a
    made-up pair derived like the library's own; nothing is counted."""
    h = make()
    tokens = h.signed_up("derive@example.com")
    user_id = user_id_of(tokens)
    device, sent = h.ask_ok(tokens, email="derive@example.com")
    raw = base64.b64decode(device["deviceId"])
    core_style = base64.urlsafe_b64encode(hashlib.sha256(raw).digest()).rstrip(b"=").decode()
    before = h.document(user_id)
    forged = {"preAuthSessionId": core_style, "deviceId": device["deviceId"]}
    assert body(h.consume(tokens, forged, sent.code))["status"] == "RESTART_FLOW_ERROR"
    assert body(h.post(RESEND, tokens, forged))["status"] == "RESTART_FLOW_ERROR"
    assert h.document(user_id) == before
    assert body(h.consume(tokens, device, sent.code))["status"] == "OK"


# -- a second factor's device in a passwordless sign-in -----------------------------------


def test_a_second_factors_device_never_signs_anyone_in(make: MakeHarness) -> None:
    """Where passwordless is also a first factor: a second factor's device and its right
    code, used as a sign-in (no session; a session with the flag false; a ``linkCode``
    naming its ``preAuthSessionId``; its ``deviceId`` with the ``preAuthSessionId`` the
    core would derive), sign no one in and make no user, and resent without a session
    send nothing; its own session can still use it afterwards."""
    h = make(first_factors=("emailpassword", "passwordless"))
    tokens = h.signed_up("ff@example.com")
    users = h.user_count()
    device, sent = h.ask_ok(tokens, email="ff@example.com")
    raw = base64.b64decode(device["deviceId"])
    core_style = base64.urlsafe_b64encode(hashlib.sha256(raw).digest()).rstrip(b"=").decode()
    attempts: list[tuple[Tokens | None, dict[str, Any]]] = [
        (None, consume_body(device, sent.code)),
        (tokens, {**consume_body(device, sent.code), "shouldTryLinkingWithSessionUser": False}),
        (None, {"preAuthSessionId": device["preAuthSessionId"], "linkCode": sent.code}),
        (None, {**consume_body(device, sent.code), "preAuthSessionId": core_style}),
    ]
    for session, payload in attempts:
        headers = session.auth() if session else HEADER_MODE
        response = h.client.post(CONSUME, json=payload, headers=headers)
        assert status(response) < 500, (payload, body(response))
        assert body(response).get("status") != "OK", (payload, body(response))
        assert not Tokens.of(response).refresh, "no new session"
    outbox = len(h.outbox)
    for ids in (codes_request(device), {**codes_request(device), "preAuthSessionId": core_style}):
        response = h.client.post(RESEND, json=ids, headers=HEADER_MODE)
        assert body(response)["status"] == "RESTART_FLOW_ERROR", (ids, body(response))
    assert len(h.outbox) == outbox, "nothing was sent"
    assert h.user_count() == users
    assert body(h.consume(tokens, device, sent.code))["status"] == "OK"
    assert h.protected(tokens) == 200


# -- resends -----------------------------------------------------------------------------


def test_a_resend_revives_nothing(make: MakeHarness) -> None:
    """A resend for an expired device, a used-up device, a used device or a decoy sends
    nothing; for the first three it is RESTART_FLOW_ERROR and no send is counted."""
    h = make()
    tokens = h.signed_up("resend@example.com")
    user_id = user_id_of(tokens)

    expired, _ = h.ask_ok(tokens, email="resend@example.com")
    h.clock.advance(h.config.otp_code_lifetime)
    used_up, used_up_sent = h.ask_ok(tokens, email="resend@example.com")
    for _ in range(h.config.otp_max_attempts - 1):
        h.consume(tokens, used_up, wrong(used_up_sent.code))
    used, used_sent = h.ask_ok(tokens, email="resend@example.com")
    assert body(h.consume(tokens, used, used_sent.code))["status"] == "OK"
    h.consume(tokens, used_up, wrong(used_up_sent.code))  # its last try
    sends, outbox = h.state(user_id).code_sends, len(h.outbox)
    for gone in (expired, used_up, used):
        answer = body(h.post(RESEND, tokens, codes_request(gone)))
        assert answer["status"] == "RESTART_FLOW_ERROR", answer
    assert h.state(user_id).code_sends == sends and len(h.outbox) == outbox

    decoy = body(h.post("/auth/signinup/code", tokens, {"email": "elsewhere@example.com"}))
    assert decoy["status"] == "OK"
    for _ in range(3):
        assert body(h.post(RESEND, tokens, codes_request(decoy))) == {"status": "OK"}
    assert len(h.outbox) == outbox, "a decoy is never sent"


# -- lockouts ---------------------------------------------------------------------------


def test_an_attackers_wrong_codes_do_not_lock_the_owners_known_device(make: MakeHarness) -> None:
    """The password alone: wrong e-mailed codes from sessions on devices that never
    completed 2FA lock the factor there (also for a right code and for new sends), not on
    the owner's device, which completed 2FA before: the owner asks for a code and uses
    it at once, and the attacker's count stays locked."""
    h = make()
    owner = h.signed_up("known-codes@example.com")
    device, sent = h.ask_ok(owner, email="known-codes@example.com")
    done = h.consume(owner, device, sent.code)
    assert body(done)["status"] == "OK"
    known = {"st-2fa-device": done.headers["st-2fa-device"]}

    attacker = h.signed_in("known-codes@example.com")
    for _ in range(2):
        device, sent = h.ask_ok(attacker, email="known-codes@example.com")
        for _ in range(3):
            answer = body(h.consume(attacker, device, wrong(sent.code)))
            if answer["status"] == "GENERAL_ERROR":
                break
    assert answer["status"] == "GENERAL_ERROR" and answer["retryAfterMs"] > 0, answer
    response, refused = h.ask(attacker, email="known-codes@example.com")
    assert body(response)["status"] == "GENERAL_ERROR" and refused is None

    owner_again = h.signed_in("known-codes@example.com")
    headers = {**owner_again.auth(), **known}
    asked = h.client.post(
        "/auth/signinup/code", json={"email": "known-codes@example.com"}, headers=headers
    )
    assert body(asked)["status"] == "OK", body(asked)
    used = h.client.post(
        CONSUME, json=consume_body(body(asked), h.outbox[-1].code), headers=headers
    )
    assert body(used)["status"] == "OK", body(used)
    response, refused = h.ask(attacker, email="known-codes@example.com")
    assert body(response)["status"] == "GENERAL_ERROR" and refused is None


def test_a_locked_code_factor_locks_only_itself(make: MakeHarness) -> None:
    """Five wrong e-mailed codes lock ``otp-email`` only: texted codes are still sent
    and checked (their own count), and a right texted code clears both."""
    h = make()
    tokens = h.signed_up("lock-across@example.com")
    h.complete_with_email(tokens, "lock-across@example.com")
    phone_device, phone_sent = h.ask_ok(tokens, phoneNumber=PHONE)
    assert body(h.consume(tokens, phone_device, phone_sent.code))["status"] == "OK"
    attacker = h.signed_in("lock-across@example.com")
    for _ in range(2):
        device, sent = h.ask_ok(attacker, email="lock-across@example.com")
        for _ in range(3):
            answer = body(h.consume(attacker, device, wrong(sent.code)))
            if answer["status"] == "GENERAL_ERROR":
                break
    assert answer["status"] == "GENERAL_ERROR", answer
    locked, refused = h.ask(attacker, email="lock-across@example.com")
    assert body(locked)["status"] == "GENERAL_ERROR" and refused is None

    device, sent = h.ask_ok(attacker, phoneNumber=PHONE)
    answer = body(h.consume(attacker, device, wrong(sent.code)))
    assert answer == {
        "status": "INCORRECT_USER_INPUT_CODE_ERROR",
        "failedCodeInputAttemptCount": 1,
        "maximumCodeInputAttempts": 3,
    }
    assert body(h.consume(attacker, device, sent.code))["status"] == "OK"
    device, sent = h.ask_ok(attacker, email="lock-across@example.com")
    assert body(h.consume(attacker, device, sent.code))["status"] == "OK"


# -- keys and state from elsewhere -------------------------------------------------------


def test_a_code_asked_before_a_key_rotation_works_until_its_key_is_retired(
    make: MakeHarness,
) -> None:
    """The app restarts with a new first secret key: a code sealed under the old key
    still works while the old key is listed; with the old key gone it is a wrong code
    (counted, answered like one), never a 500."""
    store = InMemoryStore()
    h = make(store=store)
    tokens = h.signed_up("rotate@example.com")
    h.complete_with_email(tokens, "rotate@example.com")
    first, first_sent = h.ask_ok(tokens, email="rotate@example.com")
    second, second_sent = h.ask_ok(tokens, email="rotate@example.com")

    rotated = make(store=store, secret_keys=[OTHER_KEY, SECRET_KEY])
    assert body(rotated.consume(tokens, first, first_sent.code))["status"] == "OK"
    retired = make(store=store, secret_keys=[OTHER_KEY])
    answer = body(retired.consume(tokens, second, second_sent.code))
    assert answer["status"] == "INCORRECT_USER_INPUT_CODE_ERROR", answer
    device, sent = retired.ask_ok(tokens, email="rotate@example.com")
    assert body(retired.consume(tokens, device, sent.code))["status"] == "OK"


@pytest.mark.parametrize(
    "codes",
    [["garbage"], ["v1.00000000.AAAA"], ["v1.zzzzzzzz.AAAA"], [""], ["v1." + "A" * 5000]],
    ids=["text", "unknown-key", "bad-key-id", "empty", "huge"],
)
def test_damaged_sealed_codes_are_wrong_codes_not_errors(
    make: MakeHarness, codes: list[str]
) -> None:
    """A pending device whose stored codes do not open (damaged, or written by something
    else) answers every code as wrong, counted, never a 500; a new code works."""
    h = make()
    tokens = h.signed_up("damaged@example.com")
    user_id = user_id_of(tokens)
    device, sent = h.ask_ok(tokens, email="damaged@example.com")

    def damage(state: TwoFactorState) -> None:
        state.otp_pending[device["preAuthSessionId"]].codes = list(codes)

    asyncio.run(h.config.state_store.update(user_id, damage))
    answer = body(h.consume(tokens, device, sent.code))
    assert answer["status"] == "INCORRECT_USER_INPUT_CODE_ERROR", answer
    assert body(h.post(RESEND, tokens, codes_request(device))) == {"status": "OK"}
    assert body(h.consume(tokens, device, h.outbox[-1].code))["status"] == "OK"


# -- what changes under a device while it is pending ----------------------------------------


def test_after_a_pin_no_device_made_before_it_resends(make: MakeHarness) -> None:
    """Which of an asker's devices still resend after the owner pins an address must not
    tell the asker which address that is: once a contact of the factor is pinned, every
    device made before the pin restarts, real (any address) or decoy; devices asked for
    after the pin resend alike again."""
    h = make()
    owner = h.signed_up("pin@example.com")
    asker = h.signed_in("pin@example.com")  # the password alone, no factor yet
    real, _ = h.ask_ok(asker, email="pin@example.com")
    decoy_answer, nothing = h.ask(asker, email="someone-else@example.com")
    assert nothing is None and body(decoy_answer)["status"] == "OK"
    decoy = body(decoy_answer)
    h.complete_with_email(owner, "pin@example.com")  # the owner pins the address
    sent = len(h.outbox)
    for device in (real, decoy):
        answer = body(h.post(RESEND, asker, codes_request(device)))
        assert answer["status"] == "RESTART_FLOW_ERROR", answer
    assert len(h.outbox) == sent, "nothing was sent"
    h.clock.advance(1)  # newer than the devices above (a user keeps the newest three)
    real_after, _ = h.ask_ok(asker, email="pin@example.com")
    h.clock.advance(1)
    decoy_after = body(h.ask(asker, email="someone-else@example.com")[0])
    for name, device in (("real", real_after), ("decoy", decoy_after)):
        answer = body(h.post(RESEND, asker, codes_request(device)))
        assert answer == {"status": "OK"}, (name, answer)


def test_a_factor_disabled_since_a_code_was_sent_takes_it_no_more(make: MakeHarness) -> None:
    """The app restarts without ``otp-email``: a code asked before is neither checked nor
    resent (``RESTART_FLOW_ERROR``), and nothing is counted."""
    store = InMemoryStore()
    h = make(store=store)
    tokens = h.signed_up("off@example.com")
    user_id = user_id_of(tokens)
    device, sent = h.ask_ok(tokens, email="off@example.com")
    before = h.state(user_id).throttle
    without = make(store=store, factors=tuple(f for f in ALL_FACTORS if f != "otp-email"))
    assert body(without.consume(tokens, device, sent.code))["status"] == "RESTART_FLOW_ERROR"
    assert body(without.post(RESEND, tokens, codes_request(device)))["status"] == (
        "RESTART_FLOW_ERROR"
    )
    assert without.state(user_id).throttle == before
    assert without.protected(tokens) == 403


def test_a_right_code_refused_for_step_up_is_reported_as_counted(make: MakeHarness) -> None:
    """A code asked while the user had no factor, entered after another session enrolled
    one: the contact may not be pinned by this session any more (step-up), and the
    attempt stays counted, so the app's event says how many tries are left."""
    h = make()
    first = h.signed_up("late@example.com")
    other = h.signed_in("late@example.com")
    device, sent = h.ask_ok(first, email="late@example.com")
    phone, phone_sent = h.ask_ok(other, phoneNumber=PHONE)
    assert body(h.consume(other, phone, phone_sent.code))["status"] == "OK"  # a factor now
    before = len(h.seen)
    answer = body(h.consume(first, device, sent.code))
    assert answer["status"] == "GENERAL_ERROR" and "second factor" in answer["message"], answer
    failed = [e for e in h.seen[before:] if isinstance(e, events.VerificationFailed)]
    assert len(failed) == 1 and failed[0].factor == "otp-email"
    assert failed[0].attempts_left is not None and failed[0].attempts_left < 5
    assert h.protected(first) == 403
