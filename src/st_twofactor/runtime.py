"""The runtime: everything a config wires up, built once and shared.

:class:`TwoFactor` owns the parts every entry point needs (the store every flow goes
through, the keys, the secret box, remember-device and known-device tokens, completing a
session) and one instance of each registered factor. The session override, the plugin
and its routes, the passwordless override, the admin functions and the CLI all take it
(:meth:`TwoFactor.of` finds the one for a config), so no entry point builds its own parts
or enforces a rule of its own: the rules are in the factors' shared base
(:mod:`st_twofactor.factors.base`) and in the store wrapper
(:mod:`st_twofactor.kernel.request_store`).
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import TYPE_CHECKING, Any

from supertokens_python.recipe.session.claims import BooleanClaim

from st_twofactor import events
from st_twofactor.claim import SecondFactorClaim, completed_within
from st_twofactor.config import TwoFactorConfig
from st_twofactor.factors.base import Factor
from st_twofactor.factors.overview import AccountContacts, overview
from st_twofactor.factors.recovery_codes.flows import RecoveryCodeFactor
from st_twofactor.factors.registry import FACTORS
from st_twofactor.factors.totp.flows import TotpFactor
from st_twofactor.ids import FactorId
from st_twofactor.kernel.completion import SessionCompletion
from st_twofactor.kernel.crypto import SecretBox
from st_twofactor.kernel.known_devices import KnownDevices
from st_twofactor.kernel.remember import RememberDeviceTokens
from st_twofactor.kernel.request_store import RequestStore
from st_twofactor.kernel.trusted_devices import TrustedDevices
from st_twofactor.notifications._notifier import Notifier
from st_twofactor.results import Overview
from st_twofactor.stores.state import TwoFactorState

if TYPE_CHECKING:
    from st_twofactor.factors.webauthn.flows import WebAuthnFlows

__all__ = ["TwoFactor"]

log = logging.getLogger("st_twofactor")


class TwoFactor:
    """The parts and factors of one :class:`~st_twofactor.config.TwoFactorConfig` and
    claim. Prefer :meth:`of`, which returns the same object for the same config and
    claim, to building one."""

    def __init__(self, config: TwoFactorConfig, *, claim: BooleanClaim = SecondFactorClaim):
        self.config = config
        self.claim = claim
        keys = config.keys_in_use
        self.box = SecretBox(keys)
        self.remember_tokens = RememberDeviceTokens(keys)
        self.known_devices = KnownDevices(keys, config.clock)
        self.store = RequestStore(config.state_store, claim, self.known_devices)
        self.trusted_devices = TrustedDevices(
            self.store, self.remember_tokens, config.clock, config.remember_device_for
        )
        self.completion = SessionCompletion(
            config, claim, self.trusted_devices, self.known_devices, self.emit
        )
        self.totp = TotpFactor(self)
        self.recovery_codes = RecoveryCodeFactor(self)
        self.notifier = Notifier(config)
        """The security e-mails (:mod:`st_twofactor.notifications`)."""
        self.factors: dict[FactorId, type[Factor]] = dict(FACTORS)
        """The registered factor classes, by id (what ``GET /auth/2fa`` asks)."""

    @functools.cached_property
    def webauthn(self) -> WebAuthnFlows:
        """The security-key flows, made on first use: they load the ceremonies and the
        optional ``webauthn`` package, which an app without security keys never needs."""
        from st_twofactor.factors.webauthn.flows import WebAuthnFlows

        return WebAuthnFlows(self)

    @classmethod
    def of(cls, config: TwoFactorConfig, claim: BooleanClaim = SecondFactorClaim) -> TwoFactor:
        """The runtime of ``config`` and ``claim``, built on first use and then shared (as
        long as the config lives), so that every entry point wired with one config uses
        one set of parts."""
        with _LOCK:
            runtime: TwoFactor | None = config._runtimes.get(claim.key)
            if runtime is None or runtime.claim is not claim:
                runtime = config._runtimes[claim.key] = cls(config, claim=claim)
            return runtime

    def overview(
        self,
        state: TwoFactorState,
        payload: dict[str, Any],
        required: bool,
        account: AccountContacts | None = None,
    ) -> Overview:
        """What ``GET /auth/2fa`` answers (:func:`~st_twofactor.factors.overview.overview`)."""
        return overview(self.config, self.claim, self.factors, state, payload, required, account)

    def is_fresh(self, payload: dict[str, Any]) -> bool:
        """Whether the session presented a factor within the step-up window."""
        window = self.config.step_up_window
        return completed_within(payload, window, now=self.config.clock(), claim=self.claim)

    async def emit(self, event: events.Event, user_context: dict[str, Any] | None = None) -> None:
        """Give ``event`` to the app's hook, then, when it tells the user of a change, to
        the security e-mails (handed to their background sender: this never fails or
        waits for a mail service). ``user_context``: the request's, for the language."""
        await events.emit(self.config.on_event, event)
        try:
            self.notifier.notify(event, user_context)
        except Exception:  # never fail the user's request over an e-mail
            log.exception("st-twofactor: no security e-mail for %s", event.kind)

    # -- operator actions: no session asks (the admin functions, the CLI) --

    async def reset_factors(
        self, user_id: str, user_context: dict[str, Any], *, revoke_sessions: bool
    ) -> tuple[list[str], TwoFactorState]:
        """Remove every factor of the user in one update; with ``revoke_sessions``, record
        in the same update that every session started until now is revoked (before the
        core revokes them, see :mod:`~st_twofactor.kernel.revocation`). Returns the
        factors the user had and the state after."""
        now = self.config.clock()

        def reset(state: TwoFactorState) -> tuple[list[str], TwoFactorState]:
            before = state.factor_ids()
            state.reset()
            if revoke_sessions:
                state.revoke_sessions(now)
            return before, state

        return await self.store.update(user_id, reset, user_context)

    async def record_revocation(self, user_id: str, user_context: dict[str, Any]) -> None:
        """Record in the user's state that every session started until now is revoked."""
        now = self.config.clock()

        def revoke(state: TwoFactorState) -> None:
            state.revoke_sessions(now)

        await self.store.update(user_id, revoke, user_context)

    async def revoke_remembered_devices(self, user_id: str, user_context: dict[str, Any]) -> None:
        """Make every remember-device token of the user stop working (a new epoch, which
        also forgets every remembered device)."""

        def revoke(state: TwoFactorState) -> None:
            state.bump_epoch()

        await self.store.update(user_id, revoke, user_context)


_LOCK = threading.Lock()
