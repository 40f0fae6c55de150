"""Part 1: what the 2FA check adds to a protected request.

One FastAPI app, one user, one access token (2FA completed), three ways of protecting
a route, measured in interleaved rounds so that machine noise hits all of them alike:

- ``verify_session()`` without 2FA: the SDK exactly as it is without the library (the
  session recipe's original ``get_global_claim_validators``);
- ``verify_session()`` with the library's global validator (what
  ``override_session_functions()`` installs);
- ``require_2fa(max_age=3600)`` (step-up: the claim and its age), with the global
  validator installed too.

The first two use the same route; between batches only the session recipe's
``get_global_claim_validators`` is switched between the SDK's and the library's. Requests
go through the whole ASGI stack in-process (httpx.ASGITransport), one at a time. The
development core's request log shows how many core calls the protected requests made.
"""

from __future__ import annotations

import asyncio
import cProfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyotp

from ._common import (
    SECRET_KEY,
    Tokens,
    app_id_of,
    asgi_client,
    email_password,
    fastapi_app,
    init_sdk,
    latency_summary,
    median,
    post,
    settled_log_length,
)
from .profiles import Row, rows, total

VARIANTS: tuple[tuple[str, str], ...] = (
    ("plain", "`verify_session()`, no 2FA"),
    ("global", "`verify_session()` + global 2FA validator"),
    ("step-up", "`require_2fa(max_age=3600)`"),
)
GOAL_RATIO = 1.05
MARGIN = 0.01
"""A ratio this close to the goal can land on either side of it from one run to the next."""


@dataclass
class VariantResult:
    title: str
    rates: list[float] = field(default_factory=list)
    """Requests per second, one per round."""
    latencies: list[float] = field(default_factory=list)
    """Seconds, every request."""
    ratios: list[float] = field(default_factory=list)
    """Median time per request relative to the no-2FA variant's, one per round."""
    rate_ratios: list[float] = field(default_factory=list)
    """The no-2FA variant's requests/s divided by this one's, one per round."""

    @property
    def rate(self) -> float:
        return median(self.rates)

    @property
    def ratio(self) -> float:
        """The cost ratio: median over rounds of the ratio of median request times."""
        return median(self.ratios)

    @property
    def rate_ratio(self) -> float:
        return median(self.rate_ratios)


@dataclass
class ProtectedResults:
    variants: dict[str, VariantResult]
    requests: int
    core_calls: list[str]
    rounds: int
    per_round: int
    profiles: dict[str, list[Row]] = field(default_factory=dict)
    """Per variant (only when the goal is missed or at risk): where a request's time goes."""

    @property
    def worst_ratio(self) -> float:
        return worst_ratio(self.variants)

    @property
    def goal_met(self) -> bool:
        """No core call, and both ratios of every 2FA variant within the goal."""
        return not self.core_calls and self.worst_ratio <= GOAL_RATIO

    @property
    def goal_at_risk(self) -> bool:
        """Missed, or met by less than :data:`MARGIN`."""
        return not self.core_calls and self.worst_ratio > GOAL_RATIO - MARGIN


def worst_ratio(variants: dict[str, VariantResult]) -> float:
    """The largest of both ratios over the 2FA variants."""
    return max(max(v.ratio, v.rate_ratio) for k, v in variants.items() if k != "plain")


class _App:
    """The app under test, its token, and the switch between the SDK's and the library's
    ``get_global_claim_validators``."""

    def __init__(self, connection_uri: str) -> None:
        from fastapi import Depends
        from supertokens_python.recipe import emailpassword, session, usermetadata
        from supertokens_python.recipe.session import SessionContainer, SessionOverrideConfig
        from supertokens_python.recipe.session.framework.fastapi import verify_session

        from st_twofactor import override_session_functions
        from st_twofactor.config import TwoFactorConfig
        from st_twofactor.fastapi import require_2fa
        from st_twofactor.http.routes import twofactor_plugin

        config = TwoFactorConfig(secret_keys=[SECRET_KEY], factors=("totp", "recovery-code"))
        library_override = override_session_functions(config)
        self.implementations: dict[str, Callable[..., Any]] = {}

        def keep_both(original: Any) -> Any:
            self.recipe_implementation = original
            self.implementations["sdk"] = original.get_global_claim_validators
            library_override(original)
            self.implementations["library"] = original.get_global_claim_validators
            return original

        init_sdk(
            connection_uri,
            [
                emailpassword.init(),
                usermetadata.init(),
                session.init(override=SessionOverrideConfig(functions=keep_both)),
            ],
            plugins=[twofactor_plugin(config)],
        )
        app = fastapi_app()

        @app.get("/api/plain")
        async def plain(s: SessionContainer = Depends(verify_session())) -> dict[str, str]:
            return {"user": s.get_user_id()}

        @app.get("/api/step-up")
        async def step_up(
            s: SessionContainer = Depends(require_2fa(max_age=3600)),
        ) -> dict[str, str]:
            return {"user": s.get_user_id()}

        self.app = app
        self.paths = {"plain": "/api/plain", "global": "/api/plain", "step-up": "/api/step-up"}

    def use(self, variant: str) -> None:
        which = "sdk" if variant == "plain" else "library"
        self.recipe_implementation.get_global_claim_validators = self.implementations[which]


async def _signed_in_with_2fa(client: Any) -> Tokens:
    """A new user who enrolled TOTP: the session's 2FA is complete."""
    tokens = await email_password(client, "/auth/signup", f"protected-{time.time_ns()}@example.com")
    device = await post(client, "/auth/2fa/totp/device", tokens)
    code = pyotp.TOTP(device["secret"]).now()
    await post(client, "/auth/2fa/totp/device/verify", tokens, {"code": code})
    return tokens


async def _batch(
    client: Any, path: str, headers: dict[str, str], n: int
) -> tuple[float, list[float]]:
    latencies = []
    clock = time.perf_counter
    start = clock()
    for _ in range(n):
        sent = clock()
        response = await client.get(path, headers=headers)
        latencies.append(clock() - sent)
        if response.status_code != 200:
            raise AssertionError(f"{path}: {response.status_code} {response.text}")
    return clock() - start, latencies


def measure_protected(
    core: Any, connection_uri: str, *, rounds: int, per_round: int, profile: bool = True
) -> ProtectedResults:
    """Interleaved rounds of ``per_round`` sequential requests per variant."""
    under_test = _App(connection_uri)
    app_id = app_id_of(connection_uri)
    results = {key: VariantResult(title) for key, title in VARIANTS}
    calls: list[str] = []

    async def run() -> None:
        async with asgi_client(under_test.app) as client:
            headers = (await _signed_in_with_2fa(client)).headers()
            for key, _ in VARIANTS:  # warm-up (the first request fetches the JWKS)
                under_test.use(key)
                await _batch(client, under_test.paths[key], headers, per_round)
            logged_before = settled_log_length(core, app_id)
            for round_no in range(rounds):
                shift = round_no % len(VARIANTS)
                order = VARIANTS[shift:] + VARIANTS[:shift]
                seconds: dict[str, float] = {}
                typical: dict[str, float] = {}
                for key, _ in order:
                    under_test.use(key)
                    elapsed, latencies = await _batch(
                        client, under_test.paths[key], headers, per_round
                    )
                    seconds[key], typical[key] = elapsed, median(latencies)
                    results[key].rates.append(per_round / elapsed)
                    results[key].latencies.extend(latencies)
                for key, _ in VARIANTS:
                    results[key].ratios.append(typical[key] / typical["plain"])
                    results[key].rate_ratios.append(seconds[key] / seconds["plain"])
            logged_after = settled_log_length(core, app_id)
            calls.extend(
                f"{e.method} {e.path}" for e in core.requests(app_id)[logged_before:logged_after]
            )
            if profile and worst_ratio(results) > GOAL_RATIO - MARGIN:
                for key, _ in VARIANTS:
                    under_test.use(key)
                    profiles[key] = await _profile(client, under_test.paths[key], headers)

    profiles: dict[str, list[Row]] = {}
    asyncio.run(run())
    under_test.use("global")
    return ProtectedResults(
        variants=results,
        requests=rounds * per_round * len(VARIANTS),
        core_calls=calls,
        rounds=rounds,
        per_round=per_round,
        profiles=profiles,
    )


PROFILED_REQUESTS = 500


def _explains_2fa_cost(function: str) -> bool:
    """The session check and everything about claims: what differs between variants."""
    return (
        function.startswith("st_twofactor/")
        or "claim" in function.lower()
        or function.endswith((":get_session", ":verify_session", ":get_session_from_request"))
    )


async def _profile(client: Any, path: str, headers: dict[str, str]) -> list[Row]:
    """Per request: the whole request, then the session and claim functions (cProfile)."""
    profiler = cProfile.Profile()
    profiler.enable()
    await _batch(client, path, headers, PROFILED_REQUESTS)
    profiler.disable()
    whole = Row("(the whole request, under the profiler)", 1, total(profiler) / PROFILED_REQUESTS)
    return [whole, *rows(profiler, PROFILED_REQUESTS, _explains_2fa_cost, top=16)]


def summary(results: ProtectedResults) -> dict[str, dict[str, float]]:
    """Per variant: req/s (median of rounds), latency percentiles (ms), cost ratio."""
    return {
        key: {
            "rps": r.rate,
            **latency_summary(r.latencies),
            "ratio": r.ratio,
            "rate_ratio": r.rate_ratio,
        }
        for key, r in results.variants.items()
    }
