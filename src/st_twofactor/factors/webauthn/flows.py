"""Security keys and passkeys as a second factor: the flows behind ``/auth/2fa/webauthn/...``.

The ceremonies themselves (options, verification, typed refusals) are the pure functions
of :mod:`st_twofactor.factors.webauthn._core`; this module adds the user's state and the rules every
factor shares (:mod:`st_twofactor.factors.base`):

- **Signed challenges, one atomic update per answer.** Asking for options reads the
  user's state once and writes nothing: the challenge is signed
  (:class:`~st_twofactor.factors.webauthn._core.ChallengeSigner`), bound to the user, the session
  and
  the ceremony, and expires after the policy's ``challenge_lifetime``. An answer whose
  signature verified (accepted, or refused for its sign count or as a key already added:
  :data:`~st_twofactor.factors.webauthn._core.VERIFIED_REFUSALS`) has its challenge recorded as
  answered in the same update that checks it and stores the result; a challenge already
  recorded is refused. A challenge is therefore accepted at most once, also by two
  concurrent requests, and an answer that did not verify changes nothing but the
  attempt count: nobody without the key can use up a challenge or fill the record.
  Answered challenges are kept until they expire (plus :data:`CLOCK_MARGIN`), at most
  :data:`MAX_ANSWERED`.
- **Step-up** for adding a key (as for a TOTP device): none needed for a first factor,
  else a 2FA presented in this session within the window (:class:`StepUpRequired`).
- **Failure rule**: every answer is counted against ``"webauthn"`` before it is checked;
  a refused one answers ``INVALID_CREDENTIAL_ERROR`` with the attempts left, or
  ``LIMIT_REACHED_ERROR`` with the throttle's wait. A sign count that did not increase is
  refused the same way and also reported (:class:`~st_twofactor.events.SignCountRegressed`).
- **Success**: clears the failure counts of every factor; a first real factor gets the
  recovery codes (when enabled), as TOTP does.

Completing the session (claim with ``m="webauthn"``, remember-device) is the caller's
(:mod:`st_twofactor.http.routes`, through :mod:`st_twofactor.kernel.completion`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from st_twofactor import events
from st_twofactor.errors import ConfigurationError
from st_twofactor.factors import base as factors
from st_twofactor.factors._device_names import device_key
from st_twofactor.factors._service import StepUpRequired, secret_keys
from st_twofactor.factors.base import Counted, Locked, count_attempt, record_success
from st_twofactor.factors.recovery_codes import codes as recovery_codes
from st_twofactor.factors.webauthn.ceremonies import (
    VERIFIED_REFUSALS,
    RefusalReason,
    authentication_options,
    registration_options,
    verify_authentication,
    verify_registration,
)
from st_twofactor.factors.webauthn.challenge import ChallengeSigner, challenge_signed
from st_twofactor.factors.webauthn.policy import WebAuthnPolicy
from st_twofactor.factors.webauthn.records import PendingChallenge, WebAuthnCredential
from st_twofactor.kernel import throttle
from st_twofactor.kernel.throttle import Allowed
from st_twofactor.results import (
    AuthenticationOptionsResult,
    AuthenticationResult,
    CredentialRefused,
    DeviceAlreadyExists,
    DeviceRemoved,
    RegistrationOptionsResult,
    RegistrationResult,
    SecurityKeyAdded,
    TooManyDevices,
)

if TYPE_CHECKING:
    from st_twofactor.factors._service import TwoFactorService
    from st_twofactor.stores.state import TwoFactorState

__all__ = [
    "CLOCK_MARGIN",
    "DEFAULT_KEY_NAME",
    "MAX_ANSWERED",
    "MAX_KEYS",
    "StepUpRequired",
    "WebAuthnFlows",
    "policy_from_sdk",
]

DEFAULT_KEY_NAME = "security key"
MAX_KEYS = 10
"""Security keys and passkeys per user (as for TOTP devices)."""
MAX_ANSWERED = 16
"""Answered challenges (of answers that verified) kept per user until they expire. One
more within a challenge lifetime is refused (:attr:`RefusalReason.TOO_MANY_ANSWERS`) until
the oldest expires: forgetting an unexpired one would let its answer be replayed. Only the
holder of one of the user's keys can get that far."""
CLOCK_MARGIN = 60.0
"""Seconds an answered challenge is kept after it expired, for workers whose clocks differ."""


def policy_from_sdk() -> WebAuthnPolicy:
    """The policy derived from the initialised SDK's ``app_info``
    (:meth:`WebAuthnPolicy.from_app_info`); :class:`ConfigurationError` if it cannot be."""
    from supertokens_python.supertokens import Supertokens

    app_info = Supertokens.get_instance().app_info
    try:
        website = app_info.get_origin(None, {}).get_as_string_dangerous()
    except Exception as exc:  # an origin function that needs a request
        raise ConfigurationError(
            "st-twofactor cannot derive the WebAuthn RP ID from app_info (its origin is "
            "computed per request): pass TwoFactorConfig(webauthn=WebAuthnPolicy(rp_id=..., "
            "rp_name=..., origins=(...)))"
        ) from exc
    try:
        return WebAuthnPolicy.from_app_info(
            app_name=app_info.app_name,
            website_domain=website,
            api_domain=str(app_info.api_domain.get_as_string_dangerous()),  # type: ignore[no-untyped-call]
        )
    except ConfigurationError as exc:
        raise ConfigurationError(
            f"st-twofactor cannot derive the WebAuthn policy from app_info: {exc}. Pass "
            "TwoFactorConfig(webauthn=WebAuthnPolicy(rp_id=..., rp_name=..., origins=(...)))"
        ) from exc


@dataclass(frozen=True)
class _Outcome:
    """One verification, decided inside one atomic store update."""

    counted: Counted | None
    """``None`` when nothing was counted: the answer was not checked (``refused_as``)."""
    refused_as: Literal["DEVICE_ALREADY_EXISTS_ERROR", "TOO_MANY_DEVICES_ERROR"] | None = None
    credential: WebAuthnCredential | None = None
    refusal: RefusalReason | None = None
    regressed: WebAuthnCredential | None = None
    """The stored key whose sign count the refused answer did not increase."""
    gave_codes: bool = False
    attempts_left: int = 0
    """For an answer that was not counted: the attempts the throttle still allows."""


class WebAuthnFlows:
    """The WebAuthn flows of one :class:`~st_twofactor.factors._service.TwoFactorService`."""

    def __init__(self, service: TwoFactorService) -> None:
        self.service = service
        self.config = service.config
        self.store = service.store
        self._policy = service.config.webauthn
        self._signer = ChallengeSigner(secret_keys(service.config))

    @property
    def policy(self) -> WebAuthnPolicy:
        """The configured policy, else the one derived from ``app_info`` (once)."""
        if self._policy is None:
            self._policy = policy_from_sdk()
        return self._policy

    # -- registration --

    async def registration_options(
        self,
        user_id: str,
        user_name: str,
        device_name: str,
        session_handle: str,
        payload: dict[str, Any],
        user_context: dict[str, Any],
    ) -> RegistrationOptionsResult:
        """Options to add a key called ``device_name``, after the step-up rule
        (:class:`StepUpRequired`); one read of the state, no write (signed challenge)."""
        policy = self.policy
        now = self.config.clock()
        state = await self.store.load(user_id, user_context)
        self._check_step_up(state, payload)
        keys = state.webauthn_credentials
        cannot_add = _cannot_add(keys, device_name)
        if cannot_add is not None:
            return cannot_add
        challenge = self._signer.issue(
            "register", user_id, session_handle, now + policy.challenge_lifetime
        )
        options, _ = registration_options(
            policy, user_id, user_name, keys, now, session_handle, challenge=challenge
        )
        return {"status": "OK", "options": options, "deviceName": device_name}

    async def register(
        self,
        user_id: str,
        device_name: str,
        credential: object,
        session_handle: str,
        payload: dict[str, Any],
        user_context: dict[str, Any],
    ) -> RegistrationResult:
        """Add the key the browser created, if its answer is right (one update: an answer
        that verified uses its challenge up)."""
        policy = self.policy
        now = self.config.clock()
        gives_codes = "recovery-code" in self.config.factors
        new_codes, hashes = await _new_recovery_codes(self.config.recovery_code_count, gives_codes)

        def attempt(state: TwoFactorState) -> _Outcome:
            self._check_step_up(state, payload)
            keys = list(state.webauthn_credentials)
            cannot_add = _cannot_add(keys, device_name)
            if cannot_add is not None:
                return _Outcome(None, refused_as=cannot_add["status"])
            counted = count_attempt(self.service.policy, state, "webauthn", now)
            if not isinstance(counted.decision, Allowed):
                return _Outcome(counted)
            pending = self._open(state, credential, user_id, session_handle, now)
            if isinstance(pending, RefusalReason):
                return _Outcome(counted, refusal=pending)
            verified = verify_registration(
                policy, pending, credential, session_handle, now, device_name, keys
            )
            _use_up_if_verified(state, pending, verified)
            if isinstance(verified, RefusalReason):
                return _Outcome(counted, refusal=verified)
            record_success(state, now)
            state.webauthn_credentials = [*keys, verified]
            state.bump_epoch()
            gave = gives_codes and not state.recovery_codes
            if gave:
                state.recovery_codes = list(hashes)
            return _Outcome(counted, credential=verified, gave_codes=gave)

        outcome = await self.store.update(user_id, attempt, user_context)
        if outcome.refused_as == "TOO_MANY_DEVICES_ERROR":
            return {"status": "TOO_MANY_DEVICES_ERROR"}
        if outcome.refused_as is not None or outcome.refusal in _ALREADY_THERE:
            return {"status": "DEVICE_ALREADY_EXISTS_ERROR"}
        if outcome.credential is None:
            return await self._refused(user_id, outcome)
        await self._emit(
            events.FactorEnrolled(
                user_id=user_id, at=self.config.clock(), factor="webauthn", device_name=device_name
            )
        )
        result: SecurityKeyAdded = {"status": "OK"}
        if outcome.gave_codes:
            result["recoveryCodes"] = new_codes
        return result

    # -- authentication --

    async def authentication_options(
        self, user_id: str, session_handle: str, user_context: dict[str, Any]
    ) -> AuthenticationOptionsResult:
        """Options listing the user's keys: one read of the state, no write (signed
        challenge)."""
        state = await self.store.load(user_id, user_context)
        options = self.options_for(state, user_id, session_handle)
        if options is None:
            return {"status": "WEBAUTHN_NOT_ENABLED_ERROR"}
        return {"status": "OK", "options": options}

    def options_for(
        self, state: TwoFactorState, user_id: str, session_handle: str
    ) -> dict[str, Any] | None:
        """Authentication options for a state the caller read (no store call): the user's
        keys and a new signed challenge; ``None`` when the user has no key."""
        if not state.webauthn_credentials:
            return None
        policy = self.policy
        now = self.config.clock()
        challenge = self._signer.issue(
            "authenticate", user_id, session_handle, now + policy.challenge_lifetime
        )
        options, _ = authentication_options(
            policy, state.webauthn_credentials, now, session_handle, challenge=challenge
        )
        return options

    async def authenticate(
        self, user_id: str, credential: object, session_handle: str, user_context: dict[str, Any]
    ) -> AuthenticationResult:
        """Check the browser's assertion: its challenge is used up, the attempt counted,
        and on success the key's sign count stored, all in one update."""
        policy = self.policy
        now = self.config.clock()

        def attempt(state: TwoFactorState) -> _Outcome | None:
            keys = list(state.webauthn_credentials)
            if not keys:
                return None
            if _answering(keys, credential) is None:
                # Names none of the user's keys, or does not parse: it cannot be the
                # owner's, so it is refused without counting toward a lockout (I4).
                decision = throttle.check(self.service.policy, state.throttle, "webauthn", now)
                left = decision.attempts_left if isinstance(decision, Allowed) else 0
                return _Outcome(None, refusal=_not_a_key_of(credential), attempts_left=left)
            counted = count_attempt(self.service.policy, state, "webauthn", now)
            if not isinstance(counted.decision, Allowed):
                return _Outcome(counted)
            pending = self._open(state, credential, user_id, session_handle, now)
            if isinstance(pending, RefusalReason):
                return _Outcome(counted, refusal=pending)
            verified = verify_authentication(policy, pending, credential, keys, session_handle, now)
            _use_up_if_verified(state, pending, verified)
            if verified is RefusalReason.SIGN_COUNT_REGRESSION:
                regressed = _answering(keys, credential)
                return _Outcome(counted, refusal=verified, regressed=regressed)
            if isinstance(verified, RefusalReason):
                return _Outcome(counted, refusal=verified)
            record_success(state, now)
            state.webauthn_credentials = [
                verified if k.credential_id == verified.credential_id else k for k in keys
            ]
            return _Outcome(counted, credential=verified)

        outcome = await self.store.update(user_id, attempt, user_context)
        if outcome is None:
            return {"status": "WEBAUTHN_NOT_ENABLED_ERROR"}
        if outcome.credential is None:
            if outcome.regressed is not None:
                await self._emit(
                    events.SignCountRegressed(
                        user_id=user_id,
                        at=self.config.clock(),
                        factor="webauthn",
                        device_name=outcome.regressed.name,
                    )
                )
            return await self._refused(user_id, outcome)
        await self._emit(
            events.VerificationSucceeded(user_id=user_id, at=self.config.clock(), factor="webauthn")
        )
        return {"status": "OK"}

    # -- removal --

    async def remove(
        self, user_id: str, device_name: str, user_context: dict[str, Any]
    ) -> DeviceRemoved:
        """Remove the key called ``device_name`` (the caller checked the fresh 2FA)."""

        def remove(state: TwoFactorState) -> bool:
            keys = state.webauthn_credentials
            gone = _named(keys, device_name)
            state.webauthn_credentials = [k for k in keys if k is not gone]
            if len(state.webauthn_credentials) == len(keys):
                return False
            state.bump_epoch()
            if not [f for f in state.factor_ids() if f != "recovery-code"]:
                state.recovery_codes = []  # a fallback for a factor: none left
            return True

        existed = await self.store.update(user_id, remove, user_context)
        if existed:
            await self._emit(
                events.FactorRemoved(
                    user_id=user_id,
                    at=self.config.clock(),
                    factor="webauthn",
                    device_name=device_name,
                )
            )
        return {"status": "OK", "didDeviceExist": existed}

    # -- shared --

    def _open(
        self,
        state: TwoFactorState,
        credential: object,
        user_id: str,
        session_handle: str,
        now: float,
    ) -> PendingChallenge | RefusalReason:
        """The challenge the answer signed, or why it cannot be used: not made by this app
        for this user and session, expired, answered before, or one verified answer too
        many (:data:`MAX_ANSWERED`). Expired records leave ``state``; the caller records
        the challenge once the answer verified."""
        opened = self._signer.open(challenge_signed(credential), user_id, session_handle, now)
        kept = [c for c in state.webauthn_challenges if c.expires_at + CLOCK_MARGIN > now]
        state.webauthn_challenges = kept
        if isinstance(opened, RefusalReason):
            return opened
        if any(c.challenge == opened.challenge for c in kept):
            return RefusalReason.NO_CHALLENGE  # answered before: a replay
        if len(kept) >= MAX_ANSWERED:
            return RefusalReason.TOO_MANY_ANSWERS
        return opened

    def _check_step_up(self, state: TwoFactorState, payload: dict[str, Any]) -> None:
        if self.service.needs_step_up(state, payload):
            raise StepUpRequired

    async def _refused(self, user_id: str, outcome: _Outcome) -> CredentialRefused:
        """The shared failure rule as this API's answer."""
        if outcome.counted is None:  # an answer that cannot be the owner's: not counted
            await self._emit(
                events.VerificationFailed(
                    user_id=user_id,
                    at=self.config.clock(),
                    factor="webauthn",
                    attempts_left=outcome.attempts_left,
                    reason=None if outcome.refusal is None else outcome.refusal.value,
                )
            )
            return {"status": "INVALID_CREDENTIAL_ERROR", "attemptsLeft": outcome.attempts_left}
        answer, happened = factors.failure(
            outcome.counted,
            user_id=user_id,
            factor="webauthn",
            now=self.config.clock(),
            reason=None if outcome.refusal is None else outcome.refusal.value,
        )
        for event in happened:
            await self._emit(event)
        if isinstance(answer, Locked):
            return {"status": "LIMIT_REACHED_ERROR", "retryAfterMs": answer.retry_after_ms}
        return {"status": "INVALID_CREDENTIAL_ERROR", "attemptsLeft": answer.attempts_left}

    async def _emit(self, event: events.Event) -> None:
        await events.emit(self.config.on_event, event)


_ALREADY_THERE = (RefusalReason.DUPLICATE_NAME, RefusalReason.DUPLICATE_CREDENTIAL)


async def _new_recovery_codes(count: int, wanted: bool) -> tuple[list[str], list[str]]:
    """Recovery codes and their salted hashes, made (off the event loop) before the
    update that may store them, as for TOTP; none when the app does not use them."""
    if not wanted:
        return [], []
    codes = recovery_codes.generate(count)
    hashes = await asyncio.to_thread(lambda: [recovery_codes.hash_code(c) for c in codes])
    return codes, hashes


def _cannot_add(
    keys: list[WebAuthnCredential], name: str
) -> DeviceAlreadyExists | TooManyDevices | None:
    """Why a key called ``name`` cannot be added beside ``keys``, if it cannot."""
    if _named(keys, name) is not None:
        return {"status": "DEVICE_ALREADY_EXISTS_ERROR"}
    if len(keys) >= MAX_KEYS:
        return {"status": "TOO_MANY_DEVICES_ERROR"}
    return None


def _use_up_if_verified(
    state: TwoFactorState,
    pending: PendingChallenge,
    verified: WebAuthnCredential | RefusalReason,
) -> None:
    """Record ``pending`` as answered when its answer verified (accepted, or one of
    :data:`~st_twofactor.factors.webauthn._core.VERIFIED_REFUSALS`): it is not accepted again."""
    if not isinstance(verified, RefusalReason) or verified in VERIFIED_REFUSALS:
        state.webauthn_challenges.append(pending)


def _named(keys: list[WebAuthnCredential], name: str) -> WebAuthnCredential | None:
    """The key called ``name``, compared as device names are (look-alikes are the same
    name, :func:`~st_twofactor.factors._device_names.device_key`)."""
    wanted = device_key(name)
    return next((k for k in keys if device_key(k.name) == wanted), None)


def _not_a_key_of(credential: object) -> RefusalReason:
    """Why an answer that names none of the user's keys is refused: it names no key at
    all (malformed), or another one."""
    named = isinstance(credential, dict) and isinstance(credential.get("id"), str)
    return RefusalReason.UNKNOWN_CREDENTIAL if named else RefusalReason.MALFORMED


def _answering(keys: list[WebAuthnCredential], credential: object) -> WebAuthnCredential | None:
    """The stored key the answer names (its ``id``), if any."""
    credential_id = credential.get("id") if isinstance(credential, dict) else None
    return next((k for k in keys if k.credential_id == credential_id), None)
