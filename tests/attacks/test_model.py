"""The security invariants, checked over random sequences (a hypothesis state machine).

Hypothesis drives one user of the test app (FastAPI, the 2FA plugin, the passwordless
override, the development core) through random sequences of: sign-ins (with or without
a remember-device token, on the owner's device or elsewhere, exempted by the policy or
not), refreshes, an attacker's wrong codes until a lockout, TOTP enrolment and
codes, recovery codes, e-mailed and texted codes (and such a code tried in another
session, mistyped, used, and used again), security keys (and answers that
cannot be a key's), removal and regeneration, remember-device and removing a remembered
device from the user's list, time
passing, policy changes, "sign out everywhere" and the admin functions. Every session
the sequence made stays in play, so later steps act from sessions that are stale,
remembered, exempted, in an enrolment grace period, refreshed or revoked. It runs once
on a config without an enrolment grace period and once with one (then a user who must
do 2FA and has no factor is let in until the deadline, and time may run past it). A
small model predicts each answer; after every step:

- I1 freshness: a factor change (a second TOTP device or security key, removal, new
  recovery codes, pinning an e-mail address or phone number) succeeds only from a
  session that presented a factor within the step-up window (or for a user with no
  factor); a step-up route passes only within its ``max_age`` of a factor presented in
  the session; remembered, exempted and grace completions are never fresh, and a grace
  completion no longer passes once its deadline is over;
- I2 revocation: a session revoked by an admin reset or "sign out everywhere" gets 401
  from every 2FA route and completes nothing;
- I3 nothing half-done: a refused request leaves the user's factors exactly as they
  were (the model's factors are compared with the stored state after every step);
- I4 the owner keeps a way in: sessions are made on the owner's device (which keeps the
  known-device token it was given) or elsewhere; an attacker elsewhere sends wrong TOTP
  codes until TOTP locks, and from then on a right code is refused elsewhere but accepted
  on the owner's device; wrong codes are counted per device kind, a right code clears
  its kind's count, and a right code below the threshold is never refused;
- never a 5xx, on any route;
- the ``st-mfa`` claim SuperTokens' MFA frontends read agrees with ``2fa-completed`` in
  every session's access token, and records the factor that completed it.

Both HTTP dialects are driven: each enrolment, TOTP code, removal, status read and
e-mailed or texted code picks the library's own ``/auth/2fa`` routes or the endpoints of
SuperTokens' MFA and TOTP frontend recipes (``/auth/mfa/info``, ``/auth/totp/...``,
passwordless with ``shouldTryLinkingWithSessionUser``), so one sequence mixes them: a
lockout earned on one dialect holds on the other, a code used on one is refused on the
other, and every invariant above holds whichever dialect made a change.

S18 (recovery codes only beside another factor) is checked on the stored state too. The
number of examples is bounded so that the test takes about a minute on two cores.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from supertokens_python.recipe.session.asyncio import revoke_all_sessions_for_user

from st_twofactor import admin
from st_twofactor.errors import NoFactorError
from st_twofactor.factors.totp import algorithm as totp
from st_twofactor.kernel.completion import REMEMBER_HEADER
from st_twofactor.testing import reset_supertokens
from st_twofactor.testing.webauthn import SoftwareAuthenticator

from ..helpers.sdk import jwt_payload
from ..helpers.twofactor_app import (
    ALL_FACTORS,
    STEP_UP_MAX_AGE,
    Harness,
    Tokens,
    make_harness,
    user_id_of,
)
from ..helpers.webauthn_http import (
    AUTHENTICATE,
    AUTHENTICATE_OPTIONS,
    ORIGIN,
    REGISTER,
    REGISTER_OPTIONS,
    REMOVE,
)

DIALECTS = st.sampled_from(["2fa", "mfa"])
"""Which HTTP dialect a step uses: the library's own or SuperTokens' MFA/TOTP endpoints."""
TOTP_PATHS = {
    "2fa": {
        "create": "/auth/2fa/totp/device",
        "activate": "/auth/2fa/totp/device/verify",
        "verify": "/auth/2fa/totp/verify",
        "remove": "/auth/2fa/totp/device/remove",
    },
    "mfa": {
        "create": "/auth/totp/device",
        "activate": "/auth/totp/device/verify",
        "verify": "/auth/totp/verify",
        "remove": "/auth/totp/device/remove",
    },
}
CODE_FIELD = {"2fa": "code", "mfa": "totp"}
WRONG_STATUS = {"2fa": "INVALID_CODE_ERROR", "mfa": "INVALID_TOTP_ERROR"}
PHASES = [p for p in Phase if os.environ.get("MODEL_NO_SHRINK") != "1" or p != Phase.shrink]
CLAIM = "2fa-completed"
PHONE = "+14155550123"
WINDOW = 300.0
"""The config's step-up window for factor changes (the default)."""
MAX_WRONG = 3
"""Wrong codes in a row the sequences make at most: below the lockout (5)."""

POLICY = {"exempt": False}
"""Whether the ``required`` policy exempts the user of the running sequence (one user
per sequence, one sequence at a time); rules change it."""
USERS = itertools.count()


def required(user_id: str, tenant_id: str, user_context: dict[str, Any]) -> bool:
    return not POLICY["exempt"]


@dataclass
class Session:
    """One session of the user, as the model sees it."""

    tokens: Tokens
    label: str
    completed: bool
    presented_at: float | None = None
    """When a factor was last presented in this session (library clock)."""
    revoked: bool = False
    owners_device: bool = False
    """Made on the owner's device: it sends the device's known-device token, if any."""
    grace_until: float | None = None
    """For a session completed by the enrolment grace period: when that ends."""

    def fresh(self, now: float, window: float) -> bool:
        return self.presented_at is not None and now - self.presented_at <= window

    def completed_at(self, now: float) -> bool:
        """Whether the session counts as completed at ``now`` (a grace one, until its end)."""
        return self.completed and (self.grace_until is None or now < self.grace_until)

    def __repr__(self) -> str:
        return f"Session({self.label})"


@dataclass
class Model:
    """What the user has, as the model predicts it."""

    devices: dict[str, str] = field(default_factory=dict)
    """Verified TOTP devices: name -> secret."""
    codes: list[str] = field(default_factory=list)
    email_pinned: bool = False
    phone_pinned: bool = False
    keys: dict[str, SoftwareAuthenticator] = field(default_factory=dict)
    """Security keys: name -> the software authenticator holding it."""
    remember: tuple[str, int] | None = None
    """A remember-device token and the state's epoch when it was issued."""
    forgotten: bool = False
    """Whether the device of :attr:`remember` was removed from the user's list."""
    known_token: str | None = None
    """The owner's device's known-device token, once it completed 2FA."""
    wrong: dict[str, int] = field(default_factory=lambda: {"known": 0, "shared": 0})
    """Wrong codes in a row, by failure count (an upper bound on each factor's)."""
    totp_locked_until: float = 0.0
    """Until when TOTP is locked for devices that are not known (the attacker's flood)."""
    grace_started: float | None = None
    """When the user's enrolment grace period started (the config has one)."""

    def factors(self) -> set[str]:
        enrolled = set()
        if self.devices:
            enrolled.add("totp")
        if self.email_pinned:
            enrolled.add("otp-email")
        if self.phone_pinned:
            enrolled.add("otp-phone")
        if self.keys:
            enrolled.add("webauthn")
        if self.codes:
            enrolled.add("recovery-code")
        return enrolled

    def has_other_factor(self) -> bool:
        return bool(self.devices or self.keys) or self.email_pinned or self.phone_pinned


class TwoFactorMachine(RuleBasedStateMachine):
    sessions = Bundle("sessions")

    def __init__(self, h: Harness) -> None:
        super().__init__()
        self.h = h
        self.model = Model()
        self.email = ""
        self.user_id = ""
        self.labels = itertools.count()
        self.all: list[Session] = []

    # -- helpers --

    def now(self) -> float:
        return self.h.clock()

    def scope(self, session: Session) -> str:
        """Which failure count the session's attempts meet (I4)."""
        return "known" if session.owners_device and self.model.known_token else "shared"

    def call(self, method: str, path: str, session: Session, body: Any = None) -> Any:
        headers = {}
        if self.scope(session) == "known":
            assert self.model.known_token is not None
            headers["st-2fa-device"] = self.model.known_token
        response = self.h.request(method, path, session.tokens, body, headers=headers)
        assert response.status_code < 500, (path, response.status_code, response.text)
        return response

    def totp_locked_for(self, session: Session) -> bool:
        return self.scope(session) == "shared" and self.now() < self.model.totp_locked_until

    def factor_fields(self) -> dict[str, Any]:
        document = self.h.document(self.user_id)
        fields = ("totp_devices", "email", "phone", "recovery_codes", "webauthn_credentials")
        return {k: document[k] for k in fields}

    def new_session(self, tokens: Tokens) -> Session:
        payload = jwt_payload(tokens.access or "")[CLAIM]
        session = Session(tokens, f"s{next(self.labels)}", completed=payload["v"] is True)
        self.all.append(session)
        return session

    def presented(self, session: Session, response: Any) -> None:
        """A factor presented in ``session``: fresh now; a right code clears the failure
        count it met; the owner's device keeps the known-device token it was given."""
        session.completed = True
        session.grace_until = None  # the claim now records the factor, not the grace
        # as the claim records it: whole milliseconds (a window's edge falls the same way)
        session.presented_at = int(self.now() * 1000) / 1000
        scope = self.scope(session)
        self.model.wrong[scope] = 0
        if scope == "shared":
            self.model.totp_locked_until = 0.0
        if session.owners_device:
            self.model.known_token = response.headers.get("st-2fa-device")
            assert self.model.known_token, response.headers

    def refused(self, session: Session, response: Any, before: dict[str, Any]) -> None:
        """A refused factor change: the step-up 403, or 401 for a revoked session (which
        may also get the 403 from a route that checks freshness before it reads the
        state); nothing stored."""
        expected = {401, 403} if session.revoked else {403}
        assert response.status_code in expected, (session, response.status_code, response.text)
        assert self.factor_fields() == before

    def wrong_code(self) -> str:
        now = self.now()
        right = {
            totp.code_at(secret, now + 30 * step, digits=self.h.config.totp_digits)
            for secret in self.model.devices.values()
            for step in (-1, 0, 1)
        }
        return next(c for c in ("000000", "111111", "222222", "333333") if c not in right)

    def may_change(self, session: Session) -> bool:
        return not self.model.factors() or session.fresh(self.now(), WINDOW)

    # -- the user --

    @initialize(target=sessions, exempt=st.booleans())
    def sign_up(self, exempt: bool) -> MultipleResults[Session]:
        # Each sequence starts at the real time, as the SDK's own timestamps do.
        self.h.clock.now = time.time()
        self.email = f"model-{next(USERS)}@example.com"
        POLICY["exempt"] = exempt
        response = self.h.sign_up(self.email)
        assert response.json()["status"] == "OK", response.text
        tokens = Tokens.of(response)
        self.user_id = user_id_of(tokens)
        session = self.new_session(tokens)
        session.owners_device = True  # the owner signs up on their own device
        claim = jwt_payload(tokens.access or "")[CLAIM]
        if not exempt and self.grace() is not None:
            self.expect_grace(session, claim)
        else:
            assert session.completed == exempt
        # A second session from the start (with a grace period: two sessions let in without
        # a factor, so that one may enrol while the other tries to change more).
        return multiple(session, self.sign_in(with_token=False, owners_device=False))

    def grace(self) -> float | None:
        return self.h.config.grace_seconds

    def expect_grace(self, session: Session, claim: dict[str, Any]) -> None:
        """A sign-in that needs 2FA, of a user with no factor, on a config with a grace
        period: completed as "grace" until the deadline (the first such sign-in starts
        it), else not completed."""
        period = self.grace()
        assert period is not None
        if self.model.grace_started is None:
            self.model.grace_started = self.now()
        until = self.model.grace_started + period
        if self.now() < until:
            assert claim["v"] is True and claim.get("m") == "grace", claim
            assert claim["u"] == int(until * 1000), claim
            session.grace_until = claim["u"] / 1000
        else:
            assert claim["v"] is False, claim

    @rule(target=sessions, with_token=st.booleans(), owners_device=st.booleans())
    def sign_in(self, with_token: bool, owners_device: bool) -> Session:
        self.h.client.cookies.clear()  # the remember cookie: sent only when chosen, below
        headers = {}
        if with_token and self.model.remember is not None:
            headers[REMEMBER_HEADER] = self.model.remember[0]
        response = self.h.sign_in(self.email, **headers)
        assert response.json()["status"] == "OK", response.text
        session = self.new_session(Tokens.of(response))
        session.owners_device = owners_device
        claim = jwt_payload(session.tokens.access or "")[CLAIM]
        epoch = self.h.state(self.user_id).epoch
        if (
            headers
            and self.model.remember is not None
            and self.model.remember[1] == epoch
            and not self.model.forgotten
        ):
            assert claim.get("m") == "remembered", claim
        elif POLICY["exempt"] and not self.model.factors():
            assert claim.get("m") == "not-required", claim
        elif self.grace() is not None and not self.model.factors():
            self.expect_grace(session, claim)
        else:
            assert claim["v"] is False, claim
        return session

    @rule(session=sessions)
    def refresh(self, session: Session) -> None:
        response = self.h.post(
            "/auth/session/refresh",
            None,
            headers={"Authorization": f"Bearer {session.tokens.refresh}"},
        )
        assert response.status_code == (401 if session.revoked else 200), response.text
        if not session.revoked:
            session.tokens = Tokens.of(response)

    @rule(seconds=st.sampled_from([1, 30, 59, 61, 200, 299, 301, 1000]))
    def time_passes(self, seconds: int) -> None:
        self.h.clock.advance(seconds)

    @rule()
    def grace_runs_out(self) -> None:
        """Time passes past the end of the user's enrolment grace period, if it has one."""
        period = self.grace()
        if period is not None and self.model.grace_started is not None:
            end = self.model.grace_started + period
            self.h.clock.advance(max(end - self.now(), 0) + 1)
        for session in self.all:  # a session let in by the grace period is no longer in
            if session.grace_until is not None and not session.revoked:
                assert not session.completed_at(self.now())
                assert self.h.protected(session.tokens) == 403, session

    @rule()
    def policy_changes(self) -> None:
        POLICY["exempt"] = not POLICY["exempt"]

    # -- what every session may try --

    @rule(session=sessions)
    def step_up_route(self, session: Session) -> None:
        """I1 on the app's routes (which do not ask the core about the session on each
        request, so a revoked session's unexpired token may still pass them, as
        documented)."""
        fresh = session.completed and session.fresh(self.now(), STEP_UP_MAX_AGE)
        completed = session.completed_at(self.now())
        # A revoked session may also be told (401): the SDK asks the core about a token
        # that a refresh has just made.
        also = {401} if session.revoked else set()
        step_up = self.h.get("/api/step-up", session.tokens).status_code
        assert step_up in {200 if fresh else 403, *also}
        assert self.h.protected(session.tokens) in {200 if completed else 403, *also}

    @rule(session=sessions, dialect=DIALECTS)
    def read_status(self, session: Session, dialect: str) -> None:
        if dialect == "2fa":
            response = self.call("GET", "/auth/2fa", session)
        else:
            response = self.call("PUT", "/auth/mfa/info", session, {})
        assert response.status_code == (401 if session.revoked else 200), response.text
        if session.revoked:
            return
        seen = response.json()
        if dialect == "mfa":
            factors = seen["factors"]
            assert set(factors["alreadySetup"]) == self.model.factors() - {"recovery-code"}
            if session.completed_at(self.now()):
                assert factors["next"] == []
            return
        assert seen["completed"] == session.completed_at(self.now()), (session, seen)
        in_grace = session.presented_at is None and session.completed_at(self.now())
        if in_grace and session.grace_until is not None:
            assert seen["grace"] == {"until": int(session.grace_until * 1000)}, seen
        else:
            assert seen["grace"] is None, seen

    @rule(session=sessions, remember=st.booleans(), dialect=DIALECTS)
    def enrol_totp(self, session: Session, remember: bool, dialect: str) -> None:
        if len(self.model.devices) >= 4:
            return
        paths = TOTP_PATHS[dialect]
        before = self.factor_fields()
        name = f"device-{next(self.labels)}"
        allowed = not session.revoked and self.may_change(session)
        created = self.call("POST", paths["create"], session, {"deviceName": name})
        if not allowed:
            self.refused(session, created, before)
            return
        assert created.json()["status"] == "OK", created.text
        self.h.clock.advance(30)
        secret = created.json()["secret"]
        body = {
            "deviceName": name,
            CODE_FIELD[dialect]: self.h.code(secret),
            "rememberDevice": remember,
        }
        after_create = self.factor_fields()
        verified = self.call("POST", paths["activate"], session, body)
        if not self.may_change(session):  # the window closed while the code was typed
            self.refused(session, verified, after_create)
            return
        answer = verified.json()
        if self.totp_locked_for(session):  # activation is a TOTP attempt too
            assert answer["status"] == "LIMIT_REACHED_ERROR", verified.text
            return
        assert answer["status"] == "OK", verified.text
        self.model.devices[name] = secret
        if answer.get("recoveryCodes"):
            self.model.codes = list(answer["recoveryCodes"])
        self.presented(session, verified)
        self.remembered(answer)

    def remembered(self, answer: dict[str, Any]) -> None:
        token = answer.get("rememberDeviceToken")
        if token is not None:
            self.model.remember = (token, self.h.state(self.user_id).epoch)
            self.model.forgotten = False

    def remembered_device_id(self) -> str | None:
        """The record the model's remember-device token names, while it is trusted."""
        remember = self.model.remember
        if remember is None or self.model.forgotten:
            return None
        if remember[1] != self.h.state(self.user_id).epoch:
            return None
        payload = remember[0].split(".")[0]
        device_id = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["d"]
        assert isinstance(device_id, str)
        return device_id

    @rule(session=sessions, right=st.booleans(), remember=st.booleans(), dialect=DIALECTS)
    def verify_totp(self, session: Session, right: bool, remember: bool, dialect: str) -> None:
        scope = self.scope(session)
        if not right and self.model.wrong[scope] >= MAX_WRONG:
            return
        self.h.clock.advance(30)
        before = self.factor_fields()
        secret = next(iter(self.model.devices.values()), None)
        code = self.h.code(secret) if right and secret else self.wrong_code()
        body = {CODE_FIELD[dialect]: code, "rememberDevice": remember}
        response = self.call("POST", TOTP_PATHS[dialect]["verify"], session, body)
        if session.revoked:
            assert response.status_code == 401, response.text
        elif secret and self.totp_locked_for(session):
            assert response.json()["status"] == "LIMIT_REACHED_ERROR", response.text
        elif right and secret:
            assert response.json()["status"] == "OK", response.text
            self.presented(session, response)
            self.remembered(response.json())
            return
        else:
            assert response.json()["status"] != "OK", response.text
            if secret:
                assert response.json()["status"] == WRONG_STATUS[dialect], response.text
                self.model.wrong[scope] += 1
        assert self.factor_fields() == before

    @rule(session=sessions, dialect=DIALECTS)
    def attacker_locks_totp(self, session: Session, dialect: str) -> None:
        """I4: from a device that is not the owner's, wrong codes until TOTP locks. It
        locks there; the owner's known device keeps its own count (``verify_totp``)."""
        if (
            session.revoked
            or not self.model.devices
            or self.scope(session) != "shared"
            or self.totp_locked_for(session)
        ):
            return
        for _ in range(5):
            self.h.clock.advance(30)
            wrong = {CODE_FIELD[dialect]: self.wrong_code()}
            answer = self.call("POST", TOTP_PATHS[dialect]["verify"], session, wrong)
            if answer.json()["status"] == "LIMIT_REACHED_ERROR":
                break
            assert answer.json()["status"] == WRONG_STATUS[dialect], answer.text
        else:
            raise AssertionError("5 wrong codes in a row did not lock TOTP")
        self.model.totp_locked_until = self.now() + self.h.config.lockout

    @rule(session=sessions, right=st.booleans())
    def verify_recovery_code(self, session: Session, right: bool) -> None:
        scope = self.scope(session)
        if not right and self.model.wrong[scope] >= MAX_WRONG:
            return
        before = self.factor_fields()
        code = self.model.codes[0] if right and self.model.codes else "aaaaa-aaaaa"
        response = self.call("POST", "/auth/2fa/recovery-code/verify", session, {"code": code})
        if session.revoked:
            assert response.status_code == 401, response.text
        elif right and self.model.codes:
            assert response.json()["status"] == "OK", response.text
            self.model.codes.pop(0)
            self.presented(session, response)
            return
        else:
            assert response.json()["status"] != "OK", response.text
            if self.model.codes:
                self.model.wrong[scope] += 1
        assert self.factor_fields() == before

    @rule(session=sessions, by_sms=st.booleans(), dialect=DIALECTS)
    def code_by_email_or_sms(self, session: Session, by_sms: bool, dialect: str) -> None:
        """Ask for an e-mailed code to the account's address, or a texted one to the
        user's phone, and use it: the first use pins the contact (a factor change, so it
        needs no factor yet or a fresh 2FA)."""
        before = self.factor_fields()
        outbox = len(self.h.outbox)
        destination: dict[str, Any] = {"phoneNumber": PHONE} if by_sms else {"email": self.email}
        link = {"shouldTryLinkingWithSessionUser": True} if dialect == "mfa" else {}
        destination.update(link)
        response = self.call("POST", "/auth/signinup/code", session, destination)
        sent = self.h.outbox[-1] if len(self.h.outbox) > outbox else None
        pinned = self.model.phone_pinned if by_sms else self.model.email_pinned
        if session.revoked:
            assert response.status_code == 401 and sent is None, response.text
            assert self.factor_fields() == before
            return
        if not (pinned or self.may_change(session)):
            assert response.json()["status"] != "OK" and sent is None, response.text
            assert self.factor_fields() == before
            return
        assert response.json()["status"] == "OK" and sent is not None, response.text
        device = response.json()
        consume = {
            "preAuthSessionId": device["preAuthSessionId"],
            "deviceId": device["deviceId"],
            "userInputCode": sent.code,
            **link,
        }
        consumed = self.call("POST", "/auth/signinup/code/consume", session, consume)
        assert consumed.json()["status"] == "OK", consumed.text
        if by_sms:
            self.model.phone_pinned = True
        else:
            self.model.email_pinned = True
        self.presented(session, consumed)

    @rule(session=sessions, other=sessions, by_sms=st.booleans(), dialect=DIALECTS)
    def code_misused(self, session: Session, other: Session, by_sms: bool, dialect: str) -> None:
        """S2/S6 on the codes the library makes and checks: a code asked for in
        ``session`` is refused in ``other`` (another session of the user; nothing counted
        or changed), a wrong code is counted on its device and toward the factor, the
        right one then works in its own session, and used again it is refused."""
        pinned = self.model.phone_pinned if by_sms else self.model.email_pinned
        scope = self.scope(session)
        if session.revoked or not (pinned or self.may_change(session)):
            return  # refusals to send: code_by_email_or_sms
        if self.model.wrong[scope] >= MAX_WRONG:
            return
        before = self.factor_fields()
        outbox = len(self.h.outbox)
        link = {"shouldTryLinkingWithSessionUser": True} if dialect == "mfa" else {}
        destination: dict[str, Any] = {"phoneNumber": PHONE} if by_sms else {"email": self.email}
        asked = self.call("POST", "/auth/signinup/code", session, {**destination, **link})
        assert asked.json()["status"] == "OK" and len(self.h.outbox) > outbox, asked.text
        code = self.h.outbox[-1].code
        ids = {k: asked.json()[k] for k in ("preAuthSessionId", "deviceId")}
        path = "/auth/signinup/code/consume"
        if other is not session:
            elsewhere = self.call("POST", path, other, {**ids, "userInputCode": code, **link})
            if other.revoked:
                assert elsewhere.status_code == 401, elsewhere.text
            else:
                assert elsewhere.json()["status"] == "RESTART_FLOW_ERROR", elsewhere.text
            assert self.factor_fields() == before
        typo = next(c for c in ("000000", "111111") if c != code)
        wrong = self.call("POST", path, session, {**ids, "userInputCode": typo, **link})
        assert wrong.json()["status"] == "INCORRECT_USER_INPUT_CODE_ERROR", wrong.text
        assert wrong.json()["failedCodeInputAttemptCount"] == 1, wrong.text
        self.model.wrong[scope] += 1
        assert self.factor_fields() == before
        right = self.call("POST", path, session, {**ids, "userInputCode": code, **link})
        assert right.json()["status"] == "OK", right.text
        if by_sms:
            self.model.phone_pinned = True
        else:
            self.model.email_pinned = True
        self.presented(session, right)
        pinned_now = self.factor_fields()
        again = self.call("POST", path, session, {**ids, "userInputCode": code, **link})
        assert again.json()["status"] == "RESTART_FLOW_ERROR", again.text
        assert self.factor_fields() == pinned_now

    @rule(session=sessions)
    def add_security_key(self, session: Session) -> None:
        if len(self.model.keys) >= 3:
            return
        before = self.factor_fields()
        name = f"key-{next(self.labels)}"
        options = self.call("GET", f"{REGISTER_OPTIONS}?deviceName={name}", session)
        if session.revoked or not self.may_change(session):
            self.refused(session, options, before)
            return
        assert options.json()["status"] == "OK", options.text
        key = SoftwareAuthenticator()
        credential = key.register(options.json()["options"], origin=ORIGIN)
        body = {"deviceName": name, "credential": credential}
        added = self.call("POST", REGISTER, session, body)
        assert added.json()["status"] == "OK", added.text
        self.model.keys[name] = key
        if added.json().get("recoveryCodes"):
            self.model.codes = list(added.json()["recoveryCodes"])
        self.presented(session, added)

    @rule(session=sessions)
    def use_security_key(self, session: Session) -> None:
        if not self.model.keys:
            return
        before = self.factor_fields()
        options = self.call("GET", AUTHENTICATE_OPTIONS, session)
        if session.revoked:
            assert options.status_code == 401, options.text
            return
        key = next(iter(self.model.keys.values()))
        answer = key.assertion(options.json()["options"], origin=ORIGIN)
        used = self.call("POST", AUTHENTICATE, session, {"credential": answer})
        assert used.json()["status"] == "OK", used.text
        assert self.factor_fields()["webauthn_credentials"] != before["webauthn_credentials"]
        self.presented(session, used)

    @rule(session=sessions, junk=st.sampled_from([{}, {"id": 5}, {"id": "bm90LWEta2V5"}]))
    def junk_security_key_answer(self, session: Session, junk: dict[str, Any]) -> None:
        """I4: an answer that cannot be the owner's is refused and counts for nothing."""
        before = self.h.document(self.user_id)
        answer = self.call("POST", AUTHENTICATE, session, {"credential": junk})
        if session.revoked:
            assert answer.status_code == 401, answer.text
        elif self.model.keys:
            assert answer.json()["status"] == "INVALID_CREDENTIAL_ERROR", answer.text
        else:
            assert answer.json()["status"] != "OK", answer.text
        assert self.h.document(self.user_id) == before

    @rule(session=sessions, data=st.data())
    def remove_security_key(self, session: Session, data: st.DataObject) -> None:
        if not self.model.keys:
            return
        name = data.draw(st.sampled_from(sorted(self.model.keys)))
        before = self.factor_fields()
        response = self.call("POST", REMOVE, session, {"deviceName": name})
        if session.revoked or not session.fresh(self.now(), WINDOW):
            self.refused(session, response, before)
            return
        assert response.json()["status"] == "OK", response.text
        del self.model.keys[name]
        if not self.model.has_other_factor():
            self.model.codes = []  # S18

    @rule(session=sessions)
    def regenerate_recovery_codes(self, session: Session) -> None:
        before = self.factor_fields()
        response = self.call("POST", "/auth/2fa/recovery-codes", session, {})
        if session.revoked or not session.fresh(self.now(), WINDOW):
            self.refused(session, response, before)
        elif not self.model.has_other_factor():
            assert response.json()["status"] == "NO_FACTOR_ERROR", response.text
            assert self.factor_fields() == before
        else:
            assert response.json()["status"] == "OK", response.text
            self.model.codes = list(response.json()["recoveryCodes"])

    @rule(session=sessions, data=st.data(), dialect=DIALECTS)
    def remove_totp_device(self, session: Session, data: st.DataObject, dialect: str) -> None:
        if not self.model.devices:
            return
        name = data.draw(st.sampled_from(sorted(self.model.devices)))
        before = self.factor_fields()
        path = TOTP_PATHS[dialect]["remove"]
        response = self.call("POST", path, session, {"deviceName": name})
        if session.revoked or not session.fresh(self.now(), WINDOW):
            self.refused(session, response, before)
            return
        assert response.json()["status"] == "OK", response.text
        del self.model.devices[name]
        if not self.model.has_other_factor():
            self.model.codes = []  # S18: codes go with the last other factor

    @rule(session=sessions)
    def forget_remembered_device(self, session: Session) -> None:
        """The list of remembered devices and removing one: for a completed 2FA, fresh or
        not; afterwards the token of the removed device no longer skips 2FA."""
        device_id = self.remembered_device_id()
        before = self.h.document(self.user_id)
        listed = self.call("GET", "/auth/2fa/remembered-devices", session)
        removed = self.call(
            "POST", "/auth/2fa/remembered-devices/remove", session, {"id": device_id or "gone"}
        )
        if session.revoked or not session.completed:
            for response in (listed, removed):
                assert response.status_code in ({401, 403} if session.revoked else {403})
            assert self.h.document(self.user_id) == before
            return
        ids = [d["id"] for d in listed.json()["devices"]]
        assert (device_id in ids) if device_id else True, (device_id, ids)
        assert removed.json() == {"status": "OK", "didExist": device_id is not None}
        if device_id is not None:
            self.model.forgotten = True
            assert self.model.remember is not None
            self.h.client.cookies.clear()
            again = self.h.sign_in(self.email, **{REMEMBER_HEADER: self.model.remember[0]})
            claim = jwt_payload(Tokens.of(again).access or "")[CLAIM]
            assert claim.get("m") != "remembered", claim
        assert self.factor_fields() == {k: before[k] for k in self.factor_fields()}

    # -- revocation and the admin functions --

    def revoked_all(self) -> None:
        for session in self.all:
            session.revoked = True
        # A session that starts at the very time of a revocation counts as revoked (the
        # safe side); a real clock has moved on by the next sign-in, this one is moved.
        self.h.clock.advance(0.01)

    @rule()
    def sign_out_everywhere(self) -> None:
        asyncio.run(revoke_all_sessions_for_user(self.user_id))
        self.revoked_all()

    @rule(keep_sessions=st.booleans())
    def admin_reset(self, keep_sessions: bool) -> None:
        asyncio.run(admin.reset_factors(self.h.config, self.user_id, keep_sessions=keep_sessions))
        self.model.devices.clear()
        self.model.keys.clear()
        self.model.codes = []
        self.model.email_pinned = False
        self.model.phone_pinned = False
        if not keep_sessions:
            self.revoked_all()

    @rule()
    def admin_regenerates_recovery_codes(self) -> None:
        before = self.factor_fields()
        try:
            codes = admin.regenerate_recovery_codes_sync(self.h.config, self.user_id)
        except NoFactorError:
            assert not self.model.has_other_factor()
            assert self.factor_fields() == before
            return
        assert self.model.has_other_factor()
        self.model.codes = codes

    # -- after every step --

    @invariant()
    def stored_factors_are_the_models(self) -> None:
        if not self.user_id:
            return
        state = self.h.state(self.user_id)
        assert set(state.factor_ids()) == self.model.factors()
        verified = {d.name for d in state.totp_devices if d.verified}
        assert verified == set(self.model.devices)
        assert len(state.recovery_codes) == len(self.model.codes)
        assert {k.name for k in state.webauthn_credentials} == set(self.model.keys)
        if state.recovery_codes:  # S18
            assert any(f != "recovery-code" for f in state.factor_ids())
        device_id = self.remembered_device_id()  # the trusted device is listed
        if device_id is not None:
            assert device_id in {d.id for d in state.remembered_devices}

    @invariant()
    def st_mfa_agrees_with_the_claim(self) -> None:
        """Both dialects' claims say the same of every session: ``st-mfa.v`` is
        ``2fa-completed.v``, and a factor presented is in ``st-mfa.c`` at its time. Past
        the end of a grace completion, ``2fa-completed`` keeps ``v: true`` with its
        deadline (every check refuses it), and ``st-mfa`` says ``v: false`` once
        ``PUT /auth/mfa/info`` has looked (until then its check refuses it too)."""
        for session in self.all:
            payload = jwt_payload(session.tokens.access or "")
            claim, mfa = payload[CLAIM], payload["st-mfa"]
            if claim.get("m") == "grace" and self.now() * 1000 >= claim["u"]:
                assert claim["v"] is True and session.completed, (session, payload)
                assert not session.completed_at(self.now()), (session, payload)
                continue
            assert mfa["v"] is (claim["v"] is True) is session.completed, (session, payload)
            method = claim.get("m")
            if claim["v"] is True and method not in ("remembered", "not-required", "grace"):
                assert mfa["c"][method] == claim["t"], payload


GRACE = timedelta(minutes=30)
"""The enrolment grace period of the second run: short, so that sequences pass it."""


@pytest.fixture(scope="module", params=[None, GRACE], ids=["no-grace", "grace"])
def harness(request: pytest.FixtureRequest, devcore_app_module: str) -> Iterator[Harness]:
    h = make_harness(
        devcore_app_module,
        required=required,
        remember_device=True,
        factors=(*ALL_FACTORS, "webauthn"),
        enrolment_grace=request.param,
    )
    yield h
    reset_supertokens()


@pytest.fixture(scope="module")
def devcore_app_module(devcore: Any) -> str:
    app: str = devcore.create_app()
    return app


@pytest.mark.slow
def test_security_invariants_hold_over_random_sequences(harness: Harness) -> None:
    run_state_machine_as_test(
        lambda: TwoFactorMachine(harness),
        settings=settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
            phases=PHASES,
        ),
    )
