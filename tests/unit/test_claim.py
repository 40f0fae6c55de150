"""The claim, its step-up validator and the public API's import hygiene (no core needed)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from supertokens_python.recipe.session.claims import BooleanClaim
from supertokens_python.types import RecipeUserId

import st_twofactor
from st_twofactor import (
    CLAIM_KEY,
    ConfigurationError,
    SecondFactorClaim,
    completed_at,
    make_second_factor_claim,
    mark_completed,
    recently_completed,
)
from st_twofactor.claim import completed_within, stale_reason

NOW = 1_700_000_000.0


def payload(value: Any, set_at: Any = NOW * 1000, key: str = CLAIM_KEY) -> dict[str, Any]:
    """A claim set at ``set_at`` by a TOTP code (a claim that does not say how it was
    completed is never fresh)."""
    return {key: {"v": value, "t": set_at, "m": "totp"}}


def test_public_api_names() -> None:
    from st_twofactor import build_recipe_list, override_session_functions  # noqa: F401

    assert set(st_twofactor.__all__) <= set(dir(st_twofactor))
    assert isinstance(st_twofactor.__version__, str)


@pytest.mark.slow
def test_importing_the_package_imports_no_framework() -> None:
    code = (
        "import st_twofactor, sys; "
        "assert 'fastapi' not in sys.modules and 'flask' not in sys.modules "
        "and 'django' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_second_factor_claim_is_a_boolean_claim_with_the_documented_key() -> None:
    assert isinstance(SecondFactorClaim, BooleanClaim)
    assert SecondFactorClaim.key == "2fa-completed" == CLAIM_KEY


async def test_a_session_without_the_claim_is_fetched_as_not_completed() -> None:
    value = SecondFactorClaim.fetch_value("u", RecipeUserId("u"), "public", {}, {})
    assert value is False
    built = await SecondFactorClaim.build("u", RecipeUserId("u"), "public", {}, {})
    assert built[CLAIM_KEY]["v"] is False


async def test_global_validator_rejects_missing_false_and_accepts_true() -> None:
    validator = SecondFactorClaim.validators.has_value(True)
    assert validator.should_refetch({}, {}) is True  # missing -> refetched as False
    assert not (await validator.validate(payload(False), {})).is_valid
    assert (await validator.validate(payload(True), {})).is_valid


def test_make_claim_with_another_key() -> None:
    claim = make_second_factor_claim("mfa-done")
    assert claim.key == "mfa-done"
    assert claim.fetch_value("u", RecipeUserId("u"), "public", {}, {}) is False


@pytest.mark.parametrize("key", ["", "  ", "sub", "exp", "sessionHandle", 3])
def test_make_claim_refuses_bad_keys(key: Any) -> None:
    with pytest.raises(ConfigurationError, match="claim key"):
        make_second_factor_claim(key)


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (payload(True), NOW),
        (payload(False), None),
        (payload("true"), None),
        (payload(1), None),
        (payload(True, set_at=None), None),
        (payload(True, set_at="1"), None),
        (payload(True, set_at=True), None),
        ({CLAIM_KEY: True}, None),
        ({}, None),
    ],
)
def test_completed_at(doc: dict[str, Any], expected: float | None) -> None:
    assert completed_at(doc) == expected


def test_completed_at_reads_the_given_claim() -> None:
    claim = make_second_factor_claim("mfa-done")
    assert completed_at(payload(True, key="mfa-done"), claim=claim) == NOW
    assert completed_at(payload(True, key="mfa-done")) is None


async def test_recently_completed_checks_value_and_age_without_refetch() -> None:
    clock = [NOW + 299]
    validator = recently_completed(300, now=lambda: clock[0])
    assert validator.id == CLAIM_KEY
    assert validator.should_refetch({}, {}) is False
    assert validator.should_refetch(payload(True, set_at=0), {}) is False

    assert (await validator.validate(payload(True), {})).is_valid
    clock[0] = NOW + 301
    expired = await validator.validate(payload(True), {})
    assert not expired.is_valid
    assert expired.reason == {"message": "expired", "ageInSeconds": 301, "maxAgeInSeconds": 300}

    wrong = await validator.validate(payload(False), {})
    assert wrong.reason is not None and wrong.reason["message"] == "wrong value"
    missing = await validator.validate({}, {})
    assert missing.reason is not None and missing.reason["message"] == "value does not exist"
    no_time = await validator.validate(payload(True, set_at=None), {})
    assert no_time.reason is not None and no_time.reason["message"] == "expired"


@pytest.mark.parametrize("max_age", [0, -1, True, "300", None])
def test_recently_completed_refuses_bad_max_age(max_age: Any) -> None:
    with pytest.raises(ConfigurationError, match="max_age"):
        recently_completed(max_age)


class RecordingSession:
    """Just the part of a SessionContainer that mark_completed uses."""

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []

    def get_access_token_payload(self) -> dict[str, Any]:
        return {}  # no start time recorded: none is carried over

    async def merge_into_access_token_payload(
        self, update: dict[str, Any], user_context: dict[str, Any] | None = None
    ) -> None:
        self.updates.append(update)


async def test_mark_completed_merges_true_with_the_time_into_the_session() -> None:
    session = RecordingSession()
    await mark_completed(session, now=lambda: NOW)  # type: ignore[arg-type]
    ms = int(NOW * 1000)
    assert session.updates == [
        {
            CLAIM_KEY: {"v": True, "t": ms, "m": "factor"},
            "st-mfa": {"c": {"factor": ms}, "v": True},  # SuperTokens' MFA UIs read this
        }
    ]

    claim = make_second_factor_claim("mfa-done")
    await mark_completed(session, factor="totp", claim=claim, now=lambda: NOW)  # type: ignore[arg-type]
    assert session.updates[-1] == {
        "mfa-done": {"v": True, "t": ms, "m": "totp"},
        "st-mfa": {"c": {"totp": ms}, "v": True},
    }


async def test_mark_completed_cannot_record_a_remembered_device() -> None:
    """S14: ``remembered`` is only ever written at sign-in; a completion in the session
    is a factor presented, so it cannot be marked as remembered by mistake."""
    session = RecordingSession()
    with pytest.raises(ConfigurationError):
        await mark_completed(session, factor="remembered", now=lambda: NOW)  # type: ignore[arg-type]
    assert session.updates == []


def test_stale_reason_is_the_one_freshness_rule() -> None:
    """S14: fresh means completed in the session, within the window, not remembered."""
    at = int((NOW - 10) * 1000)
    by_factor = {CLAIM_KEY: {"v": True, "t": at, "m": "totp"}}
    remembered = {CLAIM_KEY: {"v": True, "t": at, "m": "remembered"}}
    older = {CLAIM_KEY: {"v": True, "t": at}}  # written before the marker existed
    assert stale_reason(by_factor, 300, now=NOW) is None
    # I1: a claim that does not say a factor was presented is never fresh
    assert stale_reason(older, 300, now=NOW) is not None
    assert stale_reason(by_factor, 5, now=NOW) == {
        "message": "expired",
        "ageInSeconds": 10.0,
        "maxAgeInSeconds": 5,
    }
    assert stale_reason(remembered, 300, now=NOW) == {
        "message": "expired",
        "ageInSeconds": 10.0,
        "maxAgeInSeconds": 300,
        "completedBy": "remembered",
    }
    assert not completed_within(remembered, 300, now=NOW)
    assert completed_within(by_factor, 300, now=NOW)
    assert stale_reason({CLAIM_KEY: {"v": False, "t": at}}, 300, now=NOW) == {
        "message": "wrong value",
        "expectedValue": True,
        "actualValue": False,
    }
    assert stale_reason({}, 300, now=NOW) == {
        "message": "value does not exist",
        "expectedValue": True,
        "actualValue": None,
    }
