"""One object per asyncio event loop, for clients that belong to the loop that made them.

A Redis client or an SQLAlchemy async engine holds connections bound to one event loop;
an app may run several (Flask's sync wrappers make their own). :class:`PerLoop` makes the
object on first use in a loop, shares it within that loop, and drops those of loops that
have closed. Thread-safe.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

__all__ = ["PerLoop"]


class PerLoop(Generic[T]):
    """``make()``'s object for the running event loop."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._objects: dict[asyncio.AbstractEventLoop, T] = {}
        self._guard = threading.Lock()

    def get(self) -> T:
        """The running loop's object, made now if it has none (call inside a coroutine)."""
        loop = asyncio.get_running_loop()
        with self._guard:
            for closed in [other for other in self._objects if other.is_closed()]:
                del self._objects[closed]
            found = self._objects.get(loop)
            if found is None:
                found = self._objects[loop] = self._make()
            return found

    def take_running(self) -> T | None:
        """Forget every loop's object; the running loop's is returned, for its owner to close
        (the others belong to loops this one cannot await in)."""
        with self._guard:
            objects, self._objects = self._objects, {}
        return objects.get(asyncio.get_running_loop())
