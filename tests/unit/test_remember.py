from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable

import pytest

from st_twofactor.errors import ConfigurationError
from st_twofactor.kernel import remember
from st_twofactor.kernel.crypto import SecretBox, b64decode, b64encode, derive_key
from st_twofactor.kernel.remember import RememberDeviceTokens

KEY = "remember-secret-key-0123456789"
OTHER_KEY = "another-secret-key-0123456789"
T0 = 1_700_000_000.0
DAY = 86400.0


def clock(t: float) -> Callable[[], float]:
    return lambda: t


TOKENS = RememberDeviceTokens(KEY)


def issue(user_id: str = "user-1", epoch: int = 3, lifetime: float = 30 * DAY) -> str:
    return TOKENS.issue(user_id, epoch, lifetime=lifetime, now=clock(T0))


def sign(payload: bytes, key: str = KEY) -> str:
    """Sign ``payload`` exactly as the module does, to reach the code after the MAC."""
    body = b64encode(payload)
    mac = hmac.new(
        derive_key(key, remember._LABEL), remember._SIGNED_PREFIX + body.encode(), "sha256"
    )
    return f"{body}.{b64encode(mac.digest())}"


def payload_of(token: str) -> dict[str, object]:
    data = json.loads(b64decode(token.split(".")[0]))
    assert isinstance(data, dict)
    return data


def test_a_fresh_token_passes() -> None:
    assert TOKENS.check(issue(), "user-1", 3, now=clock(T0 + DAY))


def test_payload_holds_user_epoch_expiry_and_a_random_id() -> None:
    first, second = issue(), issue()
    assert first != second
    data = payload_of(first)
    assert data["u"] == "user-1"
    assert data["e"] == 3
    assert data["x"] == T0 + 30 * DAY
    assert data["n"] != payload_of(second)["n"]
    assert len(b64decode(str(data["n"]))) == 16


def test_signing_helper_matches_the_module() -> None:
    token = issue()
    assert sign(b64decode(token.split(".")[0])) == token


def test_bound_to_the_user() -> None:
    token = issue("user-1")
    assert not TOKENS.check(token, "user-2", 3, now=clock(T0))
    assert not TOKENS.check(token, "user-10", 3, now=clock(T0))
    assert not TOKENS.check(token, "", 3, now=clock(T0))


def test_expired_tokens_are_refused() -> None:
    token = issue(lifetime=60)
    assert TOKENS.check(token, "user-1", 3, now=clock(T0 + 59))
    assert not TOKENS.check(token, "user-1", 3, now=clock(T0 + 60))
    assert not TOKENS.check(token, "user-1", 3, now=clock(T0 + 365 * DAY))


def test_a_new_epoch_revokes_the_token() -> None:
    token = issue(epoch=3)
    assert not TOKENS.check(token, "user-1", 4, now=clock(T0))
    assert not TOKENS.check(token, "user-1", 2, now=clock(T0))


def test_forged_payload_is_refused() -> None:
    token = issue()
    signature = token.split(".")[1]
    data = payload_of(token)
    data["u"] = "admin"
    forged_body = b64encode(json.dumps(data).encode())
    assert not TOKENS.check(f"{forged_body}.{signature}", "admin", 3, now=clock(T0))
    data = payload_of(token)
    data["x"] = T0 + 9999 * DAY
    extended = b64encode(json.dumps(data).encode())
    assert not TOKENS.check(f"{extended}.{signature}", "user-1", 3, now=clock(T0 + 31 * DAY))


def test_tokens_signed_with_another_key_are_refused() -> None:
    stranger = RememberDeviceTokens(OTHER_KEY).issue("user-1", 3, lifetime=DAY, now=clock(T0))
    assert not TOKENS.check(stranger, "user-1", 3, now=clock(T0))


def test_the_encryption_key_is_not_the_signing_key() -> None:
    assert derive_key(KEY, remember._LABEL) != derive_key(KEY, b"st_twofactor/totp-secret/v1")
    ciphertext = SecretBox(KEY).encrypt("x", context="user-1")
    assert not TOKENS.check(ciphertext, "user-1", 3, now=clock(T0))


def test_rotation_accepts_tokens_of_old_keys() -> None:
    old = RememberDeviceTokens(OTHER_KEY).issue("user-1", 3, lifetime=DAY, now=clock(T0))
    rotated = RememberDeviceTokens([KEY, OTHER_KEY])
    assert rotated.check(old, "user-1", 3, now=clock(T0))
    fresh = rotated.issue("user-1", 3, lifetime=DAY, now=clock(T0))
    assert TOKENS.check(fresh, "user-1", 3, now=clock(T0))
    assert not RememberDeviceTokens(OTHER_KEY).check(fresh, "user-1", 3, now=clock(T0))


GARBAGE: list[object] = [
    None,
    42,
    b"bytes",
    ["list"],
    "",
    ".",
    "abc",
    "abc.def",
    "a.b.c",
    "é.é",
    "x" * 100_000,
]


@pytest.mark.parametrize("token", GARBAGE)
def test_garbage_is_refused_without_exceptions(token: object) -> None:
    assert TOKENS.check(token, "user-1", 3, now=clock(T0)) is False


def truncated() -> str:
    token = issue()
    return token[:-2]


def with_extra_part() -> str:
    return issue() + ".AAAA"


@pytest.mark.parametrize("make", [truncated, with_extra_part])
def test_damaged_tokens_are_refused(make: Callable[[], str]) -> None:
    assert not TOKENS.check(make(), "user-1", 3, now=clock(T0))


VALID = {"v": 1, "u": "user-1", "e": 3, "x": int(T0) + 100, "n": "AAAA"}
SIGNED_GARBAGE: list[bytes] = [
    b"",
    b"not json",
    b"\xff\xfe",
    b"null",
    b"[]",
    b"[" * 1100,  # deeper than the recursion limit, short enough to pass the length check
    json.dumps({**VALID, "v": 2}).encode(),
    json.dumps({**VALID, "u": 1}).encode(),
    json.dumps({**VALID, "e": "3"}).encode(),
    json.dumps({**VALID, "e": True}).encode(),
    json.dumps({**VALID, "e": 3.0}).encode(),
    json.dumps({**VALID, "x": "never"}).encode(),
    json.dumps({**VALID, "x": True}).encode(),
    json.dumps({k: v for k, v in VALID.items() if k != "x"}).encode(),
]


def test_the_valid_signed_payload_passes() -> None:
    assert TOKENS.check(sign(json.dumps(VALID).encode()), "user-1", 3, now=clock(T0))


@pytest.mark.parametrize("payload", SIGNED_GARBAGE)
def test_signed_garbage_is_refused_without_exceptions(payload: bytes) -> None:
    assert TOKENS.check(sign(payload), "user-1", 3, now=clock(T0)) is False


def test_non_ascii_user_ids_round_trip() -> None:
    user_id = "usér-\u0661-\ud800"
    token = TOKENS.issue(user_id, 0, lifetime=DAY, now=clock(T0))
    assert TOKENS.check(token, user_id, 0, now=clock(T0))
    assert not TOKENS.check(token, "usér-\u0661", 0, now=clock(T0))


@pytest.mark.parametrize(
    ("user_id", "epoch", "lifetime"),
    [("", 0, DAY), ("u", 0, 0), ("u", 0, -1), ("u", 0, float("inf")), ("u", "0", DAY)],
)
def test_issue_refuses_bad_arguments(user_id: str, epoch: int, lifetime: float) -> None:
    with pytest.raises(ConfigurationError):
        TOKENS.issue(user_id, epoch, lifetime=lifetime, now=clock(T0))


def test_keys_are_validated() -> None:
    with pytest.raises(ConfigurationError):
        RememberDeviceTokens([])
    with pytest.raises(ConfigurationError):
        RememberDeviceTokens("short")


def test_sha256_is_the_mac() -> None:
    body, signature = issue().split(".")
    key = derive_key(KEY, remember._LABEL)
    expected = hmac.new(key, remember._SIGNED_PREFIX + body.encode(), hashlib.sha256).digest()
    assert b64decode(signature) == expected
