"""A short, human name for a device, read from its ``User-Agent`` header.

Used only to label a remembered device in the user's list ("Chrome on Linux"), so the
user can tell their devices apart. The header is whatever the client chose to send: the
name is never used for a security decision. It is picked from a fixed vocabulary, never
copied from the header, so nothing the client sends reaches a page, a log or an e-mail.
"""

from __future__ import annotations

__all__ = ["UNKNOWN_DEVICE", "device_label"]

UNKNOWN_DEVICE = "Unknown device"
"""The name of a device whose ``User-Agent`` names no browser or system we know."""

MAX_USER_AGENT = 512
"""Longer headers are read only this far."""

_BROWSERS: tuple[tuple[str, str], ...] = (
    # order matters: Edge and Opera also say "Chrome", Chrome also says "Safari"
    ("edg/", "Edge"),
    ("edga/", "Edge"),
    ("edgios/", "Edge"),
    ("opr/", "Opera"),
    ("samsungbrowser/", "Samsung Internet"),
    ("firefox/", "Firefox"),
    ("fxios/", "Firefox"),
    ("crios/", "Chrome"),
    ("chromium/", "Chromium"),
    ("chrome/", "Chrome"),
    ("safari/", "Safari"),
)

_SYSTEMS: tuple[tuple[str, str], ...] = (
    # order matters: Android also says "Linux", iOS also says "like Mac OS X"
    ("windows", "Windows"),
    ("android", "Android"),
    ("iphone", "iOS"),
    ("ipad", "iPadOS"),
    ("ipod", "iOS"),
    ("cros", "ChromeOS"),
    ("macintosh", "macOS"),
    ("mac os x", "macOS"),
    ("linux", "Linux"),
)


def device_label(user_agent: str | None) -> str:
    """``"<browser> on <system>"`` (e.g. ``"Firefox on Windows"``), ``"<browser>"`` or
    ``"<browser-less> device"`` when only one is known, :data:`UNKNOWN_DEVICE` otherwise."""
    if not isinstance(user_agent, str):
        return UNKNOWN_DEVICE
    text = user_agent[:MAX_USER_AGENT].lower()
    browser = next((name for marker, name in _BROWSERS if marker in text), None)
    system = next((name for marker, name in _SYSTEMS if marker in text), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser:
        return browser
    if system:
        return f"{system} device"
    return UNKNOWN_DEVICE
