"""Remembered devices' names, read from the User-Agent: short, human, from a fixed list."""

from __future__ import annotations

import pytest

from st_twofactor.kernel.user_agent import UNKNOWN_DEVICE, device_label

EDGE = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36"
)
SAFARI_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15"
)


@pytest.mark.parametrize(
    ("user_agent", "label"),
    [
        (EDGE, "Edge on Windows"),
        (SAFARI_IPHONE, "Safari on iOS"),
        (CHROME_ANDROID, "Chrome on Android"),
        (SAFARI_MAC, "Safari on macOS"),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Firefox/121.0", "Firefox on Linux"),
        ("okhttp/4.12.0", UNKNOWN_DEVICE),
        ("python-httpx/0.27 (Windows)", "Windows device"),
        ("", UNKNOWN_DEVICE),
        (None, UNKNOWN_DEVICE),
        ("<script>alert(1)</script> Chrome/1", "Chrome"),
        ("x" * 100_000 + " Firefox/1", UNKNOWN_DEVICE),  # read only so far
    ],
)
def test_device_label(user_agent: str | None, label: str) -> None:
    assert device_label(user_agent) == label
