"""The FastAPI example serves SuperTokens' prebuilt UI only once it is built: each page's
assets as files, every other path under the page as its ``index.html``; without a build
nothing is added (the README's commands need no npm)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from examples.prebuilt_ui import PAGES, serve_prebuilt_ui


def built(dist: Path) -> Path:
    for page in PAGES:
        (dist / page / "assets").mkdir(parents=True)
        (dist / page / "index.html").write_text(f"<title>{page}</title>")
        (dist / page / "assets" / "app.js").write_text(f"// {page}")
    return dist


def test_without_a_build_nothing_is_served(tmp_path: Path) -> None:
    app = FastAPI()
    routes = list(app.routes)
    assert serve_prebuilt_ui(app, tmp_path / "dist") is False
    assert app.routes == routes
    assert TestClient(app).get("/ui/").status_code == 404


def test_a_half_build_is_not_served(tmp_path: Path) -> None:
    dist = built(tmp_path / "dist")
    (dist / "legacy" / "index.html").unlink()
    assert serve_prebuilt_ui(FastAPI(), dist) is False


def test_the_built_pages_route_in_the_browser(tmp_path: Path) -> None:
    app = FastAPI()
    assert serve_prebuilt_ui(app, built(tmp_path / "dist")) is True
    client = TestClient(app)
    for page in PAGES:
        for path in (f"/{page}", f"/{page}/", f"/{page}/auth", f"/{page}/auth/mfa/totp"):
            answer = client.get(path)
            assert answer.status_code == 200, path
            assert answer.text == f"<title>{page}</title>", path
        assert client.get(f"/{page}/assets/app.js").text == f"// {page}"
        assert client.get(f"/{page}/assets/missing.js").status_code == 404
    assert client.get("/ui/assets/..%2F..%2Findex.html").status_code == 404
    assert client.get("/auth/signin").status_code == 404  # the API's paths are not the UI's
