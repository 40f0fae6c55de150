"""(to be written)"""

from __future__ import annotations

from ._http import Routes

SCHEMA = ""

routes = Routes()
