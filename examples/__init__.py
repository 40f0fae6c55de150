"""Runnable example apps: ``python -m examples.fastapi_app``, ``python -m examples.flask_app``
or ``python -m examples.django_app``.

All serve the same demo page (``examples/static/``) and read their settings from the
environment (:mod:`examples.settings`).
"""
