"""The Django example app: ``python -m examples.django_app`` (WSGI), or under an ASGI
server, ``uvicorn examples.django_app.asgi:application --port 8002``."""
