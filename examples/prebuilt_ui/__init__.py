"""SuperTokens' prebuilt UI (supertokens-auth-react) on the FastAPI example.

``npm ci && npm run build`` in this directory bundles two pages into ``dist/``: the
prebuilt MFA UI at ``/ui/`` (its auth screens at ``/ui/auth``, beside the API's
``/auth``) and the legacy prebuilt 2FA flow at ``/legacy/``. The FastAPI example serves
them when ``dist/`` exists and changes nothing when it does not (see
docs/howto/prebuilt-ui.md).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["DIST", "PAGES", "serve_prebuilt_ui"]

DIST = Path(__file__).parent / "dist"
PAGES = ("ui", "legacy")
"""The built pages: ``dist/<page>/index.html`` and its ``assets/``, served at ``/<page>/``."""

log = logging.getLogger("examples")


def serve_prebuilt_ui(app: FastAPI, dist: Path = DIST) -> bool:
    """Serve the built pages, if built: each page's assets as files, every other path
    under the page as its ``index.html`` (the page routes in the browser). Whether it
    did."""
    if not all((dist / page / "index.html").is_file() for page in PAGES):
        return False
    for page in PAGES:
        app.mount(
            f"/{page}/assets", StaticFiles(directory=dist / page / "assets"), name=f"{page}-assets"
        )
        handler = _index_of(dist / page / "index.html")
        for path in (f"/{page}", f"/{page}/{{path:path}}"):
            app.add_api_route(path, handler, methods=["GET"], include_in_schema=False)
    log.info("SuperTokens' prebuilt UI is built: served at /ui/ (MFA) and /legacy/")
    return True


def _index_of(index: Path) -> Callable[[], Awaitable[FileResponse]]:
    async def page() -> FileResponse:
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    return page
