"""``python -m benchmarks``: run every benchmark and write docs/benchmarks.md (+ its chart).

Options: ``--quick`` (tiny sizes, a smoke run), ``--out FILE`` (the markdown; the chart
is written beside it as ``benchmarks.svg``), ``--parts`` (a comma-separated subset of
protected, flows, stores, core, imports, load).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

PARTS = ("protected", "flows", "stores", "core", "imports", "load")


@dataclass(frozen=True)
class Settings:
    protected_rounds: int
    protected_per_round: int
    flow_rounds: int
    flow_journeys: int
    flow_runs: int
    core_sizes: tuple[int, ...]
    core_clients: tuple[int, ...]
    core_seconds: float
    core_repeats: int
    import_runs: int
    profile: bool
    cpu_journeys: int
    load_users: int
    load_concurrency: int
    load_rounds: int


FULL = Settings(
    protected_rounds=80,
    protected_per_round=50,
    flow_rounds=6,
    flow_journeys=2,
    flow_runs=3,
    core_sizes=(1_000, 10_000, 100_000),
    core_clients=(1, 4, 16),
    core_seconds=1.0,
    core_repeats=3,
    import_runs=5,
    profile=True,
    cpu_journeys=3,
    load_users=96,
    load_concurrency=16,
    load_rounds=2,
)
QUICK = Settings(
    protected_rounds=3,
    protected_per_round=10,
    flow_rounds=1,
    flow_journeys=1,
    flow_runs=2,
    core_sizes=(20, 50),
    core_clients=(1, 2),
    core_seconds=0.2,
    core_repeats=1,
    import_runs=1,
    profile=False,
    cpu_journeys=1,
    load_users=2,
    load_concurrency=2,
    load_rounds=1,
)


def run(settings: Settings, parts: Sequence[str] = PARTS, *, command: str = "") -> object:
    """Run the chosen parts; returns a :class:`benchmarks.report.Run`."""
    from st_twofactor.devcore import DevCore
    from st_twofactor.testing import reset_supertokens

    from . import devcore_load, flows, imports, load, protected, stores
    from ._common import BASE, SETUPS, Setup
    from .report import LIBRARY, Run
    from .tls import https_endpoints

    started = time.perf_counter()
    result = Run(
        command=command or "python -m benchmarks",
        started=time.strftime("%Y-%m-%d %H:%M %Z"),
        settings=asdict(settings),
        load_average=" ".join(f"{x:.1f}" for x in os.getloadavg()),
    )
    with DevCore() as free, DevCore(licensed=True) as licensed:
        try:
            if "protected" in parts:
                _say("protected requests")
                result.protected = protected.measure_protected(
                    free,
                    free.create_app(),
                    rounds=settings.protected_rounds,
                    per_round=settings.protected_per_round,
                    profile=settings.profile,
                )
            if "flows" in parts:
                _say("flows: HTTP and HTTPS, reuse_core_connections() off and on")
                with https_endpoints({False: free, True: licensed}) as https:
                    alts = flows.make_alternatives(
                        {False: (free, free.create_app), True: (licensed, licensed.create_app)},
                        SETUPS,
                        https,
                    )
                    everything = flows.measure_flows(
                        alts, rounds=settings.flow_rounds, journeys=settings.flow_journeys
                    )
                    result.flows = everything.only({a.key: a.key for a in alts if a.setup == BASE})
                    result.speed = everything
                    plain = [a for a in alts if not a.setup.https]
                    for number in range(2, settings.flow_runs + 1):
                        _say(f"flows over HTTP, off and on: run {number} of {settings.flow_runs}")
                        result.repeats.append(
                            flows.measure_flows(
                                plain, rounds=settings.flow_rounds, journeys=settings.flow_journeys
                            )
                        )
                    ours = {a.setup: a for a in alts if a.key.startswith(LIBRARY)}
                    _say("one core call, its parts, with and without reuse_core_connections()")
                    samples = max(2, 2 * settings.flow_rounds)
                    result.call_cost = flows.measure_call_cost(ours[BASE], samples=samples)
                    result.call_cost_https = flows.measure_call_cost(
                        ours[Setup(https=True)], samples=samples
                    )
                    result.password_hash = flows.measure_password_hash()
                    _say("CPU time per flow, and the library's part of it (speed-up on)")
                    result.flow_cpu = flows.measure_flow_cpu(
                        [a for a in alts if a.setup == Setup(reuse=True)],
                        journeys=settings.cpu_journeys,
                    )
                from .report import flow_verdict

                verdict = flow_verdict(result.flows)
                if settings.profile and not (verdict.calls_met and verdict.speed_met):
                    _say("profiling st-twofactor's journey")
                    result.flow_profile = flows.profile_journeys(alts[0])
            if "stores" in parts:
                _say("flows with SQLStore beside the default store")
                result.stores = stores.measure_stores(
                    free.create_app,
                    free,
                    rounds=settings.flow_rounds,
                    journeys=settings.flow_journeys,
                )
        finally:
            reset_supertokens()
    if "core" in parts:
        _say("development core under load")
        result.load = devcore_load.measure_core(
            sizes=settings.core_sizes,
            clients=settings.core_clients,
            seconds=settings.core_seconds,
            repeats=settings.core_repeats,
        )
    if "imports" in parts:
        _say("import time")
        result.imports = imports.measure_imports(
            runs=settings.import_runs, warm=settings.import_runs > 1
        )
    if "load" in parts:
        _say("many users through one app worker per alternative")
        result.app_load = load.measure_load(
            users=settings.load_users,
            concurrency=settings.load_concurrency,
            rounds=settings.load_rounds,
        )
    result.wall_seconds = time.perf_counter() - started
    return result


def write(result: object, out: Path) -> None:
    """Write the markdown to ``out`` and the chart beside it (``benchmarks.svg``)."""
    from .report import Run, render

    assert isinstance(result, Run)
    markdown, chart = render(result)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown)
    if chart is not None:
        (out.parent / "benchmarks.svg").write_text(chart)


def _say(what: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {what}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--parts", default=",".join(PARTS), help="comma-separated subset")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown parts {unknown}; choose from {', '.join(PARTS)}")
    logging.basicConfig(level=logging.ERROR)
    command = "python -m benchmarks" + (" --quick" if args.quick else "")
    result = run(QUICK if args.quick else FULL, parts, command=command)
    write(result, args.out)
    print(f"wrote {args.out} in {result.wall_seconds:.0f} s")  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    sys.exit(main())
