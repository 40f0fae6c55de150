"""Recognising an outage of the SuperTokens core or of the 2FA state store.

A request that fails because the core or the store cannot be reached gets a 503 with a
message saying so, instead of a 500 with a traceback: the library's routes do it
themselves, and :func:`st_twofactor.http.fastapi.answer_core_outages` /
:func:`st_twofactor.http.flask.answer_core_outages` do it for the SDK's own routes too.
"""

from __future__ import annotations

import logging
import re

import httpx

from st_twofactor.errors import CoreUnavailableError, StoreUnavailableError

log = logging.getLogger("st_twofactor")

CORE_DOWN = "the SuperTokens core is unreachable; try again later"
STORE_DOWN = "the 2FA state store is unavailable; try again later"

_CORE_5XX = re.compile(r"^SuperTokens core threw an error .* with status code: 5\d\d\b", re.S)


def outage_message(error: BaseException) -> str | None:
    """The 503 message when ``error`` is an outage of the core or the store, else None.

    An outage is logged here (a warning, with the error's type) for the caller that
    answers it. The SDK reports an unreachable core with plain exceptions, recognised by
    message; the default store (user metadata) lives in the core, so its outage is the
    core's.
    """
    if any(is_core_outage(e) for e in (error, error.__cause__) if e is not None):
        message = CORE_DOWN
    elif isinstance(error, StoreUnavailableError):
        message = STORE_DOWN
    else:
        return None
    log.warning("st-twofactor: %s (%s)", message, type(error).__name__)
    return message


def is_core_outage(error: BaseException) -> bool:
    return (
        isinstance(error, (CoreUnavailableError, httpx.TransportError))
        or str(error).startswith("No SuperTokens core available to query")
        or _CORE_5XX.match(str(error)) is not None
    )
