"""docs/benchmarks.md and its chart, from the results of a run."""

from __future__ import annotations

import platform
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from . import devcore_load, protected
from ._common import median, table
from .alternatives import FLOWS
from .chart import Bar, grouped_bars
from .devcore_load import OPERATIONS, LoadResults
from .flows import CallCost, FlowCpu, FlowResults
from .imports import APP_RECIPES as _APP_RECIPES
from .imports import CANDIDATES, ImportResults
from .load import LoadRun
from .profiles import Row
from .protected import GOAL_RATIO, MARGIN, VARIANTS, ProtectedResults
from .report_repeats import repeats_goal, repeats_section
from .report_work import cpu_section, load_section, ratio_goals

LIBRARY = "st-twofactor"


@dataclass
class Run:
    """Everything one run of the benchmark measured (a part left out is ``None``)."""

    command: str
    started: str
    settings: dict[str, Any]
    protected: ProtectedResults | None = None
    flows: FlowResults | None = None
    speed: FlowResults | None = None
    """Every variant: the alternatives over HTTP/HTTPS, reuse_core_connections() off/on."""
    call_cost: CallCost | None = None
    call_cost_https: CallCost | None = None
    password_hash: float = 0.0
    flow_profile: list[Row] = field(default_factory=list)
    stores: FlowResults | None = None
    """The flows of st-twofactor with the default store and with SQLStore."""
    load: LoadResults | None = None
    imports: ImportResults | None = None
    flow_cpu: dict[str, dict[str, FlowCpu]] | None = None
    """Per variant (speed-up on) and flow: CPU time on the app's thread, the library's part."""
    app_load: LoadRun | None = None
    """Many users through one app worker per alternative."""
    repeats: list[FlowResults] = field(default_factory=list)
    """The flows over plain HTTP (speed-up off and on) measured again, run after run."""
    wall_seconds: float = 0.0
    load_average: str = ""


# -- small formatting helpers --


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}" if seconds >= 0.1 else f"{seconds * 1000:.2f}"


def yes_no(met: bool) -> str:
    return "**met**" if met else "**not met**"


def profile_table(columns: dict[str, list[Row]], unit: str, scale: float = 1e6) -> list[str]:
    """Functions down, one column per profiled thing, cumulative time per unit."""
    names: list[str] = []
    for profile_rows in columns.values():
        names += [r.function for r in profile_rows if r.function not in names]
    lookup = {key: {r.function: r for r in profile_rows} for key, profile_rows in columns.items()}
    body = []
    for name in names:
        cells = []
        for key in columns:
            row = lookup[key].get(name)
            cells.append("" if row is None else f"{row.cumulative * scale:.1f}")
        body.append([f"`{name}`", *cells])
    return table(["function", *(f"{key} ({unit})" for key in columns)], body)


# -- goals --


@dataclass(frozen=True)
class FlowVerdict:
    fewest_calls: dict[str, bool]
    """Per flow that the library runs: does it need no more core calls than any other?"""
    end_to_end: dict[str, tuple[float, float, list[str]]]
    """Per other alternative: (library total, other total, flows compared), medians summed."""
    missing: list[str]
    """Flows the library should run but did not (failed)."""

    @property
    def calls_met(self) -> bool:
        return all(self.fewest_calls.values()) and not self.missing

    @property
    def speed_met(self) -> bool:
        return all(ours < theirs for ours, theirs, _ in self.end_to_end.values())


def flow_verdict(results: FlowResults) -> FlowVerdict:
    fewest: dict[str, bool] = {}
    for flow, _ in FLOWS:
        ours = results.measured(LIBRARY, flow)
        if ours is None:
            continue
        others = [results.measured(k, flow) for k in results.samples if k != LIBRARY]
        fewest[flow] = all(o is None or ours.call_count <= o.call_count for o in others)
    end_to_end = {}
    for other in results.samples:
        if other == LIBRARY:
            continue
        shared = [
            flow
            for flow, _ in FLOWS
            if results.measured(LIBRARY, flow) and results.measured(other, flow)
        ]
        ours = sum(_median_of(results, LIBRARY, f) for f in shared)
        theirs = sum(_median_of(results, other, f) for f in shared)
        end_to_end[other] = (ours, theirs, shared)
    missing = [flow for flow in results.failed[LIBRARY] if flow not in results.unsupported[LIBRARY]]
    return FlowVerdict(fewest, end_to_end, missing)


def _median_of(results: FlowResults, alt: str, flow: str) -> float:
    samples = results.measured(alt, flow)
    assert samples is not None
    return median(samples.seconds)


def extra_calls(ours: list[str], best: list[str]) -> list[str]:
    """The core calls in ``ours`` beyond those in ``best`` (as multisets), e.g. ``2x GET /x``."""
    extra = Counter(ours) - Counter(best)
    return [f"{n}x `{call}`" for call, n in sorted(extra.items())]


# -- the document --


def render(run: Run) -> tuple[str, str | None]:
    """The markdown of docs/benchmarks.md and the SVG chart (None without flow results)."""
    out = [
        "# Benchmarks",
        "",
        f"Generated by `{run.command}` (do not edit by hand) on {run.started}: Python "
        f"{platform.python_version()}, {platform.machine()}, {_cpus()} CPUs, load average "
        f"{run.load_average} at the start (a shared machine: other processes ran too). "
        f"Wall time {run.wall_seconds:.0f} s.",
        "",
        "Figures on a shared machine are noisy: every comparison below is between variants "
        "measured side by side in one run, interleaved, and reported as medians.",
        "",
    ]
    out += _goals(run)
    if run.protected is not None:
        out += _protected_section(run.protected)
    chart = None
    if run.flows is not None:
        section, chart = _flows_section(run)
        out += section
    if run.stores is not None:
        out += _stores_section(run.stores)
    if run.load is not None:
        out += _load_section(run.load)
    if run.imports is not None:
        out += _imports_section(run.imports)
    if run.app_load is not None:
        out += load_section(run.app_load, 5)
    out += _closing(run)
    out += ["## Settings of this run", "", "```", *_settings(run.settings), "```", ""]
    return "\n".join(out), chart


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def _settings(settings: dict[str, Any]) -> list[str]:
    return [f"{key} = {value}" for key, value in settings.items()]


def _goals(run: Run) -> list[str]:
    rows = []
    if run.protected is not None:
        p = run.protected
        ratios = "; ".join(
            f"{v.title}: {v.ratio:.3f} (median request), {v.rate_ratio:.3f} (throughput)"
            for k, v in p.variants.items()
            if k != "plain"
        )
        rows.append(
            [
                "Protected request: time ratio <= 1.05 against `verify_session()` without 2FA",
                ratios
                + (
                    f" (within {MARGIN} of the goal: a run can land on either side)"
                    if p.goal_at_risk and p.worst_ratio <= GOAL_RATIO
                    else ""
                ),
                yes_no(p.worst_ratio <= GOAL_RATIO),
            ]
        )
        rows.append(
            [
                "Protected request: zero core calls",
                f"{len(p.core_calls)} core calls in {p.requests} requests",
                yes_no(not p.core_calls),
            ]
        )
    if run.flows is not None:
        verdict = flow_verdict(run.flows)
        not_fewest = [f for f, ok in verdict.fewest_calls.items() if not ok]
        rows.append(
            [
                "st-twofactor needs the fewest core calls, for every flow",
                "fewest or tied for every flow"
                if not not_fewest
                else "more calls than another for: " + ", ".join(not_fewest),
                yes_no(verdict.calls_met),
            ]
        )
        key_row = _security_key_goal(run.flows)
        if key_row is not None:
            rows.append(key_row)
        speed = "; ".join(
            f"{ms(ours)} ms vs {ms(theirs)} ms for {run.flows.titles[other]}"
            for other, (ours, theirs, _) in verdict.end_to_end.items()
        )
        rows.append(
            [
                "st-twofactor is fastest end to end (sum of the median flow times, over the "
                "flows both alternatives offer)",
                speed,
                yes_no(verdict.speed_met),
            ]
        )
    rows += _speed_goals(run)
    if run.speed is not None and run.flows is not None:
        rows += repeats_goal([run.speed, *run.repeats], _kinds(run)[1:])
    if not rows:
        return []
    return ["## Goals", "", *table(["goal", "this run", ""], rows), ""]


def _protected_section(p: ProtectedResults) -> list[str]:
    stats = protected.summary(p)
    plain_p50 = stats["plain"]["p50"]
    body = []
    for key, title in VARIANTS:
        s = stats[key]
        body.append(
            [
                title,
                f"{s['rps']:.0f}",
                f"{s['p50']:.3f}",
                f"{s['p90']:.3f}",
                f"{s['p99']:.3f}",
                f"{(s['p50'] - plain_p50) * 1000:+.0f}",
                f"{s['ratio']:.3f}",
                f"{s['rate_ratio']:.3f}",
            ]
        )
    out = [
        "## 1. What the 2FA check adds to a protected request",
        "",
        "One FastAPI app, one user whose 2FA is complete, one access token. Between batches "
        "only the session recipe's `get_global_claim_validators` is switched between the SDK's "
        "own (no 2FA) and the one `override_session_functions()` installs; `require_2fa` has "
        "its own route. Requests go one at a time through the whole ASGI stack, in-process "
        f"(httpx.ASGITransport): {p.rounds} rounds of {p.per_round} requests per variant, the "
        "variants in a rotated order each round.",
        "",
        *table(
            [
                "variant",
                "requests/s (median of rounds)",
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "p50 vs no 2FA (us)",
                "time ratio (median request)",
                "time ratio (throughput)",
            ],
            body,
        ),
        "",
        "- *time ratio (median request)*: per round, the variant's median request time over "
        "the no-2FA median; the median of those over rounds. It is what the check costs, "
        "without the multi-millisecond stalls other processes on this machine add to a random "
        "tenth of the requests (see p90).",
        "- *time ratio (throughput)*: per round, the no-2FA requests/s over the variant's; the "
        "median over rounds. Stalls included, so noisier. The goal (<= "
        f"{GOAL_RATIO}) is checked against both.",
        f"- Core calls during the {p.requests} measured protected requests (from the "
        f"development core's request log): **{len(p.core_calls)}**"
        + (": " + ", ".join(f"`{c}`" for c in sorted(set(p.core_calls))) if p.core_calls else "")
        + ". The claim travels in the signed access token, so checking it needs no core call.",
        "",
    ]
    if p.profiles:
        out += [
            "### Where the time goes (cProfile)",
            "",
            f"The goal was {'missed' if not p.goal_met else 'met by less than ' + str(MARGIN)} "
            "in this run, so each variant was run again under cProfile "
            f"({protected.PROFILED_REQUESTS} requests). Microseconds per request, cumulative "
            "(the function and what it calls), for the session check and everything about "
            "claims; the profiler inflates every figure, compare them across columns.",
            "",
            *profile_table(p.profiles, "us per request"),
            "",
        ]
    return out


def _flows_section(run: Run) -> tuple[list[str], str]:
    results = run.flows
    assert results is not None
    alts = list(results.samples)
    header = ["flow", *(f"{results.titles[a]}: core calls" for a in alts)]
    header += [f"{results.titles[a]}: median ms" for a in alts]
    body = []
    notes: dict[str, int] = {}
    for flow, title in FLOWS:
        calls, times = [], []
        measured = {a: results.measured(a, flow) for a in alts}
        fewest = min((s.call_count for s in measured.values() if s), default=None)
        fastest = min((_median_of(results, a, flow) for a, s in measured.items() if s), default=0)
        for alt in alts:
            s = measured[alt]
            if s is None:
                reason = results.unsupported[alt].get(flow) or results.failed[alt].get(
                    flow, "not run"
                )
                number = notes.setdefault(reason, len(notes) + 1)
                calls.append(f"n/a [{number}]")
                times.append("")
                continue
            low, high = s.call_range
            count = str(s.call_count) if low == high else f"{s.call_count} ({low}-{high})"
            calls.append(f"**{count}**" if s.call_count == fewest else count)
            median = _median_of(results, alt, flow)
            times.append(f"**{ms(median)}**" if median == fastest else ms(median))
        body.append([title, *calls, *times])
    cost = run.call_cost
    out = [
        "## 2. Core calls and time per flow",
        "",
        "The same journey for each alternative, over HTTP through its FastAPI app "
        "(in-process) against the development core: sign-up, TOTP enrolment, e-mail code "
        "(first use), security key enrolment, sign-in, 2FA status, TOTP code, sign-in + "
        "e-mail code, sign-in + recovery code, sign-in + security key. Core calls are "
        "counted from the development core's request log; "
        "times are measured by the client. After every second factor the journey checks "
        "that a `verify_session()` route lets the session through. "
        f"Journeys per alternative: {results.journeys}, interleaved (medians). "
        "Bold: fewest calls / fastest.",
        "",
        "Each flow is what the user's browser sends for it: TOTP enrolment is two requests "
        "(new device, first code), an e-mail code two (send, enter). *E-mail code, first "
        "use* adds the e-mail factor right after the TOTP enrolment, in a session whose 2FA "
        "is fresh (st-twofactor pins the address, SuperTokens' MFA links a passwordless "
        "login method to the user); for the legacy overrides it is the user's first code, "
        "which signs up their passwordless user. A security key (st-twofactor only; a "
        "software authenticator from `st_twofactor.testing.webauthn` answers, and its "
        "signing is part of the time) is enrolled in that fresh session too (options, "
        "then the answer), and after sign-in it is two requests, measured apart: the "
        "options (a signed challenge and the user's keys), then the answer.",
        "",
        "- **st-twofactor**: `build_recipe_list()` + `twofactor_plugin()`, default store "
        "(SuperTokens user metadata), on the free core.",
        "- **SuperTokens MFA + TOTP (paid)**: the SDK's `multifactorauth` (first factor "
        "emailpassword) + `totp` + `passwordless` (e-mail codes) + `accountlinking` "
        "(automatic, no verification: the `otp-email` factor links a passwordless login "
        "method to the user), the tenant's `requiredSecondaryFactors` = totp, otp-email; "
        "through the SDK's own routes (`/auth/totp/...`, `/auth/signinup/code...` with "
        "`shouldTryLinkingWithSessionUser`, `PUT /auth/mfa/info` as the status), on the "
        "development core with `licensed=True`.",
        "- **Legacy guide overrides**: written plainly in `benchmarks/legacy.py` from the "
        "legacy guide's idea (a `BooleanClaim` set in `create_new_session`, passwordless "
        "e-mail codes as the second factor, the consume API overridden to keep the existing "
        "session; it signs up a second, passwordless user per user), on the free core.",
        "",
        *table(header, body),
        "",
    ]
    out += [f"[{n}] {reason}  " for reason, n in notes.items()]
    out += ["", "![Median time and core calls per flow](benchmarks.svg)", ""]
    if cost is not None:
        out += [
            f"Why time follows the number of core calls: one core call through "
            f"supertokens-python 0.31.4 took {ms(cost.through_sdk)} ms here (median), the "
            f"same request on a kept-alive HTTP client {ms(cost.reused_client)} ms. The SDK "
            f"opens a new `httpx.AsyncClient` for every core call, and making one (its TLS "
            f"context loads the CA bundle) took {ms(cost.new_client)} ms on this machine.",
            "",
        ]
    out += _speed_section(run)
    if run.speed is not None:
        out += repeats_section([run.speed, *run.repeats], _kinds(run)[1:], results.titles)
    if run.flow_cpu is not None:
        titles = {variant(k, reuse=True): t for k, t in run.flows.titles.items()}
        journeys = int(run.settings.get("cpu_journeys", 0))
        out += cpu_section(run.flow_cpu, run.speed, titles, journeys)
    out += _call_lists(results)
    verdict = flow_verdict(results)
    if not (verdict.calls_met and verdict.speed_met):
        out += _flow_shortfall(run, verdict)
    return out, _chart(results)


def _stores_section(results: FlowResults) -> list[str]:
    """The default store and SQLStore side by side: core calls and median time per flow."""
    default, sql = list(results.samples)
    rows = []
    for flow, title in FLOWS:
        ours, theirs = results.measured(default, flow), results.measured(sql, flow)
        if ours is None or theirs is None:
            continue
        rows.append(
            [
                title,
                ours.call_count,
                theirs.call_count,
                ms(_median_of(results, default, flow)),
                ms(_median_of(results, sql, flow)),
            ]
        )
    return [
        "## Where the 2FA state lives: user metadata or SQL",
        "",
        f"The same journeys ({results.journeys} per store), st-twofactor only: with the default "
        f"store (user metadata, in the core) and with `SQLStore` "
        f"(`ST2FA_BENCH_SQL_URL`, default an SQLite file). With `SQLStore` the state no "
        f"longer goes through the core.",
        "",
        *table(
            [
                "flow",
                f"{results.titles[default]}: core calls",
                f"{results.titles[sql]}: core calls",
                f"{results.titles[default]}: median ms",
                f"{results.titles[sql]}: median ms",
            ],
            rows,
        ),
        "",
    ]


def _call_lists(results: FlowResults) -> list[str]:
    out = ["<details><summary>The core calls of each flow, in order</summary>", ""]
    for flow, title in FLOWS:
        out.append(f"**{title}**")
        out.append("")
        for alt in results.samples:
            s = results.measured(alt, flow)
            if s is None:
                continue
            calls = ", ".join(f"`{c}`" for c in s.typical_calls) or "none"
            out.append(f"- {results.titles[alt]} ({len(s.typical_calls)}): {calls}")
        out.append("")
    out += ["</details>", ""]
    return out


def _flow_shortfall(run: Run, verdict: FlowVerdict) -> list[str]:
    results = run.flows
    assert results is not None
    out = ["### Where st-twofactor falls short in this run", ""]
    for flow in verdict.missing:
        out.append(f"- {flow}: did not run: {results.failed[LIBRARY][flow]}")
    for flow, fewest in verdict.fewest_calls.items():
        if fewest:
            continue
        ours = results.measured(LIBRARY, flow)
        assert ours is not None
        best_alt = min(
            (a for a in results.samples if a != LIBRARY and results.measured(a, flow)),
            key=lambda a: results.measured(a, flow).call_count,  # type: ignore[union-attr]
        )
        best = results.measured(best_alt, flow)
        assert best is not None
        extra = ", ".join(extra_calls(ours.typical_calls, best.typical_calls))
        out.append(
            f"- {dict(FLOWS)[flow]}: {ours.call_count} core calls against "
            f"{best.call_count} for {results.titles[best_alt]}; the calls st-twofactor makes "
            f"beyond those: {extra}."
        )
    for other, (ours, theirs, shared) in verdict.end_to_end.items():
        if ours >= theirs:
            out.append(
                f"- End to end over {', '.join(shared)}: {ms(ours)} ms against {ms(theirs)} ms "
                f"for {results.titles[other]}."
            )
    out.append("")
    if run.flow_profile:
        out += [
            "cProfile of st-twofactor's journey (warm; milliseconds per journey, cumulative): "
            "the library's functions, the SDK's core calls (`querier.py:api_request`) and the "
            "HTTP client they create (`create_ssl_context`).",
            "",
            *profile_table({"st-twofactor": run.flow_profile}, "ms per journey", scale=1e3),
            "",
        ]
    return out


def _security_key_goal(results: FlowResults) -> list[str] | None:
    """Issue 12's goal: a security key costs no more core calls than TOTP, for enrolment
    and for the request that verifies; the options request before the latter is shown."""
    flows = ("webauthn-enrol", "webauthn-options", "webauthn-verify", "totp-enrol", "totp-verify")
    measured = [results.measured(LIBRARY, f) for f in flows]
    if any(m is None for m in measured):
        return None
    enrol, options, answer, totp_enrol, totp_verify = (m.call_count for m in measured if m)
    both = _median_of(results, LIBRARY, "webauthn-options") + _median_of(
        results, LIBRARY, "webauthn-verify"
    )
    return [
        "Security keys: no more core calls than TOTP (enrolment; the request that verifies)",
        f"enrolment {enrol} vs {totp_enrol} for TOTP; the answer {answer} vs {totp_verify} for "
        f"a TOTP code, after an options request of {options} (it reads the user's keys for "
        f"the browser; a page that reads `GET /auth/2fa` after sign-in, as for any factor, "
        f"finds the same options there and skips it); options + answer {ms(both)} ms vs "
        f"{ms(_median_of(results, LIBRARY, 'totp-verify'))} ms for a TOTP code",
        yes_no(enrol <= totp_enrol and answer <= totp_verify),
    ]


def _chart(results: FlowResults) -> str:
    alts = list(results.samples)
    groups, bars = [], []
    for flow, title in FLOWS:
        groups.append(title)
        row = []
        for alt in alts:
            s = results.measured(alt, flow)
            if s is None:
                row.append(Bar(None, "n/a"))
                continue
            median = _median_of(results, alt, flow)
            row.append(Bar(median * 1000, f"{median * 1000:.0f} ms, {s.call_count} core calls"))
        bars.append(row)
    return grouped_bars(
        title="Median time per flow (bar) and core calls (label)",
        groups=groups,
        series=[results.titles[a] for a in alts],
        bars=bars,
        unit="ms",
    )


def _load_section(load: LoadResults) -> list[str]:
    stats = devcore_load.summary(load)
    header = ["operation", "clients"]
    for size in load.sizes:
        header += [f"{size:,} stored: req/s", "p50 / p99 ms"]
    body = []
    for operation in OPERATIONS:
        for clients in load.clients:
            row = [operation, str(clients)]
            for size in load.sizes:
                s = stats[(size, operation, clients)]
                errors = f" ({s['errors']:.0f} errors)" if s["errors"] else ""
                row += [f"{s['rps']:.0f}{errors}", f"{s['p50']:.1f} / {s['p99']:.1f}"]
            body.append(row)
    seeded = ", ".join(
        f"{size:,} in {seconds:.1f} s" for size, seconds in load.seed_seconds.items()
    )
    return [
        "## 3. The development core",
        "",
        "The core in its own process (`python -m st_twofactor.devcore --db FILE`, SQLite in "
        "WAL mode with `synchronous=FULL`), driven over loopback HTTP/1.1 keep-alive "
        "connections by client threads of the benchmark process. `create`: `POST "
        "/recipe/session` for a random stored user; `verify`: `POST /recipe/session/verify` "
        "with `checkDatabase: true`; `refresh`: `POST /recipe/session/refresh`, each client "
        "following its own chain of refresh tokens. The cores of all sizes run at once and "
        f"take turns cell by cell; each cell runs {load.seconds_per_cell:g} s, {load.repeats} "
        "times. Requests/s is the median over those, the percentiles are over every request.",
        "",
        "Before each size the SQLite file is **seeded directly through the core's `Database`** "
        "(bulk SQL inserts of users, their tenant rows, one session and one refresh token per "
        f"user; this bypasses HTTP): {seeded}.",
        "",
        *table(header, body),
        "",
        *_growth(load, stats),
        "The core serves each connection in a thread and runs every request in one SQLite "
        "transaction under one lock, so requests/s levels off at a few clients on two CPUs; "
        "`create` and `refresh` sign a new RS256 access token and write (an fsync per "
        "commit), `verify` with `checkDatabase` reads one row. It is a development and test "
        "server: a production app points `connection_uri` at a real SuperTokens core.",
        "",
    ]


def _growth(load: LoadResults, stats: dict[tuple[int, str, int], dict[str, float]]) -> list[str]:
    """How the median request time changed from the smallest to the largest size.

    The median time, not requests/s: a stall from another process on this machine moves
    the throughput of a one-second cell, hardly its median request.
    """
    small, large = min(load.sizes), max(load.sizes)
    if small == large:
        return []
    changes = {
        (operation, clients): stats[(large, operation, clients)]["p50"]
        / stats[(small, operation, clients)]["p50"]
        - 1
        for operation in OPERATIONS
        for clients in load.clients
    }
    listed = ", ".join(f"{op}/{n}: {change * 100:+.0f}%" for (op, n), change in changes.items())
    typical = median(list(changes.values()))
    verdict = f"a median change of {typical * 100:+.0f}%"
    if abs(typical) < 0.15:
        verdict += (
            ", small next to a hundredfold more rows: every request finds its rows through "
            "an index (B-tree lookups grow with the logarithm of the table); what limits the "
            "core is its one lock and the CPU"
        )
    return [
        f"From {small:,} to {large:,} stored users and sessions (the sizes measured side by "
        f"side), the median request time changed by {listed} (operation/clients): {verdict}.",
        "",
    ]


def _imports_section(imports: ImportResults) -> list[str]:
    base = imports.median("supertokens_python")
    body = [
        [
            name,
            f"`{statement}`",
            f"{imports.median(name) * 1000:.0f}",
            f"{imports.median(name) / base:.2f}",
        ]
        for name, statement in CANDIDATES
    ]
    return [
        "## 4. Import time",
        "",
        f"Each figure is the median of {imports.runs} fresh interpreters timing one import "
        "statement (interpreter start-up not counted), the candidates taking turns, bytecode "
        "already compiled.",
        "",
        *table(["what", "statement", "median ms", "relative to `import supertokens_python`"], body),
        "",
        f"What `import st_twofactor` adds to an app that imports those SDK recipes anyway: "
        f"{(imports.median('st_twofactor') - imports.median(_APP_RECIPES)) * 1000:+.0f} ms "
        "(`st_twofactor` imports them itself). The FastAPI helpers import FastAPI, which a "
        "FastAPI app has imported already.",
        "",
        "`python -X importtime -c 'import st_twofactor'`, slowest modules (cumulative, "
        "including what they import):",
        "",
        *table(
            ["module", "ms"],
            [
                [f"`{name.strip()}`", f"{seconds * 1000:.0f}"]
                for seconds, name in imports.top_modules
            ],
        ),
        "",
    ]


# -- reuse_core_connections() --

CALL_GOAL = 3.0
"""A core call with the speed-up: at most this many times a kept-alive client's call."""
SIGN_IN_GOAL = 4.0
"""Sign-in end to end with the speed-up: at least this many times faster than without."""


def variant(key: str, *, https: bool = False, reuse: bool = False) -> str:
    """The key of an alternative's variant in :attr:`Run.speed` (see ``Setup.suffix``)."""
    return key + ("/https" if https else "") + ("+reuse" if reuse else "")


def _kinds(run: Run) -> list[str]:
    assert run.flows is not None
    return list(run.flows.samples)


def _flow_median(speed: FlowResults, key: str, flow: str) -> float | None:
    samples = speed.measured(key, flow)
    return None if samples is None else median(samples.seconds)


def _sum_over(speed: FlowResults, key: str, flows: list[str]) -> float:
    return sum(_flow_median(speed, key, f) or 0.0 for f in flows)


def _shared_flows(speed: FlowResults, keys: list[str]) -> list[str]:
    return [f for f, _ in FLOWS if all(speed.measured(k, f) for k in keys)]


def _speed_goals(run: Run) -> list[list[str]]:
    rows: list[list[str]] = []
    cost, speed = run.call_cost, run.speed
    if cost is not None and cost.through_sdk_reuse:
        ratio = cost.through_sdk_reuse / cost.reused_client
        https = run.call_cost_https
        extra = (
            f"; over HTTPS {ms(https.through_sdk_reuse)} ms vs {ms(https.reused_client)} ms "
            f"({https.through_sdk_reuse / https.reused_client:.2f}x)"
            if https is not None and https.through_sdk_reuse
            else ""
        )
        rows.append(
            [
                f"A core call with `reuse_core_connections()` within {CALL_GOAL:g}x of the "
                "same request on a kept-alive client (loopback HTTP)",
                f"{ms(cost.through_sdk_reuse)} ms vs {ms(cost.reused_client)} ms: {ratio:.2f}x "
                f"(without it {ms(cost.through_sdk)} ms){extra}",
                yes_no(ratio <= CALL_GOAL),
            ]
        )
    if speed is None:
        return rows
    off = _flow_median(speed, variant(LIBRARY), "sign-in")
    on = _flow_median(speed, variant(LIBRARY, reuse=True), "sign-in")
    if off and on:
        text = f"{ms(off)} ms without, {ms(on)} ms with it: {off / on:.2f}x faster"
        hashing = run.password_hash
        if off / on < SIGN_IN_GOAL and hashing and on > hashing:
            text += (
                f". One sign-in includes the development core's password hash, "
                f"{ms(hashing)} ms here, which no client change removes; the rest of the "
                f"sign-in went from {ms(off - hashing)} ms to {ms(on - hashing)} ms "
                f"({(off - hashing) / (on - hashing):.2f}x)"
            )
        rows.append(
            [
                f"Sign-in end to end at least {SIGN_IN_GOAL:g}x faster with "
                "`reuse_core_connections()` (st-twofactor, loopback HTTP)",
                text,
                yes_no(off / on >= SIGN_IN_GOAL),
            ]
        )
    ours = variant(LIBRARY, reuse=True)
    parts, met = [], True
    for other in _kinds(run)[1:]:
        theirs_on, theirs_off = variant(other, reuse=True), variant(other)
        shared = _shared_flows(speed, [ours, theirs_on, theirs_off])
        if not shared:
            continue
        a, b, c = (_sum_over(speed, k, shared) for k in (ours, theirs_on, theirs_off))
        met = met and a < b
        parts.append(
            f"{ms(a)} ms vs {ms(b)} ms with it, {ms(c)} ms without it, for {speed.titles[other]}"
        )
    if parts:
        rows.append(
            [
                "st-twofactor with `reuse_core_connections()` is fastest end to end, also "
                "against the others with it (loopback HTTP, sum of median flow times)",
                "; ".join(parts),
                yes_no(met),
            ]
        )
    rows += ratio_goals(speed, ours)
    return rows


def _speed_section(run: Run) -> list[str]:
    speed = run.speed
    if speed is None:
        return []
    kinds = _kinds(run)
    out = [
        "### Faster core calls: `speedups.reuse_core_connections()`",
        "",
        "The same journeys, in the same rounds (every variant takes its turn in each round), "
        "for each alternative with `st_twofactor.speedups.reuse_core_connections()` off and "
        "on, over loopback HTTP and over HTTPS: a local TLS endpoint in front of the "
        "development core, its throwaway CA given by `SSL_CERT_FILE` (a bundle of "
        "certifi's CAs plus that CA, so making a TLS context costs what it costs by "
        "default). The opt-in gives the SDK's new `httpx.AsyncClient` per core call one "
        "shared TLS context instead of a new one each; every call still opens its own "
        "connection (kept-alive connections would let a reply too many from the core or a "
        "proxy answer the next call, possibly another user's), so the kept-alive client "
        "column is the part of a call's cost it leaves. It speeds up any "
        "supertokens-python 0.31 app, so the paid recipes and the legacy overrides are "
        "measured with it too.",
        "",
    ]
    costs = [c for c in (run.call_cost, run.call_cost_https) if c and c.through_sdk_reuse]
    if costs:
        out += [
            "One core call (`get_user_metadata`, medians; event loops with the opt-in off and "
            "on take turns):",
            "",
            *table(
                [
                    "transport",
                    "through the SDK, off: ms",
                    "through the SDK, on: ms",
                    "faster by",
                    "kept-alive client: ms",
                    "on / kept-alive",
                    "making an `httpx.AsyncClient`: ms",
                ],
                [
                    [
                        c.transport,
                        ms(c.through_sdk),
                        ms(c.through_sdk_reuse),
                        f"{c.through_sdk / c.through_sdk_reuse:.1f}x",
                        ms(c.reused_client),
                        f"{c.through_sdk_reuse / c.reused_client:.2f}x",
                        ms(c.new_client),
                    ]
                    for c in costs
                ],
            ),
            "",
        ]
    for https in (False, True):
        header = ["flow"]
        for kind in kinds:
            header += [f"{speed.titles[kind]}: off ms", "on ms", "faster by"]
        body = []
        for flow, title in FLOWS:
            row = [title]
            for kind in kinds:
                off = _flow_median(speed, variant(kind, https=https), flow)
                on = _flow_median(speed, variant(kind, https=https, reuse=True), flow)
                if off is None or on is None:
                    row += ["", "", ""]
                    continue
                row += [ms(off), ms(on), f"{off / on:.1f}x"]
            body.append(row)
        out += [
            f"Median ms per flow over {'HTTPS' if https else 'loopback HTTP'}, the opt-in "
            "off and on:",
            "",
            *table(header, body),
            "",
        ]
    out += _end_to_end_table(run)
    failures = [
        f"- {speed.titles[key]}, {flow}: {error}"
        for key, failed in speed.failed.items()
        for flow, error in failed.items()
        if flow not in speed.unsupported[key]
    ]
    if failures:
        out += ["Flows that failed in this run (no figure above):", "", *failures, ""]
    return out


def _end_to_end_table(run: Run) -> list[str]:
    speed = run.speed
    assert speed is not None
    kinds = _kinds(run)
    body = []
    for https in (False, True):
        for other in kinds[1:]:
            keys = [
                variant(k, https=https, reuse=r) for k in (LIBRARY, other) for r in (False, True)
            ]
            shared = _shared_flows(speed, keys)
            if not shared:
                continue
            ours_off, ours_on, theirs_off, theirs_on = (_sum_over(speed, k, shared) for k in keys)
            body.append(
                [
                    "HTTPS" if https else "HTTP",
                    speed.titles[other],
                    str(len(shared)),
                    ms(ours_off),
                    ms(theirs_off),
                    ms(ours_on),
                    ms(theirs_on),
                    f"{theirs_off / ours_on:.2f}x",
                    f"{theirs_on / ours_on:.2f}x",
                ]
            )
    return [
        "End to end: the sum of the median flow times over the flows both alternatives run:",
        "",
        *table(
            [
                "transport",
                "against",
                "flows",
                "st-twofactor, off: ms",
                "theirs, off: ms",
                "st-twofactor, on: ms",
                "theirs, on: ms",
                "st-twofactor on vs theirs off",
                "st-twofactor on vs theirs on",
            ],
            body,
        ),
        "",
        "*x* > 1: st-twofactor is that many times faster. With the same number of core calls "
        "per flow the opt-in speeds up both sides alike; st-twofactor's lead comes from "
        "making fewer core calls (section 2's first table).",
        "",
    ]


# -- what would close the gaps --


def _hints(calls: Counter[str]) -> list[str]:
    """What the library could drop, judged from the core calls it makes in the flagged flows."""
    hints = []
    if calls["GET /recipe/user/metadata"] >= 2:
        hints.append(
            "read the user's 2FA state once per request and write it at most once: each "
            "read-modify-write of the user-metadata store is a `GET` and a `PUT` of "
            f"`/recipe/user/metadata` ({calls['GET /recipe/user/metadata']} `GET`s and "
            f"{calls['PUT /recipe/user/metadata']} `PUT`s in these flows)"
        )
    sign_in_checks = (
        calls["GET /public/users/by-accountinfo"]
        + calls["GET /public/recipe/multitenancy/tenant/v2"]
    )
    if sign_in_checks:
        hints.append(
            "for e-mail codes, call the passwordless recipe's `create_code` and send the "
            "e-mail through the recipe's delivery instead of calling the API-level "
            "`create_code_post`, whose sign-in/up checks (`users/by-accountinfo`, the "
            f"tenant's config: {sign_in_checks} calls here) a second factor does not need"
        )
    return hints


def _cumulative(profile_rows: list[Row], suffix: str) -> float:
    """Microseconds per request of the profiled function whose name ends with ``suffix``."""
    return sum(r.cumulative for r in profile_rows if r.function.endswith(suffix)) * 1e6


def _protected_gap(p: ProtectedResults) -> str:
    text = (
        "**Protected requests.** Two things add time. The library's own per-request work: "
        "`get_global_claim_validators` adds the claim's validator (made once per claim) to the "
        "list on every request, and `require_2fa(max_age=...)` gets that list and then swaps "
        "the validator for its step-up one. And the SDK's claim checks (`assert_claims`, "
        "`validate_claims_in_payload`), which run only when a route has a claim validator."
    )
    if "global" in p.profiles and "plain" in p.profiles:
        ours = _cumulative(p.profiles["global"], "session_override.py:get_global_claim_validators")
        sdk = _cumulative(p.profiles["global"], "session_class.py:assert_claims") - _cumulative(
            p.profiles["plain"], "session_class.py:assert_claims"
        )
        text += (
            f" Under the profiler the first took {ours:.0f} us per request and the second "
            f"{sdk:.0f} us more than without 2FA."
        )
    return text + (
        " Letting `require_2fa` skip the global validator it replaces would remove most of "
        "the library's share; the SDK's share is the price of any claim. Measured "
        "in-process, the denominator is the cheapest request "
        "possible: behind a real server and a network the same microseconds are a smaller "
        "fraction."
    )


def _closing(run: Run) -> list[str]:
    gaps: list[str] = []
    if run.protected is not None and run.protected.goal_at_risk:
        gaps.append(_protected_gap(run.protected))
    if run.flows is not None:
        verdict = flow_verdict(run.flows)
        if not (verdict.calls_met and verdict.speed_met):
            ours_calls: Counter[str] = Counter()
            for flow, fewest in verdict.fewest_calls.items():
                ours = run.flows.measured(LIBRARY, flow)
                if not fewest and ours is not None:
                    ours_calls += Counter(ours.typical_calls)
            hints = _hints(ours_calls)
            cost = run.call_cost
            per_call = f" (about {ms(cost.through_sdk)} ms each here)" if cost else ""
            text = (
                "**Flows.** Time follows core calls through this SDK" + per_call + ", so the "
                "way to the goal is fewer calls in the flows listed above"
            )
            gaps.append(text + (": " + "; ".join(hints) + "." if hints else "."))
    if not gaps:
        return []
    return [
        "## What would close the gaps (or widen a thin margin)",
        "",
        *("- " + g for g in gaps),
        "",
    ]
