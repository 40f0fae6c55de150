"""TOTP as a second factor: enrolling authenticator-app devices, checking their codes,
removing them. The algorithm itself (RFC 6238) is :mod:`~st_twofactor.factors.totp.algorithm`.

Every check that must hold across concurrent requests (a time step used once, attempts
counted before the code is checked) is one atomic store update; a device's secret is
stored encrypted (:class:`~st_twofactor.kernel.crypto.SecretBox`), bound to its user, and
re-encrypted under the newest key when an older one opened it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from st_twofactor import events
from st_twofactor.errors import DecryptionError
from st_twofactor.factors._device_names import valid_device_name as _valid_device_name
from st_twofactor.factors.base import Counted, FactorBase, FactorView, Locked
from st_twofactor.factors.totp import algorithm as totp
from st_twofactor.ids import FactorId
from st_twofactor.kernel.throttle import Allowed
from st_twofactor.results import (
    CodeRefused,
    CreateDeviceResult,
    DeviceCreated,
    DeviceVerified,
    InvalidCode,
    VerifyDeviceResult,
    VerifyTotpResult,
)
from st_twofactor.stores.state import TotpDevice

if TYPE_CHECKING:
    from st_twofactor.stores.state import TwoFactorState

__all__ = ["DEFAULT_DEVICE_NAME", "MAX_DEVICES", "TotpFactor", "valid_device_name"]

DEFAULT_DEVICE_NAME = "authenticator"
MAX_DEVICES = 10


def valid_device_name(name: object) -> bool:
    """A device name is 1-64 printable characters, no invisible ones, no word mixing
    scripts; names are compared case- and width-insensitively
    (:mod:`~st_twofactor.factors._device_names`)."""
    return _valid_device_name(name)


@dataclass(frozen=True)
class _Match:
    """The outcome of one TOTP attempt, decided inside one atomic store update."""

    counted: Counted
    matched: bool
    gave_codes: bool = False
    clock_off: bool = False
    """Wrong, but the code of a time step a few minutes off: the device's clock is."""


class TotpFactor(FactorBase):
    """TOTP devices and codes (factor ``"totp"``)."""

    id: ClassVar[FactorId] = "totp"

    @staticmethod
    def can_complete(view: FactorView) -> bool:
        return view.enabled and any(d.verified for d in view.state.totp_devices)

    @staticmethod
    def can_enrol(view: FactorView) -> bool:
        return len(view.state.totp_devices) < MAX_DEVICES

    @staticmethod
    def describe(state: TwoFactorState) -> dict[str, Any]:
        return {"devices": [{"name": d.name, "verified": d.verified} for d in state.totp_devices]}

    # -- enrolment --

    async def create_device(
        self,
        user_id: str,
        account_name: str | Awaitable[str],
        device_name: str | None,
        user_context: dict[str, Any],
        *,
        session_payload: dict[str, Any] | None = None,
        qr_code: bool = True,
    ) -> CreateDeviceResult:
        """Start enrolling a TOTP device: a new secret, its URI and QR code.

        The device is unusable until :meth:`verify_device` sees one valid code. Starting
        again with the name of an unverified device replaces its secret. A ``device_name``
        of ``None`` picks the first of ``authenticator``, ``authenticator 2``, ... that no
        verified device has (so a client that never names devices, like SuperTokens'
        prebuilt UI, can add a second one, and starting again replaces its own). With
        ``session_payload`` (the access token payload of the user's session), a user who
        has a factor needs a recent 2FA, checked in the same update
        (:class:`~st_twofactor.factors.base.StepUpRequired`).

        ``account_name`` (shown under the issuer in authenticator apps) may be an awaitable,
        such as a core call that reads the user's e-mail: it then runs while the device is
        stored, not before. With ``qr_code=False`` the answer has no ``qrCodeSvg``: for a
        client that draws the QR code itself from ``otpauthUri`` (drawing it is most of
        this method's own work).
        """
        lookup = None if isinstance(account_name, str) else asyncio.ensure_future(account_name)
        try:
            return await self._create_device(
                user_id, account_name, lookup, device_name, user_context, session_payload, qr_code
            )
        finally:
            if lookup is not None and not lookup.done():
                lookup.cancel()  # refused: the name is not needed
            elif lookup is not None and not lookup.cancelled():
                lookup.exception()  # retrieved, so an unused failure is not logged as lost

    async def _create_device(
        self,
        user_id: str,
        account_name: str | Awaitable[str],
        lookup: asyncio.Future[str] | None,
        device_name: str | None,
        user_context: dict[str, Any],
        session_payload: dict[str, Any] | None,
        qr_code: bool,
    ) -> CreateDeviceResult:
        secret = totp.new_secret()
        sealed = self.kernel.box.encrypt(secret, context=user_id)
        now = self.now()

        chosen = device_name

        def add(state: TwoFactorState) -> CreateDeviceResult | None:
            """None when added; else why not."""
            nonlocal chosen
            self.check_change(state, session_payload)
            name = chosen = device_name if device_name is not None else _free_name(state)
            existing = state.device(name)
            if existing is not None and existing.verified:
                return {"status": "DEVICE_ALREADY_EXISTS_ERROR"}
            if existing is None and len(state.totp_devices) >= MAX_DEVICES:
                return {"status": "TOO_MANY_DEVICES_ERROR"}
            state.remove_device(name)
            state.totp_devices.append(TotpDevice(name, sealed, False, now))
            return None

        refused = await self.store.update(user_id, add, user_context)
        if refused is not None:
            return refused
        assert chosen is not None  # set by the update that added the device
        account = await lookup if lookup is not None else str(account_name)
        uri = totp.otpauth_uri(secret, account, self._issuer(), digits=self.config.totp_digits)
        created: DeviceCreated = {
            "status": "OK",
            "deviceName": chosen,
            "secret": secret,
            "otpauthUri": uri,
        }
        if qr_code:
            created["qrCodeSvg"] = totp.qr_svg(uri)
        return created

    async def verify_device(
        self,
        user_id: str,
        device_name: str,
        code: object,
        user_context: dict[str, Any],
        *,
        session_payload: dict[str, Any] | None = None,
    ) -> VerifyDeviceResult:
        """Activate an enrolled device with one valid code.

        On success with no recovery codes yet, a set is created and returned once. The
        codes are made (and hashed) before the update, so that the check, the activation
        and the codes are one atomic update. ``session_payload``: as for
        :meth:`create_device`, checked before the attempt is counted.
        """
        new_codes, hashes = self.new_recovery_codes(user_id, only_if_used=True)
        was_verified = False

        def device(state: TwoFactorState) -> list[TotpDevice]:
            nonlocal was_verified
            self.check_change(state, session_payload)
            found = state.device(device_name)
            was_verified = found is not None and found.verified
            return [] if found is None else [found]

        def activate(state: TwoFactorState) -> bool:
            target = state.device(device_name)
            assert target is not None  # matched against it in this same update
            if target.verified:  # a right code for an active device: nothing to change
                return False
            if not any(d.verified for d in state.totp_devices):
                # The first device: others still waiting for a first code were started
                # with the first factor alone (maybe by someone else): drop them.
                state.totp_devices = [target]
            target.verified = True
            state.bump_epoch()
            return self.give_recovery_codes(state, hashes)

        outcome = await self._attempt(user_id, code, user_context, device, activate)
        if outcome is None:
            return {"status": "UNKNOWN_DEVICE_ERROR"}
        if not outcome.matched:
            return await self._refused(user_id, outcome, user_context)
        if not was_verified:
            await self.emit(
                events.FactorEnrolled(
                    user_id=user_id, at=self.now(), factor="totp", device_name=device_name
                ),
                user_context,
            )
        result: DeviceVerified = {"status": "OK", "wasAlreadyVerified": was_verified}
        if outcome.gave_codes:
            result["recoveryCodes"] = new_codes
        return result

    def take_device(self, state: TwoFactorState, device_name: str) -> bool:
        return state.remove_device(device_name) is not None

    # -- codes --

    async def verify(
        self, user_id: str, code: object, user_context: dict[str, Any]
    ) -> VerifyTotpResult:
        """Check a TOTP code against the user's verified devices (replay refused)."""

        def verified(state: TwoFactorState) -> list[TotpDevice]:
            return [d for d in state.totp_devices if d.verified]

        outcome = await self._attempt(user_id, code, user_context, verified)
        if outcome is None:
            return {"status": "TOTP_NOT_ENABLED_ERROR"}
        if not outcome.matched:
            return await self._refused(user_id, outcome, user_context)
        await self.emit(events.VerificationSucceeded(user_id=user_id, at=self.now(), factor="totp"))
        return {"status": "OK"}

    async def _attempt(
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
        now = self.now()

        def attempt(state: TwoFactorState) -> _Match | None:
            candidates = devices(state)
            if not candidates:
                return None
            counted = self.count(state, now)
            if not isinstance(counted.decision, Allowed):
                return _Match(counted, matched=False)
            step = self._matching_step(user_id, code, candidates, now)
            if step is None:
                off = self._clock_off(state, user_id, code, candidates, now)
                return _Match(counted, matched=False, clock_off=off)
            if not state.use_totp_step(step):
                return _Match(counted, matched=False)  # a replay: a wrong code
            self.succeeded(state, now)
            self._reseal(user_id, candidates)
            gave_codes = on_match(state) if on_match is not None else False
            return _Match(counted, matched=True, gave_codes=gave_codes)

        return await self.store.update(user_id, attempt, user_context)

    async def _refused(
        self, user_id: str, outcome: _Match, user_context: dict[str, Any] | None = None
    ) -> CodeRefused:
        """A wrong code, counted: as :meth:`~st_twofactor.factors.base.FactorBase.refused_code`
        answers it, with ``hint: "CHECK_DEVICE_CLOCK"`` when the code is one a device whose
        clock is a few minutes off would show (only while the factor is not locked)."""
        reason = "clock_skew" if outcome.clock_off else None
        answer = await self.failed(
            user_id, outcome.counted, reason=reason, user_context=user_context
        )
        if isinstance(answer, Locked):
            return {"status": "LIMIT_REACHED_ERROR", "retryAfterMs": answer.retry_after_ms}
        refused: InvalidCode = {
            "status": "INVALID_CODE_ERROR",
            "attemptsLeft": answer.attempts_left,
        }
        if outcome.clock_off:
            refused["hint"] = "CHECK_DEVICE_CLOCK"
        return refused

    def _clock_off(
        self,
        state: TwoFactorState,
        user_id: str,
        code: object,
        devices: list[TotpDevice],
        now: float,
    ) -> bool:
        """Whether ``code`` (wrong now) is one of ``devices`` would show a few minutes
        earlier or later (:func:`~st_twofactor.factors.totp.algorithm.drifted_step`).

        A code of a *future* step is burnt in ``state`` (never accepted, also once its
        time comes), so that telling someone who guesses it that their code is a future
        one gains them nothing: the hint tells only what the code's owner knows. Every
        device is looked at: one device explaining the code by a past step must not leave
        another's future step unburnt.
        """
        skew = self.config.totp_skew
        current = totp.step_at(now)
        off = False
        for device in devices:
            secret = self.kernel.box.decrypt(device.secret, context=user_id)
            step = totp.drifted_step(
                secret, code, now=lambda: now, skew=skew, digits=self.config.totp_digits
            )
            if step is None:
                continue
            if step > current:
                state.burn_totp_step(step, oldest_useful=current - skew)
            off = True
        return off

    def _reseal(self, user_id: str, devices: list[TotpDevice]) -> None:
        """Key rotation: re-encrypt under the first secret key each of ``devices`` that an
        older key sealed, inside the update that just used them. A secret no configured key
        opens is left as it is (the sign-in it matched did not need it)."""
        box = self.kernel.box
        for device in devices:
            with contextlib.suppress(DecryptionError):
                if box.needs_rotation(device.secret):
                    device.secret = box.rotate(device.secret, context=user_id)

    def _matching_step(
        self, user_id: str, code: object, devices: list[TotpDevice], now: float
    ) -> int | None:
        """The time step at which ``code`` is valid for one of ``devices``, if any."""
        for device in devices:
            secret = self.kernel.box.decrypt(device.secret, context=user_id)
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

    def _issuer(self) -> str:
        if self.config.issuer:
            return self.config.issuer
        try:
            from supertokens_python.supertokens import Supertokens

            return Supertokens.get_instance().app_info.app_name.replace(":", " ") or "st-twofactor"
        except Exception:
            return "st-twofactor"


def _free_name(state: TwoFactorState) -> str:
    """The first of ``authenticator``, ``authenticator 2``, ... that no verified device
    has (an unverified device of that name is replaced: enrolment started again)."""
    for number in range(1, MAX_DEVICES + 2):
        name = DEFAULT_DEVICE_NAME if number == 1 else f"{DEFAULT_DEVICE_NAME} {number}"
        existing = state.device(name)
        if existing is None or not existing.verified:
            return name
    return DEFAULT_DEVICE_NAME  # every name taken: refused as DEVICE_ALREADY_EXISTS_ERROR
