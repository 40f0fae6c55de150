"""``st-twofactor migrate legacy-2fa``: an app built on SuperTokens' legacy 2FA guide moved
to st-twofactor (:mod:`st_twofactor.migrate`), with progress on stderr and the report
(or, in a dry run, the plan) on stdout. See :mod:`st_twofactor.cli`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from st_twofactor.cli._output import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    Output,
    Progress,
    outages,
)
from st_twofactor.errors import ConfigurationError

if TYPE_CHECKING:
    from st_twofactor.migrate import MigrationReport, UserDirectory
    from st_twofactor.runtime import TwoFactor


async def migrate_legacy(
    runtime: TwoFactor,
    tenants: Sequence[str] | None,
    out: Output,
    *,
    dry_run: bool,
    delete_second_users: bool,
) -> int:
    """Run the migration with a progress bar on stderr; the report (or plan) on stdout.
    The migration writes through the runtime's store (:func:`migrate_legacy_2fa` finds
    the runtime of the config, this one)."""
    from st_twofactor import speedups
    from st_twofactor.migrate import SdkUserDirectory, migrate_legacy_2fa

    # This process only talks to the core: one TLS context for its thousands of calls.
    speedups.reuse_core_connections()
    directory = SdkUserDirectory()
    label = "planning (dry run)" if dry_run else "migrating legacy 2FA"
    try:
        async with outages():
            total = await _total(directory, tenants)
            progress = Progress(label, total, out.stderr)

            def tick(done: int) -> None:
                progress.total = max(progress.total, done)  # users added meanwhile
                progress.update(done)

            try:
                report = await migrate_legacy_2fa(
                    runtime.config,
                    dry_run=dry_run,
                    delete_second_users=delete_second_users,
                    tenant_ids=tenants,
                    on_progress=tick,
                    users=directory,
                )
            finally:
                progress.close()
    except ConfigurationError as error:
        raise CommandError(EXIT_USAGE, str(error)) from error
    except (CommandError, KeyboardInterrupt):
        print(
            "st-twofactor: stopped; run the same command again to resume"
            " (users already migrated are not migrated twice)",
            file=out.stderr,
        )
        raise
    document = report.to_dict()
    out.result(document, _lines(report))
    return EXIT_OK if not report.failed else EXIT_FAILED


async def _total(directory: UserDirectory, tenants: Sequence[str] | None) -> int:
    """Users the listing will go through (each tenant's count), for the progress bar."""
    from st_twofactor.migrate import tenants_to_list

    listed = await tenants_to_list(directory, tenants, {})
    return sum([await directory.count(tenant_id, {}) for tenant_id in listed])


def _lines(report: MigrationReport) -> list[str]:
    dry = report.dry_run
    lines = []
    for m in report.migrated:
        steps = [f"pin {m.factor} {m.contact}" + (" (already pinned)" if m.already_pinned else "")]
        steps.append(f"remove the link to {m.second_user_id}")
        if m.second_user_deleted:
            steps.append(f"delete {m.second_user_id}")
        verb = "would migrate" if dry else "migrated"
        lines.append(f"{verb:<14} {m.user_id}: {', '.join(steps)}")
    for d in report.deleted_for_earlier_runs:
        verb = "would delete" if dry else "deleted"
        lines.append(
            f"{verb:<14} {d.second_user_id}: second user of {d.user_id} (migrated earlier)"
        )
    for s in report.skipped:
        verb = "would skip" if dry else "skipped"
        lines.append(f"{verb:<14} {s.user_id}: {s.reason}: {s.detail}")
    for f in report.failed:
        lines.append(f"{'failed':<14} {f.user_id}: {f.error}")
    counts = report.to_dict()["counts"]
    summary = (
        f"{'plan' if dry else 'done'}: {counts['migrated']} migrated, {counts['skipped']} skipped,"
        f" {counts['failed']} failed, {counts['deleted_for_earlier_runs']} second user(s) of"
        f" earlier runs deleted, {counts['kept_from_earlier_runs']} kept;"
        f" {report.users_read} user(s) read"
    )
    lines.append(summary + (" (dry run: nothing was changed)" if dry else ""))
    if not report.delete_second_users and (report.migrated or report.kept_from_earlier_runs):
        lines.append("second users are kept: run with --delete-second-users to delete them")
    return lines
