"""A user's 2FA state: the model every store keeps, and its JSON-safe dict form.

:class:`TwoFactorState` is one small document per user (TOTP devices, pinned contacts,
recovery-code digests, throttle counters, pending e-mail/SMS codes, send records, security
keys). :meth:`TwoFactorState.to_dict` and :meth:`TwoFactorState.from_dict` turn it into a
JSON-safe dict and back, refusing what does not parse (:class:`MalformedDataError`, read
through :mod:`st_twofactor.stores._reader`); :mod:`st_twofactor.stores.state_codec` makes
the stored text of it, and the stores only keep that text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from st_twofactor.errors import MalformedDataError
from st_twofactor.factors._device_names import device_key
from st_twofactor.kernel.send_quota import CodeSend
from st_twofactor.kernel.throttle import FactorCounter, ThrottleState
from st_twofactor.kernel.trusted_devices import RememberedDevice
from st_twofactor.stores._reader import Reader

if TYPE_CHECKING:
    from st_twofactor.factors.webauthn.records import PendingChallenge, WebAuthnCredential

__all__ = ["STATE_VERSION", "PendingCode", "TotpDevice", "TwoFactorState"]

STATE_VERSION = 1


@dataclass
class TotpDevice:
    """One authenticator app. ``secret`` is the :class:`~st_twofactor.kernel.crypto.SecretBox`
    ciphertext of the base32 secret, never the secret itself."""

    name: str
    secret: str
    verified: bool = False
    """A device counts only after one valid code proved the user scanned it."""
    created_at: float = 0.0


@dataclass
class PendingCode:
    """An e-mailed or texted code this user asked for and has not used yet.

    Keyed in :attr:`TwoFactorState.otp_pending` by the passwordless ``preAuthSessionId``
    of its device, so a code is accepted only from the user, session and request (the
    device id its client holds) that made it.
    """

    factor: str
    """``"otp-email"`` or ``"otp-phone"``."""
    contact: str
    """Where the code was sent; pinned for the user on its first successful use."""
    created_at: float
    """When the device's first code was made; every code of the device expires
    ``otp_code_lifetime`` seconds after it (a resend does not extend the deadline)."""
    failures: int = 0
    """Wrong codes entered for this device."""
    session_handle: str | None = None
    """The session that asked for the code: only that session may use it."""
    codes: list[str] | None = None
    """The codes sent for this device (a resend adds one), each sealed with the app's
    secret keys and bound to the user and the device
    (:mod:`st_twofactor.factors.codes._devices`). ``None``: a device an earlier version
    made in the core; it is no longer accepted (the user asks again)."""
    before_pin: bool = False
    """Made while no contact of its factor was pinned (a decoy made then, and pinned
    over since, restarts like a real device whose contact was not the one pinned)."""
    decoy: bool = False
    """Asked for a destination other than the user's: nothing was sent and no code exists,
    but it is answered like a real device, so the answers do not tell which destination
    is the user's."""


@dataclass
class TwoFactorState:
    """Everything st-twofactor stores about one user. JSON-safe via :meth:`to_dict`."""

    epoch: int = 0
    """Incremented on every factor change; remember-device tokens carry it (revocation)."""
    totp_devices: list[TotpDevice] = field(default_factory=list)
    last_totp_step: int | None = None
    """Highest TOTP time step accepted for this user; lower or equal steps are replays."""
    burnt_totp_steps: list[int] = field(default_factory=list)
    """Future TOTP time steps whose code was already shown, refused, by a device whose
    clock is ahead (:func:`~st_twofactor.factors.totp.algorithm.drifted_step`): they are
    never accepted, so telling someone who guesses that their code is a future one gains
    them nothing. Dropped once past; a few at most."""
    email: str | None = None
    """E-mail pinned for ``otp-email`` codes: codes are only ever sent here."""
    phone: str | None = None
    """Phone number pinned for ``otp-phone`` codes."""
    recovery_codes: list[str] = field(default_factory=list)
    """The stored forms of the unused recovery codes, never the codes: keyed digests that
    each carry their set's sealed key, or salted PBKDF2 hashes for a set made before them
    (see :mod:`st_twofactor.factors.recovery_codes.codes`)."""
    throttle: ThrottleState = field(default_factory=ThrottleState)
    """Failure counts of attempts from anywhere but the user's known devices."""
    known_throttle: ThrottleState = field(default_factory=ThrottleState)
    """Failure counts of attempts from the user's known devices, kept apart so that wrong
    codes sent from elsewhere do not lock the owner out
    (:mod:`st_twofactor.kernel.known_devices`)."""
    otp_pending: dict[str, PendingCode] = field(default_factory=dict)
    """E-mail/SMS codes sent and not yet used, by ``preAuthSessionId`` (a few at most)."""
    code_sends: tuple[CodeSend, ...] = ()
    """E-mail/SMS codes sent in the last day, for the send quotas (S15)."""
    webauthn_credentials: list[WebAuthnCredential] = field(default_factory=list)
    """The user's security keys and passkeys (:mod:`st_twofactor.factors.webauthn.records`)."""
    webauthn_challenges: list[PendingChallenge] = field(default_factory=list)
    """WebAuthn challenges already answered, kept until they expire so that none is
    answered twice (:mod:`st_twofactor.factors.webauthn.flows`; a few at most)."""
    sessions_revoked_at: float | None = None
    """When the user's sessions were last revoked all at once (an admin reset, "sign out
    everywhere"): a session started at or before it changes and completes nothing, even
    while its access token is unexpired (:mod:`st_twofactor.kernel.revocation`)."""
    grace_started_at: float | None = None
    """The first sign-in at which 2FA was required of the user while they had no factor:
    the enrolment grace period (:mod:`st_twofactor.kernel.grace`) counts from it. Set
    once and never moved, also by a reset, so a grace period cannot be started again."""
    remembered_devices: list[RememberedDevice] = field(default_factory=list)
    """The devices that may skip the second factor at sign-in, each named by its
    remember-device token (:mod:`st_twofactor.kernel.trusted_devices`)."""

    def factor_ids(self) -> list[str]:
        """Enrolled factor ids: a verified TOTP device, a pinned contact, unused codes."""
        enrolled = []
        if any(device.verified for device in self.totp_devices):
            enrolled.append("totp")
        if self.email is not None:
            enrolled.append("otp-email")
        if self.phone is not None:
            enrolled.append("otp-phone")
        if self.recovery_codes:
            enrolled.append("recovery-code")
        if self.webauthn_credentials:
            enrolled.append("webauthn")
        return enrolled

    def device(self, name: str) -> TotpDevice | None:
        """The TOTP device called ``name``, if any: names are compared on their folded
        key, so look-alikes (``Authenticator``, fullwidth letters) are the same device."""
        key = device_key(name)
        return next((d for d in self.totp_devices if device_key(d.name) == key), None)

    def remove_device(self, name: str) -> TotpDevice | None:
        """Remove the TOTP device called ``name`` (as :meth:`device` finds it); it, or None."""
        found = self.device(name)
        if found is not None:
            self.totp_devices.remove(found)
        return found

    def use_totp_step(self, step: int) -> bool:
        """Record TOTP time step ``step`` as used; ``False`` if it, or a later step, already
        was (S3: a code is never accepted twice)."""
        if self.last_totp_step is not None and step <= self.last_totp_step:
            return False
        if step in self.burnt_totp_steps:
            return False
        self.last_totp_step = step
        return True

    def burn_totp_step(self, step: int, oldest_useful: int) -> None:
        """Never accept time step ``step`` (a future step whose code was refused); steps
        before ``oldest_useful`` can no longer be accepted anyway and are forgotten."""
        kept = [s for s in self.burnt_totp_steps if s >= oldest_useful and s != step]
        self.burnt_totp_steps = sorted([*kept, step])[-32:]

    def remove_recovery_code(self, code_hash: str) -> bool:
        """Remove the stored hash ``code_hash``; ``False`` if it is no longer there (S7)."""
        if code_hash not in self.recovery_codes:
            return False
        self.recovery_codes.remove(code_hash)
        return True

    def bump_epoch(self) -> None:
        """Revoke every remember-device token and forget every remembered device; call on
        any factor change."""
        self.epoch += 1
        self.remembered_devices = []

    def revoke_sessions(self, now: float) -> None:
        """End, for the 2FA state, every session started until ``now`` (see
        :attr:`sessions_revoked_at`); later sign-ins are not affected."""
        self.sessions_revoked_at = max(now, self.sessions_revoked_at or now)

    def reset(self) -> None:
        """Remove every factor (admin reset) and revoke remembered devices.

        Throttle counters, send quotas and the last TOTP step are kept: a reset must not
        reopen a lockout or a quota, or let an old code be replayed.
        """
        self.totp_devices = []
        self.email = None
        self.phone = None
        self.recovery_codes = []
        self.otp_pending = {}
        self.webauthn_credentials = []
        self.webauthn_challenges = []
        self.bump_epoch()

    def to_dict(self) -> dict[str, Any]:
        """The JSON document stored for the user."""
        document = {
            "v": STATE_VERSION,
            "epoch": self.epoch,
            "totp_devices": [
                {
                    "name": d.name,
                    "secret": d.secret,
                    "verified": d.verified,
                    "created_at": d.created_at,
                }
                for d in self.totp_devices
            ],
            "last_totp_step": self.last_totp_step,
            "email": self.email,
            "phone": self.phone,
            "recovery_codes": list(self.recovery_codes),
            "throttle": _throttle_dict(self.throttle),
            "otp_pending": {
                pre_auth_session_id: {
                    "factor": p.factor,
                    "contact": p.contact,
                    "created_at": p.created_at,
                    "failures": p.failures,
                    "session_handle": p.session_handle,
                    "codes": p.codes,
                    "before_pin": p.before_pin,
                    "decoy": p.decoy,
                }
                for pre_auth_session_id, p in self.otp_pending.items()
            },
            "code_sends": [
                {"at": c.at, "to": c.destination, "pinned": c.pinned} for c in self.code_sends
            ],
            "webauthn_credentials": [c.to_dict() for c in self.webauthn_credentials],
            "webauthn_challenges": [c.to_dict() for c in self.webauthn_challenges],
        }
        if self.sessions_revoked_at is not None:  # absent until the first revocation
            document["sessions_revoked_at"] = self.sessions_revoked_at
        if self.burnt_totp_steps:  # absent until a device's clock is ahead
            document["burnt_totp_steps"] = list(self.burnt_totp_steps)
        if self.grace_started_at is not None:  # absent until a grace period starts
            document["grace_started_at"] = self.grace_started_at
        if self.remembered_devices:  # absent until a device is remembered
            document["remembered_devices"] = [d.to_dict() for d in self.remembered_devices]
        if self.known_throttle != ThrottleState():  # absent until a known device fails
            document["known_throttle"] = _throttle_dict(self.known_throttle)
        return document

    @classmethod
    def from_dict(cls, data: object) -> TwoFactorState:
        """Parse a stored document. Missing keys take their defaults; a wrong type, an
        unknown (newer) version or a non-finite number raises :class:`MalformedDataError`.
        """
        doc = Reader(data, "state")
        version = doc.int_("v", STATE_VERSION)
        if not 1 <= version <= STATE_VERSION:
            raise MalformedDataError(f"2FA state has unsupported version {version}")
        devices = [
            TotpDevice(
                name=d.str_("name"),
                secret=d.str_("secret"),
                verified=d.bool_("verified", False),
                created_at=d.float_("created_at", 0.0),
            )
            for d in doc.list_of_objects("totp_devices")
        ]
        return cls(
            epoch=doc.int_("epoch", 0),
            totp_devices=devices,
            last_totp_step=doc.optional_int("last_totp_step"),
            burnt_totp_steps=doc.list_of_int("burnt_totp_steps"),
            email=doc.optional_str("email"),
            phone=doc.optional_str("phone"),
            recovery_codes=doc.list_of_str("recovery_codes"),
            throttle=_throttle_of(doc.object_("throttle")),
            known_throttle=_throttle_of(doc.object_("known_throttle")),
            otp_pending={
                pre_auth_session_id: PendingCode(
                    factor=p.str_("factor"),
                    contact=p.str_("contact"),
                    created_at=p.float_("created_at", 0.0),
                    failures=p.int_("failures", 0),
                    session_handle=p.optional_str("session_handle"),
                    codes=p.optional_list_of_str("codes"),
                    before_pin=p.bool_("before_pin", False),
                    decoy=p.bool_("decoy", False),
                )
                for pre_auth_session_id, p in doc.objects_by_name("otp_pending")
            },
            code_sends=tuple(
                CodeSend(c.float_("at", 0.0), c.str_("to"), c.bool_("pinned", False))
                for c in doc.list_of_objects("code_sends")
            ),
            sessions_revoked_at=doc.optional_float("sessions_revoked_at"),
            grace_started_at=doc.optional_float("grace_started_at"),
            remembered_devices=[
                RememberedDevice(
                    id=d.str_("id"),
                    name=d.str_("name"),
                    created_at=d.int_("created_at", 0),
                    last_used_at=d.int_("last_used_at", 0),
                    expires_at=d.int_("expires_at", 0),
                )
                for d in doc.list_of_objects("remembered_devices")
            ],
            **_webauthn_entries(doc),
        )


def _throttle_dict(throttle: ThrottleState) -> dict[str, Any]:
    return {
        "factors": {
            name: {"failures": c.consecutive_failures, "locked_until": c.locked_until}
            for name, c in throttle.factors.items()
        },
        "recent_failures": list(throttle.recent_failures),
    }


def _throttle_of(doc: Reader) -> ThrottleState:
    factors = {
        name: FactorCounter(c.int_("failures", 0), c.float_("locked_until", 0.0))
        for name, c in doc.objects_by_name("factors")
    }
    return ThrottleState(
        factors=factors, recent_failures=tuple(doc.list_of_float("recent_failures"))
    )


def _webauthn_entries(doc: Reader) -> dict[str, Any]:
    """The WebAuthn fields of a stored state; py_webauthn is imported only when there
    are some (it is an optional extra)."""
    credentials = doc.raw_list("webauthn_credentials")
    challenges = doc.raw_list("webauthn_challenges")
    if not credentials and not challenges:
        return {}
    from st_twofactor.factors.webauthn.records import PendingChallenge, WebAuthnCredential

    return {
        "webauthn_credentials": [WebAuthnCredential.from_dict(c) for c in credentials],
        "webauthn_challenges": [PendingChallenge.from_dict(c) for c in challenges],
    }
