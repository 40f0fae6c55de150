"""Attacks on the security-key factor (issue 12), over HTTP as an attacker would.

Each is refused, and the state that matters is unchanged: the user's keys (with their
sign counts), and the session's 2FA claim. A refused answer is still counted against the
factor (the failure rule); an answer that does not verify leaves no other trace (its
challenge is not used up: only an answer that could be accepted needs to be).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from st_twofactor import events
from st_twofactor.http.routes import WEBAUTHN_ROUTES
from st_twofactor.testing import reset_supertokens
from st_twofactor.testing.webauthn import SoftwareAuthenticator

from ..helpers.attacks import HOSTILE_BODIES
from ..helpers.cose_keys import UNUSABLE_KEYS
from ..helpers.race import race
from ..helpers.twofactor_app import Harness, Tokens, make_harness, user_id_of
from ..helpers.webauthn_http import (
    AUTHENTICATE_OPTIONS,
    FACTORS,
    ORIGIN,
    REGISTER,
    assertion,
    authenticate,
    register,
    register_options,
    send,
)

REFUSED = "INVALID_CREDENTIAL_ERROR"


@pytest.fixture
def h(devcore_app: str) -> Iterator[Harness]:
    yield make_harness(devcore_app, factors=FACTORS)
    reset_supertokens()


def with_key(h: Harness, email: str, **options: Any) -> tuple[SoftwareAuthenticator, str]:
    """A user with one security key; the key and the user's id."""
    tokens = h.signed_up(email)
    key = SoftwareAuthenticator(**options)
    assert register(h, tokens, key, "key").json()["status"] == "OK"
    return key, user_id_of(tokens)


def keys_of(h: Harness, user_id: str) -> list[dict[str, Any]]:
    return list(h.document(user_id)["webauthn_credentials"])


def assert_refused(h: Harness, tokens: Tokens, response: Any) -> None:
    assert response.status_code == 200, response.text
    assert response.json()["status"] == REFUSED, response.json()
    assert h.protected(tokens) == 403


def test_a_replayed_assertion_is_refused(h: Harness) -> None:
    """The challenge is single use: the same answer sent again (with no new options, or
    after new options were asked for) is refused and changes no key. The key is a passkey
    without a sign count, so only the single-use challenge stops the replay."""
    key, user_id = with_key(h, "replay@example.com", counts=False)
    first = h.signed_in("replay@example.com")
    answer = assertion(h, first, key)
    assert send(h, first, answer).json() == {"status": "OK"}
    after = keys_of(h, user_id)
    other = h.signed_in("replay@example.com")
    assert send(h, first, answer).json()["status"] == REFUSED  # its challenge is used up
    assert_refused(h, other, send(h, other, answer))  # another session: no challenge
    h.get(AUTHENTICATE_OPTIONS, other)  # a new challenge: the old answer does not sign it
    assert_refused(h, other, send(h, other, answer))
    assert keys_of(h, user_id) == after


def test_one_assertion_sent_twice_at_once_completes_one_session(h: Harness) -> None:
    """Two concurrent requests with the same answer: the challenge is taken in the update
    that checks it, so one succeeds at most (a passkey without a sign count, as above)."""
    key, _ = with_key(h, "race@example.com", counts=False)
    tokens = h.signed_in("race@example.com")
    answer = assertion(h, tokens, key)
    results = race(4, lambda _: str(send(h, tokens, answer).json()["status"]))
    assert results.count("OK") == 1, results


def test_an_assertion_of_another_users_key_is_refused(h: Harness) -> None:
    """Mallory holds a key of her own account; an assertion by it (a real signature over
    Bob's challenge) does not complete Bob's 2FA."""
    _, bob = with_key(h, "bob@example.com")
    mallory_key, mallory = with_key(h, "mallory@example.com")
    bob_session = h.signed_in("bob@example.com")
    before = keys_of(h, bob), keys_of(h, mallory)
    options = h.get(AUTHENTICATE_OPTIONS, bob_session).json()["options"]
    forged = mallory_key.assertion(
        options, origin=ORIGIN, credential_id=mallory_key.credential_ids[0]
    )
    assert_refused(h, bob_session, send(h, bob_session, forged))
    assert (keys_of(h, bob), keys_of(h, mallory)) == before


def test_a_credential_id_that_is_not_the_users_is_refused(h: Harness) -> None:
    """A key the user never registered (made for this RP, but never added), and a known
    key id with another key's signature: both refused."""
    key, user_id = with_key(h, "stranger@example.com")
    tokens = h.signed_in("stranger@example.com")
    before = keys_of(h, user_id)
    stranger = SoftwareAuthenticator()
    unregistered = stranger.register(
        {
            "rp": {"id": "localhost"},
            "user": {"id": "AAAA"},
            "challenge": "AAAA",
            "excludeCredentials": [],
        },
        origin=ORIGIN,
    )
    answer = stranger.assertion(
        h.get(AUTHENTICATE_OPTIONS, tokens).json()["options"],
        origin=ORIGIN,
        credential_id=unregistered["id"],
    )
    assert_refused(h, tokens, send(h, tokens, answer))
    # The user's own key id, signed by the stranger's key.
    answer = assertion(h, tokens, stranger, credential_id=unregistered["id"])
    answer["id"] = answer["rawId"] = key.credential_ids[0]
    assert_refused(h, tokens, send(h, tokens, answer))
    assert keys_of(h, user_id) == before


def test_an_assertion_from_a_session_that_did_not_ask_is_refused(h: Harness) -> None:
    """Challenges are bound to the session: a second session of the same user cannot
    answer the first session's challenge, and does not use it up either."""
    key, user_id = with_key(h, "bound@example.com")
    asking = h.signed_in("bound@example.com")
    other = h.signed_in("bound@example.com")
    answer = assertion(h, asking, key)
    before = keys_of(h, user_id)
    assert_refused(h, other, send(h, other, answer))
    assert keys_of(h, user_id) == before
    # The session that asked can still use its challenge.
    assert send(h, asking, answer).json() == {"status": "OK"}
    assert h.protected(other) == 403


@pytest.mark.parametrize(
    "knobs",
    [
        {"origin": "http://evil.localhost"},
        {"origin": "https://localhost"},
        {"cross_origin": True},
        {"rp_id": "evil.example"},
        {"client_type": "webauthn.create"},
        {"user_present": False},
        {"bad_signature": True},
    ],
    ids=[
        "wrong-origin",
        "wrong-scheme",
        "cross-origin-frame",
        "wrong-rp-id",
        "wrong-type",
        "no-user-presence",
        "bad-signature",
    ],
)
def test_a_tampered_assertion_is_refused(h: Harness, knobs: dict[str, Any]) -> None:
    key, user_id = with_key(h, "tamper@example.com")
    tokens = h.signed_in("tamper@example.com")
    before = keys_of(h, user_id)
    answered = h.document(user_id)["webauthn_challenges"]
    options = h.get(AUTHENTICATE_OPTIONS, tokens).json()["options"]
    tampered = key.assertion(options, **{"origin": ORIGIN, **knobs})
    assert_refused(h, tokens, send(h, tokens, tampered))
    assert keys_of(h, user_id) == before
    assert h.document(user_id)["webauthn_challenges"] == answered  # no trace but the count
    # The owner's right answer to the same challenge still gets in.
    assert send(h, tokens, key.assertion(options, origin=ORIGIN)).json() == {"status": "OK"}


def test_a_lowered_sign_count_is_refused_and_reported(h: Harness) -> None:
    """A signature that verifies but a sign count not above the stored one (a cloned
    key) is refused, the stored count stays, and SignCountRegressed is emitted."""
    key, user_id = with_key(h, "clone@example.com")
    first = h.signed_in("clone@example.com")
    assert authenticate(h, first, key, sign_count=7).json() == {"status": "OK"}
    for count in (7, 3, 0):
        session = h.signed_in("clone@example.com")
        assert_refused(h, session, authenticate(h, session, key, sign_count=count))
    assert [k["sign_count"] for k in keys_of(h, user_id)] == [7]
    reported = [e for e in h.seen if isinstance(e, events.SignCountRegressed)]
    assert [(e.user_id, e.device_name, e.factor) for e in reported] == [
        (user_id, "key", "webauthn")
    ] * 3


def test_registration_answers_are_checked_too(h: Harness) -> None:
    """A registration answer from another origin or for another RP ID, or replayed,
    adds no key."""
    tokens = h.signed_up("reg@example.com")
    user_id = user_id_of(tokens)
    key = SoftwareAuthenticator()
    for knobs in ({"origin": "http://evil.localhost"}, {"rp_id": "evil.example"}):
        options = register_options(h, tokens).json()["options"]
        credential = key.register(options, **{"origin": ORIGIN, **knobs})
        answer = h.post(REGISTER, tokens, {"credential": credential}).json()
        assert answer["status"] == REFUSED, knobs
    options = register_options(h, tokens).json()["options"]
    credential = key.register(options, origin=ORIGIN, ignore_exclude=True)
    assert h.post(REGISTER, tokens, {"credential": credential}).json()["status"] == "OK"
    before = keys_of(h, user_id)
    replayed = h.post(REGISTER, tokens, {"credential": credential, "deviceName": "again"})
    assert replayed.json()["status"] == REFUSED
    assert keys_of(h, user_id) == before


@pytest.mark.parametrize(
    "make_key", [make for _, make in UNUSABLE_KEYS], ids=[name for name, _ in UNUSABLE_KEYS]
)
def test_a_key_reporting_an_unusable_public_key_is_not_added(
    h: Harness, make_key: Callable[[], dict[int, Any] | bytes]
) -> None:
    """An authenticator (broken or hostile) that reports a public key no signature can be
    checked with, or one with signatures anyone could forge, is refused like a bad
    attestation: nothing stored, the failure counted and reported with its reason. A
    real key is then added as usual."""
    tokens = h.signed_up("odd-key@example.com")
    user_id = user_id_of(tokens)
    key = SoftwareAuthenticator()
    refused = register(h, tokens, key, "odd", cose_key=make_key())
    assert refused.status_code == 200, refused.text
    assert refused.json()["status"] == REFUSED, refused.json()
    assert h.state(user_id).webauthn_credentials == []
    assert h.protected(tokens) == 403
    failed = [e for e in h.seen if isinstance(e, events.VerificationFailed)]
    assert [(e.factor, e.reason) for e in failed] == [("webauthn", "unusable_key")]
    assert register(h, tokens, key, "real").json()["status"] == "OK"
    assert [k.name for k in h.state(user_id).webauthn_credentials] == ["real"]
    assert authenticate(h, h.signed_in("odd-key@example.com"), key).json() == {"status": "OK"}


def test_answers_that_do_not_verify_cannot_fill_the_record(h: Harness) -> None:
    """Someone with the password alone sends many answers that do not verify, each to a
    fresh challenge, before and during the lockout they cause: nothing is recorded, so
    once the owner is past the lockout their key gets in (the record of answered
    challenges holds only answers that verified)."""
    key, user_id = with_key(h, "crowded@example.com")
    before = h.document(user_id)["webauthn_challenges"]
    mallory = h.signed_in("crowded@example.com")
    for _ in range(20):
        options = h.get(AUTHENTICATE_OPTIONS, mallory).json()["options"]
        junk = key.assertion(options, origin=ORIGIN, bad_signature=True)  # no valid signature
        assert send(h, mallory, junk).json()["status"] in (REFUSED, "LIMIT_REACHED_ERROR")
    assert h.document(user_id)["webauthn_challenges"] == before
    h.clock.advance(901)  # the lockout ends
    owner = h.signed_in("crowded@example.com")
    assert authenticate(h, owner, key).json() == {"status": "OK"}


def test_a_challenge_expires(h: Harness) -> None:
    key, _ = with_key(h, "late@example.com")
    tokens = h.signed_in("late@example.com")
    answer = assertion(h, tokens, key)
    h.clock.advance(301)
    assert_refused(h, tokens, send(h, tokens, answer))


def test_asking_for_options_stores_nothing(h: Harness) -> None:
    """Asking for options again and again leaves the state as it was (the challenges are
    signed, not stored), and every one of them can still be answered once."""
    key, user_id = with_key(h, "many@example.com", counts=False)
    tokens = h.signed_in("many@example.com")
    before = h.document(user_id)
    asked = [h.get(AUTHENTICATE_OPTIONS, tokens).json()["options"] for _ in range(20)]
    assert len({o["challenge"] for o in asked}) == 20
    assert h.document(user_id) == before
    assert send(h, tokens, key.assertion(asked[0], origin=ORIGIN)).json() == {"status": "OK"}
    assert send(h, tokens, key.assertion(asked[-1], origin=ORIGIN)).json() == {"status": "OK"}
    assert send(h, tokens, key.assertion(asked[0], origin=ORIGIN)).json()["status"] == REFUSED


def test_answered_challenges_stay_few(h: Harness) -> None:
    """The state records at most MAX_ANSWERED answered challenges: one answer more within
    a challenge's lifetime is refused (forgetting one would let it be replayed); once the
    oldest expired, answers are accepted again and the record shrinks."""
    from st_twofactor.factors.webauthn.flows import CLOCK_MARGIN, MAX_ANSWERED

    key, user_id = with_key(h, "busy@example.com", counts=False)
    tokens = h.signed_in("busy@example.com")
    for _ in range(MAX_ANSWERED - 1):  # the registration's challenge is the first one
        assert authenticate(h, tokens, key).json() == {"status": "OK"}
    assert len(h.state(user_id).webauthn_challenges) == MAX_ANSWERED
    options = h.get(AUTHENTICATE_OPTIONS, tokens).json()["options"]
    assert send(h, tokens, key.assertion(options, origin=ORIGIN)).json()["status"] == REFUSED
    assert len(h.state(user_id).webauthn_challenges) == MAX_ANSWERED
    h.clock.advance(300 + CLOCK_MARGIN + 1)
    assert authenticate(h, tokens, key).json() == {"status": "OK"}
    assert len(h.state(user_id).webauthn_challenges) == 1


def test_a_challenge_signed_with_another_key_is_refused(devcore_app: str) -> None:
    """A challenge made by an app with other secret keys, or made up by the client, is
    refused; one made before a key rotation (the old key still listed) still works."""
    from st_twofactor.stores import InMemoryStore

    store = InMemoryStore()
    first = make_harness(devcore_app, factors=FACTORS, store=store, secret_keys=["k" * 32])
    key = SoftwareAuthenticator(counts=False)
    tokens = first.signed_up("rotate@example.com")
    assert register(first, tokens, key, "key").json()["status"] == "OK"
    again = first.signed_in("rotate@example.com")
    options = first.get(AUTHENTICATE_OPTIONS, again).json()["options"]
    answer = key.assertion(options, origin=ORIGIN)
    reset_supertokens()
    try:
        other = make_harness(devcore_app, factors=FACTORS, store=store, secret_keys=["x" * 32])
        assert_refused(other, again, send(other, again, answer))
        made_up = key.assertion(options, origin=ORIGIN, challenge="A" * 78)
        assert_refused(other, again, send(other, again, made_up))
        reset_supertokens()
        rotated = make_harness(
            devcore_app, factors=FACTORS, store=store, secret_keys=["n" * 32, "k" * 32]
        )
        fresh = rotated.signed_in("rotate@example.com")
        fresh_options = rotated.get(AUTHENTICATE_OPTIONS, fresh).json()["options"]
        # The old app's challenge was not used up by the refusals above (they could not
        # open it), so the rotated app accepts it once.
        assert send(rotated, again, answer).json() == {"status": "OK"}
        assert send(rotated, fresh, key.assertion(fresh_options, origin=ORIGIN)).json() == {
            "status": "OK"
        }
    finally:
        reset_supertokens()


WEBAUTHN_HOSTILE: list[tuple[str, bytes]] = [
    *HOSTILE_BODIES,
    ("credential not an object", b'{"credential": "abc", "deviceName": "k"}'),
    ("deep credential", b'{"credential": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
    ("huge credential", b'{"credential": {"id": "' + b"A" * 1_000_000 + b'"}}'),
    ("nul name", b'{"credential": {}, "deviceName": "a\\u0000b"}'),
]


@pytest.mark.slow
def test_hostile_bodies_on_the_key_routes_are_refused_without_500(h: Harness) -> None:
    """S13 on the security-key routes: broken JSON, invalid UTF-8, deep nesting, a 1 MB
    body, wrong types, from a password-only session and a completed one: a 4xx or a
    refusal status, never a 5xx or an OK, and no key added or changed."""
    key, user_id = with_key(h, "hostile-key@example.com")
    fresh = h.signed_in("hostile-key@example.com")
    assert authenticate(h, fresh, key).json()["status"] == "OK"
    password_only = h.signed_in("hostile-key@example.com")
    before = keys_of(h, user_id)
    posts = [f"/auth{path}" for method, path, _ in WEBAUTHN_ROUTES if method == "post"]
    for tokens in (password_only, fresh):
        for name, raw in WEBAUTHN_HOSTILE:
            for path in posts:
                h.get(AUTHENTICATE_OPTIONS, tokens)
                response = h.client.post(
                    path,
                    content=raw,
                    headers={**tokens.auth(), "Content-Type": "application/json"},
                )
                where = (name, path, response.status_code, response.text[:200])
                assert response.status_code < 500, where
                if response.status_code == 200 and path.endswith("/remove"):
                    # a well-formed removal of a key the user does not have
                    assert response.json()["didDeviceExist"] is False, where
                elif response.status_code == 200:
                    assert response.json().get("status") != "OK", where
                assert keys_of(h, user_id) == before, where
