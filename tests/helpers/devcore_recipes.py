"""Shared setup for the development core's recipe tests: the SDK with the user-facing recipes.

Nothing here touches the network: e-mails are captured, and the third-party
provider ``fake`` answers from :data:`FAKE_PROVIDER_USERS` (keyed by the
authorisation code the frontend sends).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from supertokens_python.framework.fastapi import get_middleware
from supertokens_python.ingredients.emaildelivery.types import (
    EmailDeliveryConfig,
    EmailDeliveryInterface,
)
from supertokens_python.recipe import (
    emailpassword,
    emailverification,
    session,
    thirdparty,
    usermetadata,
    userroles,
)
from supertokens_python.recipe.thirdparty.provider import (
    Provider,
    ProviderClientConfig,
    ProviderConfig,
    ProviderInput,
    RedirectUriInfo,
)
from supertokens_python.recipe.thirdparty.types import UserInfo, UserInfoEmail

from st_twofactor.devcore import DevCore

from .sdk import sdk_init

FAKE_PROVIDER = "fake"

# authorisation code -> (provider user id, e-mail, e-mail verified by the provider)
FAKE_PROVIDER_USERS: dict[str, tuple[str, str, bool]] = {}


@dataclass
class CapturedEmails(EmailDeliveryInterface[Any]):
    """An e-mail delivery service that keeps what it would send."""

    sent: list[Any] = field(default_factory=list)

    async def send_email(self, template_vars: Any, user_context: dict[str, Any]) -> None:
        self.sent.append(template_vars)


def _fake_provider(original: Provider) -> Provider:
    async def exchange_auth_code_for_oauth_tokens(
        redirect_uri_info: RedirectUriInfo, user_context: dict[str, Any]
    ) -> dict[str, Any]:
        return {"access_token": redirect_uri_info.redirect_uri_query_params["code"]}

    async def get_user_info(oauth_tokens: dict[str, Any], user_context: dict[str, Any]) -> UserInfo:
        user_id, email, verified = FAKE_PROVIDER_USERS[oauth_tokens["access_token"]]
        return UserInfo(third_party_user_id=user_id, email=UserInfoEmail(email, verified))

    original.exchange_auth_code_for_oauth_tokens = exchange_auth_code_for_oauth_tokens  # type: ignore[method-assign]
    original.get_user_info = get_user_info  # type: ignore[method-assign]
    return original


def init_sdk(connection_uri: str, emails: CapturedEmails) -> None:
    """Initialise the SDK against ``connection_uri`` with the user-facing recipes."""
    delivery = EmailDeliveryConfig(service=emails)
    provider = ProviderInput(
        config=ProviderConfig(
            third_party_id=FAKE_PROVIDER,
            clients=[ProviderClientConfig(client_id="client", client_secret="secret")],
            authorization_endpoint="https://provider.invalid/authorize",
            token_endpoint="https://provider.invalid/token",
        ),
        override=_fake_provider,
    )
    sdk_init(
        connection_uri,
        [
            session.init(),
            emailpassword.init(email_delivery=delivery),
            thirdparty.init(
                sign_in_and_up_feature=thirdparty.SignInAndUpFeature(providers=[provider])
            ),
            emailverification.init(mode="OPTIONAL", email_delivery=delivery),
            usermetadata.init(),
            userroles.init(),
        ],
        app_name="devcore-tests",
        api_domain="http://api.example.test",
        website_domain="http://app.example.test",
    )


def make_app() -> FastAPI:
    """A FastAPI app with the SDK's middleware (its routes live under ``/auth``)."""
    app = FastAPI()
    app.add_middleware(get_middleware())
    return app


# The core reads bodies declared JSON only: tests that send raw bytes say so.
JSON_TYPE = {"Content-Type": "application/json"}


def app_id_of(connection_uri: str) -> str:
    """The app id in a connection URI such as ``http://127.0.0.1:1234/appid-xyz``."""
    return urlsplit(connection_uri).path.rsplit("/appid-", 1)[1]


def rows(core: DevCore, sql: str, *args: Any) -> list[sqlite3.Row]:
    """Rows of the core's database, read directly (to check what is stored)."""
    with core.db.transaction() as conn:
        return list(conn.execute(sql, args).fetchall())
