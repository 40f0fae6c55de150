"""Random input to the user-facing routes of the development core: never a 500.

Every route of the user, emailpassword, thirdparty, emailverification, metadata
and roles modules gets bodies and query strings built from the fields those
routes read, with values of every JSON type.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from st_twofactor.devcore import (
    DevCore,
    _emailpassword,
    _emailverification,
    _metadata,
    _roles,
    _thirdparty,
    _user_queries,
    _user_routes,
)

_ROLE = ["role", "permissions", "permission", "userId"]
_USER_AND_EMAIL = ["userId", "email"]
# The fields each route reads (bodies and query strings are built from these).
ROUTE_FIELDS: dict[str, list[str]] = {
    "/user/id": ["userId"],
    "/users/by-accountinfo": [
        "email",
        "phoneNumber",
        "thirdPartyId",
        "thirdPartyUserId",
        "doUnionOfAccountInfo",
    ],
    "/users": ["limit", "paginationToken", "timeJoinedOrder", "includeRecipeIds", "email", "phone"],
    "/users/count": ["includeRecipeIds", "includeAllTenants"],
    "/user/remove": ["userId", "removeAllLinkedAccounts"],
    "/user/search/tags": [],
    "/recipe/user": [
        "recipeUserId",
        "userId",
        "email",
        "password",
        "thirdPartyId",
        "thirdPartyUserId",
    ],
    "/recipe/signup": ["email", "password"],
    "/recipe/signin": ["email", "password"],
    "/recipe/user/password/reset/token": _USER_AND_EMAIL,
    "/recipe/user/password/reset/token/consume": ["token"],
    "/recipe/signinup": ["thirdPartyId", "thirdPartyUserId", "email"],
    "/recipe/user/email/verify/token": _USER_AND_EMAIL,
    "/recipe/user/email/verify": ["method", "token", *_USER_AND_EMAIL],
    "/recipe/user/email/verify/remove": _USER_AND_EMAIL,
    "/recipe/user/email/verify/token/remove": _USER_AND_EMAIL,
    "/recipe/user/metadata": ["userId", "metadataUpdate"],
    "/recipe/user/metadata/remove": ["userId"],
    "/recipe/role": _ROLE,
    "/recipe/role/permissions": _ROLE,
    "/recipe/role/permissions/remove": _ROLE,
    "/recipe/permission/roles": _ROLE,
    "/recipe/role/remove": _ROLE,
    "/recipe/roles": [],
    "/recipe/user/role": _ROLE,
    "/recipe/user/role/remove": _ROLE,
    "/recipe/user/roles": _ROLE,
    "/recipe/role/users": _ROLE,
}
ALL_FIELDS = sorted({name for names in ROUTE_FIELDS.values() for name in names})

ROUTES = sorted(
    (method, path, route.tenant_scoped)
    for module in (
        _user_routes,
        _user_queries,
        _emailpassword,
        _thirdparty,
        _emailverification,
        _metadata,
        _roles,
    )
    for (method, path), route in module.routes.table.items()
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["id", "isVerified", "a"]), children, max_size=3)
    ),
    max_leaves=6,
)
plausible: dict[str, st.SearchStrategy[Any]] = {
    "metadataUpdate": st.dictionaries(st.text(max_size=4), json_values, max_size=3),
    "permissions": st.lists(st.text(max_size=4), max_size=3),
    "removeAllLinkedAccounts": st.booleans(),
    "email": st.sampled_from(["a@example.com", " A@Example.com ", ""])
    | st.fixed_dictionaries({"id": st.text(max_size=8), "isVerified": st.booleans()}),
}


def bodies(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Each field present half the time, mostly well typed, sometimes any JSON value."""
    return st.fixed_dictionaries(
        {},
        optional={name: plausible.get(name, st.text(max_size=8)) | json_values for name in fields},
    )


def queries(fields: list[str]) -> st.SearchStrategy[dict[str, str]]:
    words = st.text(max_size=6) | st.sampled_from(["true", "false", "0", "501", "emailpassword"])
    return st.fixed_dictionaries({}, optional={name: words for name in fields})


@pytest.fixture(scope="module")
def app_url(devcore: DevCore) -> str:
    return devcore.create_app()


@pytest.mark.parametrize(("method", "path", "tenant_scoped"), ROUTES)
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data(), rid=st.sampled_from(["emailpassword", "thirdparty", "x"]))
def test_random_input_never_fails_the_core(
    app_url: str, method: str, path: str, tenant_scoped: bool, data: st.DataObject, rid: str
) -> None:
    fields = ROUTE_FIELDS.get(path, ALL_FIELDS)
    url = app_url + ("/public" if tenant_scoped else "") + path
    if method == "GET":
        request = {"params": data.draw(queries(fields))}
    else:
        request = {"data": json.dumps(data.draw(bodies(fields)))}
    headers = {"rid": rid, "Content-Type": "application/json"}
    answer = requests.request(method, url, headers=headers, timeout=10, **request)
    assert answer.status_code in (200, 400), (answer.status_code, answer.text)
