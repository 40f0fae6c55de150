"""The FastAPI example app; run it with ``python -m examples.fastapi_app``."""
