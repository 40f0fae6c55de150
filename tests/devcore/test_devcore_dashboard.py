"""The dashboard recipe on the development core: ``dashboard.init()`` apps, through the SDK.

Dashboard users are made on the core (as SuperTokens' guide does with ``curl``);
everything else goes through the SDK's dashboard API: sign-in, the pages' user,
metadata, session and search routes with the dashboard session, and sign-out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from fastapi import FastAPI
from fastapi.testclient import TestClient
from supertokens_python.framework.fastapi import get_middleware
from supertokens_python.recipe import (
    dashboard,
    emailpassword,
    emailverification,
    session,
    usermetadata,
    userroles,
)
from supertokens_python.recipe.emailpassword.asyncio import sign_up
from supertokens_python.recipe.emailpassword.interfaces import SignUpOkResult
from supertokens_python.recipe.session.asyncio import create_new_session_without_request_response

from st_twofactor.devcore import DevCore
from st_twofactor.testing import reset_supertokens

from ..helpers.sdk import sdk_init

API_DOMAIN = "http://localhost"
ADMIN = "admin@example.com"
ADMIN_PASSWORD = "dashboard-pass-1"


@pytest.fixture
def app(devcore_app: str) -> Iterator[TestClient]:
    sdk_init(
        devcore_app,
        [
            session.init(),
            emailpassword.init(),
            emailverification.init(mode="OPTIONAL"),
            usermetadata.init(),
            userroles.init(),
            dashboard.init(),
        ],
        app_name="devcore dashboard",
    )
    fastapi = FastAPI()
    fastapi.add_middleware(get_middleware())
    yield TestClient(fastapi, base_url=API_DOMAIN)
    reset_supertokens()


def core(uri: str, method: str, path: str, **kwargs: Any) -> Any:
    response = requests.request(method, uri + path, timeout=10, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def create_admin(uri: str, email: str = ADMIN, password: str = ADMIN_PASSWORD) -> dict[str, Any]:
    answer = core(
        uri, "POST", "/recipe/dashboard/user", json={"email": email, "password": password}
    )
    assert answer["status"] == "OK", answer
    user: dict[str, Any] = answer["user"]
    return user


def sign_in(client: TestClient, email: str = ADMIN, password: str = ADMIN_PASSWORD) -> Any:
    return client.post(
        "/auth/dashboard/api/signin", json={"email": email, "password": password}
    ).json()


def bearer(session_id: str) -> dict[str, str]:
    return {"authorization": f"Bearer {session_id}"}


def test_dashboard_sign_in_pages_and_sign_out(app: TestClient, devcore_app: str) -> None:
    admin = create_admin(devcore_app)
    assert set(admin) == {"userId", "email", "timeJoined"}
    assert sign_in(app, password="wrong-password-1") == {"status": "INVALID_CREDENTIALS_ERROR"}
    assert sign_in(app, email="nobody@example.com") == {"status": "INVALID_CREDENTIALS_ERROR"}
    signed_in = sign_in(app, email="  ADMIN@example.com ")
    assert signed_in["status"] == "OK"
    auth = bearer(signed_in["sessionId"])

    # An app user for the pages to show.
    async def make_user() -> str:
        created = await sign_up("public", "person@example.com", "person-pass-1")
        assert isinstance(created, SignUpOkResult)
        await create_new_session_without_request_response("public", created.recipe_user_id, {}, {})
        return created.user.id

    user_id = asyncio.run(make_user())

    users = app.get("/auth/dashboard/api/users", params={"limit": "10"}, headers=auth)
    assert users.status_code == 200, users.text
    assert [u["id"] for u in users.json()["users"]] == [user_id]
    count = app.get("/auth/dashboard/api/users/count", headers=auth)
    assert count.json() == {"status": "OK", "count": 1}
    one = app.get(
        "/auth/dashboard/api/user",
        params={"userId": user_id, "recipeId": "emailpassword"},
        headers=auth,
    )
    assert one.status_code == 200, one.text
    assert one.json()["user"]["id"] == user_id

    put = app.put(
        "/auth/dashboard/api/user/metadata",
        json={"userId": user_id, "data": '{"team": "blue"}'},
        headers=auth,
    )
    assert put.status_code == 200, put.text
    metadata = app.get(
        "/auth/dashboard/api/user/metadata", params={"userId": user_id}, headers=auth
    )
    assert metadata.json() == {"status": "OK", "data": {"team": "blue"}}
    sessions = app.get(
        "/auth/dashboard/api/user/sessions", params={"userId": user_id}, headers=auth
    )
    assert sessions.status_code == 200, sessions.text
    assert len(sessions.json()["sessions"]) == 1
    verified = app.get(
        "/auth/dashboard/api/user/email/verify", params={"recipeUserId": user_id}, headers=auth
    )
    assert verified.json() == {"status": "OK", "isVerified": False}
    tenants = app.get("/auth/dashboard/api/tenants", headers=auth)
    assert [t["tenantId"] for t in tenants.json()["tenants"]] == ["public"]
    assert app.get("/auth/dashboard/api/userroles/roles", headers=auth).json() == {
        "status": "OK",
        "roles": [],
    }
    password = app.put(
        "/auth/dashboard/api/user/password",
        json={"recipeUserId": user_id, "newPassword": "person-pass-2"},
        headers=auth,
    )
    assert password.json() == {"status": "OK"}
    tenant = app.get("/auth/dashboard/api/tenant", params={"tenantId": "public"}, headers=auth)
    assert tenant.status_code == 200, tenant.text
    shown = tenant.json()["tenant"]
    assert shown["userCount"] == 1
    config = {field["key"]: field["value"] for field in shown["coreConfig"]}
    assert config["access_token_validity"] == 3600
    tags = app.get("/auth/dashboard/api/search/tags", headers=auth)
    assert tags.status_code == 200 and "email" in tags.json()["tags"]

    # No session, or a made-up one: the pages refuse.
    assert app.get("/auth/dashboard/api/users/count").status_code == 401
    assert app.get("/auth/dashboard/api/users/count", headers=bearer("made-up")).status_code == 401

    out = app.post("/auth/dashboard/api/signout", headers=auth)
    assert out.json() == {"status": "OK"}
    assert app.get("/auth/dashboard/api/users/count", headers=auth).status_code == 401


def test_dashboard_users_on_the_core(devcore_app: str) -> None:
    uri = devcore_app
    weak = core(uri, "POST", "/recipe/dashboard/user", json={"email": ADMIN, "password": "short1"})
    assert weak == {
        "status": "PASSWORD_WEAK_ERROR",
        "message": "Password must contain at least 8 characters, including a number",
    }
    bad_email = core(
        uri, "POST", "/recipe/dashboard/user", json={"email": "nope", "password": ADMIN_PASSWORD}
    )
    assert bad_email == {"status": "INVALID_EMAIL_ERROR"}
    admin = create_admin(uri)
    again = core(
        uri, "POST", "/recipe/dashboard/user", json={"email": ADMIN, "password": ADMIN_PASSWORD}
    )
    assert again == {"status": "EMAIL_ALREADY_EXISTS_ERROR"}
    listed = core(uri, "GET", "/recipe/dashboard/users")
    assert listed == {"status": "OK", "users": [admin]}

    signed_in = core(
        uri, "POST", "/recipe/dashboard/signin", json={"email": ADMIN, "password": ADMIN_PASSWORD}
    )
    session_id = signed_in["sessionId"]
    verify = core(uri, "POST", "/recipe/dashboard/session/verify", json={"sessionId": session_id})
    assert verify == {"status": "OK", "email": ADMIN}
    sessions = core(
        uri, "GET", "/recipe/dashboard/user/sessions", params={"userId": admin["userId"]}
    )
    assert [s["sessionId"] for s in sessions["sessions"]] == [session_id]
    assert (
        sessions["sessions"][0]["expiry"] - sessions["sessions"][0]["timeCreated"]
        == 30 * 86_400_000
    )

    # A new password ends the user's sessions; the old password no longer works.
    changed = core(
        uri,
        "PUT",
        "/recipe/dashboard/user",
        json={"email": ADMIN, "newPassword": "another-pass-2"},
    )
    assert changed == {"status": "OK", "user": admin}
    gone = core(uri, "POST", "/recipe/dashboard/session/verify", json={"sessionId": session_id})
    assert gone == {"status": "INVALID_SESSION_ERROR"}
    old = core(
        uri, "POST", "/recipe/dashboard/signin", json={"email": ADMIN, "password": ADMIN_PASSWORD}
    )
    assert old == {"status": "INVALID_CREDENTIALS_ERROR"}
    unknown = core(uri, "PUT", "/recipe/dashboard/user", json={"userId": "x", "newEmail": "a@b.co"})
    assert unknown == {"status": "UNKNOWN_USER_ERROR"}

    removed = core(uri, "DELETE", "/recipe/dashboard/user", params={"userId": admin["userId"]})
    assert removed == {"status": "OK", "didUserExist": True}
    assert core(uri, "GET", "/recipe/dashboard/users") == {"status": "OK", "users": []}
    again_removed = core(uri, "DELETE", "/recipe/dashboard/user", params={"email": ADMIN})
    assert again_removed == {"status": "OK", "didUserExist": False}


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "text"),
    [
        (
            "POST",
            "/recipe/dashboard/user",
            {"json": {"email": " ", "password": "x"}},
            "Field name 'email' cannot be an empty String\n",
        ),
        (
            "POST",
            "/recipe/dashboard/signin",
            {"json": {"email": ADMIN}},
            "Field name 'password' is invalid in JSON input\n",
        ),
        (
            "PUT",
            "/recipe/dashboard/user",
            {"json": {"newEmail": "a@b.co"}},
            "Either field 'email' or 'userId' must be present\n",
        ),
        (
            "DELETE",
            "/recipe/dashboard/user",
            {},
            "Either field 'email' or 'userId' must be present\n",
        ),
        (
            "DELETE",
            "/recipe/dashboard/session",
            {},
            "Field name 'sessionId' is missing in GET request\n",
        ),
        (
            "POST",
            "/t1/recipe/dashboard/signin",
            {"json": {}},
            "Only public tenantId can call this app specific API\n",
        ),
    ],
)
def test_bad_dashboard_input_is_a_4xx_and_changes_nothing(
    devcore_app: str, method: str, path: str, kwargs: dict[str, Any], text: str
) -> None:
    response = requests.request(method, devcore_app + path, timeout=10, **kwargs)
    assert response.status_code in (400, 403)
    assert response.text == text
    assert core(devcore_app, "GET", "/recipe/dashboard/users") == {"status": "OK", "users": []}


def test_three_free_dashboard_users_and_the_rest_are_suspended(devcore: DevCore) -> None:
    free = devcore.create_app()
    for n in range(3):
        create_admin(free, email=f"admin{n}@example.com")
    fourth = requests.post(
        free + "/recipe/dashboard/user",
        json={"email": "admin3@example.com", "password": ADMIN_PASSWORD},
        timeout=10,
    )
    assert fourth.status_code == 402
    assert fourth.text.startswith("Free user limit reached.")
    assert len(core(free, "GET", "/recipe/dashboard/users")["users"]) == 3

    with DevCore(licensed=True) as licensed_core:
        licensed = licensed_core.create_app()
        for n in range(4):
            create_admin(licensed, email=f"admin{n}@example.com")
        assert len(core(licensed, "GET", "/recipe/dashboard/users")["users"]) == 4
        body = {"email": "admin3@example.com", "password": ADMIN_PASSWORD}
        assert core(licensed, "POST", "/recipe/dashboard/signin", json=body)["status"] == "OK"
