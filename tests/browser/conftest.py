"""The browser group's fixtures: headless Chromium (one per module) and a page in it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from ..helpers.browser import TIMEOUT_MS, chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 760, "height": 560})
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()
