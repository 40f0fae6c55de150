"""``python -m examples.flask_app``: serve the Flask example (see examples/settings.py)."""

from __future__ import annotations

from pathlib import Path

from examples.flask_app.app import create_app
from examples.settings import Settings, announce, setup_logging

setup_logging()
settings = Settings.from_env(default_port=5000, default_data_dir=Path(__file__).parent / "data")
announce(settings)
create_app(settings).run(host=settings.host, port=settings.port, threaded=True)
