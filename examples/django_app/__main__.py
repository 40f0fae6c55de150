"""``python -m examples.django_app``: serve the Django example over WSGI, with Django's
development server (see examples/settings.py; ASGI: examples/django_app/asgi.py)."""

from __future__ import annotations

import os

from django.core.management import execute_from_command_line

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")
from examples.django_app.settings import EXAMPLE  # loading the settings starts SuperTokens

execute_from_command_line(["django", "runserver", "--noreload", f"{EXAMPLE.host}:{EXAMPLE.port}"])
