"""The Django example's views: the demo page, its files and the protected API."""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from pathlib import Path

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.http import require_GET

from st_twofactor.django import require_2fa

STATIC = Path(__file__).parent.parent / "static"


def file(name: str) -> Callable[[HttpRequest], HttpResponse]:
    """A view that answers one file of examples/static (small: read whole)."""

    @require_GET
    def view(request: HttpRequest) -> HttpResponse:
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return HttpResponse((STATIC / name).read_bytes(), content_type=kind)

    return view


@require_GET
@require_2fa()
def secret(request: HttpRequest) -> JsonResponse:
    user_id = request.supertokens.get_user_id()  # type: ignore[attr-defined]
    return JsonResponse({"message": "The protected API answered.", "userId": user_id})


urlpatterns = [
    path("", file("index.html")),
    path("api/secret", secret),
    *(path(f"static/{f.name}", file(f.name)) for f in STATIC.iterdir()),
]
