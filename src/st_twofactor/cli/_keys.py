"""``st-twofactor keys status`` and ``keys rotate``: sealed secrets (TOTP secrets and the
keys of recovery-code sets) by the key that sealed them, and re-sealing them under the
first key. See :mod:`st_twofactor.cli`.

Both use the runtime's secret box and store (the ones the app's own flows use), so a
secret is counted, opened and re-sealed exactly as a sign-in would open it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from st_twofactor.cli._output import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    Output,
    Progress,
    outages,
)

if TYPE_CHECKING:
    from st_twofactor.config import TwoFactorConfig
    from st_twofactor.kernel.crypto import SecretBox
    from st_twofactor.runtime import TwoFactor
    from st_twofactor.stores.base import Store
    from st_twofactor.stores.state import TwoFactorState


@dataclass
class KeyCount:
    """Sealed secrets (TOTP secrets, recovery-code keys) by the key that sealed them."""

    users: int = 0
    secrets: int = 0
    by_key: dict[str, int] = field(default_factory=dict)
    unreadable: int = 0
    """Secrets no configured key opens (a key missing from the list, or damage)."""
    rotated: int = 0

    def add(self, other: KeyCount) -> None:
        self.users += other.users
        self.secrets += other.secrets
        self.unreadable += other.unreadable
        self.rotated += other.rotated
        for key_id, count in other.by_key.items():
            self.by_key[key_id] = self.by_key.get(key_id, 0) + count

    def old(self, primary: str) -> int:
        return sum(count for key_id, count in self.by_key.items() if key_id != primary)


def _count_keys(box: SecretBox, user_id: str, state: TwoFactorState, *, reseal: bool) -> KeyCount:
    """Count (and with ``reseal``, re-seal under the first key) the user's sealed secrets:
    TOTP secrets, and the key of their recovery codes (without it, no code of the set can
    be checked)."""
    count = KeyCount(users=1)
    for device in state.totp_devices:
        device.secret = _count_one(box, user_id, device.secret, count, reseal=reseal)
    if state.recovery_codes:
        _count_recovery_keys(box, user_id, state, count, reseal=reseal)
    return count


def _count_recovery_keys(
    box: SecretBox, user_id: str, state: TwoFactorState, count: KeyCount, *, reseal: bool
) -> None:
    """Count (and re-seal) the key of the user's recovery codes: every entry of a set
    carries it, so it is counted once and re-sealed in all of them."""
    from st_twofactor.factors.recovery_codes import codes

    sealed_keys: dict[str, str] = {}
    for entry in state.recovery_codes:
        sealed = _sealed_or_none(entry)
        if sealed is not None and sealed not in sealed_keys:
            sealed_keys[sealed] = _count_one(box, user_id, sealed, count, reseal=reseal)
    if any(old != new for old, new in sealed_keys.items()):
        state.recovery_codes = [
            codes.with_sealed_key(entry, sealed_keys[sealed])
            if (sealed := _sealed_or_none(entry)) is not None
            else entry
            for entry in state.recovery_codes
        ]


def _sealed_or_none(entry: str) -> str | None:
    from st_twofactor.errors import MalformedDataError
    from st_twofactor.factors.recovery_codes import codes

    try:
        return codes.sealed_key_of(entry)
    except MalformedDataError:
        return None


def _count_one(box: SecretBox, user_id: str, sealed: str, count: KeyCount, *, reseal: bool) -> str:
    """Count ``sealed`` in ``count``; it, re-sealed under the first key with ``reseal``."""
    from st_twofactor.errors import DecryptionError

    count.secrets += 1
    try:
        box.decrypt(sealed, context=user_id)
    except DecryptionError:
        count.unreadable += 1
        return sealed
    if reseal and box.needs_rotation(sealed):
        sealed = box.rotate(sealed, context=user_id)
        count.rotated += 1
    key_id = sealed.split(".")[1]
    count.by_key[key_id] = count.by_key.get(key_id, 0) + 1
    return sealed


BATCH = 8
"""Users whose state ``keys`` commands handle at once (in order, batch after batch)."""


def _batches(users: list[str]) -> list[list[str]]:
    return [users[i : i + BATCH] for i in range(0, len(users), BATCH)]


def _resealer(box: SecretBox, user_id: str) -> Callable[[TwoFactorState], KeyCount]:
    def reseal(state: TwoFactorState) -> KeyCount:
        return _count_keys(box, user_id, state, reseal=True)

    return reseal


async def _user_ids(store: Store, tenants: Sequence[str], after: str | None) -> list[str]:
    """Every user with 2FA state: from the store when it lists them, else the core's
    users of ``tenants``. With ``after``, only those that come after it.

    ``store`` is the configured store, not the runtime's: listing its users is a store's
    own extra (the SQL and Redis stores have it), which the runtime's wrapper around
    reading and updating one user's state does not offer."""
    listing: Callable[..., AsyncIterator[str]] | None = getattr(store, "user_ids", None)
    if listing is not None:
        return [user_id async for user_id in listing(after=after)]
    from supertokens_python.asyncio import get_users_oldest_first

    seen: dict[str, None] = {}
    for tenant in tenants:
        token: str | None = None
        while True:
            page = await get_users_oldest_first(tenant, limit=500, pagination_token=token)
            for user in page.users:
                seen.setdefault(user.id, None)
            token = page.next_pagination_token
            if token is None:
                break
    ordered = list(seen)
    if after is not None:
        if after not in seen:
            raise CommandError(EXIT_USAGE, f"--after {after!r}: no such user in the listing")
        ordered = ordered[ordered.index(after) + 1 :]
    return ordered


def _keys_document(config: TwoFactorConfig, total: KeyCount, primary: str) -> dict[str, Any]:
    return {
        "ok": total.old(primary) == 0 and total.unreadable == 0,
        "keys": len(config.secret_keys) or 1,
        "first_key_id": primary,
        "users": total.users,
        "secrets": total.secrets,
        "under_first_key": total.by_key.get(primary, 0),
        "under_old_keys": {k: v for k, v in sorted(total.by_key.items()) if k != primary},
        "still_old": total.old(primary),
        "unreadable": total.unreadable,
        "rotated": total.rotated,
    }


def _keys_lines(document: dict[str, Any]) -> list[str]:
    old = ", ".join(f"{k}: {v}" for k, v in document["under_old_keys"].items()) or "none"
    lines = [
        f"users with secrets:    {document['users']}",
        f"sealed secrets:        {document['secrets']} (TOTP secrets, recovery-code keys)",
        f"under the first key:   {document['under_first_key']} (key id {document['first_key_id']})",
        f"under older keys:      {document['still_old']} ({old})",
        f"unreadable:            {document['unreadable']}",
    ]
    if document["ok"]:
        lines.append("every secret is under the first key: older keys can be removed")
    elif document["unreadable"]:
        lines.append("some secrets no configured key opens: keep every key that sealed them")
    else:
        lines.append("run `st-twofactor keys rotate` before removing an older key")
    return lines


async def keys_status(runtime: TwoFactor, tenants: Sequence[str], out: Output) -> int:
    """How many sealed secrets each key sealed (nothing is written)."""
    box, store = runtime.box, runtime.store
    total = KeyCount()

    async def count(user_id: str) -> KeyCount:
        return _count_keys(box, user_id, await store.load(user_id), reseal=False)

    async with outages():
        users = await _user_ids(runtime.config.state_store, tenants, None)
        for batch in _batches(users):
            for counted in await asyncio.gather(*(count(user_id) for user_id in batch)):
                if counted.secrets:
                    total.add(counted)
    document = _keys_document(runtime.config, total, box.primary_key_id)
    out.result(document, _keys_lines(document))
    return EXIT_OK if document["ok"] else EXIT_FAILED


async def keys_rotate(
    runtime: TwoFactor, tenants: Sequence[str], out: Output, *, after: str | None
) -> int:
    """Re-seal every sealed secret under the first key, one atomic update per user.

    Resumable: a user whose secrets are all under the first key is not written, so
    running it again only does what is left; ``--after USER_ID`` skips the users before.
    """
    box, store = runtime.box, runtime.store
    total = KeyCount()
    async with outages():
        users = await _user_ids(runtime.config.state_store, tenants, after)
    progress = Progress("re-sealing secrets", len(users), out.stderr)
    last_done = after
    done = 0
    try:
        for batch in _batches(users):
            async with outages():
                counts = await asyncio.gather(
                    *(store.update(user_id, _resealer(box, user_id)) for user_id in batch)
                )
            for count in counts:
                if count.secrets:
                    total.add(count)
            last_done, done = batch[-1], done + len(batch)  # every user up to here is done
            progress.update(done)
    except BaseException:  # an outage, a state that cannot be parsed, Ctrl-C
        progress.close()
        if last_done is not None:
            print(
                f"st-twofactor: stopped; resume with: keys rotate --after {last_done}",
                file=out.stderr,
            )
        raise
    progress.close()
    document = _keys_document(runtime.config, total, box.primary_key_id)
    lines = [f"re-sealed {total.rotated} secret(s) under key {box.primary_key_id}"]
    out.result(document, lines + _keys_lines(document))
    return EXIT_OK if document["ok"] else EXIT_FAILED
