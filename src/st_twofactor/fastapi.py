"""FastAPI helpers (public path; implemented in :mod:`st_twofactor.http.fastapi`)."""

from __future__ import annotations

from st_twofactor.http.fastapi import (
    answer_core_outages,
    require_2fa,
    verify_session_without_2fa,
)

__all__ = [
    "answer_core_outages",
    "require_2fa",
    "verify_session_without_2fa",
]
