"""The legacy 2FA method, written plainly: what an app wrote by hand before st-twofactor.

The idea of SuperTokens' legacy guide, on supertokens-python 0.31 (written for this
benchmark, not copied):

- ``emailpassword`` is the first factor;
- the session override puts a ``BooleanClaim`` ``"2fa-completed"`` = ``False`` in every new
  session and adds its validator globally, so every ``verify_session()`` needs it;
- ``passwordless`` (a code by e-mail) is the second factor. ``create_code_post`` needs a
  session and sends the code only to the account's own e-mail. ``consume_code_post`` puts
  the session in the user context and lets the recipe consume the code, which signs in (on
  first use: signs up) a *separate passwordless user*; when the recipe then asks for a new
  session, the session override hands back the existing one with the claim set to ``True``.
"""

from __future__ import annotations

from typing import Any

from supertokens_python.asyncio import get_user
from supertokens_python.recipe import emailpassword, passwordless, session
from supertokens_python.recipe.passwordless import (
    ContactEmailOnlyConfig,
    PasswordlessOverrideConfig,
)
from supertokens_python.recipe.passwordless.interfaces import APIInterface, APIOptions
from supertokens_python.recipe.session import SessionOverrideConfig
from supertokens_python.recipe.session.asyncio import get_session
from supertokens_python.recipe.session.claims import BooleanClaim
from supertokens_python.recipe.session.interfaces import RecipeInterface
from supertokens_python.types.response import GeneralErrorResponse

SESSION_IN_PROGRESS = "legacy-2fa-session"


def _never_fetched(*args: Any) -> bool:
    return False


SecondFactorClaim = BooleanClaim(key="2fa-completed", fetch_value=_never_fetched)


def _no_validators(*args: Any) -> list[Any]:
    return []


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
        existing = user_context.get(SESSION_IN_PROGRESS)
        if existing is not None:  # the second factor just passed: keep the session
            await existing.set_claim_value(SecondFactorClaim, True, user_context)
            return existing
        payload = SecondFactorClaim.add_to_payload_(
            dict(access_token_payload or {}), False, user_context
        )
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


def override_passwordless(original: APIInterface) -> APIInterface:
    create_code_post = original.create_code_post
    consume_code_post = original.consume_code_post

    async def create_code_for_session_user(
        email: str | None,
        phone_number: str | None,
        session: Any,
        should_try_linking_with_session_user: bool | None,
        tenant_id: str,
        api_options: APIOptions,
        user_context: dict[str, Any],
    ) -> Any:
        first_factor = await get_session(
            api_options.request,
            override_global_claim_validators=_no_validators,
            user_context=user_context,
        )
        assert first_factor is not None  # session_required: the SDK answered 401 already
        user = await get_user(first_factor.get_user_id(), user_context)
        if user is None or email not in user.emails:
            return GeneralErrorResponse("codes go only to the account's own e-mail")
        return await create_code_post(
            email=email,
            phone_number=None,
            session=None,
            should_try_linking_with_session_user=False,
            tenant_id=tenant_id,
            api_options=api_options,
            user_context=user_context,
        )

    async def consume_code_keeping_session(
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
        first_factor = await get_session(
            api_options.request,
            override_global_claim_validators=_no_validators,
            user_context=user_context,
        )
        user_context[SESSION_IN_PROGRESS] = first_factor
        return await consume_code_post(
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

    original.create_code_post = create_code_for_session_user  # type: ignore[method-assign]
    original.consume_code_post = consume_code_keeping_session  # type: ignore[method-assign]
    return original


def legacy_recipe_list(email_delivery: Any) -> list[Any]:
    """The app's recipe list with the legacy overrides; codes go to ``email_delivery``."""
    return [
        emailpassword.init(),
        passwordless.init(
            contact_config=ContactEmailOnlyConfig(),
            flow_type="USER_INPUT_CODE",
            email_delivery=email_delivery,
            override=PasswordlessOverrideConfig(apis=override_passwordless),
        ),
        session.init(override=SessionOverrideConfig(functions=override_session)),
    ]
