"""The stored form of a user's 2FA state: one canonical JSON document.

Every store keeps :class:`~st_twofactor.stores.state.TwoFactorState` as the text that
:func:`encode_state` makes and reads it back with :func:`decode_state`, so that all stores
refuse the same bad documents and compare "changed or not" the same way.
"""

from __future__ import annotations

import json

from st_twofactor.errors import MalformedDataError
from st_twofactor.stores.state import TwoFactorState

__all__ = ["decode_state", "encode_state"]


def encode_state(state: TwoFactorState) -> str:
    """Canonical JSON of ``state`` (sorted keys), checked to parse back, so that a flow
    that stored a wrong type fails here instead of writing a document every later read
    refuses. Two equal states always encode to the same text."""
    try:
        document = json.dumps(state.to_dict(), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise MalformedDataError("2FA state is not JSON-safe") from exc
    decode_state(document)
    return document


def decode_state(document: str | bytes | None, *, where: str = "the store") -> TwoFactorState:
    """Parse a document made by :func:`encode_state`; ``None`` (nothing stored) is a fresh
    state. Anything unparseable raises :class:`MalformedDataError`, never a silent reset."""
    if document is None:
        return TwoFactorState()
    try:
        data = json.loads(document)
    except ValueError as exc:
        raise MalformedDataError(f"2FA state in {where} is not JSON") from exc
    return TwoFactorState.from_dict(data)
