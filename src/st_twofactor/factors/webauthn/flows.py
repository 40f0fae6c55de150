"""Security keys and passkeys as a second factor: the flows behind ``/auth/2fa/webauthn/...``.

The ceremonies (options, verification, typed refusals) are pure functions in
:mod:`st_twofactor.factors.webauthn`; this module adds the user's state and the rules every
factor shares (:mod:`st_twofactor.factors.base`):

- **Signed challenges, one atomic update per answer.** Asking for options reads the state
  once and writes nothing: the challenge is signed, bound to the user, the session and the
  ceremony, and expires after the policy's ``challenge_lifetime``. An answer whose
  signature verified (accepted, or refused for its sign count or as a key already added)
  has its challenge recorded as answered in the same update that checks it; a challenge
  already recorded is refused. So a challenge is accepted at most once, also by two
  concurrent requests, and an answer that did not verify changes nothing but the attempt
  count: nobody without the key can use up a challenge or fill the record. Answered
  challenges are kept until they expire (plus :data:`CLOCK_MARGIN`), at most
  :data:`MAX_ANSWERED`.
- **Freshness** for adding a key, as for a TOTP device; a removal needs a fresh 2FA.
- **Failure rule**: every answer naming one of the user's keys is counted before it is
  checked; a refused one answers ``INVALID_CREDENTIAL_ERROR`` with the attempts left, or
  ``LIMIT_REACHED_ERROR`` with the throttle's wait. A sign count that did not increase is
  refused the same way and reported (:class:`~st_twofactor.events.SignCountRegressed`).
- **Success** clears the failure counts of every factor; a first real factor brings the
  recovery codes (when enabled), as TOTP does.

Completing the session is the HTTP layer's (:mod:`st_twofactor.kernel.completion`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from st_twofactor import events
from st_twofactor.errors import ConfigurationError
from st_twofactor.factors.base import Kernel, Locked
from st_twofactor.factors.webauthn._answers import (
    ALREADY_THERE,
    CLOCK_MARGIN,
    MAX_ANSWERED,
    Outcome,
    answering,
    cannot_add,
    named,
    not_a_key_of,
    use_up_if_verified,
)
from st_twofactor.factors.webauthn.ceremonies import (
    RefusalReason,
    authentication_options,
    registration_options,
    verify_authentication,
    verify_registration,
)
from st_twofactor.factors.webauthn.challenge import ChallengeSigner, challenge_signed
from st_twofactor.factors.webauthn.factor import DEFAULT_KEY_NAME, MAX_KEYS, WebAuthnFactor
from st_twofactor.factors.webauthn.policy import WebAuthnPolicy
from st_twofactor.factors.webauthn.records import PendingChallenge
from st_twofactor.kernel.throttle import Allowed
from st_twofactor.results import (
    AuthenticationOptionsResult,
    AuthenticationResult,
    CredentialRefused,
    RegistrationOptionsResult,
    RegistrationResult,
    SecurityKeyAdded,
)

if TYPE_CHECKING:
    from st_twofactor.stores.state import TwoFactorState

__all__ = [
    "CLOCK_MARGIN",
    "DEFAULT_KEY_NAME",
    "MAX_ANSWERED",
    "MAX_KEYS",
    "WebAuthnFlows",
    "policy_from_sdk",
]


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


class WebAuthnFlows(WebAuthnFactor):
    """The flows of security keys and passkeys (factor ``"webauthn"``)."""

    def __init__(self, kernel: Kernel) -> None:
        super().__init__(kernel)
        self._policy = kernel.config.webauthn
        self._signer = ChallengeSigner(kernel.config.keys_in_use)

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
        (:class:`~st_twofactor.factors.base.StepUpRequired`); one read of the state, no write
        (signed challenge)."""
        policy = self.policy
        now = self.config.clock()
        state = await self.store.load(user_id, user_context)
        self.check_change(state, payload)
        keys = state.webauthn_credentials
        refused = cannot_add(keys, device_name)
        if refused is not None:
            return refused
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
        new_codes, hashes = self.new_recovery_codes(user_id, only_if_used=True)

        def attempt(state: TwoFactorState) -> Outcome:
            self.check_change(state, payload)
            keys = list(state.webauthn_credentials)
            refused = cannot_add(keys, device_name)
            if refused is not None:
                return Outcome(None, refused_as=refused["status"])
            counted = self.count(state, now)
            if not isinstance(counted.decision, Allowed):
                return Outcome(counted)
            pending = self._open(state, credential, user_id, session_handle, now)
            if isinstance(pending, RefusalReason):
                return Outcome(counted, refusal=pending)
            verified = verify_registration(
                policy, pending, credential, session_handle, now, device_name, keys
            )
            use_up_if_verified(state, pending, verified)
            if isinstance(verified, RefusalReason):
                return Outcome(counted, refusal=verified)
            self.succeeded(state, now)
            state.webauthn_credentials = [*keys, verified]
            state.bump_epoch()
            gave = self.give_recovery_codes(state, hashes)
            return Outcome(counted, credential=verified, gave_codes=gave)

        outcome = await self.store.update(user_id, attempt, user_context)
        if outcome.refused_as == "TOO_MANY_DEVICES_ERROR":
            return {"status": "TOO_MANY_DEVICES_ERROR"}
        if outcome.refused_as is not None or outcome.refusal in ALREADY_THERE:
            return {"status": "DEVICE_ALREADY_EXISTS_ERROR"}
        if outcome.credential is None:
            return await self._refused(user_id, outcome, user_context)
        await self.emit(
            events.FactorEnrolled(
                user_id=user_id, at=self.config.clock(), factor="webauthn", device_name=device_name
            ),
            user_context,
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

        def attempt(state: TwoFactorState) -> Outcome | None:
            keys = list(state.webauthn_credentials)
            if not keys:
                return None
            if answering(keys, credential) is None:
                # Names none of the user's keys, or does not parse: it cannot be the
                # owner's, so it is refused without counting toward a lockout (I4).
                left = self.attempts_left(state, now)
                return Outcome(None, refusal=not_a_key_of(credential), attempts_left=left)
            counted = self.count(state, now)
            if not isinstance(counted.decision, Allowed):
                return Outcome(counted)
            pending = self._open(state, credential, user_id, session_handle, now)
            if isinstance(pending, RefusalReason):
                return Outcome(counted, refusal=pending)
            verified = verify_authentication(policy, pending, credential, keys, session_handle, now)
            use_up_if_verified(state, pending, verified)
            if verified is RefusalReason.SIGN_COUNT_REGRESSION:
                regressed = answering(keys, credential)
                return Outcome(counted, refusal=verified, regressed=regressed)
            if isinstance(verified, RefusalReason):
                return Outcome(counted, refusal=verified)
            self.succeeded(state, now)
            state.webauthn_credentials = [
                verified if k.credential_id == verified.credential_id else k for k in keys
            ]
            return Outcome(counted, credential=verified)

        outcome = await self.store.update(user_id, attempt, user_context)
        if outcome is None:
            return {"status": "WEBAUTHN_NOT_ENABLED_ERROR"}
        if outcome.credential is None:
            if outcome.regressed is not None:
                await self.emit(
                    events.SignCountRegressed(
                        user_id=user_id,
                        at=self.config.clock(),
                        factor="webauthn",
                        device_name=outcome.regressed.name,
                    )
                )
            return await self._refused(user_id, outcome, user_context)
        await self.emit(
            events.VerificationSucceeded(user_id=user_id, at=self.config.clock(), factor="webauthn")
        )
        return {"status": "OK"}

    # -- removal --

    def take_device(self, state: TwoFactorState, device_name: str) -> bool:
        keys = state.webauthn_credentials
        gone = named(keys, device_name)
        state.webauthn_credentials = [k for k in keys if k is not gone]
        return gone is not None

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

    async def _refused(
        self, user_id: str, outcome: Outcome, user_context: dict[str, Any]
    ) -> CredentialRefused:
        """The shared failure rule as this API's answer."""
        if outcome.counted is None:  # an answer that cannot be the owner's: not counted
            await self.emit(
                events.VerificationFailed(
                    user_id=user_id,
                    at=self.config.clock(),
                    factor="webauthn",
                    attempts_left=outcome.attempts_left,
                    reason=None if outcome.refusal is None else outcome.refusal.value,
                )
            )
            return {"status": "INVALID_CREDENTIAL_ERROR", "attemptsLeft": outcome.attempts_left}
        answer = await self.failed(
            user_id,
            outcome.counted,
            reason=None if outcome.refusal is None else outcome.refusal.value,
            user_context=user_context,
        )
        if isinstance(answer, Locked):
            return {"status": "LIMIT_REACHED_ERROR", "retryAfterMs": answer.retry_after_ms}
        return {"status": "INVALID_CREDENTIAL_ERROR", "attemptsLeft": answer.attempts_left}
