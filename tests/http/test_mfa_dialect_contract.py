"""The endpoints of SuperTokens' frontend MFA and TOTP recipes (st_twofactor.http.mfa),
checked against the shapes the web SDK's ``multifactorauth`` and ``totp`` recipes read:
statuses, fields and their types, and the ``st-mfa`` claim, on FastAPI and Flask.

The expected shapes are written here from what those recipes send and read:

- ``PUT /mfa/info`` -> ``{status: "OK", factors: {next, alreadySetup, allowedToSetup}:
  string[], emails: {factorId: string[]}, phoneNumbers: {factorId: string[]}}``, and the
  access token carries ``st-mfa = {c: {factorId: ms}, v: bool}``.
- ``POST /totp/device {deviceName?}`` -> ``OK + deviceName, secret, qrCodeString`` |
  ``DEVICE_ALREADY_EXISTS_ERROR``.
- ``POST /totp/device/verify {deviceName, totp}`` -> ``OK + wasAlreadyVerified`` |
  ``UNKNOWN_DEVICE_ERROR`` | ``INVALID_TOTP_ERROR + currentNumberOfFailedAttempts,
  maxNumberOfFailedAttempts`` | ``LIMIT_REACHED_ERROR + retryAfterMs``.
- ``POST /totp/verify {totp}`` -> ``OK`` | ``INVALID_TOTP_ERROR`` (+ the two counts) |
  ``LIMIT_REACHED_ERROR + retryAfterMs``.
- ``GET /totp/device/list`` -> ``OK + devices: [{name, period, skew, verified}]``.
- ``POST /totp/device/remove {deviceName}`` -> ``OK + didDeviceExist``.
- a route that needs the second factor answers 403 with ``claimValidationErrors``
  naming ``st-mfa``; without a session every route answers 401.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from st_twofactor.devcore import DevCore
from st_twofactor.factors.totp import algorithm as totp
from st_twofactor.testing import reset_supertokens

from ..helpers.codes_harness import Harness
from ..helpers.mfa_harness import (
    enrol_totp_mfa,
    make_app,
    mfa_info,
    put,
    totp_get,
    totp_post,
)
from ..helpers.sdk import HEADER_MODE, Tokens, body, invalid_claim_ids, jwt_payload, status

MakeApp = Callable[..., Harness]


@pytest.fixture(params=["fastapi", "flask"])
def make(request: pytest.FixtureRequest, devcore: DevCore, devcore_app: str) -> Iterator[MakeApp]:
    framework = str(request.param)

    def build(**options: Any) -> Harness:
        return make_app(framework, devcore, devcore_app, **options)

    yield build
    reset_supertokens()


def _mfa(tokens: Tokens) -> dict[str, Any]:
    assert tokens.access is not None
    entry: dict[str, Any] = jwt_payload(tokens.access)["st-mfa"]
    return entry


def _is_string_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def test_mfa_info_shape_and_the_claim_before_and_after_totp(make: MakeApp) -> None:
    h = make()
    tokens = h.signed_up("ann@example.com")
    assert _mfa(tokens) == {"c": {}, "v": False}
    assert h.protected(tokens) == 403
    assert "st-mfa" in invalid_claim_ids(h.get("/protected", tokens))

    info = mfa_info(h, tokens)
    assert info["status"] == "OK"
    assert set(info) == {"status", "factors", "emails", "phoneNumbers"}
    assert set(info["factors"]) == {"next", "alreadySetup", "allowedToSetup"}
    assert all(_is_string_list(v) for v in info["factors"].values())
    assert info["factors"]["alreadySetup"] == []
    assert info["factors"]["allowedToSetup"] == ["totp", "otp-email", "otp-phone"]
    assert info["factors"]["next"] == ["totp", "otp-email", "otp-phone"]
    assert info["emails"] == {"otp-email": ["ann@example.com"]}
    assert info["phoneNumbers"] == {"otp-phone": []}

    enrol_totp_mfa(h, tokens)
    entry = _mfa(tokens)
    assert entry["v"] is True and set(entry["c"]) == {"totp"}
    assert entry["c"]["totp"] == int(h.clock() * 1000)
    assert jwt_payload(tokens.access or "")["2fa-completed"]["v"] is True
    assert h.protected(tokens) == 200
    done = mfa_info(h, tokens)
    assert done["factors"]["next"] == []
    assert done["factors"]["alreadySetup"] == ["totp"]

    h.clock.advance(60)
    again = h.signed_in("ann@example.com")
    assert _mfa(again) == {"c": {}, "v": False}
    info = mfa_info(h, again)
    assert info["factors"]["next"] == ["totp"]
    assert info["factors"]["alreadySetup"] == ["totp"]
    assert info["factors"]["allowedToSetup"] == []  # adding one needs a fresh 2FA


def test_mfa_info_adds_st_mfa_to_a_session_without_it(make: MakeApp) -> None:
    """A session made before the claim existed (completed or not) gets it from
    /mfa/info, agreeing with 2fa-completed: the prebuilt UI calls /mfa/info when the
    claim is missing, and must not loop."""
    import asyncio

    from supertokens_python.recipe.session.asyncio import merge_into_access_token_payload

    h = make()
    for completed in (False, True):
        tokens = h.signed_up(f"old{int(completed)}@example.com")
        if completed:
            enrol_totp_mfa(h, tokens)
        handle = jwt_payload(tokens.access or "")["sessionHandle"]
        asyncio.run(merge_into_access_token_payload(handle, {"st-mfa": None}))
        old = Tokens.of(h.client.post("/auth/session/refresh", headers=tokens.refresh_auth()))
        assert "st-mfa" not in jwt_payload(old.access or "")
        assert h.protected(old) == (200 if completed else 403)  # decided by 2fa-completed
        mfa_info(h, old)
        assert _mfa(old)["v"] is completed
        assert h.protected(old) == (200 if completed else 403)


def test_totp_endpoints_statuses_and_fields(make: MakeApp) -> None:
    h = make()
    tokens = h.signed_up("bob@example.com")
    created = body(totp_post(h, "/auth/totp/device", tokens, {}))
    assert set(created) == {"status", "deviceName", "secret", "qrCodeString"}
    assert created["status"] == "OK"
    assert created["qrCodeString"].startswith("otpauth://totp/")
    assert f"secret={created['secret']}" in created["qrCodeString"]
    name = created["deviceName"]

    listed = body(totp_get(h, "/auth/totp/device/list", tokens))
    assert listed == {
        "status": "OK",
        "devices": [{"name": name, "period": 30, "skew": 1, "verified": False}],
    }

    unknown = body(
        totp_post(h, "/auth/totp/device/verify", tokens, {"deviceName": "nope", "totp": "123456"})
    )
    assert unknown == {"status": "UNKNOWN_DEVICE_ERROR"}

    wrong = body(
        totp_post(h, "/auth/totp/device/verify", tokens, {"deviceName": name, "totp": "000000"})
    )
    assert wrong == {
        "status": "INVALID_TOTP_ERROR",
        "currentNumberOfFailedAttempts": 1,
        "maxNumberOfFailedAttempts": 5,
    }
    code = totp.code_at(created["secret"], h.clock())
    ok = body(totp_post(h, "/auth/totp/device/verify", tokens, {"deviceName": name, "totp": code}))
    assert ok["status"] == "OK" and ok["wasAlreadyVerified"] is False
    h.clock.advance(30)
    code = totp.code_at(created["secret"], h.clock())
    again = body(
        totp_post(h, "/auth/totp/device/verify", tokens, {"deviceName": name, "totp": code})
    )
    assert again["status"] == "OK" and again["wasAlreadyVerified"] is True

    listed = body(totp_get(h, "/auth/totp/device/list", tokens))
    assert listed["devices"] == [{"name": name, "period": 30, "skew": 1, "verified": True}]

    h.clock.advance(60)
    later = h.signed_in("bob@example.com")
    for attempt in range(1, 5):
        refused = body(totp_post(h, "/auth/totp/verify", later, {"totp": "000000"}))
        assert refused == {
            "status": "INVALID_TOTP_ERROR",
            "currentNumberOfFailedAttempts": attempt,
            "maxNumberOfFailedAttempts": 5,
        }
    locked = body(totp_post(h, "/auth/totp/verify", later, {"totp": "000000"}))
    assert locked["status"] == "LIMIT_REACHED_ERROR"
    assert isinstance(locked["retryAfterMs"], int) and locked["retryAfterMs"] > 0
    code = totp.code_at(created["secret"], h.clock())
    still = body(totp_post(h, "/auth/totp/verify", later, {"totp": code}))
    assert still["status"] == "LIMIT_REACHED_ERROR"  # the lockout holds for a right code
    assert h.protected(later) == 403
    # Still offered while locked: the TOTP screen shows the wait, not "access denied".
    assert mfa_info(h, later)["factors"]["next"] == ["totp"]

    h.clock.advance(h.config.lockout + 1)
    code = totp.code_at(created["secret"], h.clock())
    assert body(totp_post(h, "/auth/totp/verify", later, {"totp": code})) == {"status": "OK"}
    assert _mfa(later)["v"] is True and h.protected(later) == 200

    removed = body(totp_post(h, "/auth/totp/device/remove", later, {"deviceName": name}))
    assert removed == {"status": "OK", "didDeviceExist": True}
    gone = body(totp_post(h, "/auth/totp/device/remove", later, {"deviceName": name}))
    assert gone == {"status": "OK", "didDeviceExist": False}


def test_create_device_without_a_name_replaces_its_own_and_adds_a_second(make: MakeApp) -> None:
    """The prebuilt UI never names devices: starting again replaces the unverified one,
    and a user with a device can add another (no DEVICE_ALREADY_EXISTS_ERROR)."""
    h = make()
    tokens = h.signed_up("cat@example.com")
    first = body(totp_post(h, "/auth/totp/device", tokens, {}))
    second = body(totp_post(h, "/auth/totp/device", tokens, {}))
    assert first["deviceName"] == second["deviceName"]
    assert first["secret"] != second["secret"]
    listed = body(totp_get(h, "/auth/totp/device/list", tokens))["devices"]
    assert len(listed) == 1
    code = totp.code_at(second["secret"], h.clock())
    name = second["deviceName"]
    verify = {"deviceName": name, "totp": code}
    assert body(totp_post(h, "/auth/totp/device/verify", tokens, verify))["status"] == "OK"
    another = body(totp_post(h, "/auth/totp/device", tokens, {}))
    assert another["status"] == "OK" and another["deviceName"] != name
    named = body(totp_post(h, "/auth/totp/device", tokens, {"deviceName": name}))
    assert named == {"status": "DEVICE_ALREADY_EXISTS_ERROR"}


def test_totp_verify_without_a_device(make: MakeApp) -> None:
    h = make()
    tokens = h.signed_up("dan@example.com")
    answer = body(totp_post(h, "/auth/totp/verify", tokens, {"totp": "123456"}))
    assert answer == {"status": "UNKNOWN_USER_ID_ERROR"}
    assert h.protected(tokens) == 403


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", "/auth/mfa/info"),
        ("post", "/auth/totp/device"),
        ("post", "/auth/totp/device/verify"),
        ("post", "/auth/totp/verify"),
        ("get", "/auth/totp/device/list"),
        ("post", "/auth/totp/device/remove"),
    ],
)
def test_every_route_needs_a_session(make: MakeApp, method: str, path: str) -> None:
    h = make()
    response = getattr(h.client, method)(path, headers=dict(HEADER_MODE))
    assert status(response) == 401


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/auth/totp/device", {"deviceName": 5}),
        ("/auth/totp/device", {"deviceName": "a\u200bb"}),
        ("/auth/totp/device", []),
        ("/auth/totp/device", "x"),
        ("/auth/totp/device/verify", {"deviceName": "authenticator"}),
        ("/auth/totp/device/verify", {"deviceName": "authenticator", "totp": 123456}),
        ("/auth/totp/device/verify", {"deviceName": "authenticator", "totp": "١٢٣٤٥٦"}),
        ("/auth/totp/device/verify", {"totp": "123456"}),
        ("/auth/totp/verify", {}),
        ("/auth/totp/verify", {"totp": None}),
        ("/auth/totp/verify", {"totp": "12345x"}),
        ("/auth/totp/verify", {"totp": "1" * 10_000}),
        ("/auth/totp/device/remove", {}),
        ("/auth/totp/device/remove", {"deviceName": ""}),
        ("/auth/totp/device/remove", {"deviceName": ["a"]}),
    ],
)
def test_junk_bodies_are_400_and_change_nothing(make: MakeApp, path: str, payload: Any) -> None:
    h = make()
    tokens = h.signed_up("eve@example.com")
    enrol_totp_mfa(h, tokens)
    user = jwt_payload(tokens.access or "")["sub"]
    before = h.document(user)
    response = totp_post(h, path, tokens, payload)
    assert status(response) == 400, body(response)
    assert isinstance(body(response)["message"], str)
    assert h.document(user) == before


def _mfa_code_flow(h: Harness, tokens: Tokens, **destination: str) -> dict[str, Any]:
    """The prebuilt UI's e-mail/SMS screen: create, resend, consume, each with
    ``shouldTryLinkingWithSessionUser: true``; the consume answer."""
    link = {"shouldTryLinkingWithSessionUser": True}
    device, _ = h.ask_ok(tokens, **destination, **link)
    assert set(device) >= {"status", "deviceId", "preAuthSessionId", "flowType"}
    assert device["flowType"] == "USER_INPUT_CODE"
    h.clock.advance(h.config.send_quota.cooldown + 1)
    resend = {"deviceId": device["deviceId"], "preAuthSessionId": device["preAuthSessionId"]}
    resent = h.post("/auth/signinup/code/resend", tokens, {**resend, **link})
    assert body(resent) == {"status": "OK"}
    code = h.outbox[-1].code
    answer = h.post(
        "/auth/signinup/code/consume", tokens, {**resend, "userInputCode": code, **link}
    )
    result: dict[str, Any] = body(answer)
    return result


def test_email_code_as_the_mfa_screens_call_it(make: MakeApp) -> None:
    h = make()
    tokens = h.signed_up("fay@example.com")
    info = mfa_info(h, tokens)
    assert "otp-email" in info["factors"]["next"]
    assert info["emails"]["otp-email"] == ["fay@example.com"]
    done = _mfa_code_flow(h, tokens, email=info["emails"]["otp-email"][0])
    assert done["status"] == "OK"
    assert _mfa(tokens) == {"c": {"otp-email": int(h.clock() * 1000)}, "v": True}
    assert jwt_payload(tokens.access or "")["2fa-completed"]["m"] == "otp-email"
    assert h.protected(tokens) == 200
    assert mfa_info(h, tokens)["factors"]["alreadySetup"] == ["otp-email"]


def test_phone_code_as_the_mfa_screens_call_it(make: MakeApp) -> None:
    """The pinned number is listed only to a session with a fresh 2FA: a session with the
    password alone is asked to type it (and only the pinned number gets the code)."""
    h = make()
    tokens = h.signed_up("gus@example.com")
    info = mfa_info(h, tokens)
    assert info["phoneNumbers"] == {"otp-phone": []}
    assert _mfa_code_flow(h, tokens, phoneNumber="+14155550100")["status"] == "OK"
    assert _mfa(tokens)["v"] is True and set(_mfa(tokens)["c"]) == {"otp-phone"}
    assert mfa_info(h, tokens)["phoneNumbers"] == {"otp-phone": ["+14155550100"]}

    h.clock.advance(h.config.step_up_window + 60)
    again = h.signed_in("gus@example.com")
    info = mfa_info(h, again)
    assert info["factors"]["next"] == ["otp-phone"]
    assert info["factors"]["alreadySetup"] == ["otp-phone"]
    assert info["phoneNumbers"] == {"otp-phone": []}
    assert _mfa_code_flow(h, again, phoneNumber="+14155550100")["status"] == "OK"
    assert h.protected(again) == 200


def test_the_sdks_own_mfa_recipes_are_refused_at_start_up(
    devcore: DevCore, devcore_app: str
) -> None:
    from supertokens_python.ingredients.emaildelivery.types import EmailDeliveryConfig
    from supertokens_python.recipe import multifactorauth
    from supertokens_python.recipe import totp as totp_recipe

    from st_twofactor.config import TwoFactorConfig
    from st_twofactor.errors import ConfigurationError
    from st_twofactor.http.routes import twofactor_plugin
    from st_twofactor.recipes import build_recipe_list

    from ..helpers.outbox import CapturedPasswordReset
    from ..helpers.sdk import sdk_init

    for extra in ([multifactorauth.init()], [multifactorauth.init(), totp_recipe.init()]):
        config = TwoFactorConfig(secret_keys=["k" * 32], factors=("totp",))
        delivery = EmailDeliveryConfig(service=CapturedPasswordReset([]))
        recipes = [*build_recipe_list(config=config, emailpassword_email_delivery=delivery), *extra]
        try:
            with pytest.raises(ConfigurationError, match="license key") as refused:
                sdk_init(devcore_app, recipes, plugins=[twofactor_plugin(config)])
            assert "Remove multifactorauth.init()" in str(refused.value)
            assert ("totp.init()" in str(refused.value)) is (len(extra) == 2)
        finally:
            reset_supertokens()


@pytest.mark.parametrize("metadata", [False, True])
def test_the_mfa_dialect_costs_no_more_core_calls_than_its_counterparts(
    make: MakeApp, metadata: bool
) -> None:
    from st_twofactor.stores import InMemoryStore, UserMetadataStore

    h = make(store=UserMetadataStore() if metadata else InMemoryStore())
    _, secret = _enrolled_mfa(h, "cost@example.com")
    h.clock.advance(60)
    one, two = h.signed_in("cost@example.com"), h.signed_in("cost@example.com")

    def calls(request: Callable[[], Any]) -> int:
        before = h.core_calls()
        response = request()
        assert status(response) == 200, body(response)
        return h.core_calls() - before

    assert calls(lambda: put(h, "/auth/mfa/info", one)) <= calls(lambda: h.get("/auth/2fa", two))
    h.clock.advance(30)
    code = totp.code_at(secret, h.clock())
    own = calls(lambda: h.post("/auth/2fa/totp/verify", one, {"code": code}))
    h.clock.advance(30)
    code = totp.code_at(secret, h.clock())
    theirs = calls(lambda: totp_post(h, "/auth/totp/verify", two, {"totp": code}))
    assert theirs <= own


def _enrolled_mfa(h: Harness, email: str) -> tuple[Tokens, str]:
    tokens = h.signed_up(email)
    return tokens, enrol_totp_mfa(h, tokens)
