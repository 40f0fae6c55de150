"""The browser's part of the WebAuthn routes, for tests over HTTP: ask for options, let
a :class:`~st_twofactor.testing.webauthn.SoftwareAuthenticator` answer, send the answer."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from st_twofactor.testing.webauthn import SoftwareAuthenticator

from .twofactor_app import Harness, Tokens

ORIGIN = "http://localhost"
"""The harness's website (``app_info``): RP ID ``localhost``, this origin allowed."""
FACTORS = ("totp", "webauthn", "recovery-code")
REGISTER_OPTIONS = "/auth/2fa/webauthn/register/options"
REGISTER = "/auth/2fa/webauthn/register/verify"
AUTHENTICATE_OPTIONS = "/auth/2fa/webauthn/authenticate/options"
AUTHENTICATE = "/auth/2fa/webauthn/authenticate/verify"
REMOVE = "/auth/2fa/webauthn/device/remove"


def register_options(h: Harness, tokens: Tokens, name: str | None = None) -> Any:
    query = "" if name is None else "?deviceName=" + quote(name)
    return h.get(REGISTER_OPTIONS + query, tokens)


def register(
    h: Harness,
    tokens: Tokens,
    key: SoftwareAuthenticator,
    name: str | None = None,
    **knobs: Any,
) -> Any:
    """Add ``key`` to the session's user as a browser would; the verify answer."""
    options = register_options(h, tokens, name).json()
    assert options["status"] == "OK", options
    credential = key.register(options["options"], **{"origin": ORIGIN, **knobs})
    body: dict[str, Any] = {"credential": credential}
    if name is not None:
        body["deviceName"] = name
    return h.post(REGISTER, tokens, body)


def assertion(h: Harness, tokens: Tokens, key: SoftwareAuthenticator, **knobs: Any) -> Any:
    """Options for ``tokens``' session, answered by ``key`` (not sent)."""
    options = h.get(AUTHENTICATE_OPTIONS, tokens).json()
    assert options["status"] == "OK", options
    return key.assertion(options["options"], **{"origin": ORIGIN, **knobs})


def authenticate(
    h: Harness, tokens: Tokens, key: SoftwareAuthenticator, *, remember: bool = False, **knobs: Any
) -> Any:
    """Complete the session's 2FA with ``key``; the verify answer."""
    body: dict[str, Any] = {"credential": assertion(h, tokens, key, **knobs)}
    if remember:
        body["rememberDevice"] = True
    return h.post(AUTHENTICATE, tokens, body)


def send(h: Harness, tokens: Tokens, credential: Any) -> Any:
    return h.post(AUTHENTICATE, tokens, {"credential": credential})
