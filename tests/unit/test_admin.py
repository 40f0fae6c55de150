"""Admin functions: state overview, reset and recovery codes, async and sync."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from st_twofactor import admin, events
from st_twofactor.config import TwoFactorConfig
from st_twofactor.errors import NoFactorError
from st_twofactor.factors.recovery_codes import codes as recovery_codes
from st_twofactor.factors.totp import algorithm as totp
from st_twofactor.runtime import TwoFactor
from st_twofactor.stores import InMemoryStore

KEY = "admin-test-secret-key-0123456789"


def _config(seen: list[events.Event]) -> TwoFactorConfig:
    return TwoFactorConfig(
        secret_keys=[KEY],
        store=InMemoryStore(),
        factors=("totp", "recovery-code"),
        on_event=seen.append,
        issuer="Admin Test",
    )


async def _enrolled(config: TwoFactorConfig, user_id: str) -> list[str]:
    service = TwoFactor(config)
    created = await service.totp.create_device(user_id, "u@example.com", "phone", {})
    code = totp.code_at(created["secret"], config.clock())
    verified = await service.totp.verify_device(user_id, "phone", code, {})
    assert verified["status"] == "OK"
    codes: list[str] = verified["recoveryCodes"]
    return codes


async def test_overview_shows_factors_but_no_secrets() -> None:
    seen: list[events.Event] = []
    config = _config(seen)
    await _enrolled(config, "user-1")
    overview = await admin.get_two_factor_state(config, "user-1")
    assert overview.factors == ("totp", "recovery-code")
    assert overview.totp_devices == (("phone", True),)
    assert overview.recovery_codes_left == 10
    assert overview.locked_factors == ()
    assert "secret" not in repr(overview).lower()


async def test_reset_removes_factors_revokes_devices_and_keeps_throttle() -> None:
    seen: list[events.Event] = []
    config = _config(seen)
    await _enrolled(config, "user-2")
    service = TwoFactor(config)
    for _ in range(5):
        await service.totp.verify("user-2", "000000", {})
    epoch_before = (await config.state_store.load("user-2")).epoch
    # keep_sessions: no SDK here (revoking sessions is tested in test_attacks_trust.py)
    overview = await admin.reset_factors(config, "user-2", keep_sessions=True)
    assert overview.factors == ()
    assert overview.locked_factors == ("totp",)
    state = await config.state_store.load("user-2")
    assert state.epoch > epoch_before
    removed = [e for e in seen if isinstance(e, events.FactorRemoved)]
    assert sorted(e.factor for e in removed) == ["recovery-code", "totp"]


async def test_regenerate_replaces_the_old_codes() -> None:
    config = _config([])
    old = await _enrolled(config, "user-3")
    new = await admin.regenerate_recovery_codes(config, "user-3")
    assert len(new) == 10 and not set(new) & set(old)
    state = await config.state_store.load("user-3")
    hashes = state.recovery_codes
    keys = recovery_codes.open_keys(TwoFactor(config).box, hashes, "user-3")
    assert len(keys) == 1
    assert recovery_codes.find_match(old[0], hashes, keys) is None
    assert recovery_codes.find_match(new[0], hashes, keys) is not None


def test_sync_wrappers_work_outside_an_event_loop() -> None:
    config = _config([])
    results: dict[str, Any] = {}

    def run() -> None:
        asyncio.run(_enrolled(config, "user-4"))
        results["codes"] = admin.regenerate_recovery_codes_sync(config, "user-4")
        results["overview"] = admin.get_two_factor_state_sync(config, "user-4")
        results["reset"] = admin.reset_factors_sync(config, "user-4", keep_sessions=True)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout=30)
    assert len(results["codes"]) == 10
    assert results["overview"].recovery_codes_left == 10
    assert results["reset"].recovery_codes_left == 0


async def test_recovery_codes_are_refused_to_a_user_without_another_factor() -> None:
    """S18: an admin cannot hand out recovery codes that would be the only factor."""
    config = _config([])
    with pytest.raises(NoFactorError):
        await admin.regenerate_recovery_codes(config, "user-5")
    assert (await config.state_store.load("user-5")).recovery_codes == []


@pytest.mark.parametrize("user_id", ["never-seen"])
async def test_unknown_user_has_empty_state(user_id: str) -> None:
    overview = await admin.get_two_factor_state(_config([]), user_id)
    assert overview.factors == () and overview.recovery_codes_left == 0
