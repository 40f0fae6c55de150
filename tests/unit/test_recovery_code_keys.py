"""Recovery codes stored as keyed digests under a sealed per-user key.

A code is checked with one cheap keyed derivation (no slow hash), a set is made without
any slow hash, the stored state reveals no code to someone without the secret keys, the
key follows key rotation (on use and with ``keys rotate``), one code raced from many
requests is accepted once, and sets stored as PBKDF2 hashes keep working until they are
replaced.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from st_twofactor.config import TwoFactorConfig
from st_twofactor.errors import DecryptionError, MalformedDataError
from st_twofactor.factors.recovery_codes import codes as rc
from st_twofactor.factors.totp import algorithm as totp
from st_twofactor.kernel.crypto import SecretBox, b64decode
from st_twofactor.runtime import TwoFactor
from st_twofactor.stores import InMemoryStore
from st_twofactor.stores.base import BaseStore, Store
from st_twofactor.stores.state import TwoFactorState
from st_twofactor.stores.state_codec import decode_state, encode_state

OLD_KEY = "old-secret-key-0123456789abcdef"
NEW_KEY = "new-secret-key-0123456789abcdef"
START = 1_700_000_000.0
WRONG = "zzzzz-zzzzz"  # a generated code equals it with odds of 2**-50

T = TypeVar("T")


def _runtime(store: Store, keys: tuple[str, ...] = (OLD_KEY,)) -> TwoFactor:
    config = TwoFactorConfig(
        secret_keys=list(keys),
        store=store,
        factors=("totp", "recovery-code"),
        clock=lambda: START,
    )
    return TwoFactor(config)


async def _enrolled(runtime: TwoFactor, user_id: str = "u1") -> list[str]:
    """Enrol a TOTP device for ``user_id``; the recovery codes it brought."""
    created = await runtime.totp.create_device(user_id, "u@example.com", "phone", {})
    code = totp.code_at(created["secret"], START)
    verified = await runtime.totp.verify_device(user_id, "phone", code, {})
    assert verified["status"] == "OK"
    return list(verified["recoveryCodes"])


def _sealed(state: TwoFactorState) -> str:
    """The sealed key every entry of the user's keyed set carries (one per set)."""
    sealed = {rc.sealed_key_of(entry) for entry in state.recovery_codes}
    assert len(sealed) == 1, sealed
    (one,) = sealed
    assert one is not None
    return one


def _with_pbkdf2_codes(codes: list[str]) -> Callable[[TwoFactorState], None]:
    """Store ``codes`` as a set made before keyed digests: PBKDF2 hashes, no key."""
    hashes = [rc.hash_code(code) for code in codes]

    def old_form(state: TwoFactorState) -> None:
        state.recovery_codes = list(hashes)

    return old_form


class Derivations:
    """Counts the slow hashes (PBKDF2) and the keyed derivations of recovery codes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.slow = 0
        self.keyed = 0
        real_slow = hashlib.pbkdf2_hmac
        real_keyed: Callable[..., bytes] | None = getattr(rc, "_keyed_digest", None)

        def slow(*args: Any, **kwargs: Any) -> bytes:
            self.slow += 1
            return real_slow(*args, **kwargs)

        def keyed(*args: Any) -> bytes:
            self.keyed += 1
            assert real_keyed is not None
            return real_keyed(*args)

        monkeypatch.setattr(hashlib, "pbkdf2_hmac", slow)
        monkeypatch.setattr(rc, "_keyed_digest", keyed, raising=False)


# -- cost --------------------------------------------------------------------------------


async def test_making_a_set_runs_no_slow_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = _runtime(InMemoryStore())
    counted = Derivations(monkeypatch)
    codes = await _enrolled(runtime)
    regenerated = await runtime.recovery_codes.regenerate("u1", {})
    assert len(codes) == 10 and regenerated["status"] == "OK"
    assert len(regenerated["recoveryCodes"]) == 10
    assert counted.slow == 0, "a new set must not be hashed with PBKDF2"
    assert counted.keyed == 20  # one cheap keyed digest per code made


@pytest.mark.parametrize("left", [10, 3])
@pytest.mark.parametrize("right", [True, False])
async def test_checking_a_code_is_one_keyed_derivation(
    monkeypatch: pytest.MonkeyPatch, right: bool, left: int
) -> None:
    runtime = _runtime(InMemoryStore())
    codes = await _enrolled(runtime)
    for code in codes[left:]:  # use some up first
        assert (await runtime.recovery_codes.verify("u1", code, {}))["status"] == "OK"
    counted = Derivations(monkeypatch)
    answer = await runtime.recovery_codes.verify("u1", codes[0] if right else WRONG, {})
    assert answer["status"] == ("OK" if right else "INVALID_CODE_ERROR")
    assert counted.slow == 0, "checking a code must not run PBKDF2"
    assert counted.keyed == 1, "one derivation per attempt, whatever the number of codes"


async def test_a_locked_factor_opens_no_key_and_derives_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runtime = _runtime(InMemoryStore())
    codes = await _enrolled(runtime)
    for _ in range(5):
        await runtime.recovery_codes.verify("u1", WRONG, {})
    opened: list[str] = []
    real_decrypt = runtime.box.decrypt

    def decrypt(ciphertext: str, *, context: str) -> str:
        opened.append(context)
        return real_decrypt(ciphertext, context=context)

    monkeypatch.setattr(runtime.box, "decrypt", decrypt)
    counted = Derivations(monkeypatch)
    answer = await runtime.recovery_codes.verify("u1", codes[0], {})
    assert answer["status"] == "LIMIT_REACHED_ERROR"
    assert opened == [] and (counted.slow, counted.keyed) == (0, 0)


# -- what the stored state gives away ------------------------------------------------------


async def test_a_stolen_state_without_the_keys_reveals_no_code() -> None:
    store = InMemoryStore()
    runtime = _runtime(store)
    codes = await _enrolled(runtime)
    state = await store.load("u1")
    document = encode_state(state)
    for code in codes:
        for spelling in (code, code.replace("-", ""), code.upper()):
            assert spelling not in document
    # The key behind the digests is stored only sealed under the app's secret keys.
    sealed = _sealed(state)
    assert sealed.startswith("v1.")
    key = b64decode(runtime.box.decrypt(sealed, context="u1"))
    assert len(key) == 32
    for spelling in (
        base64.urlsafe_b64encode(key).decode().rstrip("="),
        base64.b64encode(key).decode().rstrip("="),
        key.hex(),
    ):
        assert spelling not in document
    # Every stored entry is a keyed digest, and without the key none can be checked.
    assert len(state.recovery_codes) == 10 and len(set(state.recovery_codes)) == 10
    assert all(rc.sealed_key_of(entry) == sealed for entry in state.recovery_codes)
    with pytest.raises(MalformedDataError):
        rc.find_match(codes[0], state.recovery_codes)
    assert rc.find_match(codes[0], state.recovery_codes, {sealed: key}) == 0
    assert rc.find_match(codes[0], state.recovery_codes, {sealed: bytes(32)}) is None
    # Other secret keys do not open it, nor does the key sealed for another user.
    with pytest.raises(DecryptionError):
        SecretBox([NEW_KEY]).decrypt(sealed, context="u1")
    with pytest.raises(DecryptionError):
        runtime.box.decrypt(sealed, context="u2")


async def test_a_set_copied_into_another_users_state_does_not_work_there() -> None:
    store = InMemoryStore()
    runtime = _runtime(store)
    codes = await _enrolled(runtime, "victim")
    await _enrolled(runtime, "attacker")
    victim = await store.load("victim")

    def copy(state: TwoFactorState) -> None:
        state.recovery_codes = list(victim.recovery_codes)

    await store.update("attacker", copy)
    with pytest.raises(DecryptionError):
        await runtime.recovery_codes.verify("attacker", codes[0], {})
    assert len((await store.load("attacker")).recovery_codes) == 10


async def test_an_entry_with_a_garbled_key_fails_closed() -> None:
    store = InMemoryStore()
    runtime = _runtime(store)
    codes = await _enrolled(runtime)
    state = await store.load("u1")
    digest = state.recovery_codes[0].rsplit("$", 1)[1]
    garbled = "pbkdf2_sha256$1$" + base64.urlsafe_b64encode(
        b"st_twofactor/recovery-code-key/v1|\xff"
    ).decode().rstrip("=")
    await store.update("u1", lambda s: s.recovery_codes.__setitem__(0, f"{garbled}${digest}"))
    with pytest.raises(MalformedDataError):
        await runtime.recovery_codes.verify("u1", codes[0], {})


async def test_the_overview_counts_codes_and_shows_no_stored_form() -> None:
    from st_twofactor import admin

    store = InMemoryStore()
    runtime = _runtime(store)
    codes = await _enrolled(runtime)
    await runtime.recovery_codes.verify("u1", codes[0], {})
    state = await store.load("u1")
    overview = await admin.get_two_factor_state(runtime.config, "u1")
    assert overview.recovery_codes_left == 9 and "recovery-code" in overview.factors
    shown = repr(overview)
    assert _sealed(state) not in shown
    assert "pbkdf2_sha256" not in shown and not any(d in shown for d in state.recovery_codes)


def test_a_document_from_before_keyed_digests_loads_and_writes_back_the_same() -> None:
    hashes = [rc.hash_code(code) for code in rc.generate(3)]
    old = {"v": 1, "epoch": 2, "recovery_codes": hashes}
    state = TwoFactorState.from_dict(old)
    assert state.recovery_codes == hashes
    assert state.factor_ids() == ["recovery-code"]
    assert decode_state(encode_state(state)).recovery_codes == hashes


def test_the_keyed_form_checks_every_entry_and_refuses_non_codes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key, sealed = rc.new_key(), "v1.0123abcd.sealed"
    keys = {sealed: key}
    codes = rc.generate(4)
    stored = [rc.keyed_entry(code, key, sealed) for code in codes]
    assert rc.keyed_entry(codes[1].upper().replace("-", " "), key, sealed) == stored[1]
    assert rc.keyed_entry(codes[1], rc.new_key(), sealed) != stored[1]
    calls = 0
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        nonlocal calls
        calls += 1
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert rc.find_match(codes[0], stored, keys) == 0
    assert calls == 4, "every stored entry is compared, no early exit"
    assert rc.find_match("abcde-fgh1", stored, keys) is None
    with pytest.raises(MalformedDataError):
        rc.keyed_entry("abcde-fgh1", key, sealed)
    for corrupt in ["pbkdf2_sha256$1$", "pbkdf2_sha256$1$AAAA$AAAA", "hmac_sha256$!!!"]:
        with pytest.raises(MalformedDataError):
            rc.find_match(codes[0], [*stored, corrupt], keys)
    with pytest.raises(MalformedDataError):  # a keyed entry whose key was not opened
        rc.find_match(codes[0], stored, {})


def test_a_list_mixing_both_forms_matches_either() -> None:
    keys = {"v1.0123abcd.sealed": rc.new_key()}
    old, new = rc.generate(2)
    stored = [rc.hash_code(old), rc.keyed_entry(new, *keys.values(), *keys)]
    assert rc.find_match(old, stored, keys) == 0
    assert rc.find_match(new, stored, keys) == 1
    assert rc.find_match(WRONG, stored, keys) is None


# -- a rolling deploy: workers of an earlier version beside new ones --------------------


def _as_an_older_worker_rewrites_it(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` read and written back by a worker of a version before keyed digests:
    it keeps the fields it knows (those of an empty state) and drops the rest."""
    known = set(TwoFactorState().to_dict())
    return {name: value for name, value in document.items() if name in known}


def _older_find_match(code: str, hashes: list[str]) -> int | None:
    """How versions before keyed digests match a typed code: every entry read as
    ``pbkdf2_sha256$<iterations>$<salt>$<hash>``, anything else raising (in a request: an
    error answer); kept here as those versions have it, to check what they do with a new
    set."""
    canonical = rc.normalise(code)
    assert canonical is not None
    matched = None
    for index, stored in enumerate(hashes):
        try:
            scheme, iterations_text, salt_text, digest_text = stored.split("$")
            iterations = int(iterations_text)
            salt, digest = b64decode(salt_text), b64decode(digest_text)
            if scheme != "pbkdf2_sha256" or not 1 <= iterations <= 1_000_000 or len(digest) != 32:
                raise ValueError
        except ValueError:
            raise MalformedDataError("stored recovery code hash is malformed") from None
        derived = hashlib.pbkdf2_hmac("sha256", canonical.encode("ascii"), salt, iterations)
        if hmac.compare_digest(derived, digest):
            matched = index if matched is None else matched
    return matched


async def test_a_state_rewritten_by_an_older_worker_keeps_its_codes() -> None:
    store = InMemoryStore()
    runtime = _runtime(store)
    codes = await _enrolled(runtime)
    rewritten = _as_an_older_worker_rewrites_it((await store.load("u1")).to_dict())
    older = TwoFactorState.from_dict(rewritten)
    await store.update("u1", lambda state: vars(state).update(vars(older)))
    assert await runtime.recovery_codes.verify("u1", codes[0], {}) == {
        "status": "OK",
        "recoveryCodesLeft": 9,
    }


async def test_an_older_worker_refuses_every_new_code_without_failing() -> None:
    store = InMemoryStore()
    codes = await _enrolled(_runtime(store))
    stored = (await store.load("u1")).recovery_codes
    for code in codes:
        assert _older_find_match(code, stored) is None  # no error, and no code accepted
    assert all(entry.split("$")[1] == "1" for entry in stored)  # one iteration: no cost there


# -- sets made before keyed digests -------------------------------------------------------


async def test_an_old_pbkdf2_set_still_redeems_until_it_is_regenerated() -> None:
    store = InMemoryStore()
    runtime = _runtime(store)
    await _enrolled(runtime)
    old_codes = rc.generate()
    await store.update("u1", _with_pbkdf2_codes(old_codes))
    verify = runtime.recovery_codes.verify
    assert await verify("u1", old_codes[2], {}) == {"status": "OK", "recoveryCodesLeft": 9}
    assert (await verify("u1", old_codes[2], {}))["status"] == "INVALID_CODE_ERROR"
    assert (await verify("u1", WRONG, {}))["status"] == "INVALID_CODE_ERROR"
    assert runtime.recovery_codes.describe(await store.load("u1")) == {"recoveryCodesLeft": 9}

    new_codes = (await runtime.recovery_codes.regenerate("u1", {}))["recoveryCodes"]
    state = await store.load("u1")
    assert not rc.needs_slow_check(state.recovery_codes)
    _sealed(state)
    assert (await verify("u1", old_codes[3], {}))["status"] == "INVALID_CODE_ERROR"
    assert await verify("u1", new_codes[0], {}) == {"status": "OK", "recoveryCodesLeft": 9}


async def test_removing_the_last_factor_drops_the_codes_and_their_key() -> None:
    store = InMemoryStore()
    runtime = _runtime(store)
    await _enrolled(runtime)
    await runtime.totp.remove_device("u1", "phone", {})
    state = await store.load("u1")
    assert state.recovery_codes == []
    assert "v1." not in encode_state(state)


async def test_using_the_last_code_leaves_no_key() -> None:
    store = InMemoryStore()
    runtime = _runtime(store)
    codes = await _enrolled(runtime)
    for code in codes[:-1]:
        assert (await runtime.recovery_codes.verify("u1", code, {}))["status"] == "OK"
    _sealed(await store.load("u1"))
    assert await runtime.recovery_codes.verify("u1", codes[-1], {}) == {
        "status": "OK",
        "recoveryCodesLeft": 0,
    }
    state = await store.load("u1")
    assert state.recovery_codes == []  # the key lived in the entries only
    assert encode_state(state).count("v1.") == 1  # what is sealed is the TOTP secret


# -- key rotation -------------------------------------------------------------------------


async def test_a_redeemed_code_reseals_the_key_under_the_first_key() -> None:
    store = InMemoryStore()
    codes = await _enrolled(_runtime(store, (OLD_KEY,)))
    old_sealed = _sealed(await store.load("u1"))
    rotated = _runtime(store, (NEW_KEY, OLD_KEY))
    assert rotated.box.needs_rotation(old_sealed)

    assert (await rotated.recovery_codes.verify("u1", WRONG, {}))["status"] == "INVALID_CODE_ERROR"
    assert _sealed(await store.load("u1")) == old_sealed, "a failure reseals nothing"

    assert (await rotated.recovery_codes.verify("u1", codes[0], {}))["status"] == "OK"
    resealed = _sealed(await store.load("u1"))
    assert resealed != old_sealed
    assert not rotated.box.needs_rotation(resealed)

    new_only = _runtime(store, (NEW_KEY,))
    assert await new_only.recovery_codes.verify("u1", codes[1], {}) == {
        "status": "OK",
        "recoveryCodesLeft": 8,
    }


async def test_keys_status_and_rotate_cover_recovery_code_keys(tmp_path: Path) -> None:
    from st_twofactor.cli._keys import keys_rotate, keys_status
    from st_twofactor.cli._output import EXIT_FAILED, EXIT_OK, Output
    from st_twofactor.stores.sql import SQLStore

    store = SQLStore(f"sqlite+aiosqlite:///{tmp_path / 'state.db'}")
    try:
        await store.create_table()
        codes = await _enrolled(_runtime(store, (OLD_KEY,)))
        both = _runtime(store, (NEW_KEY, OLD_KEY))

        async def run(command: Callable[..., Any], **options: Any) -> tuple[int, dict[str, Any]]:
            out = Output(as_json=True, stdout=io.StringIO(), stderr=io.StringIO())
            status = await command(both, [], out, **options)
            return status, json.loads(out.stdout.getvalue())

        status, before = await run(keys_status)
        assert status == EXIT_FAILED
        assert before["secrets"] == 2 and before["still_old"] == 2  # TOTP secret + code key
        status, rotated = await run(keys_rotate, after=None)
        assert status == EXIT_OK and rotated["rotated"] == 2 and rotated["still_old"] == 0

        new_only = _runtime(store, (NEW_KEY,))
        assert (await new_only.recovery_codes.verify("u1", codes[0], {}))["status"] == "OK"
    finally:
        await store.aclose()


# -- single use under concurrency ---------------------------------------------------------


class _ReadTogether(BaseStore):
    """An in-memory store whose reads, once armed, wait until ``expected`` reads were
    made: every racing request has read the state (and matched its code against it)
    before any of them writes."""

    def __init__(self) -> None:
        self.inner = InMemoryStore()
        self.expected = 0
        self.reads = 0
        self.all_read = asyncio.Event()

    def arm(self, expected: int) -> None:
        self.expected, self.reads = expected, 0
        self.all_read.clear()

    async def load(
        self, user_id: str, user_context: dict[str, Any] | None = None
    ) -> TwoFactorState:
        state = await self.inner.load(user_id, user_context)
        if self.expected:
            self.reads += 1
            if self.reads >= self.expected:
                self.all_read.set()
            await asyncio.wait_for(self.all_read.wait(), timeout=10)
        return state

    async def update(
        self,
        user_id: str,
        fn: Callable[[TwoFactorState], T],
        user_context: dict[str, Any] | None = None,
    ) -> T:
        return await self.inner.update(user_id, fn, user_context)


@pytest.mark.parametrize("form", ["keyed", "pbkdf2"])
async def test_one_of_many_parallel_redemptions_of_a_code_wins(form: str) -> None:
    store = _ReadTogether()
    runtime = _runtime(store)
    codes = await _enrolled(runtime)
    if form == "pbkdf2":
        codes = rc.generate()
        await store.update("u1", _with_pbkdf2_codes(codes))
    racers = 8
    store.arm(racers)
    answers = await asyncio.gather(
        *(runtime.recovery_codes.verify("u1", codes[0], {}) for _ in range(racers))
    )
    assert store.reads >= racers, "every request read the state before any wrote"
    store.arm(0)
    statuses = [answer["status"] for answer in answers]
    assert statuses.count("OK") == 1, statuses
    assert len((await store.load("u1")).recovery_codes) == 9


class _NewSetAfterRead(BaseStore):
    """An in-memory store that, once, runs ``between`` right after a read: another
    request changing the state between the match and the update of a redemption."""

    def __init__(self) -> None:
        self.inner = InMemoryStore()
        self.between: Callable[[], Awaitable[object]] | None = None

    async def load(
        self, user_id: str, user_context: dict[str, Any] | None = None
    ) -> TwoFactorState:
        state = await self.inner.load(user_id, user_context)
        between, self.between = self.between, None
        if between is not None:
            await between()
        return state

    async def update(
        self,
        user_id: str,
        fn: Callable[[TwoFactorState], T],
        user_context: dict[str, Any] | None = None,
    ) -> T:
        return await self.inner.update(user_id, fn, user_context)


async def test_a_code_matched_just_before_a_new_set_is_made_is_refused() -> None:
    store = _NewSetAfterRead()
    runtime = _runtime(store)
    old_codes = await _enrolled(runtime)
    made: list[list[str]] = []

    async def regenerate() -> None:
        made.append((await runtime.recovery_codes.regenerate("u1", {}))["recoveryCodes"])

    store.between = regenerate
    answer = await runtime.recovery_codes.verify("u1", old_codes[0], {})
    assert made and answer["status"] == "INVALID_CODE_ERROR"
    state = await store.load("u1")
    assert len(state.recovery_codes) == 10
    assert await runtime.recovery_codes.verify("u1", made[0][0], {}) == {
        "status": "OK",
        "recoveryCodesLeft": 9,
    }
