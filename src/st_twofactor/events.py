"""Typed events for notification and audit (S9), and the hook that receives them.

An application passes one hook, sync or async, and matches on the event classes, e.g. to
e-mail the user when a factor is added or a recovery code is used. Events never carry a
secret, code or token, only ids, factor ids and counts, so they are safe to log.

:func:`emit` never lets a failing hook break a login: the error is logged and swallowed.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, TypeAlias

if TYPE_CHECKING:
    from st_twofactor.ids import FactorId

__all__ = [
    "LOW_RECOVERY_CODES",
    "CodeSendRefused",
    "DeviceRemembered",
    "Event",
    "EventHook",
    "FactorEnrolled",
    "FactorRemoved",
    "LockedOut",
    "RecoveryCodeUsed",
    "RecoveryCodesLow",
    "RecoveryCodesRegenerated",
    "SignCountRegressed",
    "TwoFactorEvent",
    "VerificationFailed",
    "VerificationSucceeded",
    "emit",
    "log_event",
]

log = logging.getLogger("st_twofactor")


@dataclass(frozen=True, kw_only=True)
class Event:
    """Fields common to every event: whose account, and when (Unix time)."""

    kind: ClassVar[str] = "event"
    level: ClassVar[int] = logging.INFO

    user_id: str
    at: float


@dataclass(frozen=True, kw_only=True)
class FactorEnrolled(Event):
    """A factor was added (for TOTP: a device was verified). Worth telling the user."""

    kind: ClassVar[str] = "factor_enrolled"
    factor: FactorId
    device_name: str | None = None


@dataclass(frozen=True, kw_only=True)
class FactorRemoved(Event):
    """A factor (or one TOTP device) was removed. Worth telling the user."""

    kind: ClassVar[str] = "factor_removed"
    factor: FactorId
    device_name: str | None = None


@dataclass(frozen=True, kw_only=True)
class VerificationSucceeded(Event):
    """A second factor was verified."""

    kind: ClassVar[str] = "verification_succeeded"
    factor: FactorId


@dataclass(frozen=True, kw_only=True)
class VerificationFailed(Event):
    """A second-factor code (or security key's answer) was wrong; ``attempts_left`` before
    a lockout, when known."""

    kind: ClassVar[str] = "verification_failed"
    level: ClassVar[int] = logging.WARNING
    factor: FactorId
    attempts_left: int | None = None
    reason: str | None = None
    """Why a security key's answer was refused (a
    :class:`~st_twofactor.factors.webauthn.ceremonies.RefusalReason` value such as
    ``"wrong_origin"``), for logs and monitoring: the client is only told
    ``INVALID_CREDENTIAL_ERROR``. ``None`` for codes, which are simply wrong."""


@dataclass(frozen=True, kw_only=True)
class LockedOut(Event):
    """A factor is refused after too many failures, for ``retry_after_ms``."""

    kind: ClassVar[str] = "locked_out"
    level: ClassVar[int] = logging.WARNING
    factor: FactorId
    retry_after_ms: int
    just_locked: bool = True
    """``True`` for the failure that locked the factor, ``False`` for an attempt refused
    because it already was (many may follow one lockout: the user is e-mailed once)."""


@dataclass(frozen=True, kw_only=True)
class RecoveryCodeUsed(Event):
    """A recovery code was redeemed; ``codes_left`` remain. Worth telling the user."""

    kind: ClassVar[str] = "recovery_code_used"
    level: ClassVar[int] = logging.WARNING
    codes_left: int


@dataclass(frozen=True, kw_only=True)
class RecoveryCodesLow(Event):
    """A recovery code was redeemed and only ``codes_left`` (:data:`LOW_RECOVERY_CODES` or
    fewer) remain: worth suggesting the user makes a new set while they still can."""

    kind: ClassVar[str] = "recovery_codes_low"
    level: ClassVar[int] = logging.WARNING
    codes_left: int


LOW_RECOVERY_CODES = 3
"""A use that leaves this many recovery codes or fewer emits :class:`RecoveryCodesLow`."""


@dataclass(frozen=True, kw_only=True)
class RecoveryCodesRegenerated(Event):
    """A new set of ``count`` recovery codes replaced the old one."""

    kind: ClassVar[str] = "recovery_codes_regenerated"
    count: int


@dataclass(frozen=True, kw_only=True)
class DeviceRemembered(Event):
    """A device was remembered: its token skips 2FA until ``expires_at`` (Unix time).
    ``device_id`` is its record in the user's list of remembered devices, ``device_name``
    the name shown there (from the ``User-Agent``). Worth telling the user."""

    kind: ClassVar[str] = "device_remembered"
    expires_at: float
    device_id: str | None = None
    device_name: str | None = None


@dataclass(frozen=True, kw_only=True)
class CodeSendRefused(Event):
    """An e-mail/SMS code was not sent: a send quota was reached (S15); the user may ask
    again after ``retry_after_ms``. Many of these may mean mail bombing or SMS pumping."""

    kind: ClassVar[str] = "code_send_refused"
    level: ClassVar[int] = logging.WARNING
    factor: FactorId
    retry_after_ms: int


@dataclass(frozen=True, kw_only=True)
class SignCountRegressed(Event):
    """The security key ``device_name`` signed an assertion whose sign count did not
    increase: possibly a cloned authenticator. The assertion was refused (and counted as
    a failure). Worth telling the user and an administrator."""

    kind: ClassVar[str] = "sign_count_regressed"
    level: ClassVar[int] = logging.WARNING
    factor: FactorId
    device_name: str


TwoFactorEvent: TypeAlias = (
    FactorEnrolled
    | FactorRemoved
    | VerificationSucceeded
    | VerificationFailed
    | LockedOut
    | RecoveryCodeUsed
    | RecoveryCodesLow
    | RecoveryCodesRegenerated
    | DeviceRemembered
    | CodeSendRefused
    | SignCountRegressed
)
"""Every event st-twofactor emits, for exhaustive ``match`` statements."""

EventHook: TypeAlias = Callable[[Event], Awaitable[None] | None]
"""Receives each event; may be sync or async. Keep sync hooks fast: they run on the loop."""


def log_event(event: Event) -> None:
    """The default hook: one line on the ``st_twofactor`` logger.

    Field values are logged with ``repr`` so a user-chosen device name cannot forge log
    lines; events hold no secrets, so nothing is masked.
    """
    fields = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    details = " ".join(f"{name}={value!r}" for name, value in fields.items())
    log.log(event.level, "st-twofactor %s %s", event.kind, details)


async def emit(hook: EventHook | None, event: Event) -> None:
    """Deliver ``event`` to ``hook`` (the default logger when ``None``).

    Any exception from the hook is logged and swallowed: notification is best-effort and
    must never turn a successful login into an error.
    """
    try:
        result = (hook or log_event)(event)
        if inspect.isawaitable(result):
            await result
    except Exception:
        log.exception("st-twofactor event hook failed on %s for user %r", event.kind, event.user_id)
