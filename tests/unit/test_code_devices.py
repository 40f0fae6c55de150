"""The devices and sealed codes of e-mailed/texted second-factor codes
(``st_twofactor.factors.codes._devices``)."""

from __future__ import annotations

import base64

from st_twofactor.factors.codes._devices import (
    HANDLE_BYTES,
    code_matches,
    core_pair,
    is_device_id_of,
    new_code,
    new_device,
    seal_code,
)
from st_twofactor.kernel.crypto import SecretBox

OLD_KEY = "an-old-secret-key-of-thirty-two-characters"
NEW_KEY = "a-new-secret-key-of-thirty-two-characters!"


def test_a_device_id_proves_its_device_and_is_never_a_core_pair() -> None:
    device = new_device()
    raw = base64.b64decode(device.device_id, validate=True)
    assert len(raw) == HANDLE_BYTES
    assert is_device_id_of(device.pre_auth_session_id, raw)
    assert not is_device_id_of(new_device().pre_auth_session_id, raw)
    assert core_pair(device.pre_auth_session_id, device.device_id) is False
    assert core_pair(device.pre_auth_session_id, "not base64!") is None


def test_codes_are_six_random_digits_unless_the_app_makes_its_own() -> None:
    made = {new_code(None) for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in made)
    assert len(made) > 190  # random, not a sequence or a constant
    assert new_code("ABC-123") == "ABC-123"


def test_a_sealed_code_opens_only_for_its_user_and_device() -> None:
    box = SecretBox(NEW_KEY)
    sealed = seal_code(box, "user-1", "device-a", "123456")
    assert "123456" not in sealed
    assert code_matches(box, "user-1", "device-a", [sealed], "123456")
    assert not code_matches(box, "user-1", "device-a", [sealed], "123457")
    assert not code_matches(box, "user-2", "device-a", [sealed], "123456")
    assert not code_matches(box, "user-1", "device-b", [sealed], "123456")
    assert not code_matches(box, "user-1", "device-a", [], "123456")


def test_any_of_a_devices_codes_matches_and_a_damaged_one_matches_nothing() -> None:
    box = SecretBox(NEW_KEY)
    sealed = [seal_code(box, "u", "d", code) for code in ("111111", "222222")]
    assert code_matches(box, "u", "d", ["garbage", *sealed], "222222")
    assert code_matches(box, "u", "d", [*sealed, "garbage"], "111111")
    assert not code_matches(box, "u", "d", ["garbage"], "111111")


def test_codes_sealed_before_a_key_rotation_still_open_until_the_old_key_is_retired() -> None:
    sealed = seal_code(SecretBox(OLD_KEY), "u", "d", "654321")
    assert code_matches(SecretBox([NEW_KEY, OLD_KEY]), "u", "d", [sealed], "654321")
    assert not code_matches(SecretBox(NEW_KEY), "u", "d", [sealed], "654321")
