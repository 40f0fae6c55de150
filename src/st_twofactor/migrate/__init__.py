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
whose codes keep going to the same place. The state is written through the store of the
config's runtime (:class:`~st_twofactor.runtime.TwoFactor`), as every flow's is.

The package, by concept: ``_report`` (what became of each user), ``_directory`` (the
core's users, listed a page at a time), ``_contact`` (what counts as a second user, and
pinning its contact), ``_user`` (the steps for one user); the run itself is here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from supertokens_python.async_to_sync_wrapper import sync

from st_twofactor.config import TwoFactorConfig
from st_twofactor.errors import ConfigurationError
from st_twofactor.migrate._contact import EMAIL, PHONE
from st_twofactor.migrate._directory import (
    PAGE_SIZE as PAGE_SIZE,  # importable from here as before; not part of __all__
)
from st_twofactor.migrate._directory import (
    CoreUser,
    ListedUser,
    SdkUserDirectory,
    UserDirectory,
    listed_batches,
)
from st_twofactor.migrate._directory import (
    tenants_to_list as tenants_to_list,  # the CLI counts the users to list with it
)
from st_twofactor.migrate._report import (
    KEPT,
    Failed,
    Migrated,
    MigrationReport,
    SecondUserDeleted,
    Skipped,
)
from st_twofactor.migrate._report import Outcome as Outcome  # the type of on_outcome's argument
from st_twofactor.migrate._report import SkipReason as SkipReason  # the type of Skipped.reason
from st_twofactor.migrate._user import LINK_KEY, NOTE_KEY, UserMigration
from st_twofactor.runtime import TwoFactor

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
    store = TwoFactor.of(config).store
    run = UserMigration(
        config, store, directory, dry_run, delete_second_users, dict(user_context or {})
    )
    report = MigrationReport(dry_run=dry_run, delete_second_users=delete_second_users)
    async for read, todo in listed_batches(directory, tenant_ids, concurrency, run.context):
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
