"""Quotas on sending e-mail and SMS codes (S15), as pure functions over a user's sends.

Failed checks are throttled by :mod:`st_twofactor.kernel.throttle`; this module meters the
*sends*, which cost money (SMS) and can flood an inbox or a phone (mail bombing, SMS
pumping). Every code sent (a new code or a resend) is recorded in the user's state with
its time and destination, and a send is allowed only when all of these hold:

- ``cooldown`` seconds have passed since the user's last send (to any destination);
- fewer than ``per_10_minutes`` sends in the last 10 minutes, ``per_hour`` in the last
  hour and ``per_day`` in the last 24 hours;
- except that the first code of a new sign-in is never refused because of codes sent
  before that session started: for it the cooldown and the 10-minute window count only
  the session's own sends (none), while the hourly, daily and unpinned caps count every
  send. A user who signs in again right after signing up gets their code; an attacker
  with the password gets one extra send per sign-in, within the hourly and daily caps;
- for a destination that is not pinned yet (a phone number before its first successful
  use), fewer than ``unpinned_per_day`` such sends in the last 24 hours, all unpinned
  destinations together: an account cannot spray codes over many numbers.

A code asked for a destination that is not the user's gets a decoy (nothing is sent; see
:mod:`st_twofactor.http.passwordless`), metered exactly like a send to the user's
destination, so that
guessing which one is pinned is bounded by these quotas and the quotas' answers do not
tell a guess from the right one.

The check and the record are one atomic store update in the flows (like a failed
attempt), so parallel requests cannot exceed a quota. Times are Unix seconds passed in by
the caller (its injected clock); nothing here reads the wall clock.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from st_twofactor.errors import ConfigurationError
from st_twofactor.kernel.throttle import Refused

__all__ = ["DAY", "CodeSend", "SendQuota", "check_send", "record_send"]

log = logging.getLogger("st_twofactor")

DAY = 24 * 3600.0
DEFAULT_COOLDOWN = 15.0
"""Seconds between two sends of one session, by default: SuperTokens' prebuilt UI offers
"Resend" 15 seconds after a send, and a longer cooldown would refuse that click."""
_WINDOWS = (("per_10_minutes", 600.0), ("per_hour", 3600.0), ("per_day", DAY))


@dataclass(frozen=True, kw_only=True)
class SendQuota:
    """Limits on e-mail/SMS code sends per user; the defaults are safe for production.

    :param cooldown: seconds between two sends of one session (default 15: not longer
        than the resend timer of SuperTokens' prebuilt UI, which offers "Resend" after 15
        seconds).
    :param per_10_minutes: sends in any 10 minutes (default 3).
    :param per_hour: sends in any hour (default 6).
    :param per_day: sends in any 24 hours (default 12).
    :param unpinned_per_day: sends to destinations not pinned yet, in any 24 hours
        (default 3).

    Tightening is silent; loosening beyond a default is allowed but logged as a warning.
    """

    cooldown: float = DEFAULT_COOLDOWN
    per_10_minutes: int = 3
    per_hour: int = 6
    per_day: int = 12
    unpinned_per_day: int = 3

    def __post_init__(self) -> None:
        for name in ("per_10_minutes", "per_hour", "per_day", "unpinned_per_day"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
                raise ConfigurationError(
                    f"SendQuota.{name} must be an integer from 1 to 1000; got {value!r}"
                )
        cooldown = self.cooldown
        number = isinstance(cooldown, (int, float)) and not isinstance(cooldown, bool)
        if not (number and math.isfinite(cooldown) and 0 <= cooldown <= 3600):
            raise ConfigurationError(
                f"SendQuota.cooldown must be 0 to 3600 seconds; got {cooldown!r}"
            )
        if not self.per_10_minutes <= self.per_hour <= self.per_day:
            raise ConfigurationError(
                "SendQuota needs per_10_minutes <= per_hour <= per_day; got "
                f"{self.per_10_minutes}, {self.per_hour}, {self.per_day}"
            )
        defaults = SendQuota.__dataclass_fields__
        loosened = [
            f"{name}={getattr(self, name)} (default {defaults[name].default})"
            for name in ("per_10_minutes", "per_hour", "per_day", "unpinned_per_day")
            if getattr(self, name) > defaults[name].default
        ]
        if cooldown < DEFAULT_COOLDOWN:
            loosened.append(f"cooldown={cooldown} (default {DEFAULT_COOLDOWN:g})")
        if loosened:
            log.warning("st-twofactor: code send quotas loosened: %s", ", ".join(loosened))


@dataclass(frozen=True)
class CodeSend:
    """One code sent: when, where, and whether the destination was pinned then."""

    at: float
    destination: str
    pinned: bool


def check_send(
    quota: SendQuota,
    sends: tuple[CodeSend, ...],
    *,
    pinned: bool,
    now: float,
    session_started: float | None = None,
) -> Refused | None:
    """Why a code may not be sent now (the wait, as :class:`Refused`), or ``None``.

    :param session_started: when the requesting session started (seconds), if known: a
        session's first send is not held back by the cooldown or the 10-minute window
        because of sends made before it started (see the module doc).
    """
    recent = sorted((s for s in sends if s.at > now - DAY), key=lambda s: s.at)
    mine = recent
    if session_started is not None and not any(s.at >= session_started for s in recent):
        mine = []  # the session's first send: earlier sessions' sends do not hold it back
    waits = []
    if mine and mine[-1].at + quota.cooldown > now:
        waits.append(mine[-1].at + quota.cooldown - now)
    limits: list[tuple[int, float, list[CodeSend]]] = [
        (
            getattr(quota, name),
            window,
            [s for s in (mine if window <= 600 else recent) if s.at > now - window],
        )
        for name, window in _WINDOWS
    ]
    if not pinned:
        limits.append((quota.unpinned_per_day, DAY, [s for s in recent if not s.pinned]))
    for cap, window, inside in limits:
        if len(inside) >= cap:  # until enough of them have aged out of the window
            waits.append(inside[len(inside) - cap].at + window - now)
    if waits:
        return Refused(max(1, math.ceil(max(waits) * 1000)))
    return None


def record_send(
    sends: tuple[CodeSend, ...], destination: str, *, pinned: bool, now: float
) -> tuple[CodeSend, ...]:
    """``sends`` with this send added and those older than a day dropped (bounded by the
    day's quota, since a refused send is never recorded)."""
    kept = tuple(s for s in sends if s.at > now - DAY)
    return (*kept, CodeSend(now, destination, pinned))
