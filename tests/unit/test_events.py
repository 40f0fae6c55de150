from __future__ import annotations

import asyncio
import dataclasses
import logging
import typing

import pytest

from st_twofactor import events as ev

T0 = 1_700_000_000.0

SAMPLES: list[ev.Event] = [
    ev.FactorEnrolled(user_id="u1", at=T0, factor="totp", device_name="phone"),
    ev.FactorRemoved(user_id="u1", at=T0, factor="totp", device_name="phone"),
    ev.VerificationSucceeded(user_id="u1", at=T0, factor="totp"),
    ev.VerificationFailed(user_id="u1", at=T0, factor="totp", attempts_left=3),
    ev.LockedOut(user_id="u1", at=T0, factor="totp", retry_after_ms=900_000),
    ev.RecoveryCodeUsed(user_id="u1", at=T0, codes_left=9),
    ev.RecoveryCodesRegenerated(user_id="u1", at=T0, count=10),
    ev.DeviceRemembered(user_id="u1", at=T0, expires_at=T0 + 86400),
    ev.CodeSendRefused(user_id="u1", at=T0, factor="otp-phone", retry_after_ms=30000),
    ev.SignCountRegressed(user_id="u1", at=T0, factor="webauthn", device_name="key"),
    ev.RecoveryCodesLow(user_id="u1", at=T0, codes_left=3),
]

SAFE_FIELDS = {
    "user_id",
    "at",
    "factor",
    "device_name",
    "attempts_left",
    "retry_after_ms",
    "codes_left",
    "count",
    "expires_at",
    "reason",  # a RefusalReason value, never the answer itself
    "device_id",  # a remembered device's record id: proves nothing without its signed token
    "just_locked",  # whether this failure locked the factor
}


def test_samples_cover_every_event_type() -> None:
    assert {type(e) for e in SAMPLES} == set(typing.get_args(ev.TwoFactorEvent))
    assert len({type(e).kind for e in SAMPLES}) == len(SAMPLES)


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).kind)
def test_events_carry_no_secret_fields(event: ev.Event) -> None:
    names = {f.name for f in dataclasses.fields(event)}
    assert names <= SAFE_FIELDS, "events must never carry codes, secrets or tokens"


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).kind)
def test_events_are_frozen(event: ev.Event) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.user_id = "u2"  # type: ignore[misc]


def test_events_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        ev.VerificationSucceeded("u1", T0, "totp")  # type: ignore[call-arg]


def test_default_hook_logs_one_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="st_twofactor"):
        ev.log_event(SAMPLES[0])
        ev.log_event(ev.VerificationFailed(user_id="u9", at=T0, factor="otp-email"))
    enrolled, failed = caplog.records
    assert enrolled.name == "st_twofactor"
    assert enrolled.levelno == logging.INFO
    assert "factor_enrolled" in enrolled.getMessage()
    assert "user_id='u1'" in enrolled.getMessage()
    assert failed.levelno == logging.WARNING
    assert "factor='otp-email'" in failed.getMessage()


def test_default_hook_cannot_be_used_to_forge_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    event = ev.FactorEnrolled(user_id="u1", at=T0, factor="totp", device_name="x\nFAKE LINE")
    with caplog.at_level(logging.INFO, logger="st_twofactor"):
        ev.log_event(event)
    assert "\n" not in caplog.records[0].getMessage()


@pytest.mark.asyncio
async def test_emit_calls_a_sync_hook() -> None:
    received: list[ev.Event] = []
    await ev.emit(received.append, SAMPLES[2])
    assert received == [SAMPLES[2]]


@pytest.mark.asyncio
async def test_emit_awaits_an_async_hook() -> None:
    received: list[ev.Event] = []

    async def hook(event: ev.Event) -> None:
        await asyncio.sleep(0)
        received.append(event)

    await ev.emit(hook, SAMPLES[5])
    assert received == [SAMPLES[5]]


@pytest.mark.asyncio
async def test_emit_without_hook_logs(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="st_twofactor"):
        await ev.emit(None, SAMPLES[6])
    assert "recovery_codes_regenerated" in caplog.records[0].getMessage()


def failing_sync_hook(event: ev.Event) -> None:
    raise RuntimeError("mailer down")


async def failing_async_hook(event: ev.Event) -> None:
    await asyncio.sleep(0)
    raise RuntimeError("mailer down")


@pytest.mark.asyncio
@pytest.mark.parametrize("hook", [failing_sync_hook, failing_async_hook])
async def test_a_failing_hook_never_breaks_the_caller(
    hook: ev.EventHook, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="st_twofactor"):
        await ev.emit(hook, SAMPLES[3])
    (record,) = caplog.records
    assert "verification_failed" in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)


@pytest.mark.asyncio
async def test_cancellation_is_not_swallowed() -> None:
    async def hook(event: ev.Event) -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await ev.emit(hook, SAMPLES[0])
