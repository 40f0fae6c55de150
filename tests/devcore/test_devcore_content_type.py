"""The development core reads JSON only: any other body type is a 415 that changes nothing.

A web page may send a cross-origin ``POST`` without asking the server first (no CORS
preflight) only with a ``text/plain``, ``application/x-www-form-urlencoded`` or
``multipart/form-data`` body, or with no Content-Type at all (a ``Blob`` body, or no
body). So a page open in the developer's browser could otherwise reach a core on
127.0.0.1 and sign users up, change metadata or remove users. The core refuses every
request that has a body, or is a POST, unless it says ``Content-Type: application/json``
(parameters such as ``charset`` allowed: the SDK sends ``application/json;
charset=utf-8``), and any request that declares another type. Bodyless GET and DELETE
(the SDK's) are unchanged.
"""

from __future__ import annotations

import json

import pytest
import requests

from st_twofactor.devcore import DevCore

from ..helpers.devcore_recipes import app_id_of, rows

SIGNUP = json.dumps({"email": "csrf@example.com", "password": "pw-123456789"}).encode()
NOT_JSON = [
    "text/plain",
    "text/plain;charset=UTF-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/jsonx",
    "application/json-patch+json",
    "text/json",
    "",
]


def users(core: DevCore, connection_uri: str) -> list[str]:
    found = rows(core, "SELECT email FROM users WHERE app_id=?", app_id_of(connection_uri))
    return [row["email"] for row in found]


@pytest.mark.parametrize("content_type", [*NOT_JSON, None])
def test_a_body_that_is_not_declared_json_is_a_415_and_creates_nothing(
    devcore: DevCore, devcore_app: str, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    answer = requests.post(
        devcore_app + "/public/recipe/signup", data=SIGNUP, headers=headers, timeout=10
    )
    assert answer.status_code == 415, answer.text
    assert answer.text == "Content-Type must be application/json\n"
    assert answer.headers["content-type"].startswith("text/plain")
    assert users(devcore, devcore_app) == []


@pytest.mark.parametrize("content_type", [*NOT_JSON, None])
def test_a_bodyless_post_that_is_not_declared_json_is_a_415(
    devcore: DevCore, devcore_app: str, content_type: str | None
) -> None:
    """A cross-origin page can send an empty POST too (no body, or an empty form)."""
    headers = {} if content_type is None else {"Content-Type": content_type}
    answer = requests.post(devcore_app + "/public/recipe/signup", headers=headers, timeout=10)
    assert answer.status_code == 415, answer.text
    hello = requests.post(devcore_app + "/hello", headers=headers, timeout=10)
    assert hello.status_code == 415, hello.text


@pytest.mark.parametrize("content_type", NOT_JSON)
def test_a_put_that_is_not_declared_json_changes_nothing(
    devcore_app: str, content_type: str
) -> None:
    update = json.dumps({"userId": "u", "metadataUpdate": {"role": "admin"}})
    answer = requests.put(
        devcore_app + "/recipe/user/metadata",
        data=update,
        headers={"Content-Type": content_type},
        timeout=10,
    )
    assert answer.status_code == 415, answer.text
    stored = requests.get(
        devcore_app + "/recipe/user/metadata", params={"userId": "u"}, timeout=10
    ).json()
    assert stored == {"status": "OK", "metadata": {}}


def test_two_content_types_are_a_415(devcore: DevCore, devcore_app: str) -> None:
    """Two headers could be read either way; the core takes neither."""
    import http.client
    from urllib.parse import urlsplit

    url = urlsplit(devcore_app)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        conn.putrequest("POST", url.path + "/public/recipe/signup")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Type", "text/plain")
        conn.putheader("Content-Length", str(len(SIGNUP)))
        conn.endheaders(SIGNUP)
        assert conn.getresponse().status == 415
    finally:
        conn.close()
    assert users(devcore, devcore_app) == []


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "Application/JSON;Charset=UTF-8"],
)
def test_json_bodies_are_read(devcore: DevCore, devcore_app: str, content_type: str) -> None:
    answer = requests.post(
        devcore_app + "/public/recipe/signup",
        data=SIGNUP,
        headers={"Content-Type": content_type},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "OK"
    assert users(devcore, devcore_app) == ["csrf@example.com"]


def test_bodyless_get_and_delete_need_no_content_type(devcore_app: str) -> None:
    got = requests.get(devcore_app + "/recipe/user/metadata", params={"userId": "u"}, timeout=10)
    assert got.status_code == 200, got.text
    removed = requests.delete(
        devcore_app + "/recipe/dashboard/user", params={"email": "nobody@example.com"}, timeout=10
    )
    assert removed.status_code == 200, removed.text
    assert removed.json() == {"status": "OK", "didUserExist": False}
