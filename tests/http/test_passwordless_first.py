"""Passwordless as a first factor and e-mail/SMS codes as a second factor in one app.

``build_recipe_list(first_factors=(..., "passwordless"))``: without a session the
passwordless endpoints are the app's ordinary sign-in/up; with one they are the second
factor. Apps that call ``passwordless.init`` themselves compose
``override_passwordless_apis``. Without ``"passwordless"`` in ``first_factors`` S10 holds.
Driven over HTTP (FastAPI and Flask) against the development core.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from supertokens_python import RecipeInit, Supertokens
from supertokens_python.ingredients.emaildelivery.types import (
    EmailDeliveryConfig,
    EmailDeliveryInterface,
)
from supertokens_python.ingredients.smsdelivery.types import SMSDeliveryConfig
from supertokens_python.recipe import passwordless
from supertokens_python.recipe.emailpassword import InputSignUpFeature
from supertokens_python.recipe.passwordless import (
    ContactEmailOnlyConfig,
    ContactPhoneOnlyConfig,
    PasswordlessOverrideConfig,
)
from supertokens_python.recipe.passwordless.interfaces import APIInterface
from supertokens_python.recipe.passwordless.types import EmailTemplateVars

from st_twofactor import (
    ConfigurationError,
    TwoFactorConfig,
    build_recipe_list,
    override_passwordless_apis,
)
from st_twofactor.devcore import DevCore

from ..helpers.codes_harness import (
    PHONE,
    Harness,
    build_harness,
    codes_request,
    handle_of,
    user_id_of,
)
from ..helpers.outbox import CapturedEmail, CapturedPasswordReset, CapturedSMS, Sent
from ..helpers.sdk import HEADER_MODE, Tokens, body, jwt_payload, sign_up, status

MakeApp = Callable[..., Harness]


@pytest.fixture(params=["fastapi", "flask"])
def framework(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_app(
    framework: str,
    fastapi_app: Callable[[list[RecipeInit]], Any],
    flask_app: Callable[[list[RecipeInit]], Any],
    devcore: DevCore,
    devcore_app: str,
) -> Iterator[MakeApp]:
    """``make_app(recipes=callable(config, outbox) -> recipe_list, **config_options)``."""

    def make(
        recipes: Callable[[TwoFactorConfig, list[Sent]], list[RecipeInit]] | None = None,
        **options: Any,
    ) -> Harness:
        app = fastapi_app if framework == "fastapi" else flask_app
        chosen = recipes or passwordless_first
        return build_harness(
            framework, app, devcore, devcore_app, chosen, uses_session=True, **options
        )

    yield make


def deliveries(outbox: list[Sent]) -> dict[str, Any]:
    return {
        "email_delivery": EmailDeliveryConfig(service=CapturedEmail(outbox)),
        "sms_delivery": SMSDeliveryConfig(service=CapturedSMS(outbox)),
    }


def reset_delivery() -> dict[str, Any]:
    """Password-reset e-mails (needed outside development when emailpassword is on)."""
    return {"emailpassword_email_delivery": EmailDeliveryConfig(service=CapturedPasswordReset([]))}


def passwordless_first(config: TwoFactorConfig, outbox: list[Sent]) -> list[RecipeInit]:
    return build_recipe_list(
        config=config,
        first_factors=("emailpassword", "passwordless"),
        **deliveries(outbox),
        **reset_delivery(),
    )


def sign_in_by_code(h: Harness, email: str) -> tuple[Tokens, dict[str, Any]]:
    """The ordinary passwordless sign-in/up, without a session: the new session's tokens
    and the consume answer."""
    response, sent = h.ask(None, email=email)
    device = body(response)
    assert status(response) == 200 and device["status"] == "OK", device
    assert sent is not None and sent.first_factor is True and sent.to == email
    consumed = h.consume(None, device, sent.code)
    answer = body(consumed)
    assert status(consumed) == 200 and answer["status"] == "OK", answer
    tokens = Tokens.of(consumed)
    assert tokens.access and tokens.refresh, "a new session"
    return tokens, answer


def claim_value(tokens: Tokens) -> object:
    return jwt_payload(tokens.access or "")["2fa-completed"]["v"]


# -- passwordless first, a code second -----------------------------------------------


def test_passwordless_sign_in_then_a_code_as_second_factor(make_app: MakeApp) -> None:
    h = make_app()
    users = h.user_count()
    tokens, answer = sign_in_by_code(h, "pia@example.com")
    assert answer["createdNewRecipeUser"] is True
    assert h.user_count() == users + 1
    user_id, handle = user_id_of(tokens), handle_of(tokens)
    assert answer["user"]["id"] == user_id
    assert claim_value(tokens) is False
    assert h.protected(tokens) == 403

    # The address the session signed in with cannot be its second factor.
    response, sent = h.ask(tokens, email="pia@example.com")
    assert body(response)["status"] == "GENERAL_ERROR" and sent is None
    assert "signed in with a code sent to this e-mail address" in body(response)["message"]
    assert "sign out first to sign in with another account" in body(response)["message"]

    # A code by SMS, with the session: the second factor, in the same session.
    device, sent_sms = h.ask_ok(tokens, phoneNumber=PHONE)
    assert sent_sms.first_factor is False and sent_sms.to == PHONE
    response = h.consume(tokens, device, sent_sms.code)
    answer = body(response)
    assert status(response) == 200 and answer["status"] == "OK", answer
    assert answer["createdNewRecipeUser"] is False and answer["user"]["id"] == user_id
    assert response.headers.get("st-refresh-token") is None, "no new session"
    assert handle_of(tokens) == handle
    assert claim_value(tokens) is True
    assert h.protected(tokens) == 200
    assert h.user_count() == users + 1, "no second user"
    assert h.state(user_id).phone == PHONE

    # Signing in again by code: the same user, the claim false again until the 2FA.
    again, answer = sign_in_by_code(h, "pia@example.com")
    assert answer["createdNewRecipeUser"] is False and user_id_of(again) == user_id
    assert claim_value(again) is False and h.protected(again) == 403


@pytest.mark.parametrize(
    "destination", [{"email": "ada@example.com"}, {"phoneNumber": PHONE}], ids=["email", "sms"]
)
def test_a_second_factor_code_is_no_sign_in_without_its_session(
    make_app: MakeApp, destination: dict[str, str]
) -> None:
    """A code asked for as a second factor works only in the session that asked for it.
    Used without a session it is RESTART_FLOW_ERROR: no user, no session is made (it is
    not a passwordless sign-in for its contact); a resend without a session sends
    nothing; another session of the user gets RESTART_FLOW_ERROR too. Its own session
    can still use it afterwards."""
    h = make_app()
    tokens = h.signed_up("ada@example.com")
    users = h.user_count()
    device, sent = h.ask_ok(tokens, **destination)

    response = h.consume(None, device, sent.code)
    assert status(response) == 200, body(response)
    assert body(response)["status"] == "RESTART_FLOW_ERROR", body(response)
    assert not Tokens.of(response).access and not Tokens.of(response).refresh, "no session"
    assert h.user_count() == users, "no passwordless user was made"
    outbox = len(h.outbox)
    response = h.post("/auth/signinup/code/resend", None, codes_request(device))
    assert body(response)["status"] == "RESTART_FLOW_ERROR", body(response)
    assert len(h.outbox) == outbox, "nothing was sent"
    other = h.signed_in("ada@example.com")
    assert body(h.consume(other, device, sent.code))["status"] == "RESTART_FLOW_ERROR"
    assert h.protected(other) == 403

    assert body(h.consume(tokens, device, sent.code))["status"] == "OK"
    assert h.protected(tokens) == 200
    assert h.user_count() == users


def test_an_invalid_session_is_401_not_a_sign_in(make_app: MakeApp) -> None:
    h = make_app()
    tokens = h.signed_up("ada@example.com")
    users = h.user_count()
    forged = Tokens((tokens.access or "")[:-4] + "AAAA", None)
    response, sent = h.ask(forged, email="pia@example.com")
    assert status(response) == 401 and sent is None
    assert h.user_count() == users


# -- the session is used only when the request asks for it ---------------------------


USE_SESSION = "shouldTryLinkingWithSessionUser"
NOT_ASKED: list[dict[str, Any]] = [{}, {USE_SESSION: False}]
"""What a sign-in form sends: no flag (the SDK reads it as false), or false."""


@dataclass
class Browser:
    """A frontend on the passwordless endpoints, keeping its session as SuperTokens'
    frontends do: cookies (``cookie``) or the tokens of the last answer that carried
    them (``header``); a sign-in's new session replaces the one before."""

    h: Harness
    mode: str
    tokens: Tokens | None = None

    def post(self, path: str, payload: dict[str, Any]) -> Any:
        if self.mode == "cookie":
            return self.h.client.post(path, json=payload, headers={"st-auth-mode": "cookie"})
        headers = self.tokens.auth() if self.tokens is not None else dict(HEADER_MODE)
        response = self.h.client.post(path, json=payload, headers=headers)
        new = Tokens.of(response)
        if new.refresh:  # a new session
            self.tokens = new
        elif new.access and self.tokens is not None:
            self.tokens.access = new.access
        return response

    def access_token(self) -> str:
        if self.mode == "header":
            assert self.tokens is not None and self.tokens.access
            return self.tokens.access
        client = self.h.client
        if self.h.framework == "flask":
            cookie = client.get_cookie("sAccessToken")
            assert cookie is not None, "no session cookie"
            return str(cookie.value)
        value = client.cookies.get("sAccessToken")
        assert value, "no session cookie"
        return str(value)

    def user_id(self) -> str:
        return str(jwt_payload(self.access_token())["sub"])

    def claim(self) -> object:
        return jwt_payload(self.access_token())["2fa-completed"]["v"]

    def protected(self) -> int:
        if self.mode == "cookie":
            return status(self.h.client.get("/protected"))
        assert self.tokens is not None
        return status(self.h.client.get("/protected", headers=self.tokens.auth()))

    def ask(self, **payload: Any) -> tuple[dict[str, Any], Sent | None]:
        before = len(self.h.outbox)
        response = self.post("/auth/signinup/code", payload)
        assert status(response) == 200, body(response)
        return body(response), self.h.outbox[-1] if len(self.h.outbox) > before else None

    def consume(self, device: dict[str, Any], code: str, **extra: Any) -> Any:
        return self.post(
            "/auth/signinup/code/consume",
            {
                "preAuthSessionId": device["preAuthSessionId"],
                "deviceId": device["deviceId"],
                "userInputCode": code,
                **extra,
            },
        )

    def sign_in_by_code(self, email: str, **flag: Any) -> dict[str, Any]:
        """The ordinary sign-in/up (the sign-in form: no session used); its answer."""
        device, sent = self.ask(email=email, **flag)
        assert device["status"] == "OK", device
        assert sent is not None and sent.first_factor is True and sent.to == email
        answer = body(self.consume(device, sent.code, **flag))
        assert answer["status"] == "OK", answer
        return dict(answer)


MODES = pytest.mark.parametrize("mode", ["header", "cookie"])


@MODES
@pytest.mark.parametrize("flag", NOT_ASKED, ids=["absent", "false"])
def test_with_2fa_pending_a_sign_in_request_signs_in_to_another_account(
    make_app: MakeApp, mode: str, flag: dict[str, Any]
) -> None:
    """A user whose 2FA is pending for account A can sign in to account B: a request that
    does not ask to use the session (the sign-in form's) is the SDK's ordinary sign-in,
    whatever session the request carries; B's new session starts with 2FA pending too."""
    h = make_app()
    browser = Browser(h, mode)
    a = browser.sign_in_by_code("ann@example.com")["user"]["id"]
    assert browser.user_id() == a and browser.claim() is False
    assert browser.protected() == 403
    a_tokens = browser.tokens

    b = browser.sign_in_by_code("bob@example.com", **flag)
    assert b["createdNewRecipeUser"] is True and b["user"]["id"] != a
    assert browser.user_id() == b["user"]["id"], "the session is now B's"
    assert browser.claim() is False and browser.protected() == 403, "B's 2FA is pending"
    if a_tokens is not None:  # header mode: A's session is untouched, still pending
        assert h.protected(a_tokens) == 403

    # B completes 2FA in B's own session, by SMS (B signed in with the e-mail address).
    device, sent = browser.ask(phoneNumber=PHONE, **{USE_SESSION: True})
    assert device["status"] == "OK" and sent is not None and sent.first_factor is False
    answer = body(browser.consume(device, sent.code, **{USE_SESSION: True}))
    assert answer["status"] == "OK" and answer["user"]["id"] == b["user"]["id"], answer
    assert browser.claim() is True and browser.protected() == 200
    assert h.state(a).phone is None, "nothing of A's changed"


@MODES
@pytest.mark.parametrize("flag", NOT_ASKED, ids=["absent", "false"])
def test_a_request_that_does_not_ask_for_the_session_never_completes_it(
    make_app: MakeApp, mode: str, flag: dict[str, Any]
) -> None:
    """Security: only ``shouldTryLinkingWithSessionUser: true`` makes a second factor.

    With a password user's session (2FA pending), a code asked for the account's own
    address without the flag is a *sign-in* code (worded as one), and using it signs in
    its passwordless user: a new session of another user, 2FA pending; the password
    session is never completed. A second-factor code used or resent without the flag
    is RESTART_FLOW_ERROR: nothing is sent, nothing completes, no session is made. Used
    with the flag, in its own session, it still works."""
    h = make_app()
    browser = Browser(h, mode)
    if mode == "header":
        browser.tokens = h.signed_up("ada@example.com")
    else:
        signed_up = sign_up(h.client, "ada@example.com", **{"st-auth-mode": "cookie"})
        assert body(signed_up)["status"] == "OK"
    ada = browser.user_id()
    ada_tokens = browser.tokens
    assert browser.protected() == 403

    # A second-factor code (asked with the flag), then used and resent without it.
    device, sent = browser.ask(phoneNumber=PHONE, **{USE_SESSION: True})
    assert device["status"] == "OK" and sent is not None and sent.first_factor is False
    outbox = len(h.outbox)
    resent = browser.post("/auth/signinup/code/resend", {**codes_request(device), **flag})
    assert body(resent)["status"] == "RESTART_FLOW_ERROR", body(resent)
    assert len(h.outbox) == outbox, "nothing was sent"
    users = h.user_count()
    refused = browser.consume(device, sent.code, **flag)
    assert body(refused)["status"] == "RESTART_FLOW_ERROR", body(refused)
    assert not Tokens.of(refused).refresh, "no session was made"
    assert h.user_count() == users
    assert browser.user_id() == ada and browser.claim() is False
    assert browser.protected() == 403

    # A code for the same address without the flag: a sign-in code, for another user.
    signed_in = browser.sign_in_by_code("ada@example.com", **flag)
    assert signed_in["user"]["id"] != ada, "a passwordless user of its own (no linking)"
    assert browser.user_id() == signed_in["user"]["id"] and browser.claim() is False
    assert browser.protected() == 403
    if ada_tokens is not None:
        assert h.protected(ada_tokens) == 403, "the password session is still pending"
    assert h.state(ada).email is None and h.state(ada).phone is None, "nothing pinned"

    if ada_tokens is not None:  # with the flag, in its own session, the code still works
        browser.tokens = ada_tokens
        answer = body(browser.consume(device, sent.code, **{USE_SESSION: True}))
        assert answer["status"] == "OK" and answer["user"]["id"] == ada, answer
        assert browser.protected() == 200


@MODES
def test_asking_for_the_session_needs_a_valid_one(make_app: MakeApp, mode: str) -> None:
    """``true`` without a session (or with an invalid one) is a 401, never a sign-in; a
    flag that is not a boolean is a 400. Nothing is sent, no user is made."""
    h = make_app()
    users = h.user_count()
    for payload in (
        {"email": "new@example.com", USE_SESSION: True},
        {"phoneNumber": PHONE, USE_SESSION: True},
    ):
        response = h.client.post(
            "/auth/signinup/code", json=payload, headers={"st-auth-mode": mode}
        )
        assert status(response) == 401, body(response)
    tokens = h.signed_up("ada@example.com")
    forged = Tokens((tokens.access or "")[:-4] + "AAAA", None)
    response, sent = h.ask(forged, email="new@example.com", **{USE_SESSION: True})
    assert status(response) == 401 and sent is None
    for value in ("true", 1, [], {}):
        response, sent = h.ask(tokens, email="ada@example.com", **{USE_SESSION: value})
        assert status(response) == 400 and sent is None, (value, body(response))
        assert USE_SESSION in body(response)["message"]
    assert h.user_count() == users + 1 and h.outbox == []


def test_the_flag_changes_nothing_where_passwordless_is_only_a_second_factor(
    make_app: MakeApp,
) -> None:
    """Without passwordless among the first factors every request is a second factor:
    a session is needed (401 without one, whatever the flag says) and is used."""

    def second_factor_only(config: TwoFactorConfig, outbox: list[Sent]) -> list[RecipeInit]:
        return build_recipe_list(
            config=config,
            first_factors=("emailpassword",),
            **deliveries(outbox),
            **reset_delivery(),
        )

    h = make_app(second_factor_only)
    h.uses_session = False
    for flag in (False, True):
        response, sent = h.ask(None, email="new@example.com", **{USE_SESSION: flag})
        assert status(response) == 401 and sent is None
    tokens = h.signed_up("ada@example.com")
    device, sent = h.ask_ok(tokens, email="ada@example.com", **{USE_SESSION: False})
    assert sent.first_factor is False
    assert body(h.consume(tokens, device, sent.code))["status"] == "OK"
    assert h.protected(tokens) == 200


def test_password_users_still_use_e_mailed_codes_in_a_passwordless_first_app(
    make_app: MakeApp,
) -> None:
    h = make_app()
    tokens = h.signed_up("ada@example.com")
    users = h.user_count()
    assert h.protected(tokens) == 403
    h.complete_with_email(tokens, "ada@example.com")
    assert h.protected(tokens) == 200
    assert h.user_count() == users, "no passwordless user was made for the second factor"


def test_without_a_session_malformed_bodies_are_400_in_a_passwordless_first_app(
    make_app: MakeApp,
) -> None:
    h = make_app()
    users = h.user_count()
    for payload in ({"email": 5}, [1], "email", {"phoneNumber": 14155550100}):
        response = h.post("/auth/signinup/code", None, payload)
        assert status(response) == 400, (payload, body(response))
    device = {"preAuthSessionId": "not/base64url!", "deviceId": "AAAA"}
    assert status(h.post("/auth/signinup/code/consume", None, [device])) == 400
    assert h.user_count() == users and h.outbox == []


def test_a_passwordless_sign_in_passes_when_2fa_is_not_required(make_app: MakeApp) -> None:
    h = make_app(required=False)
    tokens, _ = sign_in_by_code(h, "noreq@example.com")
    assert claim_value(tokens) is True
    assert h.protected(tokens) == 200


def test_a_second_factor_resend_never_carries_a_link(make_app: MakeApp) -> None:
    """A sign-in flow with magic links: the second factor's codes (and resends) are typed."""
    links: list[EmailTemplateVars] = []

    class Recording(EmailDeliveryInterface[EmailTemplateVars]):
        async def send_email(
            self, template_vars: EmailTemplateVars, user_context: dict[str, Any]
        ) -> None:
            links.append(template_vars)

    def recipes(config: TwoFactorConfig, outbox: list[Sent]) -> list[RecipeInit]:
        return build_recipe_list(
            config=config,
            first_factors=("emailpassword", "passwordless"),
            passwordless_flow_type="USER_INPUT_CODE_AND_MAGIC_LINK",
            email_delivery=EmailDeliveryConfig(service=Recording()),
            sms_delivery=SMSDeliveryConfig(service=CapturedSMS(outbox)),
            **reset_delivery(),
        )

    h = make_app(recipes)
    first = body(h.post("/auth/signinup/code", None, {"email": "link@example.com"}))
    assert first["status"] == "OK" and first["flowType"] == "USER_INPUT_CODE_AND_MAGIC_LINK"
    assert links[-1].url_with_link_code is not None, "sign-in e-mails have the link"

    tokens = h.signed_up("ada@example.com")
    device = body(h.post("/auth/signinup/code", tokens, {"email": "ada@example.com"}))
    assert device["status"] == "OK" and device["flowType"] == "USER_INPUT_CODE"
    assert links[-1].url_with_link_code is None and links[-1].user_input_code
    resent = body(h.post("/auth/signinup/code/resend", tokens, codes_request(device)))
    assert resent["status"] == "OK"
    assert links[-1].is_first_factor is False
    assert links[-1].url_with_link_code is None and links[-1].user_input_code
    answer = body(h.consume(tokens, device, links[-1].user_input_code or ""))
    assert answer["status"] == "OK", answer
    assert h.protected(tokens) == 200


def test_a_magic_link_signs_in_and_development_mode_logs_it(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    def recipes(config: TwoFactorConfig, outbox: list[Sent]) -> list[RecipeInit]:
        return build_recipe_list(
            config=config,
            first_factors=("emailpassword", "passwordless"),
            passwordless_flow_type="MAGIC_LINK",
        )

    h = make_app(recipes, development=True, secret_keys=())
    with caplog.at_level(logging.WARNING, logger="st_twofactor"):
        asked = body(h.post("/auth/signinup/code", None, {"email": "link@example.com"}))
    assert asked["status"] == "OK" and asked["flowType"] == "MAGIC_LINK"
    links = re.findall(r"sign-in link for link@example.com: (\S+)", caplog.text)
    assert len(links) == 1 and "e-mail code for" not in caplog.text
    link_code = links[0].split("#", 1)[1]
    response = h.post(
        "/auth/signinup/code/consume",
        None,
        {"preAuthSessionId": asked["preAuthSessionId"], "linkCode": link_code},
    )
    assert body(response)["status"] == "OK", body(response)
    tokens = Tokens.of(response)
    assert claim_value(tokens) is False and h.protected(tokens) == 403


# -- the app's own passwordless.init ---------------------------------------------------


def own_passwordless(
    first_factor: bool, calls: list[str]
) -> Callable[[TwoFactorConfig, list[Sent]], list[RecipeInit]]:
    """build_recipe_list(add_passwordless=False) and the app's own passwordless.init, whose
    API override wraps the library's."""

    def mine(original: APIInterface) -> APIInterface:
        wrapped = original.create_code_post

        async def create_code_post(*args: Any, **kwargs: Any) -> Any:
            calls.append("create_code_post")
            return await wrapped(*args, **kwargs)

        original.create_code_post = create_code_post  # type: ignore[method-assign]
        return original

    def recipes(config: TwoFactorConfig, outbox: list[Sent]) -> list[RecipeInit]:
        ours = override_passwordless_apis(config, first_factor=first_factor)
        return [
            *build_recipe_list(
                config=config,
                first_factors=("emailpassword",),
                add_passwordless=False,
                **reset_delivery(),
            ),
            passwordless.init(
                contact_config=ContactEmailOnlyConfig(),
                flow_type="USER_INPUT_CODE",
                email_delivery=EmailDeliveryConfig(service=CapturedEmail(outbox)),
                override=PasswordlessOverrideConfig(apis=lambda impl: mine(ours(impl))),
            ),
        ]

    return recipes


def test_the_apps_own_passwordless_init_composes_with_the_override(make_app: MakeApp) -> None:
    calls: list[str] = []
    h = make_app(own_passwordless(True, calls), factors=("totp", "otp-email", "recovery-code"))
    assert [r for r in recipe_ids() if r == "passwordless"] == ["passwordless"]
    tokens, _ = sign_in_by_code(h, "own@example.com")
    assert claim_value(tokens) is False
    password_user = h.signed_up("ada@example.com")
    h.complete_with_email(password_user, "ada@example.com")
    assert h.protected(password_user) == 200
    assert calls == ["create_code_post", "create_code_post"], "the app's override ran"


def test_s10_holds_with_the_apps_own_passwordless_init(make_app: MakeApp) -> None:
    calls: list[str] = []
    h = make_app(own_passwordless(False, calls), factors=("totp", "otp-email", "recovery-code"))
    users = h.user_count()
    response, sent = h.ask(None, email="own@example.com")
    assert status(response) == 401 and sent is None
    assert h.user_count() == users


# -- first factors --------------------------------------------------------------------


def recipe_ids() -> list[str]:
    return [module.get_recipe_id() for module in Supertokens.get_instance().recipe_modules]


def test_first_factors_without_thirdparty_mount_no_thirdparty_routes(make_app: MakeApp) -> None:
    def email_password_only(config: TwoFactorConfig, outbox: list[Sent]) -> list[RecipeInit]:
        return build_recipe_list(
            config=config,
            first_factors=("emailpassword",),
            **deliveries(outbox),
            **reset_delivery(),
        )

    h = make_app(email_password_only)
    assert "thirdparty" not in recipe_ids()
    assert status(h.get("/auth/authorisationurl?thirdPartyId=google", None)) == 404
    assert status(h.post("/auth/signinup", None, {"thirdPartyId": "google"})) == 404
    tokens = h.signed_up("ada@example.com")  # emailpassword is there, and its body checks
    assert h.protected(tokens) == 403
    assert status(h.post("/auth/signin", None, [1])) == 400

    # S10 holds: passwordless is not a first factor here.
    users = h.user_count()
    response, sent = h.ask(None, email="new@example.com")
    assert status(response) == 401 and sent is None
    assert status(h.consume(None, {"preAuthSessionId": "x", "deviceId": "AAAA"}, "1")) == 401
    assert h.user_count() == users


def test_the_default_first_factors_are_emailpassword_and_thirdparty(make_app: MakeApp) -> None:
    def default(config: TwoFactorConfig, outbox: list[Sent]) -> list[RecipeInit]:
        return build_recipe_list(config=config, **deliveries(outbox), **reset_delivery())

    h = make_app(default)
    assert recipe_ids()[:3] == ["emailpassword", "thirdparty", "passwordless"]
    assert status(h.get("/auth/authorisationurl?thirdPartyId=google", None)) != 404
    response, sent = h.ask(None, email="new@example.com")
    assert status(response) == 401 and sent is None


def test_thirdparty_and_passwordless_without_emailpassword(make_app: MakeApp) -> None:
    def recipes(config: TwoFactorConfig, outbox: list[Sent]) -> list[RecipeInit]:
        return build_recipe_list(
            config=config, first_factors=("thirdparty", "passwordless"), **deliveries(outbox)
        )

    h = make_app(recipes)
    assert recipe_ids()[:2] == ["thirdparty", "passwordless"]
    assert status(h.post("/auth/signup", None, {"formFields": []})) == 404
    # The third-party body checks are installed without emailpassword too.
    assert status(h.post("/auth/signinup", None, [1])) == 400
    tokens, _ = sign_in_by_code(h, "tp@example.com")
    assert h.protected(tokens) == 403


DEV = TwoFactorConfig(development=True)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"first_factors": "emailpassword"}, "first_factors must be a list or tuple"),
        ({"first_factors": ()}, "first_factors must be distinct names"),
        ({"first_factors": ("emailpassword", "webauthn")}, "first_factors must be distinct"),
        ({"first_factors": ("thirdparty", "thirdparty")}, "first_factors must be distinct"),
        ({"first_factors": ("passwordless",)}, None),
        ({"first_factors": ["thirdparty", "passwordless"], "providers": []}, None),
        ({"passwordless_flow_type": "MAGIC_LINK"}, "add 'passwordless' to first_factors"),
        ({"passwordless_flow_type": "LINK"}, "passwordless_flow_type must be one of"),
        (
            {"add_passwordless": False, "passwordless_contact_config": ContactEmailOnlyConfig()},
            "configure passwordless in your own passwordless.init",
        ),
        ({"add_passwordless": "no"}, "add_passwordless must be True or False"),
        (
            {
                "first_factors": ("passwordless",),
                "passwordless_contact_config": ContactPhoneOnlyConfig(),
            },
            "contact method 'PHONE' but the enabled factors need 'EMAIL'",
        ),
    ],
)
def test_invalid_first_factor_options(options: dict[str, Any], message: str | None) -> None:
    if message is None:  # a valid combination
        assert build_recipe_list(config=DEV, **options)
        return
    with pytest.raises(ConfigurationError, match=message):
        build_recipe_list(config=DEV, **options)


def test_options_of_a_left_out_first_factor_are_refused(fake_provider: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"providers given but 'thirdparty' is not"):
        build_recipe_list(
            config=DEV, first_factors=("emailpassword",), providers=[fake_provider.input]
        )
    with pytest.raises(ConfigurationError, match=r"sign_up_feature given but 'emailpassword'"):
        build_recipe_list(
            config=DEV,
            first_factors=("thirdparty",),
            sign_up_feature=InputSignUpFeature(form_fields=[]),
        )
