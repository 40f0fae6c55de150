"""The ``st-twofactor`` command line: the development core, and operations from a shell.

Operations load the app's :class:`~st_twofactor.config.TwoFactorConfig` with
``--config package.module:attribute`` and reach the SuperTokens core given by ``--core``
(or ``SUPERTOKENS_CONNECTION_URI``, with ``SUPERTOKENS_API_KEY``); if importing that
module already initialised the SDK, its connection is used as it is.

Commands (each takes ``--json`` for a machine-readable answer on stdout)::

    st-twofactor user show USER_ID        enrolled factors, devices, codes left, locks
    st-twofactor user explain USER_ID     what a sign-in would ask for, and why
                                          (--tenant ID, default public)
    st-twofactor user reset USER_ID       remove every factor, revoke sessions and
                                          remembered devices (asks unless --yes)
    st-twofactor keys status              how many TOTP secrets each key sealed
    st-twofactor keys rotate              re-seal every TOTP secret under the first key
    st-twofactor doctor                   check the core, keys, store, deliveries, plugin
    st-twofactor store create-table       create the SQLStore table (--ddl: print it)
    st-twofactor migrate legacy-2fa       move an app built on SuperTokens' legacy 2FA
                                          guide: pin each second user's contact
    st-twofactor devcore                  run the embedded development core

Exit codes: see :data:`EXIT_CODES`.

This module holds only :func:`main` and the argument parser. Each group of commands lives
in its own module: ``_user`` (user show/explain/reset), ``_keys`` (keys status/rotate),
``_doctor``, ``_store`` (store create-table), ``_migrate`` (migrate legacy-2fa) and
``_devcore``; ``_config`` loads the app's config and reaches the core, ``_output`` holds
what the commands share (exit codes, output, progress, outages). A command that works on
users' state takes the parts it needs from the runtime of the loaded config
(:meth:`~st_twofactor.runtime.TwoFactor.of`), the same parts the app's own routes use.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from st_twofactor.cli._config import connect, load_config
from st_twofactor.cli._devcore import run_devcore
from st_twofactor.cli._doctor import doctor
from st_twofactor.cli._keys import keys_rotate, keys_status
from st_twofactor.cli._migrate import migrate_legacy
from st_twofactor.cli._output import (
    EXIT_ABORTED,
    EXIT_CODES,
    EXIT_FAILED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    CommandError,
    Core,
    Output,
)
from st_twofactor.cli._store import create_table, create_table_ddl
from st_twofactor.cli._user import user_explain, user_reset, user_show
from st_twofactor.runtime import TwoFactor

if TYPE_CHECKING:
    from st_twofactor.config import TwoFactorConfig

__all__ = [
    "EXIT_ABORTED",
    "EXIT_CODES",
    "EXIT_FAILED",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "main",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``st-twofactor`` with ``argv`` (default: the process's); the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "devcore":
        return run_devcore(args, parser)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    out = Output(as_json=args.json)
    try:
        config = load_config(args.config)
        if args.command == "store" and args.ddl:
            return create_table_ddl(config, out)
        core = connect(args, config)
        return asyncio.run(_run(args, config, core, out))
    except CommandError as error:
        out.fail(error.status, str(error))
        return error.status
    except KeyboardInterrupt:
        out.fail(EXIT_ABORTED, "interrupted")
        return EXIT_ABORTED
    except Exception as error:  # e.g. a stored state that cannot be parsed
        out.fail(EXIT_FAILED, f"failed: {type(error).__name__}: {error}")
        return EXIT_FAILED


async def _run(args: argparse.Namespace, config: TwoFactorConfig, core: Core, out: Output) -> int:
    try:
        if args.command == "doctor":
            # The doctor takes the config, not a runtime: a runtime that cannot be built
            # from it is one of the things it reports (as a failed check, not a crash).
            return await doctor(config, core, out, args.app_url, args.api_base_path)
        if args.command == "store":
            return await create_table(config, out)
        runtime = TwoFactor.of(config)
        if args.command == "user" and args.action == "show":
            return await user_show(runtime, args.user_id, out)
        if args.command == "user" and args.action == "explain":
            return await user_explain(runtime, args.user_id, args.tenant, out)
        if args.command == "user":
            return await user_reset(runtime, args.user_id, out, confirmed=args.yes)
        if args.command == "keys":
            tenants = args.tenant or ["public"]
            if args.action == "status":
                return await keys_status(runtime, tenants, out)
            return await keys_rotate(runtime, tenants, out, after=args.after)
        return await migrate_legacy(
            runtime,
            args.tenant,
            out,
            dry_run=args.dry_run,
            delete_second_users=args.delete_second_users,
        )
    finally:
        # Closing the store's connections is the configured store's own business (the
        # runtime's store only wraps its reads and updates).
        aclose = getattr(config.state_store, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()


# -- the argument parser ---------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="st-twofactor",
        description="st-twofactor: the development core, and 2FA operations from a shell.",
        epilog="exit codes:\n"
        + "\n".join(f"  {code}  {meaning}" for code, meaning in EXIT_CODES.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    devcore = commands.add_parser(
        "devcore", help="run the embedded development core (development and tests only)"
    )
    devcore.add_argument("--host", default="127.0.0.1")
    devcore.add_argument("--port", type=int, default=3567)
    devcore.add_argument("--db", default=":memory:", help="SQLite file (default: in memory)")
    devcore.add_argument(
        "--licensed",
        action="store_true",
        help="serve the paid features as a core with a license key does, for apps built for a"
        " licensed production core: multi-tenancy (per-tenant third-party providers,"
        " associating users with tenants), account linking, TOTP/MFA and dashboard users"
        " beyond three; without it they answer HTTP 402, as a core without a license key",
    )
    devcore.add_argument(
        "--api-key",
        metavar="KEY",
        action="append",
        dest="api_keys",
        help="require this key in the api-key header of every call but hello and the JWKS"
        " (else 401), as a core with API keys does; at least 20 letters, digits, '=' or '-';"
        " repeat for several keys (other users of this machine can see a command line)",
    )
    # The defaults are DevCore's (not imported here: the other commands do not need it).
    devcore.add_argument(
        "--request-timeout",
        metavar="SECONDS",
        type=float,
        help="a client that takes longer to send a whole request (from its first byte), or"
        " to take its answer, is disconnected (default: 5)",
    )
    devcore.add_argument(
        "--idle-timeout",
        metavar="SECONDS",
        type=float,
        help="close a kept-alive connection idle for this long (default: 30)",
    )
    devcore.add_argument(
        "--workers", metavar="N", type=int, help="threads that run requests (default: 8)"
    )
    devcore.add_argument(
        "--max-connections",
        metavar="N",
        type=int,
        help="connections open at once; more wait to be accepted (default: 256)",
    )

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        required=True,
        metavar="MODULE:ATTRIBUTE",
        help="the app's TwoFactorConfig, e.g. myapp.auth:twofactor_config",
    )
    common.add_argument(
        "--core",
        metavar="URL",
        help="SuperTokens core URL (default: $SUPERTOKENS_CONNECTION_URI)",
    )
    common.add_argument(
        "--api-key", metavar="KEY", help="core API key (default: $SUPERTOKENS_API_KEY)"
    )
    common.add_argument("--json", action="store_true", help="answer in JSON on stdout")

    user = commands.add_parser("user", help="one user's 2FA").add_subparsers(
        dest="action", required=True
    )
    show = user.add_parser("show", parents=[common], help="factors, devices, codes left, locks")
    show.add_argument("user_id", metavar="USER_ID")
    explain = user.add_parser(
        "explain", parents=[common], help="what a sign-in would ask for, and why"
    )
    explain.add_argument("user_id", metavar="USER_ID")
    explain.add_argument(
        "--tenant", default="public", metavar="TENANT_ID", help="the tenant (default: public)"
    )
    reset = user.add_parser(
        "reset",
        parents=[common],
        help="remove every factor; revoke sessions and remembered devices",
    )
    reset.add_argument("user_id", metavar="USER_ID")
    reset.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    keys = commands.add_parser("keys", help="the secret keys of TOTP secrets").add_subparsers(
        dest="action", required=True
    )
    keys.add_parser("status", parents=[common], help="how many secrets each key sealed")
    rotate = keys.add_parser(
        "rotate", parents=[common], help="re-seal every TOTP secret under the first key"
    )
    rotate.add_argument("--after", metavar="USER_ID", help="resume: skip the users up to this one")
    for command in (keys.choices["status"], rotate):
        command.add_argument(
            "--tenant",
            action="append",
            metavar="TENANT_ID",
            help="list the core's users of this tenant (repeatable; default: public) when"
            " the store cannot list its users",
        )

    doctor = commands.add_parser(
        "doctor", parents=[common], help="check the core, keys, store, deliveries, plugin"
    )
    doctor.add_argument(
        "--app-url", metavar="URL", help="the running app, to check the 2FA routes are mounted"
    )
    doctor.add_argument("--api-base-path", default="/auth", metavar="PATH")

    store = commands.add_parser("store", help="the state store").add_subparsers(
        dest="action", required=True
    )
    create = store.add_parser(
        "create-table", parents=[common], help="create the SQLStore table if missing"
    )
    create.add_argument(
        "--ddl", action="store_true", help="print the CREATE TABLE statement instead"
    )
    _migrate_parser(commands, common)
    return parser


def _migrate_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    migrate = commands.add_parser("migrate", help="move from another 2FA setup").add_subparsers(
        dest="action", required=True
    )
    legacy = migrate.add_parser(
        "legacy-2fa",
        parents=[common],
        help="pin the contact of each legacy second (passwordless) user as the user's"
        " otp-phone/otp-email factor and remove the metadata link",
    )
    legacy.add_argument("--dry-run", action="store_true", help="change nothing: print the plan")
    legacy.add_argument(
        "--delete-second-users",
        action="store_true",
        help="delete each second user once its contact is pinned (also those of earlier runs)",
    )
    legacy.add_argument(
        "--tenant",
        action="append",
        metavar="TENANT_ID",
        help="only the users of this tenant (repeatable; default: every tenant)",
    )
