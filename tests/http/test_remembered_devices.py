"""Remembered devices as a list over HTTP, on FastAPI and Flask: each device a record,
its token bound to it, so that forgetting one ends that device's trust only."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from st_twofactor import (
    get_two_factor_state,
    list_remembered_devices,
    remove_remembered_device,
    revoke_remembered_devices,
)
from st_twofactor.kernel.trusted_devices import LAST_USED_EVERY_MS, MAX_REMEMBERED_DEVICES
from st_twofactor.runtime import TwoFactor
from st_twofactor.stores import InMemoryStore, TwoFactorState
from st_twofactor.testing import reset_supertokens

from ..helpers.framework_app import FRAMEWORKS, START, App, make_app
from ..helpers.sdk import Tokens, body, jwt_payload, status

CHROME_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"
T = TypeVar("T")
LIST = "/auth/2fa/remembered-devices"
REMOVE = "/auth/2fa/remembered-devices/remove"


@pytest.fixture(params=FRAMEWORKS)
def app(request: pytest.FixtureRequest, devcore_app: str) -> Iterator[Callable[..., App]]:
    yield lambda **options: make_app(request.param, devcore_app, **options)
    reset_supertokens()


def remembered(h: App, email: str, secret: str, user_agent: str) -> str:
    """Sign in from a device, complete 2FA asking to remember it; its token."""
    tokens = h.signed_in(email, **{"User-Agent": user_agent})
    answer = body(
        h.post(
            "/auth/2fa/totp/verify",
            tokens,
            {"code": h.code(secret), "rememberDevice": True},
            **{"User-Agent": user_agent},
        )
    )
    assert answer["status"] == "OK", answer
    h.clock.advance(30)  # the next TOTP code is a new one
    return str(answer["rememberDeviceToken"])


def with_token(h: App, email: str, token: str) -> Tokens:
    return h.signed_in(email, **{"st-2fa-remember": token})


def enrolled(h: App, email: str) -> tuple[Tokens, str]:
    tokens = h.signed_up(email)
    secret, _ = h.enrol_totp(tokens)
    h.clock.advance(30)
    return tokens, secret


def test_forgetting_one_device_ends_only_its_trust(app: Callable[..., App]) -> None:
    h = app(remember_device=True)
    tokens, secret = enrolled(h, "two-devices@example.com")
    laptop = remembered(h, "two-devices@example.com", secret, CHROME_LINUX)
    h.clock.advance(60)
    desktop = remembered(h, "two-devices@example.com", secret, FIREFOX_WINDOWS)

    listed = body(h.get(LIST, tokens))
    assert listed["status"] == "OK"
    devices = listed["devices"]
    assert [d["name"] for d in devices] == ["Firefox on Windows", "Chrome on Linux"]
    assert set(devices[0]) == {"id", "name", "createdAt", "lastUsedAt"}
    assert devices[1]["createdAt"] == int(START * 1000) + 30_000  # ms, the injected clock
    assert devices[0]["createdAt"] == devices[0]["lastUsedAt"] == int(START * 1000) + 120_000

    laptop_id = devices[1]["id"]
    assert body(h.post(REMOVE, tokens, {"id": laptop_id})) == {"status": "OK", "didExist": True}
    assert h.protected(with_token(h, "two-devices@example.com", laptop)) == 403
    assert h.protected(with_token(h, "two-devices@example.com", desktop)) == 200
    assert [d["name"] for d in body(h.get(LIST, tokens))["devices"]] == ["Firefox on Windows"]
    again = body(h.post(REMOVE, tokens, {"id": laptop_id}))
    assert again == {"status": "OK", "didExist": False}


def test_the_list_needs_a_completed_2fa_not_a_fresh_one(app: Callable[..., App]) -> None:
    h = app(remember_device=True)
    _, secret = enrolled(h, "completed@example.com")
    token = remembered(h, "completed@example.com", secret, CHROME_LINUX)

    not_completed = h.signed_in("completed@example.com")
    for response in (h.get(LIST, not_completed), h.post(REMOVE, not_completed, {"id": "abc"})):
        assert status(response) == 403
        assert body(response)["claimValidationErrors"][0]["id"] == "2fa-completed"

    h.clock.advance(3600)  # long past the step-up window
    by_token = with_token(h, "completed@example.com", token)
    assert jwt_payload(by_token.access or "")["2fa-completed"]["m"] == "remembered"
    devices = body(h.get(LIST, by_token))["devices"]
    assert len(devices) == 1
    answer = body(h.post(REMOVE, by_token, {"id": devices[0]["id"]}))
    assert answer == {"status": "OK", "didExist": True}


@pytest.mark.parametrize(
    "payload",
    [{}, {"id": 5}, {"id": None}, {"id": ""}, {"id": "x" * 65}, {"id": "not an id!"}, []],
)
def test_a_malformed_removal_is_a_400_and_changes_nothing(
    app: Callable[..., App], payload: Any
) -> None:
    h = app(remember_device=True)
    tokens, secret = enrolled(h, "malformed@example.com")
    remembered(h, "malformed@example.com", secret, CHROME_LINUX)
    before = body(h.get(LIST, tokens))
    response = h.post(REMOVE, tokens, payload)
    assert status(response) == 400
    assert "message" in body(response)
    assert body(h.get(LIST, tokens)) == before


@pytest.mark.slow
def test_the_least_recently_used_device_is_evicted(app: Callable[..., App]) -> None:
    h = app(remember_device=True)
    tokens, secret = enrolled(h, "many@example.com")
    first = remembered(h, "many@example.com", secret, CHROME_LINUX)
    others = []
    for _ in range(MAX_REMEMBERED_DEVICES - 1):
        h.clock.advance(LAST_USED_EVERY_MS / 1000)
        others.append(remembered(h, "many@example.com", secret, FIREFOX_WINDOWS))
    h.clock.advance(LAST_USED_EVERY_MS / 1000)
    assert h.protected(with_token(h, "many@example.com", first)) == 200  # used: most recent
    h.clock.advance(60)
    remembered(h, "many@example.com", secret, CHROME_LINUX)  # one too many

    assert len(body(h.get(LIST, tokens))["devices"]) == MAX_REMEMBERED_DEVICES
    assert h.protected(with_token(h, "many@example.com", first)) == 200
    assert h.protected(with_token(h, "many@example.com", others[0])) == 403  # least recent
    assert h.protected(with_token(h, "many@example.com", others[1])) == 200


class CountingStore(InMemoryStore):
    """Counts its writes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    async def update(
        self,
        user_id: str,
        fn: Callable[[TwoFactorState], T],
        user_context: dict[str, Any] | None = None,
    ) -> T:
        self.writes += 1
        return await super().update(user_id, fn, user_context)


def test_last_used_is_written_at_most_once_an_hour(app: Callable[..., App]) -> None:
    store = CountingStore()
    h = app(remember_device=True, store=store)
    tokens, secret = enrolled(h, "last-used@example.com")
    token = remembered(h, "last-used@example.com", secret, CHROME_LINUX)
    created = body(h.get(LIST, tokens))["devices"][0]["lastUsedAt"]
    store.writes = 0
    h.clock.advance(600)
    assert h.protected(with_token(h, "last-used@example.com", token)) == 200
    assert body(h.get(LIST, tokens))["devices"][0]["lastUsedAt"] == created
    assert store.writes == 0
    h.clock.advance(LAST_USED_EVERY_MS / 1000)
    assert h.protected(with_token(h, "last-used@example.com", token)) == 200
    assert body(h.get(LIST, tokens))["devices"][0]["lastUsedAt"] == int(h.clock() * 1000)
    assert store.writes == 1


def test_a_token_issued_before_devices_were_listed_no_longer_skips_2fa(
    app: Callable[..., App],
) -> None:
    h = app(remember_device=True)
    tokens, _ = enrolled(h, "legacy@example.com")
    runtime = TwoFactor.of(h.config)
    user_id = jwt_payload(tokens.access or "")["sub"]
    state = asyncio.run(runtime.store.load(user_id, {}))
    legacy = runtime.remember_tokens.issue(user_id, state.epoch, lifetime=3600, now=h.config.clock)
    assert runtime.remember_tokens.check(legacy, user_id, state.epoch, now=h.config.clock)
    assert h.protected(with_token(h, "legacy@example.com", legacy)) == 403


def test_admin_functions_list_and_forget_and_revoke_all_still_works(
    app: Callable[..., App],
) -> None:
    h = app(remember_device=True)
    tokens, secret = enrolled(h, "admin-rd@example.com")
    user_id = jwt_payload(tokens.access or "")["sub"]
    laptop = remembered(h, "admin-rd@example.com", secret, CHROME_LINUX)
    desktop = remembered(h, "admin-rd@example.com", secret, FIREFOX_WINDOWS)

    listed = asyncio.run(list_remembered_devices(h.config, user_id))
    assert [d.name for d in listed] == ["Firefox on Windows", "Chrome on Linux"]
    overview = asyncio.run(get_two_factor_state(h.config, user_id))
    assert overview.remembered_devices == listed
    assert asyncio.run(remove_remembered_device(h.config, user_id, listed[0].id)) is True
    assert asyncio.run(remove_remembered_device(h.config, user_id, listed[0].id)) is False
    assert h.protected(with_token(h, "admin-rd@example.com", desktop)) == 403
    assert h.protected(with_token(h, "admin-rd@example.com", laptop)) == 200

    asyncio.run(revoke_remembered_devices(h.config, user_id))  # sign out everywhere
    assert asyncio.run(list_remembered_devices(h.config, user_id)) == ()
    assert h.protected(with_token(h, "admin-rd@example.com", laptop)) == 403


def test_a_factor_change_forgets_every_device(app: Callable[..., App]) -> None:
    h = app(remember_device=True)
    _, secret = enrolled(h, "change-rd@example.com")
    token = remembered(h, "change-rd@example.com", secret, CHROME_LINUX)
    fresh = h.signed_in("change-rd@example.com")
    assert body(h.post("/auth/2fa/totp/verify", fresh, {"code": h.code(secret)}))["status"] == "OK"
    assert body(h.post("/auth/2fa/recovery-codes", fresh, {}))["status"] == "OK"
    assert body(h.get(LIST, fresh))["devices"] == []
    assert h.protected(with_token(h, "change-rd@example.com", token)) == 403


def test_the_routes_are_not_served_without_remember_device(app: Callable[..., App]) -> None:
    h = app()
    tokens, _ = enrolled(h, "no-remember@example.com")
    assert status(h.get(LIST, tokens)) == 404
    assert status(h.post(REMOVE, tokens, {"id": "abc"})) == 404
