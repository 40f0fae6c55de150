"""Django helpers (public path; implemented in :mod:`st_twofactor.http.django`)."""

from __future__ import annotations

from st_twofactor.http.django import (
    Middleware,
    require_2fa,
    verify_session_without_2fa,
)

__all__ = [
    "Middleware",
    "require_2fa",
    "verify_session_without_2fa",
]
