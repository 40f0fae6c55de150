"""The log of the requests the development core answered, for tests to count core calls.

Apart from the request handling that writes it (:mod:`._handler`): the core owns one
log, and tests read it through :meth:`DevCore.requests`.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the core saw it; used to count core calls per flow."""

    time: float
    method: str
    path: str
    app_id: str
    tenant_id: str
    status: int


class RequestLog:
    """A bounded, thread-safe log of the requests the core answered."""

    def __init__(self, maxlen: int = 100_000) -> None:
        self._entries: deque[LoggedRequest] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def add(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self, app_id: str | None = None) -> list[LoggedRequest]:
        with self._lock:
            return [e for e in self._entries if app_id is None or e.app_id == app_id]
