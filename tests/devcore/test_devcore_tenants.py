"""Per-tenant provider configs and user-tenant association on the development core, via the SDK.

The multi-tenancy calls are licensed features of the real core (except a provider
config of the ``public`` tenant), so most tests use a core started with
``licensed=True``; the unlicensed answers are tested on their own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from supertokens_python.recipe import emailpassword, session, thirdparty
from supertokens_python.recipe.emailpassword.asyncio import sign_in, sign_up
from supertokens_python.recipe.emailpassword.interfaces import (
    SignInOkResult,
    SignUpOkResult,
    WrongCredentialsError,
)
from supertokens_python.recipe.multitenancy.asyncio import (
    associate_user_to_tenant,
    create_or_update_tenant,
    create_or_update_third_party_config,
    delete_third_party_config,
    disassociate_user_from_tenant,
    get_tenant,
)
from supertokens_python.recipe.multitenancy.interfaces import (
    AssociateUserToTenantEmailAlreadyExistsError,
    AssociateUserToTenantOkResult,
    AssociateUserToTenantUnknownUserIdError,
    TenantConfigCreateOrUpdate,
)
from supertokens_python.recipe.session.asyncio import (
    create_new_session_without_request_response,
    get_all_session_handles_for_user,
)
from supertokens_python.recipe.thirdparty.asyncio import get_provider
from supertokens_python.recipe.thirdparty.provider import ProviderClientConfig, ProviderConfig
from supertokens_python.types import RecipeUserId

from st_twofactor.devcore import DevCore
from st_twofactor.testing import reset_supertokens

from ..helpers.sdk import sdk_init

PASSWORD = "tenant-pass-1"
NOT_LICENSED = (
    "Cannot use feature: multi_tenancy, because the license key is missing, or doesn't have"
    " this feature enabled.\n"
)


@pytest.fixture(scope="module")
def licensed_core() -> Iterator[DevCore]:
    with DevCore(licensed=True) as core:
        yield core


def init_sdk(connection_uri: str) -> None:
    sdk_init(
        connection_uri,
        [session.init(), emailpassword.init(), thirdparty.init()],
        app_name="devcore tenants",
    )


@pytest.fixture
def licensed(licensed_core: DevCore) -> Iterator[str]:
    uri = licensed_core.create_app()
    init_sdk(uri)
    yield uri
    reset_supertokens()


@pytest.fixture
def unlicensed(devcore_app: str) -> Iterator[str]:
    init_sdk(devcore_app)
    yield devcore_app
    reset_supertokens()


def sso(client_id: str = "tenant-client") -> ProviderConfig:
    return ProviderConfig(
        third_party_id="custom-sso",
        name="Company SSO",
        clients=[ProviderClientConfig(client_id=client_id, client_secret="secret")],
        authorization_endpoint="https://sso.example.test/authorize",
        token_endpoint="https://sso.example.test/token",
        user_info_endpoint="https://sso.example.test/userinfo",
    )


# -- third-party provider configs per tenant --


async def test_a_tenant_provider_config_reaches_get_provider(licensed: str) -> None:
    await create_or_update_tenant("t1", TenantConfigCreateOrUpdate())
    created = await create_or_update_third_party_config("t1", sso())
    assert created.created_new is True
    replaced = await create_or_update_third_party_config("t1", sso("second-client"))
    assert replaced.created_new is False

    tenant = await get_tenant("t1")
    assert tenant is not None
    assert [p.third_party_id for p in tenant.third_party_providers] == ["custom-sso"]
    provider = await get_provider("t1", "custom-sso")
    assert provider is not None
    assert provider.config.client_id == "second-client"
    assert provider.config.name == "Company SSO"
    assert provider.config.token_endpoint == "https://sso.example.test/token"
    assert await get_provider("public", "custom-sso") is None  # only t1 has it

    # A built-in provider configured on the core alone gets its defaults from the SDK
    # (GitHub: fixed endpoints, so nothing is fetched from the network).
    github = ProviderConfig(
        third_party_id="github",
        clients=[ProviderClientConfig(client_id="gh-id", client_secret="s")],
    )
    await create_or_update_third_party_config("t1", github)
    built_in = await get_provider("t1", "github")
    assert built_in is not None and built_in.config.client_id == "gh-id"
    assert built_in.config.authorization_endpoint == "https://github.com/login/oauth/authorize"

    removed = await delete_third_party_config("t1", "custom-sso")
    assert removed.did_config_exist is True
    assert (await delete_third_party_config("t1", "custom-sso")).did_config_exist is False
    assert await get_provider("t1", "custom-sso") is None
    assert await get_provider("t1", "github") is not None


async def test_provider_configs_without_a_license(unlicensed: str) -> None:
    # The public tenant's own providers are free; another tenant's are multi-tenancy.
    assert (await create_or_update_third_party_config("public", sso())).created_new is True
    public_provider = await get_provider("public", "custom-sso")
    assert public_provider is not None and public_provider.config.client_id == "tenant-client"
    await create_or_update_tenant("t1", TenantConfigCreateOrUpdate())
    with pytest.raises(Exception) as raised:
        await create_or_update_third_party_config("t1", sso())
    assert str(raised.value).endswith("with status code: 402 and message: " + NOT_LICENSED)
    t1 = await get_tenant("t1")
    assert t1 is not None and t1.third_party_providers == []


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"name": "x"}, "Field name 'thirdPartyId' is invalid in JSON input\n"),
        (
            {"thirdPartyId": "  "},
            "Invalid third party config: thirdPartyId cannot be null or empty\n",
        ),
        (
            {"thirdPartyId": "a", "clients": [{"clientSecret": "s"}]},
            "Invalid third party config: clientId cannot be null\n",
        ),
        (
            {"thirdPartyId": "a", "clients": [{"clientId": "1"}, {"clientId": "2"}]},
            "Invalid third party config: Duplicate clientType was specified in the clients list.\n",
        ),
        (
            {"thirdPartyId": "a", "clients": [{"clientId": "1", "scope": ["a", None]}]},
            "Invalid third party config: scope array cannot contain a null\n",
        ),
        (
            {"thirdPartyId": "a", "tokenEndpoint": 5},
            "Invalid third party config: 'tokenEndpoint' has the wrong type\n",
        ),
    ],
)
def test_bad_provider_configs_are_a_400_and_change_nothing(
    devcore_app: str, config: dict[str, object], message: str
) -> None:
    url = devcore_app + "/public/recipe/multitenancy/config/thirdparty"
    response = requests.put(url, json={"config": config}, timeout=10)
    assert (response.status_code, response.text) == (400, message)
    tenant = requests.get(devcore_app + "/public/recipe/multitenancy/tenant/v2", timeout=10)
    assert tenant.json()["thirdParty"]["providers"] == []


# -- users and tenants --


@pytest.mark.slow
async def test_associating_a_user_with_a_tenant(licensed: str) -> None:
    await create_or_update_tenant("t1", TenantConfigCreateOrUpdate())
    signed_up = await sign_up("public", "person@example.com", PASSWORD)
    assert isinstance(signed_up, SignUpOkResult)
    user = signed_up.recipe_user_id
    assert isinstance(await sign_in("t1", "person@example.com", PASSWORD), WrongCredentialsError)

    joined = await associate_user_to_tenant("t1", user)
    assert isinstance(joined, AssociateUserToTenantOkResult)
    assert joined.was_already_associated is False
    again = await associate_user_to_tenant("t1", user)
    assert isinstance(again, AssociateUserToTenantOkResult) and again.was_already_associated
    assert isinstance(await sign_in("t1", "person@example.com", PASSWORD), SignInOkResult)
    unknown = await associate_user_to_tenant("t1", RecipeUserId("no-such-user"))
    assert isinstance(unknown, AssociateUserToTenantUnknownUserIdError)

    # Another t2 user already signs in with the same e-mail: the association is refused.
    await create_or_update_tenant("t2", TenantConfigCreateOrUpdate())
    assert isinstance(await sign_up("t2", "person@example.com", "other-pass-2"), SignUpOkResult)
    clash = await associate_user_to_tenant("t2", user)
    assert isinstance(clash, AssociateUserToTenantEmailAlreadyExistsError)

    # Leaving t1 ends the user's t1 sessions and its t1 sign-in.
    await create_new_session_without_request_response("t1", user, {}, {})
    assert len(await get_all_session_handles_for_user(user.get_as_string(), tenant_id="t1")) == 1
    left = await disassociate_user_from_tenant("t1", user)
    assert left.was_associated is True
    assert await get_all_session_handles_for_user(user.get_as_string(), tenant_id="t1") == []
    assert isinstance(await sign_in("t1", "person@example.com", PASSWORD), WrongCredentialsError)
    assert (await disassociate_user_from_tenant("t1", user)).was_associated is False
    assert isinstance(await sign_in("public", "person@example.com", PASSWORD), SignInOkResult)


async def test_association_needs_a_license(unlicensed: str) -> None:
    signed_up = await sign_up("public", "person@example.com", PASSWORD)
    assert isinstance(signed_up, SignUpOkResult)
    await create_or_update_tenant("t1", TenantConfigCreateOrUpdate())
    for call in (associate_user_to_tenant, disassociate_user_from_tenant):
        with pytest.raises(Exception) as raised:
            await call("t1", signed_up.recipe_user_id)
        assert str(raised.value).endswith("with status code: 402 and message: " + NOT_LICENSED)
    assert isinstance(await sign_in("t1", "person@example.com", PASSWORD), WrongCredentialsError)
