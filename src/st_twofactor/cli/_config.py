"""The app's config and the core, for the ``st-twofactor`` operations commands.

An operations command runs outside the app: it imports the app's
:class:`~st_twofactor.config.TwoFactorConfig` (``--config package.module:attribute``) and
reaches the SuperTokens core the app uses, through the SDK the app may already have
initialised. See :mod:`st_twofactor.cli`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from typing import TYPE_CHECKING, Any

from st_twofactor.cli._output import EXIT_USAGE, CommandError, Core

if TYPE_CHECKING:
    from st_twofactor.config import TwoFactorConfig


def load_config(spec: str) -> TwoFactorConfig:
    """The :class:`TwoFactorConfig` named by ``package.module:attribute`` (the attribute
    may be dotted, and may be a function of no argument that returns the config)."""
    from st_twofactor.config import TwoFactorConfig

    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise CommandError(EXIT_USAGE, f"--config {spec!r}: expected package.module:attribute")
    sys.path.insert(0, os.getcwd())  # as `python -m` would: the app's package from here
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise CommandError(
            EXIT_USAGE, f"--config: cannot import {module_name}: {type(exc).__name__}: {exc}"
        ) from exc
    for name in attribute.split("."):
        if not hasattr(target, name):
            raise CommandError(EXIT_USAGE, f"--config: {module_name} has no {attribute}")
        target = getattr(target, name)
    if callable(target) and not isinstance(target, TwoFactorConfig):
        target = target()
    if not isinstance(target, TwoFactorConfig):
        raise CommandError(
            EXIT_USAGE, f"--config: {spec} is a {type(target).__name__}, not a TwoFactorConfig"
        )
    return target


def connect(args: argparse.Namespace, config: TwoFactorConfig) -> Core:
    """Initialise the SDK for the core, unless importing the app already did."""
    from supertokens_python import InputAppInfo, SupertokensConfig, init
    from supertokens_python.recipe import session, usermetadata, userroles
    from supertokens_python.supertokens import Supertokens

    with contextlib.suppress(Exception):
        existing = Supertokens.get_instance().supertokens_config
        return Core(existing.connection_uri, existing.api_key, initialised_by_app=True)
    uri = args.core or os.environ.get("SUPERTOKENS_CONNECTION_URI")
    if not uri:
        raise CommandError(EXIT_USAGE, "no core: pass --core URL or set SUPERTOKENS_CONNECTION_URI")
    api_key = args.api_key or os.environ.get("SUPERTOKENS_API_KEY") or None
    init(
        app_info=InputAppInfo(
            app_name="st-twofactor",
            api_domain="http://localhost",
            website_domain="http://localhost",
        ),
        framework="fastapi",
        supertokens_config=SupertokensConfig(connection_uri=uri, api_key=api_key),
        # userroles: for role policies (st_twofactor.policy.with_role) in `user explain`
        recipe_list=[session.init(), usermetadata.init(), userroles.init()],
        mode="asgi",
        telemetry=False,
    )
    return Core(uri, api_key, initialised_by_app=False)
