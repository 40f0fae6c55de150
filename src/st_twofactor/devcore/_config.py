"""Per-app core configuration, with the real core's names, units, types and defaults.

Values are read as the real core reads ``coreConfig`` JSON: a number may be given
as a string (``"7200"``), a boolean as ``"true"``/``"false"``, and the settings the
real core keeps as fractions (``refresh_token_validity`` in minutes,
``access_token_dynamic_signing_key_update_interval`` in hours) may be fractional:
``"0.0014"`` hours is about 5 seconds, which key-rotation tests rely on. Like the
real core in its testing mode, the update interval may be under an hour.
Whole-number settings refuse fractions (``"7200.5"``). Values are stored parsed.
"""

from __future__ import annotations

import math
from typing import Any

# name -> (default, type). Units follow the real core's config.yaml.
DEFAULTS: dict[str, tuple[Any, type]] = {
    "access_token_validity": (3600, int),  # seconds
    "refresh_token_validity": (60 * 2400, float),  # minutes (100 days)
    "access_token_dynamic_signing_key_update_interval": (168, float),  # hours
    "access_token_signing_key_dynamic": (True, bool),
    "passwordless_code_lifetime": (900_000, int),  # milliseconds
    "passwordless_max_code_input_attempts": (5, int),
    "password_reset_token_lifetime": (3_600_000, int),  # milliseconds
    "email_verification_token_lifetime": (86_400_000, int),  # milliseconds
}
# What each setting means, for the dashboard's tenant page (the units of DEFAULTS).
DESCRIPTIONS: dict[str, str] = {
    "access_token_validity": "Time in seconds for how long an access token is valid.",
    "refresh_token_validity": "Time in minutes for how long a refresh token is valid.",
    "access_token_dynamic_signing_key_update_interval": (
        "Time in hours for how often a new dynamic signing key is made."
    ),
    "access_token_signing_key_dynamic": (
        "Whether new sessions are signed with the rotating dynamic keys (else the static key)."
    ),
    "passwordless_code_lifetime": "Time in milliseconds for how long a passwordless code is valid.",
    "passwordless_max_code_input_attempts": "Wrong code inputs allowed per passwordless device.",
    "password_reset_token_lifetime": (
        "Time in milliseconds for how long a password reset token is valid."
    ),
    "email_verification_token_lifetime": (
        "Time in milliseconds for how long an e-mail verification token is valid."
    ),
}
# The real core's upper bound for the access token's validity (seconds).
MAX_ACCESS_TOKEN_VALIDITY = 86_400_000
_MAX_INT = 2**63 - 1


def validate(updates: Any) -> dict[str, Any]:
    """Parse a ``coreConfig`` object; returns it with typed values, or raises ValueError.

    A ``None`` value means "back to the default" and is kept as ``None``.
    """
    if updates is None:
        return {}
    if not isinstance(updates, dict):
        raise ValueError("coreConfig must be an object")
    parsed: dict[str, Any] = {}
    for key, value in updates.items():
        if key not in DEFAULTS:
            raise ValueError(f"Invalid config key: {key}")
        parsed[key] = None if value is None else parse(key, value)
    return parsed


def parse(key: str, value: Any) -> int | float | bool:
    """One setting's value as the real core reads it; ValueError naming the key when wrong."""
    kind = DEFAULTS[key][1]
    if kind is bool:
        return _parse_bool(key, value)
    number = _parse_number(key, value)
    if number <= 0:
        raise ValueError(f"'{key}' must be greater than 0")
    if kind is int:
        if number != int(number) or number > _MAX_INT:
            raise ValueError(f"'{key}' must be a whole number")
        number = int(number)
    if key == "access_token_validity" and number > MAX_ACCESS_TOKEN_VALIDITY:
        raise ValueError(
            f"'{key}' must be between 1 and {MAX_ACCESS_TOKEN_VALIDITY} seconds inclusive."
        )
    return number


def _parse_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"'{key}' must be a boolean")


def _parse_number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"'{key}' must be a number")
    if isinstance(value, int):
        return value
    try:
        number = float(value.strip()) if isinstance(value, str) else value
    except ValueError:
        raise ValueError(f"'{key}' must be a number") from None
    if not math.isfinite(number):
        raise ValueError(f"'{key}' must be a number")
    return number


def merged(overrides: dict[str, Any]) -> dict[str, Any]:
    """The effective config: defaults with the app's (stored, parsed) overrides applied."""
    config = {name: default for name, (default, _) in DEFAULTS.items()}
    config.update({k: parse(k, v) for k, v in overrides.items() if v is not None})
    return config
