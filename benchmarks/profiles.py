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
