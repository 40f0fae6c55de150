"""The Flask example app; run it with ``python -m examples.flask_app``."""
