"""An app written the way SuperTokens' legacy 2FA guide writes it, phone codes as the second
factor (written for these tests from the guide's description, not copied):

- ``emailpassword`` is the first factor; ``passwordless`` (contact method PHONE, typed
  codes) the second; ``usermetadata`` holds the link between the two users.
- The session override puts ``2fa-completed`` = ``False`` (the SDK's ``{"v": ..., "t": ms}``)
  in every new session, with ``phoneNumber`` when the user has a second user, and adds the
  claim's validator globally, so every ``verify_session()`` needs it.
- A code is asked for with the session: to the linked second user's phone when there is
  one, else to the number typed (the first time). Consuming it signs in (the first time:
  signs up) a *second, passwordless user*; the session override hands the existing
  session back with the claim set to ``True``, and the first user's metadata key
  ``passwordlessUserId`` links the second user.
- Without a session the passwordless routes are the plain recipe's: the phone alone signs
  the second user in (the guide's users are twice as many, and that is why).

``GET /api/secret`` is a plain ``verify_session()`` route.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from supertokens_python.asyncio import get_user
from supertokens_python.framework.fastapi import get_middleware
from supertokens_python.ingredients.smsdelivery.types import SMSDeliveryConfig
from supertokens_python.recipe import emailpassword, passwordless, session, usermetadata
from supertokens_python.recipe.passwordless import (
    ContactPhoneOnlyConfig,
    PasswordlessOverrideConfig,
)
from supertokens_python.recipe.passwordless.interfaces import (
    APIInterface,
    APIOptions,
    ConsumeCodePostOkResult,
)
from supertokens_python.recipe.session import SessionContainer, SessionOverrideConfig
from supertokens_python.recipe.session.asyncio import get_session
from supertokens_python.recipe.session.claims import BooleanClaim
from supertokens_python.recipe.session.framework.fastapi import verify_session
from supertokens_python.recipe.session.interfaces import RecipeInterface
from supertokens_python.recipe.usermetadata.asyncio import get_user_metadata, update_user_metadata
from supertokens_python.types.response import GeneralErrorResponse

from st_twofactor.config import TwoFactorConfig

from .outbox import CapturedSMS, Sent
from .sdk import sdk_init

API_DOMAIN = "http://localhost"
LINK_KEY = "passwordlessUserId"
SECOND_FACTOR_SESSION = "legacy-2fa-first-factor-session"


def _never_fetched(*args: Any) -> bool:
    return False


SecondFactorClaim = BooleanClaim(key="2fa-completed", fetch_value=_never_fetched)


def _no_validators(*args: Any) -> list[Any]:
    return []


async def linked_phone(user_id: str, user_context: dict[str, Any]) -> str | None:
    """The phone number of the user's second user, if the link leads to one."""
    metadata = (await get_user_metadata(user_id, user_context)).metadata
    second_user_id = metadata.get(LINK_KEY)
    if not isinstance(second_user_id, str):
        return None
    second = await get_user(second_user_id, user_context)
    return second.phone_numbers[0] if second is not None and second.phone_numbers else None


def override_session(original: RecipeInterface) -> RecipeInterface:
    create_new_session = original.create_new_session
    get_global_claim_validators = original.get_global_claim_validators

    async def create_or_keep_session(
        user_id: str,
        recipe_user_id: Any,
        access_token_payload: dict[str, Any] | None,
        session_data_in_database: dict[str, Any] | None,
        disable_anti_csrf: bool | None,
        tenant_id: str,
        user_context: dict[str, Any],
    ) -> Any:
        first_factor = user_context.get(SECOND_FACTOR_SESSION)
        if first_factor is not None:  # the second factor just passed: keep that session
            await first_factor.set_claim_value(SecondFactorClaim, True, user_context)
            return first_factor
        payload = SecondFactorClaim.add_to_payload_(
            dict(access_token_payload or {}), False, user_context
        )
        phone = await linked_phone(user_id, user_context)
        if phone is not None:
            payload["phoneNumber"] = phone
        return await create_new_session(
            user_id=user_id,
            recipe_user_id=recipe_user_id,
            access_token_payload=payload,
            session_data_in_database=session_data_in_database,
            disable_anti_csrf=disable_anti_csrf,
            tenant_id=tenant_id,
            user_context=user_context,
        )

    def validators_with_claim(
        tenant_id: str,
        user_id: str,
        recipe_user_id: Any,
        claim_validators_added_by_other_recipes: list[Any],
        user_context: dict[str, Any],
    ) -> Any:
        validators = get_global_claim_validators(
            tenant_id=tenant_id,
            user_id=user_id,
            recipe_user_id=recipe_user_id,
            claim_validators_added_by_other_recipes=claim_validators_added_by_other_recipes,
            user_context=user_context,
        )
        return [*validators, SecondFactorClaim.validators.has_value(True)]

    original.create_new_session = create_or_keep_session  # type: ignore[method-assign]
    original.get_global_claim_validators = validators_with_claim  # type: ignore[method-assign]
    return original


async def _first_factor_session(api_options: APIOptions, user_context: dict[str, Any]) -> Any:
    return await get_session(
        api_options.request,
        session_required=False,
        override_global_claim_validators=_no_validators,
        user_context=user_context,
    )


def override_passwordless(original: APIInterface) -> APIInterface:
    create_code_post = original.create_code_post
    consume_code_post = original.consume_code_post

    async def create_code(
        email: str | None,
        phone_number: str | None,
        session: Any,
        should_try_linking_with_session_user: bool | None,
        tenant_id: str,
        api_options: APIOptions,
        user_context: dict[str, Any],
    ) -> Any:
        first_factor = await _first_factor_session(api_options, user_context)
        if first_factor is not None:
            linked = await linked_phone(first_factor.get_user_id(), user_context)
            if linked is not None and linked != phone_number:
                return GeneralErrorResponse("codes go to the phone number set up for 2FA")
        return await create_code_post(
            email=email,
            phone_number=phone_number,
            session=None,
            should_try_linking_with_session_user=False,
            tenant_id=tenant_id,
            api_options=api_options,
            user_context=user_context,
        )

    async def consume_code(
        pre_auth_session_id: str,
        user_input_code: str | None,
        device_id: str | None,
        link_code: str | None,
        session: Any,
        should_try_linking_with_session_user: bool | None,
        tenant_id: str,
        api_options: APIOptions,
        user_context: dict[str, Any],
    ) -> Any:
        first_factor = await _first_factor_session(api_options, user_context)
        if first_factor is not None:
            user_context[SECOND_FACTOR_SESSION] = first_factor
        result = await consume_code_post(
            pre_auth_session_id=pre_auth_session_id,
            user_input_code=user_input_code,
            device_id=device_id,
            link_code=link_code,
            session=None,
            should_try_linking_with_session_user=False,
            tenant_id=tenant_id,
            api_options=api_options,
            user_context=user_context,
        )
        if first_factor is not None and isinstance(result, ConsumeCodePostOkResult):
            user_id = first_factor.get_user_id()
            metadata = (await get_user_metadata(user_id, user_context)).metadata
            if LINK_KEY not in metadata:  # the first code: link the second user
                await update_user_metadata(user_id, {LINK_KEY: result.user.id}, user_context)
                phone = result.user.phone_numbers[0]
                await first_factor.merge_into_access_token_payload(
                    {"phoneNumber": phone}, user_context
                )
        return result

    original.create_code_post = create_code  # type: ignore[method-assign]
    original.consume_code_post = consume_code  # type: ignore[method-assign]
    return original


def legacy_recipe_list(outbox: list[Sent]) -> list[Any]:
    return [
        emailpassword.init(),
        passwordless.init(
            contact_config=ContactPhoneOnlyConfig(),
            flow_type="USER_INPUT_CODE",
            sms_delivery=SMSDeliveryConfig(service=CapturedSMS(outbox)),
            override=PasswordlessOverrideConfig(apis=override_passwordless),
        ),
        session.init(override=SessionOverrideConfig(functions=override_session)),
        usermetadata.init(),
    ]


def build_legacy_app(core_url: str, outbox: list[Sent]) -> FastAPI:
    """``init()`` the SDK as the legacy app does, against ``core_url``; the app."""
    sdk_init(
        core_url,
        legacy_recipe_list(outbox),
        app_name="Legacy 2FA",
    )
    app = FastAPI()
    app.add_middleware(get_middleware())

    @app.get("/api/secret")
    async def secret(session: SessionContainer = Depends(verify_session())) -> dict[str, str]:
        return {"user": session.get_user_id()}

    return app


migration_config = TwoFactorConfig(
    secret_keys=["legacy-migration-key-0123456789abcdef"],
    factors=("otp-phone", "otp-email", "totp", "recovery-code"),
)
"""The config of the app after the switch, for ``st-twofactor migrate legacy-2fa --config
tests.helpers.legacy_guide_app:migration_config`` (the default store: user metadata)."""
