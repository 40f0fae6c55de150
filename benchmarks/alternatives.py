"""The three ways to add 2FA to a supertokens-python app, each driven over HTTP.

- :class:`TwoFactorLibrary`: st-twofactor (``build_recipe_list`` + the 2FA plugin), on the
  free core.
- :class:`SdkMfa`: SuperTokens' own ``multifactorauth`` + ``totp`` recipes (with
  ``passwordless`` for e-mail codes and ``accountlinking``, which that factor needs),
  through the SDK's own API routes, on a core with the licence flag on.
- :class:`LegacyOverrides`: the legacy guide's idea written plainly in
  :mod:`benchmarks.legacy`, on the free core.

Each alternative runs the same user journeys; a flow it does not offer is listed in
:attr:`Alternative.unsupported` with the reason, and is not run.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
import pyotp

from ._common import (
    BASE,
    SECRET_KEY,
    Mailbox,
    Setup,
    Tokens,
    app_id_of,
    asgi_client,
    email_password,
    fastapi_app,
    init_sdk,
    ok,
    post,
)

FLOWS: tuple[tuple[str, str], ...] = (
    ("sign-up", "Sign-up (e-mail + password)"),
    ("sign-in", "Sign-in (e-mail + password)"),
    ("status", "2FA status after sign-in"),
    ("totp-enrol", "TOTP enrolment (new device + first code)"),
    ("totp-verify", "TOTP code after sign-in"),
    ("email-enrol", "E-mail code, first use"),
    ("email-verify", "E-mail code after sign-in"),
    ("recovery-code", "Recovery code after sign-in"),
    ("webauthn-enrol", "Security key enrolment (options + answer)"),
    ("webauthn-options", "Security key after sign-in: options"),
    ("webauthn-verify", "Security key after sign-in: the answer"),
)
"""Flow id and title, in the order the journeys run them."""

FACTORS = ("totp", "otp-email", "recovery-code", "webauthn")
"""st-twofactor's factors in the journeys."""
WEBSITE = "http://localhost"
"""The website origin of the benchmark apps (``app_info``): WebAuthn's RP ID is localhost."""


@dataclass
class User:
    """One benchmark user and the secrets its enrolments gave it."""

    email: str
    totp_secret: str | None = None
    totp_device: str | None = None
    recovery_codes: list[str] = field(default_factory=list)
    totp_steps_used: int = 0
    security_key: Any = None
    """A software authenticator (:mod:`st_twofactor.testing.webauthn`) once enrolled."""
    key_options: dict[str, Any] | None = None
    """The options of the security-key ceremony in progress."""

    def next_totp_code(self) -> str:
        """A code of a time step not used yet (within the +/-1 step every verifier allows)."""
        assert self.totp_secret is not None
        step = self.totp_steps_used
        self.totp_steps_used += 1
        return pyotp.TOTP(self.totp_secret).at(time.time() + 30 * step)


class Alternative:
    """One way of doing 2FA: its SDK setup and how each flow is driven over HTTP."""

    key: ClassVar[str]
    title: ClassVar[str]
    licensed: ClassVar[bool] = False
    unsupported: ClassVar[dict[str, str]] = {}
    code_request_fields: ClassVar[dict[str, Any]] = {}
    """Extra fields the frontend sends when it asks for, and enters, an e-mail code."""

    def __init__(self, core: Any, connection_uri: str) -> None:
        self.setup: Setup = BASE
        """How the SDK reaches the core (HTTP or HTTPS, the speed-up on or off)."""
        self.core = core
        self.connection_uri = connection_uri
        self.app_id = app_id_of(connection_uri)
        self.mailbox = Mailbox()
        self.client: httpx.AsyncClient | None = None

    # -- setup --

    def recipe_list(self) -> list[Any]:
        raise NotImplementedError

    def plugins(self) -> list[Any]:
        return []

    @asynccontextmanager
    async def started(self) -> AsyncIterator[httpx.AsyncClient]:
        """Init the SDK for this alternative (it is process-wide) and serve its app."""
        init_sdk(self.connection_uri, self.recipe_list(), plugins=self.plugins())
        app = fastapi_app()
        self.add_protected_route(app)
        async with asgi_client(app) as client:
            self.client = client
            try:
                yield client
            finally:
                self.client = None

    def add_protected_route(self, app: Any) -> None:
        from fastapi import Depends
        from supertokens_python.recipe.session import SessionContainer
        from supertokens_python.recipe.session.framework.fastapi import verify_session

        @app.get("/api/protected")
        async def protected(
            session: SessionContainer = Depends(verify_session()),
        ) -> dict[str, str]:
            return {"user": session.get_user_id()}

    async def warm_up(self) -> None:
        """Fill the SDK's caches (the core's API version, its JWKS) as a running app has them."""
        tokens = await self.sign_up(User(f"warm-up-{time.time_ns()}@example.com"))
        await self.is_complete(tokens)

    async def is_complete(self, tokens: Tokens) -> bool:
        """Whether a ``verify_session()`` route lets this session through (2FA done)."""
        assert self.client is not None
        response = await self.client.get("/api/protected", headers=tokens.headers())
        return response.status_code == 200

    # -- flows (override what the alternative offers) --

    async def sign_up(self, user: User) -> Tokens:
        assert self.client is not None
        return await email_password(self.client, "/auth/signup", user.email)

    async def sign_in(self, user: User) -> Tokens:
        assert self.client is not None
        return await email_password(self.client, "/auth/signin", user.email)

    async def status(self, tokens: Tokens) -> None:
        raise NotImplementedError

    async def totp_enrol(self, user: User, tokens: Tokens) -> None:
        raise NotImplementedError

    async def totp_verify(self, user: User, tokens: Tokens) -> None:
        raise NotImplementedError

    async def recovery_code(self, user: User, tokens: Tokens) -> None:
        raise NotImplementedError

    async def webauthn_enrol(self, user: User, tokens: Tokens) -> None:
        raise NotImplementedError

    async def webauthn_options(self, user: User, tokens: Tokens) -> None:
        raise NotImplementedError

    async def webauthn_verify(self, user: User, tokens: Tokens) -> None:
        raise NotImplementedError

    async def email_code(self, user: User, tokens: Tokens) -> None:
        """Ask for a code by e-mail, then enter it: the passwordless recipe's own routes."""
        assert self.client is not None
        extra = self.code_request_fields
        created = await post(
            self.client, "/auth/signinup/code", tokens, {"email": user.email, **extra}
        )
        await post(
            self.client,
            "/auth/signinup/code/consume",
            tokens,
            {
                "preAuthSessionId": created["preAuthSessionId"],
                "deviceId": created["deviceId"],
                "userInputCode": self.mailbox.take(user.email),
                **extra,
            },
        )


class TwoFactorLibrary(Alternative):
    """st-twofactor: ``build_recipe_list()`` and ``twofactor_plugin()``, default store."""

    key = "st-twofactor"
    title = "st-twofactor"

    def __init__(self, core: Any, connection_uri: str) -> None:
        super().__init__(core, connection_uri)
        from st_twofactor.config import TwoFactorConfig
        from st_twofactor.kernel.send_quota import SendQuota

        self.config = TwoFactorConfig(
            secret_keys=[SECRET_KEY],
            factors=FACTORS,
            on_event=lambda event: None,
            # The journeys ask one user for codes again within seconds; the quota check
            # itself costs no core call, so the counts and times are those of the default.
            send_quota=SendQuota(
                cooldown=0, per_10_minutes=1000, per_hour=1000, per_day=1000, unpinned_per_day=1000
            ),
        )

    def recipe_list(self) -> list[Any]:
        from st_twofactor import build_recipe_list

        return build_recipe_list(
            config=self.config,
            email_delivery=self.mailbox.delivery(),
            emailpassword_email_delivery=self.mailbox.delivery(),  # no reset e-mail is sent
        )

    def plugins(self) -> list[Any]:
        from st_twofactor.http.routes import twofactor_plugin

        return [twofactor_plugin(self.config)]

    async def status(self, tokens: Tokens) -> None:
        assert self.client is not None
        response = await self.client.get("/auth/2fa", headers=tokens.headers())
        ok(response)

    async def totp_enrol(self, user: User, tokens: Tokens) -> None:
        assert self.client is not None
        device = await post(self.client, "/auth/2fa/totp/device", tokens)
        user.totp_secret, user.totp_device = device["secret"], device["deviceName"]
        verified = await post(
            self.client,
            "/auth/2fa/totp/device/verify",
            tokens,
            {"deviceName": user.totp_device, "code": user.next_totp_code()},
        )
        user.recovery_codes = list(verified.get("recoveryCodes", []))

    async def totp_verify(self, user: User, tokens: Tokens) -> None:
        assert self.client is not None
        await post(self.client, "/auth/2fa/totp/verify", tokens, {"code": user.next_totp_code()})

    async def recovery_code(self, user: User, tokens: Tokens) -> None:
        assert self.client is not None
        code = user.recovery_codes.pop()
        await post(self.client, "/auth/2fa/recovery-code/verify", tokens, {"code": code})

    async def webauthn_enrol(self, user: User, tokens: Tokens) -> None:
        """What the browser sends: options, then the authenticator's answer (a software
        authenticator stands in for the key; its signing is part of the time)."""
        from st_twofactor.testing.webauthn import SoftwareAuthenticator

        assert self.client is not None
        key = SoftwareAuthenticator()
        response = await self.client.get(
            "/auth/2fa/webauthn/register/options", headers=tokens.headers()
        )
        tokens.update(response)
        credential = key.register(ok(response)["options"], origin=WEBSITE)
        await post(
            self.client, "/auth/2fa/webauthn/register/verify", tokens, {"credential": credential}
        )
        user.security_key = key

    async def webauthn_options(self, user: User, tokens: Tokens) -> None:
        assert self.client is not None
        response = await self.client.get(
            "/auth/2fa/webauthn/authenticate/options", headers=tokens.headers()
        )
        tokens.update(response)
        user.key_options = ok(response)["options"]

    async def webauthn_verify(self, user: User, tokens: Tokens) -> None:
        assert self.client is not None and user.key_options is not None
        credential = user.security_key.assertion(user.key_options, origin=WEBSITE)
        user.key_options = None
        await post(
            self.client,
            "/auth/2fa/webauthn/authenticate/verify",
            tokens,
            {"credential": credential},
        )


class SdkMfa(Alternative):
    """SuperTokens' ``multifactorauth`` + ``totp`` (+ ``passwordless``, ``accountlinking``).

    Configured as SuperTokens' docs set up "every user does a second factor, TOTP or an
    e-mail code": first factor ``emailpassword``; the tenant's ``requiredSecondaryFactors``
    are ``["totp", "otp-email"]`` (one of them); automatic account linking without
    verification, which the ``otp-email`` factor needs to attach the passwordless login
    method to the user. The requests carry ``shouldTryLinkingWithSessionUser: true`` as
    SuperTokens' frontend SDKs send it for a second factor.
    """

    key = "sdk-mfa"
    title = "SuperTokens MFA + TOTP (paid)"
    licensed = True
    code_request_fields: ClassVar[dict[str, Any]] = {"shouldTryLinkingWithSessionUser": True}
    unsupported: ClassVar[dict[str, str]] = {
        "recovery-code": "SuperTokens' MFA recipes have no recovery codes",
        **dict.fromkeys(
            ("webauthn-enrol", "webauthn-options", "webauthn-verify"),
            "not measured: the development core does not implement the core's WebAuthn "
            "API, which the SDK's webauthn recipe calls",
        ),
    }

    def __init__(self, core: Any, connection_uri: str) -> None:
        super().__init__(core, connection_uri)
        response = httpx.put(
            connection_uri + "/recipe/multitenancy/tenant/v2",
            json={"tenantId": "public", "requiredSecondaryFactors": ["totp", "otp-email"]},
        )
        response.raise_for_status()

    def recipe_list(self) -> list[Any]:
        from supertokens_python.recipe import (
            accountlinking,
            emailpassword,
            multifactorauth,
            passwordless,
            session,
            totp,
        )
        from supertokens_python.recipe.accountlinking import ShouldAutomaticallyLink
        from supertokens_python.recipe.passwordless import ContactEmailOnlyConfig

        async def link_automatically(*args: Any) -> ShouldAutomaticallyLink:
            return ShouldAutomaticallyLink(should_require_verification=False)

        return [
            emailpassword.init(),
            passwordless.init(
                contact_config=ContactEmailOnlyConfig(),
                flow_type="USER_INPUT_CODE",
                email_delivery=self.mailbox.delivery(),
            ),
            accountlinking.init(should_do_automatic_account_linking=link_automatically),
            multifactorauth.init(first_factors=["emailpassword"]),
            totp.init(),
            session.init(),
        ]

    async def status(self, tokens: Tokens) -> None:
        assert self.client is not None
        response = await self.client.put("/auth/mfa/info", headers=tokens.headers())
        tokens.update(response)
        ok(response)

    async def totp_enrol(self, user: User, tokens: Tokens) -> None:
        assert self.client is not None
        device = await post(self.client, "/auth/totp/device", tokens)
        user.totp_secret, user.totp_device = device["secret"], device["deviceName"]
        await post(
            self.client,
            "/auth/totp/device/verify",
            tokens,
            {"deviceName": user.totp_device, "totp": user.next_totp_code()},
        )

    async def totp_verify(self, user: User, tokens: Tokens) -> None:
        assert self.client is not None
        await post(self.client, "/auth/totp/verify", tokens, {"totp": user.next_totp_code()})


class LegacyOverrides(Alternative):
    """The legacy guide's overrides (see :mod:`benchmarks.legacy`): e-mail codes only."""

    key = "legacy"
    title = "Legacy guide overrides"
    unsupported: ClassVar[dict[str, str]] = {
        "status": "the legacy guide has no 2FA status route (the frontend reads the claim)",
        "totp-enrol": "the legacy guide has no TOTP",
        "totp-verify": "the legacy guide has no TOTP",
        "recovery-code": "the legacy guide has no recovery codes",
        **dict.fromkeys(
            ("webauthn-enrol", "webauthn-options", "webauthn-verify"),
            "the legacy guide has no security keys",
        ),
    }

    def recipe_list(self) -> list[Any]:
        from .legacy import legacy_recipe_list

        return legacy_recipe_list(self.mailbox.delivery())


ALTERNATIVES: tuple[type[Alternative], ...] = (TwoFactorLibrary, SdkMfa, LegacyOverrides)
