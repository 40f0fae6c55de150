"""The benchmark suite (``python -m benchmarks``) at tiny sizes, so that it cannot rot.

It runs every part once, checks the structure of what it measured and of the document it
writes, and the fact the first part exists to show: a protected request makes no core call.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.__main__ import QUICK, run, write
from benchmarks.alternatives import FLOWS
from benchmarks.report import Run


@pytest.fixture(scope="module")
def quick_run() -> Run:
    result = run(QUICK, command="python -m benchmarks --quick")
    assert isinstance(result, Run)
    return result


@pytest.mark.slow
def test_protected_requests_make_no_core_call(quick_run: Run) -> None:
    protected = quick_run.protected
    assert protected is not None
    assert protected.core_calls == []
    assert protected.requests == QUICK.protected_rounds * QUICK.protected_per_round * 3
    for variant in protected.variants.values():
        assert len(variant.rates) == QUICK.protected_rounds
        assert all(rate > 0 for rate in variant.rates)
        assert len(variant.ratios) == QUICK.protected_rounds


def test_every_flow_runs_or_says_why_not(quick_run: Run) -> None:
    flows = quick_run.flows
    assert flows is not None
    assert set(flows.samples) == {"st-twofactor", "sdk-mfa", "legacy"}
    assert flows.failed == {"st-twofactor": {}, "sdk-mfa": {}, "legacy": {}}
    for alt, per_flow in flows.samples.items():
        for flow, _ in FLOWS:
            samples = per_flow[flow]
            if flow in flows.unsupported[alt]:
                assert samples.seconds == []
                continue
            assert len(samples.seconds) == flows.journeys, (alt, flow)
            assert samples.call_count > 0, (alt, flow)
    assert flows.unsupported["st-twofactor"] == {}
    assert len(quick_run.repeats) == QUICK.flow_runs - 1
    for again in quick_run.repeats:  # the plain-HTTP variants, speed-up off and on
        assert set(again.samples) == {
            f"{alt}{suffix}" for alt in flows.samples for suffix in ("", "+reuse")
        }
        assert again.failed == {key: {} for key in again.samples}
    assert quick_run.call_cost is not None and quick_run.call_cost.through_sdk > 0


def test_core_load_and_imports_are_measured(quick_run: Run) -> None:
    load = quick_run.load
    assert load is not None
    assert len(load.cells) == len(QUICK.core_sizes) * 3 * len(QUICK.core_clients)
    for cell in load.cells.values():
        assert cell.errors == 0 and cell.rate > 0 and cell.latencies
    imports = quick_run.imports
    assert imports is not None
    assert all(imports.median(name) > 0 for name in imports.seconds)
    assert any(name.strip() == "st_twofactor" for _, name in imports.top_modules)


def test_the_library_cpu_per_flow_and_the_load_are_measured(quick_run: Run) -> None:
    cpu = quick_run.flow_cpu
    assert cpu is not None and set(cpu) == {"st-twofactor+reuse", "sdk-mfa+reuse", "legacy+reuse"}
    ours = cpu["st-twofactor+reuse"]
    assert all(ours[flow].seconds for flow, _ in FLOWS), ours
    assert 0 < ours["totp-enrol"].share < 1 and ours["totp-enrol"].library_ms > 0
    assert all(0 <= c.share < 0.01 for c in cpu["legacy+reuse"].values()), "no library there"
    load = quick_run.app_load
    assert load is not None and set(load.samples) == {"st-twofactor", "sdk-mfa", "legacy"}
    for key, samples in load.samples.items():
        assert samples.errors == [], (key, samples.errors)
        assert len(samples.journey_seconds) == load.users * load.rounds
        assert samples.journey_rates and samples.lags and samples.cpu_per_journey[0] > 0


def test_the_document_and_chart_are_written(quick_run: Run, tmp_path: Path) -> None:
    out = tmp_path / "docs" / "benchmarks.md"
    write(quick_run, out)
    markdown = out.read_text()
    for heading in (
        "# Benchmarks",
        "## Goals",
        "## 1. What the 2FA check adds to a protected request",
        "## 2. Core calls and time per flow",
        "## 3. The development core",
        "## 4. Import time",
        "### Where the time goes besides core calls (speed-up on)",
        "## 5. Many users through one app worker",
    ):
        assert f"\n{heading}\n" in f"\n{markdown}", heading
    assert "Protected request: zero core calls | 0 core calls" in markdown
    for _, title in FLOWS:
        assert f"| {title} |" in markdown
    assert "\n### Runs\n" in markdown
    runs = [line for line in markdown.splitlines() if line.startswith(("| 1 |", "| 2 |"))]
    assert len(runs) == QUICK.flow_runs and all("x)" in line for line in runs), runs
    assert f"met in each of {QUICK.flow_runs} runs" in markdown
    goal = next(line for line in markdown.splitlines() if "Security keys: no more core" in line)
    assert goal.endswith("| **met** |"), goal
    chart = (tmp_path / "docs" / "benchmarks.svg").read_text()
    assert chart.startswith("<svg") and chart.rstrip().endswith("</svg>")
    assert "](benchmarks.svg)" in markdown


def test_profiles_are_rendered_where_a_goal_is_missed(quick_run: Run) -> None:
    """The profile sections (only written when a goal is missed) render from real profiles."""
    import cProfile
    from dataclasses import replace

    from benchmarks.profiles import rows
    from benchmarks.report import render

    profiler = cProfile.Profile()
    profiler.enable()
    sorted(str(n) for n in range(1000))
    profiler.disable()
    found = rows(profiler, 1, lambda name: True, top=5)
    assert found and found[0].cumulative >= found[-1].cumulative
    assert quick_run.protected is not None
    missed = replace(
        quick_run,
        protected=replace(quick_run.protected, profiles={"plain": found, "global": found}),
        flow_profile=found,
    )
    markdown, _ = render(missed)
    assert "### Where the time goes (cProfile)" in markdown
    if quick_run.flows is not None and "### Where st-twofactor falls short" in markdown:
        assert "cProfile of st-twofactor's journey" in markdown
