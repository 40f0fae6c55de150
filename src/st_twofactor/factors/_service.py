"""The second-factor flows: TOTP devices, TOTP codes, recovery codes, admin.

Framework-free: each flow takes a user id (and, where freshness matters, the session's
access token payload) and returns a JSON-ready, typed result with a SuperTokens-style
``status`` (:mod:`st_twofactor.results`). The rules every factor shares (step-up, failure,
success) are :mod:`st_twofactor.factors.base`; completing the session after a right code is
:mod:`st_twofactor.kernel.completion`. :mod:`st_twofactor.http.routes` turns the flows into HTTP;
the admin functions in :mod:`st_twofactor.admin` call them directly.

Every check that must hold across concurrent requests (a TOTP step used once, a
recovery code consumed once, attempts counted) is one atomic ``store.update``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from supertokens_python.recipe.session.claims import BooleanClaim

from st_twofactor import events
from st_twofactor.claim import SecondFactorClaim, completed_at, completed_within
from st_twofactor.config import TwoFactorConfig
from st_twofactor.errors import DecryptionError
from st_twofactor.factors import _device_names
from st_twofactor.factors import base as factors
from st_twofactor.factors.base import (
    FACTOR_IDS,
    Counted,
    Factor,
    FactorId,
    FactorView,
    Locked,
    count_attempt,
    is_factor_id,
    record_success,
)
from st_twofactor.factors.recovery_codes import codes as recovery_codes
from st_twofactor.factors.totp import algorithm as totp
from st_twofactor.kernel import throttle
from st_twofactor.kernel.completion import REMEMBER_COOKIE as REMEMBER_COOKIE
from st_twofactor.kernel.completion import REMEMBER_HEADER as REMEMBER_HEADER
from st_twofactor.kernel.completion import SessionCompletion
from st_twofactor.kernel.crypto import SecretBox
from st_twofactor.kernel.known_devices import KnownDevices
from st_twofactor.kernel.remember import RememberDeviceTokens
from st_twofactor.kernel.request_store import RequestStore
from st_twofactor.kernel.throttle import Allowed, Refused, check
from st_twofactor.results import (
    CodeRefused,
    CreateDeviceResult,
    DeviceRemoved,
    DeviceVerified,
    Overview,
    RegenerateResult,
    VerifyDeviceResult,
    VerifyRecoveryCodeResult,
    VerifyTotpResult,
)
from st_twofactor.results import Contact as ContactResult
from st_twofactor.stores.state import TotpDevice, TwoFactorState

if TYPE_CHECKING:
    from st_twofactor.factors.webauthn.flows import WebAuthnFlows

DEFAULT_DEVICE_NAME = "authenticator"
MAX_DEVICES = 10
_DEVELOPMENT_KEY = "st-twofactor development key: never use in production"


def valid_device_name(name: object) -> bool:
    """A device name is 1-64 printable characters, no invisible ones, no word mixing
    scripts; names are compared case- and width-insensitively (:mod:`._device_names`)."""
    return _device_names.valid_device_name(name)


def secret_keys(config: TwoFactorConfig) -> tuple[str, ...]:
    """The app's keys; in development mode without keys, a fixed (insecure) one."""
    return tuple(config.secret_keys) or (_DEVELOPMENT_KEY,)


def remember_tokens(config: TwoFactorConfig) -> RememberDeviceTokens:
    return RememberDeviceTokens(secret_keys(config))


@dataclass(frozen=True)
class AccountContacts:
    """What the user's account says about where codes may go, for :meth:`overview`.

    :param emails: the real e-mail addresses of the user's login methods, normalised
        (lower case), in the account's order; the SDK's made-up addresses left out.
    :param signed_in_with: the e-mail address and phone number of the passwordless
        login method the session signed in with, if it did (they cannot be its second
        factor), normalised the same way.
    """

    emails: tuple[str, ...] = ()
    signed_in_with: frozenset[str] = frozenset()


def mask_phone(phone: str) -> str:
    """A phone number with all but its first 3 and last 2 characters hidden."""
    if len(phone) <= 6:
        return "*" * max(len(phone) - 2, 0) + phone[-2:]
    return phone[:3] + "*" * (len(phone) - 5) + phone[-2:]


# -- the factors, as GET /auth/2fa sees them (the contract: st_twofactor.factors.base.Factor) --


class _TotpFactor:
    id: FactorId = "totp"

    def can_complete(self, view: FactorView) -> bool:
        return view.enabled and any(d.verified for d in view.state.totp_devices)

    def can_enrol(self, view: FactorView) -> bool:
        return len(view.state.totp_devices) < MAX_DEVICES


class _EmailCodeFactor:
    id: FactorId = "otp-email"

    def can_complete(self, view: FactorView) -> bool:
        """To the pinned address or, while one may be pinned, the account's."""
        return view.enabled and view.email is not None

    def can_enrol(self, view: FactorView) -> bool:
        return view.state.email is None and view.email is not None


class _PhoneCodeFactor:
    id: FactorId = "otp-phone"

    def can_complete(self, view: FactorView) -> bool:
        return view.enabled and view.phone is not None

    def can_enrol(self, view: FactorView) -> bool:
        return view.state.phone is None


class _RecoveryCodeFactor:
    id: FactorId = "recovery-code"

    def can_complete(self, view: FactorView) -> bool:
        """While any are left, whatever ``config.factors`` says (they are the way back)."""
        return bool(view.state.recovery_codes)

    def can_enrol(self, view: FactorView) -> bool:
        """Beside another factor, after a fresh 2FA, when none are left."""
        state = view.state
        has_factor = any(f != "recovery-code" for f in state.factor_ids())
        return has_factor and view.fresh and not state.recovery_codes


class _SecurityKeyFactor:
    id: FactorId = "webauthn"

    def can_complete(self, view: FactorView) -> bool:
        return view.enabled and bool(view.state.webauthn_credentials)

    def can_enrol(self, view: FactorView) -> bool:
        return len(view.state.webauthn_credentials) < MAX_DEVICES


FACTORS: dict[FactorId, Factor] = {
    f.id: f
    for f in (
        _TotpFactor(),
        _EmailCodeFactor(),
        _PhoneCodeFactor(),
        _RecoveryCodeFactor(),
        _SecurityKeyFactor(),
    )
}
"""Every factor, by id: what ``GET /auth/2fa`` asks each about (``next``, ``enrollable``)."""


class StepUpRequired(Exception):
    """A factor change was refused: the user has a factor and the session's 2FA is not
    recent (S8). Raised from inside the store update, so nothing is stored."""


@dataclass(frozen=True)
class _Match:
    """The outcome of one TOTP attempt, decided inside one atomic store update."""

    counted: Counted
    matched: bool
    gave_codes: bool = False


class TwoFactorService:
    """The 2FA flows for one :class:`~st_twofactor.config.TwoFactorConfig`."""

    def __init__(self, config: TwoFactorConfig, *, claim: BooleanClaim = SecondFactorClaim):
        self.config = config
        self.claim = claim
        self.known_devices = KnownDevices(secret_keys(config), config.clock)
        self.store = RequestStore(config.state_store, claim, self.known_devices)
        self.box = SecretBox(secret_keys(config))
        self.remember_tokens = remember_tokens(config)
        self.completion = SessionCompletion(config, claim, self.remember_tokens, self.known_devices)
        self.policy = config.throttle_policy
        self._webauthn: Any = None

    @property
    def webauthn(self) -> WebAuthnFlows:
        """The security-key flows (:mod:`~st_twofactor.factors.webauthn.flows`), made on first use:
        they need the optional ``webauthn`` package."""
        if self._webauthn is None:
            from st_twofactor.factors.webauthn.flows import WebAuthnFlows

            self._webauthn = WebAuthnFlows(self)
        flows: WebAuthnFlows = self._webauthn
        return flows

    # -- reading --

    def is_fresh(self, payload: dict[str, Any]) -> bool:
        """Whether the session's 2FA was completed within the step-up window."""
        window = self.config.step_up_window
        return completed_within(payload, window, now=self.config.clock(), claim=self.claim)

    def needs_step_up(self, state: TwoFactorState, payload: dict[str, Any]) -> bool:
        """Changing factors needs a fresh 2FA, except a first enrolment (S8)."""
        return factors.needs_step_up(
            state,
            payload,
            window=self.config.step_up_window,
            now=self.config.clock(),
            claim=self.claim,
        )

    def _check_step_up(self, state: TwoFactorState, payload: dict[str, Any] | None) -> None:
        """Raise :class:`StepUpRequired` when ``payload`` is given and needs a step-up."""
        if payload is not None and self.needs_step_up(state, payload):
            raise StepUpRequired

    def overview(
        self,
        state: TwoFactorState,
        payload: dict[str, Any],
        required: bool,
        account: AccountContacts | None = None,
    ) -> Overview:
        """What ``GET /2fa`` answers: enough for a frontend to show the right screen.

        - ``enabled``: the factor ids the app enabled (``config.factors``).
        - ``factors``: the ones the user enrolled.
        - ``next``: the ones that can complete 2FA now, in ``FACTOR_IDS`` order: a verified
          TOTP device; an e-mail code to the pinned address or, before one is pinned, to
          the account's address when the user may still pin it (no factor yet, or a fresh
          2FA); an SMS code to the pinned number; a recovery code while any are left; a
          security key (``webauthn``) when the user has one. A
          factor that is locked (see ``locked``) is left out until the lockout ends, and
          so is the contact the session signed in with (a passwordless first factor).
        - ``enrollable``: the ones the user may enrol now, which needs no factor yet or a
          fresh 2FA (S8): TOTP (below 10 devices), an e-mail address (none pinned and the
          account has one), a phone number (none pinned), recovery codes (beside another
          factor, when none are left), a security key (below 10).
        - ``contacts``: for each enabled code factor with a known destination, where the
          code would go (``{"contact": ..., "masked": ...}``): the pinned or account
          e-mail; the pinned phone number, masked unless the 2FA is fresh (then the user
          types it, and it must match).
        - ``locked``: factor id -> milliseconds until it may be tried again.
        - ``devices``: the TOTP devices; ``securityKeys``: the WebAuthn credentials (name,
          when added, when last used), never key material.
        """
        account = account or AccountContacts()
        now = self.config.clock()
        enrolled = state.factor_ids()
        enabled = list(self.config.factors)
        fresh = self.is_fresh(payload)
        may_add = not enrolled or fresh
        locked = self._locked(state, (*enabled, *enrolled), now)
        email = self._email_contact(state, account, may_add=may_add)
        phone = state.phone if state.phone not in account.signed_in_with else None

        views = {
            f: FactorView(state, f in enabled, fresh, email=email, phone=phone) for f in FACTOR_IDS
        }
        next_factors = [
            f for f in FACTOR_IDS if FACTORS[f].can_complete(views[f]) and f not in locked
        ]
        enrollable: list[str] = [
            f for f in enabled if is_factor_id(f) and FACTORS[f].can_enrol(views[f])
        ]
        contacts: dict[str, ContactResult] = {}
        if "otp-email" in enabled and email is not None:
            contacts["otp-email"] = {"contact": email, "masked": False}
        if "otp-phone" in enabled and phone is not None:
            shown = phone if fresh else mask_phone(phone)
            contacts["otp-phone"] = {"contact": shown, "masked": not fresh}
        return {
            "status": "OK",
            "completed": completed_at(payload, claim=self.claim) is not None,
            "required": required,
            "enabled": enabled,
            "factors": enrolled,
            "next": next_factors,
            "enrollable": enrollable if may_add else [],
            "contacts": contacts,
            "locked": locked,
            "recoveryCodesLeft": len(state.recovery_codes),
            "devices": [{"name": d.name, "verified": d.verified} for d in state.totp_devices],
            "securityKeys": [
                {"name": k.name, "createdAt": k.created_at, "lastUsedAt": k.last_used_at}
                for k in state.webauthn_credentials
            ],
        }

    def _locked(
        self, state: TwoFactorState, factors: tuple[str, ...], now: float
    ) -> dict[str, int]:
        """The factors refused now by the throttle, with the wait in milliseconds."""
        waits = {}
        for factor in dict.fromkeys(factors):
            decision = throttle.check(self.policy, state.throttle, factor, now)
            if isinstance(decision, Refused):
                waits[factor] = decision.retry_after_ms
        return waits

    @staticmethod
    def _email_contact(
        state: TwoFactorState, account: AccountContacts, *, may_add: bool
    ) -> str | None:
        """Where an e-mail code would go now: the pinned address, else (while a contact
        may be pinned) the account's first address; never the sign-in contact."""
        if state.email is not None:
            pinned = state.email.strip().lower()
            return None if pinned in account.signed_in_with else state.email
        if not may_add:
            return None
        return next((e for e in account.emails if e not in account.signed_in_with), None)

    # -- TOTP enrolment --

    async def create_totp_device(
        self,
        user_id: str,
        account_name: str,
        device_name: str,
        user_context: dict[str, Any],
        *,
        session_payload: dict[str, Any] | None = None,
    ) -> CreateDeviceResult:
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

        def add(state: TwoFactorState) -> CreateDeviceResult | None:
            """None when added; else why not."""
            self._check_step_up(state, session_payload)
            existing = state.device(device_name)
            if existing is not None and existing.verified:
                return {"status": "DEVICE_ALREADY_EXISTS_ERROR"}
            if existing is None and len(state.totp_devices) >= MAX_DEVICES:
                return {"status": "TOO_MANY_DEVICES_ERROR"}
            state.remove_device(device_name)
            state.totp_devices.append(TotpDevice(device_name, sealed, False, now))
            return None

        refused = await self.store.update(user_id, add, user_context)
        if refused is not None:
            return refused
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
    ) -> VerifyDeviceResult:
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
            if not any(d.verified for d in state.totp_devices):
                # The first device: others still waiting for a first code were started
                # with the first factor alone (maybe by someone else): drop them.
                state.totp_devices = [target]
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
        result: DeviceVerified = {"status": "OK"}
        if outcome.gave_codes:
            result["recoveryCodes"] = new_codes
        return result

    async def remove_totp_device(
        self, user_id: str, device_name: str, user_context: dict[str, Any]
    ) -> DeviceRemoved:
        def remove(state: TwoFactorState) -> bool:
            if state.remove_device(device_name) is None:
                return False
            state.bump_epoch()
            if not [f for f in state.factor_ids() if f != "recovery-code"]:
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

    async def verify_totp(
        self, user_id: str, code: object, user_context: dict[str, Any]
    ) -> VerifyTotpResult:
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
            counted = count_attempt(self.policy, state, "totp", now)
            if not isinstance(counted.decision, Allowed):
                return _Match(counted, matched=False)
            step = self._matching_step(user_id, code, candidates, now)
            if step is None:
                return _Match(counted, matched=False)
            if not state.use_totp_step(step):
                return _Match(counted, matched=False)  # a replay: a wrong code
            record_success(state, now)
            self._reseal(user_id, candidates)
            gave_codes = on_match(state) if on_match is not None else False
            return _Match(counted, matched=True, gave_codes=gave_codes)

        return await self.store.update(user_id, attempt, user_context)

    def _reseal(self, user_id: str, devices: list[TotpDevice]) -> None:
        """Key rotation: re-encrypt under the first secret key each of ``devices`` that an
        older key sealed, inside the update that just used them. A secret no configured key
        opens is left as it is (the sign-in it matched did not need it)."""
        for device in devices:
            with contextlib.suppress(DecryptionError):
                if self.box.needs_rotation(device.secret):
                    device.secret = self.box.rotate(device.secret, context=user_id)

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
    ) -> VerifyRecoveryCodeResult:
        """Redeem one recovery code; each works once, also under concurrent use (S7)."""
        now = self.config.clock()
        async with self.store.transaction(user_id, user_context) as held:
            # The slow hash comparison runs before the update; the update re-checks that
            # the matched code is still there (a store may let another request in between).
            state = await held.load()
            hashes = list(state.recovery_codes)
            # A locked factor is refused before the costly hashing (the update below
            # refuses it again, atomically): a locked account costs no PBKDF2 work.
            locked = isinstance(check(self.policy, state.throttle, "recovery-code", now), Refused)
            found = (
                await asyncio.to_thread(recovery_codes.find_match, code, hashes)
                if hashes and not locked
                else None
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
            counted = count_attempt(self.policy, state, "recovery-code", now)
            if not isinstance(counted.decision, Allowed) or wanted is None:
                return _Match(counted, matched=False), len(state.recovery_codes)
            if not state.remove_recovery_code(wanted):
                # used meanwhile by a concurrent request: a wrong code now
                return _Match(counted, matched=False), len(state.recovery_codes)
            record_success(state, now)
            return _Match(counted, matched=True), len(state.recovery_codes)

        return attempt

    async def _new_recovery_codes(self) -> tuple[list[str], list[str]]:
        """A new set of codes and their salted hashes (hashed off the event loop)."""
        codes = recovery_codes.generate(self.config.recovery_code_count)
        hashes = await asyncio.to_thread(lambda: [recovery_codes.hash_code(c) for c in codes])
        return codes, hashes

    async def regenerate_recovery_codes(
        self, user_id: str, user_context: dict[str, Any]
    ) -> RegenerateResult:
        """A new set of codes; the old ones stop working at once.

        Only for a user with another factor enrolled (S18): recovery codes are a fallback
        for a factor, so without one the answer is ``NO_FACTOR_ERROR`` and nothing changes.
        """
        codes, hashes = await self._new_recovery_codes()

        def replace(state: TwoFactorState) -> bool:
            if not [f for f in state.factor_ids() if f != "recovery-code"]:
                return False
            state.recovery_codes = list(hashes)
            state.bump_epoch()
            return True

        if not await self.store.update(user_id, replace, user_context):
            return {
                "status": "NO_FACTOR_ERROR",
                "message": "Recovery codes need another factor: enrol one first.",
            }
        await self._emit(
            events.RecoveryCodesRegenerated(
                user_id=user_id, at=self.config.clock(), count=len(codes)
            )
        )
        return {"status": "OK", "recoveryCodes": codes}

    # -- shared --

    async def _failure(self, factor: FactorId, user_id: str, outcome: _Match) -> CodeRefused:
        """The shared failure rule (:func:`~st_twofactor.factors.base.failure`) as this API's
        answer: ``INVALID_CODE_ERROR`` with the attempts left, or ``LIMIT_REACHED_ERROR``
        with the wait when the factor is locked (also by this very failure)."""
        answer, happened = factors.failure(
            outcome.counted, user_id=user_id, factor=factor, now=self.config.clock()
        )
        for event in happened:
            await self._emit(event)
        if isinstance(answer, Locked):
            return {"status": "LIMIT_REACHED_ERROR", "retryAfterMs": answer.retry_after_ms}
        return {"status": "INVALID_CODE_ERROR", "attemptsLeft": answer.attempts_left}

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
