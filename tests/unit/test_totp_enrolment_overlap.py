"""A new TOTP device: the lookup of the account name (a core call in the HTTP route) runs
while the device is stored, not before it; a refused enrolment does not wait for it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from st_twofactor.config import TwoFactorConfig
from st_twofactor.runtime import TwoFactor
from st_twofactor.stores import InMemoryStore
from st_twofactor.stores.state import TwoFactorState

T = TypeVar("T")


class _Watching(InMemoryStore):
    """Notes whether the account-name lookup had started when an update began."""

    def __init__(self, started: asyncio.Event) -> None:
        super().__init__()
        self.started = started
        self.seen: list[bool] = []

    async def update(
        self,
        user_id: str,
        fn: Callable[[TwoFactorState], T],
        user_context: dict[str, Any] | None = None,
    ) -> T:
        await asyncio.sleep(0)  # a core call's await: the lookup task gets its turn
        self.seen.append(self.started.is_set())
        return await super().update(user_id, fn, user_context)


def _runtime(store: InMemoryStore) -> TwoFactor:
    return TwoFactor(TwoFactorConfig(secret_keys=["k" * 32], store=store, factors=("totp",)))


async def test_the_account_name_is_looked_up_while_the_device_is_stored() -> None:
    started, finish = asyncio.Event(), asyncio.Event()
    store = _Watching(started)

    async def lookup() -> str:
        started.set()
        await finish.wait()
        return "ada@example.com"

    async def store_then_answer() -> None:
        await asyncio.sleep(0.01)
        finish.set()

    created, _ = await asyncio.gather(
        _runtime(store).totp.create_device("u1", lookup(), "phone", {}), store_then_answer()
    )
    assert store.seen == [True], "the lookup had started when the device was stored"
    assert created["status"] == "OK" and ":ada@example.com?" in created["otpauthUri"]


async def test_a_refused_enrolment_does_not_wait_for_the_lookup() -> None:
    store = _Watching(asyncio.Event())
    runtime = _runtime(store)
    await runtime.totp.create_device("u1", "ada@example.com", "phone", {})
    await store.update("u1", lambda s: setattr(s.totp_devices[0], "verified", True))
    never = asyncio.Event()

    async def slow() -> str:
        await never.wait()
        return "never"

    answer = await asyncio.wait_for(runtime.totp.create_device("u1", slow(), "phone", {}), 5)
    assert answer == {"status": "DEVICE_ALREADY_EXISTS_ERROR"}
