"""Security keys and passkeys as a second factor, over HTTP (DESIGN 5, 10.4).

The FastAPI harness (the SDK's middleware, the 2FA plugin, the development core) with
``"webauthn"`` enabled; a software authenticator plays the browser and the key. The
attacks are in ``test_attacks_webauthn.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import supertokens_python
from supertokens_python import InputAppInfo, SupertokensConfig, SupertokensExperimentalConfig

from st_twofactor import events
from st_twofactor.config import TwoFactorConfig
from st_twofactor.errors import ConfigurationError
from st_twofactor.factors.webauthn.policy import WebAuthnPolicy
from st_twofactor.factors.webauthn.records import PendingChallenge, WebAuthnCredential
from st_twofactor.http.routes import WEBAUTHN_ROUTES, twofactor_plugin
from st_twofactor.recipes import build_recipe_list
from st_twofactor.stores import TwoFactorState
from st_twofactor.testing import reset_supertokens
from st_twofactor.testing.webauthn import Algorithm, SoftwareAuthenticator

from ..helpers.sdk import jwt_payload
from ..helpers.twofactor_app import SECRET_KEY, Harness, make_harness, user_id_of
from ..helpers.webauthn_http import (
    AUTHENTICATE,
    AUTHENTICATE_OPTIONS,
    FACTORS,
    REGISTER,
    REMOVE,
    assertion,
    authenticate,
    register,
    register_options,
    send,
)

CLAIM = "2fa-completed"


@pytest.fixture
def make(devcore_app: str) -> Iterator[Callable[..., Harness]]:
    yield lambda **options: make_harness(devcore_app, **{"factors": FACTORS, **options})
    reset_supertokens()


@pytest.fixture
def h(make: Callable[..., Harness]) -> Harness:
    return make()


def claim_of(tokens: Any) -> Any:
    return jwt_payload(tokens.access)[CLAIM]


def test_enrol_complete_2fa_and_remove_a_security_key(h: Harness) -> None:
    """The whole journey: a new user adds a key (no step-up for a first factor), gets
    recovery codes and a completed session; signs in again and completes 2FA with the key
    (its sign count stored); GET /auth/2fa shows it; removing it (fresh 2FA) takes the
    recovery codes with it; the events say what happened."""
    tokens = h.signed_up("wa@example.com")
    user_id = user_id_of(tokens)
    overview = h.get("/auth/2fa", tokens).json()
    assert "webauthn" in overview["enabled"] and "webauthn" in overview["enrollable"]
    assert overview["securityKeys"] == []
    key = SoftwareAuthenticator()

    options = register_options(h, tokens, "YubiKey").json()
    assert options["status"] == "OK" and options["deviceName"] == "YubiKey"
    assert options["options"]["rp"] == {"id": "localhost", "name": "Attack Test"}
    assert options["options"]["attestation"] == "none"
    answer = h.post(
        REGISTER,
        tokens,
        {
            "deviceName": "YubiKey",
            "credential": key.register(options["options"], origin="http://localhost"),
        },
    ).json()
    assert answer["status"] == "OK" and len(answer["recoveryCodes"]) == 10
    assert claim_of(tokens)["v"] is True and claim_of(tokens)["m"] == "webauthn"
    assert h.protected(tokens) == 200
    state = h.state(user_id)
    assert state.factor_ids() == ["recovery-code", "webauthn"]
    assert [k.name for k in state.webauthn_credentials] == ["YubiKey"]
    # Its challenge is recorded as answered until it expires (single use).
    assert [c.purpose for c in state.webauthn_challenges] == ["register"]

    again = h.signed_in("wa@example.com")
    assert h.protected(again) == 403
    overview = h.get("/auth/2fa", again).json()
    assert overview["next"] == ["recovery-code", "webauthn"]
    assert overview["securityKeys"][0]["name"] == "YubiKey"
    assert authenticate(h, again, key).json() == {"status": "OK"}
    assert h.protected(again) == 200 and claim_of(again)["m"] == "webauthn"
    stored = h.state(user_id).webauthn_credentials[0]
    assert stored.sign_count == 1 and stored.last_used_at == h.clock()

    removed = h.post(REMOVE, again, {"deviceName": "YubiKey"}).json()
    assert removed == {"status": "OK", "didDeviceExist": True}
    state = h.state(user_id)
    assert state.webauthn_credentials == [] and state.recovery_codes == []
    assert h.post(REMOVE, again, {"deviceName": "YubiKey"}).json()["didDeviceExist"] is False
    kinds = [(type(e).__name__, getattr(e, "factor", None)) for e in h.seen]
    assert ("FactorEnrolled", "webauthn") in kinds
    assert ("VerificationSucceeded", "webauthn") in kinds
    assert ("FactorRemoved", "webauthn") in kinds


def test_a_passkey_without_a_counter_completes_2fa_every_time(h: Harness) -> None:
    """A synced passkey (sign count always 0, backup flags set) is a second factor too."""
    tokens = h.signed_up("passkey@example.com")
    passkey = SoftwareAuthenticator(counts=False, synced=True, transports=("internal",))
    assert register(h, tokens, passkey).json()["status"] == "OK"
    for _ in range(2):
        session = h.signed_in("passkey@example.com")
        assert authenticate(h, session, passkey).json() == {"status": "OK"}
        assert h.protected(session) == 200


@pytest.mark.parametrize("algorithm", ["ES256", "EdDSA", "RS256"])
def test_each_kind_of_key_enrols_and_completes_2fa(h: Harness, algorithm: Algorithm) -> None:
    """P-256, Ed25519 and RSA 2048 keys (the algorithms the options offer) all pass the
    registration's key checks and complete 2FA."""
    tokens = h.signed_up(f"{algorithm.lower()}@example.com")
    key = SoftwareAuthenticator(algorithm=algorithm)
    assert register(h, tokens, key).json()["status"] == "OK"
    session = h.signed_in(f"{algorithm.lower()}@example.com")
    assert authenticate(h, session, key).json() == {"status": "OK"}
    assert h.protected(session) == 200


def test_a_second_key_needs_a_fresh_2fa_and_is_listed(h: Harness) -> None:
    """S8: with a key enrolled, adding or removing one needs a 2FA presented in this
    session within the step-up window; a session that just presented one may."""
    tokens = h.signed_up("two@example.com")
    first, second = SoftwareAuthenticator(), SoftwareAuthenticator()
    assert register(h, tokens, first, "first").json()["status"] == "OK"
    password_only = h.signed_in("two@example.com")
    assert register_options(h, password_only, "second").status_code == 403
    assert h.post(REMOVE, password_only, {"deviceName": "first"}).status_code == 403
    h.clock.advance(301)
    assert register_options(h, tokens, "second").status_code == 403
    assert authenticate(h, tokens, first).json()["status"] == "OK"
    added = register(h, tokens, second, "second").json()
    assert added == {"status": "OK"}  # no new recovery codes: the user has some
    # A name taken between the options and the answer is refused at verify too.
    options = register_options(h, tokens, "third").json()["options"]
    credential = SoftwareAuthenticator().register(options, origin="http://localhost")
    taken = h.post(REGISTER, tokens, {"deviceName": "second", "credential": credential})
    assert taken.json() == {"status": "DEVICE_ALREADY_EXISTS_ERROR"}
    assert register_options(h, tokens, "second").json() == {"status": "DEVICE_ALREADY_EXISTS_ERROR"}
    names = [k["name"] for k in h.get("/auth/2fa", tokens).json()["securityKeys"]]
    assert names == ["first", "second"]
    # The authentication options list both keys; either completes 2FA.
    options = h.get(AUTHENTICATE_OPTIONS, tokens).json()["options"]
    assert {c["id"] for c in options["allowCredentials"]} == {
        *first.credential_ids,
        *second.credential_ids,
    }
    session = h.signed_in("two@example.com")
    assert authenticate(h, session, second).json()["status"] == "OK"


def test_a_key_beside_totp_adds_no_recovery_codes_and_removing_it_keeps_them(
    h: Harness,
) -> None:
    """Recovery codes come with the first real factor only and stay while one is left."""
    tokens = h.signed_up("beside@example.com")
    _, codes = h.enrol_totp(tokens)
    assert len(codes) == 10
    assert register(h, tokens, SoftwareAuthenticator(), "key").json() == {"status": "OK"}
    assert h.post(REMOVE, tokens, {"deviceName": "key"}).json()["didDeviceExist"] is True
    assert len(h.state(user_id_of(tokens)).recovery_codes) == 10


def test_remember_device_after_a_security_key(make: Callable[..., Harness]) -> None:
    """``rememberDevice`` with a key issues a remember-device token as for any factor."""
    h = make(remember_device=True)
    tokens = h.signed_up("remember@example.com")
    key = SoftwareAuthenticator()
    register(h, tokens, key)
    session = h.signed_in("remember@example.com")
    answer = authenticate(h, session, key, remember=True).json()
    assert answer["status"] == "OK" and answer["rememberDeviceToken"]
    assert any(isinstance(e, events.DeviceRemembered) for e in h.seen)


def test_the_failure_rule_counts_wrong_answers_and_locks_the_factor(h: Harness) -> None:
    """Every refused answer is counted against "webauthn": attempts left, then
    LIMIT_REACHED_ERROR with the throttle's wait; a right answer after the lockout
    ends completes 2FA; events as for every factor."""
    tokens = h.signed_up("fail@example.com")
    key = SoftwareAuthenticator()
    register(h, tokens, key)
    session = h.signed_in("fail@example.com")
    answers = [authenticate(h, session, key, bad_signature=True).json() for _ in range(5)]
    assert answers[:4] == [
        {"status": "INVALID_CREDENTIAL_ERROR", "attemptsLeft": left} for left in (4, 3, 2, 1)
    ]
    assert answers[4] == {"status": "LIMIT_REACHED_ERROR", "retryAfterMs": 900_000}
    # Locked: even a right answer is not checked.
    assert authenticate(h, session, key).json()["status"] == "LIMIT_REACHED_ERROR"
    assert h.protected(session) == 403
    assert "webauthn" not in h.get("/auth/2fa", session).json()["next"]
    assert h.get("/auth/2fa", session).json()["locked"]["webauthn"] > 0
    assert "webauthnOptions" not in h.get("/auth/2fa", session).json()  # not while locked
    failed = [e for e in h.seen if isinstance(e, events.VerificationFailed)]
    assert [e.factor for e in failed] == ["webauthn"] * 5
    assert any(isinstance(e, events.LockedOut) and e.factor == "webauthn" for e in h.seen)
    h.clock.advance(901)
    assert authenticate(h, session, key).json() == {"status": "OK"}


def test_the_status_carries_the_key_options(h: Harness) -> None:
    """GET /auth/2fa of a user with a key carries the options of the key's ceremony
    (a signed challenge for this session, the user's keys): a page answers them without
    asking for options, once; a user without a key gets none."""
    tokens = h.signed_up("status-options@example.com")
    assert "webauthnOptions" not in h.get("/auth/2fa", tokens).json()
    key = SoftwareAuthenticator(counts=False)
    assert register(h, tokens, key).json()["status"] == "OK"
    session = h.signed_in("status-options@example.com")
    overview = h.get("/auth/2fa", session).json()
    options = overview["webauthnOptions"]
    assert [c["id"] for c in options["allowCredentials"]] == key.credential_ids
    assert options["rpId"] == "localhost"
    answer = key.assertion(options, origin="http://localhost")
    other = h.signed_in("status-options@example.com")
    assert send(h, other, answer).json()["status"] == "INVALID_CREDENTIAL_ERROR"
    assert send(h, session, answer).json() == {"status": "OK"}
    assert h.protected(session) == 200
    assert send(h, session, answer).json()["status"] == "INVALID_CREDENTIAL_ERROR"
    fresh = h.get("/auth/2fa", session).json()["webauthnOptions"]
    assert fresh["challenge"] != options["challenge"]


def test_a_user_without_a_key_is_told_webauthn_is_not_enabled(h: Harness) -> None:
    tokens = h.signed_up("nokey@example.com")
    assert h.get(AUTHENTICATE_OPTIONS, tokens).json() == {"status": "WEBAUTHN_NOT_ENABLED_ERROR"}
    answer = h.post(AUTHENTICATE, tokens, {"credential": {"id": "AAAA"}}).json()
    assert answer == {"status": "WEBAUTHN_NOT_ENABLED_ERROR"}
    assert h.state(user_id_of(tokens)).throttle.factors == {}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (REGISTER, {}),
        (REGISTER, {"credential": "a string"}),
        (REGISTER, {"credential": [1, 2]}),
        (REGISTER, {"credential": {}, "deviceName": "x" * 65}),
        (REGISTER, {"credential": {}, "deviceName": 5}),
        (REGISTER, {"credential": {}, "rememberDevice": "yes"}),
        (AUTHENTICATE, {}),
        (AUTHENTICATE, {"credential": None}),
        (AUTHENTICATE, {"credential": {}, "rememberDevice": 1}),
        (REMOVE, {}),
        (REMOVE, {"deviceName": ""}),
        (REMOVE, {"deviceName": "a\nb"}),
        (REGISTER, [1, 2]),
    ],
)
def test_malformed_bodies_are_400_and_change_nothing(h: Harness, path: str, body: Any) -> None:
    tokens = h.signed_up("bad@example.com")
    key = SoftwareAuthenticator()
    register(h, tokens, key, "key")
    h.get(AUTHENTICATE_OPTIONS, tokens)  # a pending challenge that must survive
    before = h.document(user_id_of(tokens))
    response = h.post(path, tokens, body)
    assert response.status_code == 400, response.text
    assert response.json()["message"]
    assert h.document(user_id_of(tokens)) == before


def test_a_malformed_device_name_in_the_query_is_400(h: Harness) -> None:
    tokens = h.signed_up("query@example.com")
    response = register_options(h, tokens, "x" * 65)
    assert response.status_code == 400 and response.json()["message"]
    assert h.state(user_id_of(tokens)).webauthn_challenges == []


def test_hostile_credentials_are_refused_without_500(h: Harness) -> None:
    """Any JSON object as ``credential`` is a refusal, never a 500; it counts toward the
    lockout only when it names one of the user's keys (I4: junk cannot lock the owner out)."""
    tokens = h.signed_up("hostile@example.com")
    key = SoftwareAuthenticator()
    register(h, tokens, key)
    session = h.signed_in("hostile@example.com")
    hostile: list[Any] = [
        {},
        {"id": 5},
        {"id": key.credential_ids[0], "rawId": key.credential_ids[0], "response": "x"},
        {"id": "!!", "rawId": "!!", "type": "public-key", "response": {}},
        {"id": key.credential_ids[0], "response": {"clientDataJSON": "e30", "signature": []}},
    ]
    statuses = []
    for credential in hostile:
        h.get(AUTHENTICATE_OPTIONS, session)
        response = h.post(AUTHENTICATE, session, {"credential": credential})
        assert response.status_code == 200, (credential, response.text)
        statuses.append(response.json()["status"])
    assert statuses == ["INVALID_CREDENTIAL_ERROR"] * 5
    assert h.protected(session) == 403


def test_no_session_is_401_on_every_webauthn_route(h: Harness) -> None:
    for method, path, _ in WEBAUTHN_ROUTES:
        response = h.request(method.upper(), "/auth" + path, None, {"credential": {}})
        assert response.status_code == 401, path


def test_the_routes_are_not_served_when_the_factor_is_off(make: Callable[..., Harness]) -> None:
    h = make(factors=("totp", "recovery-code"))
    tokens = h.signed_up("off@example.com")
    for method, path, _ in WEBAUTHN_ROUTES:
        assert h.request(method.upper(), "/auth" + path, tokens, {}).status_code == 404, path
    assert "webauthn" not in h.get("/auth/2fa", tokens).json()["enabled"]


def test_a_configured_policy_is_used_instead_of_app_info(make: Callable[..., Harness]) -> None:
    policy = WebAuthnPolicy(rp_id="localhost", rp_name="Custom", origins=("http://localhost:3000",))
    h = make(webauthn=policy)
    tokens = h.signed_up("custom@example.com")
    options = register_options(h, tokens).json()["options"]
    assert options["rp"] == {"id": "localhost", "name": "Custom"}
    key = SoftwareAuthenticator()
    refused = h.post(
        REGISTER,
        tokens,
        {"credential": key.register(options, origin="http://localhost")},  # not allowed now
    ).json()
    assert refused["status"] == "INVALID_CREDENTIAL_ERROR"
    options = register_options(h, tokens).json()["options"]
    credential = key.register(options, origin="http://localhost:3000")
    assert h.post(REGISTER, tokens, {"credential": credential}).json()["status"] == "OK"


def test_config_refuses_a_policy_of_the_wrong_type() -> None:
    with pytest.raises(ConfigurationError, match="WebAuthnPolicy"):
        TwoFactorConfig(secret_keys=[SECRET_KEY], factors=FACTORS, webauthn="localhost")  # type: ignore[arg-type]


def test_init_fails_when_the_policy_cannot_be_derived(devcore_app: str) -> None:
    """An app on plain http off localhost cannot use WebAuthn: init() says so."""
    reset_supertokens()
    config = TwoFactorConfig(development=True, factors=FACTORS)
    try:
        with pytest.raises(ConfigurationError, match="cannot derive the WebAuthn policy"):
            supertokens_python.init(
                app_info=InputAppInfo(
                    app_name="Plain http",
                    api_domain="http://example.com",
                    website_domain="http://example.com",
                ),
                supertokens_config=SupertokensConfig(connection_uri=devcore_app),
                framework="fastapi",
                mode="asgi",
                telemetry=False,
                recipe_list=build_recipe_list(config=config),
                experimental=SupertokensExperimentalConfig(plugins=[twofactor_plugin(config)]),
            )
    finally:
        reset_supertokens()


def test_the_state_keeps_credentials_and_challenges() -> None:
    """The state's codec round-trips WebAuthn credentials and challenges; a key is a
    factor; an admin reset removes keys and challenges."""
    key = SoftwareAuthenticator()
    policy = WebAuthnPolicy(rp_id="localhost", rp_name="T", origins=("http://localhost",))
    from st_twofactor.factors.webauthn import ceremonies as webauthn

    options, pending = webauthn.registration_options(policy, "u1", "u@x", [], 100.0, "handle")
    created = webauthn.verify_registration(
        policy,
        pending,
        key.register(options, origin="http://localhost"),
        "handle",
        101.0,
        "key",
        [],
    )
    assert isinstance(created, WebAuthnCredential)
    state = TwoFactorState(webauthn_credentials=[created], webauthn_challenges=[pending])
    assert state.factor_ids() == ["webauthn"]
    document = state.to_dict()
    again = TwoFactorState.from_dict(document)
    assert again.webauthn_credentials == [created]
    assert again.webauthn_challenges == [PendingChallenge.from_dict(pending.to_dict())]
    assert TwoFactorState.from_dict({"v": 1}).webauthn_credentials == []
    again.reset()
    assert again.webauthn_credentials == [] and again.webauthn_challenges == []
    assert again.factor_ids() == []


@pytest.mark.slow
def test_a_user_has_at_most_ten_keys(h: Harness) -> None:
    """The eleventh key is refused before and after the browser is asked."""
    tokens = h.signed_up("ten@example.com")
    for i in range(10):
        assert register(h, tokens, SoftwareAuthenticator(), f"key {i}").json()["status"] == "OK"
    assert register_options(h, tokens, "key 10").json() == {"status": "TOO_MANY_DEVICES_ERROR"}
    # Options asked for while there was room, answered once the tenth key is in.
    h.post(REMOVE, tokens, {"deviceName": "key 9"})
    options = register_options(h, tokens, "late").json()["options"]
    assert register(h, tokens, SoftwareAuthenticator(), "key 9").json()["status"] == "OK"
    late = SoftwareAuthenticator().register(options, origin="http://localhost")
    answer = h.post(REGISTER, tokens, {"deviceName": "late", "credential": late}).json()
    assert answer == {"status": "TOO_MANY_DEVICES_ERROR"}
    assert len(h.state(user_id_of(tokens)).webauthn_credentials) == 10
    assert "webauthn" not in h.get("/auth/2fa", tokens).json()["enrollable"]


@pytest.mark.slow
def test_no_more_core_calls_than_totp(
    make: Callable[..., Harness], devcore: Any, devcore_app: str
) -> None:
    """Issue 12's goal, with the default store (user metadata, in the core): enrolling a
    key (options + verify) makes no more core calls than enrolling a TOTP device (6), and
    the request that verifies a key's answer no more than the one that verifies a TOTP
    code (3). Asking for the options before it reads the state once (the user's keys, for
    the browser) and writes nothing: the challenge is signed, not stored; and a page that
    reads GET /auth/2fa anyway finds them there, at no extra call."""
    from st_twofactor.stores import UserMetadataStore

    h = make(store=UserMetadataStore())
    app_id = devcore_app.rsplit("/appid-", 1)[1]

    def calls(action: Callable[[], object]) -> list[str]:
        start = len(devcore.requests(app_id))
        action()
        done = devcore.requests(app_id)[start:]
        return [f"{r.method} {r.path}" for r in done if not r.path.endswith("/jwks.json")]

    totp_user = h.signed_up("totp-count@example.com")
    key_user = h.signed_up("key-count@example.com")
    key = SoftwareAuthenticator()
    enrolled: list[str] = []
    totp_enrol = calls(lambda: enrolled.append(h.enrol_totp(totp_user)[0]))
    key_enrol = calls(lambda: register(h, key_user, key))
    h.clock.advance(30)
    totp_again = h.signed_in("totp-count@example.com")
    key_again = h.signed_in("key-count@example.com")
    totp_verify = calls(lambda: h.verify_totp(totp_again, h.code(enrolled[0])))
    answers: list[Any] = []
    key_options = calls(lambda: answers.append(assertion(h, key_again, key)))
    key_verify = calls(lambda: answers.append(send(h, key_again, answers[0])))
    assert answers[1].json() == {"status": "OK"}
    assert h.protected(totp_again) == 200 and h.protected(key_again) == 200
    assert len(totp_enrol) == 6 and len(totp_verify) == 3, (totp_enrol, totp_verify)
    assert len(key_enrol) <= len(totp_enrol), (key_enrol, totp_enrol)
    assert key_options == ["GET /recipe/user/metadata"]
    assert key_verify == totp_verify, (key_verify, totp_verify)
    # A page that reads GET /auth/2fa after sign-in (as for any factor) finds the key's
    # options there: then a key costs what a TOTP code does, request for request.
    h.clock.advance(30)
    totp_third = h.signed_in("totp-count@example.com")
    key_third = h.signed_in("key-count@example.com")
    statuses: list[Any] = []
    totp_status = calls(lambda: statuses.append(h.get("/auth/2fa", totp_third)))
    key_status = calls(lambda: statuses.append(h.get("/auth/2fa", key_third)))
    assert key_status == totp_status
    options = statuses[1].json()["webauthnOptions"]
    totp_code = calls(lambda: h.verify_totp(totp_third, h.code(enrolled[0])))
    key_answer = calls(
        lambda: answers.append(
            send(h, key_third, key.assertion(options, origin="http://localhost"))
        )
    )
    assert answers[-1].json() == {"status": "OK"}
    assert key_answer == totp_code, (key_answer, totp_code)


def test_a_refused_answer_says_why_in_its_event(h: Harness) -> None:
    """The client only hears INVALID_CREDENTIAL_ERROR; the VerificationFailed event (and
    so the default log line) carries the reason, for the app's operators."""
    tokens = h.signed_up("why@example.com")
    key = SoftwareAuthenticator()
    assert register(h, tokens, key).json()["status"] == "OK"
    session = h.signed_in("why@example.com")
    wrong_port = authenticate(h, session, key, origin="http://localhost:8000").json()
    assert wrong_port == {"status": "INVALID_CREDENTIAL_ERROR", "attemptsLeft": 4}
    failed = [e for e in h.seen if isinstance(e, events.VerificationFailed)]
    assert [(e.factor, e.reason) for e in failed] == [("webauthn", "wrong_origin")]
    malformed = h.post(AUTHENTICATE, session, {"credential": {}}).json()
    # not counted: a malformed answer cannot be the owner's (I4)
    assert malformed == {"status": "INVALID_CREDENTIAL_ERROR", "attemptsLeft": 4}
    failed = [e for e in h.seen if isinstance(e, events.VerificationFailed)]
    assert [e.reason for e in failed] == ["wrong_origin", "malformed"]


@pytest.mark.parametrize(
    "name",
    ["key\u200b", "\u202ekey", "ke\u00ady", "k\u0435y", "\ufeffkey", "key\u2028x", "a  b"],
    ids=["zero-width", "bidi", "soft-hyphen", "cyrillic-e", "bom", "line-separator", "spaces"],
)
def test_key_names_follow_the_device_name_rules(h: Harness, name: str) -> None:
    """S16 for security keys: a name with hidden characters, or mixing alphabets, is a 400
    (as for a TOTP device) and nothing is asked of the browser or stored."""
    tokens = h.signed_up(f"names-{abs(hash(name))}@example.com")
    before = h.document(user_id_of(tokens))
    response = register_options(h, tokens, name)
    assert response.status_code == 400, response.text
    assert "invisible" in response.json()["message"]
    assert h.document(user_id_of(tokens)) == before


def test_look_alike_key_names_are_the_same_name(h: Harness) -> None:
    """Key names are compared as device names are (NFKC, case folded): "YubiKey", its
    fullwidth form and "yubikey" are one name, so the others are refused, and any of
    them removes the key."""
    tokens = h.signed_up("lookalike-keys@example.com")
    assert register(h, tokens, SoftwareAuthenticator(), "YubiKey").json()["status"] == "OK"
    again = register_options(h, tokens, "\uff59\uff55\uff42\uff49\uff4b\uff45\uff59").json()
    assert again == {"status": "DEVICE_ALREADY_EXISTS_ERROR"}
    assert register_options(h, tokens, "yubikey").json() == {
        "status": "DEVICE_ALREADY_EXISTS_ERROR"
    }
    removed = h.post(REMOVE, tokens, {"deviceName": "YUBIKEY"}).json()
    assert removed == {"status": "OK", "didDeviceExist": True}
