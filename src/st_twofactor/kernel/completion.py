"""Completing the session's 2FA: where every factor's flow ends when its code was right.

One home for what follows a right code, whatever the factor (TOTP, a recovery code, an
e-mailed or SMS code; DESIGN 10.1):

- the claim is set in the session that presented the factor
  (:func:`~st_twofactor.claim.mark_completed`, with the factor's id as its ``m``);
- when the app offers remember-device and the request asked for it (``rememberDevice:
  true``), the device is recorded in the user's list of remembered devices
  (:mod:`~st_twofactor.kernel.trusted_devices`) and its remember-device token (S11) is
  set as an HttpOnly, SameSite=Strict cookie whose ``Secure`` flag follows the session
  recipe's ``cookie_secure`` (the app's own session cookies), so it works on http
  development as on https;
- the token is also returned in the JSON body only to a header-mode client (one that
  sent ``Authorization: Bearer``; it keeps its tokens itself). A cookie-mode browser gets
  it only in the cookie: in the body, any script on the page could read it, which would
  defeat HttpOnly;
- :class:`~st_twofactor.events.DeviceRemembered` is emitted for a remembered device;
- the device gets a known-device token (:mod:`~st_twofactor.kernel.known_devices`): from now on
  its attempts have a failure count of their own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from supertokens_python.exceptions import GeneralError
from supertokens_python.framework import BaseRequest, BaseResponse
from supertokens_python.recipe.session import SessionContainer
from supertokens_python.recipe.session.claims import BooleanClaim

from st_twofactor import events
from st_twofactor.claim import mark_completed
from st_twofactor.ids import FactorId

if TYPE_CHECKING:
    from st_twofactor.config import TwoFactorConfig
    from st_twofactor.kernel.known_devices import KnownDevices
    from st_twofactor.kernel.trusted_devices import TrustedDevices

__all__ = ["SessionCompletion", "is_header_mode", "remember_cookie_secure"]

REMEMBER_COOKIE = "st2fa-remember"
"""The cookie that carries a remember-device token."""

REMEMBER_HEADER = "st-2fa-remember"
"""The request header a header-mode client sends its remember-device token in."""


class SessionCompletion:
    """Completes sessions for one config and claim (see the module doc)."""

    def __init__(
        self,
        config: TwoFactorConfig,
        claim: BooleanClaim,
        trusted: TrustedDevices,
        known_devices: KnownDevices | None,
        emit: Callable[[events.Event, dict[str, Any]], Awaitable[None]],
    ) -> None:
        self.config = config
        self.claim = claim
        self.trusted = trusted
        self.known_devices = known_devices
        self._emit = emit

    async def complete(
        self,
        session: SessionContainer,
        factor: FactorId,
        *,
        remember: bool,
        request: BaseRequest,
        response: BaseResponse,
        user_context: dict[str, Any],
    ) -> str | None:
        """Mark ``session``'s 2FA completed by ``factor`` and, if ``remember`` (and the
        app offers it), remember the device.

        :returns: the remember-device token for the JSON body: only when one was issued
            and the client is in header mode; ``None`` otherwise.
        """
        config = self.config
        await mark_completed(
            session, factor=factor, claim=self.claim, now=config.clock, user_context=user_context
        )
        if self.known_devices is not None:  # its own failure count from now on (I4)
            self.known_devices.give(
                session.get_user_id(),
                response,
                header_mode=is_header_mode(request),
                secure=remember_cookie_secure(),
            )
        if not (config.remember_device and remember):
            return None
        user_id = session.get_user_id()
        user_agent = request.get_header("user-agent")
        token, device = await self.trusted.remember(user_id, user_agent, user_context)
        expires_at = device.expires_at / 1000
        response.set_cookie(
            key=REMEMBER_COOKIE,
            value=token,
            expires=int(expires_at * 1000),
            path="/",
            secure=remember_cookie_secure(),
            httponly=True,
            samesite="strict",
        )
        event = events.DeviceRemembered(
            user_id=user_id,
            at=config.clock(),
            expires_at=expires_at,
            device_id=device.id,
            device_name=device.name,
        )
        await self._emit(event, user_context)
        return token if is_header_mode(request) else None


def remember_cookie_secure() -> bool:
    """The session recipe's ``cookie_secure`` (by default: whether the API domain is
    https); ``True`` when the session recipe is not initialised."""
    from supertokens_python.recipe.session.recipe import SessionRecipe

    try:
        return bool(SessionRecipe.get_instance().config.cookie_secure)
    except GeneralError:  # not initialised: the safe default
        return True


def is_header_mode(request: BaseRequest) -> bool:
    """Whether the request carries its session in an ``Authorization: Bearer`` header
    (a client that keeps tokens itself), not in cookies."""
    value = request.get_header("authorization")
    return value is not None and value.strip().lower().startswith("bearer ")
