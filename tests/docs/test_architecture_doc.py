"""The example factor of docs/architecture.md, run: a factor written on the shared base gets
the shared rules (failures counted before checking, lockout, events, success clearing the
counts) without writing any of them."""

from __future__ import annotations

from typing import Any, ClassVar

from st_twofactor import InMemoryStore, TwoFactorConfig
from st_twofactor.events import Event, LockedOut, VerificationFailed
from st_twofactor.factors.base import Counted, FactorBase, FactorView
from st_twofactor.ids import FactorId
from st_twofactor.kernel.throttle import Allowed
from st_twofactor.runtime import TwoFactor
from st_twofactor.stores.state import TwoFactorState

from .blocks import REPO, page_blocks

DOC = REPO / "docs" / "architecture.md"
PAGE_BLOCKS = page_blocks(DOC)
"""The page's blocks: one, the example factor, run below."""


def _example_factor() -> type[FactorBase]:
    source = next(b.code for b in PAGE_BLOCKS if "class PinFactor" in b.code)
    names: dict[str, Any] = {
        "Any": Any,
        "ClassVar": ClassVar,
        "FactorId": FactorId,
        "FactorBase": FactorBase,
        "FactorView": FactorView,
        "TwoFactorState": TwoFactorState,
        "Counted": Counted,
        "Allowed": Allowed,
    }
    exec(compile(source, str(DOC), "exec"), names)
    factor: type[FactorBase] = names["PinFactor"]
    return factor


async def test_the_documented_example_factor_gets_the_shared_rules() -> None:
    happened: list[Event] = []
    now = [1_700_000_000.0]
    config = TwoFactorConfig(
        development=True,
        store=InMemoryStore(),
        on_event=happened.append,
        max_failures=3,
        clock=lambda: now[0],
    )
    pin = _example_factor()(TwoFactor.of(config))

    assert [await pin.verify("u", "0000", {}) for _ in range(3)] == [False, False, False]
    assert [type(e) for e in happened] == [VerificationFailed] * 3 + [LockedOut]
    # Locked: even the right PIN is refused, and counts nothing new.
    assert await pin.verify("u", "1234", {}) is False
    now[0] += config.lockout + 1
    assert await pin.verify("u", "1234", {}) is True
    state = await config.state_store.load("u")
    assert state.throttle.factors == {}
