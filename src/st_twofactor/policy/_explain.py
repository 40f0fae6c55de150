"""``explain()``: what a sign-in would ask a user for, and why (:mod:`st_twofactor.policy`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from st_twofactor.kernel import grace
from st_twofactor.policy._policies import verdict_of

if TYPE_CHECKING:
    from st_twofactor.config import TwoFactorConfig

__all__ = ["Explanation", "SignInStep", "explain"]

SignInStep = Literal["second-factor", "enrol", "grace", "exempt"]
"""What a sign-in of the user asks for: a factor they have (``second-factor``), to enrol
one first (``enrol``), nothing until the grace deadline (``grace``), nothing (``exempt``)."""

_SUMMARIES: dict[SignInStep, str] = {
    "second-factor": "asked for a second factor",
    "enrol": "asked to set up a second factor before going on",
    "grace": "let in without a second factor, and asked to set one up, until the deadline",
    "exempt": "let in without a second factor (2FA not required, no factor enrolled)",
}


@dataclass(frozen=True)
class Explanation:
    """What a sign-in of ``user_id`` on ``tenant_id`` would ask for, and why.

    Times are seconds since the epoch (the HTTP API shows milliseconds; this is Python).
    """

    user_id: str
    tenant_id: str
    required: bool
    """Whether the ``required`` policy requires 2FA of the user here."""
    policy: str
    """Why the policy decided so, in words."""
    at_sign_in: SignInStep
    summary: str
    factors: tuple[str, ...]
    """The factors the user enrolled."""
    offered: tuple[str, ...]
    """The factors a sign-in would offer to complete 2FA now (locked ones left out)."""
    enrollable: tuple[str, ...]
    """What the user could set up when asked to enrol (``enrol`` and ``grace``)."""
    grace_until: float | None
    """The end of the user's enrolment grace period: started, or (``grace_starts``) the
    one the next sign-in would start; ``None`` without one."""
    grace_starts: bool
    """The grace period has not started: the next sign-in that needs 2FA starts it."""
    locked: dict[str, int]
    """Factors refused now after too many failures: milliseconds to wait."""
    remember_device: bool
    """Whether the app offers "remember this device" (a remembered device skips 2FA)."""
    remembered_devices: int
    """How many remembered devices the user has (each can skip 2FA at sign-in)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the CLI's ``--json``)."""
        document = asdict(self)
        document["factors"] = list(self.factors)
        document["offered"] = list(self.offered)
        document["enrollable"] = list(self.enrollable)
        return document

    def lines(self) -> list[str]:
        """The explanation for people, a line per fact."""
        if self.grace_until is None:
            period = "none"
        else:
            when = _when(self.grace_until)
            period = (
                f"would start at the next sign-in, until {when}"
                if self.grace_starts
                else f"until {when}"
            )
        return [
            f"user:                {self.user_id} (tenant {self.tenant_id})",
            f"at sign-in:          {self.at_sign_in}: {self.summary}",
            f"2FA required:        {'yes' if self.required else 'no'} ({self.policy})",
            f"factors:             {', '.join(self.factors) or 'none'}",
            f"offered:             {', '.join(self.offered) or 'none'}",
            f"may set up:          {', '.join(self.enrollable) or '-'}",
            f"enrolment grace:     {period}",
            "locked factors:      "
            + (", ".join(f"{f} ({ms // 1000 + 1} s)" for f, ms in self.locked.items()) or "none"),
            "remembered devices:  "
            + (
                "not offered"
                if not self.remember_device
                else f"{self.remembered_devices} (a remembered device skips 2FA)"
            ),
        ]


async def explain(
    config: TwoFactorConfig,
    user_id: str,
    tenant_id: str = "public",
    user_context: dict[str, Any] | None = None,
) -> Explanation:
    """What a sign-in of ``user_id`` on ``tenant_id`` would ask for, and why: the policy's
    verdict, the factors offered or to set up, the enrolment grace period, locks and
    remembered devices. Reads only: it starts no grace period and changes nothing."""
    from st_twofactor.factors.overview import AccountContacts
    from st_twofactor.runtime import TwoFactor

    context = user_context if user_context is not None else {}
    runtime = TwoFactor.of(config)
    verdict = await verdict_of(config.required, user_id, tenant_id, context)
    state = await runtime.store.load(user_id, context)
    account = AccountContacts(await _emails(user_id, context))
    seen = runtime.overview(state, {}, verdict.required, account)
    now = config.clock()
    period = config.grace_seconds
    until = grace.deadline(state, period)
    starts = until is None and period is not None and verdict.required and not state.factor_ids()
    if starts:
        assert period is not None
        until = now + period
    step: SignInStep
    if state.factor_ids():
        step = "second-factor"
    elif not verdict.required:
        step = "exempt"
    elif until is not None and now < until:
        step = "grace"
    else:
        step = "enrol"
    return Explanation(
        user_id=user_id,
        tenant_id=tenant_id,
        required=verdict.required,
        policy=verdict.reason,
        at_sign_in=step,
        summary=_SUMMARIES[step],
        factors=tuple(seen["factors"]),
        offered=tuple(seen["next"]),
        enrollable=tuple(seen["enrollable"]) if step in ("enrol", "grace") else (),
        grace_until=until,
        grace_starts=starts,
        locked=dict(seen["locked"]),
        remember_device=config.remember_device,
        remembered_devices=len(state.remembered_devices),
    )


async def _emails(user_id: str, user_context: dict[str, Any]) -> tuple[str, ...]:
    """The account's real e-mail addresses (where a first e-mailed code would go)."""
    from supertokens_python.asyncio import get_user
    from supertokens_python.auth_utils import is_fake_email

    user = await get_user(user_id, user_context)
    if user is None:
        return ()
    emails = [
        m.email.strip().lower()
        for m in user.login_methods
        if m.email and not is_fake_email(m.email)
    ]
    return tuple(dict.fromkeys(emails))


def _when(seconds: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M UTC"
    )
