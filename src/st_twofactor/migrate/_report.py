"""The report of a legacy 2FA migration: what became of each user with a link.

A run keeps one entry per user with a legacy link (or a note of an earlier run), never one
per user read, so its memory follows the users migrated, not the size of the app. The
report holds enough to restore every link it removed. See :mod:`st_twofactor.migrate`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypeAlias

SkipReason = Literal[
    "dangling-link",
    "no-contact",
    "other-contact-pinned",
    "not-a-second-user",
    "factor-not-enabled",
    "malformed-link",
]


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
