"""Typed reading of a stored state document, for ``TwoFactorState.from_dict``.

A stored state comes from outside this process (a database, Redis, user metadata that app
code or a dashboard may edit), so every value is checked as it is read: a wrong type, a
non-finite number or a non-object where an object belongs raises
:class:`~st_twofactor.errors.MalformedDataError` naming the path of the bad value, and
the state is never reset in silence. Missing keys give the caller's default.
"""

from __future__ import annotations

import math

from st_twofactor.errors import MalformedDataError

__all__ = ["Reader"]


class Reader:
    """Typed access to one JSON object of a stored state; raises MalformedDataError."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            raise MalformedDataError(f"2FA state: {where} is not an object")
        self._data: dict[str, object] = data
        self._where = where

    def _fail(self, key: str, expected: str) -> MalformedDataError:
        return MalformedDataError(f"2FA state: {self._where}.{key} must be {expected}")

    def _get(self, key: str) -> object:
        return self._data.get(key)

    def int_(self, key: str, default: int) -> int:
        value = self.optional_int(key)
        return default if value is None else value

    def optional_int(self, key: str) -> int | None:
        value = self._get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(key, "an integer")
        return value

    def float_(self, key: str, default: float) -> float:
        value = self._get(key)
        if value is None:
            return default
        return self._number(key, value)

    def optional_float(self, key: str) -> float | None:
        value = self._get(key)
        return None if value is None else self._number(key, value)

    def _number(self, key: str, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._fail(key, "a number")
        if not math.isfinite(value):
            raise self._fail(key, "a finite number")
        return float(value)

    def bool_(self, key: str, default: bool) -> bool:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._fail(key, "a boolean")
        return value

    def str_(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str):
            raise self._fail(key, "a string")
        return value

    def optional_str(self, key: str) -> str | None:
        value = self._get(key)
        if value is not None and not isinstance(value, str):
            raise self._fail(key, "a string or null")
        return value

    def _list(self, key: str) -> list[object]:
        value = self._get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._fail(key, "a list")
        return value

    def raw_list(self, key: str) -> list[object]:
        """The list at ``key`` (empty when absent), its items unchecked."""
        return self._list(key)

    def list_of_str(self, key: str) -> list[str]:
        items = self._list(key)
        if not all(isinstance(item, str) for item in items):
            raise self._fail(key, "a list of strings")
        return [item for item in items if isinstance(item, str)]

    def optional_list_of_str(self, key: str) -> list[str] | None:
        """The list of strings at ``key``, or ``None`` when absent or null."""
        return None if self._get(key) is None else self.list_of_str(key)

    def list_of_int(self, key: str) -> list[int]:
        items = self._list(key)
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in items):
            raise self._fail(key, "a list of integers")
        return [item for item in items if isinstance(item, int)]

    def list_of_float(self, key: str) -> list[float]:
        return [self._number(key, item) for item in self._list(key)]

    def list_of_objects(self, key: str) -> list[Reader]:
        return [Reader(item, f"{self._where}.{key}[{i}]") for i, item in enumerate(self._list(key))]

    def object_(self, key: str) -> Reader:
        value = self._get(key)
        return Reader({} if value is None else value, f"{self._where}.{key}")

    def objects_by_name(self, key: str) -> list[tuple[str, Reader]]:
        value = self._get(key)
        if value is None:
            return []
        if not isinstance(value, dict):
            raise self._fail(key, "an object")
        return [(name, Reader(item, f"{self._where}.{key}.{name}")) for name, item in value.items()]
