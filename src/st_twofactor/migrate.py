"""Moving an app built on SuperTokens' legacy 2FA guide to st-twofactor, with no re-enrolment.

An app that followed the legacy guide keeps, for each person with 2FA, a second user of
the passwordless recipe that holds the phone number (or e-mail address) codes go to, linked
from the first user's metadata key ``passwordlessUserId``. :func:`migrate_legacy_2fa` pins
that contact as the user's ``otp-phone`` (or ``otp-email``) factor in this library's state,
so the user's next sign-in asks for a code sent to the same number, with no enrolment step.

For each user with the link, in this order:

1. the contact is pinned in the user's state, in one atomic ``update`` (nothing is written
   when that contact is already pinned; a *different* contact pinned skips the user);
2. one metadata write replaces the link by a note of the second user's id under
   :data:`NOTE_KEY` (the legacy app no longer finds a link; the note is what a later run
   deletes the second user from, and what a roll-back restores the link from);
3. with ``delete_second_users``, the second user is deleted, then the note removed.

So a run stopped at any point and run again finishes every user exactly once: stopped
before 1, the user is untouched; after 1, the re-run finds the link and the same contact
pinned, and goes on with 2; after 2, a run with ``delete_second_users`` finds the note and
does 3. Deleting the second users can also be left to a later run, once the migrated
users have been seen signing in.

Users are read from the core page by page (every tenant, or the ones given), a few at a
time, so memory does not grow with the number of users read; only the report's entries
(one per user with a link) are kept. No event is emitted: nothing changed for the user,
whose codes keep going to the same place.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, TypeAlias

from supertokens_python.async_to_sync_wrapper import sync

from st_twofactor.config import TwoFactorConfig
from st_twofactor.errors import ConfigurationError, StoreUnavailableError
from st_twofactor.factors.codes._inputs import normalise_email
from st_twofactor.http._outage import _is_core_outage
from st_twofactor.stores.metadata import _uncached
from st_twofactor.stores.state import TwoFactorState

__all__ = [
    "LINK_KEY",
    "NOTE_KEY",
    "CoreUser",
    "Failed",
    "ListedUser",
    "Migrated",
    "MigrationReport",
    "SdkUserDirectory",
    "SecondUserDeleted",
    "Skipped",
    "UserDirectory",
    "migrate_legacy_2fa",
    "migrate_legacy_2fa_sync",
]

LINK_KEY = "passwordlessUserId"
"""The metadata key where the legacy guide links a user to their second (passwordless) user."""

NOTE_KEY = "st_twofactor_legacy_second_user"
"""The metadata key where a migrated user's second user id is kept until it is deleted."""

PHONE = "otp-phone"
EMAIL = "otp-email"

SkipReason = Literal[
    "dangling-link",
    "no-contact",
    "other-contact-pinned",
    "not-a-second-user",
    "factor-not-enabled",
    "malformed-link",
]

PAGE_SIZE = 500
"""Users asked from the core at a time."""


# -- the report ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Migrated:
    """A user whose link this run removed: the contact is pinned (or, in a dry run, would be)."""

    user_id: str
    second_user_id: str
    factor: str
    """``"otp-phone"`` or ``"otp-email"``."""
    contact: str
    already_pinned: bool
    """The contact was pinned before this run (an earlier, stopped run, or the user):
    the state was not written."""
    second_user_deleted: bool


@dataclass(frozen=True)
class Skipped:
    """A user with a link that was left as it is, and why."""

    user_id: str
    second_user_id: str | None
    reason: SkipReason
    detail: str


@dataclass(frozen=True)
class Failed:
    """A user whose migration raised an error (the run went on with the others)."""

    user_id: str
    second_user_id: str | None
    error: str


@dataclass(frozen=True)
class SecondUserDeleted:
    """A user migrated by an earlier run whose second user this run deleted."""

    user_id: str
    second_user_id: str


Outcome: TypeAlias = "Migrated | Skipped | Failed | SecondUserDeleted"
"""What became of one user with a link (or a note of an earlier run)."""

KEPT: Literal["kept"] = "kept"
"""A user migrated by an earlier run whose second user is kept (no ``delete_second_users``)."""


@dataclass
class MigrationReport:
    """What a run did (or, with ``dry_run``, would do): enough to restore every link."""

    dry_run: bool
    delete_second_users: bool
    users_read: int = 0
    """Users listed from the core (a user of several listed tenants counts once per tenant)."""
    migrated: list[Migrated] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)
    deleted_for_earlier_runs: list[SecondUserDeleted] = field(default_factory=list)
    kept_from_earlier_runs: int = 0
    """Users migrated by an earlier run whose second user is still there (the note is kept
    until a run with ``delete_second_users``)."""

    def add(self, outcome: Outcome) -> None:
        if isinstance(outcome, Migrated):
            self.migrated.append(outcome)
        elif isinstance(outcome, Skipped):
            self.skipped.append(outcome)
        elif isinstance(outcome, Failed):
            self.failed.append(outcome)
        elif isinstance(outcome, SecondUserDeleted):
            self.deleted_for_earlier_runs.append(outcome)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-safe document (``st-twofactor migrate legacy-2fa --json`` prints it)."""
        return {
            "ok": not self.failed,
            "dry_run": self.dry_run,
            "delete_second_users": self.delete_second_users,
            "users_read": self.users_read,
            "counts": {
                "migrated": len(self.migrated),
                "skipped": len(self.skipped),
                "failed": len(self.failed),
                "deleted_for_earlier_runs": len(self.deleted_for_earlier_runs),
                "kept_from_earlier_runs": self.kept_from_earlier_runs,
            },
            "migrated": [asdict(m) for m in self.migrated],
            "skipped": [asdict(s) for s in self.skipped],
            "failed": [asdict(f) for f in self.failed],
            "deleted_for_earlier_runs": [asdict(d) for d in self.deleted_for_earlier_runs],
        }


# -- the users, as the core has them -----------------------------------------------------------


@dataclass(frozen=True)
class ListedUser:
    user_id: str
    tenant_ids: tuple[str, ...]


@dataclass(frozen=True)
class CoreUser:
    """A user as the core answers for an id: its own id (another one when the id is a
    login method linked into another user) and its login methods."""

    user_id: str
    methods: tuple[tuple[str, str | None, str | None], ...]
    """(recipe id, e-mail, phone number) of each login method."""


class UserDirectory(Protocol):
    """What the migration reads and changes in the core (:class:`SdkUserDirectory`)."""

    async def tenant_ids(self, user_context: dict[str, Any]) -> list[str]: ...

    async def count(self, tenant_id: str, user_context: dict[str, Any]) -> int: ...

    async def page(
        self, tenant_id: str, token: str | None, limit: int, user_context: dict[str, Any]
    ) -> tuple[list[ListedUser], str | None]: ...

    async def metadata(self, user_id: str, user_context: dict[str, Any]) -> Mapping[str, Any]: ...

    async def update_metadata(
        self, user_id: str, update: dict[str, Any], user_context: dict[str, Any]
    ) -> None: ...

    async def user(self, user_id: str, user_context: dict[str, Any]) -> CoreUser | None: ...

    async def delete_user(self, user_id: str, user_context: dict[str, Any]) -> None: ...


class SdkUserDirectory:
    """The core through supertokens-python (``init()`` must have been called)."""

    async def tenant_ids(self, user_context: dict[str, Any]) -> list[str]:
        from supertokens_python.recipe.multitenancy.asyncio import list_all_tenants

        tenants = (await list_all_tenants(user_context)).tenants
        return [t.tenant_id for t in tenants]

    async def count(self, tenant_id: str, user_context: dict[str, Any]) -> int:
        from supertokens_python.asyncio import get_user_count

        return await get_user_count(None, tenant_id, user_context)

    async def page(
        self, tenant_id: str, token: str | None, limit: int, user_context: dict[str, Any]
    ) -> tuple[list[ListedUser], str | None]:
        from supertokens_python.asyncio import get_users_oldest_first

        result = await get_users_oldest_first(
            tenant_id, limit=limit, pagination_token=token, user_context=user_context
        )
        users = [ListedUser(u.id, tuple(u.tenant_ids)) for u in result.users]
        return users, result.next_pagination_token

    async def metadata(self, user_id: str, user_context: dict[str, Any]) -> Mapping[str, Any]:
        from supertokens_python.recipe.usermetadata.asyncio import get_user_metadata

        metadata = (await get_user_metadata(user_id, user_context)).metadata
        return metadata if isinstance(metadata, Mapping) else {}

    async def update_metadata(
        self, user_id: str, update: dict[str, Any], user_context: dict[str, Any]
    ) -> None:
        from supertokens_python.recipe.usermetadata.asyncio import update_user_metadata

        await update_user_metadata(user_id, update, user_context)

    async def user(self, user_id: str, user_context: dict[str, Any]) -> CoreUser | None:
        from supertokens_python.asyncio import get_user

        found = await get_user(user_id, user_context)
        if found is None:
            return None
        methods = tuple((m.recipe_id, m.email, m.phone_number) for m in found.login_methods)
        return CoreUser(found.id, methods)

    async def delete_user(self, user_id: str, user_context: dict[str, Any]) -> None:
        from supertokens_python.asyncio import delete_user

        # Never the accounts linked to it: only this one user.
        await delete_user(user_id, remove_all_linked_accounts=False, user_context=user_context)


# -- the migration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Contact:
    factor: str
    value: str


def _second_user_contact(
    user_id: str, second_user_id: str, second: CoreUser
) -> _Contact | tuple[SkipReason, str]:
    """The contact the second user holds, or why it is not a second user to migrate.

    Only a user of its own (not a login method linked into an account), other than the
    user, whose every login method is passwordless, counts: anything else is left alone,
    and never deleted.
    """
    if second_user_id == user_id:
        return "not-a-second-user", "the link points to the user itself"
    if second.user_id != second_user_id:
        return "not-a-second-user", f"{second_user_id} is a login method of {second.user_id}"
    recipes = {recipe for recipe, _, _ in second.methods}
    if recipes != {"passwordless"}:
        return "not-a-second-user", f"{second_user_id} signs in with {', '.join(sorted(recipes))}"
    for _, _, phone in second.methods:
        if phone and phone.strip():
            return _Contact(PHONE, phone.strip())
    for _, email, _ in second.methods:
        if email and email.strip():
            return _Contact(EMAIL, normalise_email(email))
    return "no-contact", f"{second_user_id} has no phone number or e-mail address"


def _pinned(state: TwoFactorState, factor: str) -> str | None:
    return state.phone if factor == PHONE else state.email


def _same(pinned: str, contact: _Contact) -> bool:
    if contact.factor == EMAIL:
        return normalise_email(pinned) == contact.value
    return pinned.strip() == contact.value


def _pin(contact: _Contact) -> Callable[[TwoFactorState], str]:
    """The state change: pin ``contact`` unless one is pinned; what was found."""

    def pin(state: TwoFactorState) -> str:
        pinned = _pinned(state, contact.factor)
        if pinned is not None:
            return "already" if _same(pinned, contact) else "other"
        if contact.factor == PHONE:
            state.phone = contact.value
        else:
            state.email = contact.value
        state.bump_epoch()  # a factor change, as when a user pins a contact themselves
        return "pinned"

    return pin


def _is_outage(error: BaseException) -> bool:
    """A core or store that cannot be reached stops the run (it is not one user's failure)."""
    causes = [e for e in (error, error.__cause__) if e is not None]
    return any(_is_core_outage(e) for e in causes) or isinstance(error, StoreUnavailableError)


@dataclass
class _Run:
    config: TwoFactorConfig
    users: UserDirectory
    dry_run: bool
    delete: bool
    user_context: dict[str, Any]

    def context(self) -> dict[str, Any]:
        """A context per user: the SDK caches core answers in it, so one shared by every
        user would grow with them (and could answer a read with an earlier one)."""
        return _uncached(self.user_context)

    async def one(self, user_id: str) -> Outcome | Literal["kept"] | None:
        """What becomes of one listed user (``None``: not a user of the legacy 2FA)."""
        context = self.context()
        link: object = None
        note: object = None
        try:
            metadata = await self.users.metadata(user_id, context)
            link, note = metadata.get(LINK_KEY), metadata.get(NOTE_KEY)
            if link is not None:
                return await self._migrate(user_id, link, note, context)
            if note is not None:
                return await self._finish(user_id, note, context)
            return None
        except Exception as error:
            if _is_outage(error):
                raise
            second = link if isinstance(link, str) else note if isinstance(note, str) else None
            return Failed(user_id, second, f"{type(error).__name__}: {error}")

    async def _migrate(
        self, user_id: str, link: object, note: object, context: dict[str, Any]
    ) -> Outcome:
        if not isinstance(link, str) or not link.strip():
            return Skipped(user_id, None, "malformed-link", f"{LINK_KEY} is {link!r}")
        if note is not None and note != link:
            detail = f"an earlier run noted the second user {note!r}: restore or remove it first"
            return Skipped(user_id, link, "malformed-link", detail)
        second = await self.users.user(link, context)
        if second is None:
            return Skipped(user_id, link, "dangling-link", f"the core has no user {link}")
        contact = _second_user_contact(user_id, link, second)
        if not isinstance(contact, _Contact):
            return Skipped(user_id, link, *contact)
        if contact.factor not in self.config.factors:
            detail = f"{contact.factor} is not among the config's factors"
            return Skipped(user_id, link, "factor-not-enabled", detail)
        pin = _pin(contact)
        if self.dry_run:
            found = pin(await self.config.state_store.load(user_id, context))
        else:
            found = await self.config.state_store.update(user_id, pin, context)
        if found == "other":
            detail = f"another {contact.factor} contact is already pinned"
            return Skipped(user_id, link, "other-contact-pinned", detail)
        if not self.dry_run:
            await self.users.update_metadata(user_id, {LINK_KEY: None, NOTE_KEY: link}, context)
            if self.delete:
                await self._delete(user_id, link, context)
        return Migrated(
            user_id, link, contact.factor, contact.value, found == "already", self.delete
        )

    async def _finish(
        self, user_id: str, note: object, context: dict[str, Any]
    ) -> Outcome | Literal["kept"]:
        """A user migrated by an earlier run: its second user is deleted now, if asked."""
        if not isinstance(note, str) or not note.strip():
            return Skipped(user_id, None, "malformed-link", f"{NOTE_KEY} is {note!r}")
        if not self.delete:
            return KEPT
        second = await self.users.user(note, context)
        if second is not None:
            contact = _second_user_contact(user_id, note, second)
            if not isinstance(contact, _Contact) and contact[0] == "not-a-second-user":
                return Skipped(user_id, note, *contact)
        if not self.dry_run:
            await self._delete(user_id, note, context, exists=second is not None)
        return SecondUserDeleted(user_id, note)

    async def _delete(
        self, user_id: str, second_user_id: str, context: dict[str, Any], *, exists: bool = True
    ) -> None:
        if exists:
            await self.users.delete_user(second_user_id, context)
        await self.users.update_metadata(user_id, {NOTE_KEY: None}, context)


def _first_listed(user: ListedUser, earlier_tenants: Sequence[str]) -> bool:
    """Whether no tenant listed before this one has the user (each user is done once)."""
    return not any(t in user.tenant_ids for t in earlier_tenants)


async def migrate_legacy_2fa(
    config: TwoFactorConfig,
    *,
    dry_run: bool = False,
    delete_second_users: bool = False,
    tenant_ids: Sequence[str] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    users: UserDirectory | None = None,
    concurrency: int = 8,
    user_context: dict[str, Any] | None = None,
) -> MigrationReport:
    """Pin each legacy second user's contact as the user's ``otp-phone``/``otp-email``
    factor, remove the link, and with ``delete_second_users`` delete the second user.

    See the module documentation for the order of the steps and why a stopped run can
    simply be run again. ``dry_run`` changes nothing and reports what would be done.
    ``tenant_ids``: the tenants whose users are read (default: every tenant).
    ``on_outcome`` is called with each user's outcome as it is known, ``on_progress``
    with the number of users read so far. ``users``: the core (default: through the SDK).

    An unreachable core or store stops the run (the exception propagates); any other error
    with one user is reported in :attr:`MigrationReport.failed` and the run goes on.

    :raises ConfigurationError: the config enables neither ``otp-phone`` nor ``otp-email``,
        or a tenant given does not exist.
    """
    if PHONE not in config.factors and EMAIL not in config.factors:
        raise ConfigurationError(
            "the config enables neither otp-phone nor otp-email: a migrated contact could not"
            " be used; add the factor the legacy app used to TwoFactorConfig(factors=...)"
        )
    if concurrency < 1:
        raise ConfigurationError("concurrency must be at least 1")
    directory = users if users is not None else SdkUserDirectory()
    run = _Run(config, directory, dry_run, delete_second_users, dict(user_context or {}))
    report = MigrationReport(dry_run=dry_run, delete_second_users=delete_second_users)
    async for read, todo in _batches(directory, tenant_ids, concurrency, run.context):
        for outcome in await asyncio.gather(*(run.one(user_id) for user_id in todo)):
            if outcome == KEPT:
                report.kept_from_earlier_runs += 1
            elif outcome is not None:
                report.add(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)
        report.users_read += read
        if on_progress is not None:
            on_progress(report.users_read)
    return report


async def _batches(
    directory: UserDirectory,
    tenant_ids: Sequence[str] | None,
    size: int,
    context: Callable[[], dict[str, Any]],
) -> AsyncIterator[tuple[int, list[str]]]:
    """The listed users, ``size`` at a time, a page of the core at a time: how many were
    read, and the ids of those to do (a user of several tenants is done in the first)."""
    tenants = await tenants_to_list(directory, tenant_ids, context())
    for index, tenant_id in enumerate(tenants):
        earlier = tenants[:index]
        token: str | None = None
        while True:
            page, token = await directory.page(tenant_id, token, PAGE_SIZE, context())
            for start in range(0, len(page), size):
                batch = page[start : start + size]
                yield len(batch), [u.user_id for u in batch if _first_listed(u, earlier)]
            if token is None:
                break


async def tenants_to_list(
    users: UserDirectory, asked: Sequence[str] | None, user_context: dict[str, Any]
) -> list[str]:
    """The tenants whose users are listed: ``asked`` (each must exist), or every one."""
    existing = await users.tenant_ids(user_context)
    if asked is None:
        return existing
    unknown = [t for t in asked if t not in existing]
    if unknown:
        raise ConfigurationError(f"no such tenant: {', '.join(unknown)}")
    return list(dict.fromkeys(asked))


def migrate_legacy_2fa_sync(
    config: TwoFactorConfig,
    *,
    dry_run: bool = False,
    delete_second_users: bool = False,
    tenant_ids: Sequence[str] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    users: UserDirectory | None = None,
    concurrency: int = 8,
    user_context: dict[str, Any] | None = None,
) -> MigrationReport:
    """:func:`migrate_legacy_2fa` for synchronous code."""
    return sync(
        migrate_legacy_2fa(
            config,
            dry_run=dry_run,
            delete_second_users=delete_second_users,
            tenant_ids=tenant_ids,
            on_outcome=on_outcome,
            on_progress=on_progress,
            users=users,
            concurrency=concurrency,
            user_context=user_context,
        )
    )
