"""Putting the library's recipe overrides and the app's together.

Every recipe :func:`~st_twofactor.recipes.build_recipe_list` makes takes the app's own
override too: ours is applied first and the app's wraps it, so the app's code sees (and
may extend) what the library did.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from supertokens_python.post_init_callbacks import PostSTInitCallbacks

from st_twofactor.http.guard import guard_sdk_routes

_T = TypeVar("_T")


def then(first: Callable[[_T], _T], second: Callable[[_T], _T] | None) -> Callable[[_T], _T]:
    """Compose two overrides: ``first`` wraps the original, ``second`` wraps ``first``."""
    if second is None:
        return first
    return lambda original_implementation: second(first(original_implementation))


def install_body_checks(original: _T) -> _T:
    """An APIs override that changes nothing but installs the checks of first-factor
    request bodies (:mod:`st_twofactor.http.guard`: a 400 for what the SDK would answer
    500) once the SDK is initialised, when it knows which recipes the app has."""
    PostSTInitCallbacks.add_post_init_callback(guard_sdk_routes)
    return original
