"""What the ``st-twofactor`` operations commands share: exit codes, output, the core.

See :mod:`st_twofactor.cli`.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_ABORTED = 4
EXIT_UNAVAILABLE = 5

EXIT_CODES = {
    EXIT_OK: "done; for doctor every check passed, for keys every secret is under the first key",
    EXIT_FAILED: "doctor: a check failed; keys: some secrets are not under the first key"
    " yet; migrate: some users failed (see the report); or another error (its message says"
    " which)",
    EXIT_USAGE: "bad arguments, or --config cannot be loaded, or the command does not apply",
    EXIT_NOT_FOUND: "user show/reset: the core has no such user",
    EXIT_ABORTED: "user reset: not confirmed",
    EXIT_UNAVAILABLE: "the SuperTokens core or the 2FA state store cannot be reached",
}
"""What each exit status means, for scripts."""


class CommandError(Exception):
    """Ends a command with ``status`` and a message for the operator."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Output:
    """Lines for people on stdout, or one JSON document with ``--json``; problems on
    stderr either way."""

    as_json: bool
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)

    def result(self, document: dict[str, Any], lines: Sequence[str]) -> None:
        if self.as_json:
            print(json.dumps(document, indent=2, sort_keys=True), file=self.stdout)
        else:
            for line in lines:
                print(line, file=self.stdout)

    def fail(self, status: int, message: str) -> None:
        print(f"st-twofactor: {message}", file=self.stderr)
        if self.as_json:
            print(json.dumps({"ok": False, "exit": status, "error": message}), file=self.stdout)


class Progress:
    """A progress bar on stderr: ``label [#####.....] done/total``."""

    WIDTH = 30

    def __init__(self, label: str, total: int, stream: TextIO) -> None:
        self.label = label
        self.total = total
        self.stream = stream
        self._shown = -1

    def update(self, done: int) -> None:
        filled = self.WIDTH if self.total == 0 else self.WIDTH * done // self.total
        if filled == self._shown and done != self.total:
            return
        self._shown = filled
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\r{self.label} [{bar}] {done}/{self.total}")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


@dataclass(frozen=True)
class Core:
    """How this command reaches the SuperTokens core."""

    uri: str
    api_key: str | None
    initialised_by_app: bool
    """The app's module initialised the SDK when it was imported."""


@contextlib.asynccontextmanager
async def outages() -> AsyncIterator[None]:
    """An unreachable core or store ends the command with :data:`EXIT_UNAVAILABLE`."""
    from st_twofactor.http._outage import outage_message

    try:
        yield
    except CommandError:
        raise
    except Exception as exc:
        message = outage_message(exc)
        if message is None:
            raise
        raise CommandError(EXIT_UNAVAILABLE, message.replace("; try again later", "")) from exc


def utc_time(seconds: float | None) -> str | None:
    """``seconds`` since the epoch as ISO 8601 in UTC (``2024-05-01T12:00:00Z``), or None."""
    if seconds is None:
        return None
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def security_keys_document(keys: Sequence[Any]) -> list[dict[str, Any]]:
    """The security keys of a :class:`~st_twofactor.admin.TwoFactorOverview` for
    ``user show``: name, when added, when last used (``None``: never); no key material."""
    return [
        {
            "name": key.name,
            "created_at": utc_time(key.created_at),
            "last_used_at": utc_time(key.last_used_at),
        }
        for key in keys
    ]


def security_keys_line(keys: Sequence[dict[str, Any]]) -> str:
    """``user show``'s line of security keys (from :func:`security_keys_document`)."""
    shown = ", ".join(
        f"{key['name']} (added {key['created_at']}, last used {key['last_used_at'] or 'never'})"
        for key in keys
    )
    return f"security keys:       {shown or 'none'}"


def remembered_devices_document(devices: Sequence[Any]) -> list[dict[str, Any]]:
    """The remembered devices of a :class:`~st_twofactor.admin.TwoFactorOverview` for
    ``user show``: id, name, when remembered, when last used (to within an hour)."""
    return [
        {
            "id": device.id,
            "name": device.name,
            "created_at": utc_time(device.created_at / 1000),
            "last_used_at": utc_time(device.last_used_at / 1000),
        }
        for device in devices
    ]


def remembered_devices_line(devices: Sequence[dict[str, Any]]) -> str:
    """``user show``'s line of remembered devices (from :func:`remembered_devices_document`)."""
    shown = ", ".join(
        f"{d['name']} (id {d['id']}, remembered {d['created_at']}, last used {d['last_used_at']})"
        for d in devices
    )
    return f"remembered devices:  {shown or 'none'}"
