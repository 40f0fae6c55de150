"""Known devices: the owner's own browsers and apps keep a failure count of their own.

Someone who has the password can sign in as often as they like and send wrong codes
until the factor locks (S2). That lock must bound their guesses, but it should not keep
the owner out. What the owner has and they have not is a device that completed 2FA
before. So every completion by a factor presented in a session gives the device a
*known-device token*: an HttpOnly, SameSite=Strict cookie ``st2fa-device`` for a browser,
or, for a client that keeps its tokens itself (``Authorization: Bearer``), the response
header ``st-2fa-device``, which it sends back in the request header of the same name.

Attempts from a request that carries a valid token for the user count against the user's
*known-device* throttle (:attr:`~st_twofactor.stores.state.TwoFactorState.known_throttle`), the
others against the shared one: the same limits, kept apart. Wrong codes from anywhere else
lock the factor for anywhere else; the owner's known devices go on (and their own wrong
codes lock only them). An attacker's guesses stay bounded by the shared limits; one who
also stole the token (an HttpOnly cookie) gets the known-device limits too, at most
doubling their guesses.

The token proves nothing else: it never skips a factor (that is remember-device, S11),
carries no epoch (a factor change does not end it) and lasts a year from the last
completion. It is signed like remember-device tokens, under a key and prefix of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from supertokens_python.framework import BaseRequest, BaseResponse
from supertokens_python.recipe.session.cookie_and_header import set_header

from st_twofactor.kernel.remember import RememberDeviceTokens

__all__ = ["KNOWN_COOKIE", "KNOWN_FOR", "KNOWN_HEADER", "KnownDevices"]

KNOWN_COOKIE = "st2fa-device"
"""The cookie that carries a browser's known-device token."""

KNOWN_HEADER = "st-2fa-device"
"""The header a header-mode client gets its known-device token in and sends it back in."""

KNOWN_FOR = 365 * 24 * 3600.0
"""How long a known-device token lasts after the device's last completed 2FA."""


class KnownDevices:
    """Issues known-device tokens and tells whether a request comes from a known device."""

    def __init__(self, secret_keys: Sequence[str], clock: Callable[[], float]) -> None:
        self._tokens = RememberDeviceTokens(secret_keys, purpose="known-device")
        self._clock = clock

    def is_known(self, user_id: str, user_context: dict[str, Any] | None) -> bool:
        """Whether the request of ``user_context`` carries a valid token for ``user_id``."""
        defaults = (user_context or {}).get("_default")
        request = defaults.get("request") if isinstance(defaults, dict) else None
        if not isinstance(request, BaseRequest):
            return False
        tokens = (request.get_cookie(KNOWN_COOKIE), request.get_header(KNOWN_HEADER))
        return any(
            self._tokens.check(token, user_id, 0, now=self._clock) for token in tokens if token
        )

    def give(
        self, user_id: str, response: BaseResponse, *, header_mode: bool, secure: bool
    ) -> None:
        """Give the device of this response a token for ``user_id``: a header for a
        header-mode client, an HttpOnly cookie for a browser."""
        token = self._tokens.issue(user_id, 0, lifetime=KNOWN_FOR, now=self._clock)
        if header_mode:
            response.set_header(KNOWN_HEADER, token)
            # a page on another origin may read it, as the SDK's own token headers
            set_header(response, "Access-Control-Expose-Headers", KNOWN_HEADER, True)
            return
        response.set_cookie(
            key=KNOWN_COOKIE,
            value=token,
            expires=int((self._clock() + KNOWN_FOR) * 1000),
            path="/",
            secure=secure,
            httponly=True,
            samesite="strict",
        )
