"""Django's settings for the tests that drive Django in this process.

Django's settings are process-global: :func:`configure` sets them once, with no URLs,
middleware or database, and each test then overrides what it needs with
``django.test.override_settings`` (URLs, middleware, ``DEBUG``).
"""

from __future__ import annotations

import django
from django.conf import settings


def configure() -> None:
    """Configure Django for in-process tests, unless something already did."""
    if settings.configured:
        return
    settings.configure(
        SECRET_KEY="st-twofactor-tests-only",
        ALLOWED_HOSTS=["*"],
        INSTALLED_APPS=[],
        DATABASES={},
    )
    django.setup()
