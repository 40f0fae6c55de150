from __future__ import annotations

import asyncio
import copy
import json
import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from st_twofactor.errors import MalformedDataError, StoreUnavailableError
from st_twofactor.kernel.throttle import FactorCounter, ThrottleState
from st_twofactor.stores import InMemoryStore, Store, TwoFactorState, UserMetadataStore
from st_twofactor.stores.metadata import METADATA_KEY
from st_twofactor.stores.state import TotpDevice

from ..helpers.fake_metadata import FakeMetadata, metadata_store
from ..helpers.race import race_async
from ..helpers.store_ops import (
    consume_recovery_code,
    use_totp_step,
)

T0 = 1_700_000_000.0
CONCURRENCY = 50


def full_state() -> TwoFactorState:
    return TwoFactorState(
        epoch=4,
        totp_devices=[
            TotpDevice(name="phone", secret="v1.abcdef01.xyz", verified=True, created_at=T0),
            TotpDevice(name="tablet ✓", secret="v1.abcdef01.uvw"),
        ],
        last_totp_step=56_666_666,
        email="alice@example.com",
        phone="+15555550100",
        recovery_codes=["pbkdf2_sha256$10000$a$b", "pbkdf2_sha256$10000$c$d"],
        throttle=ThrottleState(
            factors={"totp": FactorCounter(2, 0.0), "otp-email": FactorCounter(0, T0 + 900)},
            recent_failures=(T0 - 5, T0 - 1),
        ),
    )


# --- the state model -------------------------------------------------------------------


def test_state_round_trips_through_json() -> None:
    state = full_state()
    document = json.loads(json.dumps(state.to_dict(), allow_nan=False))
    assert TwoFactorState.from_dict(document) == state


def test_empty_document_is_a_fresh_state() -> None:
    assert TwoFactorState.from_dict({}) == TwoFactorState()
    assert TwoFactorState.from_dict({"v": 1, "epoch": 2}).epoch == 2


def test_missing_nested_keys_take_defaults() -> None:
    state = TwoFactorState.from_dict(
        {"totp_devices": [{"name": "a", "secret": "s"}], "throttle": {"factors": {"totp": {}}}}
    )
    assert state.totp_devices == [TotpDevice(name="a", secret="s")]
    assert state.throttle.factors == {"totp": FactorCounter()}


def test_unknown_keys_are_ignored() -> None:
    assert TwoFactorState.from_dict({"future_field": [1, 2]}) == TwoFactorState()


GARBAGE: list[object] = [
    None,
    [],
    "state",
    {"v": 2},
    {"v": 0},
    {"v": "1"},
    {"epoch": "3"},
    {"epoch": True},
    {"epoch": 1.5},
    {"totp_devices": {}},
    {"totp_devices": ["phone"]},
    {"totp_devices": [{"secret": "s"}]},
    {"totp_devices": [{"name": "a", "secret": 1}]},
    {"totp_devices": [{"name": "a", "secret": "s", "verified": "yes"}]},
    {"totp_devices": [{"name": "a", "secret": "s", "created_at": "now"}]},
    {"last_totp_step": 1.0},
    {"email": 42},
    {"phone": ["+1"]},
    {"recovery_codes": "abc"},
    {"recovery_codes": ["a", 1]},
    {"throttle": []},
    {"throttle": {"factors": []}},
    {"throttle": {"factors": {"totp": 5}}},
    {"throttle": {"factors": {"totp": {"failures": "5"}}}},
    {"throttle": {"factors": {"totp": {"locked_until": math.inf}}}},
    {"throttle": {"recent_failures": [math.nan]}},
    {"throttle": {"recent_failures": ["yesterday"]}},
]


@pytest.mark.parametrize("document", GARBAGE)
def test_garbage_documents_are_refused(document: object) -> None:
    with pytest.raises(MalformedDataError):
        TwoFactorState.from_dict(document)


def test_errors_do_not_echo_stored_values() -> None:
    with pytest.raises(MalformedDataError) as info:
        TwoFactorState.from_dict({"recovery_codes": ["secret-hash", 123456]})
    assert "secret-hash" not in str(info.value)
    assert "123456" not in str(info.value)


def test_factor_ids() -> None:
    assert TwoFactorState().factor_ids() == []
    unverified = TwoFactorState(totp_devices=[TotpDevice(name="a", secret="s")])
    assert unverified.factor_ids() == []
    assert full_state().factor_ids() == ["totp", "otp-email", "otp-phone", "recovery-code"]


def test_device_lookup() -> None:
    state = full_state()
    phone = state.device("phone")
    assert phone is not None
    assert phone.verified
    assert state.device("laptop") is None


def test_reset_removes_factors_keeps_throttle_and_bumps_epoch() -> None:
    state = full_state()
    state.reset()
    assert state.factor_ids() == []
    assert state.totp_devices == []
    assert state.epoch == 5
    assert state.throttle == full_state().throttle
    assert state.last_totp_step == full_state().last_totp_step


# --- behaviour shared by every store: tests/workers/test_store_contract.py ----------------


def test_both_stores_satisfy_the_protocol() -> None:
    stores: list[Store] = [InMemoryStore(), metadata_store(FakeMetadata())]
    assert len(stores) == 2


# --- concurrency: the control for the contract's one-winner tests ---------------------------


@pytest.mark.asyncio
async def test_the_fake_exposes_unserialised_races() -> None:
    """Control: the same read-modify-write without the store's lock has several winners,
    so the concurrency tests of the store contract would catch a store that forgot to serialise."""
    fake = FakeMetadata()

    async def unlocked_use_step() -> bool:
        document = (await fake.get("u1", {})).get(METADATA_KEY)
        state = TwoFactorState() if document is None else TwoFactorState.from_dict(document)
        if state.last_totp_step == 1234:
            return False
        state.last_totp_step = 1234
        await fake.update("u1", {METADATA_KEY: state.to_dict()}, {})
        return True

    results = await race_async(CONCURRENCY, lambda _: unlocked_use_step())
    assert results.count(True) > 1


# --- UserMetadataStore specifics -------------------------------------------------------


@pytest.mark.asyncio
async def test_state_lives_under_one_metadata_key() -> None:
    fake = FakeMetadata()
    fake.data["u1"] = {"theme": "dark"}
    store = metadata_store(fake)
    await use_totp_step(store, "u1", 7)
    assert fake.data["u1"]["theme"] == "dark"
    assert fake.data["u1"][METADATA_KEY]["last_totp_step"] == 7
    assert [set(update) for update in fake.updates] == [{METADATA_KEY}]


@pytest.mark.asyncio
async def test_custom_metadata_key() -> None:
    fake = FakeMetadata()
    store = UserMetadataStore(key="mfa", get_metadata=fake.get, update_metadata=fake.update)
    await use_totp_step(store, "u1", 7)
    assert set(fake.data["u1"]) == {"mfa"}


@pytest.mark.asyncio
async def test_unchanged_state_is_not_written() -> None:
    fake = FakeMetadata()
    store = metadata_store(fake)
    await store.update("u1", lambda s: s.factor_ids())
    assert not await consume_recovery_code(store, "u1", "missing")
    assert fake.updates == []


@pytest.mark.asyncio
async def test_user_context_is_passed_to_the_sdk() -> None:
    fake = FakeMetadata()
    store = metadata_store(fake)
    context = {"request": "r1"}
    await use_totp_step(store, "u1", 1, context)
    await store.load("u1", context)
    assert fake.contexts
    # the same context, or (for the read inside an update) a copy without the SDK's cache
    assert all(c is context or c == context for c in fake.contexts)
    assert any(c is context for c in fake.contexts)


@pytest.mark.asyncio
async def test_store_down_on_read_fails_closed() -> None:
    fake = FakeMetadata()
    fake.fail_reads = True
    store = metadata_store(fake)
    with pytest.raises(StoreUnavailableError) as info:
        await use_totp_step(store, "u1", 1)
    assert isinstance(info.value.__cause__, ConnectionError)
    with pytest.raises(StoreUnavailableError):
        await store.load("u1")


@pytest.mark.asyncio
async def test_store_down_on_write_fails_closed() -> None:
    fake = FakeMetadata()
    store = metadata_store(fake)
    await store.update("u1", lambda s: setattr(s, "recovery_codes", ["h1"]))
    fake.fail_writes = True
    with pytest.raises(StoreUnavailableError):
        await consume_recovery_code(store, "u1", "h1")
    fake.fail_writes = False
    assert (await store.load("u1")).recovery_codes == ["h1"]


@pytest.mark.asyncio
async def test_garbage_in_metadata_fails_closed() -> None:
    fake = FakeMetadata()
    fake.data["u1"] = {METADATA_KEY: {"recovery_codes": "oops"}}
    store = metadata_store(fake)
    with pytest.raises(MalformedDataError):
        await consume_recovery_code(store, "u1", "oops")
    with pytest.raises(MalformedDataError):
        await store.load("u1")
    assert fake.updates == []


@pytest.mark.asyncio
async def test_locks_are_per_user_and_released() -> None:
    fake = FakeMetadata()
    store = metadata_store(fake)
    inside = asyncio.Event()
    release = asyncio.Event()

    async def hold_u1() -> None:
        async with store._locks.hold("u1"):
            inside.set()
            await release.wait()

    holder = asyncio.create_task(hold_u1())
    await inside.wait()
    # u2 is not blocked by u1's lock ...
    assert await asyncio.wait_for(use_totp_step(store, "u2", 1), timeout=1)
    # ... while u1 is.
    blocked = asyncio.create_task(use_totp_step(store, "u1", 1))
    await asyncio.sleep(0.01)
    assert not blocked.done()
    release.set()
    assert await blocked
    await holder
    assert len(store._locks) == 0


@pytest.mark.asyncio
async def test_locks_do_not_leak_after_a_race() -> None:
    store = metadata_store(FakeMetadata())
    await race_async(CONCURRENCY, lambda _: use_totp_step(store, "u1", 5))
    assert len(store._locks) == 0


def test_store_works_from_several_event_loops() -> None:
    store = metadata_store(FakeMetadata())
    assert asyncio.run(use_totp_step(store, "u1", 1))
    assert asyncio.run(use_totp_step(store, "u1", 2))
    assert not asyncio.run(use_totp_step(store, "u1", 2))


class FakeResult:
    def __init__(self, metadata: dict[str, Any]) -> None:
        self.metadata = metadata


@pytest.mark.asyncio
async def test_default_functions_call_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    from supertokens_python.recipe.usermetadata import asyncio as metadata_api

    saved: dict[str, dict[str, Any]] = {}
    calls: list[tuple[str, str, dict[str, Any]]] = []

    async def get_user_metadata(user_id: str, user_context: dict[str, Any]) -> FakeResult:
        calls.append(("get", user_id, user_context))
        return FakeResult(copy.deepcopy(saved.get(user_id, {})))

    async def update_user_metadata(
        user_id: str, metadata_update: dict[str, Any], user_context: dict[str, Any]
    ) -> FakeResult:
        calls.append(("update", user_id, user_context))
        saved[user_id] = {**saved.get(user_id, {}), **metadata_update}
        return FakeResult(saved[user_id])

    monkeypatch.setattr(metadata_api, "get_user_metadata", get_user_metadata)
    monkeypatch.setattr(metadata_api, "update_user_metadata", update_user_metadata)
    store = UserMetadataStore()
    assert await use_totp_step(store, "u1", 9, {"k": 1})
    assert saved["u1"][METADATA_KEY]["last_totp_step"] == 9
    assert [c[0] for c in calls] == ["get", "update"]
    assert all(c[1] == "u1" and c[2] == {"k": 1} for c in calls)


def test_metadata_store_is_atomic_across_threads_and_event_loops() -> None:
    """Sync Flask/Django views each run their own event loop in their own thread: one
    process-wide lock per user still lets exactly one of them use a TOTP step."""
    store = metadata_store(FakeMetadata())
    barrier = threading.Barrier(8)

    def use() -> bool:
        barrier.wait()
        return asyncio.run(use_totp_step(store, "u1", 7))

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: use(), range(8)))
    assert results.count(True) == 1, results
    assert len(store._locks) == 0


@pytest.mark.asyncio
async def test_update_reads_around_the_sdk_request_cache() -> None:
    """A state cached by the SDK for this request (by an earlier ``load``) is not what
    ``update`` decides on: it reads again, without the cache."""
    fake = FakeMetadata()
    store = metadata_store(fake)
    seen: list[dict[str, Any]] = []
    original_get = store._get

    async def spy(user_id: str, context: dict[str, Any]) -> Any:
        seen.append(context)
        return await original_get(user_id, context)

    store._get = spy
    context: dict[str, Any] = {"_default": {"core_call_cache": {"k": "stale"}, "request": 1}}
    await store.update("u1", lambda state: None, context)
    assert "core_call_cache" not in seen[-1]["_default"]
    assert seen[-1]["_default"]["request"] == 1
    assert context["_default"]["core_call_cache"] == {"k": "stale"}


# --- transactions --------------------------------------------------------------------


def add_code(code: str) -> Callable[[TwoFactorState], int]:
    def add(state: TwoFactorState) -> int:
        state.recovery_codes.append(code)
        return len(state.recovery_codes)

    return add


@pytest.mark.asyncio
async def test_a_metadata_transaction_reads_once() -> None:
    fake = FakeMetadata()
    store = metadata_store(fake)
    async with store.transaction("u1") as held:
        await held.load()
        await held.update(add_code("h1"))
        await held.update(lambda s: s.factor_ids())  # no change: not written
        await held.update(add_code("h2"))
    assert fake.reads == 1
    assert [u[METADATA_KEY]["recovery_codes"] for u in fake.updates] == [["h1"], ["h1", "h2"]]


@pytest.mark.asyncio
async def test_a_metadata_transaction_holds_the_users_lock() -> None:
    """Another update of the same user waits for the transaction, and sees its writes."""
    fake = FakeMetadata()
    store = metadata_store(fake)
    async with store.transaction("u1") as held:
        await held.update(add_code("h1"))
        other = asyncio.create_task(store.update("u1", add_code("h3")))
        elsewhere = asyncio.create_task(store.update("u2", add_code("x")))
        await asyncio.wait_for(elsewhere, 5)  # another user is not held up
        await asyncio.sleep(0.05)
        assert not other.done()
        await held.update(add_code("h2"))
    assert await asyncio.wait_for(other, 5) == 3
    assert (await store.load("u1")).recovery_codes == ["h1", "h2", "h3"]


@pytest.mark.asyncio
async def test_a_failing_fn_in_a_transaction_changes_nothing() -> None:
    fake = FakeMetadata()
    store = metadata_store(fake)

    def broken(state: TwoFactorState) -> None:
        state.recovery_codes.append("half-done")
        raise RuntimeError("boom")

    async with store.transaction("u1") as held:
        await held.update(add_code("h1"))
        with pytest.raises(RuntimeError):
            await held.update(broken)
        assert (await held.load()).recovery_codes == ["h1"]
        await held.update(add_code("h2"))
    assert fake.data["u1"][METADATA_KEY]["recovery_codes"] == ["h1", "h2"]


@pytest.mark.asyncio
async def test_a_failed_write_in_a_transaction_is_read_again() -> None:
    """After a write the core did not acknowledge, the held state is unknown: re-read."""
    fake = FakeMetadata()
    store = metadata_store(fake)
    async with store.transaction("u1") as held:
        await held.update(add_code("h1"))
        fake.fail_writes = True
        with pytest.raises(StoreUnavailableError):
            await held.update(add_code("lost"))
        fake.fail_writes = False
        assert (await held.load()).recovery_codes == ["h1"]
    assert fake.reads == 2


def test_devices_are_found_and_removed_by_their_folded_name() -> None:
    """S16: ``device`` and ``remove_device`` compare names after NFKC and case folding;
    the stored name is the one given."""
    state = TwoFactorState(
        totp_devices=[TotpDevice(name="Zo\u00eb's Phone", secret="s1"), TotpDevice("tab", "s2")]
    )
    for look_alike in ("zo\u00eb's phone", "ZOE\u0308'S PHONE", "\uff3a\uff4f\u00eb's phone"):
        found = state.device(look_alike)
        assert found is not None and found.name == "Zo\u00eb's Phone", look_alike
    assert state.device("zoe's phone") is None  # a different letter, not a look-alike
    assert state.device("tab\u200b") is None
    removed = state.remove_device("TAB")
    assert removed is not None and removed.secret == "s2"
    assert [d.name for d in state.totp_devices] == ["Zo\u00eb's Phone"]
    assert state.remove_device("tab") is None
