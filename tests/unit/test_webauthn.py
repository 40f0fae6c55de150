"""The WebAuthn ceremonies (st_twofactor.factors.webauthn) against a software authenticator."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from typing import Any

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from st_twofactor.errors import ConfigurationError, MalformedDataError
from st_twofactor.factors.webauthn.ceremonies import (
    CHALLENGE_BYTES,
    RefusalReason,
    authentication_options,
    registration_options,
    user_handle,
    verify_authentication,
    verify_registration,
)
from st_twofactor.factors.webauthn.challenge import ChallengeSigner, challenge_signed
from st_twofactor.factors.webauthn.policy import WebAuthnPolicy
from st_twofactor.factors.webauthn.records import PendingChallenge, WebAuthnCredential
from st_twofactor.testing.webauthn import (
    Algorithm,
    ExcludedCredentialError,
    SoftwareAuthenticator,
    b64url,
    unb64url,
)

from ..helpers.cose_keys import ED25519_IDENTITY, UNUSABLE_KEYS

ORIGIN = "https://app.example.com"
POLICY = WebAuthnPolicy(rp_id="example.com", rp_name="Example", origins=(ORIGIN,))
SESSION = "session-handle-1"
T0 = 1_800_000_000.0


def register(
    authenticator: SoftwareAuthenticator,
    *,
    user_id: str = "user-1",
    name: str = "key",
    existing: tuple[WebAuthnCredential, ...] = (),
    policy: WebAuthnPolicy = POLICY,
    now: float = T0,
) -> WebAuthnCredential:
    options, pending = registration_options(
        policy, user_id, f"{user_id}@example.com", existing, now, SESSION
    )
    answer = authenticator.register(options, origin=policy.origins[0])
    result = verify_registration(policy, pending, answer, SESSION, now + 1, name, existing)
    assert isinstance(result, WebAuthnCredential), result
    return result


def challenge_for(
    credentials: tuple[WebAuthnCredential, ...] | list[WebAuthnCredential],
    *,
    policy: WebAuthnPolicy = POLICY,
    now: float = T0,
    session: str = SESSION,
) -> tuple[dict[str, Any], PendingChallenge]:
    return authentication_options(policy, credentials, now, session)


# --- round trips ---------------------------------------------------------------------------


def test_register_then_authenticate_round_trip() -> None:
    authenticator = SoftwareAuthenticator(transports=("usb", "nfc"))
    options, pending = registration_options(POLICY, "user-1", "ada@example.com", [], T0, SESSION)
    assert options["rp"] == {"id": "example.com", "name": "Example"}
    assert options["user"]["name"] == "ada@example.com"
    assert unb64url(options["user"]["id"]) == user_handle("user-1")
    assert len(unb64url(options["challenge"])) == CHALLENGE_BYTES
    assert options["challenge"] == pending.challenge
    assert options["attestation"] == "none"
    assert options["authenticatorSelection"]["residentKey"] == "preferred"
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    assert options["timeout"] == 300_000
    assert options["excludeCredentials"] == []
    assert {"type": "public-key", "alg": -7} in options["pubKeyCredParams"]
    assert (pending.purpose, pending.session_handle, pending.expires_at) == (
        "register",
        SESSION,
        T0 + 300,
    )

    answer = authenticator.register(options, origin=ORIGIN)
    credential = verify_registration(POLICY, pending, answer, SESSION, T0 + 5, "YubiKey", [])
    assert isinstance(credential, WebAuthnCredential)
    assert credential.credential_id == authenticator.credential_ids[0]
    assert credential.name == "YubiKey"
    assert credential.sign_count == 0
    assert credential.transports == ("usb", "nfc")
    assert (credential.created_at, credential.last_used_at) == (T0 + 5, None)

    options, pending = challenge_for([credential], now=T0 + 60)
    assert options["rpId"] == "example.com"
    assert options["userVerification"] == "preferred"
    assert options["allowCredentials"] == [
        {"id": credential.credential_id, "type": "public-key", "transports": ["usb", "nfc"]}
    ]
    assert pending.purpose == "authenticate"
    answer = authenticator.assertion(options, origin=ORIGIN)
    used = verify_authentication(POLICY, pending, answer, [credential], SESSION, T0 + 61)
    assert used == WebAuthnCredential(
        credential.credential_id,
        credential.public_key,
        1,
        ("usb", "nfc"),
        "YubiKey",
        T0 + 5,
        T0 + 61,
    )


def test_a_synced_passkey_works_as_a_second_factor() -> None:
    """A passkey in a platform account: discoverable, backed up, never counting."""
    passkey = SoftwareAuthenticator(counts=False, synced=True, transports=("internal", "hybrid"))
    credential = register(passkey, name="Phone passkey")
    assert (credential.sign_count, credential.transports) == (0, ("internal", "hybrid"))
    for minute in (1, 2):
        options, pending = challenge_for([credential], now=T0 + 60 * minute)
        answer = passkey.assertion(options, origin=ORIGIN)
        assert unb64url(answer["response"]["userHandle"]) == user_handle("user-1")
        used = verify_authentication(
            POLICY, pending, answer, [credential], SESSION, T0 + 60 * minute + 1
        )
        assert isinstance(used, WebAuthnCredential)
        assert (used.sign_count, used.last_used_at) == (0, T0 + 60 * minute + 1)
        credential = used


def test_challenges_are_fresh_random_bytes() -> None:
    seen = {registration_options(POLICY, "u", "u", [], T0, SESSION)[1].challenge for _ in range(20)}
    seen |= {challenge_for([_stored_credential()])[1].challenge for _ in range(20)}
    assert len(seen) == 40
    assert all(len(unb64url(c)) == CHALLENGE_BYTES for c in seen)


def test_user_handle_is_stable_per_user_and_not_the_user_id() -> None:
    assert user_handle("user-1") == user_handle("user-1") != user_handle("user-2")
    assert b"user-1" not in user_handle("user-1")
    assert len(user_handle("x" * 500)) == 32


def test_several_named_credentials() -> None:
    usb, phone = SoftwareAuthenticator(), SoftwareAuthenticator(transports=("internal",))
    first = register(usb, name="USB key")
    # The second registration excludes the first credential: the same key cannot enrol twice.
    options, pending = registration_options(POLICY, "user-1", "u", [first], T0, SESSION)
    assert [c["id"] for c in options["excludeCredentials"]] == [first.credential_id]
    with pytest.raises(ExcludedCredentialError):
        usb.register(options, origin=ORIGIN)
    answer = phone.register(options, origin=ORIGIN)
    second = verify_registration(POLICY, pending, answer, SESSION, T0, "Phone", [first])
    assert isinstance(second, WebAuthnCredential)
    assert second.transports == ("internal",)

    credentials = [first, second]
    for authenticator, expected in ((usb, first), (phone, second)):
        options, pending = challenge_for(credentials)
        assert {c["id"] for c in options["allowCredentials"]} == {
            first.credential_id,
            second.credential_id,
        }
        answer = authenticator.assertion(options, origin=ORIGIN)
        used = verify_authentication(POLICY, pending, answer, credentials, SESSION, T0 + 1)
        assert isinstance(used, WebAuthnCredential)
        assert (used.credential_id, used.name, used.sign_count) == (
            expected.credential_id,
            expected.name,
            1,
        )


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("USB key", RefusalReason.DUPLICATE_NAME),
        ("", RefusalReason.INVALID_NAME),
        (" padded", RefusalReason.INVALID_NAME),
        ("x" * 65, RefusalReason.INVALID_NAME),
        ("line\nbreak", RefusalReason.INVALID_NAME),
    ],
)
def test_credential_names_are_checked(name: str, reason: RefusalReason) -> None:
    first = register(SoftwareAuthenticator(), name="USB key")
    options, pending = registration_options(POLICY, "user-1", "u", [first], T0, SESSION)
    answer = SoftwareAuthenticator().register(options, origin=ORIGIN)
    assert verify_registration(POLICY, pending, answer, SESSION, T0, name, [first]) is reason


def test_registering_a_credential_id_twice_is_refused() -> None:
    authenticator = SoftwareAuthenticator()
    first = register(authenticator, name="first")
    options, pending = registration_options(POLICY, "user-1", "u", [first], T0, SESSION)
    # An authenticator that ignores excludeCredentials and reuses the id.
    answer = authenticator.register(
        options, origin=ORIGIN, credential_id=unb64url(first.credential_id), ignore_exclude=True
    )
    result = verify_registration(POLICY, pending, answer, SESSION, T0, "second", [first])
    assert result is RefusalReason.DUPLICATE_CREDENTIAL


def test_a_registration_whose_id_is_not_the_attested_one_is_refused() -> None:
    options, pending = registration_options(POLICY, "user-1", "u", [], T0, SESSION)
    answer = SoftwareAuthenticator().register(options, origin=ORIGIN)
    answer["id"] = answer["rawId"] = b64url(b"\x02" * 32)
    result = verify_registration(POLICY, pending, answer, SESSION, T0, "key", [])
    assert result is RefusalReason.MALFORMED


# --- the security cases of issue 12 --------------------------------------------------------


class PendingSlot:
    """The caller's part: one pending challenge per user, taken (removed) by the update
    that verifies, as the module docstring requires."""

    def __init__(self) -> None:
        self.pending: PendingChallenge | None = None

    def put(self, pending: PendingChallenge) -> None:
        self.pending = pending

    def take(self) -> PendingChallenge | None:
        pending, self.pending = self.pending, None
        return pending


def test_a_replayed_assertion_is_refused() -> None:
    authenticator = SoftwareAuthenticator()
    credential = register(authenticator)
    slot = PendingSlot()
    options, pending = challenge_for([credential])
    slot.put(pending)
    answer = authenticator.assertion(options, origin=ORIGIN)
    used = verify_authentication(POLICY, slot.take(), answer, [credential], SESSION, T0 + 1)
    assert isinstance(used, WebAuthnCredential)
    # The same answer again: its challenge was used up.
    replay = verify_authentication(POLICY, slot.take(), answer, [used], SESSION, T0 + 2)
    assert replay is RefusalReason.NO_CHALLENGE
    # And against a newer challenge it signs the wrong one.
    slot.put(challenge_for([used], now=T0 + 3)[1])
    replay = verify_authentication(POLICY, slot.take(), answer, [used], SESSION, T0 + 4)
    assert replay is RefusalReason.CHALLENGE_MISMATCH


def test_a_replayed_registration_is_refused() -> None:
    slot = PendingSlot()
    options, pending = registration_options(POLICY, "user-1", "u", [], T0, SESSION)
    slot.put(pending)
    answer = SoftwareAuthenticator().register(options, origin=ORIGIN)
    first = verify_registration(POLICY, slot.take(), answer, SESSION, T0, "key", [])
    assert isinstance(first, WebAuthnCredential)
    again = verify_registration(POLICY, slot.take(), answer, SESSION, T0, "other", [first])
    assert again is RefusalReason.NO_CHALLENGE
    slot.put(registration_options(POLICY, "user-1", "u", [first], T0, SESSION)[1])
    again = verify_registration(POLICY, slot.take(), answer, SESSION, T0, "other", [first])
    assert again is RefusalReason.CHALLENGE_MISMATCH


def test_an_assertion_for_another_users_credential_is_refused() -> None:
    alice_key, bob_key = SoftwareAuthenticator(), SoftwareAuthenticator()
    alice = register(alice_key, user_id="alice")
    bob = register(bob_key, user_id="bob")
    options, pending = challenge_for([alice])
    # Bob's authenticator answers Alice's challenge with Bob's (valid, registered) credential.
    answer = bob_key.assertion(options, origin=ORIGIN, credential_id=bob.credential_id)
    assert (
        verify_authentication(POLICY, pending, answer, [alice], SESSION, T0)
        is RefusalReason.UNKNOWN_CREDENTIAL
    )


def test_a_credential_id_that_is_not_the_users_is_refused() -> None:
    authenticator = SoftwareAuthenticator()
    credential = register(authenticator)
    options, pending = challenge_for([credential])
    answer = authenticator.assertion(options, origin=ORIGIN)
    stranger = b64url(b"\x01" * 32)
    answer["id"] = answer["rawId"] = stranger
    assert (
        verify_authentication(POLICY, pending, answer, [credential], SESSION, T0)
        is RefusalReason.UNKNOWN_CREDENTIAL
    )


def test_another_key_claiming_the_users_credential_id_is_refused() -> None:
    alice_key, mallory_key = SoftwareAuthenticator(), SoftwareAuthenticator()
    alice = register(alice_key, user_id="alice")
    mallory = register(mallory_key, user_id="mallory")
    options, pending = challenge_for([alice])
    answer = mallory_key.assertion(options, origin=ORIGIN, credential_id=mallory.credential_id)
    answer["id"] = answer["rawId"] = alice.credential_id
    assert (
        verify_authentication(POLICY, pending, answer, [alice], SESSION, T0)
        is RefusalReason.BAD_SIGNATURE
    )


def test_a_tampered_signature_is_refused() -> None:
    authenticator = SoftwareAuthenticator()
    credential = register(authenticator)
    options, pending = challenge_for([credential])
    answer = authenticator.assertion(options, origin=ORIGIN, bad_signature=True)
    assert (
        verify_authentication(POLICY, pending, answer, [credential], SESSION, T0)
        is RefusalReason.BAD_SIGNATURE
    )


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example", "http://app.example.com", "https://app.example.com:8443"],
)
def test_a_wrong_origin_is_refused(origin: str) -> None:
    authenticator = SoftwareAuthenticator()
    options, pending = registration_options(POLICY, "user-1", "u", [], T0, SESSION)
    answer = authenticator.register(options, origin=origin)
    assert (
        verify_registration(POLICY, pending, answer, SESSION, T0, "key", [])
        is RefusalReason.WRONG_ORIGIN
    )
    credential = register(authenticator)
    options, pending = challenge_for([credential])
    answer = authenticator.assertion(options, origin=origin)
    assert (
        verify_authentication(POLICY, pending, answer, [credential], SESSION, T0)
        is RefusalReason.WRONG_ORIGIN
    )


def test_a_cross_origin_frame_is_refused() -> None:
    authenticator = SoftwareAuthenticator()
    credential = register(authenticator)
    options, pending = challenge_for([credential])
    answer = authenticator.assertion(options, origin=ORIGIN, cross_origin=True)
    assert (
        verify_authentication(POLICY, pending, answer, [credential], SESSION, T0)
        is RefusalReason.WRONG_ORIGIN
    )


@pytest.mark.parametrize("rp_id", ["evil.example", "app.example.com", "example.co"])
def test_a_wrong_rp_id_is_refused(rp_id: str) -> None:
    authenticator = SoftwareAuthenticator()
    options, pending = registration_options(POLICY, "user-1", "u", [], T0, SESSION)
    answer = authenticator.register(options, origin=ORIGIN, rp_id=rp_id)
    assert (
        verify_registration(POLICY, pending, answer, SESSION, T0, "key", [])
        is RefusalReason.WRONG_RP_ID
    )
    credential = register(authenticator)
    options, pending = challenge_for([credential])
    answer = authenticator.assertion(options, origin=ORIGIN, rp_id=rp_id)
    assert (
        verify_authentication(POLICY, pending, answer, [credential], SESSION, T0)
        is RefusalReason.WRONG_RP_ID
    )


def _authenticate(
    authenticator: SoftwareAuthenticator,
    credential: WebAuthnCredential,
    **knobs: Any,
) -> WebAuthnCredential | RefusalReason:
    options, pending = challenge_for([credential])
    answer = authenticator.assertion(options, origin=ORIGIN, **knobs)
    return verify_authentication(POLICY, pending, answer, [credential], SESSION, T0 + 1)


@pytest.mark.parametrize("replayed_count", [0, 3, 5])
def test_a_sign_count_that_does_not_increase_is_refused(replayed_count: int) -> None:
    authenticator = SoftwareAuthenticator()
    credential = register(authenticator)
    used = _authenticate(authenticator, credential, sign_count=5)
    assert isinstance(used, WebAuthnCredential)
    assert used.sign_count == 5
    result = _authenticate(authenticator, used, sign_count=replayed_count)
    assert result is RefusalReason.SIGN_COUNT_REGRESSION
    later = _authenticate(authenticator, used, sign_count=6)
    assert isinstance(later, WebAuthnCredential)
    assert later.sign_count == 6


def test_an_authenticator_that_does_not_count_is_allowed() -> None:
    authenticator = SoftwareAuthenticator(counts=False)
    credential = register(authenticator)
    for _ in range(3):
        used = _authenticate(authenticator, credential)
        assert isinstance(used, WebAuthnCredential)
        assert used.sign_count == 0
        credential = used


def test_a_forged_low_count_is_a_bad_signature_not_a_regression() -> None:
    authenticator = SoftwareAuthenticator()
    credential = register(authenticator)
    used = _authenticate(authenticator, credential, sign_count=5)
    assert isinstance(used, WebAuthnCredential)
    result = _authenticate(authenticator, used, sign_count=1, bad_signature=True)
    assert result is RefusalReason.BAD_SIGNATURE


def test_an_answer_from_another_session_is_refused() -> None:
    authenticator = SoftwareAuthenticator()
    credential = register(authenticator)
    options, pending = challenge_for([credential], session="the-session-that-asked")
    answer = authenticator.assertion(options, origin=ORIGIN)
    result = verify_authentication(POLICY, pending, answer, [credential], "another-session", T0 + 1)
    assert result is RefusalReason.WRONG_SESSION
    options, pending = registration_options(POLICY, "user-1", "u", [], T0, "the-session")
    answer = authenticator.register(options, origin=ORIGIN)
    result = verify_registration(POLICY, pending, answer, "another-session", T0, "key2", [])
    assert result is RefusalReason.WRONG_SESSION


def test_an_expired_challenge_is_refused() -> None:
    authenticator = SoftwareAuthenticator()
    credential = register(authenticator)
    options, pending = challenge_for([credential], now=T0)
    answer = authenticator.assertion(options, origin=ORIGIN)
    assert pending.expires_at == T0 + 300
    assert (
        verify_authentication(POLICY, pending, answer, [credential], SESSION, T0 + 300)
        is RefusalReason.CHALLENGE_EXPIRED
    )
    assert isinstance(
        verify_authentication(POLICY, pending, answer, [credential], SESSION, T0 + 299.9),
        WebAuthnCredential,
    )
    options, pending = registration_options(POLICY, "user-1", "u", [], T0, SESSION)
    answer = authenticator.register(options, origin=ORIGIN)
    assert (
        verify_registration(POLICY, pending, answer, SESSION, T0 + 301, "key", [])
        is RefusalReason.CHALLENGE_EXPIRED
    )


def test_a_challenge_of_the_other_ceremony_is_refused() -> None:
    authenticator = SoftwareAuthenticator()
    credential = register(authenticator)
    options, register_pending = registration_options(POLICY, "user-1", "u", [], T0, SESSION)
    auth_options, auth_pending = challenge_for([credential])
    assertion = authenticator.assertion(auth_options, origin=ORIGIN)
    assert (
        verify_authentication(POLICY, register_pending, assertion, [credential], SESSION, T0)
        is RefusalReason.WRONG_PURPOSE
    )
    answer = SoftwareAuthenticator().register(options, origin=ORIGIN)
    assert (
        verify_registration(POLICY, auth_pending, answer, SESSION, T0, "k", [])
        is RefusalReason.WRONG_PURPOSE
    )
    # An answer whose client data says it is the other ceremony.
    answer = authenticator.assertion(auth_options, origin=ORIGIN, client_type="webauthn.create")
    assert (
        verify_authentication(POLICY, auth_pending, answer, [credential], SESSION, T0)
        is RefusalReason.WRONG_PURPOSE
    )


def test_user_presence_and_verification() -> None:
    authenticator = SoftwareAuthenticator()
    credential = register(authenticator)
    # "preferred": an authenticator that cannot verify the user is accepted.
    assert isinstance(
        _authenticate(authenticator, credential, user_verified=False), WebAuthnCredential
    )
    assert (
        _authenticate(authenticator, credential, user_present=False)
        is RefusalReason.USER_NOT_PRESENT
    )
    strict = WebAuthnPolicy(
        rp_id="example.com", rp_name="Example", origins=(ORIGIN,), user_verification="required"
    )
    options, pending = authentication_options(strict, [credential], T0, SESSION)
    assert options["userVerification"] == "required"
    answer = authenticator.assertion(options, origin=ORIGIN, user_verified=False)
    assert (
        verify_authentication(strict, pending, answer, [credential], SESSION, T0)
        is RefusalReason.USER_NOT_VERIFIED
    )
    options, pending = registration_options(strict, "user-1", "u", [], T0, SESSION)
    answer = SoftwareAuthenticator().register(options, origin=ORIGIN, user_verified=False)
    assert (
        verify_registration(strict, pending, answer, SESSION, T0, "k", [])
        is RefusalReason.USER_NOT_VERIFIED
    )


def test_no_options_for_a_user_without_credentials() -> None:
    with pytest.raises(ConfigurationError):
        authentication_options(POLICY, [], T0, SESSION)
    with pytest.raises(ConfigurationError):
        registration_options(POLICY, "user-1", "u", [], T0, "")


# --- the credential's public key ----------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["ES256", "EdDSA", "RS256"])
def test_each_supported_kind_of_key_registers_and_signs_in(algorithm: Algorithm) -> None:
    """The three kinds of key offered (P-256, Ed25519, RSA 2048) pass the key checks
    and their signatures verify."""
    authenticator = SoftwareAuthenticator(algorithm=algorithm)
    credential = register(authenticator)
    options, pending = challenge_for([credential])
    answer = authenticator.assertion(options, origin=ORIGIN)
    used = verify_authentication(POLICY, pending, answer, [credential], SESSION, T0 + 1)
    assert isinstance(used, WebAuthnCredential) and used.sign_count == 1


def _register_reporting(cose_key: dict[int, Any] | bytes) -> WebAuthnCredential | RefusalReason:
    options, pending = registration_options(POLICY, "user-1", "u@example.com", [], T0, SESSION)
    answer = SoftwareAuthenticator().register(options, origin=ORIGIN, cose_key=cose_key)
    return verify_registration(POLICY, pending, answer, SESSION, T0 + 1, "key", [])


@pytest.mark.parametrize(
    "make_key", [make for _, make in UNUSABLE_KEYS], ids=[name for name, _ in UNUSABLE_KEYS]
)
def test_an_unusable_public_key_is_refused_at_registration(
    make_key: Callable[[], dict[int, Any] | bytes],
) -> None:
    """A key no signature could be checked with (off the curve, wrong length, wrong
    curve or algorithm), or one anyone could forge signatures for (a tiny RSA modulus,
    exponent 1, an Ed25519 point of small order), is refused: it is never stored."""
    result = _register_reporting(make_key())
    assert not isinstance(result, WebAuthnCredential), "an unusable key was accepted"
    assert result is RefusalReason("unusable_key")


def test_an_unusable_key_stored_before_is_refused_at_sign_in() -> None:
    """A small-order Ed25519 key accepted by an older version: with it, the signature
    (R = the neutral point, S = 0) of anyone, with no private key, verifies. The
    assertion is refused, not accepted."""
    authenticator = SoftwareAuthenticator()
    good = register(authenticator)
    weak = WebAuthnCredential.from_dict(
        {
            **good.to_dict(),
            "public_key": b64url(cbor2.dumps({1: 1, 3: -8, -1: 6, -2: ED25519_IDENTITY})),
        }
    )
    options, pending = challenge_for([weak])
    answer = authenticator.assertion(options, origin=ORIGIN)
    answer["response"]["signature"] = b64url(ED25519_IDENTITY + bytes(32))
    result = verify_authentication(POLICY, pending, answer, [weak], SESSION, T0 + 1)
    assert not isinstance(result, WebAuthnCredential), "a forged signature was accepted"
    assert result is RefusalReason("unusable_key")


# --- malformed input: always a refusal, never an exception ---------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
b64_text = st.binary(max_size=120).map(b64url) | st.text(max_size=60)

_AUTHENTICATOR = SoftwareAuthenticator()
_CREDENTIAL = register(_AUTHENTICATOR, name="fuzzed")


def _answers() -> tuple[dict[str, Any], PendingChallenge, dict[str, Any], PendingChallenge]:
    reg_options, reg_pending = registration_options(POLICY, "user-1", "u", [], T0, SESSION)
    registration = SoftwareAuthenticator().register(reg_options, origin=ORIGIN)
    auth_options, auth_pending = challenge_for([_CREDENTIAL])
    assertion = _AUTHENTICATOR.assertion(auth_options, origin=ORIGIN, sign_count=7)
    return registration, reg_pending, assertion, auth_pending


REGISTRATION, REG_PENDING, ASSERTION, AUTH_PENDING = _answers()


def _verify_both(answer: object) -> tuple[object, object]:
    return (
        verify_registration(POLICY, REG_PENDING, answer, SESSION, T0, "new", [_CREDENTIAL]),
        verify_authentication(POLICY, AUTH_PENDING, answer, [_CREDENTIAL], SESSION, T0),
    )


def test_the_fuzz_fixtures_verify_untouched() -> None:
    registered, authenticated = _verify_both(REGISTRATION)[0], _verify_both(ASSERTION)[1]
    assert isinstance(registered, WebAuthnCredential)
    assert isinstance(authenticated, WebAuthnCredential)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values | st.text(max_size=80))
def test_arbitrary_json_is_refused(answer: object) -> None:
    for result in _verify_both(answer):
        assert result is RefusalReason.MALFORMED
    if isinstance(answer, (dict, list)):
        for result in _verify_both(json.dumps(answer)):
            assert result is RefusalReason.MALFORMED


_FIELDS = [
    ("id",),
    ("rawId",),
    ("type",),
    ("response",),
    ("response", "clientDataJSON"),
    ("response", "attestationObject"),
    ("response", "authenticatorData"),
    ("response", "signature"),
    ("response", "userHandle"),
    ("response", "transports"),
    ("authenticatorAttachment",),
]


def _replace(document: dict[str, Any], path: tuple[str, ...], value: object) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_FIELDS), json_values | b64_text)
def test_any_field_replaced_never_raises(path: tuple[str, ...], value: object) -> None:
    for answer, verify in (
        (REGISTRATION, lambda a: _verify_both(a)[0]),
        (ASSERTION, lambda a: _verify_both(a)[1]),
    ):
        result = verify(_replace(answer, path, value))
        assert isinstance(result, (RefusalReason, WebAuthnCredential))


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["clientDataJSON", "authenticatorData", "signature"]),
    st.data(),
)
def test_any_signed_byte_changed_is_refused(field: str, data: st.DataObject) -> None:
    raw = bytearray(unb64url(ASSERTION["response"][field]))
    index = data.draw(st.integers(0, len(raw) - 1), label="index")
    flip = data.draw(st.integers(1, 255), label="xor")
    raw[index] ^= flip
    answer = _replace(ASSERTION, ("response", field), b64url(bytes(raw)))
    result = _verify_both(answer)[1]
    assert isinstance(result, RefusalReason)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["clientDataJSON", "attestationObject"]),
    st.data(),
)
def test_any_registration_byte_changed_never_raises(field: str, data: st.DataObject) -> None:
    raw = bytearray(unb64url(REGISTRATION["response"][field]))
    index = data.draw(st.integers(0, len(raw) - 1), label="index")
    raw[index] ^= data.draw(st.integers(1, 255), label="xor")
    answer = _replace(REGISTRATION, ("response", field), b64url(bytes(raw)))
    # Attestation "none" signs nothing, so a changed key or AAGUID may still register;
    # what must hold is that nothing raises.
    assert isinstance(_verify_both(answer)[0], (RefusalReason, WebAuthnCredential))


# --- policy --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("website", "rp_id", "origin"),
    [
        ("http://127.0.0.1:3000", "localhost", "http://localhost:3000"),
        ("http://localhost:3000", "localhost", "http://localhost:3000"),
        ("http://[::1]:8000", "localhost", "http://localhost:8000"),
        ("localhost:3000", "localhost", "http://localhost:3000"),
        ("http://app.localhost:3000", "app.localhost", "http://app.localhost:3000"),
        ("https://127.0.0.1:8443", "localhost", "https://localhost:8443"),
        ("https://App.Example.com", "app.example.com", "https://app.example.com"),
        ("https://example.com:443/", "example.com", "https://example.com"),
        ("https://example.com:8443", "example.com", "https://example.com:8443"),
        ("example.com", "example.com", "https://example.com"),
    ],
)
def test_policy_from_app_info(website: str, rp_id: str, origin: str) -> None:
    policy = WebAuthnPolicy.from_app_info(app_name="Demo", website_domain=website)
    assert (policy.rp_id, policy.origins, policy.rp_name) == (rp_id, (origin,), "Demo")
    assert (policy.user_verification, policy.resident_key) == ("preferred", "preferred")
    assert policy.challenge_lifetime == 300


def test_policy_from_app_info_with_an_api_domain() -> None:
    policy = WebAuthnPolicy.from_app_info(
        app_name="Demo", website_domain="https://example.com", api_domain="https://api.example.com"
    )
    assert policy.origins == ("https://example.com", "https://api.example.com")
    other = WebAuthnPolicy.from_app_info(
        app_name="Demo", website_domain="https://example.com", api_domain="https://api.other.org"
    )
    assert other.origins == ("https://example.com",)
    local = WebAuthnPolicy.from_app_info(
        app_name="Demo", website_domain="http://127.0.0.1:3000", api_domain="http://127.0.0.1:3000"
    )
    assert local.origins == ("http://localhost:3000",)


@pytest.mark.parametrize(
    "website",
    [
        "https://10.0.0.5",
        "http://192.168.1.2:8000",
        "https://[2001:db8::1]",
        "http://example.com",
        "ftp://example.com",
        "",
        "https://user@example.com",
    ],
)
def test_policy_from_app_info_refuses(website: str) -> None:
    with pytest.raises(ConfigurationError):
        WebAuthnPolicy.from_app_info(app_name="Demo", website_domain=website)


def test_the_ip_refusal_says_what_to_do() -> None:
    with pytest.raises(ConfigurationError, match="never an IP"):
        WebAuthnPolicy.from_app_info(app_name="Demo", website_domain="https://10.0.0.5")


@pytest.mark.parametrize(
    ("rp_id", "origins"),
    [
        ("127.0.0.1", ("http://127.0.0.1:3000",)),
        ("::1", ("http://localhost",)),
        ("Example.com", ("https://example.com",)),
        ("example.com", ("https://evil-example.com",)),
        ("example.com", ("https://example.org",)),
        ("example.com", ("http://example.com",)),
        ("example.com", ("https://example.com/",)),
        ("example.com", ("https://EXAMPLE.com",)),
        ("example.com", ("https://example.com:443",)),
        ("example.com", ("https://example.com/login",)),
        ("example.com", ()),
        ("example.com", "https://example.com"),
        ("1.2.3", ("https://1.2.3",)),
        ("", ("https://example.com",)),
    ],
)
def test_policy_refuses_bad_rp_ids_and_origins(rp_id: str, origins: Any) -> None:
    with pytest.raises(ConfigurationError):
        WebAuthnPolicy(rp_id=rp_id, rp_name="Example", origins=origins)


@pytest.mark.parametrize(
    "settings_",
    [
        {"user_verification": "always"},
        {"resident_key": "yes"},
        {"challenge_lifetime": 0},
        {"challenge_lifetime": 601},
        {"challenge_lifetime": math.nan},
        {"challenge_lifetime": True},
        {"rp_name": " "},
    ],
)
def test_policy_refuses_bad_settings(settings_: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {"rp_id": "example.com", "rp_name": "E", "origins": (ORIGIN,)}
    with pytest.raises(ConfigurationError):
        WebAuthnPolicy(**{**arguments, **settings_})


def test_policy_accepts_subdomain_origins_and_lists() -> None:
    policy = WebAuthnPolicy(
        rp_id="example.com",
        rp_name="E",
        origins=["https://example.com", "https://a.b.example.com:8443"],  # type: ignore[arg-type]
    )
    assert policy.origins == ("https://example.com", "https://a.b.example.com:8443")


# --- stored values -------------------------------------------------------------------------


def _stored_credential() -> WebAuthnCredential:
    return _CREDENTIAL


def test_credential_round_trip() -> None:
    used = WebAuthnCredential(
        _CREDENTIAL.credential_id, _CREDENTIAL.public_key, 12, ("usb", "hybrid"), "Key", T0, T0 + 9
    )
    for credential in (_CREDENTIAL, used):
        document = json.loads(json.dumps(credential.to_dict()))
        assert WebAuthnCredential.from_dict(document) == credential


def test_pending_challenge_round_trip() -> None:
    _, pending = challenge_for([_CREDENTIAL])
    document = json.loads(json.dumps(pending.to_dict()))
    assert PendingChallenge.from_dict(document) == pending


def _broken(document: dict[str, Any], key: str, value: object) -> dict[str, Any]:
    changed = dict(document)
    if value is KeyError:
        del changed[key]
    else:
        changed[key] = value
    return changed


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("id", KeyError),
        ("id", 7),
        ("id", ""),
        ("id", "not base64!"),
        ("id", "abc="),
        ("id", "AB"),  # decodes, but is not how base64url spells that byte
        ("id", b64url(bytes(1024))),
        ("public_key", b64url(b"not a COSE key")),
        ("public_key", None),
        ("sign_count", "1"),
        ("sign_count", True),
        ("sign_count", -1),
        ("sign_count", 2**32),
        ("sign_count", 1.0),
        ("transports", "usb"),
        ("transports", [1]),
        ("name", ""),
        ("name", ["key"]),
        ("created_at", "yesterday"),
        ("created_at", math.inf),
        ("created_at", KeyError),
        ("last_used_at", False),
        ("last_used_at", math.nan),
    ],
)
def test_credential_parsing_is_strict(key: str, value: object) -> None:
    document = _broken(_CREDENTIAL.to_dict(), key, value)
    with pytest.raises(MalformedDataError):
        WebAuthnCredential.from_dict(document)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("challenge", KeyError),
        ("challenge", b64url(bytes(15))),  # WebAuthn asks for 16 at least
        ("challenge", b64url(bytes(65))),
        ("challenge", 5),
        ("purpose", "login"),
        ("purpose", None),
        ("session_handle", ""),
        ("session_handle", 1),
        ("expires_at", "soon"),
        ("expires_at", None),
        ("expires_at", math.nan),
    ],
)
def test_pending_challenge_parsing_is_strict(key: str, value: object) -> None:
    _, pending = challenge_for([_CREDENTIAL])
    with pytest.raises(MalformedDataError):
        PendingChallenge.from_dict(_broken(pending.to_dict(), key, value))


@pytest.mark.parametrize("document", [None, [], "x", {1: 2}])
def test_non_objects_are_malformed(document: object) -> None:
    with pytest.raises(MalformedDataError):
        WebAuthnCredential.from_dict(document)
    with pytest.raises(MalformedDataError):
        PendingChallenge.from_dict(document)


@settings(max_examples=100, deadline=None)
@given(
    sign_count=st.integers(0, 2**32 - 1),
    transports=st.lists(st.sampled_from(["usb", "nfc", "ble", "internal", "hybrid"]), max_size=3),
    name=st.text(
        st.characters(blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp")), min_size=1, max_size=64
    ),
    created_at=st.floats(0, 4e9),
    last_used_at=st.none() | st.floats(0, 4e9),
)
def test_credential_round_trip_property(
    sign_count: int,
    transports: list[str],
    name: str,
    created_at: float,
    last_used_at: float | None,
) -> None:
    credential = WebAuthnCredential(
        _CREDENTIAL.credential_id,
        _CREDENTIAL.public_key,
        sign_count,
        tuple(transports),
        name,
        created_at,
        last_used_at,
    )
    assert WebAuthnCredential.from_dict(json.loads(json.dumps(credential.to_dict()))) == credential


# --- signed challenges -----------------------------------------------------------------------

SIGNER = ChallengeSigner(["a-secret-key-of-32-characters!!!"])


def test_a_signed_challenge_opens_for_its_user_and_session_only() -> None:
    raw = SIGNER.issue("authenticate", "user-1", SESSION, T0 + 300)
    challenge = b64url(raw)
    assert len(raw) == 58
    opened = SIGNER.open(challenge, "user-1", SESSION, T0 + 299)
    assert opened == PendingChallenge(challenge, "authenticate", SESSION, T0 + 300)
    assert SIGNER.open(challenge, "user-2", SESSION, T0) is RefusalReason.WRONG_SESSION
    assert SIGNER.open(challenge, "user-1", "other", T0) is RefusalReason.WRONG_SESSION
    # The user id and the session handle are length-prefixed: no shifting a character over.
    assert SIGNER.open(challenge, "user-1" + SESSION[0], SESSION[1:], T0) is (
        RefusalReason.WRONG_SESSION
    )
    assert SIGNER.open(challenge, "user-1", SESSION, T0 + 300) is RefusalReason.CHALLENGE_EXPIRED
    other_key = ChallengeSigner(["another-secret-key-of-32-chars!!"])
    assert other_key.open(challenge, "user-1", SESSION, T0) is RefusalReason.WRONG_SESSION
    rotated = ChallengeSigner(
        ["another-secret-key-of-32-chars!!", "a-secret-key-of-32-characters!!!"]
    )
    assert isinstance(rotated.open(challenge, "user-1", SESSION, T0), PendingChallenge)
    assert SIGNER.issue("register", "u", "s", T0) != SIGNER.issue("register", "u", "s", T0)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_changed_byte_of_a_signed_challenge_is_refused(data: st.DataObject) -> None:
    """Expiry, purpose, nonce or tag: a client that changes any byte (to live longer, or to
    turn a registration challenge into an authentication one) is refused."""
    raw = bytearray(SIGNER.issue("register", "user-1", SESSION, T0 + 300))
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] ^= data.draw(st.integers(1, 255))
    opened = SIGNER.open(b64url(bytes(raw)), "user-1", SESSION, T0)
    assert opened in (RefusalReason.WRONG_SESSION, RefusalReason.NO_CHALLENGE)


@pytest.mark.parametrize(
    "challenge",
    [None, 5, "", "!!!", "A" * 78, b64url(bytes(32)), "\udcff" * 10, b64url(bytes(58))],
)
def test_what_is_not_a_signed_challenge_is_refused(challenge: object) -> None:
    assert isinstance(SIGNER.open(challenge, "user-1", SESSION, T0), RefusalReason)


@pytest.mark.parametrize("who", ["\ud800", "\u200b\u202e", "x" * 10_000])
def test_hostile_user_ids_and_handles_are_signed_without_errors(who: str) -> None:
    challenge = b64url(SIGNER.issue("authenticate", who, who, T0 + 1))
    assert isinstance(SIGNER.open(challenge, who, who, T0), PendingChallenge)
    assert SIGNER.open(challenge, who + "x", who, T0) is RefusalReason.WRONG_SESSION


def test_a_signed_challenge_runs_the_whole_ceremony() -> None:
    """The challenge of the options is the signed one, and the answer verifies against the
    PendingChallenge that opening the challenge the browser signed gives back."""
    raw = SIGNER.issue("authenticate", "user-1", SESSION, T0 + 300)
    options, _ = authentication_options(POLICY, [_CREDENTIAL], T0, SESSION, challenge=raw)
    assert options["challenge"] == b64url(raw)
    answer = _AUTHENTICATOR.assertion(options, origin=ORIGIN)
    signed = challenge_signed(answer)
    assert signed == b64url(raw)
    pending = SIGNER.open(signed, "user-1", SESSION, T0 + 1)
    assert isinstance(pending, PendingChallenge)
    verified = verify_authentication(POLICY, pending, answer, [_CREDENTIAL], SESSION, T0 + 1)
    assert isinstance(verified, WebAuthnCredential)
    register_challenge = SIGNER.open(
        b64url(SIGNER.issue("register", "user-1", SESSION, T0 + 300)), "user-1", SESSION, T0
    )
    assert verify_authentication(
        POLICY, register_challenge, answer, [_CREDENTIAL], SESSION, T0 + 1
    ) in (RefusalReason.WRONG_PURPOSE,)


@pytest.mark.parametrize("given_bytes", [bytes(15), bytes(65), "x" * 32])
def test_options_refuse_a_challenge_of_the_wrong_size(given_bytes: Any) -> None:
    with pytest.raises(ConfigurationError):
        authentication_options(POLICY, [_CREDENTIAL], T0, SESSION, challenge=given_bytes)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values | st.text(max_size=80))
def test_challenge_signed_never_raises(answer: object) -> None:
    assert challenge_signed(answer) is None or isinstance(challenge_signed(answer), str)
    assert challenge_signed({"response": {"clientDataJSON": answer}}) is None or isinstance(
        answer, str
    )
