"""The typed results of the 2FA flows (:mod:`st_twofactor.factors`): JSON-ready answers.

Each is a ``TypedDict`` whose ``status`` is a ``Literal``, so a flow's return type lists
every answer it can give, and ``if result["status"] != "OK"`` narrows the type. They are
the JSON bodies of the HTTP API (camelCase keys, SuperTokens' UPPER_SNAKE statuses), so
:mod:`st_twofactor.http.routes` sends them as they are.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias, TypedDict

from typing_extensions import NotRequired

from st_twofactor.ids import FactorId

__all__ = [
    "AuthenticationOptionsResult",
    "AuthenticationResult",
    "CodeRefused",
    "Contact",
    "CreateDeviceResult",
    "CredentialRefused",
    "DeviceAlreadyExists",
    "DeviceCreated",
    "DeviceRemoved",
    "DeviceSummary",
    "DeviceVerified",
    "GraceSummary",
    "InvalidCode",
    "InvalidCredential",
    "LimitReached",
    "NoFactor",
    "Ok",
    "Overview",
    "RecoveryCodeUsed",
    "RecoveryCodes",
    "RegenerateResult",
    "RegistrationOptions",
    "RegistrationOptionsResult",
    "RegistrationResult",
    "SecurityKeyAdded",
    "SecurityKeySummary",
    "TooManyDevices",
    "TotpNotEnabled",
    "UnknownDevice",
    "VerifyDeviceResult",
    "VerifyRecoveryCodeResult",
    "VerifyTotpResult",
    "WebAuthnNotEnabled",
    "WebAuthnOptions",
    "epoch_ms",
]


class Ok(TypedDict):
    status: Literal["OK"]


class InvalidCode(TypedDict):
    """A wrong code; ``attemptsLeft`` more may be tried before the factor is locked."""

    status: Literal["INVALID_CODE_ERROR"]
    attemptsLeft: int
    hint: NotRequired[Literal["CHECK_DEVICE_CLOCK"]]
    """TOTP only: the code is one the device would show a few minutes earlier or later,
    so its clock is probably off. Refused and counted like any wrong code."""


class LimitReached(TypedDict):
    """The factor is locked (also by the failure just made) for ``retryAfterMs``."""

    status: Literal["LIMIT_REACHED_ERROR"]
    retryAfterMs: int


CodeRefused: TypeAlias = InvalidCode | LimitReached
"""A code that did not complete 2FA, by the shared failure rule."""


class TotpNotEnabled(TypedDict):
    status: Literal["TOTP_NOT_ENABLED_ERROR"]


class UnknownDevice(TypedDict):
    status: Literal["UNKNOWN_DEVICE_ERROR"]


class DeviceAlreadyExists(TypedDict):
    status: Literal["DEVICE_ALREADY_EXISTS_ERROR"]


class TooManyDevices(TypedDict):
    status: Literal["TOO_MANY_DEVICES_ERROR"]


class DeviceCreated(TypedDict):
    """A TOTP device to activate: its secret, ``otpauth://`` URI and QR code (the code is
    left out only when the caller asked for none)."""

    status: Literal["OK"]
    deviceName: str
    secret: str
    otpauthUri: str
    qrCodeSvg: NotRequired[str]


class DeviceVerified(Ok, total=False):
    """A TOTP device activated; ``recoveryCodes`` the first time codes are made;
    ``wasAlreadyVerified``: the device was active before this code."""

    recoveryCodes: list[str]
    wasAlreadyVerified: bool


class DeviceRemoved(TypedDict):
    status: Literal["OK"]
    didDeviceExist: bool


class RecoveryCodeUsed(TypedDict):
    status: Literal["OK"]
    recoveryCodesLeft: int


class RecoveryCodes(TypedDict):
    """A new set of recovery codes, shown once."""

    status: Literal["OK"]
    recoveryCodes: list[str]


class NoFactor(TypedDict):
    status: Literal["NO_FACTOR_ERROR"]
    message: str


class Contact(TypedDict):
    contact: str
    masked: bool


class DeviceSummary(TypedDict):
    name: str
    verified: bool


class SecurityKeySummary(TypedDict):
    """A WebAuthn credential as ``GET /auth/2fa`` shows it (no key material); times in
    milliseconds since the epoch, like every time in the HTTP API."""

    name: str
    createdAt: int
    lastUsedAt: int | None


class WebAuthnNotEnabled(TypedDict):
    status: Literal["WEBAUTHN_NOT_ENABLED_ERROR"]


class InvalidCredential(TypedDict):
    """A WebAuthn answer refused; ``attemptsLeft`` more may be tried before a lockout."""

    status: Literal["INVALID_CREDENTIAL_ERROR"]
    attemptsLeft: int


class WebAuthnOptions(TypedDict):
    """Options for ``navigator.credentials.get()`` (JSON, base64url bytes)."""

    status: Literal["OK"]
    options: dict[str, Any]


class RegistrationOptions(WebAuthnOptions):
    """Options for ``navigator.credentials.create()``, for the key to be called ``deviceName``."""

    deviceName: str


class SecurityKeyAdded(Ok, total=False):
    """A security key or passkey added; ``recoveryCodes`` the first time codes are made."""

    recoveryCodes: list[str]


CredentialRefused: TypeAlias = InvalidCredential | LimitReached


class GraceSummary(TypedDict):
    """The enrolment grace period a session was completed by: it ends at ``until`` (ms)."""

    until: int


class Overview(TypedDict):
    """``GET /auth/2fa`` (see :func:`~st_twofactor.factors.overview.overview`)."""

    status: Literal["OK"]
    completed: bool
    required: bool
    enabled: list[str]
    factors: list[str]
    next: list[FactorId]
    enrollable: list[str]
    contacts: dict[str, Contact]
    locked: dict[str, int]
    grace: GraceSummary | None
    recoveryCodesLeft: int | None
    devices: list[DeviceSummary]
    securityKeys: list[SecurityKeySummary]
    webauthnOptions: NotRequired[dict[str, Any]]
    """When ``"webauthn"`` is in ``next``: the options of ``GET
    /auth/2fa/webauthn/authenticate/options``, so a page can start the key's ceremony
    without asking for them (they expire like any, after the policy's lifetime)."""


CreateDeviceResult: TypeAlias = DeviceCreated | DeviceAlreadyExists | TooManyDevices
VerifyDeviceResult: TypeAlias = DeviceVerified | UnknownDevice | CodeRefused
VerifyTotpResult: TypeAlias = Ok | TotpNotEnabled | CodeRefused
VerifyRecoveryCodeResult: TypeAlias = RecoveryCodeUsed | CodeRefused
RegenerateResult: TypeAlias = RecoveryCodes | NoFactor
RegistrationOptionsResult: TypeAlias = RegistrationOptions | DeviceAlreadyExists | TooManyDevices
RegistrationResult: TypeAlias = (
    SecurityKeyAdded | DeviceAlreadyExists | TooManyDevices | CredentialRefused
)
AuthenticationOptionsResult: TypeAlias = WebAuthnOptions | WebAuthnNotEnabled
AuthenticationResult: TypeAlias = Ok | WebAuthnNotEnabled | CredentialRefused


def epoch_ms(seconds: float) -> int:
    """A time (seconds since the epoch, as the library's clock tells it) as the HTTP API
    shows every time: whole milliseconds since the epoch."""
    return int(seconds * 1000)
