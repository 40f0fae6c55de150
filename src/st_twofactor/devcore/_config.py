"""Per-app core configuration, with the real core's names, units and defaults."""

from __future__ import annotations

from typing import Any

# name -> (default, type). Units follow the real core's config.yaml.
DEFAULTS: dict[str, tuple[Any, type]] = {
    "access_token_validity": (3600, int),  # seconds
    "refresh_token_validity": (60 * 2400, int),  # minutes (100 days)
    "access_token_dynamic_signing_key_update_interval": (168, int),  # hours
    "access_token_signing_key_dynamic": (True, bool),
    "passwordless_code_lifetime": (900_000, int),  # milliseconds
    "passwordless_max_code_input_attempts": (5, int),
    "password_reset_token_lifetime": (3_600_000, int),  # milliseconds
    "email_verification_token_lifetime": (86_400_000, int),  # milliseconds
}


def validate(updates: Any) -> dict[str, Any]:
    """Check a ``coreConfig`` object; returns it, or raises ValueError naming the key."""
    if updates is None:
        return {}
    if not isinstance(updates, dict):
        raise ValueError("coreConfig must be an object")
    for key, value in updates.items():
        if key not in DEFAULTS:
            raise ValueError(f"Invalid config key: {key}")
        if value is None:
            continue
        kind = DEFAULTS[key][1]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
            raise ValueError(f"'{key}' must be a positive integer")
        if kind is bool and not isinstance(value, bool):
            raise ValueError(f"'{key}' must be a boolean")
    return dict(updates)


def merged(overrides: dict[str, Any]) -> dict[str, Any]:
    """The effective config: defaults with the app's overrides applied."""
    config = {name: default for name, (default, _) in DEFAULTS.items()}
    config.update({k: v for k, v in overrides.items() if v is not None})
    return config
