"""One-call setup: the ``recipe_list`` of an app with password/social first factors and 2FA.

::

    init(
        app_info=...,
        supertokens_config=...,
        framework="fastapi",
        recipe_list=build_recipe_list(config=TwoFactorConfig(...), providers=[...]),
    )

What it returns, in order:

- the first factors the app chose (``first_factors=``, default ``("emailpassword",
  "thirdparty")``, the modern form of the legacy guide's ``thirdpartyemailpassword``):
  ``emailpassword``, ``thirdparty`` with the app's providers; a recipe left out of
  ``first_factors`` is not initialised, so its routes do not exist;
- ``passwordless``: with ``"passwordless"`` in ``first_factors``, the app's ordinary
  passwordless sign-in/up without a session and a second factor with one; otherwise a
  second factor only (flow ``USER_INPUT_CODE``; contact method from the enabled factors:
  ``otp-email`` -> EMAIL, ``otp-phone`` -> PHONE, both -> EMAIL_OR_PHONE), left out when
  neither is enabled; also left out with ``add_passwordless=False``, for apps that call
  ``passwordless.init`` themselves with
  :func:`~st_twofactor.factors.codes.passwordless.override_passwordless_apis`;
- ``usermetadata`` (where users' 2FA state lives by default);
- ``session`` with :func:`~st_twofactor.session_override.override_session_functions`.

Every recipe takes the app's own options and overrides; ours are applied first and the
app's wrap them, so the app's code sees (and may extend) what the library did.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from supertokens_python import RecipeInit
from supertokens_python.asyncio import get_user
from supertokens_python.ingredients.emaildelivery.types import (
    EmailDeliveryConfig,
    EmailDeliveryInterface,
)
from supertokens_python.ingredients.smsdelivery.types import (
    SMSDeliveryConfig,
    SMSDeliveryInterface,
)
from supertokens_python.post_init_callbacks import PostSTInitCallbacks
from supertokens_python.recipe import (
    emailpassword,
    passwordless,
    session,
    thirdparty,
    usermetadata,
)
from supertokens_python.recipe.emailpassword import EmailPasswordOverrideConfig, InputSignUpFeature
from supertokens_python.recipe.emailpassword.interfaces import (
    APIInterface as EmailPasswordAPIInterface,
)
from supertokens_python.recipe.emailpassword.interfaces import (
    RecipeInterface as EmailPasswordRecipeInterface,
)
from supertokens_python.recipe.emailpassword.interfaces import (
    UpdateEmailOrPasswordOkResult,
)
from supertokens_python.recipe.emailpassword.types import (
    EmailTemplateVars as PasswordResetEmailVars,
)
from supertokens_python.recipe.passwordless import (
    ContactConfig,
    ContactEmailOnlyConfig,
    ContactEmailOrPhoneConfig,
    ContactPhoneOnlyConfig,
    PasswordlessOverrideConfig,
)
from supertokens_python.recipe.passwordless.types import (
    EmailTemplateVars as CodeEmailVars,
)
from supertokens_python.recipe.passwordless.types import (
    SMSTemplateVars as CodeSMSVars,
)
from supertokens_python.recipe.session import SessionOverrideConfig
from supertokens_python.recipe.session.claims import BooleanClaim
from supertokens_python.recipe.thirdparty import ProviderInput, ThirdPartyOverrideConfig
from supertokens_python.recipe.thirdparty.utils import SignInAndUpFeature
from supertokens_python.recipe.usermetadata import UserMetadataOverrideConfig
from supertokens_python.types import RecipeUserId

from st_twofactor.admin import revoke_remembered_devices
from st_twofactor.claim import SecondFactorClaim
from st_twofactor.config import TwoFactorConfig
from st_twofactor.errors import ConfigurationError
from st_twofactor.factors.codes.passwordless import override_passwordless_apis
from st_twofactor.http._setup_check import mark_revoking
from st_twofactor.http.guard import guard_sdk_routes
from st_twofactor.session_override import override_session_functions

__all__ = [
    "DEFAULT_FIRST_FACTORS",
    "FIRST_FACTORS",
    "build_recipe_list",
    "override_emailpassword_functions",
]

log = logging.getLogger("st_twofactor")

_T = TypeVar("_T")
_A = TypeVar("_A")
ContactMethod = Literal["EMAIL", "PHONE", "EMAIL_OR_PHONE"]
FlowType = Literal["USER_INPUT_CODE", "MAGIC_LINK", "USER_INPUT_CODE_AND_MAGIC_LINK"]

FIRST_FACTORS = ("emailpassword", "thirdparty", "passwordless")
"""The first factors :func:`build_recipe_list` can set up, by recipe id."""
DEFAULT_FIRST_FACTORS = ("emailpassword", "thirdparty")
"""What :func:`build_recipe_list` sets up when ``first_factors`` is not given."""
_FLOW_TYPES = ("USER_INPUT_CODE", "MAGIC_LINK", "USER_INPUT_CODE_AND_MAGIC_LINK")

_SESSION_OPTIONS = frozenset(inspect.signature(session.init).parameters) - {"override"}


def build_recipe_list(
    *,
    config: TwoFactorConfig,
    first_factors: Sequence[str] = DEFAULT_FIRST_FACTORS,
    providers: Sequence[ProviderInput] = (),
    claim: BooleanClaim = SecondFactorClaim,
    sign_up_feature: InputSignUpFeature | None = None,
    emailpassword_override: EmailPasswordOverrideConfig | None = None,
    emailpassword_email_delivery: EmailDeliveryConfig[PasswordResetEmailVars] | None = None,
    thirdparty_override: ThirdPartyOverrideConfig | None = None,
    session_config: Mapping[str, Any] | None = None,
    session_override: SessionOverrideConfig | None = None,
    usermetadata_override: UserMetadataOverrideConfig | None = None,
    passwordless_override: PasswordlessOverrideConfig | None = None,
    passwordless_contact_config: ContactConfig | None = None,
    email_delivery: EmailDeliveryConfig[CodeEmailVars] | None = None,
    sms_delivery: SMSDeliveryConfig[CodeSMSVars] | None = None,
    passwordless_flow_type: FlowType = "USER_INPUT_CODE",
    add_passwordless: bool = True,
) -> list[RecipeInit]:
    """Build the ``recipe_list`` for ``supertokens_python.init()``.

    :param config: the library's :class:`~st_twofactor.config.TwoFactorConfig`.
    :param first_factors: how users sign in, from :data:`FIRST_FACTORS`; default
        ``("emailpassword", "thirdparty")``. Only these recipes are initialised (and
        so only their routes exist). With ``"passwordless"`` a request without a
        session to the passwordless endpoints is the app's ordinary passwordless
        sign-in/up (its session starts with the claim ``False`` unless 2FA is not
        required for the user) and one with a session is a second factor.
    :param providers: third-party providers (``ProviderInput``), as for ``thirdparty.init``;
        none by default (providers may also be configured per tenant in the core).
    :param claim: the second-factor claim (default ``"2fa-completed"``).
    :param sign_up_feature: ``emailpassword.init(sign_up_feature=...)``.
    :param emailpassword_override: the app's ``EmailPasswordOverrideConfig``.
    :param emailpassword_email_delivery: delivery of password-reset e-mails; in development
        mode, when not given, the reset link is written to the ``st_twofactor`` log.
    :param thirdparty_override: the app's ``ThirdPartyOverrideConfig``.
    :param session_config: other ``session.init`` options by name, e.g.
        ``{"cookie_secure": True, "get_token_transfer_method": ...}``.
    :param session_override: the app's ``SessionOverrideConfig``; its ``functions`` wrap
        the library's session override, its ``apis`` are used as they are.
    :param usermetadata_override: the app's ``UserMetadataOverrideConfig``.
    :param passwordless_override: the app's ``PasswordlessOverrideConfig``; its ``apis``
        wrap the library's second-factor API override.
    :param passwordless_contact_config: a ``ContactConfig`` (e.g. with custom
        validators); its method must match the enabled factors.
    :param email_delivery: how e-mailed codes are sent (``otp-email``).
    :param sms_delivery: how SMS codes are sent (``otp-phone``). Outside development
        mode each enabled OTP factor needs its delivery: the SDK's default would send
        through SuperTokens' hosted service. In development, codes go to the log.
    :param passwordless_flow_type: the passwordless recipe's ``flow_type`` for sign-in
        (``"MAGIC_LINK"`` or ``"USER_INPUT_CODE_AND_MAGIC_LINK"`` only with
        ``"passwordless"`` in ``first_factors``); second-factor codes never carry a link.
    :param add_passwordless: ``False`` when the app calls ``passwordless.init`` itself:
        compose :func:`~st_twofactor.factors.codes.passwordless.override_passwordless_apis` into
        its override
        (the passwordless options above must then be left out).
    :raises ConfigurationError: (a ``ValueError``) an option is invalid; the message says
        what to change.
    """
    if not isinstance(config, TwoFactorConfig):
        raise ConfigurationError("config must be a TwoFactorConfig, e.g. TwoFactorConfig(...)")
    chosen = _check_first_factors(first_factors)
    _check_providers(providers)
    _check_type("sign_up_feature", sign_up_feature, InputSignUpFeature)
    _check_type("emailpassword_override", emailpassword_override, EmailPasswordOverrideConfig)
    _check_type("emailpassword_email_delivery", emailpassword_email_delivery, EmailDeliveryConfig)
    _check_type("thirdparty_override", thirdparty_override, ThirdPartyOverrideConfig)
    _check_type("session_override", session_override, SessionOverrideConfig)
    _check_type("usermetadata_override", usermetadata_override, UserMetadataOverrideConfig)
    _check_type("passwordless_override", passwordless_override, PasswordlessOverrideConfig)
    _check_type("passwordless_contact_config", passwordless_contact_config, ContactConfig)
    _check_type("email_delivery", email_delivery, EmailDeliveryConfig)
    _check_type("sms_delivery", sms_delivery, SMSDeliveryConfig)
    _check_delivery("emailpassword_email_delivery", emailpassword_email_delivery, _EMAILPASSWORD)
    _check_delivery("email_delivery", email_delivery, _CODE_EMAIL)
    _check_delivery("sms_delivery", sms_delivery, _CODE_SMS)
    session_options = _check_session_config(session_config)
    if passwordless_flow_type not in _FLOW_TYPES:
        raise ConfigurationError(f"passwordless_flow_type must be one of {_FLOW_TYPES}")
    if not isinstance(add_passwordless, bool):
        raise ConfigurationError("add_passwordless must be True or False")
    passwordless_first = "passwordless" in chosen
    _check_left_out(
        "emailpassword" in chosen,
        "emailpassword",
        sign_up_feature=sign_up_feature,
        emailpassword_override=emailpassword_override,
        emailpassword_email_delivery=emailpassword_email_delivery,
    )
    _check_left_out(
        "thirdparty" in chosen,
        "thirdparty",
        providers=providers or None,
        thirdparty_override=thirdparty_override,
    )
    if passwordless_flow_type != "USER_INPUT_CODE" and not passwordless_first:
        raise ConfigurationError(
            f"passwordless_flow_type={passwordless_flow_type!r} sends sign-in links: add "
            "'passwordless' to first_factors (second-factor codes never use links)"
        )

    # Body checks are installed by the first of these recipes the app has (once).
    body_checks_installed = False
    recipes: list[RecipeInit] = []
    if "emailpassword" in chosen:
        if emailpassword_email_delivery is None and config.development:
            emailpassword_email_delivery = EmailDeliveryConfig(service=_LogPasswordResetEmail())
        recipes.append(
            emailpassword.init(
                sign_up_feature=sign_up_feature,
                override=_emailpassword_override(config, emailpassword_override),
                email_delivery=emailpassword_email_delivery,
            )
        )
        body_checks_installed = True
    if "thirdparty" in chosen:
        recipes.append(
            thirdparty.init(
                sign_in_and_up_feature=SignInAndUpFeature(providers=list(providers)),
                override=thirdparty_override
                if body_checks_installed
                else _thirdparty_override(thirdparty_override),
            )
        )
    contact_method = _contact_method(config.factors)
    passwordless_options = (
        passwordless_override,
        passwordless_contact_config,
        email_delivery,
        sms_delivery,
    )
    if not add_passwordless:
        if any(option is not None for option in passwordless_options) or (
            passwordless_flow_type != "USER_INPUT_CODE"
        ):
            raise ConfigurationError(
                "add_passwordless=False: configure passwordless in your own passwordless.init "
                "(its override composed with override_passwordless_apis), not here"
            )
    elif contact_method is not None or passwordless_first:
        recipes.append(
            _passwordless_recipe(
                config,
                contact_method,
                first_factor=passwordless_first,
                flow_type=passwordless_flow_type,
                claim=claim,
                override=passwordless_override,
                contact_config=passwordless_contact_config,
                email_delivery=email_delivery,
                sms_delivery=sms_delivery,
            )
        )
    elif any(option is not None for option in passwordless_options):
        raise ConfigurationError(
            "passwordless options were given but neither 'otp-email' nor 'otp-phone' is in "
            "config.factors: enable one of them or drop the passwordless options"
        )
    if "emailpassword" in chosen and emailpassword_email_delivery is None:
        raise ConfigurationError(
            "password-reset e-mails need a delivery outside development: pass "
            "emailpassword_email_delivery=EmailDeliveryConfig(service=...) (e.g. "
            "supertokens_python.recipe.emailpassword.SMTPService); without one the SDK "
            "would send them through SuperTokens' hosted e-mail service"
        )
    recipes.append(usermetadata.init(override=usermetadata_override))

    recipes.append(
        session.init(**session_options, override=_session_override(config, claim, session_override))
    )
    return recipes


def _session_override(
    config: TwoFactorConfig, claim: BooleanClaim, app: SessionOverrideConfig | None
) -> SessionOverrideConfig:
    """The library's session override, wrapped by the app's; the app's APIs as they are."""
    ours = override_session_functions(config, claim=claim)
    if app is None:
        return SessionOverrideConfig(functions=ours)
    # The SDK's override configs refuse an explicit None: pass only what is set.
    return SessionOverrideConfig(functions=_then(ours, app.functions), apis=app.apis)


def _emailpassword_override(
    config: TwoFactorConfig, app: EmailPasswordOverrideConfig | None
) -> EmailPasswordOverrideConfig:
    """The app's emailpassword override around the library's: checks of first-factor
    request bodies (:mod:`st_twofactor.http.guard`: a 400 for what the SDK would
    answer 500), installed when the SDK initialises the recipe, and remember-device tokens
    revoked when a password changes (S19)."""

    def install_body_checks(original: EmailPasswordAPIInterface) -> EmailPasswordAPIInterface:
        PostSTInitCallbacks.add_post_init_callback(guard_sdk_routes)
        return original

    ours = override_emailpassword_functions(config)
    if app is None:
        return EmailPasswordOverrideConfig(functions=ours, apis=install_body_checks)
    return EmailPasswordOverrideConfig(
        functions=_then(ours, app.functions), apis=_then(install_body_checks, app.apis)
    )


def override_emailpassword_functions(
    config: TwoFactorConfig,
) -> Callable[[EmailPasswordRecipeInterface], EmailPasswordRecipeInterface]:
    """An emailpassword functions override: a password that changes (a password reset, or
    the app's own "change password") revokes the user's remember-device tokens, so a token
    copied before an account recovery no longer skips the second factor (S19).

    :func:`build_recipe_list` installs it. An app with its own ``emailpassword.init`` and
    ``remember_device`` on passes it as ``EmailPasswordOverrideConfig(functions=...)``,
    composed with its own override in either order; without it a start-up WARNING says so.
    """

    def override(original: EmailPasswordRecipeInterface) -> EmailPasswordRecipeInterface:
        mark_revoking(original)
        original_update = original.update_email_or_password

        async def update_email_or_password(
            recipe_user_id: RecipeUserId,
            email: str | None,
            password: str | None,
            apply_password_policy: bool | None,
            tenant_id_for_password_policy: str,
            user_context: dict[str, Any],
        ) -> Any:
            result = await original_update(
                recipe_user_id=recipe_user_id,
                email=email,
                password=password,
                apply_password_policy=apply_password_policy,
                tenant_id_for_password_policy=tenant_id_for_password_policy,
                user_context=user_context,
            )
            if password is not None and isinstance(result, UpdateEmailOrPasswordOkResult):
                user = await get_user(recipe_user_id.get_as_string(), user_context)
                user_id = user.id if user is not None else recipe_user_id.get_as_string()
                await revoke_remembered_devices(config, user_id, user_context)
            return result

        original.update_email_or_password = update_email_or_password  # type: ignore[method-assign]
        return original

    return override


def _thirdparty_override(app: ThirdPartyOverrideConfig | None) -> ThirdPartyOverrideConfig:
    """The app's thirdparty override, and the first-factor body checks (for an app
    without emailpassword, which otherwise installs them)."""

    def install_body_checks(original: _A) -> _A:
        PostSTInitCallbacks.add_post_init_callback(guard_sdk_routes)
        return original

    if app is None:
        return ThirdPartyOverrideConfig(apis=install_body_checks)
    return ThirdPartyOverrideConfig(
        functions=app.functions, apis=_then(install_body_checks, app.apis)
    )


def _passwordless_override(
    config: TwoFactorConfig,
    claim: BooleanClaim,
    app: PasswordlessOverrideConfig | None,
    *,
    first_factor: bool,
) -> PasswordlessOverrideConfig:
    """The library's passwordless API override (:mod:`st_twofactor.factors.codes.passwordless`),
    wrapped by the
    app's; the app's ``functions`` are used as they are."""
    ours = override_passwordless_apis(config, claim=claim, first_factor=first_factor)
    if app is None:
        return PasswordlessOverrideConfig(apis=ours)
    return PasswordlessOverrideConfig(functions=app.functions, apis=_then(ours, app.apis))


def _passwordless_recipe(
    config: TwoFactorConfig,
    needed: ContactMethod | None,
    *,
    first_factor: bool,
    flow_type: FlowType,
    claim: BooleanClaim,
    override: PasswordlessOverrideConfig | None,
    contact_config: ContactConfig | None,
    email_delivery: EmailDeliveryConfig[CodeEmailVars] | None,
    sms_delivery: SMSDeliveryConfig[CodeSMSVars] | None,
) -> RecipeInit:
    """The passwordless recipe. ``needed``: the contact method the enabled code factors
    need (None: no code factor, passwordless is only a first factor)."""
    if contact_config is None:
        contact_config = _default_contact_config(needed or "EMAIL")
    elif not _covers(contact_config.contact_method, needed, first_factor=first_factor):
        raise ConfigurationError(
            f"passwordless_contact_config has contact method {contact_config.contact_method!r} "
            f"but the enabled factors need {needed!r}: pass a matching ContactConfig "
            "or change config.factors"
        )
    contact_method: ContactMethod = contact_config.contact_method
    uses_email = contact_method in ("EMAIL", "EMAIL_OR_PHONE")
    uses_phone = contact_method in ("PHONE", "EMAIL_OR_PHONE")
    if not uses_email and email_delivery is not None:
        raise ConfigurationError("email_delivery was given but 'otp-email' is not enabled")
    if not uses_phone and sms_delivery is not None:
        raise ConfigurationError("sms_delivery was given but 'otp-phone' is not enabled")
    if uses_email and email_delivery is None:
        if not config.development:
            raise ConfigurationError(
                "'otp-email' is enabled: pass email_delivery=EmailDeliveryConfig(service=...) "
                "(e.g. passwordless.SMTPService) so codes are sent by your mail service"
            )
        email_delivery = EmailDeliveryConfig(service=_LogCodeEmail())
    if uses_phone and sms_delivery is None:
        if not config.development:
            raise ConfigurationError(
                "'otp-phone' is enabled: pass sms_delivery=SMSDeliveryConfig(service=...) "
                "(e.g. passwordless.TwilioService) so codes are sent by your SMS provider"
            )
        sms_delivery = SMSDeliveryConfig(service=_LogCodeSMS())
    return passwordless.init(
        contact_config=contact_config,
        flow_type=flow_type,
        override=_passwordless_override(config, claim, override, first_factor=first_factor),
        email_delivery=email_delivery,
        sms_delivery=sms_delivery,
    )


def _contact_method(factors: Sequence[str]) -> ContactMethod | None:
    email, phone = "otp-email" in factors, "otp-phone" in factors
    if email and phone:
        return "EMAIL_OR_PHONE"
    if email:
        return "EMAIL"
    if phone:
        return "PHONE"
    return None


def _covers(method: str, needed: ContactMethod | None, *, first_factor: bool) -> bool:
    """Whether a contact config's method suits the code factors: exactly, for a second
    factor only; for a first factor too, any method that includes what they need."""
    if method == needed:
        return True
    if not first_factor:
        return False
    return needed is None or method == "EMAIL_OR_PHONE"


def _check_first_factors(first_factors: Sequence[str]) -> tuple[str, ...]:
    if isinstance(first_factors, (str, bytes)) or not isinstance(first_factors, Sequence):
        raise ConfigurationError(
            f"first_factors must be a list or tuple from {FIRST_FACTORS}, "
            "e.g. first_factors=('emailpassword',)"
        )
    chosen = tuple(first_factors)
    unknown = [f for f in chosen if f not in FIRST_FACTORS]
    if unknown or not chosen or len(set(chosen)) != len(chosen):
        raise ConfigurationError(
            f"first_factors must be distinct names from {FIRST_FACTORS}, at least one; "
            f"got {list(chosen)}"
        )
    return chosen


def _check_left_out(included: bool, recipe: str, **options: object) -> None:
    """Refuse options for a first-factor recipe the app left out of ``first_factors``."""
    given = [name for name, value in options.items() if value is not None]
    if not included and given:
        raise ConfigurationError(
            f"{', '.join(given)} given but {recipe!r} is not in first_factors: "
            f"add {recipe!r} to first_factors or drop the option"
        )


def _default_contact_config(method: ContactMethod) -> ContactConfig:
    if method == "EMAIL":
        return ContactEmailOnlyConfig()
    if method == "PHONE":
        return ContactPhoneOnlyConfig()
    return ContactEmailOrPhoneConfig()


def _then(first: Callable[[_T], _T], second: Callable[[_T], _T] | None) -> Callable[[_T], _T]:
    """Compose two overrides: ``first`` wraps the original, ``second`` wraps ``first``."""
    if second is None:
        return first
    return lambda original_implementation: second(first(original_implementation))


def _check_type(name: str, value: object, expected: type) -> None:
    if value is not None and not isinstance(value, expected):
        raise ConfigurationError(
            f"{name} must be a {expected.__name__} (or None); got {type(value).__name__}"
        )


@dataclass(frozen=True)
class _Delivery:
    """What a delivery option must hold: which interface, of which recipe, e.g. what."""

    interface: type
    recipe: str
    example: str


_EMAILPASSWORD = _Delivery(
    EmailDeliveryInterface,
    "emailpassword",
    "EmailDeliveryConfig(service=SMTPService(...)) with "
    "from supertokens_python.recipe.emailpassword import SMTPService",
)
_CODE_EMAIL = _Delivery(
    EmailDeliveryInterface,
    "passwordless",
    "EmailDeliveryConfig(service=SMTPService(...)) with "
    "from supertokens_python.recipe.passwordless import SMTPService",
)
_CODE_SMS = _Delivery(
    SMSDeliveryInterface,
    "passwordless",
    "SMSDeliveryConfig(service=TwilioService(...)) with "
    "from supertokens_python.recipe.passwordless import TwilioService",
)


def _check_delivery(
    name: str, delivery: EmailDeliveryConfig[Any] | SMSDeliveryConfig[Any] | None, want: _Delivery
) -> None:
    """Refuse a delivery service that cannot send what ``name`` sends.

    The SDK accepts any service and fails at the first send (a 500): an e-mail service
    given for SMS, or one of the SDK's services made for another recipe (emailpassword's
    ``SMTPService`` gets password-reset variables, not codes). The app's own services
    are accepted when they implement the right interface.
    """
    service = None if delivery is None else delivery.service
    if service is None:
        return
    recipe = _sdk_recipe_of(type(service))
    if isinstance(service, want.interface) and recipe in (None, want.recipe):
        return
    made_for = f"the {recipe} recipe's" if recipe else "a"
    raise ConfigurationError(
        f"{name} holds {made_for} {type(service).__name__}, which cannot send "
        f"{want.recipe} messages: pass {want.example}"
    )


def _sdk_recipe_of(cls: type) -> str | None:
    """The SDK recipe a class belongs to (``supertokens_python.recipe.<name>...``), if any."""
    parts = cls.__module__.split(".")
    if parts[:2] == ["supertokens_python", "recipe"] and len(parts) > 2:
        return parts[2]
    return None


def _check_providers(providers: Sequence[ProviderInput]) -> None:
    if isinstance(providers, (str, bytes)) or not isinstance(providers, Sequence):
        raise ConfigurationError("providers must be a list of thirdparty.ProviderInput")
    seen: set[str] = set()
    for provider in providers:
        if not isinstance(provider, ProviderInput):
            raise ConfigurationError(
                "providers must be a list of thirdparty.ProviderInput; "
                f"got {type(provider).__name__}"
            )
        third_party_id = provider.config.third_party_id
        if third_party_id in seen:
            raise ConfigurationError(
                f"providers has two entries for {third_party_id!r}: keep one per third_party_id "
                "(several clients go in its ProviderConfig.clients)"
            )
        seen.add(third_party_id)


def _check_session_config(options: Mapping[str, Any] | None) -> dict[str, Any]:
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ConfigurationError("session_config must be a dict of session.init options")
    if "override" in options:
        raise ConfigurationError(
            "pass the session override as session_override=SessionOverrideConfig(...), "
            "not in session_config, so it is composed with the library's"
        )
    unknown = sorted(set(options) - _SESSION_OPTIONS)
    if unknown:
        raise ConfigurationError(
            f"unknown session.init option(s) {unknown} in session_config; "
            f"valid: {sorted(_SESSION_OPTIONS)}"
        )
    return dict(options)


class _LogCodeEmail(EmailDeliveryInterface[CodeEmailVars]):
    """Development delivery: write e-mailed 2FA codes to the log instead of sending them."""

    async def send_email(self, template_vars: CodeEmailVars, user_context: dict[str, Any]) -> None:
        if template_vars.user_input_code is not None:
            log.warning(
                "st-twofactor (development): e-mail code for %s: %s (valid %d s)",
                template_vars.email,
                template_vars.user_input_code,
                template_vars.code_life_time // 1000,
            )
        if template_vars.url_with_link_code is not None:  # a sign-in link (first factor)
            log.warning(
                "st-twofactor (development): sign-in link for %s: %s (valid %d s)",
                template_vars.email,
                template_vars.url_with_link_code,
                template_vars.code_life_time // 1000,
            )


class _LogCodeSMS(SMSDeliveryInterface[CodeSMSVars]):
    """Development delivery: write SMS 2FA codes to the log instead of sending them."""

    async def send_sms(self, template_vars: CodeSMSVars, user_context: dict[str, Any]) -> None:
        if template_vars.user_input_code is not None:
            log.warning(
                "st-twofactor (development): SMS code for %s: %s (valid %d s)",
                template_vars.phone_number,
                template_vars.user_input_code,
                template_vars.code_life_time // 1000,
            )
        if template_vars.url_with_link_code is not None:  # a sign-in link (first factor)
            log.warning(
                "st-twofactor (development): sign-in link for %s: %s (valid %d s)",
                template_vars.phone_number,
                template_vars.url_with_link_code,
                template_vars.code_life_time // 1000,
            )


class _LogPasswordResetEmail(EmailDeliveryInterface[PasswordResetEmailVars]):
    """Development delivery: write password-reset links to the log instead of e-mailing."""

    async def send_email(
        self, template_vars: PasswordResetEmailVars, user_context: dict[str, Any]
    ) -> None:
        log.warning(
            "st-twofactor (development): password reset link for %s: %s",
            template_vars.user.email,
            template_vars.password_reset_link,
        )
