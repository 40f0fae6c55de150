"""``st-twofactor user show``, ``user explain`` and ``user reset``: one user's 2FA as
support staff see it, what their sign-in would ask for and why, and removing it all (lost
phone, account recovery). See :mod:`st_twofactor.cli`.

Both go through the admin functions (:mod:`st_twofactor.admin`), which act through the
runtime's operator actions, so the command line and a back-office tool reset a user the
same way: factors removed, sessions revoked, remembered devices revoked, events emitted.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from st_twofactor.cli._output import (
    EXIT_ABORTED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    CommandError,
    Output,
    outages,
    remembered_devices_document,
    remembered_devices_line,
    security_keys_document,
    security_keys_line,
)

if TYPE_CHECKING:
    from st_twofactor.runtime import TwoFactor


async def user_show(runtime: TwoFactor, user_id: str, out: Output) -> int:
    """The user's 2FA as an admin may see it: never a secret or a code."""
    from st_twofactor.admin import get_two_factor_state

    await _existing_user(user_id)
    async with outages():
        document = _overview_document(await get_two_factor_state(runtime.config, user_id))
    out.result({"ok": True, **document}, _overview_lines(document))
    return EXIT_OK


async def user_explain(runtime: TwoFactor, user_id: str, tenant_id: str, out: Output) -> int:
    """What a sign-in of the user on the tenant would ask for, and why
    (:func:`st_twofactor.policy.explain`); changes nothing."""
    from st_twofactor.policy import explain

    await _existing_user(user_id)
    async with outages():
        explanation = await explain(runtime.config, user_id, tenant_id)
    out.result({"ok": True, **explanation.to_dict()}, explanation.lines())
    return EXIT_OK


async def user_reset(runtime: TwoFactor, user_id: str, out: Output, *, confirmed: bool) -> int:
    """Remove every factor of the user, revoke their sessions and remembered devices."""
    from st_twofactor.admin import reset_factors

    await _existing_user(user_id)
    if not confirmed and not _confirm(f"Remove every 2FA factor of {user_id} and sign them out?"):
        raise CommandError(EXIT_ABORTED, "not confirmed (pass --yes to skip the question)")
    async with outages():
        # factors removed, sessions revoked, the epoch bumped: remembered devices revoked
        overview = await reset_factors(runtime.config, user_id)
    revoked = overview.sessions_revoked
    document = {**_overview_document(overview), "sessions_revoked": revoked}
    out.result(
        {"ok": True, **document},
        [
            f"reset {user_id}: every factor removed, remembered devices revoked,"
            f" {revoked} session(s) revoked",
        ],
    )
    return EXIT_OK


async def _existing_user(user_id: str) -> None:
    from supertokens_python.asyncio import get_user

    async with outages():
        if await get_user(user_id) is None:
            raise CommandError(EXIT_NOT_FOUND, f"the core has no user {user_id!r}")


def _overview_document(overview: Any) -> dict[str, Any]:
    document = asdict(overview)
    del document["sessions_revoked"]  # only a reset revokes sessions; it adds the count
    document["totp_devices"] = [{"name": n, "verified": v} for n, v in overview.totp_devices]
    document["security_keys"] = security_keys_document(overview.security_keys)
    document["remembered_devices"] = remembered_devices_document(overview.remembered_devices)
    document["factors"] = list(overview.factors)
    document["locked_factors"] = list(overview.locked_factors)
    return document


def _overview_lines(document: dict[str, Any]) -> list[str]:
    devices = ", ".join(
        f"{d['name']} ({'verified' if d['verified'] else 'not verified'})"
        for d in document["totp_devices"]
    )
    return [
        f"user:                {document['user_id']}",
        f"factors:             {', '.join(document['factors']) or 'none'}",
        f"TOTP devices:        {devices or 'none'}",
        security_keys_line(document["security_keys"]),
        remembered_devices_line(document["remembered_devices"]),
        f"e-mail for codes:    {document['email'] or '-'}",
        f"phone for codes:     {document['phone'] or '-'}",
        f"recovery codes left: {document['recovery_codes_left']}",
        f"locked factors:      {', '.join(document['locked_factors']) or 'none'}",
    ]


def _confirm(question: str) -> bool:
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    try:
        answer = sys.stdin.readline()
    except (OSError, ValueError):
        return False
    return answer.strip().lower() in ("y", "yes")
