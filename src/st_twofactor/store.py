"""Where a user's 2FA state lives, and how it changes atomically.

The state is one small JSON document per user (:class:`TwoFactorState`). Every change is a
read-modify-write through :meth:`Store.update`: the flows pass it a function that checks
and changes the state (use a TOTP step, consume a recovery code, count an attempt), which
the store applies atomically. A flow of several steps may run them in one
:meth:`Store.transaction`, so that a store that can (the default one) reads the state once
for all of them.

Stores:

- :class:`InMemoryStore`: a dict; for tests and single-process development.
- :class:`UserMetadataStore` (default): SuperTokens user metadata, so no extra
  infrastructure. Atomic only within one process: see its docstring.
- :class:`~st_twofactor.sql_store.SQLStore` and :class:`~st_twofactor.redis_store.RedisStore`
  (extras ``sql``, ``redis``): atomic across processes and machines.

Every store keeps the state as the text of :func:`~st_twofactor.state_codec.encode_state`.

A store that cannot be reached raises :class:`~st_twofactor.errors.StoreUnavailableError`
and callers fail closed. A stored document that cannot be parsed raises
:class:`~st_twofactor.errors.MalformedDataError`, never a silent reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ._device_names import device_key
from .errors import MalformedDataError, StoreUnavailableError
from .send_quota import CodeSend
from .state_codec import decode_state, encode_state
from .throttle import FactorCounter, ThrottleState

if TYPE_CHECKING:
    from .webauthn import PendingChallenge, WebAuthnCredential

__all__ = [
    "METADATA_KEY",
    "STATE_VERSION",
    "BaseStore",
    "InMemoryStore",
    "PendingCode",
    "Store",
    "TotpDevice",
    "Transaction",
    "TwoFactorState",
    "UserMetadataStore",
    "decode_state",
    "encode_state",
]

T = TypeVar("T")

STATE_VERSION = 1
METADATA_KEY = "st_twofactor"
"""The user-metadata key under which :class:`UserMetadataStore` keeps the state."""


@dataclass
class TotpDevice:
    """One authenticator app. ``secret`` is the :class:`~st_twofactor._crypto.SecretBox`
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


@dataclass
class TwoFactorState:
    """Everything st-twofactor stores about one user. JSON-safe via :meth:`to_dict`."""

    epoch: int = 0
    """Incremented on every factor change; remember-device tokens carry it (revocation)."""
    totp_devices: list[TotpDevice] = field(default_factory=list)
    last_totp_step: int | None = None
    """Highest TOTP time step accepted for this user; lower or equal steps are replays."""
    email: str | None = None
    """E-mail pinned for ``otp-email`` codes: codes are only ever sent here."""
    phone: str | None = None
    """Phone number pinned for ``otp-phone`` codes."""
    recovery_codes: list[str] = field(default_factory=list)
    """Salted hashes of the unused recovery codes (see :mod:`st_twofactor.recovery_codes`)."""
    throttle: ThrottleState = field(default_factory=ThrottleState)
    otp_pending: dict[str, PendingCode] = field(default_factory=dict)
    """E-mail/SMS codes sent and not yet used, by ``preAuthSessionId`` (a few at most)."""
    code_sends: tuple[CodeSend, ...] = ()
    """E-mail/SMS codes sent in the last day, for the send quotas (S15)."""
    webauthn_credentials: list[WebAuthnCredential] = field(default_factory=list)
    """The user's security keys and passkeys (:mod:`st_twofactor.webauthn`)."""
    webauthn_challenges: list[PendingChallenge] = field(default_factory=list)
    """WebAuthn challenges handed out and not used yet (a few at most)."""

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
        self.last_totp_step = step
        return True

    def remove_recovery_code(self, code_hash: str) -> bool:
        """Remove the stored hash ``code_hash``; ``False`` if it is no longer there (S7)."""
        if code_hash not in self.recovery_codes:
            return False
        self.recovery_codes.remove(code_hash)
        return True

    def bump_epoch(self) -> None:
        """Revoke every remember-device token; call on any factor change."""
        self.epoch += 1

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
        return {
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
            "throttle": {
                "factors": {
                    name: {"failures": c.consecutive_failures, "locked_until": c.locked_until}
                    for name, c in self.throttle.factors.items()
                },
                "recent_failures": list(self.throttle.recent_failures),
            },
            "otp_pending": {
                pre_auth_session_id: {
                    "factor": p.factor,
                    "contact": p.contact,
                    "created_at": p.created_at,
                    "failures": p.failures,
                    "session_handle": p.session_handle,
                }
                for pre_auth_session_id, p in self.otp_pending.items()
            },
            "code_sends": [
                {"at": c.at, "to": c.destination, "pinned": c.pinned} for c in self.code_sends
            ],
            "webauthn_credentials": [c.to_dict() for c in self.webauthn_credentials],
            "webauthn_challenges": [c.to_dict() for c in self.webauthn_challenges],
        }

    @classmethod
    def from_dict(cls, data: object) -> TwoFactorState:
        """Parse a stored document. Missing keys take their defaults; a wrong type, an
        unknown (newer) version or a non-finite number raises :class:`MalformedDataError`.
        """
        doc = _Reader(data, "state")
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
        throttle_doc = doc.object_("throttle")
        factors = {
            name: FactorCounter(c.int_("failures", 0), c.float_("locked_until", 0.0))
            for name, c in throttle_doc.objects_by_name("factors")
        }
        return cls(
            epoch=doc.int_("epoch", 0),
            totp_devices=devices,
            last_totp_step=doc.optional_int("last_totp_step"),
            email=doc.optional_str("email"),
            phone=doc.optional_str("phone"),
            recovery_codes=doc.list_of_str("recovery_codes"),
            throttle=ThrottleState(
                factors=factors,
                recent_failures=tuple(throttle_doc.list_of_float("recent_failures")),
            ),
            otp_pending={
                pre_auth_session_id: PendingCode(
                    factor=p.str_("factor"),
                    contact=p.str_("contact"),
                    created_at=p.float_("created_at", 0.0),
                    failures=p.int_("failures", 0),
                    session_handle=p.optional_str("session_handle"),
                )
                for pre_auth_session_id, p in doc.objects_by_name("otp_pending")
            },
            code_sends=tuple(
                CodeSend(c.float_("at", 0.0), c.str_("to"), c.bool_("pinned", False))
                for c in doc.list_of_objects("code_sends")
            ),
            **_webauthn_entries(doc),
        )


def _webauthn_entries(doc: _Reader) -> dict[str, Any]:
    """The WebAuthn fields of a stored state; py_webauthn is imported only when there
    are some (it is an optional extra)."""
    credentials = doc.raw_list("webauthn_credentials")
    challenges = doc.raw_list("webauthn_challenges")
    if not credentials and not challenges:
        return {}
    from .webauthn import PendingChallenge, WebAuthnCredential

    return {
        "webauthn_credentials": [WebAuthnCredential.from_dict(c) for c in credentials],
        "webauthn_challenges": [PendingChallenge.from_dict(c) for c in challenges],
    }


class Store(Protocol):
    """The storage interface for users' 2FA state. Every method is atomic per user."""

    async def load(
        self, user_id: str, user_context: dict[str, Any] | None = None
    ) -> TwoFactorState:
        """A snapshot of the user's state (a fresh state if none is stored)."""
        ...

    async def update(
        self,
        user_id: str,
        fn: Callable[[TwoFactorState], T],
        user_context: dict[str, Any] | None = None,
    ) -> T:
        """Run ``fn`` on the user's state and store what it changed, atomically.

        ``fn`` mutates the state it is given and returns a result, which ``update``
        returns. If ``fn`` raises, nothing is stored. Stores that use optimistic
        concurrency may call ``fn`` more than once: keep it free of side effects.
        """
        ...

    def transaction(
        self, user_id: str, user_context: dict[str, Any] | None = None
    ) -> contextlib.AbstractAsyncContextManager[Transaction]:
        """Several reads and updates of one user's state in one flow, as a context manager.

        Each :meth:`Transaction.update` is as atomic as :meth:`update`. A store may also
        keep the user's state between them, so that a flow reads it once instead of once
        per step (:class:`UserMetadataStore` does, under its per-user lock). Only store
        calls and core calls belong inside: nothing that runs the app's code, which could
        wait for the same user's state.
        """
        ...


class Transaction(Protocol):
    """One user's state within :meth:`Store.transaction`."""

    async def load(self) -> TwoFactorState:
        """A snapshot of the state (changing it changes nothing stored)."""
        ...

    async def update(self, fn: Callable[[TwoFactorState], T]) -> T:
        """:meth:`Store.update` for this user."""
        ...


class _EachCallAlone:
    """A transaction whose every call goes to the store as it would outside one."""

    def __init__(self, store: Store, user_id: str, user_context: dict[str, Any] | None) -> None:
        self._store = store
        self._user_id = user_id
        self._user_context = user_context

    async def load(self) -> TwoFactorState:
        return await self._store.load(self._user_id, self._user_context)

    async def update(self, fn: Callable[[TwoFactorState], T]) -> T:
        return await self._store.update(self._user_id, fn, self._user_context)


class BaseStore(ABC):
    """A :class:`Store` from ``load`` and an atomic ``update``; ``transaction`` runs each
    call on its own unless a store does better."""

    @abstractmethod
    async def load(
        self, user_id: str, user_context: dict[str, Any] | None = None
    ) -> TwoFactorState: ...

    @abstractmethod
    async def update(
        self,
        user_id: str,
        fn: Callable[[TwoFactorState], T],
        user_context: dict[str, Any] | None = None,
    ) -> T: ...

    @contextlib.asynccontextmanager
    async def transaction(
        self, user_id: str, user_context: dict[str, Any] | None = None
    ) -> AsyncIterator[Transaction]:
        """Each call on its own (a store may do better: see :meth:`Store.transaction`)."""
        yield _EachCallAlone(self, user_id, user_context)


class InMemoryStore(BaseStore):
    """Keeps states in a dict, as JSON documents. Atomic across tasks and threads of one
    process (``fn`` runs under a lock, with no ``await`` inside); nothing is persisted."""

    def __init__(self) -> None:
        self._documents: dict[str, str] = {}
        self._lock = threading.Lock()

    async def load(
        self, user_id: str, user_context: dict[str, Any] | None = None
    ) -> TwoFactorState:
        with self._lock:
            return self._read(user_id)

    async def update(
        self,
        user_id: str,
        fn: Callable[[TwoFactorState], T],
        user_context: dict[str, Any] | None = None,
    ) -> T:
        with self._lock:
            state = self._read(user_id)
            result = fn(state)
            self._documents[user_id] = encode_state(state)
        return result

    def _read(self, user_id: str) -> TwoFactorState:
        return decode_state(self._documents.get(user_id))


GetMetadata = Callable[[str, dict[str, Any]], Awaitable[Mapping[str, Any]]]
"""``(user_id, user_context) -> metadata``, like the SDK's ``get_user_metadata``."""
UpdateMetadata = Callable[[str, dict[str, Any], dict[str, Any]], Awaitable[object]]
"""``(user_id, metadata_update, user_context)``, like the SDK's ``update_user_metadata``."""


class UserMetadataStore(BaseStore):
    """Keeps each user's state under one key of their SuperTokens user metadata.

    What it guarantees, precisely:

    - Within *one process* (all its threads and event loops: async views and sync
      Flask/Django views alike), :meth:`update` holds a per-user lock around a fresh read
      (never the SDK's per-request cache), ``fn`` and the write, so updates are atomic: a
      TOTP step is accepted once, a recovery code redeemed once, attempts are counted
      exactly.
    - Everywhere: a write acknowledged by the core is durable (it is in the core's
      database), and a reader never sees a half-written document.

    What it does **not** guarantee: nothing serialises updates made from other processes
    or machines (several workers). The core's metadata API has no
    compare-and-set and the state is one document written whole, so the last write wins.
    Two requests for the same user whose read-modify-write windows (milliseconds) overlap
    in two workers can then both accept one TOTP code or one recovery code, get more tries
    than the throttle allows (up to the limit in each worker), and lose one of the two
    changes, including a factor change: a device added or removed, or recovery codes
    regenerated (the old codes come back), or the epoch bump that revokes remembered
    devices, overwritten by the other request's stale copy. Run one worker process with
    it (threads are fine), or use :class:`~st_twofactor.sql_store.SQLStore` or
    :class:`~st_twofactor.redis_store.RedisStore`. User metadata is also app data: app code
    and the SuperTokens dashboard can edit or clear it, which removes the user's factors.
    """

    def __init__(
        self,
        *,
        key: str = METADATA_KEY,
        get_metadata: GetMetadata | None = None,
        update_metadata: UpdateMetadata | None = None,
    ) -> None:
        self._key = key
        self._get = get_metadata or _sdk_get_metadata
        self._put = update_metadata or _sdk_update_metadata
        self._locks = _UserLocks()

    async def load(
        self, user_id: str, user_context: dict[str, Any] | None = None
    ) -> TwoFactorState:
        return await self._read(user_id, {} if user_context is None else user_context)

    async def update(
        self,
        user_id: str,
        fn: Callable[[TwoFactorState], T],
        user_context: dict[str, Any] | None = None,
    ) -> T:
        async with self.transaction(user_id, user_context) as held:
            return await held.update(fn)

    @contextlib.asynccontextmanager
    async def transaction(
        self, user_id: str, user_context: dict[str, Any] | None = None
    ) -> AsyncIterator[Transaction]:
        """Holds the user's lock throughout: the state is read once (afresh, on first
        use) and each update writes it, so a flow of several steps costs one read.

        Within this process nothing else can change the state meanwhile; other processes
        can, as with every update of this store (see the class doc).
        """
        async with self._locks.hold(user_id):
            yield _HeldMetadata(self, user_id, {} if user_context is None else user_context)

    async def _read(self, user_id: str, context: dict[str, Any]) -> TwoFactorState:
        try:
            metadata = await self._get(user_id, context)
        except Exception as exc:
            raise StoreUnavailableError("cannot read the user's 2FA state") from exc
        document = metadata.get(self._key)
        return TwoFactorState() if document is None else TwoFactorState.from_dict(document)

    async def _write(self, user_id: str, document: str, context: dict[str, Any]) -> None:
        try:
            await self._put(user_id, {self._key: json.loads(document)}, context)
        except Exception as exc:
            raise StoreUnavailableError("cannot write the user's 2FA state") from exc


class _HeldMetadata:
    """A :class:`UserMetadataStore` transaction: the user's lock is held by its owner."""

    def __init__(self, store: UserMetadataStore, user_id: str, context: dict[str, Any]) -> None:
        self._store = store
        self._user_id = user_id
        self._context = context
        self._document: str | None = None  # the state as stored, once read

    async def _current(self) -> str:
        if self._document is None:
            # Not from the SDK's per-request cache: a read made before the lock was held
            # (by ``load``, say) may be stale by now.
            state = await self._store._read(self._user_id, _uncached(self._context))
            self._document = encode_state(state)
        return self._document

    async def load(self) -> TwoFactorState:
        return decode_state(await self._current())

    async def update(self, fn: Callable[[TwoFactorState], T]) -> T:
        before = await self._current()
        state = decode_state(before)
        result = fn(state)  # if it raises, the held state is unchanged
        after = encode_state(state)
        if after != before:
            self._document = None  # unknown until the core acknowledges the write
            await self._store._write(self._user_id, after, self._context)
            self._document = after
        return result


def _uncached(context: dict[str, Any]) -> dict[str, Any]:
    """``context`` without the SDK's per-request cache of core answers.

    supertokens-python caches GET answers in ``user_context["_default"]`` for the rest of
    a request, and a write by *another* request does not invalidate it. A read-modify-write
    must see the state as it is now, so it reads with a copy that carries no cache.
    """
    defaults = context.get("_default")
    if not isinstance(defaults, dict):
        return dict(context)
    fresh = {k: v for k, v in defaults.items() if k not in ("core_call_cache", "global_cache_tag")}
    return {**context, "_default": fresh}


async def _sdk_get_metadata(user_id: str, user_context: dict[str, Any]) -> Mapping[str, Any]:
    from supertokens_python.recipe.usermetadata.asyncio import get_user_metadata

    result = await get_user_metadata(user_id, user_context)
    metadata = result.metadata
    if not isinstance(metadata, Mapping):
        raise StoreUnavailableError("user metadata is not a JSON object")
    return metadata


async def _sdk_update_metadata(
    user_id: str, metadata_update: dict[str, Any], user_context: dict[str, Any]
) -> object:
    from supertokens_python.recipe.usermetadata.asyncio import update_user_metadata

    return await update_user_metadata(user_id, metadata_update, user_context)


class _UserLocks:
    """One lock per user for the whole process: every thread and event loop shares it.

    A :class:`threading.Lock` taken without blocking and retried after a short sleep, so
    a waiting task never blocks its event loop (the holder may be a task of that same
    loop) and a cancelled waiter leaves nothing held. Sync Flask/Django views each run
    their own loop in their own thread; one process-wide lock serialises them too.
    """

    POLL_SECONDS = 0.002
    TIMEOUT_SECONDS = 30.0

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, user_id: str) -> AsyncIterator[None]:
        with self._guard:
            lock, users = self._locks.get(user_id) or (threading.Lock(), 0)
            self._locks[user_id] = (lock, users + 1)
        try:
            await self._acquire(lock)
            try:
                yield
            finally:
                lock.release()
        finally:
            with self._guard:
                lock, users = self._locks[user_id]
                if users == 1:
                    del self._locks[user_id]
                else:
                    self._locks[user_id] = (lock, users - 1)

    async def _acquire(self, lock: threading.Lock) -> None:
        waited = 0.0
        while not lock.acquire(blocking=False):
            if waited >= self.TIMEOUT_SECONDS:
                raise StoreUnavailableError("the user's 2FA state stayed locked too long")
            await asyncio.sleep(self.POLL_SECONDS)
            waited += self.POLL_SECONDS

    def __len__(self) -> int:
        with self._guard:
            return len(self._locks)


class _Reader:
    """Typed access to one JSON object of a stored state; raises MalformedDataError."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            raise MalformedDataError(f"2FA state: {where} is not an object")
        self._data: dict[str, object] = data
        self._where = where

    def _fail(self, key: str, expected: str) -> MalformedDataError:
        return MalformedDataError(f"2FA state: {self._where}.{key} must be {expected}")

    def _get(self, key: str) -> object:
        return self._data.get(key)

    def int_(self, key: str, default: int) -> int:
        value = self.optional_int(key)
        return default if value is None else value

    def optional_int(self, key: str) -> int | None:
        value = self._get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(key, "an integer")
        return value

    def float_(self, key: str, default: float) -> float:
        value = self._get(key)
        if value is None:
            return default
        return self._number(key, value)

    def _number(self, key: str, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._fail(key, "a number")
        if not math.isfinite(value):
            raise self._fail(key, "a finite number")
        return float(value)

    def bool_(self, key: str, default: bool) -> bool:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._fail(key, "a boolean")
        return value

    def str_(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str):
            raise self._fail(key, "a string")
        return value

    def optional_str(self, key: str) -> str | None:
        value = self._get(key)
        if value is not None and not isinstance(value, str):
            raise self._fail(key, "a string or null")
        return value

    def _list(self, key: str) -> list[object]:
        value = self._get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._fail(key, "a list")
        return value

    def raw_list(self, key: str) -> list[object]:
        """The list at ``key`` (empty when absent), its items unchecked."""
        return self._list(key)

    def list_of_str(self, key: str) -> list[str]:
        items = self._list(key)
        if not all(isinstance(item, str) for item in items):
            raise self._fail(key, "a list of strings")
        return [item for item in items if isinstance(item, str)]

    def list_of_float(self, key: str) -> list[float]:
        return [self._number(key, item) for item in self._list(key)]

    def list_of_objects(self, key: str) -> list[_Reader]:
        return [
            _Reader(item, f"{self._where}.{key}[{i}]") for i, item in enumerate(self._list(key))
        ]

    def object_(self, key: str) -> _Reader:
        value = self._get(key)
        return _Reader({} if value is None else value, f"{self._where}.{key}")

    def objects_by_name(self, key: str) -> list[tuple[str, _Reader]]:
        value = self._get(key)
        if value is None:
            return []
        if not isinstance(value, dict):
            raise self._fail(key, "an object")
        return [
            (name, _Reader(item, f"{self._where}.{key}.{name}")) for name, item in value.items()
        ]
