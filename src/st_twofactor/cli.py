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
    st-twofactor devcore                  run the embedded development core

Exit codes: see :data:`EXIT_CODES`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from .config import TwoFactorConfig
    from .store import Store, TwoFactorState

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_ABORTED = 4
EXIT_UNAVAILABLE = 5

EXIT_CODES = {
    EXIT_OK: "done; for doctor every check passed, for keys every secret is under the first key",
    EXIT_FAILED: "doctor: a check failed; keys: some secrets are not under the first key"
    " yet; or another error (its message says which)",
    EXIT_USAGE: "bad arguments, or --config cannot be loaded, or the command does not apply",
    EXIT_NOT_FOUND: "user show/reset: the core has no such user",
    EXIT_ABORTED: "user reset: not confirmed",
    EXIT_UNAVAILABLE: "the SuperTokens core or the 2FA state store cannot be reached",
}
"""What each exit status means, for scripts."""

DOCTOR_USER_ID = "st-twofactor:doctor"
"""The user id whose state ``doctor`` writes and reads back (its round trip)."""


class CommandError(Exception):
    """Ends a command with ``status`` and a message for the operator."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# -- the command line --------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "devcore":
        return _devcore(args)
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
        help="answer the paid features (TOTP, MFA, account linking) instead of HTTP 402",
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
    return parser


def _devcore(args: argparse.Namespace) -> int:
    from .devcore import DevCore

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with DevCore(args.db, host=args.host, port=args.port, licensed=args.licensed) as core:
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
        return await create_table(config, out)
    finally:
        aclose = getattr(config.state_store, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()


# -- output --------------------------------------------------------------------------------


@dataclass
class Output:
    """Lines for people on stdout, or one JSON document with ``--json``; problems on
    stderr either way."""

    as_json: bool
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)

    def result(self, document: dict[str, Any], lines: Sequence[str]) -> None:
        if self.as_json:
            print(json.dumps(document, indent=2, sort_keys=True), file=self.stdout)
        else:
            for line in lines:
                print(line, file=self.stdout)

    def fail(self, status: int, message: str) -> None:
        print(f"st-twofactor: {message}", file=self.stderr)
        if self.as_json:
            print(json.dumps({"ok": False, "exit": status, "error": message}), file=self.stdout)


class Progress:
    """A progress bar on stderr: ``label [#####.....] done/total``."""

    WIDTH = 30

    def __init__(self, label: str, total: int, stream: TextIO) -> None:
        self.label = label
        self.total = total
        self.stream = stream
        self._shown = -1

    def update(self, done: int) -> None:
        filled = self.WIDTH if self.total == 0 else self.WIDTH * done // self.total
        if filled == self._shown and done != self.total:
            return
        self._shown = filled
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\r{self.label} [{bar}] {done}/{self.total}")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


# -- configuration and the core ----------------------------------------------------------------


def load_config(spec: str) -> TwoFactorConfig:
    """The :class:`TwoFactorConfig` named by ``package.module:attribute`` (the attribute
    may be dotted, and may be a function of no argument that returns the config)."""
    from .config import TwoFactorConfig

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


@dataclass(frozen=True)
class Core:
    """How this command reaches the SuperTokens core."""

    uri: str
    api_key: str | None
    initialised_by_app: bool
    """The app's module initialised the SDK when it was imported."""


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


@contextlib.asynccontextmanager
async def _outages() -> AsyncIterator[None]:
    """An unreachable core or store ends the command with :data:`EXIT_UNAVAILABLE`."""
    from ._outage import outage_message

    try:
        yield
    except CommandError:
        raise
    except Exception as exc:
        message = outage_message(exc)
        if message is None:
            raise
        raise CommandError(EXIT_UNAVAILABLE, message.replace("; try again later", "")) from exc


async def _existing_user(user_id: str) -> None:
    from supertokens_python.asyncio import get_user

    async with _outages():
        if await get_user(user_id) is None:
            raise CommandError(EXIT_NOT_FOUND, f"the core has no user {user_id!r}")


# -- user show / reset ---------------------------------------------------------------------


def _overview_document(overview: Any) -> dict[str, Any]:
    document = asdict(overview)
    document["totp_devices"] = [{"name": n, "verified": v} for n, v in overview.totp_devices]
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
        f"e-mail for codes:    {document['email'] or '-'}",
        f"phone for codes:     {document['phone'] or '-'}",
        f"recovery codes left: {document['recovery_codes_left']}",
        f"locked factors:      {', '.join(document['locked_factors']) or 'none'}",
    ]


async def user_show(config: TwoFactorConfig, user_id: str, out: Output) -> int:
    """The user's 2FA as an admin may see it: never a secret or a code."""
    from .admin import get_two_factor_state

    await _existing_user(user_id)
    async with _outages():
        document = _overview_document(await get_two_factor_state(config, user_id))
    out.result({"ok": True, **document}, _overview_lines(document))
    return EXIT_OK


async def user_reset(config: TwoFactorConfig, user_id: str, out: Output, *, confirmed: bool) -> int:
    """Remove every factor of the user, revoke their sessions and remembered devices."""
    from .admin import reset_factors

    await _existing_user(user_id)
    if not confirmed and not _confirm(f"Remove every 2FA factor of {user_id} and sign them out?"):
        raise CommandError(EXIT_ABORTED, "not confirmed (pass --yes to skip the question)")
    async with _outages():
        overview = await reset_factors(config, user_id)  # bumps the epoch: remembered devices
        revoked = await _revoke_sessions(user_id)
    document = {**_overview_document(overview), "sessions_revoked": revoked}
    out.result(
        {"ok": True, **document},
        [
            f"reset {user_id}: every factor removed, remembered devices revoked,"
            f" {revoked} session(s) revoked",
        ],
    )
    return EXIT_OK


async def _revoke_sessions(user_id: str) -> int:
    """Revoke every session of the user, in every tenant.

    TODO(lead): ``admin.reset_factors`` is to revoke sessions itself; then drop this call
    (the one place the command does it) and report its count instead.
    """
    from supertokens_python.recipe.session.asyncio import revoke_all_sessions_for_user

    return len(await revoke_all_sessions_for_user(user_id))


def _confirm(question: str) -> bool:
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    try:
        answer = sys.stdin.readline()
    except (OSError, ValueError):
        return False
    return answer.strip().lower() in ("y", "yes")


# -- keys -------------------------------------------------------------------------------------


@dataclass
class KeyCount:
    """TOTP secrets by the key that sealed them."""

    users: int = 0
    secrets: int = 0
    by_key: dict[str, int] = field(default_factory=dict)
    unreadable: int = 0
    """Secrets no configured key opens (a key missing from the list, or damage)."""
    rotated: int = 0

    def add(self, other: KeyCount) -> None:
        self.users += other.users
        self.secrets += other.secrets
        self.unreadable += other.unreadable
        self.rotated += other.rotated
        for key_id, count in other.by_key.items():
            self.by_key[key_id] = self.by_key.get(key_id, 0) + count

    def old(self, primary: str) -> int:
        return sum(count for key_id, count in self.by_key.items() if key_id != primary)


def _count_keys(box: Any, user_id: str, state: TwoFactorState, *, reseal: bool) -> KeyCount:
    """Count (and with ``reseal``, re-seal under the first key) the user's TOTP secrets."""
    from .errors import DecryptionError

    count = KeyCount(users=1)
    for device in state.totp_devices:
        count.secrets += 1
        try:
            box.decrypt(device.secret, context=user_id)
        except DecryptionError:
            count.unreadable += 1
            continue
        if reseal and box.needs_rotation(device.secret):
            device.secret = box.rotate(device.secret, context=user_id)
            count.rotated += 1
        key_id = device.secret.split(".")[1]
        count.by_key[key_id] = count.by_key.get(key_id, 0) + 1
    return count


BATCH = 8
"""Users whose state ``keys`` commands handle at once (in order, batch after batch)."""


def _batches(users: list[str]) -> list[list[str]]:
    return [users[i : i + BATCH] for i in range(0, len(users), BATCH)]


def _resealer(box: Any, user_id: str) -> Callable[[TwoFactorState], KeyCount]:
    def reseal(state: TwoFactorState) -> KeyCount:
        return _count_keys(box, user_id, state, reseal=True)

    return reseal


async def _user_ids(store: Store, tenants: Sequence[str], after: str | None) -> list[str]:
    """Every user with 2FA state: from the store when it lists them, else the core's
    users of ``tenants``. With ``after``, only those that come after it."""
    listing: Callable[..., AsyncIterator[str]] | None = getattr(store, "user_ids", None)
    if listing is not None:
        return [user_id async for user_id in listing(after=after)]
    from supertokens_python.asyncio import get_users_oldest_first

    seen: dict[str, None] = {}
    for tenant in tenants:
        token: str | None = None
        while True:
            page = await get_users_oldest_first(tenant, limit=500, pagination_token=token)
            for user in page.users:
                seen.setdefault(user.id, None)
            token = page.next_pagination_token
            if token is None:
                break
    ordered = list(seen)
    if after is not None:
        if after not in seen:
            raise CommandError(EXIT_USAGE, f"--after {after!r}: no such user in the listing")
        ordered = ordered[ordered.index(after) + 1 :]
    return ordered


def _keys_document(config: TwoFactorConfig, total: KeyCount, primary: str) -> dict[str, Any]:
    return {
        "ok": total.old(primary) == 0 and total.unreadable == 0,
        "keys": len(config.secret_keys) or 1,
        "first_key_id": primary,
        "users": total.users,
        "secrets": total.secrets,
        "under_first_key": total.by_key.get(primary, 0),
        "under_old_keys": {k: v for k, v in sorted(total.by_key.items()) if k != primary},
        "still_old": total.old(primary),
        "unreadable": total.unreadable,
        "rotated": total.rotated,
    }


def _keys_lines(document: dict[str, Any]) -> list[str]:
    old = ", ".join(f"{k}: {v}" for k, v in document["under_old_keys"].items()) or "none"
    lines = [
        f"users with TOTP:       {document['users']}",
        f"TOTP secrets:          {document['secrets']}",
        f"under the first key:   {document['under_first_key']} (key id {document['first_key_id']})",
        f"under older keys:      {document['still_old']} ({old})",
        f"unreadable:            {document['unreadable']}",
    ]
    if document["ok"]:
        lines.append("every secret is under the first key: older keys can be removed")
    elif document["unreadable"]:
        lines.append("some secrets no configured key opens: keep every key that sealed them")
    else:
        lines.append("run `st-twofactor keys rotate` before removing an older key")
    return lines


async def keys_status(config: TwoFactorConfig, tenants: Sequence[str], out: Output) -> int:
    """How many TOTP secrets each key sealed (nothing is written)."""
    from ._crypto import SecretBox
    from .service import secret_keys

    box = SecretBox(secret_keys(config))
    store = config.state_store
    total = KeyCount()

    async def count(user_id: str) -> KeyCount:
        return _count_keys(box, user_id, await store.load(user_id), reseal=False)

    async with _outages():
        users = await _user_ids(store, tenants, None)
        for batch in _batches(users):
            for counted in await asyncio.gather(*(count(user_id) for user_id in batch)):
                if counted.secrets:
                    total.add(counted)
    document = _keys_document(config, total, box.primary_key_id)
    out.result(document, _keys_lines(document))
    return EXIT_OK if document["ok"] else EXIT_FAILED


async def keys_rotate(
    config: TwoFactorConfig, tenants: Sequence[str], out: Output, *, after: str | None
) -> int:
    """Re-seal every TOTP secret under the first key, one atomic update per user.

    Resumable: a user whose secrets are all under the first key is not written, so
    running it again only does what is left; ``--after USER_ID`` skips the users before.
    """
    from ._crypto import SecretBox
    from .service import secret_keys

    box = SecretBox(secret_keys(config))
    store = config.state_store
    total = KeyCount()
    async with _outages():
        users = await _user_ids(store, tenants, after)
    progress = Progress("re-sealing TOTP secrets", len(users), out.stderr)
    last_done = after
    done = 0
    try:
        for batch in _batches(users):
            async with _outages():
                counts = await asyncio.gather(
                    *(store.update(user_id, _resealer(box, user_id)) for user_id in batch)
                )
            for count in counts:
                if count.secrets:
                    total.add(count)
            last_done, done = batch[-1], done + len(batch)  # every user up to here is done
            progress.update(done)
    except (CommandError, KeyboardInterrupt):
        progress.close()
        if last_done is not None:
            print(
                f"st-twofactor: stopped; resume with: keys rotate --after {last_done}",
                file=out.stderr,
            )
        raise
    progress.close()
    document = _keys_document(config, total, box.primary_key_id)
    lines = [f"re-sealed {total.rotated} secret(s) under key {box.primary_key_id}"]
    out.result(document, lines + _keys_lines(document))
    return EXIT_OK if document["ok"] else EXIT_FAILED


# -- doctor -------------------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    status: str
    """``ok``, ``fail`` or ``skip`` (cannot tell from here; does not fail the doctor)."""
    detail: str
    fix: str = ""


async def doctor(
    config: TwoFactorConfig, core: Core, out: Output, app_url: str | None, api_base_path: str
) -> int:
    """Check what a deployment needs; one line each, with the fix of what fails."""
    checks = [
        await _check_core(core),
        _check_keys(config),
        await _check_store(config),
        *_check_deliveries(config, core),
        await _check_plugin(core, app_url, api_base_path),
    ]
    ok = all(check.status != "fail" for check in checks)
    lines = []
    for check in checks:
        lines.append(f"{check.status:4}  {check.name}: {check.detail}")
        if check.status == "fail" and check.fix:
            lines.append(f"      fix: {check.fix}")
    out.result({"ok": ok, "checks": [asdict(c) for c in checks]}, lines)
    return EXIT_OK if ok else EXIT_FAILED


async def _check_core(core: Core) -> Check:
    import httpx

    headers = {"api-key": core.api_key} if core.api_key else {}
    uri = core.uri.split(";")[0].rstrip("/")
    try:
        async with httpx.AsyncClient(timeout=5.0) as client:
            hello = await client.get(f"{uri}/hello", headers=headers)
            versions = await client.get(f"{uri}/apiversion", headers=headers)
        hello.raise_for_status()
        versions.raise_for_status()
        newest = versions.json()["versions"][-1]
    except Exception as exc:
        return Check(
            "core",
            "fail",
            f"{uri} does not answer ({type(exc).__name__})",
            "start the core, or pass --core URL / set SUPERTOKENS_CONNECTION_URI"
            " (and SUPERTOKENS_API_KEY if it has one)",
        )
    return Check("core", "ok", f"{uri} answers, API versions up to {newest}")


def _check_keys(config: TwoFactorConfig) -> Check:
    from ._crypto import SecretBox
    from .service import secret_keys

    if not config.secret_keys:
        return Check(
            "keys",
            "fail",
            "development mode with its fixed, public key",
            "pass secret_keys=[...] (secrets.token_urlsafe(32)) from the environment",
        )
    try:
        box = SecretBox(secret_keys(config))
        sealed = box.encrypt("doctor", context=DOCTOR_USER_ID)
        assert box.decrypt(sealed, context=DOCTOR_USER_ID) == "doctor"
    except Exception as exc:
        return Check("keys", "fail", f"cannot seal a secret ({type(exc).__name__})", str(exc))
    count = len(config.secret_keys)
    return Check("keys", "ok", f"{count} key(s); the first (id {box.primary_key_id}) seals")


async def _check_store(config: TwoFactorConfig) -> Check:
    store = config.state_store
    name = type(store).__name__
    started = time.perf_counter()

    def bump(state: TwoFactorState) -> int:
        state.epoch += 1
        return state.epoch

    try:
        written = await store.update(DOCTOR_USER_ID, bump)
        read = (await store.load(DOCTOR_USER_ID)).epoch
    except Exception as exc:
        return Check(
            "store",
            "fail",
            f"{name}: the round trip failed ({type(exc).__name__}: {exc})",
            "check the store's server and URL; for SQLStore run `st-twofactor store create-table`",
        )
    if read != written:
        return Check("store", "fail", f"{name}: wrote epoch {written}, read {read}", "")
    elapsed = (time.perf_counter() - started) * 1000
    return Check("store", "ok", f"{name}: write and read back in {elapsed:.0f} ms")


def _check_deliveries(config: TwoFactorConfig, core: Core) -> list[Check]:
    needs = {"otp-email": "email_delivery", "otp-phone": "sms_delivery"}
    checks = []
    for factor, ingredient in needs.items():
        if factor not in config.factors:
            continue
        name = f"{factor} delivery"
        if config.development:
            checks.append(Check(name, "ok", "development mode: codes are written to the log"))
            continue
        if not core.initialised_by_app:
            checks.append(
                Check(
                    name,
                    "skip",
                    "the --config module does not initialise the SDK, so its delivery is"
                    " not known here (build_recipe_list refuses to start without one)",
                )
            )
            continue
        checks.append(_check_delivery(name, ingredient))
    return checks


def _check_delivery(name: str, ingredient: str) -> Check:
    from supertokens_python.recipe.passwordless.recipe import PasswordlessRecipe

    fix = f"pass {ingredient}=... to build_recipe_list (your own sender)"
    try:
        recipe = PasswordlessRecipe.get_instance()
    except Exception:
        return Check(name, "fail", "the passwordless recipe is not initialised", fix)
    service = getattr(recipe, ingredient).ingredient_interface_impl
    module = type(service).__module__
    if "backward_compatibility" in module:
        return Check(name, "fail", "codes would go through SuperTokens' hosted service", fix)
    return Check(name, "ok", f"sent by {type(service).__name__}")


async def _check_plugin(core: Core, app_url: str | None, api_base_path: str) -> Check:
    from .routes import PLUGIN_ID

    fix = "add twofactor_plugin(config) to supertokens_python.init(..., plugins=[...])"
    if app_url:
        import httpx

        url = f"{app_url.rstrip('/')}{api_base_path.rstrip('/')}/2fa"
        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                response = await client.get(url)
        except httpx.HTTPError as exc:
            return Check("plugin", "fail", f"{url}: no answer ({type(exc).__name__})", fix)
        if response.status_code == 401:
            return Check("plugin", "ok", f"GET {url} asks for a session (mounted)")
        return Check("plugin", "fail", f"GET {url} answered {response.status_code}", fix)
    if core.initialised_by_app:
        from supertokens_python.supertokens import Supertokens

        ids = [plugin.id for plugin in Supertokens.get_instance().plugin_list]
        if PLUGIN_ID in ids:
            return Check("plugin", "ok", "twofactor_plugin is in the SDK's plugins")
        return Check("plugin", "fail", "twofactor_plugin is not in the SDK's plugins", fix)
    return Check("plugin", "skip", "pass --app-url URL to check the running app's 2FA routes")


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
    async with _outages():
        await store.create_table()
    name = store.table.fullname
    out.result({"ok": True, "table": name}, [f"table {name} is there"])
    return EXIT_OK
