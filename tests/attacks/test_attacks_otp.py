"""The attack matrix, continued: guessing where e-mailed and texted codes go (S6, S15).

An attacker with the password holds a session whose 2FA is pending; the frontend shows
the pinned phone number masked. Asking for codes to numbers (or addresses) of their
choosing must not tell them which one is pinned: a wrong destination is answered exactly
like the right one (a device that works like a real one, to which nothing was sent), and
every guess counts toward the send quota, so guessing is bounded. Each test drives the
real HTTP API (FastAPI app, passwordless override) against the development core.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from st_twofactor.kernel.send_quota import DAY, SendQuota
from st_twofactor.testing import reset_supertokens

from ..helpers.twofactor_app import Harness, Tokens, make_harness

PHONE = "+14155550100"
OTHER_PHONE = "+14155550123"
DEFAULT_QUOTA = SendQuota()
ID_FORMATS = {
    "deviceId": re.compile(r"[A-Za-z0-9+/]{43}="),
    "preAuthSessionId": re.compile(r"[A-Za-z0-9_-]{43}"),
}
"""The formats of the core's ids: the ids are random, their format is all one can compare."""


@pytest.fixture
def make(devcore_app: str) -> Iterator[Callable[..., Harness]]:
    yield lambda **options: make_harness(devcore_app, **options)
    reset_supertokens()


def status_of(response: Any) -> str:
    return str(response.json().get("status"))


def seen_by_client(response: Any) -> tuple[int, dict[str, Any], list[str]]:
    """All an attacker can compare between two answers: the HTTP status, the body with
    each id replaced by whether it has the core's format, and the headers' names."""
    answer = response.json()
    for name, id_format in ID_FORMATS.items():
        if name in answer and id_format.fullmatch(answer[name]):
            answer[name] = "<core format>"
    headers = sorted(name.lower() for name in response.headers if name.lower() != "date")
    return response.status_code, answer, headers


def ids(device: dict[str, Any]) -> dict[str, Any]:
    return {"preAuthSessionId": device["preAuthSessionId"], "deviceId": device["deviceId"]}


def pinned(h: Harness, account: str, **destination: str) -> Tokens:
    """Sign ``account`` up and pin ``destination`` for codes (its first use); then a new
    session of the user, whose 2FA is pending: the attacker's, who has the password."""
    owner = h.signed_up(account)
    asked, sent = h.ask_code(owner, **destination)
    assert sent is not None, asked.json()
    assert status_of(h.consume(owner, asked.json(), sent.code)) == "OK"
    attacker = h.signed_in(account)
    assert h.protected(attacker) == 403
    return attacker


def play(h: Harness, sessions: list[tuple[Tokens, dict[str, str]]]) -> list[list[Any]]:
    """The same requests, in step, from each (session, destination): ask for a code, ask
    again at once, resend, type wrong codes until the device is used up, ask again, type
    wrong codes until the factor locks, ask while locked. Each step must answer all of
    them alike; what each client saw, in order."""
    seen: list[list[Any]] = [[] for _ in sessions]
    devices: list[dict[str, Any]] = [{} for _ in sessions]
    wrong_code = "000000"

    def step(request: Callable[[int, Tokens, dict[str, str]], Any]) -> None:
        nonlocal wrong_code
        for i, (tokens, destination) in enumerate(sessions):
            response = request(i, tokens, destination)
            seen[i].append(seen_by_client(response))
        # Compared at each step, so a difference is reported where it first shows.
        first = seen[0][-1]
        assert all(s[-1] == first for s in seen), (request.__name__, [s[-1] for s in seen])
        # A code that was really sent is never the "wrong" one typed next.
        while any(s.code == wrong_code for s in h.outbox):
            wrong_code = f"{int(wrong_code) + 1:06d}"

    def ask(i: int, tokens: Tokens, destination: dict[str, str]) -> Any:
        response, _ = h.ask_code(tokens, **destination)
        if status_of(response) == "OK":
            devices[i] = response.json()
        return response

    def resend(i: int, tokens: Tokens, destination: dict[str, str]) -> Any:
        return h.post("/auth/signinup/code/resend", tokens, ids(devices[i]))

    def consume(i: int, tokens: Tokens, destination: dict[str, str]) -> Any:
        return h.consume(tokens, devices[i], wrong_code)

    step(ask)
    step(ask)  # within the cooldown
    h.clock.advance(31)
    step(resend)
    for _ in range(3):  # the device's 3 tries
        step(consume)
    h.clock.advance(31)
    step(ask)
    for _ in range(2):  # the factor's 4th and 5th failures: locked
        step(consume)
    step(ask)
    h.clock.advance(901)
    step(ask)
    return seen


def test_a_guessed_phone_number_is_answered_like_the_pinned_one(
    make: Callable[..., Harness],
) -> None:
    """S6: two accounts with a pinned phone number; on one the attacker guesses a wrong
    number, on the other asks for the pinned one. Asking, resending and typing codes
    answer the same for both, step by step (quota refusals and lockout included); nothing
    is ever sent to the wrong number."""
    h = make(factors=("otp-phone", "recovery-code"), send_quota=DEFAULT_QUOTA)
    guesser = pinned(h, "guessed@example.com", phoneNumber=PHONE)
    h.clock.advance(DAY)  # the pinning's send is out of every quota window
    knower = pinned(h, "known@example.com", phoneNumber=OTHER_PHONE)
    h.clock.advance(DAY)
    sent_before = len(h.outbox)

    wrong, right = play(
        h, [(guesser, {"phoneNumber": "+14155550199"}), (knower, {"phoneNumber": OTHER_PHONE})]
    )

    assert wrong == right
    statuses = [answer["status"] for _, answer, _ in right]
    assert statuses == [
        "OK",
        "GENERAL_ERROR",  # the cooldown
        "OK",  # the resend
        "INCORRECT_USER_INPUT_CODE_ERROR",
        "INCORRECT_USER_INPUT_CODE_ERROR",
        "RESTART_FLOW_ERROR",
        "OK",
        "INCORRECT_USER_INPUT_CODE_ERROR",
        "GENERAL_ERROR",  # the factor's 5th failure locks it
        "GENERAL_ERROR",  # locked: nothing is sent
        "OK",
    ]
    assert right[0][1]["deviceId"] == right[0][1]["preAuthSessionId"] == "<core format>"
    assert [s.to for s in h.outbox[sent_before:]] == [OTHER_PHONE] * 4, "nothing to the guess"


def test_a_guessed_e_mail_address_is_answered_like_the_pinned_one(
    make: Callable[..., Harness],
) -> None:
    """S6, the same for e-mailed codes: a wrong address answers like the pinned one."""
    h = make(factors=("otp-email", "recovery-code"), send_quota=DEFAULT_QUOTA)
    guesser = pinned(h, "guessed-mail@example.com", email="guessed-mail@example.com")
    h.clock.advance(DAY)
    knower = pinned(h, "known-mail@example.com", email="known-mail@example.com")
    h.clock.advance(DAY)
    sent_before = len(h.outbox)

    wrong, right = play(
        h,
        [
            (guesser, {"email": "attacker@evil.example"}),
            (knower, {"email": "known-mail@example.com"}),
        ],
    )

    assert wrong == right
    assert right[0][1]["status"] == "OK" and right[-1][1]["status"] == "OK"
    assert [s.to for s in h.outbox[sent_before:]] == ["known-mail@example.com"] * 4


def test_an_address_of_another_account_answers_like_the_accounts_own(
    make: Callable[..., Harness],
) -> None:
    """S6 before an address is pinned: codes go only to the account's own address, and
    any other is answered the same, both when the user may pin one (no factor yet) and
    when that needs a recent 2FA (the same refusal for both)."""
    h = make(send_quota=DEFAULT_QUOTA)
    newcomer = h.signed_up("newcomer@example.com")  # no factor: may pin an address
    other = h.signed_up("other-newcomer@example.com")
    own, sent = h.ask_code(other, email="other-newcomer@example.com")
    guess, nothing = h.ask_code(newcomer, email="victim@example.com")
    assert sent is not None and nothing is None
    assert seen_by_client(guess) == seen_by_client(own)
    assert status_of(guess) == "OK"

    h.clock.advance(DAY)
    with_totp = h.signed_up("totp-user@example.com")
    h.enrol_totp(with_totp)
    h.clock.advance(DAY)  # older than the step-up window: pinning needs a new 2FA
    attacker = h.signed_in("totp-user@example.com")
    own, sent = h.ask_code(attacker, email="totp-user@example.com")
    guess, nothing = h.ask_code(attacker, email="victim@example.com")
    assert sent is None and nothing is None
    assert seen_by_client(guess) == seen_by_client(own)
    assert "second factor" in guess.json()["message"]
    assert all(s.to != "victim@example.com" for s in h.outbox)


def test_guessing_the_pinned_number_is_cut_off_by_the_send_quota(
    make: Callable[..., Harness],
) -> None:
    """S15: 200 guesses in a row: one is answered as sent, the rest are refused by the
    quota; waiting out every refusal for a whole day gets at most ``per_day`` guesses
    answered. Nothing is sent to any guess."""
    h = make(factors=("otp-phone", "recovery-code"), send_quota=DEFAULT_QUOTA)
    attacker = pinned(h, "quota-guess@example.com", phoneNumber=PHONE)
    h.clock.advance(DAY)
    sent_before = len(h.outbox)
    guesses = iter(f"+1415556{n:04d}" for n in range(10_000))

    answers: Counter[str] = Counter()
    started = time.perf_counter()
    for _ in range(200):
        response, sent = h.ask_code(attacker, phoneNumber=next(guesses))
        answers[status_of(response)] += 1
        assert sent is None
        if status_of(response) == "GENERAL_ERROR":
            assert "Too many codes were sent" in response.json()["message"]
    elapsed = time.perf_counter() - started
    assert answers == {"OK": 1, "GENERAL_ERROR": 199}, (answers, elapsed)

    through = 1
    day_ends = h.clock.now + DAY - 1
    while h.clock.now < day_ends:
        response, sent = h.ask_code(attacker, phoneNumber=next(guesses))
        assert sent is None
        if status_of(response) == "OK":
            through += 1
        else:
            h.clock.advance(response.json()["retryAfterMs"] / 1000)
    assert through == DEFAULT_QUOTA.per_day
    assert len(h.outbox) == sent_before, "nothing was sent to a guess"


def test_a_guess_takes_as_long_as_a_real_send(make: Callable[..., Harness]) -> None:
    """S6: a real code waits for the SMS provider; a guess is answered no sooner, so the
    answer's timing does not tell a wrong number either (asking and resending)."""
    delay = 0.3
    h = make(factors=("otp-phone", "recovery-code"), delivery_delay=delay)
    owner = h.signed_up("slow-sms@example.com")
    asked, sent = h.ask_code(owner, phoneNumber=PHONE)
    assert sent is not None
    assert status_of(h.post("/auth/signinup/code/resend", owner, ids(asked.json()))) == "OK"
    assert status_of(h.consume(owner, asked.json(), h.outbox[-1].code)) == "OK"
    attacker = h.signed_in("slow-sms@example.com")

    started = time.perf_counter()
    guess, nothing = h.ask_code(attacker, phoneNumber=OTHER_PHONE)
    took = time.perf_counter() - started
    assert status_of(guess) == "OK" and nothing is None
    assert took >= delay * 0.8, took

    started = time.perf_counter()
    resent = h.post("/auth/signinup/code/resend", attacker, ids(guess.json()))
    took = time.perf_counter() - started
    assert status_of(resent) == "OK" and len(h.outbox) == 2
    assert took >= delay * 0.8, took
