"""kernel.signer: the one HMAC signer under rotating keys, and the formats it must keep."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

import pytest

from st_twofactor.errors import ConfigurationError
from st_twofactor.factors.webauthn.ceremonies import RefusalReason
from st_twofactor.factors.webauthn.challenge import ChallengeSigner
from st_twofactor.factors.webauthn.records import PendingChallenge
from st_twofactor.kernel import signer as signer_module
from st_twofactor.kernel.crypto import b64decode, b64encode, derive_key
from st_twofactor.kernel.remember import RememberDeviceTokens
from st_twofactor.kernel.signer import TAG_BYTES, Signer

KEY = "signer-secret-key-0123456789abcdef"
OLD_KEY = "older-signer-key-0123456789abcdef"
LABEL = b"st_twofactor/test/v1"
PAYLOAD = b"\x00payload\xffbytes"
SIGNER = Signer([KEY], LABEL)


def test_sealed_and_text_forms_round_trip() -> None:
    sealed = SIGNER.seal(PAYLOAD, "user-1", "session-1")
    assert sealed[0] == 1 and len(sealed) == 1 + len(PAYLOAD) + TAG_BYTES
    assert SIGNER.unseal(sealed, "user-1", "session-1") == PAYLOAD
    text = SIGNER.sign_text(PAYLOAD)
    assert text.isascii() and b64decode(text.split(".")[0]) == PAYLOAD
    assert SIGNER.open_text(text) == PAYLOAD
    assert SIGNER.unseal(SIGNER.seal(b"")) == b""
    assert SIGNER.open_text(SIGNER.sign_text(b"")) == b""


def test_another_key_is_refused() -> None:
    stranger = Signer([OLD_KEY], LABEL)
    assert stranger.unseal(SIGNER.seal(PAYLOAD)) is None
    assert stranger.open_text(SIGNER.sign_text(PAYLOAD)) is None


@pytest.mark.parametrize(
    "other",
    [
        Signer([KEY], b"st_twofactor/test/v2"),
        Signer([KEY], LABEL, domain=b"another-domain."),
    ],
    ids=["label", "domain"],
)
def test_another_purpose_is_refused(other: Signer) -> None:
    assert other.unseal(SIGNER.seal(PAYLOAD)) is None
    assert other.open_text(SIGNER.sign_text(PAYLOAD)) is None
    assert SIGNER.unseal(other.seal(PAYLOAD)) is None


def test_bound_strings_must_be_given_again() -> None:
    sealed = SIGNER.seal(PAYLOAD, "user-1", "session-1")
    for bound in [(), ("user-1",), ("user-2", "session-1"), ("user-1", "session-1", "")]:
        assert SIGNER.unseal(sealed, *bound) is None, bound
    # Length-prefixed: a character moved from one string to the next is another message.
    assert SIGNER.unseal(sealed, "user-1s", "ession-1") is None
    text = SIGNER.sign_text(PAYLOAD, "user-1")
    assert SIGNER.open_text(text, "user-1") == PAYLOAD
    assert SIGNER.open_text(text) is None
    assert SIGNER.open_text(text, "user-2") is None


def test_every_changed_byte_of_a_sealed_value_is_refused() -> None:
    sealed = SIGNER.seal(PAYLOAD, "u")
    for position in range(len(sealed)):
        for flip in (0x01, 0x80, 0xFF):
            changed = bytearray(sealed)
            changed[position] ^= flip
            assert SIGNER.unseal(bytes(changed), "u") is None, (position, flip)


def test_every_changed_character_of_a_text_is_refused() -> None:
    text = SIGNER.sign_text(PAYLOAD)
    for position in range(len(text)):
        for replacement in "A_.-":
            if text[position] == replacement:
                continue
            changed = text[:position] + replacement + text[position + 1 :]
            assert SIGNER.open_text(changed) is None, (position, replacement)


def test_truncated_or_extended_values_are_refused() -> None:
    sealed = SIGNER.seal(PAYLOAD)
    for length in range(len(sealed)):
        assert SIGNER.unseal(sealed[:length]) is None, length
    assert SIGNER.unseal(sealed + b"\x00") is None
    text = SIGNER.sign_text(PAYLOAD)
    for length in range(len(text)):
        assert SIGNER.open_text(text[:length]) is None, length
    assert SIGNER.open_text(text + "A") is None
    assert SIGNER.open_text(text + ".AAAA") is None


def test_another_format_version_is_refused_even_with_a_valid_tag() -> None:
    """A value of version 2 with a tag made under the right key: not read as version 1."""
    key = derive_key(KEY, LABEL)
    signed = b"\x02" + PAYLOAD
    forged = signed + hmac.new(key, signed, hashlib.sha256).digest()
    assert SIGNER.unseal(forged) is None
    genuine = b"\x01" + PAYLOAD
    assert SIGNER.unseal(genuine + hmac.new(key, genuine, hashlib.sha256).digest()) == PAYLOAD
    assert SIGNER.unseal(hmac.new(key, b"", hashlib.sha256).digest()) is None, "a tag alone"


def test_rotation_signs_with_the_first_key_and_accepts_every_key() -> None:
    old = Signer([OLD_KEY], LABEL)
    rotated = Signer([KEY, OLD_KEY], LABEL)
    for sealed_by_old in (old.seal(PAYLOAD, "u"), old.sign_text(PAYLOAD, "u")):
        opened = (
            rotated.unseal(sealed_by_old, "u")
            if isinstance(sealed_by_old, bytes)
            else rotated.open_text(sealed_by_old, "u")
        )
        assert opened == PAYLOAD
    assert SIGNER.unseal(rotated.seal(PAYLOAD)) == PAYLOAD
    assert old.unseal(rotated.seal(PAYLOAD)) is None
    assert SIGNER.open_text(rotated.sign_text(PAYLOAD)) == PAYLOAD
    assert old.open_text(rotated.sign_text(PAYLOAD)) is None
    assert Signer([KEY], LABEL).unseal(old.seal(PAYLOAD)) is None, "a removed key is refused"


def test_every_key_is_compared_whichever_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    """No early exit: the number of comparisons (and so the time) does not say which key
    matched, or whether any did."""
    calls: list[int] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr(signer_module.hmac, "compare_digest", counting)
    rotated = Signer([KEY, OLD_KEY, "third-signer-key-0123456789abcdef"], LABEL)
    for value in (SIGNER.seal(PAYLOAD), Signer([OLD_KEY], LABEL).seal(PAYLOAD), b"\x01" * 40):
        calls.clear()
        rotated.unseal(value)
        assert len(calls) == 3
    calls.clear()
    assert rotated.open_text(SIGNER.sign_text(PAYLOAD)) == PAYLOAD
    assert len(calls) == 3


GARBAGE: list[object] = [
    None,
    42,
    ["list"],
    bytearray(b"\x01" * 40),
    "",
    ".",
    "abc",
    "a.b.c",
    "é.é",
    "é." + SIGNER.sign_text(b"").split(".")[1],
    "\ud800.\ud800",
    "A" * 100_000 + "." + "A" * 43,
]


@pytest.mark.parametrize("value", GARBAGE)
def test_garbage_is_refused_without_exceptions(value: object) -> None:
    assert SIGNER.unseal(value) is None
    assert SIGNER.open_text(value) is None
    assert SIGNER.open_text(value, "\ud800") is None


def test_a_text_longer_than_the_limit_is_refused_even_when_signed() -> None:
    longest = SIGNER.sign_text(b"x" * 1400)
    assert len(longest) <= signer_module.MAX_TEXT_CHARS
    assert SIGNER.open_text(longest) is not None
    too_long = SIGNER.sign_text(b"x" * 1600)
    assert len(too_long) > signer_module.MAX_TEXT_CHARS
    assert SIGNER.open_text(too_long) is None


@pytest.mark.parametrize("label", [b"", "text-label"])
def test_a_label_is_non_empty_bytes(label: object) -> None:
    with pytest.raises(ConfigurationError):
        Signer([KEY], label)  # type: ignore[arg-type]


def test_the_keys_are_validated() -> None:
    with pytest.raises(ConfigurationError):
        Signer([], LABEL)
    with pytest.raises(ConfigurationError):
        Signer(["short"], LABEL)


# --- values issued before the signer existed keep verifying --------------------------------
# Made by the code each replaced (remember.py's own HMAC, the WebAuthn challenge signer
# of the former factors/webauthn/_core.py), with these keys.

GOLDEN_KEYS = ["golden-secret-key-0123456789abcdef", "older-secret-key-0123456789abcdef"]
T0 = 1_700_000_000.0

REMEMBER_TOKEN = (
    "eyJ2IjoxLCJ1IjoidXNlci1cdTAwZTkiLCJlIjo3LCJ4IjoxNzAwMDg2NDAwLCJuIjoiMXdXUGNMdUFRU2pxZkxE"
    "a0pFVVAyUSJ9.BzrQAPvPuIure_Uo_ZRS3hYpKz1KP4JJEtKRwDcpxNY"
)
"""user "user-é", epoch 7, expiring at T0 + 1 day, signed with the first key."""
KNOWN_DEVICE_TOKEN = (
    "eyJ2IjoxLCJ1IjoidXNlci0xIiwiZSI6MCwieCI6MTcwMDA4NjQwMCwibiI6IkhxckxCTG41NnVnNGxrVzRPdEQ1cE"
    "EifQ.O54oB4zhGqJMSAfZ6y_UCm4Ml2FgjAGxgbnPnBDEIFg"
)
"""A known-device token: user "user-1", epoch 0, expiring at T0 + 1 day."""
REMEMBER_TOKEN_OLD_KEY = (
    "eyJ2IjoxLCJ1IjoidXNlci0xIiwiZSI6MiwieCI6MTcwMDA4NjQwMCwibiI6IkxOWjNIbEc3YnFTNFVzc2lkOTY5N1"
    "EifQ.pOW39coXEariaAK6xZQuay9WzeUM8V0bDZHjYf0hKOo"
)
"""user "user-1", epoch 2, signed with the second key alone."""
REGISTER_CHALLENGE = (
    "AebWhflWkuVZwZbHe7JSvB8AAAGLz-n74AEFg-tfmbh6mu2eaVmxxiU_SJE49AM60jKHqUAWHV6WIQ"
)
"""For "register", user "user-1", session "handle-1", until T0 + 300."""
AUTHENTICATE_CHALLENGE = (
    "ATmHAmJSk3V2BX1YRVXq2S4AAAGLz-n91AIcHuH8Qxwa9faq81rxDcaq6bHkdFNNPWEI78-ylq7LcQ"
)
"""For "authenticate", the same user and session, until T0 + 300.5, the second key alone."""


def _at(t: float) -> Callable[[], float]:
    return lambda: t


def test_remember_device_tokens_issued_before_still_verify() -> None:
    tokens = RememberDeviceTokens(GOLDEN_KEYS)
    assert tokens.check(REMEMBER_TOKEN, "user-é", 7, now=_at(T0 + 10))
    assert not tokens.check(REMEMBER_TOKEN, "user-é", 8, now=_at(T0 + 10))
    assert tokens.check(REMEMBER_TOKEN_OLD_KEY, "user-1", 2, now=_at(T0 + 10))
    known = RememberDeviceTokens(GOLDEN_KEYS, purpose="known-device")
    assert known.check(KNOWN_DEVICE_TOKEN, "user-1", 0, now=_at(T0 + 10))
    assert not known.check(REMEMBER_TOKEN_OLD_KEY, "user-1", 2, now=_at(T0 + 10))
    assert not tokens.check(KNOWN_DEVICE_TOKEN, "user-1", 0, now=_at(T0 + 10))


def test_remember_device_tokens_are_issued_in_the_same_format() -> None:
    token = RememberDeviceTokens(GOLDEN_KEYS).issue("user-1", 2, lifetime=86400, now=_at(T0))
    body, tag = token.split(".")
    key = derive_key(GOLDEN_KEYS[0], b"st_twofactor/remember-device/v1")
    signed = b"st_twofactor.kernel.remember.v1." + body.encode()
    assert tag == b64encode(hmac.new(key, signed, hashlib.sha256).digest())


def test_webauthn_challenges_issued_before_still_open() -> None:
    challenges = ChallengeSigner(GOLDEN_KEYS)
    assert challenges.open(REGISTER_CHALLENGE, "user-1", "handle-1", T0) == PendingChallenge(
        REGISTER_CHALLENGE, "register", "handle-1", T0 + 300
    )
    assert challenges.open(AUTHENTICATE_CHALLENGE, "user-1", "handle-1", T0) == (
        PendingChallenge(AUTHENTICATE_CHALLENGE, "authenticate", "handle-1", T0 + 300.5)
    )
    without_the_old_key = ChallengeSigner(GOLDEN_KEYS[0])
    assert without_the_old_key.open(AUTHENTICATE_CHALLENGE, "user-1", "handle-1", T0) is (
        RefusalReason.WRONG_SESSION
    )


def test_webauthn_challenges_are_issued_in_the_same_format() -> None:
    raw = ChallengeSigner(GOLDEN_KEYS).issue("authenticate", "user-1", "handle-1", T0 + 300)
    key = derive_key(GOLDEN_KEYS[0], b"st_twofactor/webauthn-challenge/v1")
    body, tag = raw[:-32], raw[-32:]
    assert len(raw) == 58 and body[0] == 1 and body[-1] == 2
    assert int.from_bytes(body[17:25], "big") == (T0 + 300) * 1000
    bound = b"".join(len(s).to_bytes(4, "big") + s for s in (b"user-1", b"handle-1"))
    assert tag == hmac.new(key, body + bound, hashlib.sha256).digest()
