"""st_twofactor.django, through the SDK's Django middleware against the development core.

Django's settings are process-global (``tests/helpers/django_settings.py``): the test overrides
just what it needs (URLs, middleware, hosts).
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.test import Client, override_settings
from django.urls import path
from supertokens_python import RecipeInit
from supertokens_python.recipe import emailpassword, session
from supertokens_python.recipe.session import SessionOverrideConfig

from st_twofactor import mark_completed, override_session_functions
from st_twofactor.django import require_2fa, verify_session_without_2fa

from ..helpers import django_settings
from ..helpers.sdk import InitSupertokens, Tokens, invalid_claim_ids, jwt_payload, sign_up

MIDDLEWARE = ["supertokens_python.framework.django.django_middleware.middleware"]

django_settings.configure()


@require_2fa()
def guarded(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"user": request.supertokens.get_user_id()})  # type: ignore[attr-defined]


@require_2fa(max_age=300)
async def fresh(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"user": request.supertokens.get_user_id()})  # type: ignore[attr-defined]


@verify_session_without_2fa()
def open_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"handle": request.supertokens.get_handle()})  # type: ignore[attr-defined]


@verify_session_without_2fa()
async def complete(request: HttpRequest) -> JsonResponse:
    await mark_completed(request.supertokens)  # type: ignore[attr-defined]
    return JsonResponse({})


urlpatterns = [
    path("guarded", guarded),
    path("fresh", fresh),
    path("open", open_view),
    path("complete", complete),
]


class JsonClient:
    """Django's test client with the ``post(path, json=, headers=)`` of the other clients."""

    def __init__(self) -> None:
        self._client = Client()

    def post(self, url: str, json: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self._client.post(
            url, data=_dumps(json), content_type="application/json", headers=headers or {}
        )

    def get(self, url: str, headers: dict[str, str] | None = None) -> Any:
        return self._client.get(url, headers=headers or {})


def _dumps(value: Any) -> str:
    return json.dumps(value if value is not None else {})


@override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=MIDDLEWARE, ALLOWED_HOSTS=["*"])
def test_django_guards_through_the_sdk_middleware(init_supertokens: InitSupertokens) -> None:
    recipe_list: list[RecipeInit] = [
        emailpassword.init(),
        session.init(override=SessionOverrideConfig(functions=override_session_functions())),
    ]
    init_supertokens(recipe_list, framework="django")
    client = JsonClient()

    up = sign_up(client, "ada@example.com")
    assert up.status_code == 200, up.content
    user_id, tokens = up.json()["user"]["id"], Tokens.of(up)
    handle = jwt_payload(tokens.access or "")["sessionHandle"]
    assert jwt_payload(tokens.access or "")["2fa-completed"]["v"] is False

    assert client.get("/guarded").status_code == 401
    assert invalid_claim_ids(client.get("/guarded", headers=tokens.auth())) == [
        "2fa-completed",
        "st-mfa",
    ]
    assert invalid_claim_ids(client.get("/fresh", headers=tokens.auth())) == [
        "2fa-completed",
        "st-mfa",
    ]
    assert client.get("/open", headers=tokens.auth()).json() == {"handle": handle}

    done = Tokens.of(client.post("/complete", headers=tokens.auth()))
    assert done.access is not None and jwt_payload(done.access)["sessionHandle"] == handle
    assert client.get("/guarded", headers=done.auth()).json() == {"user": user_id}
    assert client.get("/fresh", headers=done.auth()).json() == {"user": user_id}
