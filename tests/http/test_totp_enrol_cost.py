"""What a TOTP enrolment costs the app in each dialect: the library's own API draws the QR
code once and answers it; SuperTokens' TOTP dialect, whose UI draws the code from the URI
it answers, draws none; both read the account name while the device is stored, and make
the same core calls."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote

import pytest

from st_twofactor.devcore import DevCore
from st_twofactor.factors.totp import algorithm as totp
from st_twofactor.stores import UserMetadataStore
from st_twofactor.testing import reset_supertokens

from ..helpers.codes_harness import Harness
from ..helpers.mfa_harness import make_app, totp_post
from ..helpers.sdk import Tokens, body

MakeApp = Callable[..., Harness]


@pytest.fixture
def make(devcore: DevCore, devcore_app: str) -> Iterator[MakeApp]:
    def build(**options: Any) -> Harness:
        return make_app("fastapi", devcore, devcore_app, **options)

    yield build
    reset_supertokens()


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URIs whose QR code is drawn."""
    uris: list[str] = []
    real = totp.qr_svg

    def counted(uri: str, **options: Any) -> str:
        uris.append(uri)
        return real(uri, **options)

    monkeypatch.setattr(totp, "qr_svg", counted)
    return uris


def test_the_library_api_draws_the_qr_code_once_and_answers_it(
    make: MakeApp, drawn: list[str]
) -> None:
    h = make()
    tokens = h.signed_up("own@example.com")
    created = body(h.post("/auth/2fa/totp/device", tokens, {}))
    assert created["status"] == "OK"
    assert drawn == [created["otpauthUri"]]
    assert created["qrCodeSvg"] == totp.qr_svg(created["otpauthUri"])
    assert "own@example.com" in unquote(created["otpauthUri"])


def test_the_mfa_dialect_draws_no_qr_code(make: MakeApp, drawn: list[str]) -> None:
    """Its answer carries the URI only (``qrCodeString``): drawing the code too cost the
    event loop milliseconds for nothing."""
    h = make()
    tokens = h.signed_up("theirs@example.com")
    created = body(totp_post(h, "/auth/totp/device", tokens, {}))
    assert set(created) == {"status", "deviceName", "secret", "qrCodeString"}
    assert drawn == []
    assert "theirs@example.com" in unquote(created["qrCodeString"])  # the account was read


def _enrol(h: Harness, tokens: Tokens, mfa: bool) -> list[str]:
    """Both requests of an enrolment; the core calls they made."""
    before = len(h.core_paths())
    if mfa:
        created = body(totp_post(h, "/auth/totp/device", tokens, {}))
        code = totp.code_at(created["secret"], h.clock())
        payload = {"deviceName": created["deviceName"], "totp": code}
        verified = body(totp_post(h, "/auth/totp/device/verify", tokens, payload))
    else:
        created = body(h.post("/auth/2fa/totp/device", tokens, {}))
        code = totp.code_at(created["secret"], h.clock())
        payload = {"deviceName": created["deviceName"], "code": code}
        verified = body(h.post("/auth/2fa/totp/device/verify", tokens, payload))
    assert verified["status"] == "OK", verified
    return h.core_paths()[before:]


def test_an_enrolment_is_six_core_calls_in_either_dialect(make: MakeApp) -> None:
    """With the user's metadata as the store: the state read, the account read (at the
    same time) and the device written; then the state read, the device activated, and
    the session's claim updated."""
    h = make(store=UserMetadataStore())
    own = _enrol(h, h.signed_up("six@example.com"), mfa=False)
    theirs = _enrol(h, h.signed_up("six-mfa@example.com"), mfa=True)
    expected = [
        "GET /recipe/user/metadata",
        "GET /user/id",
        "PUT /recipe/user/metadata",
        "GET /recipe/user/metadata",
        "PUT /recipe/user/metadata",
        "POST /recipe/session/regenerate",
    ]
    assert sorted(own) == sorted(theirs) == sorted(expected)
    assert own[3:] == theirs[3:] == expected[3:]
