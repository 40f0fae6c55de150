""":func:`st_twofactor.migrate.migrate_legacy_2fa` on an in-memory directory of users: what
is migrated, what is skipped and why, what is never deleted, dry runs, failures, outages.
(The legacy app on the development core, and the command: ``test_migrate_legacy.py``.)"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from st_twofactor.config import TwoFactorConfig
from st_twofactor.errors import ConfigurationError, StoreUnavailableError
from st_twofactor.migrate import (
    LINK_KEY,
    NOTE_KEY,
    PAGE_SIZE,
    CoreUser,
    ListedUser,
    Migrated,
    MigrationReport,
    SecondUserDeleted,
    migrate_legacy_2fa,
    migrate_legacy_2fa_sync,
)
from st_twofactor.stores import InMemoryStore
from st_twofactor.stores.state import TwoFactorState

KEY = "migrate-test-key-0123456789abcdef"


@dataclass
class Directory:
    """Users, their tenants, login methods and metadata, as a core would keep them."""

    tenants: dict[str, list[str]] = field(default_factory=lambda: {"public": []})
    users: dict[str, CoreUser] = field(default_factory=dict)
    metadata_of: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    page_sizes: list[int] = field(default_factory=list)

    def add(
        self,
        user_id: str,
        *methods: tuple[str, str | None, str | None],
        tenants: tuple[str, ...] = ("public",),
        linked_into: str | None = None,
    ) -> None:
        self.users[user_id] = CoreUser(linked_into or user_id, methods)
        for tenant in tenants:
            self.tenants.setdefault(tenant, []).append(user_id)

    def link(self, user_id: str, second_user_id: object) -> None:
        self.metadata_of.setdefault(user_id, {})[LINK_KEY] = second_user_id

    async def tenant_ids(self, user_context: dict[str, Any]) -> list[str]:
        return list(self.tenants)

    async def count(self, tenant_id: str, user_context: dict[str, Any]) -> int:
        return len(self.tenants[tenant_id])

    async def page(
        self, tenant_id: str, token: str | None, limit: int, user_context: dict[str, Any]
    ) -> tuple[list[ListedUser], str | None]:
        ids = self.tenants[tenant_id]
        start = int(token or 0)
        chunk = ids[start : start + limit]
        self.page_sizes.append(len(chunk))
        listed = [
            ListedUser(u, tuple(t for t, members in self.tenants.items() if u in members))
            for u in chunk
        ]
        return listed, str(start + limit) if start + limit < len(ids) else None

    async def metadata(self, user_id: str, user_context: dict[str, Any]) -> Mapping[str, Any]:
        return dict(self.metadata_of.get(user_id, {}))

    async def update_metadata(
        self, user_id: str, update: dict[str, Any], user_context: dict[str, Any]
    ) -> None:
        stored = self.metadata_of.setdefault(user_id, {})
        for key, value in update.items():
            stored.pop(key, None)
            if value is not None:
                stored[key] = value

    async def user(self, user_id: str, user_context: dict[str, Any]) -> CoreUser | None:
        return self.users.get(user_id)

    async def delete_user(self, user_id: str, user_context: dict[str, Any]) -> None:
        self.deleted.append(user_id)
        self.users.pop(user_id, None)
        for members in self.tenants.values():
            if user_id in members:
                members.remove(user_id)


PASSWORD = ("emailpassword", "x@example.com", None)


def phone_user(phone: str) -> tuple[str, str | None, str | None]:
    return ("passwordless", None, phone)


def config(*factors: str, store: Any = None) -> TwoFactorConfig:
    return TwoFactorConfig(
        secret_keys=[KEY],
        factors=factors or ("otp-phone", "otp-email"),
        store=store or InMemoryStore(),
    )


def migrate(cfg: TwoFactorConfig, users: Directory, **options: Any) -> MigrationReport:
    return asyncio.run(migrate_legacy_2fa(cfg, users=users, **options))


def test_each_reason_to_skip_and_nothing_but_a_second_user_is_deleted() -> None:
    d = Directory()
    d.add("ada", PASSWORD)
    d.add("ada-2", ("passwordless", " Ada.Codes@Example.COM ", None))
    d.link("ada", "ada-2")
    d.add("bob", PASSWORD)
    d.add("bob-2", phone_user("+14155550102"))
    d.link("bob", "bob-2")
    cases = {
        "password-user": ("other", "not-a-second-user"),  # the link leads to a real account
        "itself": ("itself", "not-a-second-user"),
        "login-method": ("method", "not-a-second-user"),  # linked into another user
        "no-contact": ("empty", "no-contact"),
        "mixed": ("mixed-2", "not-a-second-user"),  # passwordless and a password
        "malformed": (42, "malformed-link"),
        "blank": ("  ", "malformed-link"),
        "dangling": ("gone", "dangling-link"),
    }
    d.add("other", PASSWORD)
    d.add("method", phone_user("+14155550103"), linked_into="someone")
    d.add("empty", ("passwordless", None, None))
    d.add("mixed-2", phone_user("+14155550104"), PASSWORD)
    for user_id, (target, _) in cases.items():
        d.add(user_id, PASSWORD)
        d.link(user_id, target)
    cfg = config()

    report = migrate(cfg, d, delete_second_users=True)
    assert [(m.user_id, m.factor, m.contact) for m in report.migrated] == [
        ("ada", "otp-email", "ada.codes@example.com"),
        ("bob", "otp-phone", "+14155550102"),
    ]
    assert {s.user_id: s.reason for s in report.skipped} == {
        user_id: reason for user_id, (_, reason) in cases.items()
    }
    assert report.failed == []
    assert d.deleted == ["ada-2", "bob-2"]  # never a user that is not a second user
    for user_id, (target, _) in cases.items():
        assert d.metadata_of[user_id][LINK_KEY] == target
    state = asyncio.run(cfg.state_store.load("ada"))
    assert (state.email, state.phone, state.epoch) == ("ada.codes@example.com", None, 1)


def test_a_factor_the_config_does_not_enable_is_skipped() -> None:
    d = Directory()
    d.add("ada", PASSWORD)
    d.add("ada-2", phone_user("+14155550101"))
    d.link("ada", "ada-2")
    report = migrate(config("otp-email", "totp"), d, delete_second_users=True)
    assert [(s.user_id, s.reason) for s in report.skipped] == [("ada", "factor-not-enabled")]
    assert d.deleted == [] and d.metadata_of["ada"] == {LINK_KEY: "ada-2"}


def test_a_config_with_no_code_factor_or_an_unknown_tenant_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="neither otp-phone nor otp-email"):
        migrate(config("totp", "recovery-code"), Directory())
    with pytest.raises(ConfigurationError, match="no such tenant: nope"):
        migrate(config(), Directory(), tenant_ids=["public", "nope"])


def two_factor_users(d: Directory, count: int, tenants: tuple[str, ...] = ("public",)) -> None:
    for i in range(count):
        d.add(f"u{i}", PASSWORD, tenants=tenants)
        d.add(f"u{i}-2", phone_user(f"+1650253{i:04d}"), tenants=tenants)
        d.link(f"u{i}", f"u{i}-2")


def test_users_are_read_a_page_at_a_time_and_each_once_across_tenants() -> None:
    d = Directory(tenants={"public": [], "shop": []})
    two_factor_users(d, 600, tenants=("public", "shop"))
    d.add("shop-only", PASSWORD, tenants=("shop",))
    d.add("shop-only-2", phone_user("+14155550109"), tenants=("shop",))
    d.link("shop-only", "shop-only-2")
    report = migrate(config(), d)
    assert len(report.migrated) == 601  # each user once, though listed in both tenants
    assert len({m.user_id for m in report.migrated}) == 601
    assert max(d.page_sizes) == PAGE_SIZE < 1200  # never the whole listing at once
    assert report.users_read == 2 * 1200 + 2
    shop = migrate(config(), d, tenant_ids=["shop"], dry_run=True)
    assert shop.migrated == []  # done already: the links are gone


def test_a_dry_run_changes_nothing_and_plans_what_the_run_does() -> None:
    d = Directory()
    two_factor_users(d, 5)
    d.link("u4", "nobody")
    cfg = config()
    before = dict(d.metadata_of)
    plan = migrate(cfg, d, dry_run=True, delete_second_users=True)
    assert d.metadata_of == before and d.deleted == []
    assert all(asyncio.run(cfg.state_store.load(f"u{i}")).phone is None for i in range(5))
    report = migrate(cfg, d, delete_second_users=True)
    assert plan.to_dict() == {**report.to_dict(), "dry_run": True}
    assert len(report.migrated) == 4 and [s.reason for s in report.skipped] == ["dangling-link"]


def test_second_users_kept_now_are_deleted_by_a_later_run() -> None:
    d = Directory()
    two_factor_users(d, 3)
    cfg = config()
    first = migrate(cfg, d)
    assert [m.second_user_deleted for m in first.migrated] == [False] * 3
    assert d.deleted == [] and d.metadata_of["u0"] == {NOTE_KEY: "u0-2"}
    again = migrate(cfg, d)
    assert again.migrated == [] and again.kept_from_earlier_runs == 3
    plan = migrate(cfg, d, delete_second_users=True, dry_run=True)
    assert [x.second_user_id for x in plan.deleted_for_earlier_runs] == ["u0-2", "u1-2", "u2-2"]
    assert d.deleted == []
    later = migrate(cfg, d, delete_second_users=True)
    assert later.deleted_for_earlier_runs == [
        SecondUserDeleted(f"u{i}", f"u{i}-2") for i in range(3)
    ]
    assert d.deleted == ["u0-2", "u1-2", "u2-2"] and d.metadata_of["u0"] == {}
    assert migrate(cfg, d, delete_second_users=True).to_dict()["counts"] == {
        "migrated": 0,
        "skipped": 0,
        "failed": 0,
        "deleted_for_earlier_runs": 0,
        "kept_from_earlier_runs": 0,
    }


def test_the_same_contact_pinned_finishes_a_different_one_skips() -> None:
    d = Directory()
    two_factor_users(d, 2)
    cfg = config()

    def pin(phone: str) -> Any:
        def apply(state: TwoFactorState) -> None:
            state.phone = phone
            state.bump_epoch()

        return apply

    asyncio.run(cfg.state_store.update("u0", pin("+16502530000")))  # the same number
    asyncio.run(cfg.state_store.update("u1", pin("+16502539999")))  # another number
    report = migrate(cfg, d, delete_second_users=True)
    assert report.migrated == [Migrated("u0", "u0-2", "otp-phone", "+16502530000", True, True)]
    assert [(s.user_id, s.reason) for s in report.skipped] == [("u1", "other-contact-pinned")]
    assert "+16502539999" not in report.skipped[0].detail
    assert asyncio.run(cfg.state_store.load("u0")).epoch == 1  # not written again
    assert d.deleted == ["u0-2"] and d.metadata_of["u1"] == {LINK_KEY: "u1-2"}


def test_a_user_that_fails_is_reported_and_the_run_goes_on() -> None:
    d = Directory()
    two_factor_users(d, 3)
    store = InMemoryStore()
    store._documents["u1"] = '{"v": 99}'  # a state this version cannot read
    report = migrate(config(store=store), d, delete_second_users=True)
    assert [m.user_id for m in report.migrated] == ["u0", "u2"]
    assert len(report.failed) == 1 and report.failed[0].user_id == "u1"
    assert report.failed[0].error == "MalformedDataError: 2FA state has unsupported version 99"
    assert report.to_dict()["ok"] is False
    assert d.metadata_of["u1"] == {LINK_KEY: "u1-2"} and "u1-2" not in d.deleted


class Unreachable(Directory):
    async def user(self, user_id: str, user_context: dict[str, Any]) -> CoreUser | None:
        if user_id == "u2-2":
            raise httpx.ConnectError("connection refused")
        return await super().user(user_id, user_context)


class DownStore(InMemoryStore):
    async def update(self, user_id: str, fn: Any, user_context: Any = None) -> Any:
        raise StoreUnavailableError("cannot write the user's 2FA state")


def test_an_outage_stops_the_run_instead_of_failing_every_user() -> None:
    d = Unreachable()
    two_factor_users(d, 4)
    with pytest.raises(httpx.ConnectError):
        migrate(config(), d, concurrency=1)
    assert d.metadata_of["u3"] == {LINK_KEY: "u3-2"}  # not reached
    assert migrate(config(store=DownStore()), Directory()).migrated == []  # nothing to write
    down = Directory()
    two_factor_users(down, 1)
    with pytest.raises(StoreUnavailableError):
        migrate(config(store=DownStore()), down)


def test_the_sync_twin() -> None:
    d = Directory()
    two_factor_users(d, 2)
    seen: list[int] = []
    report = migrate_legacy_2fa_sync(config(), users=d, on_progress=seen.append)
    assert len(report.migrated) == 2 and seen[-1] == 4
