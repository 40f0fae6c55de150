"""The factor flows without HTTP: secrets at rest (S5) and key rotation."""

from __future__ import annotations

import json

import pytest

from st_twofactor.config import TwoFactorConfig
from st_twofactor.errors import DecryptionError
from st_twofactor.factors.base import StepUpRequired
from st_twofactor.factors.totp import algorithm as totp
from st_twofactor.runtime import TwoFactor
from st_twofactor.stores import InMemoryStore

OLD_KEY = "old-secret-key-0123456789abcdef"
NEW_KEY = "new-secret-key-0123456789abcdef"
START = 1_700_000_000.0


def _config(store: InMemoryStore, keys: list[str], now: float) -> TwoFactorConfig:
    return TwoFactorConfig(
        secret_keys=keys, store=store, factors=("totp", "recovery-code"), clock=lambda: now
    )


async def _enrol(service: TwoFactor, user_id: str) -> str:
    created = await service.totp.create_device(user_id, "u@example.com", "phone", {})
    code = totp.code_at(created["secret"], service.config.clock())
    assert (await service.totp.verify_device(user_id, "phone", code, {}))["status"] == "OK"
    secret: str = created["secret"]
    return secret


async def test_the_stored_state_holds_no_secret_and_no_recovery_code() -> None:
    store = InMemoryStore()
    service = TwoFactor(_config(store, [OLD_KEY], START))
    secret = await _enrol(service, "user-1")
    codes = (await service.recovery_codes.regenerate("user-1", {}))["recoveryCodes"]
    document = json.dumps((await store.load("user-1")).to_dict())
    assert secret not in document and secret.lower() not in document
    for code in codes:
        assert code not in document and code.replace("-", "") not in document


async def test_rotation_new_key_first_old_key_still_decrypts() -> None:
    store = InMemoryStore()
    secret = await _enrol(TwoFactor(_config(store, [OLD_KEY], START)), "user-2")
    later = START + 90
    rotated = TwoFactor(_config(store, [NEW_KEY, OLD_KEY], later))
    code = totp.code_at(secret, later)
    assert await rotated.totp.verify("user-2", code, {}) == {"status": "OK"}
    # a device enrolled after the rotation is sealed with the new key only
    await rotated.totp.create_device("user-2", "u@example.com", "tablet", {})
    sealed = (await store.load("user-2")).device("tablet")
    assert sealed is not None
    new_only = TwoFactor(_config(store, [NEW_KEY], later))
    assert new_only.box.decrypt(sealed.secret, context="user-2")


async def test_a_secret_sealed_for_one_user_does_not_open_for_another() -> None:
    store = InMemoryStore()
    service = TwoFactor(_config(store, [OLD_KEY], START))
    await _enrol(service, "user-3")
    device = (await store.load("user-3")).device("phone")
    assert device is not None
    with pytest.raises(DecryptionError):
        service.box.decrypt(device.secret, context="user-4")


async def test_without_the_old_key_the_secret_cannot_be_read() -> None:
    store = InMemoryStore()
    await _enrol(TwoFactor(_config(store, [OLD_KEY], START)), "user-5")
    device = (await store.load("user-5")).device("phone")
    assert device is not None
    with pytest.raises(DecryptionError):
        TwoFactor(_config(store, [NEW_KEY], START)).box.decrypt(device.secret, context="user-5")


async def test_a_factor_change_without_a_recent_2fa_stores_nothing() -> None:
    """The step-up check (S8) runs inside the update: refused, nothing is written, and a
    refused activation is not counted as an attempt."""
    store = InMemoryStore()
    service = TwoFactor(_config(store, [OLD_KEY], START))
    stale = {"2fa-completed": {"v": True, "t": int((START - 3600) * 1000)}}
    fresh = {"2fa-completed": {"v": True, "t": int(START * 1000), "m": "totp"}}
    # a first enrolment needs only the first factor
    first = await service.totp.create_device("u", "u@example.com", "phone", {}, session_payload={})
    code = totp.code_at(first["secret"], START)
    verified = await service.totp.verify_device("u", "phone", code, {}, session_payload={})
    assert verified["status"] == "OK"
    before = (await store.load("u")).to_dict()

    with pytest.raises(StepUpRequired):
        await service.totp.create_device("u", "u@example.com", "tablet", {}, session_payload=stale)
    assert (await store.load("u")).to_dict() == before

    # an unverified device, added with a fresh 2FA, then activated by a stale session
    added = await service.totp.create_device(
        "u", "u@example.com", "tablet", {}, session_payload=fresh
    )
    before = (await store.load("u")).to_dict()
    code = totp.code_at(added["secret"], START)
    with pytest.raises(StepUpRequired):
        await service.totp.verify_device("u", "tablet", code, {}, session_payload=stale)
    assert (await store.load("u")).to_dict() == before  # not activated, no attempt counted
    # a code of the next time step (the phone's verification used this one), fresh 2FA
    later = TwoFactor(_config(store, [OLD_KEY], START + 30))
    code = totp.code_at(added["secret"], START + 30)
    verified = await later.totp.verify_device("u", "tablet", code, {}, session_payload=fresh)
    assert verified["status"] == "OK"
