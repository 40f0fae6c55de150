"""The parts of docs/benchmarks.md about the library's own work: the flow-time ratios with
the speed-up on, the CPU time per flow (and the library's part of it), and the load through
one app worker. :mod:`benchmarks.report` puts them in the document."""

from __future__ import annotations

from ._common import median
from ._common import table as markdown_table
from .alternatives import FLOWS
from .flows import FlowCpu, FlowResults
from .load import LoadRun, table

ENROL_GOAL = 2.5
"""TOTP enrolment (two requests) at most this many times a TOTP code, speed-up on."""
RECOVERY_GOAL = 1.5
"""A recovery code at most this many times a TOTP code, speed-up on."""
LAG_GOAL_MS = 5.0
"""The library's own CPU time per request, at most (what it can add to the loop's lag)."""


def _median_ms(speed: FlowResults, key: str, flow: str) -> float | None:
    samples = speed.measured(key, flow)
    return None if samples is None else 1e3 * median(samples.seconds)


def ratio_goals(speed: FlowResults, ours: str) -> list[list[str]]:
    """Goal rows: TOTP enrolment and a recovery code against a TOTP code, for the variant
    ``ours`` (st-twofactor with the speed-up on)."""
    code = _median_ms(speed, ours, "totp-verify")
    if not code:
        return []
    rows = []
    for flow, goal, title in (
        ("totp-enrol", ENROL_GOAL, "TOTP enrolment (two requests)"),
        ("recovery-code", RECOVERY_GOAL, "A recovery code"),
    ):
        other = _median_ms(speed, ours, flow)
        if other is None:
            continue
        ratio = other / code
        rows.append(
            [
                f"{title} at most {goal:g}x the time of a TOTP code, with "
                "`reuse_core_connections()` (loopback HTTP)",
                f"{other:.2f} ms vs {code:.2f} ms: {ratio:.2f}x",
                "**met**" if ratio <= goal else "**not met**",
            ]
        )
    return rows


def cpu_section(
    cpu: dict[str, dict[str, FlowCpu]],
    speed: FlowResults | None,
    titles: dict[str, str],
    journeys: int,
) -> list[str]:
    """Where the time goes besides core calls: per flow, the app thread's CPU time for each
    alternative (speed-up on), and st-twofactor's own part of it."""
    keys = list(cpu)
    ours = keys[0]
    header = ["flow"]
    for key in keys:
        name = titles.get(key, key)
        header += [f"{name}: median ms", f"{name}: CPU ms"]
    header += ["st-twofactor's own CPU: ms", "share of its CPU", "per request: ms"]
    requests = {"totp-enrol": 2, "email-enrol": 2, "email-verify": 2, "webauthn-enrol": 2}
    body = []
    worst = 0.0
    for flow, title in FLOWS:
        row = [title]
        for key in keys:
            wall = _median_ms(speed, key, flow) if speed is not None else None
            found = cpu[key].get(flow)
            row += [
                f"{wall:.2f}" if wall else "",
                f"{1e3 * median(found.seconds):.2f}" if found and found.seconds else "",
            ]
        mine = cpu[ours].get(flow)
        if mine is None or not mine.seconds:
            continue
        per_request = mine.library_ms / requests.get(flow, 1)
        worst = max(worst, per_request)
        row += [f"{mine.library_ms:.2f}", f"{100 * mine.share:.0f} %", f"{per_request:.2f}"]
        body.append(row)
    return [
        "### Where the time goes besides core calls (speed-up on)",
        "",
        "Per flow, with `reuse_core_connections()` on, loopback HTTP: the median time (the "
        "table above) and the CPU time of the thread the requests run on, for "
        f"{journeys} journeys per alternative measured with `time.thread_time()` (the client "
        "and the whole app: web framework, SDK, library; the development core runs on other "
        "threads, so what is left of the time is the core's and the wait for it). "
        "*st-twofactor's own CPU*: the share of that CPU spent in the library's code and in "
        "what it calls outside the SDK, the web framework, the HTTP client and the event loop "
        "(the standard library, `cryptography`, `segno`...), from as many journeys under "
        "cProfile (thread CPU timer), applied to the unprofiled CPU time. Its largest value "
        f"per request is what the library can add to the event loop's lag: {worst:.2f} ms "
        f"here (goal: under {LAG_GOAL_MS:g} ms; the load section measures the lag itself).",
        "",
        *markdown_table(header, body),
        "",
    ]


def load_section(run: LoadRun, number: int) -> list[str]:
    """The load through one app worker, st-twofactor beside the alternatives."""
    return [
        f"## {number}. Many users through one app worker",
        "",
        f"`python -m benchmarks.load --users {run.users} --concurrency {run.concurrency} "
        f"--rounds {run.rounds}`: each alternative is served by one uvicorn worker process "
        "(one event loop) with `reuse_core_connections()` on, against development cores in "
        "processes of their own, on loopback; this process only sends the requests. In each "
        f"round, every alternative in turn: {run.users} new users are signed up and given "
        "their second factor (not measured), then they all sign in and complete it, "
        f"{run.concurrency} at a time. One journey is the sign-in and the second factor "
        "(st-twofactor and the paid recipes: a TOTP code; the legacy overrides have no TOTP: "
        "an e-mailed code, asked for and entered, two requests). Rates are medians over "
        "rounds; latencies are percentiles over all rounds. *Worker CPU* is the worker "
        "process's CPU time per journey. *Event-loop lag*: a task in the worker asks to "
        "wake up every millisecond and records how late it is; a step that holds the loop "
        "(CPU work, a blocking call) shows there, whoever's it is. Every sign-in includes "
        "the development core's password hash (scrypt), the same for all three.",
        "",
        *table(run),
        "",
    ]
