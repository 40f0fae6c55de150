"""What the attack tests share: an enrolled user, hostile request bodies, and a step-up
refusal read."""

from __future__ import annotations

from typing import Any

from .twofactor_app import Harness, Tokens

CLAIM = "2fa-completed"

HOSTILE_BODIES: list[tuple[str, bytes]] = [
    ("not json", b"{code: 123456"),
    ("invalid utf-8", b'{"code": "\xff\xfe"}'),
    ("lone surrogate", b'{"code": "\\ud800123456"}'),
    ("deep nesting", b'{"code": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
    ("huge", b'{"code": "' + b"1" * 1_000_000 + b'"}'),
    ("array", b"[1, 2, 3]"),
    ("number", b"123456"),
    ("string", b'"123456"'),
    ("nul", b'{"code": "123\\u0000456", "deviceName": "a\\u0000b"}'),
    ("wrong types", b'{"code": {"$gt": ""}, "deviceName": 5, "rememberDevice": "yes"}'),
    ("arabic digits", '{"code": "١٢٣٤٥٦"}'.encode()),
    ("fullwidth digits", '{"code": "\uff11\uff12\uff13\uff14\uff15\uff16"}'.encode()),
]


def claim_reason(response: Any) -> dict[str, Any]:
    assert response.status_code == 403, (response.status_code, response.text)
    errors = response.json()["claimValidationErrors"]
    # st-mfa (what SuperTokens' MFA frontends read) is named too when 2FA is not complete
    assert [e["id"] for e in errors] in ([CLAIM], [CLAIM, "st-mfa"])
    reason = errors[0]["reason"]
    assert isinstance(reason, dict)
    return reason


def enrolled(h: Harness, email: str) -> tuple[Tokens, str, list[str]]:
    """A user with TOTP and recovery codes; their completed session, secret and codes."""
    tokens = h.signed_up(email)
    secret, codes = h.enrol_totp(tokens)
    h.clock.advance(30)
    return tokens, secret, codes
