"""Two-factor authentication for supertokens-python apps on the free SuperTokens core."""

from __future__ import annotations

from .__about__ import __version__

__all__ = ["__version__"]
