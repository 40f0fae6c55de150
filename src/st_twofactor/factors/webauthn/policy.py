"""Who the WebAuthn relying party is: :class:`WebAuthnPolicy`, and the RP ID and origins
derived from an app's SuperTokens ``app_info`` and checked on construction.

A mistake here (an IP address as RP ID, an ``http://`` origin off localhost, an origin on
another site) would only show in a browser that refuses the ceremony, so it is refused
when the policy is made, with what to write instead. This module needs nothing from the
optional ``webauthn`` package: a configuration can name a policy (and
``st_twofactor.WebAuthnPolicy`` be imported) without loading py_webauthn.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from st_twofactor.errors import ConfigurationError

__all__ = ["CHALLENGE_LIFETIME", "MAX_CHALLENGE_LIFETIME", "Requirement", "WebAuthnPolicy"]

CHALLENGE_LIFETIME = 300.0
"""Seconds a challenge stays valid (also the browser's ``timeout`` hint)."""
MAX_CHALLENGE_LIFETIME = 600.0

Requirement = Literal["required", "preferred", "discouraged"]

_REQUIREMENTS = ("required", "preferred", "discouraged")
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True, kw_only=True)
class WebAuthnPolicy:
    """Who the relying party is and what the ceremonies ask for. Validated on construction.

    An RP ID is a domain, never an IP address (browsers refuse WebAuthn on
    ``http://127.0.0.1:...``); every origin must be ``https://`` (``http://`` only on
    ``localhost``, which browsers treat as secure) on the RP ID or one of its subdomains.
    Origins are written as browsers write them: lower case, no path, no default port.
    """

    rp_id: str
    rp_name: str
    origins: tuple[str, ...]
    user_verification: Requirement = "preferred"
    """``"preferred"``: the authenticator verifies the user (PIN, biometrics) if it can;
    ``"required"`` refuses answers without verification."""
    resident_key: Requirement = "preferred"
    """``"preferred"`` asks for a discoverable credential (a passkey) where possible."""
    challenge_lifetime: float = CHALLENGE_LIFETIME

    def __post_init__(self) -> None:
        _check_rp_id(self.rp_id)
        if not isinstance(self.rp_name, str) or not self.rp_name.strip():
            raise ConfigurationError("WebAuthnPolicy.rp_name must be a non-empty string")
        if isinstance(self.origins, str) or not isinstance(self.origins, Sequence):
            raise ConfigurationError("WebAuthnPolicy.origins must be a tuple of origins")
        object.__setattr__(self, "origins", tuple(self.origins))
        if not self.origins:
            raise ConfigurationError("WebAuthnPolicy.origins needs at least one origin")
        for origin in self.origins:
            _check_origin(origin, self.rp_id)
        for setting in ("user_verification", "resident_key"):
            if getattr(self, setting) not in _REQUIREMENTS:
                raise ConfigurationError(
                    f"WebAuthnPolicy.{setting} must be one of {', '.join(_REQUIREMENTS)}"
                )
        lifetime = self.challenge_lifetime
        if (
            isinstance(lifetime, bool)
            or not isinstance(lifetime, (int, float))
            or not 0 < lifetime <= MAX_CHALLENGE_LIFETIME
        ):
            raise ConfigurationError(
                "WebAuthnPolicy.challenge_lifetime must be seconds in"
                f" (0, {MAX_CHALLENGE_LIFETIME:g}]"
            )

    @classmethod
    def from_app_info(
        cls,
        *,
        app_name: str,
        website_domain: str,
        api_domain: str | None = None,
        user_verification: Requirement = "preferred",
        resident_key: Requirement = "preferred",
        challenge_lifetime: float = CHALLENGE_LIFETIME,
    ) -> WebAuthnPolicy:
        """The policy of an app from its SuperTokens ``app_info``.

        The RP ID is the website's host and the website's origin is allowed. A loopback
        website (``http://127.0.0.1:PORT``, ``http://[::1]:PORT``) maps to RP ID
        ``localhost`` and origin ``http://localhost:PORT``: open the app at that URL. The API's
        origin is allowed too when it is on the RP ID (pages it serves can then run the
        ceremonies); otherwise it plays no part in WebAuthn. A domain without a scheme is
        ``https://`` (``http://`` for localhost), as in the SDK.
        """
        rp_id, origin = _site(website_domain)
        origins = [origin]
        if api_domain is not None:
            api_host, api_origin = _site(api_domain)
            if api_origin != origin and _on_rp_id(api_host, rp_id):
                origins.append(api_origin)
        return cls(
            rp_id=rp_id,
            rp_name=app_name,
            origins=tuple(origins),
            user_verification=user_verification,
            resident_key=resident_key,
            challenge_lifetime=challenge_lifetime,
        )

    @property
    def requires_user_verification(self) -> bool:
        return self.user_verification == "required"


def _check_rp_id(rp_id: object) -> None:
    if not isinstance(rp_id, str) or not rp_id:
        raise ConfigurationError("WebAuthnPolicy.rp_id must be a domain such as example.com")
    if _is_ip(rp_id):
        raise ConfigurationError(
            f"WebAuthn RP ID {rp_id!r} is an IP address; an RP ID is a domain (use"
            " 'localhost' for local development and open the app at http://localhost:PORT)"
        )
    labels = rp_id.split(".")
    if len(rp_id) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ConfigurationError(
            f"WebAuthn RP ID {rp_id!r} is not a lower-case domain name such as example.com"
        )
    if labels[-1].isdigit():
        raise ConfigurationError(f"WebAuthn RP ID {rp_id!r} looks like an IP address")


def _check_origin(origin: object, rp_id: str) -> None:
    if not isinstance(origin, str):
        raise ConfigurationError("WebAuthnPolicy.origins must be strings")
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"WebAuthn origin {origin!r} is not a URL") from exc
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host or parts.username is not None:
        raise ConfigurationError(f"WebAuthn origin {origin!r} must be https://HOST[:PORT]")
    canonical = _origin(parts.scheme, host, port)
    if origin != canonical:
        raise ConfigurationError(f"write the WebAuthn origin {origin!r} as {canonical!r}")
    if _is_ip(host):
        raise ConfigurationError(
            f"WebAuthn origin {origin!r} is on an IP address; browsers allow WebAuthn on"
            " domains only (use http://localhost:PORT for local development)"
        )
    if parts.scheme == "http" and not _is_localhost(host):
        raise ConfigurationError(
            f"WebAuthn origin {origin!r} must use https (http is allowed on localhost only)"
        )
    if not _on_rp_id(host, rp_id):
        raise ConfigurationError(
            f"WebAuthn origin {origin!r} is not on the RP ID {rp_id!r} or a subdomain of it"
        )


def _site(domain: str) -> tuple[str, str]:
    """``(rp_id, origin)`` for an app_info domain; loopback maps to localhost."""
    if not isinstance(domain, str) or not domain.strip():
        raise ConfigurationError("the website domain must be a non-empty string")
    text = domain.strip().lower()
    try:
        parts = urlsplit(text if "://" in text else "//" + text)
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"{domain!r} is not a domain or URL") from exc
    host = parts.hostname or ""
    if not host or parts.username is not None:
        raise ConfigurationError(f"{domain!r} is not a domain or URL")
    if _is_ip(host) and ipaddress.ip_address(host).is_loopback:
        host = "localhost"  # browsers refuse WebAuthn on 127.0.0.1 but allow localhost
    scheme = parts.scheme or ("http" if _is_localhost(host) else "https")
    if scheme not in ("http", "https"):
        raise ConfigurationError(f"{domain!r} must be an http(s) URL")
    if _is_ip(host):
        raise ConfigurationError(
            f"{domain!r} is an IP address; a WebAuthn RP ID is a domain, never an IP. Serve"
            " the site on a domain name, or pass rp_id and origins to WebAuthnPolicy"
        )
    if scheme == "http" and not _is_localhost(host):
        raise ConfigurationError(
            f"{domain!r} uses http: browsers allow WebAuthn on https (or on localhost) only"
        )
    _check_rp_id(host)
    return host, _origin(scheme, host, port)


def _origin(scheme: str, host: str, port: int | None) -> str:
    default = {"http": 80, "https": 443}[scheme]
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" if port in (None, default) else f"{scheme}://{shown}:{port}"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_localhost(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")


def _on_rp_id(host: str, rp_id: str) -> bool:
    return host == rp_id or host.endswith("." + rp_id)
