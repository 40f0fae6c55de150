"""The background sender of security e-mails: one daemon thread with its own event loop.

E-mails are sent after the request that caused them, never in it: a slow or failing mail
service cannot slow down or fail a sign-in. A thread of its own, rather than a task on
the request's loop, because a synchronous framework (Flask, Django) runs each request's
coroutines with ``run_until_complete`` and leaves a task made there unfinished until the
next request on that thread.

The thread starts with the first e-mail (after a fork too: a worker process gets its
own). At most :data:`MAX_PENDING` e-mails wait at a time; past that, new ones are dropped
(logged once when it starts, and their number once the backlog is sent). When the
process exits normally it waits up to :data:`EXIT_WAIT` seconds for e-mails still waiting
(a command-line reset sends its e-mails before it ends); :meth:`Outbox.drain` waits for
them on demand (in tests).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
from collections.abc import Awaitable, Callable

__all__ = ["EXIT_WAIT", "MAX_PENDING", "Outbox"]

log = logging.getLogger("st_twofactor")

MAX_PENDING = 1000
"""E-mails that may wait to be sent at one time."""

EXIT_WAIT = 5.0
"""Seconds a normal exit waits for e-mails still waiting to be sent."""


class Outbox:
    """Runs coroutines on a background thread's loop, each logged if it fails."""

    def __init__(self, max_pending: int = MAX_PENDING) -> None:
        self.max_pending = max_pending
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._dropped = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid: int | None = None

    def submit(self, send: Callable[[], Awaitable[None]], what: str) -> bool:
        """Run ``send()`` in the background; ``False`` (and logged) when too many wait.
        ``what`` names it in the log if it fails."""
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                self._start()
            loop = self._loop
            assert loop is not None
            if self._pending >= self.max_pending:
                if not self._dropped:  # once per burst: a flood must not flood the log too
                    waiting = self._pending
                    log.warning("st-twofactor: %s dropped: %d e-mails wait already", what, waiting)
                self._dropped += 1
                return False
            self._pending += 1
        asyncio.run_coroutine_threadsafe(self._run(send, what), loop)
        return True

    def drain(self, timeout: float) -> bool:
        """Wait until nothing is waiting to be sent, at most ``timeout`` seconds; whether
        everything was sent (or failed and was logged)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    async def _run(self, send: Callable[[], Awaitable[None]], what: str) -> None:
        try:
            await send()
        except Exception as error:
            # A mail service that is down is an operational fact, not a bug: one line
            # (the traceback at DEBUG).
            log.error("st-twofactor: %s could not be sent: %r", what, error)
            log.debug("st-twofactor: why %s could not be sent", what, exc_info=True)
        finally:
            with self._idle:
                self._pending -= 1
                if self._pending == 0 and self._dropped:
                    log.warning("st-twofactor: %d security e-mail(s) were dropped", self._dropped)
                    self._dropped = 0
                self._idle.notify_all()

    def _start(self) -> None:
        """Start the sender's thread and loop: on first use, and again in a forked child
        (which has no thread, and none of its parent's e-mails to wait for)."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=loop.run_forever, name="st-twofactor-notifications", daemon=True
        )
        thread.start()
        if self._loop is None:  # once per outbox: at exit, give waiting e-mails a moment
            atexit.register(self.drain, EXIT_WAIT)
        self._loop, self._pid, self._pending, self._dropped = loop, os.getpid(), 0, 0
