"""The request headers a website on another origin must be allowed to send.

When the website is served from another origin than the API (another port, another
host), the browser asks the API first (a CORS preflight) whether it may send each
non-standard header. SuperTokens' frontend SDKs send the SDK's headers
(``supertokens_python.get_all_cors_headers()``: ``rid``, ``fdi-version``,
``authorization``, ``st-auth-mode``, ...); a client that keeps its tokens itself also
sends the library's ``st-2fa-remember`` and ``st-2fa-device``. Give :func:`cors_headers`
to the framework's CORS set-up (FastAPI's ``CORSMiddleware``, ``flask-cors``), after
``init()``.
"""

from __future__ import annotations

from st_twofactor.factors._service import REMEMBER_HEADER
from st_twofactor.kernel.known_devices import KNOWN_HEADER

__all__ = ["cors_headers"]


def cors_headers() -> list[str]:
    """``Content-Type``, the SuperTokens SDK's CORS headers, ``st-2fa-remember`` and
    ``st-2fa-device``, sorted.

    Call it after ``supertokens_python.init()``: the SDK's list depends on its recipes.
    """
    from supertokens_python import get_all_cors_headers

    return sorted(
        {
            "content-type",
            REMEMBER_HEADER,
            KNOWN_HEADER,
            *(h.lower() for h in get_all_cors_headers()),
        }
    )
