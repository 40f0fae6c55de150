"""The default send quota against SuperTokens' prebuilt UI's timing, over HTTP (FastAPI,
Flask): a user who signs in again right after signing up gets their first code (it used
to be refused by the cooldown, leaving the prebuilt screen blank), and "Resend", offered
15 seconds after a send, is served."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from st_twofactor.devcore import DevCore
from st_twofactor.kernel.send_quota import SendQuota
from st_twofactor.testing import reset_supertokens

from ..helpers.codes_harness import Harness, codes_request
from ..helpers.mfa_harness import make_app
from ..helpers.sdk import body

RESEND_AFTER = 15
"""Seconds after which SuperTokens' prebuilt passwordless screens offer "Resend"."""


@pytest.fixture(params=["fastapi", "flask"])
def h(request: pytest.FixtureRequest, devcore: DevCore, devcore_app: str) -> Iterator[Harness]:
    yield make_app(str(request.param), devcore, devcore_app, send_quota=SendQuota())
    reset_supertokens()


def test_signing_in_right_after_signing_up_gets_the_first_code(h: Harness) -> None:
    tokens = h.signed_up("quick@example.com")
    h.complete_with_email(tokens, "quick@example.com")
    h.clock.advance(5)
    again = h.signed_in("quick@example.com")
    device, _ = h.ask_ok(again, email="quick@example.com")  # not held back by sign-up's
    # The same session asking again at once is held back by the cooldown:
    refused = body(h.post("/auth/signinup/code", again, {"email": "quick@example.com"}))
    assert refused["status"] == "GENERAL_ERROR" and refused["retryAfterMs"] > 0
    # ... and "Resend", when the prebuilt UI offers it, is served.
    h.clock.advance(RESEND_AFTER)
    resent = h.post("/auth/signinup/code/resend", again, codes_request(device))
    assert body(resent) == {"status": "OK"}
    code = h.outbox[-1].code
    assert body(h.consume(again, device, code))["status"] == "OK"
    assert h.protected(again) == 200


@pytest.mark.slow
def test_many_sign_ins_still_meet_the_hourly_cap(h: Harness) -> None:
    tokens = h.signed_up("often@example.com")
    h.complete_with_email(tokens, "often@example.com")
    sent = 1
    for _ in range(10):
        h.clock.advance(1)
        again = h.signed_in("often@example.com")
        _, message = h.ask(again, email="often@example.com")
        sent += message is not None
    assert sent == SendQuota().per_hour
