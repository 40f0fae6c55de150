"""Flask helpers (public path; implemented in :mod:`st_twofactor.http.flask`)."""

from __future__ import annotations

from st_twofactor.http.flask import (
    answer_core_outages,
    get_session,
    require_2fa,
    verify_session_without_2fa,
)

__all__ = [
    "answer_core_outages",
    "get_session",
    "require_2fa",
    "verify_session_without_2fa",
]
