"""Part 4: import time of ``st_twofactor`` next to ``supertokens_python`` alone.

Each sample is a fresh interpreter that times one ``import`` statement (interpreter
start-up is not counted); the candidates take turns, and each reports the median of its
runs. Bytecode caches are warmed by one unmeasured run of each first.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field

from ._common import median

APP_RECIPES = "the SDK recipes such an app imports anyway"
CANDIDATES: tuple[tuple[str, str], ...] = (
    ("supertokens_python", "import supertokens_python"),
    (
        APP_RECIPES,
        "import supertokens_python.recipe.emailpassword, supertokens_python.recipe.passwordless,"
        " supertokens_python.recipe.session, supertokens_python.recipe.thirdparty,"
        " supertokens_python.recipe.usermetadata",
    ),
    ("st_twofactor", "import st_twofactor"),
    (
        "st_twofactor with its HTTP routes and FastAPI helpers",
        "import st_twofactor.http.routes, st_twofactor.fastapi",
    ),
)

_TIMER = "import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"


@dataclass
class ImportResults:
    seconds: dict[str, list[float]] = field(default_factory=dict)
    runs: int = 0
    top_modules: list[tuple[float, str]] = field(default_factory=list)
    """The slowest modules (cumulative, seconds) under ``-X importtime`` for st_twofactor."""

    def median(self, name: str) -> float:
        return median(self.seconds[name])


def _time_import(statement: str) -> float:
    output = subprocess.run(
        [sys.executable, "-c", _TIMER.format(statement=statement)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(output.stdout.strip().splitlines()[-1])


def _importtime(statement: str, top: int) -> list[tuple[float, str]]:
    """The ``top`` modules by cumulative import time (``python -X importtime``)."""
    output = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in output.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line[len("import time:") :].split("|")
        rows.append((int(cumulative) / 1e6, name.rstrip()))
    return sorted(rows, reverse=True)[:top]


def measure_imports(*, runs: int, warm: bool = True, top: int = 12) -> ImportResults:
    """``runs`` timings of each candidate; ``warm`` first compiles their bytecode."""
    results = ImportResults(seconds={name: [] for name, _ in CANDIDATES}, runs=runs)
    for _, statement in CANDIDATES if warm else ():
        _time_import(statement)
    for run in range(runs):
        shift = run % len(CANDIDATES)
        for name, statement in CANDIDATES[shift:] + CANDIDATES[:shift]:
            results.seconds[name].append(_time_import(statement))
    results.top_modules = _importtime("import st_twofactor", top)
    return results
