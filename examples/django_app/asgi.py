"""The Django example under an ASGI server::

    uvicorn examples.django_app.asgi:application --port 8002

``HOST`` and ``PORT`` tell the app where it is reached (the API domain, CORS): give
uvicorn the same (``--host``/``--port``); the other variables are read as for
``python -m examples.django_app``.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")
application = get_asgi_application()
