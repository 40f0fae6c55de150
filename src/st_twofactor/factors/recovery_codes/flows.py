"""Recovery codes as a second factor: redeeming one, and replacing the set.

The codes themselves (generation, their stored form, matching) are
:mod:`~st_twofactor.factors.recovery_codes.codes`. A set comes with the user's first real
factor (:meth:`~st_twofactor.factors.base.FactorBase.give_recovery_codes`) and goes with
the last one; each code works once, also under concurrent use (S7). The key of a set's
digests is sealed like a TOTP secret, and re-sealed under the newest secret key when an
older one opened it, inside the update that used a code.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from st_twofactor import events
from st_twofactor.errors import DecryptionError
from st_twofactor.factors.base import Counted, FactorBase, FactorView, has_real_factor
from st_twofactor.factors.recovery_codes import codes as recovery_codes
from st_twofactor.ids import FactorId
from st_twofactor.kernel.throttle import Allowed, Refused, check
from st_twofactor.results import RegenerateResult, VerifyRecoveryCodeResult

if TYPE_CHECKING:
    from st_twofactor.stores.state import TwoFactorState

__all__ = ["RecoveryCodeFactor"]


@dataclass(frozen=True)
class _Redeemed:
    """The outcome of one attempt, decided inside one atomic store update."""

    counted: Counted
    matched: bool
    left: int


class RecoveryCodeFactor(FactorBase):
    """Recovery codes (factor ``"recovery-code"``)."""

    id: ClassVar[FactorId] = "recovery-code"

    @staticmethod
    def can_complete(view: FactorView) -> bool:
        """While any are left, whatever ``config.factors`` says (they are the way back)."""
        return bool(view.state.recovery_codes)

    @staticmethod
    def can_enrol(view: FactorView) -> bool:
        """Beside another factor, after a fresh 2FA, when none are left."""
        state = view.state
        return has_real_factor(state) and view.fresh and not state.recovery_codes

    @staticmethod
    def describe(state: TwoFactorState) -> dict[str, Any]:
        """``recoveryCodesLeft``: how many are left, ``0`` when all were used (time to make
        new ones), ``None`` when the user holds no set (no other factor yet)."""
        codes = state.recovery_codes
        return {"recoveryCodesLeft": len(codes) if codes or has_real_factor(state) else None}

    async def verify(
        self, user_id: str, code: object, user_context: dict[str, Any]
    ) -> VerifyRecoveryCodeResult:
        """Redeem one recovery code; each works once, also under concurrent use (S7)."""
        now = self.now()
        async with self.store.transaction(user_id, user_context) as held:
            # The code is matched before the update; the update re-checks that the matched
            # entry is still there (a store may let another request in between, and a new
            # set has other digests).
            state = await held.load()
            stored = list(state.recovery_codes)
            # A locked factor is refused before any work (the update below refuses it
            # again, atomically): a locked account costs no key opening and no hashing.
            locked = isinstance(check(self.throttle_policy, state.throttle, self.id, now), Refused)
            found = (
                await self._match(user_id, code, state)
                if stored and not locked and recovery_codes.normalise(code) is not None
                else None
            )
            outcome = await held.update(self._redeem(user_id, stored, found, now))
        if not outcome.matched:
            return await self.refused_code(user_id, outcome.counted, user_context)
        used = events.RecoveryCodeUsed(user_id=user_id, at=now, codes_left=outcome.left)
        await self.emit(used, user_context)
        if outcome.left <= events.LOW_RECOVERY_CODES:  # time to make a new set
            low = events.RecoveryCodesLow(user_id=user_id, at=now, codes_left=outcome.left)
            await self.emit(low, user_context)
        await self.emit(events.VerificationSucceeded(user_id=user_id, at=now, factor=self.id))
        return {"status": "OK", "recoveryCodesLeft": outcome.left}

    async def _match(self, user_id: str, code: object, state: TwoFactorState) -> int | None:
        """Where ``code`` is in the user's set, if anywhere: the set's key opened once, one
        keyed digest of the code compared with every stored one. A set of PBKDF2 hashes
        (made before keyed digests) costs ~2.5 ms per hash, so it is matched off the event
        loop."""
        stored = list(state.recovery_codes)
        keys = recovery_codes.open_keys(self.kernel.box, stored, user_id)
        if recovery_codes.needs_slow_check(stored):
            return await asyncio.to_thread(recovery_codes.find_match, code, stored, keys)
        return recovery_codes.find_match(code, stored, keys)

    def _redeem(
        self, user_id: str, stored: list[str], index: int | None, now: float
    ) -> Callable[[TwoFactorState], _Redeemed]:
        """Count the attempt and remove the code matched at ``stored[index]``, if any."""
        wanted = stored[index] if index is not None else None

        def attempt(state: TwoFactorState) -> _Redeemed:
            counted = self.count(state, now)
            if not isinstance(counted.decision, Allowed) or wanted is None:
                return _Redeemed(counted, False, len(state.recovery_codes))
            # The same code (its digest: a re-sealed key changes the rest of the entry),
            # if it is still there; used meanwhile by a concurrent request, or gone with a
            # new set, it is a wrong code now.
            current = next(
                (e for e in state.recovery_codes if recovery_codes.same_code(e, wanted)), None
            )
            if current is None or not state.remove_recovery_code(current):
                return _Redeemed(counted, False, len(state.recovery_codes))
            self.succeeded(state, now)
            self._reseal(user_id, state)
            return _Redeemed(counted, True, len(state.recovery_codes))

        return attempt

    def _reseal(self, user_id: str, state: TwoFactorState) -> None:
        """Key rotation: re-seal the set's key under the first secret key when an older one
        sealed it (a key no configured secret key opens is left as it is)."""
        with contextlib.suppress(DecryptionError):
            resealed = recovery_codes.reseal(self.kernel.box, state.recovery_codes, user_id)
            if resealed is not None:
                state.recovery_codes = resealed

    async def regenerate(
        self,
        user_id: str,
        user_context: dict[str, Any],
        *,
        session_payload: dict[str, Any] | None = None,
    ) -> RegenerateResult:
        """A new set of codes; the old ones stop working at once.

        Only for a user with another factor enrolled (S18): recovery codes are a fallback
        for a factor, so without one the answer is ``NO_FACTOR_ERROR`` and nothing changes.
        With ``session_payload``, only for a fresh session (the old codes go, as in a
        removal): a session that is not fresh is refused before a set is made, and again
        in the update.
        """
        self.check_removal(session_payload)
        codes, new = self.new_recovery_codes(user_id)

        def replace(state: TwoFactorState) -> bool:
            self.check_removal(session_payload)
            if not has_real_factor(state):
                return False
            new.put(state)
            state.bump_epoch()
            return True

        if not await self.store.update(user_id, replace, user_context):
            return {
                "status": "NO_FACTOR_ERROR",
                "message": "Recovery codes need another factor: enrol one first.",
            }
        await self.emit(
            events.RecoveryCodesRegenerated(user_id=user_id, at=self.now(), count=len(codes))
        )
        return {"status": "OK", "recoveryCodes": codes}
