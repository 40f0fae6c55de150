"""The one configuration object of st-twofactor.

Every setting is keyword-only, has a documented default, and is checked when the
object is made: a bad value raises :class:`~st_twofactor.errors.ConfigurationError`
(a ``ValueError``) whose message says what to change. Settings that loosen a
security default (more skew, more attempts, a longer code lifetime) are allowed
but logged as a warning, as SECURITY-REQUIREMENTS asks.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from st_twofactor.errors import ConfigurationError
from st_twofactor.ids import FACTOR_IDS
from st_twofactor.kernel.send_quota import SendQuota
from st_twofactor.kernel.throttle import ThrottlePolicy
from st_twofactor.stores.base import Store
from st_twofactor.stores.metadata import UserMetadataStore

if TYPE_CHECKING:
    from st_twofactor.events import EventHook
    from st_twofactor.factors.webauthn.policy import WebAuthnPolicy
    from st_twofactor.notifications import Notifications

__all__ = [
    "RequiredPolicy",
    "TwoFactorConfig",
]

log = logging.getLogger("st_twofactor")


RequiredPolicy = bool | Callable[[str, str, dict[str, Any]], bool | Awaitable[bool]]
"""``True``/``False`` for everyone, or ``(user_id, tenant_id, user_context) -> bool``
(sync or async) to decide per user, e.g. admins only."""


_DEVELOPMENT_KEY = "st-twofactor development key: never use in production"


@dataclass(frozen=True, kw_only=True)
class TwoFactorConfig:
    """How st-twofactor behaves. All times are in seconds.

    :param required: who must complete a second factor (default: everyone).
    :param factors: the enabled factor ids, a subset of :data:`FACTOR_IDS`.
    :param secret_keys: a list of keys that encrypt TOTP secrets at rest and sign
        remember-device tokens; the first encrypts, all decrypt (rotation). Required
        unless ``development`` is true. A bare string is refused (is ``"k1,k2"`` one key
        or two?): pass ``[key]``, or ``value.split(",")`` for a comma-separated variable.
    :param development: allow running without ``secret_keys`` (a fixed, logged,
        insecure development key is used) and write e-mailed/SMS codes to the log.
    :param issuer: the name authenticator apps show; defaults to the SDK's app name.
    :param totp_skew: time steps accepted either side of now (default 1, at most 2).
    :param totp_digits: 6 (default) to 8.
    :param step_up_window: how recent a 2FA must be to change factors (default 300).
    :param max_failures: consecutive failures of a factor before a lockout (default 5).
    :param lockout: how long a lockout lasts (default 900).
    :param max_failures_per_hour: hard cap per account and factor (default 100).
    :param otp_code_lifetime: lifetime of e-mail/SMS codes (default 600, at most 600
        without a warning).
    :param otp_max_attempts: tries per e-mail/SMS code (default 3); when they run out the
        code is revoked and the flow restarts. Kept below ``max_failures``, so the first
        code a user mistypes does not also lock the factor: the lockout counts failures
        across codes.
    :param send_quota: limits on sending e-mail/SMS codes per user (cooldown, per 10
        minutes, per hour, per day, to unpinned destinations): see
        :class:`~st_twofactor.kernel.send_quota.SendQuota` for the defaults.
    :param recovery_code_count: codes per set (default 10).
    :param remember_device: offer "remember this device" (default off).
    :param remember_device_for: how long a remembered device skips 2FA (default 30 days).
    :param enrolment_grace: how long a user who must do 2FA and has no factor may put
        enrolment off, counted from the first sign-in at which 2FA was required of them
        (a ``timedelta``; default ``None``: no grace, they enrol at once). Such a sign-in
        is completed as ``"grace"``, never fresh; after the deadline they must enrol.
    :param store: where users' 2FA state lives (default: SuperTokens user metadata).
    :param on_event: called with each :mod:`~st_twofactor.events` event (default: log it).
    :param webauthn: the relying party for security keys and passkeys (factor
        ``"webauthn"``, off by default): a
        :class:`~st_twofactor.WebAuthnPolicy`.
        When ``"webauthn"`` is in ``factors`` and this is ``None``, the policy is derived
        from the SDK's ``app_info`` at ``init()``
        (:meth:`~st_twofactor.WebAuthnPolicy.from_app_info`), which raises
        :class:`~st_twofactor.errors.ConfigurationError` when it cannot be (an IP address,
        http on a host other than localhost, an origin computed per request).
    :param notifications: how users are told by e-mail when their 2FA changes (a factor
        added or removed, a recovery code used, a device remembered, a factor locked):
        a :class:`~st_twofactor.notifications.Notifications`. ``None`` (the default) is
        ``Notifications()``: on, through the app's own mail service where it has one;
        ``Notifications(enabled=False)`` turns them off.
    :param clock: seconds since the epoch; injected in tests.
    """

    required: RequiredPolicy = True
    factors: Sequence[str] = ("totp", "otp-email", "recovery-code")
    secret_keys: Sequence[str] = ()
    development: bool = False
    issuer: str | None = None
    totp_skew: int = 1
    totp_digits: int = 6
    step_up_window: float = 300.0
    max_failures: int = 5
    lockout: float = 900.0
    max_failures_per_hour: int = 100
    otp_code_lifetime: float = 600.0
    otp_max_attempts: int = 3
    send_quota: SendQuota = field(default_factory=SendQuota)
    recovery_code_count: int = 10
    remember_device: bool = False
    remember_device_for: float = 30 * 24 * 3600.0
    enrolment_grace: timedelta | None = None
    store: Store | None = None
    on_event: EventHook | None = None
    webauthn: WebAuthnPolicy | None = None
    notifications: Notifications | None = None
    clock: Callable[[], float] = field(default=time.time)
    _default_store: Store = field(
        default_factory=UserMetadataStore, init=False, repr=False, compare=False, hash=False
    )
    """The store used when ``store`` is ``None``: one per config, so that its per-user locks
    are shared by every part of the library this config wires up."""
    _runtimes: dict[str, Any] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )
    """The runtime built from this config, by claim key (:meth:`st_twofactor.runtime.TwoFactor.of`):
    kept on the config so that it lives exactly as long."""

    def __post_init__(self) -> None:
        if isinstance(self.secret_keys, (str, bytes)):
            # A bare string is refused, not guessed at: "k1,k2" could be one key or two.
            raise ConfigurationError(
                "secret_keys must be a list of keys, not a string: pass secret_keys=[key], "
                "or for a comma-separated variable such as ST2FA_SECRET_KEY, "
                "secret_keys=os.environ['ST2FA_SECRET_KEY'].split(',')"
            )
        object.__setattr__(self, "secret_keys", tuple(self.secret_keys))
        object.__setattr__(self, "factors", tuple(self.factors))
        self._validate()
        # Built (and so checked, and any loosening logged) once, here.
        object.__setattr__(
            self,
            "_throttle_policy",
            ThrottlePolicy(
                max_failures=self.max_failures,
                lockout=self.lockout,
                max_failures_per_hour=self.max_failures_per_hour,
            ),
        )

    @property
    def keys_in_use(self) -> tuple[str, ...]:
        """The keys that encrypt secrets and sign tokens: ``secret_keys``, or in
        development mode without keys a fixed, publicly known one (never in production)."""
        return tuple(self.secret_keys) or (_DEVELOPMENT_KEY,)

    @property
    def grace_seconds(self) -> float | None:
        """``enrolment_grace`` in seconds, or ``None`` when there is none."""
        return None if self.enrolment_grace is None else self.enrolment_grace.total_seconds()

    @property
    def throttle_policy(self) -> ThrottlePolicy:
        """The throttle limits of this config, shared by every factor."""
        policy: ThrottlePolicy = self.__dict__["_throttle_policy"]
        return policy

    @property
    def state_store(self) -> Store:
        """The store in use: ``store``, or the default user-metadata store."""
        return self.store if self.store is not None else self._default_store

    def _validate(self) -> None:
        if not (isinstance(self.required, bool) or callable(self.required)):
            raise ConfigurationError(
                "required must be True, False or a callable (user_id, tenant_id, user_context)"
            )
        unknown = [f for f in self.factors if f not in FACTOR_IDS]
        if unknown or not self.factors:
            raise ConfigurationError(
                f"factors must be a non-empty subset of {FACTOR_IDS}; got {list(self.factors)}"
            )
        if self.factors == ("recovery-code",):
            raise ConfigurationError(
                "recovery codes are a fallback: enable at least one of totp, otp-email,"
                " otp-phone, webauthn"
            )
        self._validate_webauthn()
        if not self.secret_keys and not self.development:
            raise ConfigurationError(
                "secret_keys is required outside development: pass secret_keys=[...] "
                "(e.g. from an environment variable) or development=True for local use"
            )
        if any(not isinstance(k, str) or len(k) < 16 for k in self.secret_keys):
            raise ConfigurationError("each secret key must be a string of at least 16 characters")
        _check_int("totp_skew", self.totp_skew, 0, 2)
        _check_int("totp_digits", self.totp_digits, 6, 8)
        _check_int("max_failures", self.max_failures, 1, 20)
        _check_int("max_failures_per_hour", self.max_failures_per_hour, 1, 1000)
        _check_int("otp_max_attempts", self.otp_max_attempts, 1, 20)
        _check_int("recovery_code_count", self.recovery_code_count, 1, 100)
        for name in ("step_up_window", "lockout", "otp_code_lifetime", "remember_device_for"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigurationError(f"{name} must be a positive number of seconds")
        grace = self.enrolment_grace
        if grace is not None and (
            not isinstance(grace, timedelta) or not timedelta(0) < grace <= timedelta(days=365)
        ):
            raise ConfigurationError(
                "enrolment_grace must be a timedelta from over 0 to 365 days, e.g. "
                f"timedelta(days=7), or None; got {grace!r}"
            )
        if not isinstance(self.send_quota, SendQuota):
            raise ConfigurationError(
                "send_quota must be a st_twofactor.kernel.send_quota.SendQuota(...); "
                f"got {type(self.send_quota).__name__}"
            )
        if self.notifications is not None:
            from st_twofactor.notifications import Notifications

            if not isinstance(self.notifications, Notifications):
                raise ConfigurationError(
                    "notifications must be a st_twofactor.notifications.Notifications(...) or None"
                )
        if self.issuer is not None and (not self.issuer or ":" in self.issuer):
            raise ConfigurationError("issuer must be a non-empty name without ':'")
        self._warn_if_loosened()

    def _validate_webauthn(self) -> None:
        if "webauthn" not in self.factors and self.webauthn is None:
            return
        try:  # the ceremonies need py_webauthn; say so now, not at the first ceremony
            importlib.import_module("st_twofactor.factors.webauthn.ceremonies")
        except ImportError as exc:
            raise ConfigurationError(
                "the webauthn factor needs the webauthn package: "
                "pip install 'st-twofactor[webauthn]'"
            ) from exc
        from st_twofactor.factors.webauthn.policy import WebAuthnPolicy

        if self.webauthn is not None and not isinstance(self.webauthn, WebAuthnPolicy):
            raise ConfigurationError(
                "webauthn must be a st_twofactor.WebAuthnPolicy(...); "
                f"got {type(self.webauthn).__name__}"
            )

    def _warn_if_loosened(self) -> None:
        loosened = []
        if self.totp_skew > 1:
            loosened.append(f"totp_skew={self.totp_skew} (default 1)")
        if self.otp_code_lifetime > 600:
            loosened.append(f"otp_code_lifetime={self.otp_code_lifetime} (default 600)")
        if self.otp_max_attempts > 5:
            loosened.append(f"otp_max_attempts={self.otp_max_attempts} (default 3)")
        if loosened:
            log.warning("st-twofactor: security defaults loosened: %s", ", ".join(loosened))
        if self.otp_max_attempts >= self.max_failures:
            log.warning(
                "st-twofactor: otp_max_attempts=%d is not below max_failures=%d: the first "
                "e-mail/SMS code a user mistypes locks the factor for %d s; keep "
                "otp_max_attempts below max_failures",
                self.otp_max_attempts,
                self.max_failures,
                round(self.lockout),
            )
        if self.development:
            log.warning("st-twofactor: development mode; do not use it in production")


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigurationError(f"{name} must be an integer from {low} to {high}; got {value!r}")
