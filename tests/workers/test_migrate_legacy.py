"""``st-twofactor migrate legacy-2fa``: an app built on SuperTokens' legacy 2FA guide moved to
the library with no re-enrolment (:mod:`st_twofactor.migrate`).

The legacy app (``tests/helpers/legacy_guide_app.py``) runs on the development core and its users
are made through its HTTP API, as its frontend would; the command runs as a subprocess
with ``--config tests.helpers.legacy_guide_app:migration_config``; then the library's app
(``tests/helpers/twofactor_app.py``) serves the same core and users. The tests with hundreds of
users make them through the SDK, which is quicker, and stop runs part-way: a subprocess
killed, and a failure injected after each step of a user.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient
from supertokens_python.asyncio import (
    delete_user,
    get_user,
    get_user_count,
    list_users_by_account_info,
)
from supertokens_python.recipe.passwordless.asyncio import signinup
from supertokens_python.recipe.session import SessionContainer
from supertokens_python.recipe.usermetadata.asyncio import get_user_metadata, update_user_metadata
from supertokens_python.types.base import AccountInfoInput

from st_twofactor.cli import EXIT_FAILED, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE
from st_twofactor.config import TwoFactorConfig
from st_twofactor.fastapi import require_2fa
from st_twofactor.migrate import (
    LINK_KEY,
    NOTE_KEY,
    CoreUser,
    Migrated,
    SdkUserDirectory,
    migrate_legacy_2fa,
)
from st_twofactor.stores import Store, UserMetadataStore
from st_twofactor.stores.state import TwoFactorState

from ..helpers.cli import SCRIPT, as_json, run_cli
from ..helpers.legacy_guide_app import build_legacy_app, migration_config
from ..helpers.outbox import Sent
from ..helpers.ports import free_port
from ..helpers.twofactor_app import PASSWORD, Harness, Tokens, make_harness, user_id_of

CONFIG = ("--config", "tests.helpers.legacy_guide_app:migration_config")
HEADER_MODE = {"st-auth-mode": "header"}


def run(coroutine: Awaitable[Any]) -> Any:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


def migrate_cli(core: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("migrate", "legacy-2fa", *CONFIG, *args, core=core)


# -- the legacy app, driven over HTTP -------------------------------------------------------------


@dataclass
class LegacyUser:
    email: str
    user_id: str
    phone: str | None = None
    second_user_id: str | None = None
    session: Tokens | None = None
    """The session that completed 2FA in the legacy app."""


class LegacyFrontend:
    """What the legacy app's frontend sends, over its HTTP API."""

    def __init__(self, core: str) -> None:
        self.outbox: list[Sent] = []
        self.client = TestClient(build_legacy_app(core, self.outbox), base_url="http://localhost")

    def post(self, path: str, body: dict[str, Any], tokens: Tokens | None = None) -> Any:
        headers = tokens.auth() if tokens is not None else HEADER_MODE
        response = self.client.post(path, json=body, headers=headers)
        if tokens is not None and response.headers.get("st-access-token"):
            tokens.access = response.headers["st-access-token"]
        return response

    def sign_up(self, email: str) -> LegacyUser:
        form = [{"id": "email", "value": email}, {"id": "password", "value": PASSWORD}]
        response = self.post("/auth/signup", {"formFields": form})
        assert response.json()["status"] == "OK", response.json()
        tokens = Tokens.of(response)
        return LegacyUser(email, user_id_of(tokens), session=tokens)

    def code(self, phone: str, tokens: Tokens | None) -> dict[str, Any]:
        """Ask for an SMS code and type it in: the consume answer."""
        device = self.post("/auth/signinup/code", {"phoneNumber": phone}, tokens).json()
        assert device["status"] == "OK", device
        sent = self.outbox[-1]
        assert sent.to == phone
        answer = self.post(
            "/auth/signinup/code/consume",
            {
                "preAuthSessionId": device["preAuthSessionId"],
                "deviceId": device["deviceId"],
                "userInputCode": sent.code,
            },
            tokens,
        )
        return dict(answer.json())

    def with_phone_2fa(self, email: str, phone: str) -> LegacyUser:
        """Sign up, set up phone 2FA (which signs up the second user), 2FA completed."""
        user = self.sign_up(email)
        assert user.session is not None
        answer = self.code(phone, user.session)
        assert answer["status"] == "OK", answer
        user.phone, user.second_user_id = phone, answer["user"]["id"]
        assert self.secret(user.session) == 200
        return user

    def secret(self, tokens: Tokens) -> int:
        return int(self.client.get("/api/secret", headers=tokens.auth()).status_code)


def legacy_claim(tokens: Tokens) -> Any:
    from ..helpers.sdk import jwt_payload

    assert tokens.access is not None
    return jwt_payload(tokens.access)["2fa-completed"]


async def metadata_of(user_id: str) -> dict[str, Any]:
    return dict((await get_user_metadata(user_id)).metadata)


async def users_with_phone(phone: str) -> list[str]:
    found = await list_users_by_account_info("public", AccountInfoInput(phone_number=phone))
    return [u.id for u in found]


def add_require_2fa_route(h: Harness) -> None:
    """``GET /api/any-2fa``: ``require_2fa()`` with no ``max_age``."""

    @h.client.app.get("/api/any-2fa")
    async def any_2fa(session: SessionContainer = Depends(require_2fa())) -> dict[str, str]:
        return {"user": session.get_user_id()}


@pytest.mark.slow
def test_a_legacy_app_migrates_with_no_reenrolment(devcore_app: str) -> None:
    legacy = LegacyFrontend(devcore_app)
    phones = ["+14155550101", "+14155550102", "+14155550103", "+14155550104"]
    with_2fa = [legacy.with_phone_2fa(f"ada{i}@example.com", p) for i, p in enumerate(phones)]
    dangling = [legacy.with_phone_2fa(f"dan{i}@example.com", f"+1415555020{i}") for i in range(2)]
    without = [legacy.sign_up(f"bob{i}@example.com") for i in range(2)]
    # One user enrolled another phone with the library before the migration reached them.
    other = legacy.with_phone_2fa("eve@example.com", "+14155550301")

    async def setup() -> None:
        for user in dangling:  # their second user was deleted (say, from the dashboard)
            assert user.second_user_id is not None
            await delete_user(user.second_user_id)

        def pin_other(state: TwoFactorState) -> None:
            state.phone = "+14155550399"

        await migration_config.state_store.update(other.user_id, pin_other)

    run(setup())
    kept = with_2fa[0].session
    assert kept is not None
    assert set(legacy_claim(kept)) == {"v", "t"} and legacy_claim(kept)["v"] is True

    # Before: the phone alone signs the second user in.
    alone = legacy.code(phones[1], None)
    assert alone["status"] == "OK" and alone["user"]["id"] == with_2fa[1].second_user_id
    users_before = run(get_user_count())

    plan = migrate_cli(devcore_app, "--dry-run", "--delete-second-users", "--json")
    assert plan.returncode == EXIT_OK, plan.stderr
    planned = as_json(plan)
    assert planned["dry_run"] is True
    assert {m["user_id"]: m["contact"] for m in planned["migrated"]} == {
        u.user_id: u.phone for u in with_2fa
    }
    skipped = {s["user_id"]: s["reason"] for s in planned["skipped"]}
    assert skipped == {
        dangling[0].user_id: "dangling-link",
        dangling[1].user_id: "dangling-link",
        other.user_id: "other-contact-pinned",
    }
    assert run(get_user_count()) == users_before  # nothing changed
    assert run(metadata_of(with_2fa[0].user_id)) == {LINK_KEY: with_2fa[0].second_user_id}

    done = migrate_cli(devcore_app, "--delete-second-users", "--json")
    assert done.returncode == EXIT_OK, done.stderr
    report = as_json(done)
    assert report["counts"] == {
        "migrated": 4,
        "skipped": 3,
        "failed": 0,
        "deleted_for_earlier_runs": 0,
        "kept_from_earlier_runs": 0,
    }
    assert {m["user_id"]: m["second_user_id"] for m in report["migrated"]} == {
        u.user_id: u.second_user_id for u in with_2fa
    }
    assert all(m["factor"] == "otp-phone" and m["second_user_deleted"] for m in report["migrated"])
    assert "migrating legacy 2FA [" in done.stderr  # the progress bar
    assert f"{report['users_read']}/" in done.stderr
    assert run(get_user_count()) == users_before - 4

    async def after() -> None:
        for user in with_2fa:
            assert user.phone is not None and user.second_user_id is not None
            assert await get_user(user.second_user_id) is None
            assert await users_with_phone(user.phone) == []  # the phone is nobody's sign-in
            metadata = await metadata_of(user.user_id)
            assert LINK_KEY not in metadata and NOTE_KEY not in metadata
            state = await migration_config.state_store.load(user.user_id)
            assert state.phone == user.phone and state.factor_ids() == ["otp-phone"]
        for user in dangling:  # left as they were, for the operator to look at
            assert (await metadata_of(user.user_id))[LINK_KEY] == user.second_user_id
        assert (await migration_config.state_store.load(other.user_id)).phone == "+14155550399"
        for user in without:
            assert await metadata_of(user.user_id) == {}

    run(after())

    # The switch: the library's app on the same core, its state in user metadata.
    h = make_harness(devcore_app, store=UserMetadataStore())
    add_require_2fa_route(h)
    # A legacy session kept through the switch: still completed, never fresh.
    assert h.protected(kept) == 200
    assert h.get("/api/any-2fa", kept).status_code == 200
    stale = h.get("/api/step-up", kept)
    assert stale.status_code == 403
    assert stale.json()["claimValidationErrors"][0]["reason"]["message"] == "expired"

    for user in with_2fa:  # a code to the same number, with no enrolment step
        tokens = h.signed_in(user.email)
        assert h.protected(tokens) == 403
        status = h.get("/auth/2fa", tokens).json()
        assert status["factors"] == ["otp-phone"] and status["next"] == ["otp-phone"]
        assert status["contacts"]["otp-phone"]["masked"] is True
        device, sent = h.ask_code(tokens, phoneNumber=user.phone or "")
        assert device.json()["status"] == "OK" and sent is not None and sent.to == user.phone
        assert h.consume(tokens, device.json(), sent.code).json()["status"] == "OK"
        assert h.protected(tokens) == 200
        assert h.get("/api/step-up", tokens).status_code == 200
        assert h.state(user.user_id).epoch == 1  # pinned once, by the migration
    # The phone alone signs nobody in: codes need a signed-in user.
    assert h.post("/auth/signinup/code", None, {"phoneNumber": phones[1]}).status_code == 401

    again = migrate_cli(devcore_app, "--delete-second-users", "--json")
    assert again.returncode == EXIT_OK, again.stderr
    assert as_json(again)["counts"]["migrated"] == 0
    assert as_json(again)["counts"]["deleted_for_earlier_runs"] == 0
    assert len(as_json(again)["skipped"]) == 3


# -- hundreds of users, runs stopped part-way -----------------------------------------------------


@dataclass(frozen=True)
class Made:
    user_id: str
    second_user_id: str
    phone: str


async def legacy_users(count: int, prefix: str) -> list[Made]:
    """``count`` users as the legacy app leaves them (a first user, a second passwordless
    user with a phone, the link), made through the SDK: the first users sign in with
    e-mailed codes, which skips the development core's password hashing (tens of ms each)."""
    gate = asyncio.Semaphore(8)

    async def one(i: int) -> Made:
        async with gate:
            first = await signinup("public", f"{prefix}-{i}@example.com", None)
            phone = f"+1650253{i:04d}"
            second = await signinup("public", None, phone)
            await update_user_metadata(first.user.id, {LINK_KEY: second.user.id})
            return Made(first.user.id, second.user.id, phone)

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def link_and_note(made: list[Made]) -> tuple[set[str], set[str]]:
    """The users that still have the link, and those with a note of an earlier run."""
    links, notes = set(), set()
    for user in made:
        metadata = await metadata_of(user.user_id)
        if LINK_KEY in metadata:
            links.add(user.user_id)
        if NOTE_KEY in metadata:
            notes.add(user.user_id)
    return links, notes


async def assert_all_migrated_once(made: list[Made], store: Store) -> None:
    """Every user: the phone pinned by exactly one write (epoch 1), no link or note left,
    the second user deleted."""
    for user in made:
        state = await store.load(user.user_id)
        assert (state.phone, state.epoch) == (user.phone, 1), user
        metadata = await metadata_of(user.user_id)
        assert LINK_KEY not in metadata and NOTE_KEY not in metadata, user
        assert await get_user(user.second_user_id) is None, user


@pytest.fixture
def legacy_sdk(devcore_app: str) -> Iterator[str]:
    """The legacy app's ``init()`` in this process (its users are made through the SDK)."""
    build_legacy_app(devcore_app, [])
    yield devcore_app


@pytest.mark.slow
def test_a_killed_run_is_finished_by_the_next_with_hundreds_of_users(legacy_sdk: str) -> None:
    """The command is killed (SIGKILL: no clean-up of any kind) a third of the way, in the
    middle of whichever step of whichever users it was at; the next run finishes it."""
    made = run(legacy_users(200, "killed"))
    assert run(get_user_count()) == 400
    assert SCRIPT is not None
    command = [SCRIPT, "migrate", "legacy-2fa", *CONFIG, "--delete-second-users"]
    env = {**os.environ, "SUPERTOKENS_CONNECTION_URI": legacy_sdk}
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 120
        while run(get_user_count()) > 400 - 70:  # about a third of the second users deleted
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        process.kill()
        process.wait(timeout=30)
    links, notes = run(link_and_note(made))
    assert 0 < len(links) < 200  # stopped part-way
    resumed = migrate_cli(legacy_sdk, "--delete-second-users", "--json")
    assert resumed.returncode == EXIT_OK, resumed.stderr
    report = as_json(resumed)
    assert {m["user_id"] for m in report["migrated"]} == links
    assert {d["user_id"] for d in report["deleted_for_earlier_runs"]} == notes
    assert report["skipped"] == [] and report["failed"] == []
    run(assert_all_migrated_once(made, migration_config.state_store))
    assert run(get_user_count()) == 200
    again = as_json(migrate_cli(legacy_sdk, "--delete-second-users", "--json"))
    assert again["counts"]["migrated"] == again["counts"]["deleted_for_earlier_runs"] == 0


class Crash(BaseException):
    """The process dies here (not an error the run could report and go on from)."""


STEPS = ("after-reads", "after-pin", "after-unlink", "after-delete", "after-note-removed")


class CrashingUsers(SdkUserDirectory):
    """The core, with the process dying at ``step`` of the ``victim``-th user migrated."""

    def __init__(self, step: str, victim: int) -> None:
        self.step, self.victim = step, victim
        self.unlinked = 0

    def _crash(self, step: str, done: int) -> None:
        if step == self.step and done == self.victim:
            raise Crash(step)

    async def user(self, user_id: str, user_context: dict[str, Any]) -> CoreUser | None:
        found = await super().user(user_id, user_context)
        self._crash("after-reads", self.unlinked)
        return found

    async def update_metadata(
        self, user_id: str, update: dict[str, Any], user_context: dict[str, Any]
    ) -> None:
        await super().update_metadata(user_id, update, user_context)
        if LINK_KEY in update:
            self.unlinked += 1
            self._crash("after-unlink", self.unlinked - 1)
        else:
            self._crash("after-note-removed", self.unlinked - 1)

    async def delete_user(self, user_id: str, user_context: dict[str, Any]) -> None:
        await super().delete_user(user_id, user_context)
        self._crash("after-delete", self.unlinked - 1)


class CrashingStore(UserMetadataStore):
    def __init__(self, users: CrashingUsers) -> None:
        super().__init__()
        self.users = users

    async def update(self, user_id: str, fn: Any, user_context: Any = None) -> Any:
        result = await super().update(user_id, fn, user_context)
        self.users._crash("after-pin", self.users.unlinked)
        return result


@pytest.mark.parametrize("step", STEPS)
def test_a_run_stopped_after_any_step_is_finished_exactly_once(legacy_sdk: str, step: str) -> None:
    made = run(legacy_users(40, step))
    crashing = CrashingUsers(step, victim=17)
    config = TwoFactorConfig(
        secret_keys=["k" * 32], factors=("otp-phone",), store=CrashingStore(crashing)
    )
    reported: list[Any] = []
    with pytest.raises(Crash):
        run(
            migrate_legacy_2fa(
                config,
                delete_second_users=True,
                users=crashing,
                concurrency=1,
                on_outcome=reported.append,
            )
        )
    crashing.step = ""  # the next run goes through
    first = [o.user_id for o in reported if isinstance(o, Migrated)]
    assert len(first) == len(reported) == 17  # the users before, done and reported
    resumed = run(migrate_legacy_2fa(config, delete_second_users=True))
    second = [m.user_id for m in resumed.migrated]
    finished = [d.user_id for d in resumed.deleted_for_earlier_runs]
    assert resumed.skipped == [] and resumed.failed == []
    victim = {*(m.user_id for m in made)} - {*first, *second, *finished}
    # Where the stopped user is finished: from the start, after its pin (the link is still
    # there), from the note (the link was replaced), or nowhere (it was done).
    where = {
        "after-reads": "migrated",
        "after-pin": "migrated",
        "after-unlink": "finished",
        "after-delete": "finished",
        "after-note-removed": "done",
    }[step]
    assert len(first) + len(second) + len(finished) == 40 - (where == "done")
    assert len({*first, *second, *finished}) == len(first) + len(second) + len(finished)
    if where == "migrated":
        assert resumed.migrated[0].already_pinned is (step == "after-pin")
        assert len(finished) == 0 and not victim
    elif where == "finished":
        assert len(finished) == 1 and not victim
    else:
        assert len(victim) == 1 and not finished
    run(assert_all_migrated_once(made, config.state_store))
    again = run(migrate_legacy_2fa(config, delete_second_users=True))
    assert again.migrated == [] and again.deleted_for_earlier_runs == []


# -- the command's input and output --------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("tests.helpers.cli_config:not_a_config", "is a str, not a TwoFactorConfig"),
        ("tests.no_such_module:config", "cannot import tests.no_such_module"),
        ("tests.helpers.cli_config:config", "enables neither otp-phone nor otp-email"),
    ],
)
def test_a_wrong_config_is_a_usage_error(legacy_sdk: str, config: str, message: str) -> None:
    result = run_cli("migrate", "legacy-2fa", "--config", config, "--dry-run", core=legacy_sdk)
    assert result.returncode == EXIT_USAGE, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_an_unknown_tenant_or_an_unreachable_core(legacy_sdk: str) -> None:
    tenant = migrate_cli(legacy_sdk, "--tenant", "public", "--tenant", "nope", "--json")
    assert tenant.returncode == EXIT_USAGE
    assert as_json(tenant)["error"] == "no such tenant: nope"
    dead = migrate_cli(f"http://127.0.0.1:{free_port()}", "--delete-second-users")
    assert dead.returncode == EXIT_UNAVAILABLE
    assert "the SuperTokens core is unreachable" in dead.stderr
    assert "run the same command again to resume" in dead.stderr
    assert "Traceback" not in dead.stderr


@pytest.mark.slow
def test_the_plan_and_the_report_in_text(legacy_sdk: str) -> None:
    made = run(legacy_users(3, "text"))
    run(update_user_metadata(made[1].user_id, {"st_twofactor": {"v": 99}}))  # unreadable

    plan = migrate_cli(legacy_sdk, "--dry-run", "--delete-second-users")
    assert plan.returncode == EXIT_FAILED  # one user would fail
    lines = plan.stdout.splitlines()
    assert (
        f"would migrate  {made[0].user_id}: pin otp-phone {made[0].phone}, remove the link to"
        f" {made[0].second_user_id}, delete {made[0].second_user_id}"
    ) in lines
    assert (
        f"failed         {made[1].user_id}: MalformedDataError: 2FA state has unsupported"
        " version 99"
    ) in lines
    assert lines[-1] == (
        "plan: 2 migrated, 0 skipped, 1 failed, 0 second user(s) of earlier runs deleted,"
        " 0 kept; 6 user(s) read (dry run: nothing was changed)"
    )
    assert "planning (dry run) [" in plan.stderr

    done = migrate_cli(legacy_sdk)
    assert done.returncode == EXIT_FAILED
    assert f"migrated       {made[2].user_id}: pin otp-phone {made[2].phone}," in done.stdout
    assert done.stdout.splitlines()[-1] == (
        "second users are kept: run with --delete-second-users to delete them"
    )
    run(update_user_metadata(made[1].user_id, {"st_twofactor": None}))
    rest = migrate_cli(legacy_sdk, "--delete-second-users", "--json")
    assert rest.returncode == EXIT_OK
    assert as_json(rest)["counts"]["migrated"] == 1
    assert as_json(rest)["counts"]["deleted_for_earlier_runs"] == 2
