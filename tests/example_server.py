"""Kept for the documentation tests, which import from here: the helpers are
:mod:`tests.helpers.examples` and :mod:`tests.helpers.ports` (remove this module once
those tests import them from there)."""

from __future__ import annotations

from .helpers.examples import stop
from .helpers.ports import free_port

__all__ = ["free_port", "stop"]
