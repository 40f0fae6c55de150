"""How long real deliveries take, so that a decoy takes as long
(:mod:`st_twofactor.http.passwordless`).

A code for the user's own destination waits for the mail or SMS service; a decoy (a
destination that is not the user's) sends nothing. Answered at once, a decoy would tell
a wrong destination by its speed. So each real delivery is timed (per factor), and a
decoy waits, in its place, a duration drawn from the latest real ones of that factor in
this process: the decoy's timing follows the real one's distribution, spread included.
Everything else a decoy does is what a real code does (the same state read and written).
Until this process has timed one real delivery of a kind, its decoys do not wait.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

KEPT = 32
"""Durations kept per operation: the latest ones, so a changed service is followed."""


class Durations:
    """The latest durations of real operations, by name; thread-safe.

    :param timer: a monotonic clock in seconds (measures only, decides nothing).
    :param sleep: how a decoy waits.
    """

    def __init__(
        self,
        *,
        timer: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._timer = timer
        self._sleep = sleep
        self._recent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @asynccontextmanager
    async def timed(self, operation: str) -> AsyncIterator[None]:
        """Time the real ``operation`` in the block (kept only when it succeeds)."""
        started = self._timer()
        yield
        elapsed = max(0.0, self._timer() - started)
        with self._lock:
            self._recent.setdefault(operation, deque(maxlen=KEPT)).append(elapsed)

    async def imitate(self, operation: str) -> None:
        """Wait as long as a recent real ``operation`` took (not at all before one)."""
        with self._lock:
            recent = tuple(self._recent.get(operation, ()))
        if recent:
            await self._sleep(secrets.choice(recent))
