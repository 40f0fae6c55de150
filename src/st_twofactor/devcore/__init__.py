"""The embedded development core: a SuperTokens core for development and tests.

It speaks the core's HTTP API (CDI 5.4) for the recipes st-twofactor uses, backed
by SQLite, served from its own thread so that the SDK's blocking calls (the JWKS
fetch) never wait on the app's event loop.

**This is a development and test server.** Production apps point
``connection_uri`` at a real SuperTokens core.

Licensed mode (off by default): like a real core without a license key, the core
answers the paid features with HTTP 402: multi-tenancy (third-party providers of
tenants other than ``public``, associating users with tenants), account linking,
TOTP/MFA, and dashboard users beyond three. An app built for a licensed production
core turns them on with ``DevCore(licensed=True)``, ``st-twofactor devcore
--licensed``, or, with the pytest fixtures, ``devcore_licensed = true`` in its
pytest configuration (or ``pytest --devcore-licensed``). Creating apps and tenants
is free either way, so each test can have an app of its own.

>>> with DevCore() as core:          # doctest: +SKIP
...     init(supertokens_config=SupertokensConfig(connection_uri=core.url), ...)
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from functools import partial
from types import ModuleType, TracebackType
from typing import Any

from . import (
    _accountlinking,
    _core_routes,
    _dashboard,
    _emailpassword,
    _emailverification,
    _keys,
    _metadata,
    _paid,
    _passwordless,
    _passwordless_codes,
    _passwordless_devices,
    _passwordless_user,
    _roles,
    _session_data,
    _session_revoke,
    _session_store,
    _sessions,
    _tenant_routes,
    _thirdparty,
    _totp,
    _user_queries,
    _user_routes,
    _users,
)
from . import _config as core_config
from ._db import MEMORY, Database
from ._handler import CoreRequestHandler
from ._http import CoreError, Routes, tenant_not_found
from ._request_log import LoggedRequest, RequestLog
from ._server import CoreServer, ServerLimits

__all__ = ["DevCore", "LoggedRequest"]

log = logging.getLogger("st_twofactor.devcore")

_MODULES: tuple[ModuleType, ...] = (
    _core_routes,
    _users,
    _keys,
    _session_store,
    _sessions,
    _session_data,
    _session_revoke,
    _user_routes,
    _user_queries,
    _emailpassword,
    _thirdparty,
    _passwordless_devices,
    _passwordless,
    _passwordless_codes,
    _passwordless_user,
    _emailverification,
    _metadata,
    _roles,
    _paid,
    _totp,
    _accountlinking,
    _dashboard,
    _tenant_routes,
)

# The real core refuses to start with a shorter key, or one with other characters.
_API_KEY = re.compile(r"[A-Za-z0-9=-]{20,}")
API_KEY_RULE = "an API key must be at least 20 characters, each a letter, a digit, '=' or '-'"


class DevCore:
    """A SuperTokens-compatible core on 127.0.0.1, served by threads of this process.

    :param db: SQLite file path, or ``":memory:"`` (the default) for a throwaway core.
    :param port: TCP port; 0 picks a free one (read it back from :attr:`url`).
    :param licensed: answer the paid features (multi-tenancy, account linking,
        TOTP/MFA, dashboard users beyond three) as a core with a license key would;
        without it they answer HTTP 402, as the real core does.
    :param api_keys: when given, requests must carry one of them in ``api-key``, except
        (as in the real core) hello, the public JWKS and unknown paths; others are
        answered 401 ``Invalid API key``. Each follows the real core's rule: at least 20
        characters, each a letter, a digit, ``=`` or ``-`` (ValueError otherwise).
    :param clock: seconds since the epoch; injectable so tests can move time.
    :param request_timeout: seconds a client has to send a whole request once it has
        sent its first byte (and to take its answer); slower ones are disconnected.
    :param idle_timeout: seconds a kept-alive connection may wait for its next request.
    :param workers: threads that read, run and answer requests (at most; started as
        needed). One more thread waits for the connections.
    :param max_connections: connections open at once; more wait to be accepted.
    """

    def __init__(
        self,
        db: str = MEMORY,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        licensed: bool = False,
        api_keys: list[str] | None = None,
        clock: Callable[[], float] = time.time,
        request_timeout: float = ServerLimits.request_timeout,
        idle_timeout: float = ServerLimits.idle_timeout,
        workers: int = ServerLimits.workers,
        max_connections: int = ServerLimits.max_connections,
    ) -> None:
        self.limits = ServerLimits(request_timeout, idle_timeout, workers, max_connections)
        self.api_keys = list(api_keys or [])
        for key in self.api_keys:
            if not _API_KEY.fullmatch(key):
                raise ValueError(API_KEY_RULE)
        self.licensed = licensed
        self.clock = clock
        self.request_log = RequestLog()
        self.routes = Routes()
        self.db = Database(db)
        for module in _MODULES:
            schema = getattr(module, "SCHEMA", "")
            if schema:
                self.db.create_schema(schema)
            module_routes = getattr(module, "routes", None)
            if module_routes is not None:
                self.routes.merge(module_routes)
        self._host = host
        self._port = port
        self._server: CoreServer | None = None
        self._app_configs: dict[str, dict[str, Any]] = {}
        self._config_lock = threading.Lock()

    # -- lifecycle --

    def start(self) -> DevCore:
        if self._server is not None:
            return self
        server = CoreServer(self._host, self._port, partial(CoreRequestHandler, self), self.limits)
        server.start()
        self._server = server
        where = "in memory" if self.db.path == MEMORY else self.db.path
        log.warning(
            "st-twofactor development core on %s (database %s): for development and "
            "tests only; use a real SuperTokens core in production",
            self.url,
            where,
        )
        return self

    def stop(self) -> None:
        """Stop serving: close every connection and wait for running requests."""
        server, self._server = self._server, None
        if server is not None:
            server.close()

    def close(self) -> None:
        """Stop serving and close the database."""
        self.stop()
        self.db.close()

    def __enter__(self) -> DevCore:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:3567`` (the public app)."""
        if self._server is None:
            raise RuntimeError("the development core is not started")
        host, port = self._server.server_address
        return f"http://{host}:{port}"

    def app_url(self, app_id: str) -> str:
        """The connection URI of one app of this core."""
        return f"{self.url}/appid-{app_id}"

    def create_app(self, app_id: str | None = None, **config: Any) -> str:
        """Create (or update) an app with the given core config; returns its connection URI.

        Each test can use its own app, isolated from the others in one long-running core.
        """
        # Ids are case-blind, as in the real core: requests reach the app lower-cased.
        app_id = (app_id or "t" + secrets.token_hex(6)).strip().lower()
        updates = core_config.validate(config)
        with self.db.transaction() as conn:
            row = conn.execute("SELECT core_config FROM apps WHERE app_id=?", (app_id,)).fetchone()
            current = json.loads(row["core_config"]) if row is not None else {}
            current.update(updates)
            conn.execute(
                "INSERT INTO apps (app_id, core_config) VALUES (?, ?) ON CONFLICT(app_id)"
                " DO UPDATE SET core_config=excluded.core_config",
                (app_id, json.dumps(current)),
            )
            conn.execute(
                "INSERT OR IGNORE INTO tenants (app_id, tenant_id, config)"
                " VALUES (?, 'public', '{}')",
                (app_id,),
            )
        self.forget_app_config(app_id)
        return self.app_url(app_id)

    # -- used by route handlers --

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def app_config(self, app_id: str) -> dict[str, Any]:
        """The effective core config of an app (defaults plus its overrides)."""
        with self._config_lock:
            cached = self._app_configs.get(app_id)
        if cached is not None:
            return cached
        with self.db.transaction() as conn:
            row = conn.execute("SELECT core_config FROM apps WHERE app_id=?", (app_id,)).fetchone()
        config = core_config.merged(json.loads(row["core_config"]) if row is not None else {})
        with self._config_lock:
            self._app_configs[app_id] = config
        return config

    def forget_app_config(self, app_id: str) -> None:
        with self._config_lock:
            self._app_configs.pop(app_id, None)

    def check_api_key(self, given: str | None) -> None:
        if not self.api_keys:
            return
        given_bytes = None if given is None else given.encode("utf-8", "surrogateescape")
        if given_bytes is None or not any(
            secrets.compare_digest(given_bytes, k.encode("utf-8")) for k in self.api_keys
        ):
            raise CoreError(401, "Invalid API key")

    def check_app_and_tenant(self, app_id: str, tenant_id: str) -> None:
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT 1 FROM tenants WHERE app_id=? AND tenant_id=?", (app_id, tenant_id)
            ).fetchone()
        if row is None:
            raise tenant_not_found(app_id, tenant_id)

    def requests(self, app_id: str | None = None) -> list[LoggedRequest]:
        """The requests answered so far (optionally for one app), oldest first."""
        return self.request_log.entries(app_id)
