"""cProfile helpers: run code under the profiler and keep the rows that explain a cost."""

from __future__ import annotations

import cProfile
import pstats
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    function: str
    calls: float
    """Calls per unit of work (per request, per journey...)."""
    cumulative: float
    """Seconds per unit of work, the function and what it calls."""


def label(key: tuple[str, int, str]) -> str:
    """``package/module.py:function`` for a pstats key."""
    filename, _, function = key
    for marker in ("site-packages/", "/src/", "/work/main/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            break
    return f"{filename}:{function}"


def rows(
    profiler: cProfile.Profile, units: int, keep: Callable[[str], bool], *, top: int = 20
) -> list[Row]:
    """The ``top`` kept functions by cumulative time, per unit of work."""
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    found = []
    for key, (_, primitive_calls, _, cumulative, _) in stats.items():
        name = label(key)
        if keep(name):
            found.append(Row(name, primitive_calls / units, cumulative / units))
    found.sort(key=lambda r: r.cumulative, reverse=True)
    return found[:top]


def total(profiler: cProfile.Profile) -> float:
    """Seconds profiled (the sum of every function's own time)."""
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    return float(sum(entry[2] for entry in stats.values()))


LIBRARY_MARK = "/st_twofactor/"
"""Paths of the library's own code..."""
NOT_LIBRARY = ("/st_twofactor/devcore/", "/st_twofactor/testing/", "/st_twofactor/speedups.py")
"""...except the development core (the core's side), the test authenticator (the
browser's side) and the speed-up's core client (every alternative's core calls use it)."""
OTHERS = (
    "supertokens_python/",
    "fastapi/",
    "starlette/",
    "httpx/",
    "httpcore/",
    "anyio/",
    "h11/",
    "sniffio/",
    "/asyncio/",
    "/benchmarks/",
)
"""Code that is not the library's work: the SDK, the web framework, the HTTP client and
the event loop, and the benchmark's own client. What they call is theirs too."""


def library_seconds(profiler: cProfile.Profile) -> tuple[float, float]:
    """The library's own time in ``profiler`` and the whole profiled time, in seconds.

    The library's own time: its functions, and what they call outside the SDK, the web
    framework, the HTTP client and the event loop (the standard library, ``cryptography``,
    ``segno``, ``webauthn``...). A function called from both sides is split by what its
    callers spent in it. Time in a call the library makes to the SDK (a core call) is the
    SDK's; time the SDK spends in the library (its overrides) is the library's.
    """
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    share: dict[tuple[str, int, str], float] = {}
    fixed: set[tuple[str, int, str]] = set()
    for key in stats:
        filename = key[0]
        if LIBRARY_MARK in filename and not any(m in filename for m in NOT_LIBRARY):
            share[key] = 1.0
            fixed.add(key)
        elif any(m in filename for m in (*OTHERS, *NOT_LIBRARY)):
            share[key] = 0.0
            fixed.add(key)
        else:
            share[key] = 0.0
    for _ in range(30):  # callers' shares flow down the call graph; cycles settle quickly
        for key, (_, _, _, _, callers) in stats.items():
            if key in fixed:
                continue
            weights = [(entry[3], share.get(caller, 0.0)) for caller, entry in callers.items()]
            spent = sum(w for w, _ in weights)
            share[key] = sum(w * s for w, s in weights) / spent if spent > 0 else 0.0
    whole = sum(entry[2] for entry in stats.values())
    own = sum(entry[2] * share[key] for key, entry in stats.items())
    return float(own), float(whole)
