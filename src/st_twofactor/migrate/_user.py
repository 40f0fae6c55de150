"""One user's legacy 2FA migration: the link read, the contact pinned, the link replaced
by a note, the second user deleted, in the order that lets a stopped run be run again.

The user's state is changed through the runtime's store, the store every flow goes
through; an operator has no session, so its rules let the migration pass, as they let
the admin functions. See :mod:`st_twofactor.migrate` for the steps and why that order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from st_twofactor.config import TwoFactorConfig
from st_twofactor.errors import StoreUnavailableError
from st_twofactor.http._outage import is_core_outage
from st_twofactor.kernel.request_store import RequestStore
from st_twofactor.migrate._contact import Contact, pin, second_user_contact
from st_twofactor.migrate._directory import UserDirectory
from st_twofactor.migrate._report import KEPT, Failed, Migrated, Outcome, SecondUserDeleted, Skipped
from st_twofactor.stores.metadata import uncached

LINK_KEY = "passwordlessUserId"
"""The metadata key where the legacy guide links a user to their second (passwordless) user."""

NOTE_KEY = "st_twofactor_legacy_second_user"
"""The metadata key where a migrated user's second user id is kept until it is deleted."""


def _is_outage(error: BaseException) -> bool:
    """A core or store that cannot be reached stops the run (it is not one user's failure)."""
    causes = [e for e in (error, error.__cause__) if e is not None]
    return any(is_core_outage(e) for e in causes) or isinstance(error, StoreUnavailableError)


@dataclass
class UserMigration:
    """What a run does to each listed user (:meth:`one`)."""

    config: TwoFactorConfig
    store: RequestStore
    """The runtime's store: the user's state is read and changed through it."""
    users: UserDirectory
    dry_run: bool
    delete: bool
    user_context: dict[str, Any]

    def context(self) -> dict[str, Any]:
        """A context per user: the SDK caches core answers in it, so one shared by every
        user would grow with them (and could answer a read with an earlier one)."""
        return uncached(self.user_context)

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
        contact = second_user_contact(user_id, link, second)
        if not isinstance(contact, Contact):
            return Skipped(user_id, link, *contact)
        if contact.factor not in self.config.factors:
            detail = f"{contact.factor} is not among the config's factors"
            return Skipped(user_id, link, "factor-not-enabled", detail)
        change = pin(contact)
        if self.dry_run:
            found = change(await self.store.load(user_id, context))
        else:
            found = await self.store.update(user_id, change, context)
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
            contact = second_user_contact(user_id, note, second)
            if not isinstance(contact, Contact) and contact[0] == "not-a-second-user":
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
