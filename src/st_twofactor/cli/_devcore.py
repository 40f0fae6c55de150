"""``st-twofactor devcore``: the embedded development core, served until SIGTERM or Ctrl-C.

For development and tests only; it needs no config and no core, so it runs before any
of the operations commands' setup. See :mod:`st_twofactor.cli` and
:mod:`st_twofactor.devcore`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import threading


def run_devcore(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Serve the development core with the options given; 0 once stopped."""
    from st_twofactor.devcore import DevCore

    limits = ("request_timeout", "idle_timeout", "workers", "max_connections")
    given = {name: getattr(args, name) for name in limits if getattr(args, name) is not None}
    try:
        core = DevCore(
            args.db,
            host=args.host,
            port=args.port,
            licensed=args.licensed,
            api_keys=args.api_keys,
            **given,
        )
    except ValueError as error:
        parser.error(f"devcore: {error}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with core:
        print(f"st-twofactor development core listening on {core.url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0
