"""E-mail and SMS codes as a second factor (st_twofactor.http.passwordless), over HTTP.

Each test drives the passwordless recipe's own endpoints through the SDK middleware
(FastAPI and Flask) against the development core, with codes captured by a delivery
passed to ``build_recipe_list`` and an injected clock.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from supertokens_python import RecipeInit
from supertokens_python.ingredients.emaildelivery.types import (
    EmailDeliveryConfig,
)
from supertokens_python.ingredients.smsdelivery.types import (
    SMSDeliveryConfig,
)
from supertokens_python.recipe.thirdparty.provider import (
    Provider,
    ProviderClientConfig,
    ProviderConfig,
    ProviderInput,
    RedirectUriInfo,
)
from supertokens_python.recipe.thirdparty.types import UserInfo

from st_twofactor import events
from st_twofactor.claim import make_second_factor_claim
from st_twofactor.config import TwoFactorConfig
from st_twofactor.devcore import DevCore
from st_twofactor.errors import DecryptionError, MalformedDataError
from st_twofactor.factors.codes._devices import CODES_PER_DEVICE
from st_twofactor.factors.codes._timing import Durations
from st_twofactor.http._body import MAX_BODY_BYTES
from st_twofactor.http.passwordless import MAX_PENDING_CODES
from st_twofactor.kernel.crypto import SecretBox
from st_twofactor.recipes import build_recipe_list
from st_twofactor.stores import TwoFactorState
from st_twofactor.stores.state import PendingCode

from ..helpers.codes_harness import (
    OTHER_PHONE,
    PHONE,
    SECRET_KEY,
    Harness,
    build_harness,
    codes_request,
    handle_of,
    user_id_of,
)
from ..helpers.outbox import CapturedEmail, CapturedPasswordReset, CapturedSMS, Sent
from ..helpers.sdk import (
    API_DOMAIN,
    HEADER_MODE,
    Tokens,
    body,
    jwt_payload,
    status,
)

MakeHarness = Callable[..., Harness]


@pytest.fixture(params=["fastapi", "flask"])
def framework(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_harness(
    framework: str,
    fastapi_app: Callable[[list[RecipeInit]], Any],
    flask_app: Callable[[list[RecipeInit]], Any],
    devcore: DevCore,
    devcore_app: str,
) -> Iterator[MakeHarness]:
    """A factory: ``make_harness(**config_options)`` builds the app for ``framework``."""

    def make(
        *,
        capture: bool = True,
        providers: list[ProviderInput] | None = None,
        claim: Any = None,
        **options: Any,
    ) -> Harness:
        def recipes(config: TwoFactorConfig, outbox: list[Sent]) -> list[RecipeInit]:
            deliveries: dict[str, Any] = {}
            if capture:
                deliveries = {
                    "email_delivery": EmailDeliveryConfig(service=CapturedEmail(outbox)),
                    "sms_delivery": SMSDeliveryConfig(service=CapturedSMS(outbox)),
                    "emailpassword_email_delivery": EmailDeliveryConfig(
                        service=CapturedPasswordReset([])
                    ),
                }
            if claim is not None:
                deliveries["claim"] = claim
            return build_recipe_list(config=config, providers=providers or [], **deliveries)

        app = fastapi_app if framework == "fastapi" else flask_app
        return build_harness(framework, app, devcore, devcore_app, recipes, **options)

    yield make


# --- the full flow -----------------------------------------------------------------------


def test_email_code_completes_the_existing_session(make_harness: MakeHarness) -> None:
    h = make_harness(store="metadata")  # the default store: SuperTokens user metadata
    h.signed_up("ada@example.com")
    users = h.user_count()
    tokens = h.signed_in("ada@example.com")
    user_id, handle = user_id_of(tokens), handle_of(tokens)
    assert h.protected(tokens) == 403

    calls = h.core_calls()
    device, sent = h.ask_ok(tokens, email="Ada@Example.com ")
    create_calls = h.core_paths()[calls:]
    assert h.passwordless_devices() == 0, "the code lives in the user's state, not the core"
    assert sent.to == "ada@example.com"
    assert len(sent.code) == 6 and sent.code.isascii() and sent.code.isdigit()
    assert sent.lifetime_ms == 600_000  # the library's lifetime, not the core's 900 s
    assert sent.first_factor is False
    assert device["flowType"] == "USER_INPUT_CODE"

    calls = h.core_calls()
    response = h.consume(tokens, device, sent.code)
    consume_calls = h.core_paths()[calls:]
    answer = body(response)
    assert status(response) == 200 and answer["status"] == "OK", answer
    assert answer["user"]["id"] == user_id
    assert answer["createdNewRecipeUser"] is False
    assert response.headers.get("st-access-token"), "the completed claim is sent back"
    assert response.headers.get("st-refresh-token") is None, "no new session"
    assert handle_of(tokens) == handle
    assert jwt_payload(tokens.access or "")["2fa-completed"]["v"] is True
    assert h.protected(tokens) == 200

    assert h.user_count() == users, "no passwordless user was created"
    assert h.passwordless_devices() == 0
    state = h.state(user_id)
    assert state.email == "ada@example.com" and state.otp_pending == {}
    assert state.epoch == 1
    assert h.kinds()[-2:] == ["factor_enrolled", "verification_succeeded"]
    # The budget, itemised in the module doc of st_twofactor.http.passwordless.
    assert create_calls == [
        "GET /recipe/user/metadata",
        "GET /user/id",
        "PUT /recipe/user/metadata",
    ]
    # The state read, then written once (count, compare, claim); then, side by side, the
    # session's new access token and the user for the answer.
    assert consume_calls[:2] == ["GET /recipe/user/metadata", "PUT /recipe/user/metadata"]
    assert sorted(consume_calls[2:]) == ["GET /user/id", "POST /recipe/session/regenerate"]
    calls = h.core_calls()
    h.ask_ok(tokens, email="ada@example.com")  # pinned now: no user lookup
    assert h.core_paths()[calls:] == ["GET /recipe/user/metadata", "PUT /recipe/user/metadata"]


def test_each_code_request_verifies_its_session_once(
    make_harness: MakeHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard verifies the session before reading the body and the override needs it
    again: the access token is verified once per request all the same."""
    from st_twofactor.factors.codes import _inputs

    h = make_harness()
    h.signed_up("vera@example.com")
    tokens = h.signed_in("vera@example.com")
    verified: list[object] = []
    real = _inputs.get_session

    async def counted(request: Any, *args: Any, **kwargs: Any) -> Any:
        verified.append(request)
        return await real(request, *args, **kwargs)

    monkeypatch.setattr(_inputs, "get_session", counted)
    device, sent = h.ask_ok(tokens, email="vera@example.com")
    assert len(verified) == 1
    response = h.consume(tokens, device, sent.code)
    assert status(response) == 200 and body(response)["status"] == "OK"
    assert len(verified) == 2 and verified[0] is not verified[1]


def test_an_e_mailed_code_completes_a_custom_claim(make_harness: MakeHarness) -> None:
    """build_recipe_list(claim=...) reaches the passwordless override too."""
    claim = make_second_factor_claim("mfa-done")
    h = make_harness(claim=claim)
    h.signed_up("cleo@example.com")
    tokens = h.signed_in("cleo@example.com")
    assert jwt_payload(tokens.access or "")["mfa-done"]["v"] is False
    assert h.protected(tokens) == 403
    h.complete_with_email(tokens, "cleo@example.com")
    payload = jwt_payload(tokens.access or "")
    assert payload["mfa-done"]["v"] is True and "2fa-completed" not in payload
    assert h.protected(tokens) == 200


def wrong(code: str) -> str:
    """A code of the same shape that is not ``code``."""
    return f"{(int(code) + 1) % 10**6:06d}"


# --- S10: never a first factor ---------------------------------------------------------


def test_without_a_session_every_endpoint_is_401_and_no_user_is_made(
    make_harness: MakeHarness,
) -> None:
    h = make_harness()
    tokens = h.signed_up("ada@example.com")
    users = h.user_count()

    for destination in ({"email": "ada@example.com"}, {"email": "new@example.com"}):
        response, sent = h.ask(None, **destination)
        assert status(response) == 401 and sent is None, body(response)
    linking = {"email": "new@example.com", "shouldTryLinkingWithSessionUser": True}
    assert status(h.post("/auth/signinup/code", None, linking)) == 401
    assert status(h.get("/auth/passwordless/email/exists?email=ada%40example.com", None)) == 401
    phone_exists = "/auth/passwordless/phonenumber/exists?phoneNumber=%2B14155550100"
    assert status(h.get(phone_exists, None)) == 401

    device, sent = h.ask_ok(tokens, email="ada@example.com")
    sent_before = len(h.outbox)
    assert status(h.post("/auth/signinup/code/resend", None, codes_request(device))) == 401
    assert len(h.outbox) == sent_before
    assert status(h.consume(None, device, sent.code)) == 401
    assert h.user_count() == users and len(h.state(user_id_of(tokens)).otp_pending) == 1

    # The code was not used up by the refused request: its owner's session can use it.
    assert body(h.consume(tokens, device, sent.code))["status"] == "OK"
    assert h.user_count() == users
    answer = body(h.get("/auth/passwordless/email/exists?email=ada%40example.com", tokens))
    assert answer == {"status": "OK", "exists": False}


# --- S6: pinned destination, bound to its request, expiring, single use ----------------


def test_another_destination_gets_a_decoy_and_nothing_is_sent(make_harness: MakeHarness) -> None:
    """S6: a code asked for a destination that is not the user's is answered like a real
    one (a decoy, so the answer does not tell which destination is the user's): nothing
    is sent or made in the core, no code typed for it works, and it is metered like a
    send. tests/attacks/test_attacks_otp.py compares it with the real answers step by step."""
    h = make_harness()
    tokens = h.signed_up("ada@example.com")
    user_id = user_id_of(tokens)

    devices = []
    for email in ("mallory@example.com", "ädä@example.com"):
        response, sent = h.ask(tokens, email=email)
        answer = body(response)
        assert status(response) == 200 and sent is None, answer
        assert set(answer) == {"status", "deviceId", "preAuthSessionId", "flowType"}
        assert answer["status"] == "OK" and answer["flowType"] == "USER_INPUT_CODE"
        devices.append(answer)
    assert h.passwordless_devices() == 0, "nothing was made in the core"
    state = h.state(user_id)
    assert state.email is None
    assert [p.decoy for p in state.otp_pending.values()] == [True, True]
    assert [s.destination for s in state.code_sends] == ["mallory@example.com", "ädä@example.com"]
    answer = body(h.consume(tokens, devices[0], "123456"))
    assert answer == {
        "status": "INCORRECT_USER_INPUT_CODE_ERROR",
        "failedCodeInputAttemptCount": 1,
        "maximumCodeInputAttempts": 3,
    }
    assert h.protected(tokens) == 403

    h.complete_with_email(tokens, "ada@example.com")
    assert h.state(user_id).email == "ada@example.com"
    response, sent = h.ask(tokens, email="mallory@example.com")
    assert body(response)["status"] == "OK" and sent is None
    assert h.state(user_id).email == "ada@example.com"
    assert [s.to for s in h.outbox] == ["ada@example.com"]


def test_a_phone_number_is_pinned_by_its_first_use(make_harness: MakeHarness) -> None:
    h = make_harness()
    tokens = h.signed_up("ada@example.com")  # no factor yet: the first enrolment is free
    user_id = user_id_of(tokens)
    device, sent = h.ask_ok(tokens, phoneNumber="+1 (415) 555-0100")
    assert sent.to == PHONE and sent.lifetime_ms == 600_000

    assert body(h.consume(tokens, device, sent.code))["status"] == "OK"
    state = h.state(user_id)
    assert state.phone == PHONE and state.epoch == 1
    enrolled = [e for e in h.seen if isinstance(e, events.FactorEnrolled)]
    assert [e.factor for e in enrolled] == ["otp-phone"]
    assert h.protected(tokens) == 200

    response, refused = h.ask(tokens, phoneNumber=OTHER_PHONE)
    assert body(response)["status"] == "OK" and refused is None  # a decoy: nothing sent
    h.ask_ok(tokens, phoneNumber=PHONE)


def test_adding_a_contact_needs_a_recent_second_factor(make_harness: MakeHarness) -> None:
    h = make_harness()
    h.signed_up("ada@example.com")
    tokens = h.signed_in("ada@example.com")
    user_id = user_id_of(tokens)
    h.complete_with_email(tokens, "ada@example.com")  # the user now has a factor
    device, sent = h.ask_ok(tokens, phoneNumber=PHONE)  # 2FA just completed: allowed

    h.clock.advance(301)  # older than the step-up window
    response, refused = h.ask(tokens, phoneNumber=PHONE)
    answer = body(response)
    assert answer["status"] == "GENERAL_ERROR" and refused is None
    assert "second factor" in answer["message"]
    # Re-checked when the code is used: the code sent while fresh cannot pin it now.
    answer = body(h.consume(tokens, device, sent.code))
    assert answer["status"] == "GENERAL_ERROR", answer
    assert h.state(user_id).phone is None

    other = h.signed_in("ada@example.com")  # a new session: its 2FA is not done
    response, refused = h.ask(other, phoneNumber=PHONE)
    assert body(response)["status"] == "GENERAL_ERROR" and refused is None
    h.complete_with_email(other, "ada@example.com")
    device, sent = h.ask_ok(other, phoneNumber=PHONE)
    assert body(h.consume(other, device, sent.code))["status"] == "OK"
    assert h.state(user_id).phone == PHONE


def test_a_code_made_for_another_user_or_session_is_refused(make_harness: MakeHarness) -> None:
    h = make_harness()
    ada = h.signed_up("ada@example.com")
    eve = h.signed_up("eve@example.com")
    device, sent = h.ask_ok(ada, email="ada@example.com")
    eve_before = h.document(user_id_of(eve))

    answer = body(h.consume(eve, device, sent.code))
    assert answer["status"] == "RESTART_FLOW_ERROR", answer
    assert h.protected(eve) == 403
    outbox = len(h.outbox)
    answer = body(h.post("/auth/signinup/code/resend", eve, codes_request(device)))
    assert answer["status"] == "RESTART_FLOW_ERROR" and len(h.outbox) == outbox
    assert h.document(user_id_of(eve)) == eve_before

    ada_elsewhere = h.signed_in("ada@example.com")  # same user, another session
    assert body(h.consume(ada_elsewhere, device, sent.code))["status"] == "RESTART_FLOW_ERROR"
    assert h.protected(ada_elsewhere) == 403

    eve_device, _ = h.ask_ok(eve, email="eve@example.com")
    mixed = {**device, "deviceId": eve_device["deviceId"]}  # ada's device id is not known
    assert status(h.consume(ada, mixed, sent.code)) == 400

    assert body(h.consume(ada, device, sent.code))["status"] == "OK"
    assert h.protected(ada) == 200


def test_a_code_expires_after_the_configured_lifetime(make_harness: MakeHarness) -> None:
    h = make_harness()
    tokens = h.signed_up("ada@example.com")
    first, first_sent = h.ask_ok(tokens, email="ada@example.com")
    h.clock.advance(300)
    second, second_sent = h.ask_ok(tokens, email="ada@example.com")
    h.clock.advance(300)  # the first is 600 s old; the core alone would accept it (900 s)

    answer = body(h.consume(tokens, first, first_sent.code))
    assert answer == {
        "status": "EXPIRED_USER_INPUT_CODE_ERROR",
        "failedCodeInputAttemptCount": 0,
        "maximumCodeInputAttempts": 3,
    }
    assert h.protected(tokens) == 403
    answer = body(h.post("/auth/signinup/code/resend", tokens, codes_request(first)))
    assert answer["status"] == "RESTART_FLOW_ERROR"
    assert body(h.consume(tokens, second, second_sent.code))["status"] == "OK"


def test_a_resend_keeps_the_deadline_of_the_first_code(make_harness: MakeHarness) -> None:
    h = make_harness(otp_code_lifetime=120)
    tokens = h.signed_up("ada@example.com")
    device, first = h.ask_ok(tokens, email="ada@example.com")
    assert first.lifetime_ms == 120_000
    h.clock.advance(80)
    answer = body(h.post("/auth/signinup/code/resend", tokens, codes_request(device)))
    assert answer == {"status": "OK"}
    resent = h.outbox[-1]
    assert resent is not first and resent.pre_auth_session_id == device["preAuthSessionId"]
    assert resent.lifetime_ms == 40_000
    h.clock.advance(40)
    answer = body(h.consume(tokens, device, resent.code))
    assert answer["status"] == "EXPIRED_USER_INPUT_CODE_ERROR"


def test_a_resend_adds_a_code_and_a_device_keeps_its_latest_five(
    make_harness: MakeHarness,
) -> None:
    """Every code sent for a device works until one is used (a message that arrives late
    is still good); a device keeps its latest ``CODES_PER_DEVICE`` codes."""
    h = make_harness()
    tokens = h.signed_up("ada@example.com")
    key_of = user_id_of(tokens)
    device, first = h.ask_ok(tokens, email="ada@example.com")
    codes = [first.code]
    for _ in range(CODES_PER_DEVICE):
        answer = body(h.post("/auth/signinup/code/resend", tokens, codes_request(device)))
        assert answer == {"status": "OK"}
        codes.append(h.outbox[-1].code)
    pending = h.state(key_of).otp_pending[device["preAuthSessionId"]]
    assert pending.codes is not None and len(pending.codes) == CODES_PER_DEVICE
    assert first.code not in codes[1:], "six random codes in a row, one repeated: run again"
    answer = body(h.consume(tokens, device, first.code))
    assert answer["status"] == "INCORRECT_USER_INPUT_CODE_ERROR"
    assert body(h.consume(tokens, device, codes[1]))["status"] == "OK"
    assert h.protected(tokens) == 200


def test_a_used_code_is_refused_the_second_time(make_harness: MakeHarness) -> None:
    h = make_harness()
    tokens = h.signed_up("ada@example.com")
    device, sent = h.ask_ok(tokens, email="ada@example.com")
    assert body(h.consume(tokens, device, sent.code))["status"] == "OK"
    answer = body(h.consume(tokens, device, sent.code))
    assert answer["status"] == "RESTART_FLOW_ERROR"
    assert h.passwordless_devices() == 0


def test_one_code_used_concurrently_succeeds_once(make_harness: MakeHarness) -> None:
    h = make_harness()
    tokens = h.signed_up("ada@example.com")
    device, sent = h.ask_ok(tokens, email="ada@example.com")
    payload = {**codes_request(device), "userInputCode": sent.code}
    headers = tokens.auth()
    barrier = threading.Barrier(4)  # fewer than the throttle's 5, so no lockout mixes in

    def use(_: int) -> str:
        barrier.wait()
        response = h.client.post("/auth/signinup/code/consume", json=payload, headers=headers)
        return str(body(response)["status"])

    with ThreadPoolExecutor(4) as pool:
        outcomes = sorted(pool.map(use, range(4)))
    assert outcomes.count("OK") == 1, outcomes
    assert set(outcomes) == {"OK", "RESTART_FLOW_ERROR"}


def test_a_second_factor_device_is_no_core_device_and_its_code_is_stored_sealed(
    make_harness: MakeHarness,
) -> None:
    """The ids handed out name no device in the core (the ``preAuthSessionId`` is not the
    SHA-256 of the ``deviceId``, as the core's would be), the core holds nothing for
    them, and the user's state keeps neither the ``deviceId`` nor the code: only the code
    sealed under the app's keys, bound to this user and device. A device an earlier
    version made in the core (no codes of its own) is no longer accepted."""
    h = make_harness()
    tokens = h.signed_up("ada@example.com")
    user_id = user_id_of(tokens)
    device, sent = h.ask_ok(tokens, email="ada@example.com")
    handle = base64.b64decode(device["deviceId"])
    digest = base64.urlsafe_b64encode(hashlib.sha256(handle).digest()).rstrip(b"=")
    assert len(handle) == 32 and digest.decode() != device["preAuthSessionId"]
    assert h.passwordless_devices() == 0
    key = device["preAuthSessionId"]
    pending = h.state(user_id).otp_pending[key]
    assert device["deviceId"] not in json_text(h.document(user_id))
    assert pending.codes is not None and len(pending.codes) == 1
    sealed = pending.codes[0]
    assert sealed.startswith("v1.") and sealed != sent.code
    box = SecretBox(h.config.keys_in_use)
    assert box.decrypt(sealed, context=f"second-factor code|{user_id}|{key}") == sent.code
    for elsewhere in (f"second-factor code|other-user|{key}", f"second-factor code|{user_id}|x"):
        with pytest.raises(DecryptionError):
            box.decrypt(sealed, context=elsewhere)

    def from_an_earlier_version(state: TwoFactorState) -> None:
        state.otp_pending[key].codes = None

    asyncio.run(h.config.state_store.update(user_id, from_an_earlier_version))
    assert body(h.consume(tokens, device, sent.code))["status"] == "RESTART_FLOW_ERROR"
    answer = body(h.post("/auth/signinup/code/resend", tokens, codes_request(device)))
    assert answer["status"] == "RESTART_FLOW_ERROR"
    assert h.protected(tokens) == 403


def test_older_requests_beyond_the_pending_limit_are_dropped(make_harness: MakeHarness) -> None:
    h = make_harness()
    tokens = h.signed_up("ada@example.com")
    devices = []
    for _ in range(MAX_PENDING_CODES + 1):
        devices.append(h.ask_ok(tokens, email="ada@example.com"))
        h.clock.advance(1)
    assert len(h.state(user_id_of(tokens)).otp_pending) == MAX_PENDING_CODES
    oldest, oldest_sent = devices[0]
    assert body(h.consume(tokens, oldest, oldest_sent.code))["status"] == "RESTART_FLOW_ERROR"
    newest, newest_sent = devices[-1]
    assert body(h.consume(tokens, newest, newest_sent.code))["status"] == "OK"


# --- S2: attempts and throttling -------------------------------------------------------


def test_wrong_codes_are_counted_and_five_failures_lock_the_factor(
    make_harness: MakeHarness,
) -> None:
    h = make_harness()
    tokens = h.signed_up("ada@example.com")
    device, sent = h.ask_ok(tokens, email="ada@example.com")
    for n in (1, 2):
        answer = body(h.consume(tokens, device, wrong(sent.code)))
        assert answer == {
            "status": "INCORRECT_USER_INPUT_CODE_ERROR",
            "failedCodeInputAttemptCount": n,
            "maximumCodeInputAttempts": 3,
        }
    # The code's 3 tries are used up: the flow restarts, the factor is not locked.
    assert body(h.consume(tokens, device, wrong(sent.code)))["status"] == "RESTART_FLOW_ERROR"
    # A new code does not start the account's count again.
    device, sent = h.ask_ok(tokens, email="ada@example.com")
    answer = body(h.consume(tokens, device, wrong(sent.code)))
    assert answer["status"] == "INCORRECT_USER_INPUT_CODE_ERROR"
    assert answer["failedCodeInputAttemptCount"] == 1
    answer = body(h.consume(tokens, device, wrong(sent.code)))
    assert answer["status"] == "GENERAL_ERROR" and answer["retryAfterMs"] == 900_000, answer
    assert "15 minutes" in answer["message"]
    assert [e.kind for e in h.seen].count("verification_failed") == 5
    assert any(isinstance(e, events.LockedOut) for e in h.seen)

    # Locked: the right code is refused and no new code is sent.
    h.clock.advance(60)
    answer = body(h.consume(tokens, device, sent.code))
    assert answer["status"] == "GENERAL_ERROR" and answer["retryAfterMs"] == 840_000
    response, refused = h.ask(tokens, email="ada@example.com")
    assert body(response)["status"] == "GENERAL_ERROR" and refused is None
    assert "14 minutes" in body(response)["message"]
    assert h.protected(tokens) == 403

    h.clock.advance(840)  # the lockout is over
    device, sent = h.ask_ok(tokens, email="ada@example.com")
    assert body(h.consume(tokens, device, sent.code))["status"] == "OK"


def test_a_success_resets_the_failure_count(make_harness: MakeHarness) -> None:
    h = make_harness()
    tokens = h.signed_up("ada@example.com")
    device, sent = h.ask_ok(tokens, email="ada@example.com")
    for _ in range(2):
        assert body(h.consume(tokens, device, wrong(sent.code)))["status"].startswith("INCORRECT")
    assert body(h.consume(tokens, device, sent.code))["status"] == "OK"

    device, sent = h.ask_ok(tokens, email="ada@example.com")
    for n in (1, 2):
        answer = body(h.consume(tokens, device, wrong(sent.code)))
        assert answer["status"] == "INCORRECT_USER_INPUT_CODE_ERROR", answer
        assert answer["failedCodeInputAttemptCount"] == n
    # Without the reset this would be the factor's 5th failure and lock it.
    assert body(h.consume(tokens, device, wrong(sent.code)))["status"] == "RESTART_FLOW_ERROR"
    device, sent = h.ask_ok(tokens, email="ada@example.com")
    assert body(h.consume(tokens, device, wrong(sent.code)))["status"].startswith("INCORRECT")
    assert body(h.consume(tokens, device, wrong(sent.code)))["status"] == "GENERAL_ERROR"


def test_a_code_takes_at_most_otp_max_attempts(make_harness: MakeHarness) -> None:
    h = make_harness(otp_max_attempts=2)
    tokens = h.signed_up("ada@example.com")
    device, sent = h.ask_ok(tokens, email="ada@example.com")
    answer = body(h.consume(tokens, device, wrong(sent.code)))
    assert answer["failedCodeInputAttemptCount"] == 1
    assert answer["maximumCodeInputAttempts"] == 2
    answer = body(h.consume(tokens, device, wrong(sent.code)))
    assert answer["status"] == "RESTART_FLOW_ERROR"
    assert h.passwordless_devices() == 0, "the core never held it"
    assert h.state(user_id_of(tokens)).otp_pending == {}
    assert body(h.consume(tokens, device, sent.code))["status"] == "RESTART_FLOW_ERROR"
    assert h.protected(tokens) == 403


def test_a_tab_that_forgot_its_device_is_told_to_restart(make_harness: MakeHarness) -> None:
    """Two tabs: once one completes the code, SuperTokens' web SDK in the other sends empty
    ``deviceId``/``preAuthSessionId`` on Continue or Resend and expects RESTART_FLOW_ERROR
    (as for an unknown device), which its UI handles; a 400 shows "Something went wrong"."""
    h = make_harness()
    tokens = h.signed_up("ada@example.com")
    user_id = user_id_of(tokens)
    device, sent = h.ask_ok(tokens, email="ada@example.com")
    assert body(h.consume(tokens, device, sent.code))["status"] == "OK"  # the first tab
    before, outbox = h.document(user_id), len(h.outbox)

    forgotten = [{"preAuthSessionId": "", "deviceId": ""}]
    forgotten.append({"preAuthSessionId": device["preAuthSessionId"], "deviceId": ""})
    forgotten.append({"preAuthSessionId": "", "deviceId": device["deviceId"]})
    for ids in forgotten:
        for path, extra in (("consume", {"userInputCode": sent.code}), ("resend", {})):
            response = h.post(f"/auth/signinup/code/{path}", tokens, {**ids, **extra})
            assert status(response) == 200, (path, ids, body(response))
            assert body(response)["status"] == "RESTART_FLOW_ERROR", (path, ids)
    assert len(h.outbox) == outbox, "no code was sent"
    assert h.document(user_id) == before, "nothing changed, no attempt counted"


def test_a_codes_tries_and_the_factor_lockout_do_not_coincide(
    make_harness: MakeHarness, caplog: pytest.LogCaptureFixture
) -> None:
    """Item 9: the first code mistyped until its tries run out restarts the flow and does
    not lock the factor: a new code can be asked for and used at once."""
    h = make_harness()
    assert h.config.otp_max_attempts < h.config.max_failures
    tokens = h.signed_up("ada@example.com")
    device, sent = h.ask_ok(tokens, email="ada@example.com")
    answers = [body(h.consume(tokens, device, wrong(sent.code))) for _ in range(3)]
    assert [a["status"] for a in answers] == [
        "INCORRECT_USER_INPUT_CODE_ERROR",
        "INCORRECT_USER_INPUT_CODE_ERROR",
        "RESTART_FLOW_ERROR",
    ]
    assert not any(isinstance(e, events.LockedOut) for e in h.seen)
    device, sent = h.ask_ok(tokens, email="ada@example.com")  # not locked: a code is sent
    assert body(h.consume(tokens, device, sent.code))["status"] == "OK"
    assert h.protected(tokens) == 200

    # Settings that make them coincide again are allowed, with a warning that says so.
    with caplog.at_level(logging.WARNING, logger="st_twofactor"):
        TwoFactorConfig(secret_keys=[SECRET_KEY], otp_max_attempts=5)
    assert "otp_max_attempts=5 is not below max_failures=5" in caplog.text


# --- S13: malformed input --------------------------------------------------------------

HUGE = "9" * 100_000

MALFORMED_CREATE: list[Any] = [
    {},
    {"email": None},
    {"email": 5},
    {"email": ["ada@example.com"]},
    {"email": {"$ne": ""}},
    {"phoneNumber": 14155550100},
    {"email": "ada@example.com", "phoneNumber": PHONE},
    {"email": "not an e-mail"},
    {"email": HUGE + "@example.com"},
    {"phoneNumber": HUGE},
    {"phoneNumber": "+1 415 555 01OO"},
    "email",
    5,
    [{"email": "ada@example.com"}],
    True,
]


def malformed_consume(device: dict[str, Any], code: str) -> list[Any]:
    good = {**codes_request(device), "userInputCode": code}
    return [
        {},
        {"preAuthSessionId": device["preAuthSessionId"]},
        {k: v for k, v in good.items() if k != "preAuthSessionId"},
        {k: v for k, v in good.items() if k != "deviceId"},
        {**good, "userInputCode": int(code)},
        {**good, "userInputCode": None},
        {**good, "userInputCode": [code]},
        {**good, "userInputCode": "".join(chr(0x0660 + int(d)) for d in code)},  # Arabic-Indic
        {**good, "userInputCode": "".join(chr(0xFF10 + int(d)) for d in code)},  # full-width
        {**good, "userInputCode": HUGE},
        {**good, "userInputCode": ""},
        {**good, "preAuthSessionId": 5},
        {**good, "preAuthSessionId": HUGE},
        {**good, "preAuthSessionId": "not/base64url!"},
        {**good, "deviceId": {"a": 1}},
        {**good, "deviceId": "!!!"},
        {**good, "deviceId": "AAAA"},  # well-formed, another device
        {**codes_request(device), "linkCode": "abc"},
        {**good, "linkCode": "abc"},
        json_text(good),
        7,
        None,
    ]


def json_text(value: Any) -> str:
    return json.dumps(value)


def test_malformed_bodies_are_4xx_and_change_nothing(make_harness: MakeHarness) -> None:
    h = make_harness()
    tokens = h.signed_up("ada@example.com")
    user_id = user_id_of(tokens)
    device, sent = h.ask_ok(tokens, email="ada@example.com")
    before = h.document(user_id)
    outbox = len(h.outbox)
    devices = h.passwordless_devices()

    answers = []
    for payload in MALFORMED_CREATE:
        answers.append(("create", payload, h.post("/auth/signinup/code", tokens, payload)))
    for payload in malformed_consume(device, sent.code):
        answers.append(("consume", payload, h.post("/auth/signinup/code/consume", tokens, payload)))
    for payload in ({"preAuthSessionId": device["preAuthSessionId"], "deviceId": 5}, "x", {}):
        answers.append(("resend", payload, h.post("/auth/signinup/code/resend", tokens, payload)))
    for raw in (b"{not json", b'{"email": "\\ud800@example.com"}', b"\xff\xfe"):
        answers.append(("raw", raw, h.post_raw("/auth/signinup/code", tokens, raw)))

    for where, payload, response in answers:
        code = status(response)
        assert code != 500, (where, payload)
        if code == 200:  # a well-formed request the flow refuses, with a status
            assert body(response)["status"] in {"GENERAL_ERROR", "RESTART_FLOW_ERROR"}, (
                where,
                str(payload)[:80],
            )
        else:
            # A body over the size limit is 413 (S17), any other malformed one 400.
            oversized = len(json.dumps(payload) if where != "raw" else payload) > MAX_BODY_BYTES
            assert code == (413 if oversized else 400), (where, str(payload)[:80], code)
            assert isinstance(body(response)["message"], str)
    assert len(h.outbox) == outbox, "no code was sent"
    assert h.passwordless_devices() == devices
    assert h.document(user_id) == before, "no state changed, no attempt counted"

    # The real code still works, first try: nothing above counted as an attempt.
    assert body(h.consume(tokens, device, sent.code))["status"] == "OK"


# --- S12: codes only in the development delivery's log line ----------------------------

DEV_LINE = re.compile(r"st-twofactor \(development\): (?:e-mail|SMS) code for \S+: (\d{6}) ")


TIMESTAMP = re.compile(r'"t": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+[^"]*"')


def test_codes_are_logged_only_by_the_development_delivery(
    make_harness: MakeHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, the SDK's debug output included
    # 4 tries per code: three wrong guesses, then the right code, on one device.
    h = make_harness(capture=False, development=True, secret_keys=(), otp_max_attempts=4)
    tokens = h.signed_up("ada@example.com")
    responses = []

    def post(path: str, payload: Any) -> dict[str, Any]:
        response = h.post(path, tokens, payload)
        responses.append(response)
        answer: dict[str, Any] = body(response)
        return answer

    device = post("/auth/signinup/code", {"email": "ada@example.com"})
    post("/auth/signinup/code/resend", codes_request(device))
    phone_device = post("/auth/signinup/code", {"phoneNumber": PHONE})
    codes = [m.group(1) for r in caplog.records if (m := DEV_LINE.search(r.getMessage()))]
    assert len(codes) == 3, [r.getMessage() for r in caplog.records]
    for code in codes:  # wrong guesses, then the right code
        post("/auth/signinup/code/consume", {**codes_request(device), "userInputCode": wrong(code)})
    post("/auth/signinup/code/consume", {**codes_request(device), "userInputCode": codes[1]})
    post("/auth/signinup/code/consume", {**codes_request(phone_device), "userInputCode": "12x"})
    assert h.protected(tokens) == 200

    # The SDK's JSON debug lines carry a timestamp with microseconds, six digits that can
    # equal a code by chance: the timestamps are taken out before looking for codes.
    messages = [TIMESTAMP.sub("<time>", r.getMessage()) for r in caplog.records]
    assert len(messages) > 20, "the SDK's debug log was captured too"
    for code in codes:
        digits = re.compile(rf"(?<!\d){code}(?!\d)")
        carrying = [m for m in messages if digits.search(m)]
        assert len(carrying) == 1 and DEV_LINE.search(carrying[0]), carrying
        for response in responses:
            assert not digits.search(json_text(body(response)))


# --- decoys' timing --------------------------------------------------------------------


def test_a_decoy_waits_as_long_as_a_recent_real_operation() -> None:
    """A decoy waits one of the latest real durations of the same operation, drawn at
    random; before any was timed (or for another operation) it does not wait, and a real
    operation that failed is not kept."""
    now = [0.0]
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    durations = Durations(timer=lambda: now[0], sleep=sleep)

    async def scenario() -> None:
        await durations.imitate("deliver:otp-phone")  # nothing timed yet
        for took in (1.0, 3.0):
            async with durations.timed("deliver:otp-phone"):
                now[0] += took
        with pytest.raises(RuntimeError):
            async with durations.timed("deliver:otp-phone"):
                now[0] += 100.0
                raise RuntimeError("the provider failed")
        for _ in range(200):
            await durations.imitate("deliver:otp-phone")
        await durations.imitate("deliver:otp-email")  # another operation: never timed

    asyncio.run(scenario())
    assert len(waited) == 200 and set(waited) == {1.0, 3.0}


# --- accounts without an e-mail address ------------------------------------------------


def no_email_provider() -> ProviderInput:
    """A social login that shares no e-mail (the SDK then makes up a fake one)."""

    def override(original: Provider) -> Provider:
        async def exchange_auth_code_for_oauth_tokens(
            redirect_uri_info: RedirectUriInfo, user_context: dict[str, Any]
        ) -> dict[str, Any]:
            return {"access_token": redirect_uri_info.redirect_uri_query_params["code"]}

        async def get_user_info(
            oauth_tokens: dict[str, Any], user_context: dict[str, Any]
        ) -> UserInfo:
            return UserInfo(third_party_user_id=str(oauth_tokens["access_token"]), email=None)

        original.exchange_auth_code_for_oauth_tokens = exchange_auth_code_for_oauth_tokens  # type: ignore[method-assign]
        original.get_user_info = get_user_info  # type: ignore[method-assign]
        return original

    return ProviderInput(
        config=ProviderConfig(
            third_party_id="no-email",
            clients=[ProviderClientConfig(client_id="client", client_secret="secret")],
            authorization_endpoint="https://provider.invalid/authorize",
            token_endpoint="https://provider.invalid/token",
            require_email=False,
        ),
        override=override,
    )


def test_an_account_without_e_mail_cannot_use_e_mailed_codes(make_harness: MakeHarness) -> None:
    h = make_harness(providers=[no_email_provider()])
    response = h.client.post(
        "/auth/signinup",
        json={
            "thirdPartyId": "no-email",
            "redirectURIInfo": {
                "redirectURIOnProviderDashboard": f"{API_DOMAIN}/callback",
                "redirectURIQueryParams": {"code": "user-7"},
            },
        },
        headers=HEADER_MODE,
    )
    assert body(response)["status"] == "OK", body(response)
    tokens = Tokens.of(response)
    fake = body(response)["user"]["emails"][0]
    assert fake.endswith("@stfakeemail.supertokens.com")

    for email in (fake, "someone@example.com"):
        response, sent = h.ask(tokens, email=email)
        answer = body(response)
        assert answer["status"] == "GENERAL_ERROR" and sent is None, answer
    assert "No e-mail address is known" in answer["message"]
    device, sent = h.ask_ok(tokens, phoneNumber=PHONE)  # another factor is available
    assert body(h.consume(tokens, device, sent.code))["status"] == "OK"


# --- the stored state ------------------------------------------------------------------


def test_pending_codes_round_trip_and_old_documents_still_load() -> None:
    state = TwoFactorState(
        email="ada@example.com",
        otp_pending={
            "abc": PendingCode("otp-email", "ada@example.com", 1.5, 2, "handle-1", ["v1.a.b"]),
            "def": PendingCode("otp-phone", PHONE, 2.0),
            "ghi": PendingCode("otp-phone", OTHER_PHONE, 3.0, 0, "handle-2", [], True),
        },
    )
    document = json.loads(json_text(state.to_dict()))
    assert TwoFactorState.from_dict(document) == state
    assert TwoFactorState.from_dict({"email": "a@b.c"}).otp_pending == {}  # older documents
    minimal = {"otp_pending": {"abc": {"factor": "otp-email", "contact": "a@b.c"}}}
    assert TwoFactorState.from_dict(minimal).otp_pending == {
        "abc": PendingCode("otp-email", "a@b.c", 0.0, 0, None)  # created at 0: expired
    }
    state.reset()
    assert state.otp_pending == {}


@pytest.mark.parametrize(
    "document",
    [
        {"otp_pending": []},
        {"otp_pending": {"abc": "otp-email"}},
        {"otp_pending": {"abc": {"contact": "a@b.c"}}},
        {"otp_pending": {"abc": {"factor": "otp-email", "contact": 5}}},
        {"otp_pending": {"abc": {"factor": "otp-email", "contact": "a", "failures": "1"}}},
        {"otp_pending": {"abc": {"factor": "otp-email", "contact": "a", "created_at": "now"}}},
        {"otp_pending": {"abc": {"factor": "otp-email", "contact": "a", "session_handle": 1}}},
        {"otp_pending": {"abc": {"factor": "otp-email", "contact": "a", "codes": 1}}},
        {"otp_pending": {"abc": {"factor": "otp-email", "contact": "a", "codes": [1]}}},
        {"otp_pending": {"abc": {"factor": "otp-email", "contact": "a", "decoy": "yes"}}},
    ],
)
def test_garbage_pending_codes_are_refused(document: object) -> None:
    with pytest.raises(MalformedDataError):
        TwoFactorState.from_dict(document)
