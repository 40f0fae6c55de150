"""Calls started together, to check that one of them wins (a code accepted once, a
counter never past its limit): in threads, or as tasks of one event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def race(n: int, call: Callable[[int], T]) -> list[T]:
    """Run ``call(i)`` for i < n in n threads released together; their results."""
    barrier = threading.Barrier(n)

    def run(i: int) -> T:
        barrier.wait(timeout=10)
        return call(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


async def race_async(n: int, call: Callable[[int], Awaitable[T]]) -> list[T]:
    """Start ``call(i)`` for i < n at once on the running event loop; their results."""
    return list(await asyncio.gather(*(call(i) for i in range(n))))
