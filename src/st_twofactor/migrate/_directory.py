"""The users of the core, as the legacy 2FA migration reads and changes them.

:class:`UserDirectory` is the little the migration needs of the core (list the users a
page at a time, read and write their metadata, look one up, delete one); the SDK provides
it (:class:`SdkUserDirectory`), a test can provide it from memory. Users are listed a page
at a time and handed out a few at a time, so memory does not grow with the number of users
read. See :mod:`st_twofactor.migrate`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from st_twofactor.errors import ConfigurationError

PAGE_SIZE = 500
"""Users asked from the core at a time."""


@dataclass(frozen=True)
class ListedUser:
    user_id: str
    tenant_ids: tuple[str, ...]


@dataclass(frozen=True)
class CoreUser:
    """A user as the core answers for an id: its own id (another one when the id is a
    login method linked into another user) and its login methods."""

    user_id: str
    methods: tuple[tuple[str, str | None, str | None], ...]
    """(recipe id, e-mail, phone number) of each login method."""


class UserDirectory(Protocol):
    """What the migration reads and changes in the core (:class:`SdkUserDirectory`)."""

    async def tenant_ids(self, user_context: dict[str, Any]) -> list[str]: ...

    async def count(self, tenant_id: str, user_context: dict[str, Any]) -> int: ...

    async def page(
        self, tenant_id: str, token: str | None, limit: int, user_context: dict[str, Any]
    ) -> tuple[list[ListedUser], str | None]: ...

    async def metadata(self, user_id: str, user_context: dict[str, Any]) -> Mapping[str, Any]: ...

    async def update_metadata(
        self, user_id: str, update: dict[str, Any], user_context: dict[str, Any]
    ) -> None: ...

    async def user(self, user_id: str, user_context: dict[str, Any]) -> CoreUser | None: ...

    async def delete_user(self, user_id: str, user_context: dict[str, Any]) -> None: ...


class SdkUserDirectory:
    """The core through supertokens-python (``init()`` must have been called)."""

    async def tenant_ids(self, user_context: dict[str, Any]) -> list[str]:
        from supertokens_python.recipe.multitenancy.asyncio import list_all_tenants

        tenants = (await list_all_tenants(user_context)).tenants
        return [t.tenant_id for t in tenants]

    async def count(self, tenant_id: str, user_context: dict[str, Any]) -> int:
        from supertokens_python.asyncio import get_user_count

        return await get_user_count(None, tenant_id, user_context)

    async def page(
        self, tenant_id: str, token: str | None, limit: int, user_context: dict[str, Any]
    ) -> tuple[list[ListedUser], str | None]:
        from supertokens_python.asyncio import get_users_oldest_first

        result = await get_users_oldest_first(
            tenant_id, limit=limit, pagination_token=token, user_context=user_context
        )
        users = [ListedUser(u.id, tuple(u.tenant_ids)) for u in result.users]
        return users, result.next_pagination_token

    async def metadata(self, user_id: str, user_context: dict[str, Any]) -> Mapping[str, Any]:
        from supertokens_python.recipe.usermetadata.asyncio import get_user_metadata

        metadata = (await get_user_metadata(user_id, user_context)).metadata
        return metadata if isinstance(metadata, Mapping) else {}

    async def update_metadata(
        self, user_id: str, update: dict[str, Any], user_context: dict[str, Any]
    ) -> None:
        from supertokens_python.recipe.usermetadata.asyncio import update_user_metadata

        await update_user_metadata(user_id, update, user_context)

    async def user(self, user_id: str, user_context: dict[str, Any]) -> CoreUser | None:
        from supertokens_python.asyncio import get_user

        found = await get_user(user_id, user_context)
        if found is None:
            return None
        methods = tuple((m.recipe_id, m.email, m.phone_number) for m in found.login_methods)
        return CoreUser(found.id, methods)

    async def delete_user(self, user_id: str, user_context: dict[str, Any]) -> None:
        from supertokens_python.asyncio import delete_user

        # Never the accounts linked to it: only this one user.
        await delete_user(user_id, remove_all_linked_accounts=False, user_context=user_context)


def _first_listed(user: ListedUser, earlier_tenants: Sequence[str]) -> bool:
    """Whether no tenant listed before this one has the user (each user is done once)."""
    return not any(t in user.tenant_ids for t in earlier_tenants)


async def listed_batches(
    directory: UserDirectory,
    tenant_ids: Sequence[str] | None,
    size: int,
    context: Callable[[], dict[str, Any]],
) -> AsyncIterator[tuple[int, list[str]]]:
    """The listed users, ``size`` at a time, a page of the core at a time: how many were
    read, and the ids of those to do (a user of several tenants is done in the first)."""
    tenants = await tenants_to_list(directory, tenant_ids, context())
    for index, tenant_id in enumerate(tenants):
        earlier = tenants[:index]
        token: str | None = None
        while True:
            page, token = await directory.page(tenant_id, token, PAGE_SIZE, context())
            for start in range(0, len(page), size):
                batch = page[start : start + size]
                yield len(batch), [u.user_id for u in batch if _first_listed(u, earlier)]
            if token is None:
                break


async def tenants_to_list(
    users: UserDirectory, asked: Sequence[str] | None, user_context: dict[str, Any]
) -> list[str]:
    """The tenants whose users are listed: ``asked`` (each must exist), or every one."""
    existing = await users.tenant_ids(user_context)
    if asked is None:
        return existing
    unknown = [t for t in asked if t not in existing]
    if unknown:
        raise ConfigurationError(f"no such tenant: {', '.join(unknown)}")
    return list(dict.fromkeys(asked))
