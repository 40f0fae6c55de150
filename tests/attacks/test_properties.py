"""Property-based tests (hypothesis) over every 2FA endpoint with arbitrary input (S13).

For each endpoint of the 2FA API and of the overridden passwordless recipe, hypothesis
sends arbitrary JSON bodies (any types, nesting, lengths, unicode, the endpoints' own
field names with hostile values), arbitrary bytes, and arbitrary query strings, from a
freshly completed session, a password-only session or no session at all. The properties:

- never a 5xx: every answer is a 2xx with a ``status`` or a 4xx;
- without a session, always 401, and nothing is sent (on the passwordless endpoints
  the SDK validates the body before the override asks for the session, so a malformed
  body is a 400, or ``GENERAL_ERROR`` for a malformed e-mail address or phone number);
- a refused request (4xx) leaves the user's stored 2FA state exactly as it was; a
  ``200`` whose status is not ``OK`` (a wrong code) may count the attempt, and nothing
  else: factors, codes, contacts and the epoch are unchanged.

The user has every factor (TOTP, recovery codes, a pinned e-mail); the state is put back
after each example, so an accepted request (e.g. removing the device) does not change
what the next example sees. Example counts are bounded (``EXAMPLES``) so that the
module runs in about a minute on two cores.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from st_twofactor.devcore import DevCore
from st_twofactor.http._body import MAX_BODY_BYTES
from st_twofactor.http.routes import ROUTES
from st_twofactor.testing import reset_supertokens

from ..helpers.twofactor_app import Harness, Tokens, make_harness, user_id_of

EXAMPLES = 300
"""Examples per POST endpoint for JSON bodies; raw bytes and GET queries get a third."""

POST_PATHS = [f"/auth{path}" for method, path, _ in ROUTES if method == "post"] + [
    "/auth/signinup/code",
    "/auth/signinup/code/resend",
    "/auth/signinup/code/consume",
]
GET_PATHS = [f"/auth{path}" for method, path, _ in ROUTES if method == "get"] + [
    "/auth/passwordless/email/exists",
    "/auth/passwordless/phonenumber/exists",
]
FIELDS = [
    "code",
    "deviceName",
    "rememberDevice",
    "email",
    "phoneNumber",
    "preAuthSessionId",
    "deviceId",
    "userInputCode",
    "linkCode",
    "shouldTryLinkingWithSessionUser",
]
FACTOR_FIELDS = ("totp_devices", "last_totp_step", "email", "phone", "recovery_codes", "epoch")
EMAIL = "prop@example.com"
PENDING: dict[str, str] = {}
"""The ids of a code the fresh session asked for and did not use (set by ``world``)."""
FIELDS_OF: dict[str, list[str]] = {
    "/auth/2fa": [],
    "/auth/2fa/totp/device": ["deviceName"],
    "/auth/2fa/totp/device/verify": ["deviceName", "code", "rememberDevice"],
    "/auth/2fa/totp/verify": ["code", "rememberDevice"],
    "/auth/2fa/totp/device/remove": ["deviceName"],
    "/auth/2fa/recovery-code/verify": ["code", "rememberDevice"],
    "/auth/2fa/recovery-codes": [],
    "/auth/signinup/code": ["email", "phoneNumber", "shouldTryLinkingWithSessionUser"],
    "/auth/signinup/code/resend": ["preAuthSessionId", "deviceId"],
    "/auth/signinup/code/consume": ["preAuthSessionId", "deviceId", "userInputCode", "linkCode"],
}
"""The fields each endpoint reads."""
REQUIRED: dict[str, list[str]] = {
    "/auth/2fa/totp/device/verify": ["code"],
    "/auth/2fa/totp/verify": ["code"],
    "/auth/2fa/totp/device/remove": ["deviceName"],
    "/auth/2fa/recovery-code/verify": ["code"],
    "/auth/signinup/code/resend": ["preAuthSessionId", "deviceId"],
    "/auth/signinup/code/consume": ["preAuthSessionId", "deviceId", "userInputCode"],
}
"""The fields without which an endpoint can only answer 400."""

SETTINGS = settings(
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),  # the bounds are the point, not speed or size
)


class World(dict[str, Any]):
    """What the tests share; a short repr, so failures print the example, not the tokens."""

    def __repr__(self) -> str:
        return "World(app, user, sessions)"


@pytest.fixture(scope="module")
def world(devcore: DevCore) -> Iterator[World]:
    """One app and one user with every factor; a fresh session and a password-only one."""
    h = make_harness(devcore.create_app())
    fresh = h.signed_up(EMAIL)
    h.enrol_totp(fresh)
    device, sent = h.ask_code(fresh, email=EMAIL)
    assert sent is not None
    assert h.consume(fresh, device.json(), sent.code).json()["status"] == "OK"
    pending, _ = h.ask_code(fresh, email=EMAIL)  # left unused: consume/resend can find it
    PENDING.update(pending.json())
    password_only = h.signed_in(EMAIL)
    user_id = user_id_of(fresh)
    baseline = h.document(user_id)
    assert set(h.state(user_id).factor_ids()) == {"totp", "otp-email", "recovery-code"}
    yield World(
        h=h,
        sessions={"fresh": fresh, "password-only": password_only, "none": None},
        user_id=user_id,
        baseline=baseline,
    )
    reset_supertokens()


# -- strategies --

TRICKY_CHARACTERS = [
    "\ud800",  # lone high surrogate: json.dumps sends it as the escape \\ud800
    "\udfff",  # lone low surrogate
    "\x00",
    "\x1f",
    "\x7f",
    "\x85",  # C1 control
    "\u200b",  # zero-width space
    "\u202e",  # right-to-left override
    "\ufeff",
]
any_character = st.characters(codec=None, exclude_categories=()) | st.sampled_from(
    TRICKY_CHARACTERS
)
"""Every code point, surrogates and controls included, with the tricky ones drawn often."""


def any_text(**bounds: int) -> st.SearchStrategy[str]:
    """Strings of :data:`any_character`, joined from a list: ``st.text()`` leaves
    surrogates out even when its alphabet has them."""
    return st.lists(any_character, **bounds).map("".join)


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | any_text(max_size=80)
)
hostile_strings = st.integers(MAX_BODY_BYTES - 10, MAX_BODY_BYTES + 10).map(
    lambda n: "x" * n  # around the body size limit
) | st.sampled_from(
    [
        "",
        " ",
        "123456",
        "1234567",
        "12345",
        "00000000",
        "\u0661\u0662\u0663\u0664\u0665\u0666",  # Arabic-Indic digits
        "\uff11\uff12\uff13\uff14\uff15\uff16",  # fullwidth digits
        "12345\u0000",
        "aaaaa-aaaaa",
        "ooooo-iiiii",
        "authenticator",
        "authenticator\u200b",
        "authentic\u0430tor",  # a Cyrillic a
        "a\udfff@example.com",
        "phone\ud83d",
        EMAIL,
        EMAIL.upper(),
        "attacker@evil.example",
        "+14155550100",
        "\U0001f600\U0001f600",
        "' OR 1=1 --",
        "../../etc/passwd",
        "${jndi:ldap://x}",
        "AAAA====",
        "ZGV2aWNl",
    ]
)
json_values = st.recursive(
    scalars | hostile_strings,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(any_text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "code": st.from_regex(r"[0-9]{6}", fullmatch=True)
    | st.from_regex(r"[0-9a-z]{5}-[0-9a-z]{5}", fullmatch=True),
    "deviceName": any_text(min_size=1, max_size=70) | st.just("authenticator"),
    "rememberDevice": st.booleans(),
    "email": st.just(EMAIL) | st.emails(),
    "phoneNumber": st.from_regex(r"\+[0-9]{6,15}", fullmatch=True),
    "preAuthSessionId": st.from_regex(r"[A-Za-z0-9_-]{43}", fullmatch=True)
    | st.builds(lambda: PENDING["preAuthSessionId"]),
    "deviceId": st.from_regex(r"[A-Za-z0-9+/]{43}=", fullmatch=True)
    | st.builds(lambda: PENDING["deviceId"]),
    "userInputCode": st.from_regex(r"[0-9]{6}", fullmatch=True),
    "linkCode": st.from_regex(r"[A-Za-z0-9_-]{43}", fullmatch=True),
    "shouldTryLinkingWithSessionUser": st.booleans(),
}
"""Values of the right shape for each field, so that examples get past the parsing and
exercise the checks behind it (wrong codes, unknown devices, other destinations)."""


def value_for(name: str) -> st.SearchStrategy[Any]:
    """Mostly a value of the right shape for the field ``name``, sometimes a hostile one."""
    return st.one_of(*[PLAUSIBLE[name]] * 6, hostile_strings, json_values)


def shaped(
    fields: list[str], required: tuple[str, ...] | list[str] = ()
) -> st.SearchStrategy[dict[str, Any]]:
    """Bodies with ``required`` and some of the other ``fields``."""
    return st.fixed_dictionaries(
        {name: value_for(name) for name in required},
        optional={name: value_for(name) for name in fields if name not in required},
    )


def bodies(path: str) -> st.SearchStrategy[Any]:
    """For ``path``: bodies with its required fields, with some of its fields, with any
    field, any object, any JSON value."""
    own = FIELDS_OF[path]
    pending: list[st.SearchStrategy[Any]] = []
    if path.startswith("/auth/signinup/code/"):
        # The ids of a real pending code, with other fields: past the id checks.
        pending = [
            st.builds(lambda code: {**PENDING, "userInputCode": code}, value_for("userInputCode"))
        ] * 3
    return st.one_of(
        *pending,
        shaped(own, REQUIRED.get(path, [])),
        shaped(own, REQUIRED.get(path, [])),
        shaped(own),
        shaped(FIELDS),
        st.dictionaries(st.sampled_from(FIELDS) | any_text(max_size=12), json_values, max_size=6),
        json_values,
    )


sessions = st.sampled_from(["fresh", "password-only", "none"])


# -- the properties --


def check(world: dict[str, Any], kind: str, response: Any, where: str, sent_before: int) -> None:
    h: Harness = world["h"]
    user_id: str = world["user_id"]
    baseline: dict[str, Any] = world["baseline"]
    code = response.status_code
    answer = response.json().get("status") if code == 200 else None
    event(f"{kind}: {code} {answer or ''}".strip())
    try:
        assert code < 500, (where, code, response.text[:300])
        if kind == "none":
            # 401; or, on the passwordless endpoints, the SDK's own input check, which runs
            # before the override asks for the session: 400, or GENERAL_ERROR for a
            # malformed e-mail or phone number. Never anything else, and nothing is sent.
            assert code == 401 or code == 400 or answer == "GENERAL_ERROR", (where, code)
            assert len(h.outbox) == sent_before, where
        after = h.document(user_id)
        if 400 <= code < 500:
            assert after == baseline, (where, code, response.text[:300])
        elif code == 200:
            status = response.json().get("status")
            assert isinstance(status, str), (where, response.text[:300])
            if status != "OK":
                for name in FACTOR_FIELDS:
                    assert after[name] == baseline[name], (where, name, response.text[:300])
        else:
            raise AssertionError((where, code, response.text[:300]))
    finally:
        h.restore(user_id, baseline)


def send(world: dict[str, Any], kind: str, path: str, raw: bytes) -> Any:
    h: Harness = world["h"]
    tokens: Tokens | None = world["sessions"][kind]
    headers = {"Content-Type": "application/json"}
    return h.request("POST", path, tokens, headers=headers, content=raw)


@pytest.mark.slow
@pytest.mark.parametrize("path", POST_PATHS)
@settings(SETTINGS, max_examples=EXAMPLES)
@given(data=st.data(), kind=sessions, ascii_only=st.booleans())
def test_any_json_body_never_500_and_refusals_change_nothing(
    world: dict[str, Any], path: str, data: st.DataObject, kind: str, ascii_only: bool
) -> None:
    body = data.draw(bodies(path), label="body")
    # ASCII: surrogates go as JSON escapes; otherwise as their (invalid) UTF-8 bytes.
    raw = json.dumps(body, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    sent_before = len(world["h"].outbox)
    check(world, kind, send(world, kind, path, raw), path, sent_before)


@pytest.mark.slow
@pytest.mark.parametrize("path", POST_PATHS)
@settings(SETTINGS, max_examples=EXAMPLES // 3)
@given(raw=st.binary(max_size=300), kind=sessions)
def test_any_bytes_never_500_and_refusals_change_nothing(
    world: dict[str, Any], path: str, raw: bytes, kind: str
) -> None:
    sent_before = len(world["h"].outbox)
    check(world, kind, send(world, kind, path, raw), path, sent_before)


@pytest.mark.slow
@pytest.mark.parametrize("path", GET_PATHS)
@settings(SETTINGS, max_examples=EXAMPLES // 3)
@given(
    query=st.dictionaries(
        st.sampled_from(["email", "phoneNumber", "tenantId"]) | any_text(max_size=8),
        any_text(max_size=40) | hostile_strings,
        max_size=3,
    ),
    kind=sessions,
)
def test_any_query_never_500_and_changes_nothing(
    world: dict[str, Any], path: str, query: dict[str, str], kind: str
) -> None:
    h: Harness = world["h"]
    tokens: Tokens | None = world["sessions"][kind]
    encoded = urlencode(
        {
            k.encode("utf-8", "surrogatepass"): v.encode("utf-8", "surrogatepass")
            for k, v in query.items()
        }
    )
    sent_before = len(h.outbox)
    response = h.request("GET", f"{path}?{encoded}" if encoded else path, tokens)
    check(world, kind, response, path, sent_before)
