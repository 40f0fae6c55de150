"""Where each user's 2FA state lives, and how it changes atomically.

- :mod:`~st_twofactor.stores.base`: the contract (:class:`Store`: ``load``, an atomic
  ``update``, ``transaction``), which every store keeps and every flow relies on.
- :mod:`~st_twofactor.stores.state` and :mod:`~st_twofactor.stores.state_codec`: the
  state (:class:`TwoFactorState`) and the one stored text of it.
- :class:`InMemoryStore` (:mod:`~st_twofactor.stores.memory`): a dict; for tests and
  single-process development.
- :class:`UserMetadataStore` (:mod:`~st_twofactor.stores.metadata`, the default):
  SuperTokens user metadata, so no extra infrastructure; atomic only within one process.
- :class:`~st_twofactor.stores.redis.RedisStore` and :class:`~st_twofactor.stores.sql.SQLStore`
  (extras ``redis``, ``sql``): atomic across processes and machines, through the one
  compare-and-set loop in :mod:`~st_twofactor.stores._cas`. They are imported from their
  own modules, so that this package never needs a client library that is not installed.
"""

from __future__ import annotations

from st_twofactor.stores.base import Store
from st_twofactor.stores.memory import InMemoryStore
from st_twofactor.stores.metadata import UserMetadataStore
from st_twofactor.stores.state import TwoFactorState

__all__ = ["InMemoryStore", "Store", "TwoFactorState", "UserMetadataStore"]
