"""Runnable example apps: ``python -m examples.fastapi_app`` or ``python -m examples.flask_app``.

Both serve the same demo page (``examples/static/``) and read their settings from the
environment (:mod:`examples.settings`).
"""
