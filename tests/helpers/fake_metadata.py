"""The core's user metadata, faked in memory, under a :class:`UserMetadataStore`.

The store tests use it to see how the default store reads and writes, and to check that
an update that is not serialised would lose writes (the fake yields to the event loop).
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Mapping
from typing import Any

from st_twofactor import UserMetadataStore


class FakeMetadata:
    """The two SDK metadata functions, with the core's shallow-merge semantics.

    Both yield to the event loop, so an unserialised read-modify-write interleaves.
    """

    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}
        self.updates: list[dict[str, Any]] = []
        self.contexts: list[dict[str, Any]] = []
        self.fail_reads = False
        self.fail_writes = False
        self.reads = 0

    async def get(self, user_id: str, user_context: dict[str, Any]) -> Mapping[str, Any]:
        self.contexts.append(user_context)
        self.reads += 1
        await asyncio.sleep(0)
        if self.fail_reads:
            raise ConnectionError("core down")
        return copy.deepcopy(self.data.get(user_id, {}))

    async def update(
        self, user_id: str, metadata_update: dict[str, Any], user_context: dict[str, Any]
    ) -> object:
        self.contexts.append(user_context)
        await asyncio.sleep(0)
        if self.fail_writes:
            raise ConnectionError("core down")
        self.updates.append(copy.deepcopy(metadata_update))
        merged = {**self.data.get(user_id, {}), **metadata_update}
        self.data[user_id] = json.loads(
            json.dumps({k: v for k, v in merged.items() if v is not None})
        )
        return None


def metadata_store(fake: FakeMetadata) -> UserMetadataStore:
    return UserMetadataStore(get_metadata=fake.get, update_metadata=fake.update)
