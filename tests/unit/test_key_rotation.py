"""Opportunistic re-encryption: a TOTP secret sealed under an old key is re-sealed under
the first key inside the update of its next successful use, and only then."""

from __future__ import annotations

from st_twofactor.config import TwoFactorConfig
from st_twofactor.factors.totp import algorithm as totp
from st_twofactor.runtime import TwoFactor
from st_twofactor.stores import InMemoryStore
from st_twofactor.stores.state import TotpDevice

OLD_KEY = "old-secret-key-0123456789abcdef"
NEW_KEY = "new-secret-key-0123456789abcdef"
START = 1_700_000_000.0


def _service(store: InMemoryStore, keys: list[str], now: float) -> TwoFactor:
    config = TwoFactorConfig(
        secret_keys=keys, store=store, factors=("totp", "recovery-code"), clock=lambda: now
    )
    return TwoFactor(config)


async def _enrol(service: TwoFactor, user_id: str, name: str = "phone") -> str:
    created = await service.totp.create_device(user_id, "u@example.com", name, {})
    code = totp.code_at(created["secret"], service.config.clock())
    assert (await service.totp.verify_device(user_id, name, code, {}))["status"] == "OK"
    secret: str = created["secret"]
    return secret


async def _device(store: InMemoryStore, user_id: str, name: str = "phone") -> TotpDevice:
    device = (await store.load(user_id)).device(name)
    assert device is not None
    return device


async def test_a_successful_sign_in_reseals_the_secret_under_the_first_key() -> None:
    store = InMemoryStore()
    secret = await _enrol(_service(store, [OLD_KEY], START), "u1")
    old_sealed = (await _device(store, "u1")).secret

    later = START + 90
    rotated = _service(store, [NEW_KEY, OLD_KEY], later)
    assert rotated.box.needs_rotation(old_sealed)
    assert await rotated.totp.verify("u1", totp.code_at(secret, later), {}) == {"status": "OK"}
    resealed = (await _device(store, "u1")).secret
    assert resealed != old_sealed
    assert not rotated.box.needs_rotation(resealed)

    # The old key can go now: the new key alone opens it, and sign-in still works.
    new_only = _service(store, [NEW_KEY], later + 60)
    assert new_only.box.decrypt(resealed, context="u1") == secret
    assert await new_only.totp.verify("u1", totp.code_at(secret, later + 60), {}) == {
        "status": "OK"
    }


async def test_a_failed_attempt_reseals_nothing() -> None:
    store = InMemoryStore()
    secret = await _enrol(_service(store, [OLD_KEY], START), "u1")
    old_sealed = (await _device(store, "u1")).secret
    later = START + 90
    rotated = _service(store, [NEW_KEY, OLD_KEY], later)
    wrong = f"{(int(totp.code_at(secret, later)) + 1) % 10**6:06d}"
    assert (await rotated.totp.verify("u1", wrong, {}))["status"] == "INVALID_CODE_ERROR"
    # A replay of the enrolment code is a failure too.
    replay = totp.code_at(secret, START)
    assert (await rotated.totp.verify("u1", replay, {}))["status"] == "INVALID_CODE_ERROR"
    assert (await _device(store, "u1")).secret == old_sealed


async def test_a_secret_already_under_the_first_key_is_left_alone() -> None:
    store = InMemoryStore()
    service = _service(store, [NEW_KEY, OLD_KEY], START)
    secret = await _enrol(service, "u1")
    sealed = (await _device(store, "u1")).secret
    later = _service(store, [NEW_KEY, OLD_KEY], START + 90)
    assert await later.totp.verify("u1", totp.code_at(secret, START + 90), {}) == {"status": "OK"}
    assert (await _device(store, "u1")).secret == sealed


async def test_an_unreadable_second_device_does_not_block_the_sign_in() -> None:
    store = InMemoryStore()
    secret = await _enrol(_service(store, [OLD_KEY], START), "u1", "phone")
    await _enrol(_service(store, [OLD_KEY], START + 30), "u1", "tablet")

    # The tablet's secret becomes one that no configured key opens.
    def garble(state: object) -> None:
        from st_twofactor.stores import TwoFactorState

        assert isinstance(state, TwoFactorState)
        tablet = state.device("tablet")
        assert tablet is not None
        tablet.secret = "v1.0badc0de." + tablet.secret.split(".")[2]

    await store.update("u1", garble)
    later = START + 120
    rotated = _service(store, [NEW_KEY, OLD_KEY], later)
    assert await rotated.totp.verify("u1", totp.code_at(secret, later), {}) == {"status": "OK"}
    assert not rotated.box.needs_rotation((await _device(store, "u1", "phone")).secret)
    assert (await _device(store, "u1", "tablet")).secret.startswith("v1.0badc0de.")
