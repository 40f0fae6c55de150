"""The second-factor flows: TOTP devices, TOTP codes, recovery codes, admin.

Framework-free: each flow takes a user id (and, where freshness matters, the session's
access token payload) and returns a JSON-ready result with a SuperTokens-style
``status``. :mod:`st_twofactor.routes` turns them into HTTP; the admin functions in
:mod:`st_twofactor.admin` call them directly.

Every check that must hold across concurrent requests (a TOTP step used once, a
recovery code consumed once, attempts counted) is one atomic ``store.update``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from supertokens_python.recipe.session.claims import BooleanClaim

from . import _device_names, events, recovery_codes, totp
from ._crypto import SecretBox
from .claim import SecondFactorClaim, completed_at, completed_within
from .config import TwoFactorConfig
from .remember import RememberDeviceTokens
from .store import TotpDevice, TwoFactorState
from .throttle import Allowed, Decision, after_success, begin_attempt

DEFAULT_DEVICE_NAME = "authenticator"
MAX_DEVICES = 10
_DEVELOPMENT_KEY = "st-twofactor development key: never use in production"
REMEMBER_COOKIE = "st2fa-remember"
REMEMBER_HEADER = "st-2fa-remember"

Result = dict[str, Any]


def valid_device_name(name: object) -> bool:
    """A device name is 1-64 printable characters, no invisible ones, no word mixing
    scripts; names are compared case- and width-insensitively (:mod:`._device_names`)."""
    return _device_names.valid_device_name(name)


def secret_keys(config: TwoFactorConfig) -> tuple[str, ...]:
    """The app's keys; in development mode without keys, a fixed (insecure) one."""
    return tuple(config.secret_keys) or (_DEVELOPMENT_KEY,)


def remember_tokens(config: TwoFactorConfig) -> RememberDeviceTokens:
    return RememberDeviceTokens(secret_keys(config))


class StepUpRequired(Exception):
    """A factor change was refused: the user has a factor and the session's 2FA is not
    recent (S8). Raised from inside the store update, so nothing is stored."""


@dataclass(frozen=True)
class _Match:
    """The outcome of one TOTP attempt, decided inside one atomic store update."""

    decision: Decision
    matched: bool
    gave_codes: bool = False


class TwoFactorService:
    """The 2FA flows for one :class:`~st_twofactor.config.TwoFactorConfig`."""

    def __init__(self, config: TwoFactorConfig, *, claim: BooleanClaim = SecondFactorClaim):
        self.config = config
        self.claim = claim
        self.store = config.state_store
        self.box = SecretBox(secret_keys(config))
        self.remember_tokens = remember_tokens(config)
        self.policy = config.throttle_policy

    # -- reading --

    def is_fresh(self, payload: dict[str, Any]) -> bool:
        """Whether the session's 2FA was completed within the step-up window."""
        window = self.config.step_up_window
        return completed_within(payload, window, now=self.config.clock(), claim=self.claim)

    def needs_step_up(self, state: TwoFactorState, payload: dict[str, Any]) -> bool:
        """Changing factors needs a fresh 2FA, except a first enrolment (S8)."""
        return bool(state.factor_ids()) and not self.is_fresh(payload)

    def _check_step_up(self, state: TwoFactorState, payload: dict[str, Any] | None) -> None:
        """Raise :class:`StepUpRequired` when ``payload`` is given and needs a step-up."""
        if payload is not None and self.needs_step_up(state, payload):
            raise StepUpRequired

    def overview(self, state: TwoFactorState, payload: dict[str, Any], required: bool) -> Result:
        enrolled = state.factor_ids()
        usable = self._usable_factors()
        next_factors = [f for f in enrolled if f in usable]
        return {
            "status": "OK",
            "completed": completed_at(payload, claim=self.claim) is not None,
            "required": required,
            "factors": enrolled,
            "next": next_factors,
            "recoveryCodesLeft": len(state.recovery_codes),
            "devices": [{"name": d.name, "verified": d.verified} for d in state.totp_devices],
        }

    def _usable_factors(self) -> tuple[str, ...]:
        return (*self.config.factors, "recovery-code")

    # -- TOTP enrolment --

    async def create_totp_device(
        self,
        user_id: str,
        account_name: str,
        device_name: str,
        user_context: dict[str, Any],
        *,
        session_payload: dict[str, Any] | None = None,
    ) -> Result:
        """Start enrolling a TOTP device: a new secret, its URI and QR code.

        The device is unusable until :meth:`verify_totp_device` sees one valid code.
        Starting again with the name of an unverified device replaces its secret.
        With ``session_payload`` (the access token payload of the user's session), a user
        who has a factor needs a recent 2FA, checked in the same update
        (:class:`StepUpRequired`).
        """
        secret = totp.new_secret()
        sealed = self.box.encrypt(secret, context=user_id)
        now = self.config.clock()

        def add(state: TwoFactorState) -> str:
            self._check_step_up(state, session_payload)
            existing = state.device(device_name)
            if existing is not None and existing.verified:
                return "DEVICE_ALREADY_EXISTS_ERROR"
            if existing is None and len(state.totp_devices) >= MAX_DEVICES:
                return "TOO_MANY_DEVICES_ERROR"
            state.remove_device(device_name)
            state.totp_devices.append(TotpDevice(device_name, sealed, False, now))
            return "OK"

        status = await self.store.update(user_id, add, user_context)
        if status != "OK":
            return {"status": status}
        uri = totp.otpauth_uri(secret, account_name, self._issuer(), digits=self.config.totp_digits)
        return {
            "status": "OK",
            "deviceName": device_name,
            "secret": secret,
            "otpauthUri": uri,
            "qrCodeSvg": totp.qr_svg(uri),
        }

    async def verify_totp_device(
        self,
        user_id: str,
        device_name: str,
        code: object,
        user_context: dict[str, Any],
        *,
        session_payload: dict[str, Any] | None = None,
    ) -> Result:
        """Activate an enrolled device with one valid code.

        On success with no recovery codes yet, a set is created and returned once. The
        codes are made (and hashed) before the update, so that the check, the activation
        and the codes are one atomic update. ``session_payload``: as for
        :meth:`create_totp_device`, checked before the attempt is counted.
        """
        # Only hashed when they could be given (hashing takes a thread and ~25 ms).
        gives_codes = "recovery-code" in self.config.factors
        new_codes, hashes = await self._new_recovery_codes() if gives_codes else ([], [])

        def device(state: TwoFactorState) -> list[TotpDevice]:
            self._check_step_up(state, session_payload)
            found = state.device(device_name)
            return [] if found is None else [found]

        def activate(state: TwoFactorState) -> bool:
            target = state.device(device_name)
            assert target is not None  # matched against it in this same update
            target.verified = True
            state.bump_epoch()
            if state.recovery_codes or not gives_codes:
                return False
            state.recovery_codes = list(hashes)
            return True

        outcome = await self._attempt_totp(user_id, code, user_context, device, activate)
        if outcome is None:
            return {"status": "UNKNOWN_DEVICE_ERROR"}
        if not outcome.matched:
            return await self._failure("totp", user_id, outcome)
        await self._emit(
            events.FactorEnrolled(
                user_id=user_id, at=self.config.clock(), factor="totp", device_name=device_name
            )
        )
        result: Result = {"status": "OK"}
        if outcome.gave_codes:
            result["recoveryCodes"] = new_codes
        return result

    async def remove_totp_device(
        self, user_id: str, device_name: str, user_context: dict[str, Any]
    ) -> Result:
        def remove(state: TwoFactorState) -> bool:
            if state.remove_device(device_name) is None:
                return False
            state.bump_epoch()
            if not any(d.verified for d in state.totp_devices) and not (state.email or state.phone):
                # Recovery codes are a fallback for a factor; without one they go too.
                state.recovery_codes = []
            return True

        existed = await self.store.update(user_id, remove, user_context)
        if existed:
            await self._emit(
                events.FactorRemoved(
                    user_id=user_id, at=self.config.clock(), factor="totp", device_name=device_name
                )
            )
        return {"status": "OK", "didDeviceExist": existed}

    # -- TOTP codes --

    async def verify_totp(self, user_id: str, code: object, user_context: dict[str, Any]) -> Result:
        """Check a TOTP code against the user's verified devices (replay refused)."""

        def verified(state: TwoFactorState) -> list[TotpDevice]:
            return [d for d in state.totp_devices if d.verified]

        outcome = await self._attempt_totp(user_id, code, user_context, verified)
        if outcome is None:
            return {"status": "TOTP_NOT_ENABLED_ERROR"}
        if not outcome.matched:
            return await self._failure("totp", user_id, outcome)
        await self._emit(
            events.VerificationSucceeded(user_id=user_id, at=self.config.clock(), factor="totp")
        )
        return {"status": "OK"}

    async def _attempt_totp(
        self,
        user_id: str,
        code: object,
        user_context: dict[str, Any],
        devices: Callable[[TwoFactorState], list[TotpDevice]],
        on_match: Callable[[TwoFactorState], bool] | None = None,
    ) -> _Match | None:
        """Count the attempt, match the code and record its time step: one atomic update.

        ``devices`` picks the devices to try from the state; none (no such device, no
        verified one) answers ``None`` and counts nothing. Otherwise the attempt is
        counted first (parallel guesses cannot pass the limit), then a step already used
        is refused (S3), and on a match ``on_match`` changes the state in the same update.
        Two concurrent requests with one code therefore cannot both succeed.
        """
        now = self.config.clock()

        def attempt(state: TwoFactorState) -> _Match | None:
            candidates = devices(state)
            if not candidates:
                return None
            state.throttle, decision = begin_attempt(self.policy, state.throttle, "totp", now)
            if not isinstance(decision, Allowed):
                return _Match(decision, matched=False)
            step = self._matching_step(user_id, code, candidates, now)
            if step is None:
                return _Match(decision, matched=False)
            if not state.use_totp_step(step):
                return _Match(decision, matched=False)  # a replay: a wrong code
            state.throttle = after_success(state.throttle, "totp", attempt_at=now)
            gave_codes = on_match(state) if on_match is not None else False
            return _Match(decision, matched=True, gave_codes=gave_codes)

        return await self.store.update(user_id, attempt, user_context)

    def _matching_step(
        self, user_id: str, code: object, devices: list[TotpDevice], now: float
    ) -> int | None:
        """The time step at which ``code`` is valid for one of ``devices``, if any."""
        for device in devices:
            secret = self.box.decrypt(device.secret, context=user_id)
            step = totp.match_step(
                secret,
                code,
                now=lambda: now,
                skew=self.config.totp_skew,
                digits=self.config.totp_digits,
            )
            if step is not None:
                return step
        return None

    # -- recovery codes --

    async def verify_recovery_code(
        self, user_id: str, code: object, user_context: dict[str, Any]
    ) -> Result:
        """Redeem one recovery code; each works once, also under concurrent use (S7)."""
        now = self.config.clock()
        async with self.store.transaction(user_id, user_context) as held:
            # The slow hash comparison runs before the update; the update re-checks that
            # the matched code is still there (a store may let another request in between).
            hashes = list((await held.load()).recovery_codes)
            found = (
                await asyncio.to_thread(recovery_codes.find_match, code, hashes) if hashes else None
            )
            outcome, left = await held.update(self._redeem(hashes, found, now))
        if not outcome.matched:
            return await self._failure("recovery-code", user_id, outcome)
        await self._emit(events.RecoveryCodeUsed(user_id=user_id, at=now, codes_left=left))
        await self._emit(
            events.VerificationSucceeded(user_id=user_id, at=now, factor="recovery-code")
        )
        return {"status": "OK", "recoveryCodesLeft": left}

    def _redeem(
        self, hashes: list[str], index: int | None, now: float
    ) -> Callable[[TwoFactorState], tuple[_Match, int]]:
        """Count the attempt and remove the code matched at ``hashes[index]``, if any."""
        wanted = hashes[index] if index is not None else None

        def attempt(state: TwoFactorState) -> tuple[_Match, int]:
            state.throttle, decision = begin_attempt(
                self.policy, state.throttle, "recovery-code", now
            )
            if not isinstance(decision, Allowed) or wanted is None:
                return _Match(decision, matched=False), len(state.recovery_codes)
            if not state.remove_recovery_code(wanted):
                # used meanwhile by a concurrent request: a wrong code now
                return _Match(decision, matched=False), len(state.recovery_codes)
            state.throttle = after_success(state.throttle, "recovery-code", attempt_at=now)
            return _Match(decision, matched=True), len(state.recovery_codes)

        return attempt

    async def _new_recovery_codes(self) -> tuple[list[str], list[str]]:
        """A new set of codes and their salted hashes (hashed off the event loop)."""
        codes = recovery_codes.generate(self.config.recovery_code_count)
        hashes = await asyncio.to_thread(lambda: [recovery_codes.hash_code(c) for c in codes])
        return codes, hashes

    async def regenerate_recovery_codes(self, user_id: str, user_context: dict[str, Any]) -> Result:
        """A new set of codes; the old ones stop working at once."""
        codes, hashes = await self._new_recovery_codes()

        def replace(state: TwoFactorState) -> None:
            state.recovery_codes = list(hashes)
            state.bump_epoch()

        await self.store.update(user_id, replace, user_context)
        await self._emit(
            events.RecoveryCodesRegenerated(
                user_id=user_id, at=self.config.clock(), count=len(codes)
            )
        )
        return {"status": "OK", "recoveryCodes": codes}

    # -- shared --

    async def _failure(self, factor: str, user_id: str, outcome: _Match) -> Result:
        now = self.config.clock()
        decision = outcome.decision
        if not isinstance(decision, Allowed):
            await self._emit(
                events.LockedOut(
                    user_id=user_id, at=now, factor=factor, retry_after_ms=decision.retry_after_ms
                )
            )
            return {"status": "LIMIT_REACHED_ERROR", "retryAfterMs": decision.retry_after_ms}
        await self._emit(
            events.VerificationFailed(
                user_id=user_id, at=now, factor=factor, attempts_left=decision.attempts_left
            )
        )
        if decision.attempts_left == 0:
            await self._emit(
                events.LockedOut(
                    user_id=user_id,
                    at=now,
                    factor=factor,
                    retry_after_ms=int(self.config.lockout * 1000),
                )
            )
        return {"status": "INVALID_CODE_ERROR", "attemptsLeft": decision.attempts_left}

    async def _emit(self, event: events.Event) -> None:
        await events.emit(self.config.on_event, event)

    def _issuer(self) -> str:
        if self.config.issuer:
            return self.config.issuer
        try:
            from supertokens_python.supertokens import Supertokens

            return Supertokens.get_instance().app_info.app_name.replace(":", " ") or "st-twofactor"
        except Exception:
            return "st-twofactor"
