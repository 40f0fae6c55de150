"""The ``st-twofactor`` operations commands, run as a subprocess against the development core.

The test process sets users up through the SDK (on this test's app of the development
core); the command, in its own process, loads ``tests.helpers.cli_config`` with ``--config`` and
reaches the same app with ``--core`` (or the environment). The state is in the core's user
metadata (the default store) or in an SQLite file (SQLStore), both shared by the two
processes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from supertokens_python.ingredients.emaildelivery.types import EmailDeliveryConfig
from supertokens_python.recipe.session.asyncio import (
    create_new_session_without_request_response,
    get_all_session_handles_for_user,
)
from supertokens_python.recipe.thirdparty.asyncio import manually_create_or_update_user
from supertokens_python.types import RecipeUserId

from st_twofactor import build_recipe_list
from st_twofactor.cli import (
    EXIT_ABORTED,
    EXIT_CODES,
    EXIT_FAILED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
)
from st_twofactor.config import TwoFactorConfig
from st_twofactor.factors.totp import algorithm as totp
from st_twofactor.kernel.crypto import SecretBox
from st_twofactor.runtime import TwoFactor
from st_twofactor.stores import Store, TwoFactorState
from st_twofactor.stores.state import TotpDevice

from ..helpers.cli import NEW_KEY, OLD_KEY, as_json, run_cli
from ..helpers.outbox import CapturedPasswordReset
from ..helpers.ports import free_port
from ..helpers.sdk import InitSupertokens


@pytest.fixture
def app(init_supertokens: InitSupertokens, devcore_app: str) -> Iterator[str]:
    """The SDK in this process, on this test's core app; yields the core app's URI."""
    config = TwoFactorConfig(secret_keys=[OLD_KEY], factors=("totp", "recovery-code"))
    reset_mail = EmailDeliveryConfig(service=CapturedPasswordReset([]))
    init_supertokens(build_recipe_list(config=config, emailpassword_email_delivery=reset_mail))
    yield devcore_app


def run(coroutine: Awaitable[Any]) -> Any:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


async def new_user(i: int | str) -> str:
    result = await manually_create_or_update_user(
        "public", "cli-test", f"id-{i}", f"user-{i}@example.com", True, None
    )
    user_id: str = result.user.id  # type: ignore[union-attr]
    return user_id


def enrolment(secret: str, user_id: str, box: SecretBox) -> Callable[[TwoFactorState], None]:
    sealed = box.encrypt(secret, context=user_id)

    def enrol(state: TwoFactorState) -> None:
        state.totp_devices.append(TotpDevice("phone", sealed, True, time.time()))
        state.recovery_codes = ["pbkdf2_sha256$1$salt$hash-a", "pbkdf2_sha256$1$salt$hash-b"]
        state.bump_epoch()

    return enrol


async def enrolled_users(store: Store, count: int, keys: list[str]) -> dict[str, str]:
    """``count`` users of the core, each with a verified TOTP device; user id -> secret."""
    box = SecretBox(keys)
    gate = asyncio.Semaphore(8)

    async def one(i: int) -> tuple[str, str]:
        async with gate:
            user_id = await new_user(i)
            secret = totp.new_secret()
            await store.update(user_id, enrolment(secret, user_id, box))
            return user_id, secret

    return dict(await asyncio.gather(*(one(i) for i in range(count))))


# -- configuration, connection, exit codes -------------------------------------------------


def test_help_documents_the_exit_codes() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert "exit codes:" in result.stdout
    for code, meaning in EXIT_CODES.items():
        assert f"  {code}  {meaning}" in result.stdout


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("tests.helpers.cli_config", "expected package.module:attribute"),
        ("tests.no_such_module:config", "cannot import tests.no_such_module"),
        ("tests.helpers.cli_config:missing", "has no missing"),
        ("tests.helpers.cli_config:not_a_config", "is a str, not a TwoFactorConfig"),
    ],
)
def test_a_bad_config_is_a_usage_error(spec: str, message: str) -> None:
    result = run_cli("user", "show", "u1", "--config", spec, "--core", "http://127.0.0.1:1")
    assert result.returncode == EXIT_USAGE
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_no_core_is_a_usage_error() -> None:
    result = run_cli("keys", "status", "--config", "tests.helpers.cli_config:config", "--json")
    assert result.returncode == EXIT_USAGE
    assert as_json(result) == {
        "ok": False,
        "exit": EXIT_USAGE,
        "error": "no core: pass --core URL or set SUPERTOKENS_CONNECTION_URI",
    }


def test_an_unreachable_core_is_unavailable() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    result = run_cli(
        "user", "show", "u1", "--config", "tests.helpers.cli_config:config", "--core", dead
    )
    assert result.returncode == EXIT_UNAVAILABLE, result.stderr
    assert "the SuperTokens core is unreachable" in result.stderr
    assert "Traceback" not in result.stderr


# -- user show / reset ------------------------------------------------------------------------


def test_user_show_tells_factors_and_no_secret(app: str) -> None:
    config = TwoFactorConfig(secret_keys=[OLD_KEY], factors=("totp", "recovery-code"))
    user_id = run(new_user("show"))
    secret = totp.new_secret()
    run(config.state_store.update(user_id, enrolment(secret, user_id, SecretBox([OLD_KEY]))))
    sealed = run(config.state_store.load(user_id)).totp_devices[0].secret

    result = run_cli(
        "user", "show", user_id, "--config", "tests.helpers.cli_config:make_config", core=app
    )
    assert result.returncode == EXIT_OK, result.stderr
    assert "totp, recovery-code" in result.stdout
    assert "phone (verified)" in result.stdout
    assert "recovery codes left: 2" in result.stdout
    shown = run_cli(
        "user",
        "show",
        user_id,
        "--config",
        "tests.helpers.cli_config:config",
        "--json",
        "--core",
        app,
    )
    document = as_json(shown)
    assert document["factors"] == ["totp", "recovery-code"]
    assert document["totp_devices"] == [{"name": "phone", "verified": True}]
    assert document["recovery_codes_left"] == 2
    assert document["locked_factors"] == []
    for output in (result.stdout, shown.stdout):
        assert secret not in output and sealed not in output and "pbkdf2" not in output


def _security_key(name: str, created_at: float, last_used_at: float | None) -> Any:
    """A stored security key with a real P-256 public key (COSE) and a random id."""
    import base64
    import secrets

    import cbor2
    from cryptography.hazmat.primitives.asymmetric import ec

    from st_twofactor.factors.webauthn.records import WebAuthnCredential

    point = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    cose = {1: 2, 3: -7, -1: 1, -2: point.x.to_bytes(32, "big"), -3: point.y.to_bytes(32, "big")}

    def b64url(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return WebAuthnCredential(
        b64url(secrets.token_bytes(16)),
        b64url(cbor2.dumps(cose)),
        3,
        ("usb",),
        name,
        created_at,
        last_used_at,
    )


def test_user_show_lists_security_keys_without_key_material(app: str) -> None:
    """Each key's name, when it was added and when last used; never its id or public key.
    A plain read says nothing of revoked sessions (only a reset does)."""
    config = TwoFactorConfig(secret_keys=[OLD_KEY], factors=("webauthn", "recovery-code"))
    user_id = run(new_user("keys"))
    keys = [
        _security_key("yubikey", 1_714_564_800, 1_714_651_200.5),  # 2024-05-01, 05-02
        _security_key("laptop", 1_717_200_000, None),  # 2024-06-01, never used
    ]

    def enrol(state: TwoFactorState) -> None:
        state.webauthn_credentials = list(keys)
        state.recovery_codes = ["pbkdf2_sha256$1$salt$hash-a"]

    run(config.state_store.update(user_id, enrol))
    text = run_cli("user", "show", user_id, "--config", "tests.helpers.cli_config:config", core=app)
    assert text.returncode == EXIT_OK, text.stderr
    assert (
        "security keys:       yubikey (added 2024-05-01T12:00:00Z, last used"
        " 2024-05-02T12:00:00Z), laptop (added 2024-06-01T00:00:00Z, last used never)"
    ) in text.stdout
    shown = run_cli(
        "user", "show", user_id, "--config", "tests.helpers.cli_config:config", "--json", core=app
    )
    document = as_json(shown)
    assert document["security_keys"] == [
        {
            "name": "yubikey",
            "created_at": "2024-05-01T12:00:00Z",
            "last_used_at": "2024-05-02T12:00:00Z",
        },
        {"name": "laptop", "created_at": "2024-06-01T00:00:00Z", "last_used_at": None},
    ]
    assert "webauthn" in document["factors"]
    assert "sessions_revoked" not in document
    for output in (text.stdout, shown.stdout):
        for key in keys:
            assert key.credential_id not in output and key.public_key not in output


def test_user_show_lists_remembered_devices(app: str) -> None:
    """Each remembered device's id, name, when remembered and last used; expired ones are
    not listed; never a token."""
    from st_twofactor.kernel.trusted_devices import RememberedDevice

    config = TwoFactorConfig(secret_keys=[OLD_KEY], factors=("totp", "recovery-code"))
    user_id = run(new_user("remembered"))
    later = 4_102_444_800_000  # 2100-01-01, in ms
    devices = [
        RememberedDevice("dev-a", "Chrome on Linux", 1_714_564_800_000, 1_714_651_200_000, later),
        RememberedDevice("dev-b", "Safari on iOS", 1_714_564_800_000, 1_714_564_800_000, 1),
    ]

    def remember(state: TwoFactorState) -> None:
        state.remembered_devices = list(devices)

    run(config.state_store.update(user_id, remember))
    text = run_cli("user", "show", user_id, "--config", "tests.helpers.cli_config:config", core=app)
    assert text.returncode == EXIT_OK, text.stderr
    assert (
        "remembered devices:  Chrome on Linux (id dev-a, remembered 2024-05-01T12:00:00Z, "
        "last used 2024-05-02T12:00:00Z)"
    ) in text.stdout
    assert "Safari" not in text.stdout  # expired
    shown = run_cli(
        "user", "show", user_id, "--config", "tests.helpers.cli_config:config", "--json", core=app
    )
    assert as_json(shown)["remembered_devices"] == [
        {
            "id": "dev-a",
            "name": "Chrome on Linux",
            "created_at": "2024-05-01T12:00:00Z",
            "last_used_at": "2024-05-02T12:00:00Z",
        }
    ]


def test_a_state_that_cannot_be_parsed_is_reported_not_shown(app: str) -> None:
    from supertokens_python.recipe.usermetadata.asyncio import update_user_metadata

    user_id = run(new_user("garbled"))
    run(update_user_metadata(user_id, {"st_twofactor": {"v": 99}}))
    result = run_cli(
        "user", "show", user_id, "--config", "tests.helpers.cli_config:config", core=app
    )
    assert result.returncode == EXIT_FAILED
    assert "MalformedDataError: 2FA state has unsupported version 99" in result.stderr
    assert "Traceback" not in result.stderr


def test_user_show_of_an_unknown_user(app: str) -> None:
    result = run_cli(
        "user", "show", "nobody", "--config", "tests.helpers.cli_config:config", core=app
    )
    assert result.returncode == EXIT_NOT_FOUND
    assert "no user 'nobody'" in result.stderr


def test_user_reset_asks_removes_factors_and_revokes_sessions(app: str) -> None:
    config = TwoFactorConfig(secret_keys=[OLD_KEY], factors=("totp", "recovery-code"))
    store = config.state_store
    user_id = run(new_user("reset"))
    run(store.update(user_id, enrolment(totp.new_secret(), user_id, SecretBox([OLD_KEY]))))

    async def sign_in() -> None:
        await create_new_session_without_request_response("public", RecipeUserId(user_id))

    run(sign_in())
    run(sign_in())
    before = run(store.load(user_id))

    refused = run_cli(
        "user",
        "reset",
        user_id,
        "--config",
        "tests.helpers.cli_config:config",
        core=app,
        input="n\n",
    )
    assert refused.returncode == EXIT_ABORTED
    assert run(store.load(user_id)) == before
    assert len(run(get_all_session_handles_for_user(user_id))) == 2

    done = run_cli(
        "user",
        "reset",
        user_id,
        "--config",
        "tests.helpers.cli_config:config",
        "--json",
        core=app,
        input="y\n",
    )
    assert done.returncode == EXIT_OK, done.stderr
    document = as_json(done)
    assert document["factors"] == [] and document["sessions_revoked"] == 2
    after = run(store.load(user_id))
    assert after.factor_ids() == []
    assert after.epoch == before.epoch + 1  # remembered devices revoked
    assert run(get_all_session_handles_for_user(user_id)) == []

    again = run_cli(
        "user", "reset", user_id, "--yes", "--config", "tests.helpers.cli_config:config", core=app
    )
    assert again.returncode == EXIT_OK
    assert "0 session(s) revoked" in again.stdout


# -- keys ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_full_key_rotation_of_200_users(app: str) -> None:
    """200 users enrolled under the old key; `keys rotate` re-seals them all under the new
    one; then the old key is removed and every user still signs in with TOTP."""
    store = TwoFactorConfig(secret_keys=[OLD_KEY]).state_store
    secrets_by_user = run(enrolled_users(store, 200, [OLD_KEY]))
    both = [NEW_KEY, OLD_KEY]
    cli = ("--config", "tests.helpers.cli_config:config")

    status = run_cli("keys", "status", *cli, "--json", core=app, keys=both)
    assert status.returncode == EXIT_FAILED
    before = as_json(status)
    old_id = SecretBox([OLD_KEY]).primary_key_id
    assert before["still_old"] == 200 and before["under_old_keys"] == {old_id: 200}
    assert before["under_first_key"] == 0

    rotated = run_cli("keys", "rotate", *cli, "--json", core=app, keys=both)
    assert rotated.returncode == EXIT_OK, rotated.stderr
    document = as_json(rotated)
    assert document["rotated"] == 200 and document["still_old"] == 0
    assert document["under_first_key"] == 200 and document["unreadable"] == 0
    assert "200/200" in rotated.stderr  # the progress bar

    status = run_cli("keys", "status", *cli, core=app, keys=[NEW_KEY])
    assert status.returncode == EXIT_OK, status.stdout
    assert "older keys can be removed" in status.stdout

    new_only = TwoFactor(TwoFactorConfig(secret_keys=[NEW_KEY], factors=("totp",), store=store))

    async def everyone_signs_in() -> list[str]:
        gate = asyncio.Semaphore(8)
        now = time.time()

        async def one(user_id: str, secret: str) -> str:
            async with gate:
                code = totp.code_at(secret, now)
                return str((await new_only.totp.verify(user_id, code, {}))["status"])

        return list(await asyncio.gather(*(one(u, s) for u, s in secrets_by_user.items())))

    assert run(everyone_signs_in()) == ["OK"] * 200


def test_keys_status_counts_secrets_no_key_opens(app: str) -> None:
    store = TwoFactorConfig(secret_keys=[OLD_KEY]).state_store
    run(enrolled_users(store, 3, [OLD_KEY]))
    # The old key removed before rotating: those secrets cannot be read any more.
    result = run_cli(
        "keys",
        "status",
        "--config",
        "tests.helpers.cli_config:config",
        "--json",
        core=app,
        keys=[NEW_KEY],
    )
    assert result.returncode == EXIT_FAILED
    document = as_json(result)
    assert document["unreadable"] == 3 and document["secrets"] == 3
    rotate = run_cli(
        "keys",
        "rotate",
        "--config",
        "tests.helpers.cli_config:config",
        "--json",
        core=app,
        keys=[NEW_KEY],
    )
    assert rotate.returncode == EXIT_FAILED
    assert as_json(rotate)["unreadable"] == 3 and as_json(rotate)["rotated"] == 0


@pytest.mark.slow
def test_keys_rotate_through_an_sql_store_resumes_after_a_user(app: str, tmp_path: Path) -> None:
    from st_twofactor.stores.sql import SQLStore

    url = f"sqlite+aiosqlite:///{tmp_path / 'state.db'}"
    env = {"ST2FA_CLI_SQL_URL": url}
    cli = ("--config", "tests.helpers.cli_config:config")
    created = run_cli("store", "create-table", *cli, core=app, env=env)
    assert created.returncode == EXIT_OK, created.stderr
    assert "table st_twofactor_state is there" in created.stdout

    async def users() -> list[str]:
        store = SQLStore(url)
        box = SecretBox([OLD_KEY])
        ids = [f"sql-user-{i}" for i in range(5)]  # the store lists them: no core user needed
        for user_id in ids:
            await store.update(user_id, enrolment(totp.new_secret(), user_id, box))
        await store.aclose()
        return ids

    ids = run(users())
    both = [NEW_KEY, OLD_KEY]
    partial = run_cli(
        "keys", "rotate", *cli, "--after", ids[2], "--json", core=app, keys=both, env=env
    )
    assert as_json(partial)["rotated"] == 2 and partial.returncode == EXIT_OK
    status = as_json(run_cli("keys", "status", *cli, "--json", core=app, keys=both, env=env))
    assert status["still_old"] == 3 and status["under_first_key"] == 2
    rest = run_cli("keys", "rotate", *cli, "--json", core=app, keys=both, env=env)
    assert as_json(rest)["rotated"] == 3
    again = run_cli("keys", "rotate", *cli, "--json", core=app, keys=both, env=env)
    assert as_json(again)["rotated"] == 0 and again.returncode == EXIT_OK  # nothing left to do
    assert as_json(run_cli("keys", "status", *cli, "--json", core=app, keys=both, env=env))["ok"]


# -- store -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_store_create_table_ddl_and_other_stores(app: str, tmp_path: Path) -> None:
    env = {"ST2FA_CLI_SQL_URL": f"sqlite+aiosqlite:///{tmp_path / 's.db'}"}
    ddl = run_cli(
        "store", "create-table", "--ddl", "--config", "tests.helpers.cli_config:config", env=env
    )
    assert ddl.returncode == EXIT_OK
    assert ddl.stdout.startswith("CREATE TABLE st_twofactor_state (")
    assert not (tmp_path / "s.db").exists()  # printed, not run
    again = run_cli(
        "store",
        "create-table",
        "--config",
        "tests.helpers.cli_config:config",
        "--json",
        core=app,
        env=env,
    )
    assert as_json(again) == {"ok": True, "table": "st_twofactor_state"}
    again = run_cli(
        "store", "create-table", "--config", "tests.helpers.cli_config:config", core=app, env=env
    )
    assert again.returncode == EXIT_OK  # idempotent
    metadata = run_cli(
        "store", "create-table", "--config", "tests.helpers.cli_config:config", core=app
    )
    assert metadata.returncode == EXIT_USAGE
    assert "UserMetadataStore" in metadata.stderr


# -- doctor --------------------------------------------------------------------------------------


def test_doctor_all_good(app: str) -> None:
    result = run_cli("doctor", "--config", "tests.helpers.cli_config:config", "--json", core=app)
    assert result.returncode == EXIT_OK, result.stdout
    checks = {c["name"]: c for c in as_json(result)["checks"]}
    assert checks["core"]["status"] == "ok" and "API versions up to" in checks["core"]["detail"]
    assert checks["keys"]["status"] == "ok"
    assert checks["store"]["status"] == "ok" and "UserMetadataStore" in checks["store"]["detail"]
    assert checks["plugin"]["status"] == "skip"
    text = run_cli("doctor", "--config", "tests.helpers.cli_config:config", core=app)
    assert text.returncode == EXIT_OK
    assert [line.split()[0] for line in text.stdout.splitlines()] == ["ok", "ok", "ok", "skip"]


def test_doctor_initialised_app_checks_deliveries_and_plugin(app: str) -> None:
    env = {"ST2FA_CLI_CORE": app}
    good = run_cli(
        "doctor", "--config", "tests.helpers.cli_config:initialised_app", "--json", env=env
    )
    assert good.returncode == EXIT_OK, good.stdout + good.stderr
    checks = {c["name"]: c for c in as_json(good)["checks"]}
    assert checks["otp-email delivery"]["status"] == "ok"
    assert checks["plugin"]["status"] == "ok"

    bad = run_cli(
        "doctor", "--config", "tests.helpers.cli_config:initialised_without_plugin", env=env
    )
    assert bad.returncode == EXIT_FAILED
    assert "fail  plugin: twofactor_plugin is not in the SDK's plugins" in bad.stdout
    assert "fix: add twofactor_plugin(config)" in bad.stdout


def test_doctor_without_init_skips_deliveries_and_says_how_to_check_them(app: str) -> None:
    """A --config module that does not call init(): the delivery cannot be seen; the skip
    says so and how to check it, for any app (not only build_recipe_list's)."""
    result = run_cli(
        "doctor", "--config", "tests.helpers.cli_config:with_codes", "--json", core=app
    )
    assert result.returncode == EXIT_OK, result.stdout + result.stderr
    checks = {c["name"]: c for c in as_json(result)["checks"]}
    skipped = checks["otp-email delivery"]
    assert skipped["status"] == "skip"
    assert "does not call supertokens_python.init()" in skipped["detail"]
    assert "name a module that calls init()" in skipped["detail"]
    assert "build_recipe_list" not in skipped["detail"]
    assert "calls init()" in checks["plugin"]["detail"]


@pytest.mark.parametrize(
    ("spec", "status", "said"),
    [
        ("own_passwordless_app", "ok", "sent by Outbox"),
        (
            "own_passwordless_without_override",
            "fail",
            "no override_passwordless_apis(config): a code asked for with a session is a"
            " plain sign-in",
        ),
        ("own_recipes_without_passwordless", "fail", "the passwordless recipe is not initialised"),
    ],
)
def test_doctor_checks_an_app_with_its_own_passwordless_init(
    app: str, spec: str, status: str, said: str
) -> None:
    result = run_cli(
        "doctor",
        "--config",
        f"tests.helpers.cli_config:{spec}",
        "--json",
        env={"ST2FA_CLI_CORE": app},
    )
    checks = {c["name"]: c for c in as_json(result)["checks"]}
    delivery = checks["otp-email delivery"]
    assert delivery["status"] == status and said in delivery["detail"], delivery
    if status == "fail":
        assert result.returncode == EXIT_FAILED
        assert "passwordless.init" in delivery["fix"]
        assert "override_passwordless_apis(config)" in delivery["fix"]
    else:
        assert result.returncode == EXIT_OK, result.stdout


def test_doctor_reports_what_fails_with_the_fix() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    result = run_cli("doctor", "--config", "tests.helpers.cli_config:development", "--core", dead)
    assert result.returncode == EXIT_FAILED
    lines = result.stdout.splitlines()
    assert lines[0].startswith("fail  core: ") and "fix: start the core" in lines[1]
    assert any(line.startswith("fail  keys: development mode") for line in lines)
    assert any(line.startswith("fail  store: UserMetadataStore") for line in lines)
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_keys_rotate_stops_on_a_bad_state_and_says_where_to_resume(
    app: str, tmp_path: Path
) -> None:
    from sqlalchemy import text

    from st_twofactor.stores.sql import SQLStore

    url = f"sqlite+aiosqlite:///{tmp_path / 'state.db'}"
    env = {"ST2FA_CLI_SQL_URL": url}
    cli = ("--config", "tests.helpers.cli_config:config")
    ids = [f"user-{i:02d}" for i in range(20)]

    async def users(broken: str) -> None:
        store = SQLStore(url)
        await store.create_table()
        box = SecretBox([OLD_KEY])
        for user_id in ids:
            await store.update(user_id, enrolment(totp.new_secret(), user_id, box))
        await store.aclose()
        await sql(f"UPDATE st_twofactor_state SET state = 'garbage' WHERE user_id = '{broken}'")

    async def sql(statement: str) -> None:
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(url)
        async with engine.begin() as connection:
            await connection.execute(text(statement))
        await engine.dispose()

    run(users(broken="user-11"))
    both = [NEW_KEY, OLD_KEY]
    stopped = run_cli("keys", "rotate", *cli, core=app, keys=both, env=env)
    assert stopped.returncode == EXIT_FAILED
    assert "MalformedDataError" in stopped.stderr
    # Users are taken 8 at a time: the first 8 are done for sure.
    assert "resume with: keys rotate --after user-07" in stopped.stderr

    run(sql("DELETE FROM st_twofactor_state WHERE user_id = 'user-11'"))
    resumed = run_cli(
        "keys", "rotate", *cli, "--after", "user-07", "--json", core=app, keys=both, env=env
    )
    assert resumed.returncode == EXIT_OK, resumed.stderr
    status = as_json(run_cli("keys", "status", *cli, "--json", core=app, keys=both, env=env))
    assert status["ok"] and status["under_first_key"] == 19 and status["still_old"] == 0
