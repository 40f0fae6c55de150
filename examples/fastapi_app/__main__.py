"""``python -m examples.fastapi_app``: serve the FastAPI example (see examples/settings.py)."""

from __future__ import annotations

from pathlib import Path

import uvicorn

from examples.fastapi_app.app import create_app
from examples.settings import Settings, announce, setup_logging

setup_logging()
settings = Settings.from_env(default_port=8000, default_data_dir=Path(__file__).parent / "data")
announce(settings)
uvicorn.run(create_app(settings), host=settings.host, port=settings.port)
