"""The 2FA HTTP API (DESIGN section 5) over HTTP, through FastAPI and Flask.

Each test runs the real SDK middleware against the development core, with the
library's plugin serving the routes, and an injected clock so TOTP codes are exact.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from supertokens_python.ingredients.emaildelivery.types import EmailDeliveryConfig

from st_twofactor import events
from st_twofactor.config import TwoFactorConfig
from st_twofactor.devcore import DevCore
from st_twofactor.factors.totp import algorithm as totp
from st_twofactor.http.routes import twofactor_plugin
from st_twofactor.recipes import build_recipe_list
from st_twofactor.stores import InMemoryStore, UserMetadataStore
from st_twofactor.testing import reset_supertokens

from ..helpers.outbox import CapturedPasswordReset
from ..helpers.sdk import API_DOMAIN, Tokens, body, jwt_payload, sdk_init, sign_in, sign_up, status

SECRET_KEY = "test-secret-key-0123456789abcdef"
START = 1_800_000_000.0


@dataclass
class Clock:
    now: float = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Harness:
    """One app (FastAPI or Flask) with the 2FA plugin, and what the test needs of it."""

    client: Any
    clock: Clock
    config: TwoFactorConfig
    seen: list[events.Event] = field(default_factory=list)

    def get(self, path: str, tokens: Tokens) -> Any:
        response = self.client.get(path, headers=tokens.auth())
        _update(tokens, response)
        return response

    def post(self, path: str, tokens: Tokens | None, json: Any = None, **kw: Any) -> Any:
        headers = tokens.auth() if tokens is not None else {}
        response = self.client.post(path, json=json, headers=headers, **kw)
        if tokens is not None:
            _update(tokens, response)
        return response

    def signed_up(self, email: str) -> Tokens:
        response = sign_up(self.client, email)
        assert body(response)["status"] == "OK", body(response)
        return Tokens.of(response)

    def signed_in(self, email: str) -> Tokens:
        response = sign_in(self.client, email)
        assert body(response)["status"] == "OK", body(response)
        return Tokens.of(response)

    def enrol_totp(self, tokens: Tokens, name: str | None = None) -> tuple[str, list[str]]:
        """Enrol and activate a device; returns its secret and the recovery codes."""
        created = body(
            self.post("/auth/2fa/totp/device", tokens, {"deviceName": name} if name else {})
        )
        assert created["status"] == "OK", created
        code = totp.code_at(created["secret"], self.clock())
        payload: dict[str, Any] = {"code": code}
        if name:
            payload["deviceName"] = name
        verified = body(self.post("/auth/2fa/totp/device/verify", tokens, payload))
        assert verified["status"] == "OK", verified
        return created["secret"], verified.get("recoveryCodes", [])


def _update(tokens: Tokens, response: Any) -> None:
    new_access = response.headers.get("st-access-token")
    if new_access:
        tokens.access = new_access


def _protected_app_routes(framework: str, app: Any) -> None:
    """A route protected by verify_session() (global 2FA validator applies)."""
    if framework == "fastapi":
        from fastapi import Depends
        from supertokens_python.recipe.session import SessionContainer
        from supertokens_python.recipe.session.framework.fastapi import verify_session

        @app.get("/api/secret")
        async def secret(session: SessionContainer = Depends(verify_session())) -> dict[str, str]:
            return {"user": session.get_user_id()}

    else:
        from flask import g, jsonify
        from supertokens_python.recipe.session.framework.flask import verify_session

        @app.route("/api/secret")
        @verify_session()
        def secret() -> Any:
            return jsonify({"user": g.supertokens.get_user_id()})


@pytest.fixture(params=["fastapi", "flask"])
def harness(request: pytest.FixtureRequest, devcore_app: str) -> Iterator[Callable[..., Harness]]:
    framework: str = request.param

    def make(**options: Any) -> Harness:
        clock = Clock()
        seen: list[events.Event] = []
        options.setdefault("store", InMemoryStore())
        options.setdefault("factors", ("totp", "recovery-code"))
        config = TwoFactorConfig(
            secret_keys=[SECRET_KEY], clock=clock, on_event=seen.append, **options
        )
        sdk_init(
            devcore_app,
            build_recipe_list(
                config=config,
                email_delivery=None,
                emailpassword_email_delivery=EmailDeliveryConfig(service=CapturedPasswordReset([])),
            ),
            framework="fastapi" if framework == "fastapi" else "flask",
            app_name="Routes Test",
            plugins=[twofactor_plugin(config)],
        )
        if framework == "fastapi":
            from fastapi import FastAPI
            from fastapi.testclient import TestClient
            from supertokens_python.framework.fastapi import get_middleware

            app: Any = FastAPI()
            app.add_middleware(get_middleware())
            _protected_app_routes(framework, app)
            client: Any = TestClient(app)
        else:
            from flask import Flask
            from supertokens_python.framework.flask import Middleware

            app = Flask(__name__)
            Middleware(app)
            _protected_app_routes(framework, app)
            client = app.test_client()
        return Harness(client=client, clock=clock, config=config, seen=seen)

    yield make
    reset_supertokens()


def test_full_totp_flow(harness: Callable[..., Harness]) -> None:
    """Sign up -> enrol TOTP -> sign out -> sign in -> 403 -> TOTP -> 200."""
    h = harness()
    tokens = h.signed_up("alice@example.com")
    assert status(h.get("/api/secret", tokens)) == 403

    overview = body(h.get("/auth/2fa", tokens))
    assert overview["status"] == "OK"
    assert overview["completed"] is False and overview["required"] is True
    assert overview["factors"] == []

    created = body(h.post("/auth/2fa/totp/device", tokens, {}))
    assert created["status"] == "OK"
    assert created["otpauthUri"].startswith("otpauth://totp/")
    assert "Routes%20Test" in created["otpauthUri"]
    assert created["qrCodeSvg"].lstrip().startswith("<")
    assert len(totp.decode_secret(created["secret"])) >= 20

    verified = body(
        h.post(
            "/auth/2fa/totp/device/verify",
            tokens,
            {"code": totp.code_at(created["secret"], h.clock())},
        )
    )
    assert verified["status"] == "OK"
    assert len(verified["recoveryCodes"]) == 10
    handle = jwt_payload(tokens.access or "")["sessionHandle"]
    assert status(h.get("/api/secret", tokens)) == 200
    assert jwt_payload(tokens.access or "")["sessionHandle"] == handle

    h.clock.advance(60)
    again = h.signed_in("alice@example.com")
    assert status(h.get("/api/secret", again)) == 403
    assert body(h.get("/auth/2fa", again))["next"] == ["totp", "recovery-code"]
    wrong = body(h.post("/auth/2fa/totp/verify", again, {"code": "000000"}))
    assert wrong["status"] == "INVALID_CODE_ERROR" and wrong["attemptsLeft"] == 4
    ok = body(
        h.post("/auth/2fa/totp/verify", again, {"code": totp.code_at(created["secret"], h.clock())})
    )
    assert ok == {"status": "OK"}
    assert status(h.get("/api/secret", again)) == 200
    kinds = [e.kind for e in h.seen]
    assert "factor_enrolled" in kinds and "verification_failed" in kinds
    assert kinds.count("verification_succeeded") == 1


def test_recovery_code_flow(harness: Callable[..., Harness]) -> None:
    h = harness()
    tokens = h.signed_up("bob@example.com")
    _, codes = h.enrol_totp(tokens)
    h.clock.advance(60)
    again = h.signed_in("bob@example.com")
    used = body(h.post("/auth/2fa/recovery-code/verify", again, {"code": codes[3].upper()}))
    assert used == {"status": "OK", "recoveryCodesLeft": 9}
    assert status(h.get("/api/secret", again)) == 200
    third = h.signed_in("bob@example.com")
    reused = body(h.post("/auth/2fa/recovery-code/verify", third, {"code": codes[3]}))
    assert reused["status"] == "INVALID_CODE_ERROR"
    assert status(h.get("/api/secret", third)) == 403
    assert any(e.kind == "recovery_code_used" for e in h.seen)


def test_core_calls_per_flow_with_the_default_store(
    harness: Callable[..., Harness], devcore: DevCore, devcore_app: str
) -> None:
    """Each flow reads the state once and writes it at most once (see docs/benchmarks.md)."""
    h = harness(store=UserMetadataStore())
    app_id = devcore_app.rsplit("/appid-", 1)[1]

    def calls_since(start: int) -> list[str]:
        done = [r for r in devcore.requests(app_id) if not r.path.endswith("/jwks.json")]
        return [f"{r.method} {r.path}" for r in done[start:]]

    tokens = h.signed_up("carol@example.com")
    start = len(calls_since(0))
    created = body(h.post("/auth/2fa/totp/device", tokens, {}))
    assert created["status"] == "OK"
    made = calls_since(start)
    # The account name in the otpauth URI is read while the device is stored, beside it.
    metadata = ["GET /recipe/user/metadata", "PUT /recipe/user/metadata"]
    assert sorted(made) == sorted([*metadata, "GET /user/id"])
    assert [c for c in made if c in metadata] == metadata
    start = len(calls_since(0))
    code = totp.code_at(created["secret"], h.clock())
    verified = body(h.post("/auth/2fa/totp/device/verify", tokens, {"code": code}))
    assert verified["status"] == "OK"
    update_and_complete = [
        "GET /recipe/user/metadata",
        "PUT /recipe/user/metadata",
        "POST /recipe/session/regenerate",
    ]
    assert calls_since(start) == update_and_complete

    h.clock.advance(60)
    again = h.signed_in("carol@example.com")
    start = len(calls_since(0))
    recovery = verified["recoveryCodes"][0]
    used = body(h.post("/auth/2fa/recovery-code/verify", again, {"code": recovery}))
    assert used["status"] == "OK"
    assert calls_since(start) == update_and_complete


def test_first_factor_reads_no_state_when_everyone_must_do_2fa(
    harness: Callable[..., Harness], devcore: DevCore, devcore_app: str
) -> None:
    """With the defaults (2FA for everyone, no enrolment grace) a new session starts not
    completed whatever the user's state holds, so sign-up and sign-in make the SDK's core
    calls and no more: no read of the user's 2FA state (one core call per sign-in)."""
    h = harness(store=UserMetadataStore())
    app_id = devcore_app.rsplit("/appid-", 1)[1]

    def calls_since(start: int) -> list[str]:
        done = [r for r in devcore.requests(app_id) if not r.path.endswith("/jwks.json")]
        return [f"{r.method} {r.path}" for r in done[start:]]

    start = len(calls_since(0))
    tokens = h.signed_up("frank@example.com")
    made = calls_since(start)
    assert "POST /public/recipe/session" in made
    assert not [c for c in made if "metadata" in c], made
    assert status(h.get("/api/secret", tokens)) == 403  # not completed: 2FA is needed
    h.enrol_totp(tokens)
    start = len(calls_since(0))
    again = h.signed_in("frank@example.com")
    made = calls_since(start)
    assert "POST /public/recipe/session" in made
    assert not [c for c in made if "metadata" in c], made
    assert status(h.get("/api/secret", again)) == 403


def test_totp_step_is_never_accepted_twice(harness: Callable[..., Harness]) -> None:
    """S3: the same code (same time step) in a second session is refused."""
    h = harness()
    tokens = h.signed_up("carol@example.com")
    secret, _ = h.enrol_totp(tokens)
    h.clock.advance(30)
    code = totp.code_at(secret, h.clock())
    first, second = h.signed_in("carol@example.com"), h.signed_in("carol@example.com")
    assert body(h.post("/auth/2fa/totp/verify", first, {"code": code}))["status"] == "OK"
    replay = body(h.post("/auth/2fa/totp/verify", second, {"code": code}))
    assert replay["status"] == "INVALID_CODE_ERROR"
    assert status(h.get("/api/secret", second)) == 403


def test_totp_skew_is_one_step(harness: Callable[..., Harness]) -> None:
    """S4: the previous step is accepted, two steps back is not."""
    h = harness()
    tokens = h.signed_up("skew@example.com")
    secret, _ = h.enrol_totp(tokens)
    h.clock.advance(300)
    session = h.signed_in("skew@example.com")
    too_old = totp.code_at(secret, h.clock() - 60)
    assert (
        body(h.post("/auth/2fa/totp/verify", session, {"code": too_old}))["status"]
        == "INVALID_CODE_ERROR"
    )
    previous = totp.code_at(secret, h.clock() - 30)
    assert body(h.post("/auth/2fa/totp/verify", session, {"code": previous}))["status"] == "OK"


def test_lockout_after_five_failures_and_reset_on_success(harness: Callable[..., Harness]) -> None:
    """S2: 5 consecutive failures lock the factor for 15 minutes, across sessions."""
    h = harness()
    tokens = h.signed_up("dave@example.com")
    secret, _ = h.enrol_totp(tokens)
    h.clock.advance(60)
    one, two = h.signed_in("dave@example.com"), h.signed_in("dave@example.com")
    answers = [body(h.post("/auth/2fa/totp/verify", one, {"code": "111111"})) for _ in range(3)]
    assert [a["attemptsLeft"] for a in answers] == [4, 3, 2]
    good = totp.code_at(secret, h.clock())
    assert body(h.post("/auth/2fa/totp/verify", two, {"code": good}))["status"] == "OK"
    # the success reset the count: five more failures are needed for a lockout
    h.clock.advance(30)
    three = h.signed_in("dave@example.com")
    answers = [body(h.post("/auth/2fa/totp/verify", three, {"code": "222222"})) for _ in range(5)]
    assert [a["attemptsLeft"] for a in answers[:4]] == [4, 3, 2, 1]
    # The failure that locks answers like every locked attempt (issue 12): the wait.
    assert answers[4] == {"status": "LIMIT_REACHED_ERROR", "retryAfterMs": 900_000}
    locked = body(h.post("/auth/2fa/totp/verify", three, {"code": totp.code_at(secret, h.clock())}))
    assert locked["status"] == "LIMIT_REACHED_ERROR"
    assert 0 < locked["retryAfterMs"] <= 900_000
    assert any(e.kind == "locked_out" for e in h.seen)
    h.clock.advance(901)
    unlocked = body(
        h.post("/auth/2fa/totp/verify", three, {"code": totp.code_at(secret, h.clock())})
    )
    assert unlocked["status"] == "OK"


def test_changing_factors_needs_a_fresh_2fa(harness: Callable[..., Harness]) -> None:
    """S8: a second device, removal and regeneration need a 2FA within the window."""
    h = harness()
    tokens = h.signed_up("erin@example.com")
    secret, _ = h.enrol_totp(tokens)  # first enrolment: first factor is enough
    assert (
        body(h.post("/auth/2fa/totp/device", tokens, {"deviceName": "phone 2"}))["status"] == "OK"
    )
    h.clock.advance(301)
    for path, payload in [
        ("/auth/2fa/totp/device", {"deviceName": "phone 3"}),
        ("/auth/2fa/totp/device/remove", {"deviceName": "authenticator"}),
        ("/auth/2fa/recovery-codes", {}),
    ]:
        refused = h.post(path, tokens, payload)
        assert status(refused) == 403, (path, body(refused))
        assert body(refused)["claimValidationErrors"][0]["id"] == "2fa-completed"
    fresh = h.signed_in("erin@example.com")
    h.post("/auth/2fa/totp/verify", fresh, {"code": totp.code_at(secret, h.clock())})
    regenerated = body(h.post("/auth/2fa/recovery-codes", fresh, {}))
    assert regenerated["status"] == "OK" and len(regenerated["recoveryCodes"]) == 10
    removed = body(h.post("/auth/2fa/totp/device/remove", fresh, {"deviceName": "authenticator"}))
    assert removed == {"status": "OK", "didDeviceExist": True}
    assert body(h.get("/auth/2fa", fresh))["factors"] == []


def test_device_names_and_unknown_devices(harness: Callable[..., Harness]) -> None:
    h = harness()
    tokens = h.signed_up("frank@example.com")
    h.enrol_totp(tokens, "laptop")
    assert body(h.post("/auth/2fa/totp/device", tokens, {"deviceName": "laptop"}))["status"] == (
        "DEVICE_ALREADY_EXISTS_ERROR"
    )
    unknown = body(
        h.post("/auth/2fa/totp/device/verify", tokens, {"deviceName": "nope", "code": "123456"})
    )
    assert unknown["status"] == "UNKNOWN_DEVICE_ERROR"
    assert body(h.post("/auth/2fa/totp/device/remove", tokens, {"deviceName": "nope"})) == {
        "status": "OK",
        "didDeviceExist": False,
    }


def test_totp_not_enabled(harness: Callable[..., Harness]) -> None:
    h = harness()
    tokens = h.signed_up("gina@example.com")
    assert body(h.post("/auth/2fa/totp/verify", tokens, {"code": "123456"})) == {
        "status": "TOTP_NOT_ENABLED_ERROR"
    }


def test_no_session_is_401(harness: Callable[..., Harness]) -> None:
    h = harness()
    for path in ["/auth/2fa/totp/device", "/auth/2fa/totp/verify", "/auth/2fa/recovery-codes"]:
        assert status(h.client.post(path, json={"code": "123456"})) == 401
    assert status(h.client.get("/auth/2fa")) == 401


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/auth/2fa/totp/verify", {}),
        ("/auth/2fa/totp/verify", {"code": 123456}),
        ("/auth/2fa/totp/verify", {"code": "١٢٣٤٥٦"}),
        ("/auth/2fa/totp/verify", {"code": "12345"}),
        ("/auth/2fa/totp/verify", {"code": "123456", "rememberDevice": "yes"}),
        ("/auth/2fa/totp/device", {"deviceName": ""}),
        ("/auth/2fa/totp/device", {"deviceName": "x" * 65}),
        ("/auth/2fa/totp/device", {"deviceName": ["a"]}),
        ("/auth/2fa/totp/device/remove", {}),
        ("/auth/2fa/recovery-code/verify", {"code": None}),
        ("/auth/2fa/recovery-code/verify", {"code": "é" * 10}),
        ("/auth/2fa/recovery-code/verify", {"code": "a" * 10_000}),
        ("/auth/2fa/totp/verify", ["not", "an", "object"]),
    ],
)
def test_malformed_input_is_400_and_changes_nothing(
    harness: Callable[..., Harness], path: str, payload: Any
) -> None:
    """S13: a clear 400 with a message, and the stored state is untouched."""
    h = harness()
    tokens = h.signed_up("mal@example.com")
    h.enrol_totp(tokens)
    store = h.config.state_store
    user_id = jwt_payload(tokens.access or "")["sub"]
    before = _state_doc(store, user_id)
    response = h.post(path, tokens, payload)
    assert status(response) == 400, body(response)
    assert isinstance(body(response)["message"], str)
    assert _state_doc(store, user_id) == before


@pytest.mark.slow
@pytest.mark.parametrize("store", ["memory", "metadata"])
def test_concurrent_redemption_of_one_recovery_code(
    harness: Callable[..., Harness], store: str
) -> None:
    """S7: many sessions race one recovery code; exactly one wins (also on the default
    store, through the SDK, whose per-request cache must not serve a stale state)."""
    h = harness(store=None) if store == "metadata" else harness()
    tokens = h.signed_up("race@example.com")
    _, codes = h.enrol_totp(tokens)
    sessions = [h.signed_in("race@example.com") for _ in range(8)]
    barrier = threading.Barrier(len(sessions))

    def redeem(tokens: Tokens) -> str:
        barrier.wait()
        return str(
            body(h.post("/auth/2fa/recovery-code/verify", tokens, {"code": codes[0]}))["status"]
        )

    with ThreadPoolExecutor(len(sessions)) as pool:
        results = list(pool.map(redeem, sessions))
    assert results.count("OK") == 1, results


def test_remember_device(harness: Callable[..., Harness]) -> None:
    """S11: a remembered device skips the second factor until it expires or factors change."""
    h = harness(remember_device=True, remember_device_for=3600)
    tokens = h.signed_up("rita@example.com")
    secret, _ = h.enrol_totp(tokens)
    h.clock.advance(30)
    session = h.signed_in("rita@example.com")
    answer = h.post(
        "/auth/2fa/totp/verify",
        session,
        {"code": totp.code_at(secret, h.clock()), "rememberDevice": True},
    )
    token = body(answer)["rememberDeviceToken"]
    assert "st2fa-remember" in answer.headers.get("set-cookie", "")
    assert "HttpOnly" in answer.headers.get("set-cookie", "")
    assert "samesite=strict" in answer.headers.get("set-cookie", "").lower()
    _forget_cookies(h.client)  # the header path, as a client that keeps tokens itself
    remembered = sign_in(h.client, "rita@example.com", **{"st-2fa-remember": token})
    assert status(h.get("/api/secret", Tokens.of(remembered))) == 200
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    refused = sign_in(h.client, "rita@example.com", **{"st-2fa-remember": forged})
    assert status(h.get("/api/secret", Tokens.of(refused))) == 403
    h.clock.advance(3601)
    expired = sign_in(h.client, "rita@example.com", **{"st-2fa-remember": token})
    assert status(h.get("/api/secret", Tokens.of(expired))) == 403


def test_remember_device_revoked_by_a_factor_change(harness: Callable[..., Harness]) -> None:
    """S11: changing factors (here: new recovery codes) revokes remembered devices."""
    h = harness(remember_device=True)
    tokens = h.signed_up("rex@example.com")
    secret, _ = h.enrol_totp(tokens)
    h.clock.advance(30)
    session = h.signed_in("rex@example.com")
    answer = h.post(
        "/auth/2fa/totp/verify",
        session,
        {"code": totp.code_at(secret, h.clock()), "rememberDevice": True},
    )
    token = body(answer)["rememberDeviceToken"]
    _forget_cookies(h.client)
    assert body(h.post("/auth/2fa/recovery-codes", session, {}))["status"] == "OK"
    after = sign_in(h.client, "rex@example.com", **{"st-2fa-remember": token})
    assert status(h.get("/api/secret", Tokens.of(after))) == 403


def test_remember_device_is_off_by_default(harness: Callable[..., Harness]) -> None:
    h = harness()
    tokens = h.signed_up("nora@example.com")
    secret, _ = h.enrol_totp(tokens)
    h.clock.advance(30)
    session = h.signed_in("nora@example.com")
    answer = h.post(
        "/auth/2fa/totp/verify",
        session,
        {"code": totp.code_at(secret, h.clock()), "rememberDevice": True},
    )
    assert body(answer) == {"status": "OK"}
    assert "st2fa-remember" not in answer.headers.get("set-cookie", "")


def _forget_cookies(client: Any) -> None:
    if hasattr(client, "cookies"):
        client.cookies.clear()
    else:
        client._cookies.clear()


def _state_doc(store: Any, user_id: str) -> Any:
    import asyncio

    return asyncio.run(store.load(user_id)).to_dict()


def test_security_key_flow(harness: Callable[..., Harness]) -> None:
    """With "webauthn" enabled, both frameworks serve the security-key routes: add a key
    (completes the session), sign in again, complete 2FA with it, remove it."""
    from st_twofactor.testing.webauthn import SoftwareAuthenticator

    h = harness(factors=("totp", "webauthn", "recovery-code"))
    key = SoftwareAuthenticator()
    tokens = h.signed_up("key@example.com")
    options = body(h.get("/auth/2fa/webauthn/register/options?deviceName=key", tokens))
    assert options["status"] == "OK" and options["options"]["rp"]["id"] == "localhost"
    credential = key.register(options["options"], origin=API_DOMAIN)
    added = body(
        h.post(
            "/auth/2fa/webauthn/register/verify",
            tokens,
            {"deviceName": "key", "credential": credential},
        )
    )
    assert added["status"] == "OK" and len(added["recoveryCodes"]) == 10
    assert status(h.get("/api/secret", tokens)) == 200

    again = h.signed_in("key@example.com")
    assert status(h.get("/api/secret", again)) == 403
    options = body(h.get("/auth/2fa/webauthn/authenticate/options", again))
    answer = key.assertion(options["options"], origin=API_DOMAIN)
    verified = body(h.post("/auth/2fa/webauthn/authenticate/verify", again, {"credential": answer}))
    assert verified == {"status": "OK"}
    assert status(h.get("/api/secret", again)) == 200
    assert jwt_payload(again.access or "")["2fa-completed"]["m"] == "webauthn"

    removed = body(h.post("/auth/2fa/webauthn/device/remove", again, {"deviceName": "key"}))
    assert removed == {"status": "OK", "didDeviceExist": True}
    assert body(h.get("/auth/2fa", again))["securityKeys"] == []
