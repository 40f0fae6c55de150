"""The checks of :func:`~st_twofactor.recipes.build_recipe_list`'s options.

Each refuses, with a :class:`~st_twofactor.errors.ConfigurationError` naming the fix, an
option the SDK would take without complaint and fail on later: a wrong type, a delivery
service of another recipe (a 500 at the first send), a duplicate provider, an unknown
``session.init`` option, an option for a recipe the app left out. Checked at start-up,
a mistake is a message to the developer rather than an error a user meets.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from supertokens_python.ingredients.emaildelivery.types import (
    EmailDeliveryConfig,
    EmailDeliveryInterface,
)
from supertokens_python.ingredients.smsdelivery.types import (
    SMSDeliveryConfig,
    SMSDeliveryInterface,
)
from supertokens_python.recipe import session
from supertokens_python.recipe.thirdparty import ProviderInput

from st_twofactor.errors import ConfigurationError

FIRST_FACTORS = ("emailpassword", "thirdparty", "passwordless")
"""The first factors :func:`~st_twofactor.recipes.build_recipe_list` can set up, by
recipe id."""
DEFAULT_FIRST_FACTORS = ("emailpassword", "thirdparty")
"""What :func:`~st_twofactor.recipes.build_recipe_list` sets up when ``first_factors``
is not given."""

FlowType = Literal["USER_INPUT_CODE", "MAGIC_LINK", "USER_INPUT_CODE_AND_MAGIC_LINK"]
FLOW_TYPES = ("USER_INPUT_CODE", "MAGIC_LINK", "USER_INPUT_CODE_AND_MAGIC_LINK")

_SESSION_OPTIONS = frozenset(inspect.signature(session.init).parameters) - {"override"}


def check_first_factors(first_factors: Sequence[str]) -> tuple[str, ...]:
    """The chosen first factors: distinct names from :data:`FIRST_FACTORS`, at least one."""
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


def check_left_out(included: bool, recipe: str, **options: object) -> None:
    """Refuse options for a first-factor recipe the app left out of ``first_factors``."""
    given = [name for name, value in options.items() if value is not None]
    if not included and given:
        raise ConfigurationError(
            f"{', '.join(given)} given but {recipe!r} is not in first_factors: "
            f"add {recipe!r} to first_factors or drop the option"
        )


def check_type(name: str, value: object, expected: type) -> None:
    """Refuse an option that is neither ``None`` nor an ``expected``."""
    if value is not None and not isinstance(value, expected):
        raise ConfigurationError(
            f"{name} must be a {expected.__name__} (or None); got {type(value).__name__}"
        )


@dataclass(frozen=True)
class Delivery:
    """What a delivery option must hold: which interface, of which recipe, e.g. what."""

    interface: type
    recipe: str
    example: str


EMAILPASSWORD = Delivery(
    EmailDeliveryInterface,
    "emailpassword",
    "EmailDeliveryConfig(service=SMTPService(...)) with "
    "from supertokens_python.recipe.emailpassword import SMTPService",
)
CODE_EMAIL = Delivery(
    EmailDeliveryInterface,
    "passwordless",
    "EmailDeliveryConfig(service=SMTPService(...)) with "
    "from supertokens_python.recipe.passwordless import SMTPService",
)
CODE_SMS = Delivery(
    SMSDeliveryInterface,
    "passwordless",
    "SMSDeliveryConfig(service=TwilioService(...)) with "
    "from supertokens_python.recipe.passwordless import TwilioService",
)


def check_delivery(
    name: str, delivery: EmailDeliveryConfig[Any] | SMSDeliveryConfig[Any] | None, want: Delivery
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


def check_providers(providers: Sequence[ProviderInput]) -> None:
    """Refuse anything but a list of ``ProviderInput``, one per third-party id."""
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


def check_session_config(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``session.init`` options to pass on: known names only, no ``override`` (that
    one is composed with the library's, so it has an option of its own)."""
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
