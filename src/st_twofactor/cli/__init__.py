"""The ``st-twofactor`` command line: the development core, and operations from a shell.

Operations load the app's :class:`~st_twofactor.config.TwoFactorConfig` with
``--config package.module:attribute`` and reach the SuperTokens core given by ``--core``
(or ``SUPERTOKENS_CONNECTION_URI``, with ``SUPERTOKENS_API_KEY``); if importing that
module already initialised the SDK, its connection is used as it is.

Commands (each takes ``--json`` for a machine-readable answer on stdout)::

    st-twofactor user show USER_ID        enrolled factors, devices, codes left, locks
    st-twofactor user reset USER_ID       remove every factor, revoke sessions and
                                          remembered devices (asks unless --yes)
    st-twofactor keys status              how many TOTP secrets each key sealed
    st-twofactor keys rotate              re-seal every secret under the first key
    st-twofactor doctor                   check the core, keys, store, deliveries, plugin
    st-twofactor store create-table       create the SQLStore table (--ddl: print it)
    st-twofactor migrate legacy-2fa       move an app built on SuperTokens' legacy 2FA
                                          guide: pin each second user's contact
    st-twofactor devcore                  run the embedded development core

Exit codes: see :data:`EXIT_CODES`. The commands live in ``_cli_keys``,
``_cli_doctor`` and ``_cli_migrate``; what they share in ``_cli_output``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

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
    outages,
    security_keys_document,
    security_keys_line,
)

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


# -- the command line --------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "devcore":
        return _devcore(args, parser)
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


def _devcore(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from st_twofactor.devcore import DevCore

    limits = ("request_timeout", "idle_timeout", "workers", "max_connections")
    given = {name: getattr(args, name) for name in limits if getattr(args, name) is not None}
    try:
        core = DevCore(
            args.db,
            host=args.host,
            port=args.port,
            licensed=args.licensed,
            api_keys=args.api_keys,
            **given,
        )
    except ValueError as error:
        parser.error(f"devcore: {error}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with core:
        print(f"st-twofactor development core listening on {core.url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


async def _run(args: argparse.Namespace, config: TwoFactorConfig, core: Core, out: Output) -> int:
    try:
        if args.command == "user" and args.action == "show":
            return await user_show(config, args.user_id, out)
        if args.command == "user":
            return await user_reset(config, args.user_id, out, confirmed=args.yes)
        if args.command == "keys":
            tenants = args.tenant or ["public"]
            if args.action == "status":
                return await keys_status(config, tenants, out)
            return await keys_rotate(config, tenants, out, after=args.after)
        if args.command == "doctor":
            return await doctor(config, core, out, args.app_url, args.api_base_path)
        if args.command == "migrate":
            return await migrate_legacy(
                config,
                args.tenant,
                out,
                dry_run=args.dry_run,
                delete_second_users=args.delete_second_users,
            )
        return await create_table(config, out)
    finally:
        aclose = getattr(config.state_store, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()


# -- configuration and the core ----------------------------------------------------------------


def load_config(spec: str) -> TwoFactorConfig:
    """The :class:`TwoFactorConfig` named by ``package.module:attribute`` (the attribute
    may be dotted, and may be a function of no argument that returns the config)."""
    from st_twofactor.config import TwoFactorConfig

    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise CommandError(EXIT_USAGE, f"--config {spec!r}: expected package.module:attribute")
    sys.path.insert(0, os.getcwd())  # as `python -m` would: the app's package from here
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise CommandError(
            EXIT_USAGE, f"--config: cannot import {module_name}: {type(exc).__name__}: {exc}"
        ) from exc
    for name in attribute.split("."):
        if not hasattr(target, name):
            raise CommandError(EXIT_USAGE, f"--config: {module_name} has no {attribute}")
        target = getattr(target, name)
    if callable(target) and not isinstance(target, TwoFactorConfig):
        target = target()
    if not isinstance(target, TwoFactorConfig):
        raise CommandError(
            EXIT_USAGE, f"--config: {spec} is a {type(target).__name__}, not a TwoFactorConfig"
        )
    return target


def connect(args: argparse.Namespace, config: TwoFactorConfig) -> Core:
    """Initialise the SDK for the core, unless importing the app already did."""
    from supertokens_python import InputAppInfo, SupertokensConfig, init
    from supertokens_python.recipe import session, usermetadata
    from supertokens_python.supertokens import Supertokens

    with contextlib.suppress(Exception):
        existing = Supertokens.get_instance().supertokens_config
        return Core(existing.connection_uri, existing.api_key, initialised_by_app=True)
    uri = args.core or os.environ.get("SUPERTOKENS_CONNECTION_URI")
    if not uri:
        raise CommandError(EXIT_USAGE, "no core: pass --core URL or set SUPERTOKENS_CONNECTION_URI")
    api_key = args.api_key or os.environ.get("SUPERTOKENS_API_KEY") or None
    init(
        app_info=InputAppInfo(
            app_name="st-twofactor",
            api_domain="http://localhost",
            website_domain="http://localhost",
        ),
        framework="fastapi",
        supertokens_config=SupertokensConfig(connection_uri=uri, api_key=api_key),
        recipe_list=[session.init(), usermetadata.init()],
        mode="asgi",
        telemetry=False,
    )
    return Core(uri, api_key, initialised_by_app=False)


async def _existing_user(user_id: str) -> None:
    from supertokens_python.asyncio import get_user

    async with outages():
        if await get_user(user_id) is None:
            raise CommandError(EXIT_NOT_FOUND, f"the core has no user {user_id!r}")


# -- user show / reset ---------------------------------------------------------------------


def _overview_document(overview: Any) -> dict[str, Any]:
    document = asdict(overview)
    del document["sessions_revoked"]  # only a reset revokes sessions; it adds the count
    document["totp_devices"] = [{"name": n, "verified": v} for n, v in overview.totp_devices]
    document["security_keys"] = security_keys_document(overview.security_keys)
    document["factors"] = list(overview.factors)
    document["locked_factors"] = list(overview.locked_factors)
    return document


def _overview_lines(document: dict[str, Any]) -> list[str]:
    devices = ", ".join(
        f"{d['name']} ({'verified' if d['verified'] else 'not verified'})"
        for d in document["totp_devices"]
    )
    return [
        f"user:                {document['user_id']}",
        f"factors:             {', '.join(document['factors']) or 'none'}",
        f"TOTP devices:        {devices or 'none'}",
        security_keys_line(document["security_keys"]),
        f"e-mail for codes:    {document['email'] or '-'}",
        f"phone for codes:     {document['phone'] or '-'}",
        f"recovery codes left: {document['recovery_codes_left']}",
        f"locked factors:      {', '.join(document['locked_factors']) or 'none'}",
    ]


async def user_show(config: TwoFactorConfig, user_id: str, out: Output) -> int:
    """The user's 2FA as an admin may see it: never a secret or a code."""
    from st_twofactor.admin import get_two_factor_state

    await _existing_user(user_id)
    async with outages():
        document = _overview_document(await get_two_factor_state(config, user_id))
    out.result({"ok": True, **document}, _overview_lines(document))
    return EXIT_OK


async def user_reset(config: TwoFactorConfig, user_id: str, out: Output, *, confirmed: bool) -> int:
    """Remove every factor of the user, revoke their sessions and remembered devices."""
    from st_twofactor.admin import reset_factors

    await _existing_user(user_id)
    if not confirmed and not _confirm(f"Remove every 2FA factor of {user_id} and sign them out?"):
        raise CommandError(EXIT_ABORTED, "not confirmed (pass --yes to skip the question)")
    async with outages():
        # factors removed, sessions revoked, the epoch bumped: remembered devices revoked
        overview = await reset_factors(config, user_id)
    revoked = overview.sessions_revoked
    document = {**_overview_document(overview), "sessions_revoked": revoked}
    out.result(
        {"ok": True, **document},
        [
            f"reset {user_id}: every factor removed, remembered devices revoked,"
            f" {revoked} session(s) revoked",
        ],
    )
    return EXIT_OK


def _confirm(question: str) -> bool:
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    try:
        answer = sys.stdin.readline()
    except (OSError, ValueError):
        return False
    return answer.strip().lower() in ("y", "yes")


# -- store --------------------------------------------------------------------------------------


def _sql_store(config: TwoFactorConfig) -> Any:
    store = config.state_store
    if not hasattr(store, "create_table"):
        raise CommandError(
            EXIT_USAGE, f"the configured store ({type(store).__name__}) has no table to create"
        )
    return store


def create_table_ddl(config: TwoFactorConfig, out: Output) -> int:
    ddl = str(_sql_store(config).ddl())
    out.result({"ok": True, "ddl": ddl}, [ddl + ";"])
    return EXIT_OK


async def create_table(config: TwoFactorConfig, out: Output) -> int:
    store = _sql_store(config)
    async with outages():
        await store.create_table()
    name = store.table.fullname
    out.result({"ok": True, "table": name}, [f"table {name} is there"])
    return EXIT_OK
