from __future__ import annotations

import pytest

from st_twofactor.errors import ConfigurationError, DecryptionError, TwoFactorError
from st_twofactor.kernel.crypto import (
    SecretBox,
    b64decode,
    b64encode,
    derive_key,
    normalise_secret_keys,
)

OLD_KEY = "old-secret-key-0123456789"
NEW_KEY = "new-secret-key-9876543210"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_round_trip() -> None:
    box = SecretBox(NEW_KEY)
    ciphertext = box.encrypt(SECRET, context="user-1")
    assert SECRET not in ciphertext
    assert box.decrypt(ciphertext, context="user-1") == SECRET


def test_format_names_the_key() -> None:
    box = SecretBox([NEW_KEY, OLD_KEY])
    version, key_id, _ = box.encrypt(SECRET, context="u").split(".")
    assert version == "v1"
    assert key_id == box.primary_key_id
    assert len(key_id) == 8
    assert key_id != SecretBox(OLD_KEY).primary_key_id


def test_each_encryption_uses_a_fresh_nonce() -> None:
    box = SecretBox(NEW_KEY)
    assert box.encrypt(SECRET, context="u") != box.encrypt(SECRET, context="u")


def test_rotation_first_key_encrypts_all_decrypt() -> None:
    old_box = SecretBox(OLD_KEY)
    legacy = old_box.encrypt(SECRET, context="u")
    rotated_box = SecretBox([NEW_KEY, OLD_KEY])

    assert rotated_box.decrypt(legacy, context="u") == SECRET
    assert rotated_box.needs_rotation(legacy)

    fresh = rotated_box.rotate(legacy, context="u")
    assert not rotated_box.needs_rotation(fresh)
    assert rotated_box.rotate(fresh, context="u") == fresh
    assert SecretBox(NEW_KEY).decrypt(fresh, context="u") == SECRET


def test_unknown_key_is_a_clear_error() -> None:
    ciphertext = SecretBox(OLD_KEY).encrypt(SECRET, context="u")
    with pytest.raises(DecryptionError, match="keep retired keys") as info:
        SecretBox(NEW_KEY).decrypt(ciphertext, context="u")
    assert info.value.key_id == SecretBox(OLD_KEY).primary_key_id
    assert isinstance(info.value, TwoFactorError)


def test_ciphertext_is_bound_to_its_context() -> None:
    box = SecretBox(NEW_KEY)
    ciphertext = box.encrypt(SECRET, context="alice")
    with pytest.raises(DecryptionError, match="failed authentication"):
        box.decrypt(ciphertext, context="mallory")


def test_tampering_is_detected() -> None:
    box = SecretBox(NEW_KEY)
    version, key_id, body = box.encrypt(SECRET, context="u").split(".")
    raw = bytearray(b64decode(body))
    for position in (0, 12, len(raw) - 1):  # nonce, ciphertext, tag
        flipped = bytearray(raw)
        flipped[position] ^= 0x01
        with pytest.raises(DecryptionError):
            box.decrypt(f"{version}.{key_id}.{b64encode(bytes(flipped))}", context="u")


def test_key_id_cannot_be_swapped() -> None:
    box = SecretBox([NEW_KEY, OLD_KEY])
    old_id = SecretBox(OLD_KEY).primary_key_id
    version, _, body = box.encrypt(SECRET, context="u").split(".")
    with pytest.raises(DecryptionError):
        box.decrypt(f"{version}.{old_id}.{body}", context="u")


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "v1",
        "v1..",
        "v2.abcdef01.AAAA",
        "v1.ABCDEF01.AAAA",
        "v1.abcdef0.AAAA",
        "v1.abcdef01.not base64!",
        "v1.abcdef01.AAAA",
        "v1.abcdef01.٣٣٣٣",
        "v1.abcdef01." + "A" * 5000,
        None,
        42,
    ],
)
def test_garbage_raises_decryption_error(garbage: object) -> None:
    box = SecretBox(NEW_KEY)
    with pytest.raises(DecryptionError):
        box.decrypt(garbage, context="u")  # type: ignore[arg-type]
    with pytest.raises(DecryptionError):
        box.needs_rotation(garbage)  # type: ignore[arg-type]


def test_error_messages_do_not_contain_the_secret() -> None:
    box = SecretBox(NEW_KEY)
    ciphertext = box.encrypt(SECRET, context="alice")
    with pytest.raises(DecryptionError) as info:
        box.decrypt(ciphertext, context="bob")
    assert SECRET not in str(info.value)
    assert NEW_KEY not in str(info.value)


@pytest.mark.parametrize("keys", [[], "short", ["ok-secret-key-0123456789", "short"], [b"x" * 32]])
def test_bad_keys_are_configuration_errors(keys: object) -> None:
    with pytest.raises(ConfigurationError, match="secret"):
        SecretBox(keys)  # type: ignore[arg-type]


def test_single_string_is_a_list_of_one() -> None:
    assert normalise_secret_keys(NEW_KEY) == (NEW_KEY,)
    assert normalise_secret_keys([NEW_KEY, OLD_KEY]) == (NEW_KEY, OLD_KEY)


def test_derived_keys_depend_on_label_and_key() -> None:
    a = derive_key(NEW_KEY, b"label-a")
    assert len(a) == 32
    assert a == derive_key(NEW_KEY, b"label-a")
    assert a != derive_key(NEW_KEY, b"label-b")
    assert a != derive_key(OLD_KEY, b"label-a")


@pytest.mark.parametrize("data", [b"", b"\x00", b"\xff\xfe", bytes(range(256))])
def test_b64_round_trip(data: bytes) -> None:
    text = b64encode(data)
    assert "=" not in text
    assert b64decode(text) == data


@pytest.mark.parametrize("text", ["A", "AB=", "A+B/", "AB C", "é", "AB"])
def test_b64decode_is_strict(text: str) -> None:
    # "AB" decodes to one byte with stray low bits set: not canonical, so refused.
    with pytest.raises(ValueError):
        b64decode(text)
