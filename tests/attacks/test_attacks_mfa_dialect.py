"""Attacks on the endpoints of SuperTokens' MFA and TOTP frontend recipes
(st_twofactor.http.mfa): every rule of ``/auth/2fa`` holds there too, and across both
dialects (one user's state, one kernel).

- a session with the password alone, or with a stale 2FA, cannot add or remove a device;
- a revoked session changes and completes nothing (401), even with an unexpired token;
- a TOTP code used on one dialect is refused on the other (replay);
- failures on one dialect count toward the lockout on the other, and the lockout holds on
  both;
- a refused request writes nothing; events are the same whichever dialect was used.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from supertokens_python.recipe.session.asyncio import revoke_all_sessions_for_user

from st_twofactor.devcore import DevCore
from st_twofactor.factors.totp import algorithm as totp
from st_twofactor.testing import reset_supertokens

from ..helpers.codes_harness import Harness, user_id_of
from ..helpers.mfa_harness import enrol_totp_mfa, make_app, put, totp_get, totp_post
from ..helpers.sdk import Tokens, body, invalid_claim_ids, jwt_payload, status

MakeApp = Callable[..., Harness]


@pytest.fixture(params=["fastapi", "flask"])
def make(request: pytest.FixtureRequest, devcore: DevCore, devcore_app: str) -> Iterator[MakeApp]:
    framework = str(request.param)

    def build(**options: Any) -> Harness:
        return make_app(framework, devcore, devcore_app, **options)

    yield build
    reset_supertokens()


def _enrolled(h: Harness, email: str) -> tuple[Tokens, str]:
    tokens = h.signed_up(email)
    return tokens, enrol_totp_mfa(h, tokens)


def test_password_alone_cannot_add_or_remove_a_device(make: MakeApp) -> None:
    h = make()
    owner, _ = _enrolled(h, "victim@example.com")
    user = user_id_of(owner)
    name = h.state(user).totp_devices[0].name
    h.clock.advance(60)
    attacker = h.signed_in("victim@example.com")  # the password, not the second factor
    before = h.document(user)

    added = totp_post(h, "/auth/totp/device", attacker, {})
    assert set(invalid_claim_ids(added)) == {"2fa-completed", "st-mfa"}
    removed = totp_post(h, "/auth/totp/device/remove", attacker, {"deviceName": name})
    assert set(invalid_claim_ids(removed)) == {"2fa-completed", "st-mfa"}
    activated = totp_post(
        h, "/auth/totp/device/verify", attacker, {"deviceName": "mine", "totp": "123456"}
    )
    assert status(activated) in (200, 403)
    assert body(activated).get("status") != "OK"
    assert h.document(user) == before
    assert "factor_removed" not in h.kinds()


def test_a_stale_2fa_cannot_add_or_remove_a_device(make: MakeApp) -> None:
    h = make()
    tokens, secret = _enrolled(h, "stale@example.com")
    user = user_id_of(tokens)
    name = h.state(user).totp_devices[0].name
    h.clock.advance(h.config.step_up_window + 1)
    before = h.document(user)
    for path, payload in (
        ("/auth/totp/device", {}),
        ("/auth/totp/device/remove", {"deviceName": name}),
    ):
        refused = totp_post(h, path, tokens, payload)
        assert invalid_claim_ids(refused) == ["2fa-completed"]  # completed, but not fresh
        reason = body(refused)["claimValidationErrors"][0]["reason"]
        assert reason["message"] == "expired"
    assert h.document(user) == before
    assert h.protected(tokens) == 200  # the session itself stays valid
    # A code presented now makes it fresh again, on either dialect.
    h.clock.advance(30)
    code = totp.code_at(secret, h.clock())
    assert body(totp_post(h, "/auth/totp/verify", tokens, {"totp": code}))["status"] == "OK"
    removed = totp_post(h, "/auth/totp/device/remove", tokens, {"deviceName": name})
    assert body(removed) == {"status": "OK", "didDeviceExist": True}


def test_a_revoked_session_changes_and_completes_nothing(make: MakeApp) -> None:
    h = make()
    tokens, secret = _enrolled(h, "revoked@example.com")
    user = user_id_of(tokens)
    name = h.state(user).totp_devices[0].name
    h.clock.advance(60)
    pending = h.signed_in("revoked@example.com")
    asyncio.run(revoke_all_sessions_for_user(user))
    h.clock.advance(30)
    before = h.document(user)
    code = totp.code_at(secret, h.clock())
    for session in (tokens, pending):
        assert status(put(h, "/auth/mfa/info", session)) == 401
        assert status(totp_get(h, "/auth/totp/device/list", session)) == 401
        assert status(totp_post(h, "/auth/totp/verify", session, {"totp": code})) == 401
        assert status(totp_post(h, "/auth/totp/device", session, {})) in (401, 403)
        removed = totp_post(h, "/auth/totp/device/remove", session, {"deviceName": name})
        assert status(removed) in (401, 403)
    assert h.document(user) == before
    assert jwt_payload(pending.access or "")["st-mfa"]["v"] is False


@pytest.mark.parametrize("first", ["2fa", "mfa"])
def test_a_code_used_on_one_dialect_is_refused_on_the_other(make: MakeApp, first: str) -> None:
    h = make()
    _, secret = _enrolled(h, f"replay-{first}@example.com")
    h.clock.advance(60)
    one = h.signed_in(f"replay-{first}@example.com")
    two = h.signed_in(f"replay-{first}@example.com")
    code = totp.code_at(secret, h.clock())
    routes = {
        "2fa": lambda t: h.post("/auth/2fa/totp/verify", t, {"code": code}),
        "mfa": lambda t: totp_post(h, "/auth/totp/verify", t, {"totp": code}),
    }
    second = "mfa" if first == "2fa" else "2fa"
    assert body(routes[first](one))["status"] == "OK"
    replayed = body(routes[second](two))
    assert replayed["status"] in ("INVALID_CODE_ERROR", "INVALID_TOTP_ERROR")
    assert h.protected(two) == 403
    assert jwt_payload(two.access or "")["st-mfa"]["v"] is False


def test_failures_on_both_dialects_share_one_lockout(make: MakeApp) -> None:
    h = make()
    _, secret = _enrolled(h, "lock@example.com")
    h.clock.advance(60)
    attacker = h.signed_in("lock@example.com")
    answers = []
    for i in range(5):
        h.clock.advance(1)
        if i % 2:
            answers.append(body(h.post("/auth/2fa/totp/verify", attacker, {"code": "000000"})))
        else:
            answers.append(body(totp_post(h, "/auth/totp/verify", attacker, {"totp": "000000"})))
    assert [a["status"] for a in answers] == [
        "INVALID_TOTP_ERROR",
        "INVALID_CODE_ERROR",
        "INVALID_TOTP_ERROR",
        "INVALID_CODE_ERROR",
        "LIMIT_REACHED_ERROR",
    ]
    assert answers[2]["currentNumberOfFailedAttempts"] == 3
    assert "locked_out" in h.kinds()
    code = totp.code_at(secret, h.clock())
    for_mfa = body(totp_post(h, "/auth/totp/verify", attacker, {"totp": code}))
    for_2fa = body(h.post("/auth/2fa/totp/verify", attacker, {"code": code}))
    assert for_mfa["status"] == for_2fa["status"] == "LIMIT_REACHED_ERROR"
    assert h.protected(attacker) == 403


def test_the_same_events_on_either_dialect(make: MakeApp) -> None:
    h = make()
    tokens, secret = _enrolled(h, "events@example.com")
    assert h.kinds().count("factor_enrolled") == 1
    h.clock.advance(30)
    totp_post(h, "/auth/totp/verify", tokens, {"totp": totp.code_at(secret, h.clock())})
    totp_post(h, "/auth/totp/verify", tokens, {"totp": "000000"})
    name = h.state(user_id_of(tokens)).totp_devices[0].name
    totp_post(h, "/auth/totp/device/remove", tokens, {"deviceName": name})
    kinds = h.kinds()
    for kind in ("verification_succeeded", "verification_failed", "factor_removed"):
        assert kind in kinds, kinds


def test_activating_a_verified_device_again_changes_nothing(make: MakeApp) -> None:
    """A right code sent to ``/totp/device/verify`` for an active device answers
    ``wasAlreadyVerified: true`` and neither re-enrols it nor ends remembered devices."""
    h = make()
    tokens, secret = _enrolled(h, "again@example.com")
    user = user_id_of(tokens)
    name = h.state(user).totp_devices[0].name
    epoch = h.state(user).epoch
    enrolled = h.kinds().count("factor_enrolled")
    h.clock.advance(30)
    code = totp.code_at(secret, h.clock())
    answer = body(
        totp_post(h, "/auth/totp/device/verify", tokens, {"deviceName": name, "totp": code})
    )
    assert answer["status"] == "OK" and answer["wasAlreadyVerified"] is True
    assert "recoveryCodes" not in answer
    assert h.state(user).epoch == epoch
    assert h.kinds().count("factor_enrolled") == enrolled


@pytest.mark.parametrize(
    "raw",
    [b"", b"null", b"[", b"{", b'{"totp": ', b"\xff\xfe", b'"x"', b"123", b'{"totp": {}}'],
)
def test_unparsable_bodies_are_4xx_never_5xx(make: MakeApp, raw: bytes) -> None:
    """Junk where a code or a device name is needed: 400, nothing written. (Starting an
    enrolment needs no field, so only bodies that are not JSON objects are junk there.)"""
    h = make()
    tokens, _ = _enrolled(h, "junk@example.com")
    user = user_id_of(tokens)
    before = h.document(user)
    paths = ["/auth/totp/verify", "/auth/totp/device/verify", "/auth/totp/device/remove"]
    if raw not in (b"", b"null", b'{"totp": {}}'):
        paths.append("/auth/totp/device")
    for path in paths:
        response = h.post_raw(path, tokens, raw)
        assert 400 <= status(response) < 500, (path, status(response))
    assert h.document(user) == before
